package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/internal/natsd"
	"github.com/edgeplay/edgeplay/protocol"
	"github.com/edgeplay/edgeplay/server"
)

// syncBuffer is a bytes.Buffer a command can write while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAgainstGateway runs edgectl against the real gateway admin API on embedded NATS, with a
// fake matchmaker and host answering the admin queries, and events in the real stream.
func TestAgainstGateway(t *testing.T) {
	ns, err := natsd.Start(natsd.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	gwNC, closeGW, err := natsd.Connect("", ns, "gw", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeGW)
	nc, closeNC, err := natsd.Connect("", ns, "fakes", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeNC)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := natsd.EnsureStreams(ctx, nc, 1); err != nil {
		t.Fatal(err)
	}
	reply := func(subject string, v any) {
		b, _ := json.Marshal(v)
		if _, err := nc.Subscribe(subject, func(m *nats.Msg) { _ = m.Respond(b) }); err != nil {
			t.Fatal(err)
		}
	}
	reply(protocol.SubjectHosts, []protocol.HostStatus{{
		Heartbeat: protocol.Heartbeat{
			Host: "h1", Region: "dxb-1", State: protocol.HostReady, Slots: 4, Used: 1,
			Encoders: []string{"libx264"}, Version: "dev",
			Games: []string{"demo", "paddle"}, Titles: map[string]string{"paddle": "Paddle"},
		},
		Health: "ready", AgeMillis: 300,
	}})
	reply(protocol.SubjectHostSessions("h1"), []protocol.SessionStatus{{
		ID: "0123456789abcdef", Game: "demo", State: "playing", StartedAt: time.Now().Add(-time.Minute),
		DurationSeconds: 60, FPS: 60, BitrateKbps: 3000,
	}})
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	publish := func(ev protocol.Event) {
		b, _ := json.Marshal(ev)
		if _, err := js.Publish(ctx, protocol.SubjectEvent(ev.Kind), b); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{"a", "b", "c"} {
		publish(protocol.Event{Kind: "placed", Session: s, Host: "h1", Region: "dxb-1", Time: time.Now()})
	}

	gw, err := server.New(server.Config{Logger: log, AdminToken: testToken}, gwNC)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(gw.Handler())
	t.Cleanup(hs.Close)
	t.Setenv("EDGEPLAY_SERVER", hs.URL)
	t.Setenv("EDGEPLAY_ADMIN_TOKEN", testToken)

	edgectl := func(args ...string) (int, string, error) {
		var out, errOut bytes.Buffer
		code, err := run(ctx, args, &out, &errOut)
		return code, out.String(), err
	}
	objects := func(out string) []map[string]any {
		var v []map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		return v
	}

	if code, out, err := edgectl("hosts", "-o", "json"); code != 0 {
		t.Fatalf("hosts: %d %v", code, err)
	} else if h := objects(out); len(h) != 1 || h[0]["id"] != "h1" || h[0]["region"] != "dxb-1" || h[0]["state"] != "ready" {
		t.Fatalf("hosts: %v", h)
	}
	if code, out, err := edgectl("hosts"); code != 0 || !strings.Contains(out, "h1  dxb-1   ready  1/4") {
		t.Fatalf("hosts table: %d %v\n%s", code, err, out)
	}
	// The game list is public: it works without the token too.
	if code, out, err := edgectl("games", "--token", ""); code != 0 || !strings.Contains(out, "paddle  Paddle  3     dxb-1 1/3") {
		t.Fatalf("games table: %d %v\n%s", code, err, out)
	}
	if code, out, err := edgectl("sessions", "-o", "json"); code != 0 {
		t.Fatalf("sessions: %d %v", code, err)
	} else if s := objects(out); len(s) != 1 || s[0]["id"] != "0123456789abcdef" || s[0]["host"] != "h1" ||
		s[0]["region"] != "dxb-1" || s[0]["state"] != "playing" {
		t.Fatalf("sessions: %v", s)
	}
	if code, out, err := edgectl("sessions", "--region", "dxb-1"); code != 0 || !strings.Contains(out, "0123456789abcdef  demo  dxb-1") {
		t.Fatalf("sessions table: %d %v\n%s", code, err, out)
	}
	if code, _, err := edgectl("sessions", "--host", "h9"); code != 1 || err == nil || !strings.Contains(err.Error(), `no host "h9"`) {
		t.Fatalf("unknown host: %d %v", code, err)
	}
	if code, _, err := edgectl("hosts", "--token", "wrong"); code != 1 || err == nil || !strings.Contains(err.Error(), "admin token was refused") {
		t.Fatalf("wrong token: %d %v", code, err)
	}
	if code, out, err := edgectl("events", "--limit", "2", "-o", "json"); code != 0 {
		t.Fatalf("events: %d %v", code, err)
	} else if e := objects(out); len(e) != 2 || e[0]["session"] != "b" || e[1]["session"] != "c" {
		t.Fatalf("events: %v", e)
	}

	// events --follow prints new events until interrupted, then exits 0.
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		code, err := run(fctx, []string{"events", "--follow", "--limit", "0", "--type", "ended"}, &out, &errOut)
		if err != nil {
			t.Errorf("follow: %v", err)
		}
		done <- code
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "live-session") {
		if time.Now().After(deadline) {
			t.Fatalf("no live event; output %q stderr %q", out.String(), errOut.String())
		}
		// Until the stream is open, events land in the (empty) backlog: keep publishing.
		publish(protocol.Event{Kind: "placed", Session: "filtered-out", Time: time.Now()})
		publish(protocol.Event{
			Kind: "ended", Session: "live-session", Host: "h1", Region: "dxb-1",
			Reason: protocol.ReasonPlayerLeft, Time: time.Now(),
		})
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("follow exit %d after Ctrl-C", code)
	}
	if s := out.String(); strings.Contains(s, "filtered-out") || !strings.HasPrefix(s, "TIME") ||
		!strings.Contains(s, "reason=player_left") {
		t.Fatalf("follow output:\n%s", s)
	}
}
