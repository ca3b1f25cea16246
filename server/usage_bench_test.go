package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/internal/natsd"
	"github.com/edgeplay/edgeplay/protocol"
)

// BenchmarkReadUsage reads 100,000 ended sessions' usage records (one query, summed by game).
// edgebench studio measures a million through the HTTP API.
func BenchmarkReadUsage(b *testing.B) {
	ns, err := natsd.Start(natsd.Config{StoreDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer ns.Shutdown()
	nc, closeNC, err := natsd.Connect("", ns, "bench", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer closeNC()
	ctx := context.Background()
	if err := natsd.EnsureStreams(ctx, nc, 1); err != nil {
		b.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	const n = 100_000
	for i := range n {
		r := protocol.UsageRecord{
			Kind: "end", Session: fmt.Sprintf("%016x", i), Studio: fmt.Sprintf("st-%02d", i%10), Player: "p",
			Game: "paddle", Region: "dxb-1", Host: "h1", Start: time.Now(), End: time.Now(), Seconds: 60, Reason: "player_left", Time: time.Now(),
		}
		data, _ := json.Marshal(r)
		if _, err := js.PublishAsync(protocol.SubjectUsage(r.Studio, r.Host, r.Session, r.Kind), data); err != nil {
			b.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
	b.ResetTimer()
	for range b.N {
		s, err := readUsage(ctx, js, usageQuery{since: time.Now().Add(-time.Hour), by: "game", limit: 10})
		if err != nil || len(s) != n {
			b.Fatal(len(s), err)
		}
	}
}
