package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"

	"github.com/edgeplay/edgeplay/turn"
)

const testTURNSecret = "0123456789abcdef0123456789abcdef"

// `edgeplay turn` runs without NATS, relays for a player with credentials a gateway would mint,
// serves its metrics, and exits 0 on SIGTERM.
func TestTURNRole(t *testing.T) {
	addr, metricsAddr := freePort(t), freePort(t)
	r := startRole(t, []string{"EDGEPLAY_TURN_SECRET=" + testTURNSecret}, "turn",
		"--turn-addr", addr, "--turn-relay-ports", "41000-41099", "--metrics-addr", metricsAddr)
	deadline := time.Now().Add(30 * time.Second)
	for {
		running(t, r)
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the TURN server did not listen on %s within 30 s:\n%s", addr, r.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	user, pass, err := turn.Credentials([]byte(testTURNSecret), "sess-1", time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: user, Password: pass, Realm: turn.DefaultRealm,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := client.Allocate()
	if err != nil {
		t.Fatalf("Allocate: %v\n%s", err, r.out.String())
	}
	defer relay.Close()
	if a := relay.LocalAddr().(*net.UDPAddr); !a.IP.Equal(net.IPv4(127, 0, 0, 1)) || a.Port < 41000 || a.Port > 41099 {
		t.Errorf("relay address %v, want 127.0.0.1:41000-41099 (--turn-addr's IP, --turn-relay-ports)", a)
	}
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if want := `edgeplay_turn_allocations_active{transport="udp"} 1`; !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %s", want)
	}
	if strings.Contains(r.out.String(), testTURNSecret) {
		t.Error("the secret is in the log")
	}

	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.exited:
		if !r.cmd.ProcessState.Success() {
			t.Fatalf("exit: %v\n%s", r.cmd.ProcessState, r.out.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("edgeplay turn did not exit within 15 s of SIGTERM")
	}
}

func TestTURNFlags(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(testTURNSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EDGEPLAY_TURN_SECRET", "")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"turn needs a secret", []string{"turn", "--turn-addr", "127.0.0.1:0"}, "--turn-secret"},
		{"turn short secret", []string{"turn", "--turn-addr", "127.0.0.1:0", "--turn-secret", "short"}, "at least 16 bytes"},
		{"turn needs a public IP on a wildcard address", []string{"turn", "--turn-addr", ":0", "--turn-secret-file", secretFile}, "relay address"},
		{"turn bad public IP", []string{"turn", "--turn-addr", ":0", "--turn-secret", testTURNSecret, "--turn-public-ip", "example.com"}, "--turn-public-ip"},
		{"turn bad ports", []string{"turn", "--turn-addr", "127.0.0.1:0", "--turn-secret", testTURNSecret, "--turn-relay-ports", "9-1"}, "--turn-relay-ports"},
		{"turn bad peers", []string{"turn", "--turn-addr", "127.0.0.1:0", "--turn-secret", testTURNSecret, "--turn-peers", "10.0.0.0"}, "--turn-peers"},
		{"turn missing secret file", []string{"turn", "--turn-addr", "127.0.0.1:0", "--turn-secret-file", "/nonexistent/secret"}, "--turn-secret-file"},
		{"turn half a certificate", []string{"turn", "--turn-addr", "127.0.0.1:0", "--turn-secret", testTURNSecret, "--turn-cert", "c.pem"}, "certificate"},
		{"gateway turn-url without secret", []string{"gateway", "--nats", "nats://127.0.0.1:1", "--nats-no-auth", "--turn-url", "turn:t.example:3478"}, "secret"},
		{"gateway bad turn-url", []string{"gateway", "--nats", "nats://127.0.0.1:1", "--nats-no-auth", "--turn-secret", testTURNSecret, "--turn-url", "http://t.example"}, "turn URL"},
		{"up bad ports", []string{"up", "--turn-relay-ports", "x"}, "--turn-relay-ports"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(tt.args, &stderr)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestTURNFlagConfigs(t *testing.T) {
	f := turnFlags{
		addr: ":3478", realm: "edgeplay", ports: "49152-65535", secret: testTURNSecret,
		publicIP: "203.0.113.7/10.0.0.5", peers: "10.0.0.0/8, 192.168.0.0/16", maxAllocs: 50,
		cert: "c.pem", key: "k.pem", tlsAddr: ":443",
	}
	c, err := f.serverConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.RelayIP.String() != "203.0.113.7" || c.RelayBind.String() != "10.0.0.5" || len(c.AllowedPeers) != 2 ||
		c.MaxAllocations != 50 || c.TLSAddr != ":443" || c.AllowLoopbackPeers {
		t.Errorf("turn config %+v", c)
	}
	up, err := turnFlags{addr: ":3478", realm: "edgeplay", ports: "49152-65535"}.upConfig()
	if err != nil {
		t.Fatal(err)
	}
	if up.RelayIP.String() != "127.0.0.1" || up.RelayBind.String() != "127.0.0.1" || !up.AllowLoopbackPeers || len(up.Secret) < turn.MinSecretSize {
		t.Errorf("up's TURN config %+v", up)
	}
	if off, err := (turnFlags{addr: ""}).upConfig(); off != nil || err != nil {
		t.Errorf("up with --turn-addr \"\": %+v, %v; want no TURN", off, err)
	}
	gw, err := turnFlags{urls: "turn:t.example:3478?transport=udp, turns:t.example:443?transport=tcp", secret: testTURNSecret, ttl: time.Hour}.gatewayConfig()
	if err != nil || len(gw.URLs) != 2 || gw.TTL != time.Hour {
		t.Errorf("gateway TURN config %+v, %v", gw, err)
	}
}
