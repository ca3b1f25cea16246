package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/turn"
)

// A process with only a TURN server (edgeplay turn) starts no NATS; a gateway beside a TURN
// server hands out that server's URLs at its relay address.
func TestTURNOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := Start(ctx, Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		TURN: &turn.Config{
			Addr: "127.0.0.1:0", Secret: []byte("0123456789abcdef0123456789abcdef"),
			RelayIP: netip.MustParseAddr("127.0.0.1"), AllowLoopbackPeers: true,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := a.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	if a.NATSURL() != "" {
		t.Errorf("a TURN-only process started NATS at %s", a.NATSURL())
	}
	if a.TURN() == nil {
		t.Fatal("no TURN server")
	}
	port := a.TURN().Addr().(*net.UDPAddr).Port
	want := []string{
		fmt.Sprintf("turn:127.0.0.1:%d?transport=udp", port),
		fmt.Sprintf("turn:127.0.0.1:%d?transport=tcp", port),
	}
	if got := turnURLs(a.TURN()); !slices.Equal(got, want) {
		t.Errorf("turnURLs = %v, want %v", got, want)
	}
}
