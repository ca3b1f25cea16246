package app

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/edgeplay/edgeplay/internal/certs"
)

// Roles reach an external NATS over TLS with the CA that signs its certificate (--nats-ca),
// and refuse a server they cannot verify.
func TestNATSOverTLS(t *testing.T) {
	certFile, keyFile, err := certs.WriteSelfSignedForTest(t.TempDir(), "nats")
	if err != nil {
		t.Fatal(err)
	}
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
		TLS: true, TLSConfig: tc, TLSTimeout: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	url := "tls://" + ns.Addr().String()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := Start(ctx, Config{NATSURL: url, NATSCA: certFile, Matchmaker: true, Logger: quiet})
	if err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	_ = a.Close(ctx)
	if b, err := Start(ctx, Config{NATSURL: url, Matchmaker: true, Logger: quiet}); err == nil {
		_ = b.Close(ctx)
		t.Fatal("a server whose certificate nobody vouches for was accepted")
	}
}
