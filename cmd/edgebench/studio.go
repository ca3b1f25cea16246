package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/internal/natsd"
	"github.com/edgeplay/edgeplay/protocol"
	"github.com/edgeplay/edgeplay/server"
	"github.com/edgeplay/edgeplay/studio"
)

func init() {
	commands = append(commands, command{
		name:    "studio",
		summary: "the studio platform: usage queries over many records, webhook delivery throughput and lag",
		run:     runStudioBench,
	})
}

func runStudioBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edgebench studio", flag.ContinueOnError)
	fs.SetOutput(stderr)
	records := fs.Int("records", 1_000_000, "usage records (ended sessions) in the stream for the queries")
	studios := fs.Int("studios", 100, "studios the sessions belong to")
	hooks := fs.Int("webhooks", 10_000, "sessions whose start and end are delivered as webhooks")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ns, err := natsd.Start(natsd.Config{})
	if err != nil {
		return err
	}
	defer ns.Shutdown()
	nc, closeNC, err := natsd.Connect("", ns, "bench", log)
	if err != nil {
		return err
	}
	defer closeNC()
	if err := natsd.EnsureStreams(ctx, nc, 1); err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	// Fill the usage stream.
	fmt.Fprintf(stderr, "publishing %d usage records…\n", *records)
	games, regions := []string{"paddle", "snake", "demo", "chess", "kart"}, []string{"dxb-1", "dxb-2"}
	start := time.Now()
	base := time.Now().Add(-12 * time.Hour).UTC()
	for i := range *records {
		r := protocol.UsageRecord{
			Kind: protocol.UsageKindEnd, Session: fmt.Sprintf("%016x", i), Studio: fmt.Sprintf("st-%04d", i%*studios),
			Player: "p" + strconv.Itoa(i%50000), Game: games[i%len(games)], Region: regions[i%len(regions)], Host: "h" + strconv.Itoa(i%64),
			Start: base.Add(time.Duration(i) * time.Millisecond), Seconds: float64(60 + i%3600), Reason: protocol.ReasonPlayerLeft,
		}
		r.End, r.Time = r.Start.Add(time.Duration(r.Seconds)*time.Second), time.Now().UTC()
		b, _ := json.Marshal(r)
		if _, err := js.PublishAsync(protocol.SubjectUsage(r.Studio, r.Host, r.Session, r.Kind), b); err != nil {
			return err
		}
		if i%50000 == 49999 {
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		return fmt.Errorf("usage records not acknowledged")
	}
	fill := time.Since(start)

	gw, err := server.New(server.Config{Logger: log, AdminToken: "bench-admin-token"}, nc)
	if err != nil {
		return err
	}
	hs := httptest.NewServer(gw.Handler())
	defer hs.Close()
	query := func(q string) (time.Duration, int64, int, error) {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		t0 := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hs.URL+"/v1/admin/usage?"+q, nil)
		req.Header.Set("Authorization", "Bearer bench-admin-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, 0, 0, err
		}
		defer resp.Body.Close()
		var a struct {
			Sessions int `json:"sessions"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			return 0, 0, 0, fmt.Errorf("%s: HTTP %d: %w", q, resp.StatusCode, err)
		}
		d := time.Since(t0)
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		return d, int64(after.TotalAlloc - before.TotalAlloc), a.Sessions, nil
	}
	fmt.Fprintf(stdout, "Usage stream: %d ended sessions of %d studios, published in %.1f s (%.0f records/s, async, acknowledged).\n\n",
		*records, *studios, fill.Seconds(), float64(*records)/fill.Seconds())
	fmt.Fprintln(stdout, "| query | sessions | time | allocated |\n|---|---:|---:|---:|")
	for _, q := range []string{"since=24h&by=game", "since=24h&by=day", "since=24h&by=studio", "studio=st-0007&since=24h&by=game", "studio=st-0007&since=24h"} {
		d, alloc, n, err := query(q)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "| `%s` | %d | %.2f s | %.0f MiB |\n", q, n, d.Seconds(), float64(alloc)/(1<<20))
	}

	// Webhooks: a studio with a receiver that answers 204 at once.
	st, err := studio.Open(ctx, js, 1)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var lags []time.Duration
	got := map[string]bool{}
	all := make(chan struct{})
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev studio.WebhookEvent
		_ = json.NewDecoder(r.Body).Decode(&ev)
		now := time.Now()
		mu.Lock()
		if id := r.Header.Get("webhook-id"); !got[id] {
			got[id] = true
			lags = append(lags, now.Sub(ev.Data.Time))
			if len(got) == 2**hooks {
				close(all)
			}
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	url := rcv.URL
	hooked, _, err := st.Create(ctx, studio.Spec{Name: &[]string{"bench"}[0], WebhookURL: &url})
	if err != nil {
		return err
	}
	wh, err := studio.StartWebhooks(ctx, js, st, studio.WebhookConfig{Logger: log})
	if err != nil {
		return err
	}
	defer wh.Close()
	fmt.Fprintf(stderr, "delivering %d webhooks…\n", 2**hooks)
	t0 := time.Now()
	for i := range *hooks {
		for _, kind := range []string{protocol.UsageKindStart, protocol.UsageKindEnd} {
			r := protocol.UsageRecord{
				Kind: kind, Session: fmt.Sprintf("w%015x", i), Studio: hooked.ID, Player: "p", Game: "paddle",
				Region: "dxb-1", Host: "h1", Start: time.Now().UTC(), Time: time.Now().UTC(),
			}
			b, _ := json.Marshal(r)
			if _, err := js.Publish(ctx, protocol.SubjectUsage(r.Studio, r.Host, r.Session, kind), b); err != nil {
				return err
			}
		}
	}
	published := time.Since(t0)
	select {
	case <-all:
	case <-time.After(5 * time.Minute):
		return fmt.Errorf("webhooks not all delivered")
	}
	total := time.Since(t0)
	mu.Lock()
	slices.Sort(lags)
	p := func(q float64) time.Duration { return lags[int(q*float64(len(lags)-1))] }
	fmt.Fprintf(stdout, "\nWebhooks: %d deliveries (one gateway, 8 workers, a local receiver answering 204), the records published one at a time "+
		"(acknowledged) in %.1f s; all delivered %.1f s after the first was published: %.0f deliveries/s. Lag from record to delivery: "+
		"p50 %s, p95 %s, p99 %s, max %s.\n", len(lags), published.Seconds(), total.Seconds(), float64(len(lags))/total.Seconds(),
		p(0.5).Round(time.Millisecond), p(0.95).Round(time.Millisecond), p(0.99).Round(time.Millisecond), lags[len(lags)-1].Round(time.Millisecond))
	mu.Unlock()
	return nil
}
