package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/game/demo"
	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/session"
)

// testLogger logs warnings and errors (everything with EDGEPLAY_TEST_LOG=debug).
func testLogger() *slog.Logger {
	lv := slog.LevelWarn
	if os.Getenv("EDGEPLAY_TEST_LOG") == "debug" {
		lv = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
}

type appOpts struct {
	hosts, slots int
	mutate       func(*app.Config)
}

// startApp runs embedded NATS, a matchmaker, hosts and a gateway on loopback, and closes them
// when the test ends.
func startApp(tb testing.TB, o appOpts) *app.App {
	tb.Helper()
	if o.hosts == 0 {
		o.hosts = 1
	}
	if o.slots == 0 {
		o.slots = 4
	}
	cfg := app.Config{GatewayAddr: "127.0.0.1:0", Matchmaker: true, NATSAuth: true, Logger: testLogger()}
	for i := range o.hosts {
		cfg.Hosts = append(cfg.Hosts, session.Config{
			ID: fmt.Sprintf("host-%d", i+1), Slots: o.slots,
			Games:             map[string]game.Factory{"demo": demo.Factory},
			UDPAddr:           "127.0.0.1:0",
			HeartbeatInterval: 200 * time.Millisecond,
			ReserveTimeout:    10 * time.Second,
		})
	}
	if o.mutate != nil {
		o.mutate(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := app.Start(ctx, cfg)
	if err != nil {
		tb.Fatalf("start: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Close(ctx); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	waitFor(tb, 5*time.Second, "matchmaker sees the hosts", func() bool {
		return len(a.Matchmaker().Hosts()) == o.hosts
	})
	return a
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting until %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ctxFor(tb testing.TB, d time.Duration) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}
