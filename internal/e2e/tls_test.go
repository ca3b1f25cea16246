package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/internal/certs"
	"github.com/edgeplay/edgeplay/protocol"
)

// The gateway serves https and wss with --tls-cert/--tls-key: the page, the health checks and
// the player websocket; plain http on that port gets nowhere.
func TestGatewayTLS(t *testing.T) {
	certFile, keyFile, err := certs.WriteSelfSignedForTest(t.TempDir(), "edgeplay test")
	if err != nil {
		t.Fatal(err)
	}
	a := startApp(t, appOpts{mutate: func(c *app.Config) { c.GatewayTLSCert, c.GatewayTLSKey = certFile, keyFile }})
	if !strings.HasPrefix(a.URL(), "https://") {
		t.Fatalf("URL %s", a.URL())
	}
	pem, _ := os.ReadFile(certFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 5 * time.Second}
	for _, path := range []string{"/healthz", "/"} {
		resp, err := client.Get(a.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s over TLS: %d", path, resp.StatusCode)
		}
	}
	d := websocket.Dialer{TLSClientConfig: tc, HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.Dial("wss"+strings.TrimPrefix(a.URL(), "https")+"/v1/play", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var m protocol.Message
	if err := ws.ReadJSON(&m); err != nil || m.Type != protocol.TypeWelcome {
		t.Fatalf("welcome over wss: %+v %v", m, err)
	}
	plain := &http.Client{Timeout: 3 * time.Second}
	if resp, err := plain.Get("http" + strings.TrimPrefix(a.URL(), "https") + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain http on the TLS port answered 200")
		}
	}
}
