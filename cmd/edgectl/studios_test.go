package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/internal/natsd"
	"github.com/edgeplay/edgeplay/protocol"
	"github.com/edgeplay/edgeplay/server"
	"github.com/edgeplay/edgeplay/studio"
)

// TestStudiosAgainstGateway manages a studio with edgectl against a real gateway and studio
// store, and mints a join token with the key it printed.
func TestStudiosAgainstGateway(t *testing.T) {
	ns, err := natsd.Start(natsd.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	nc, closeNC, err := natsd.Connect("", ns, "gw", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeNC)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := studio.Open(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := studio.NewTokens(ctx, st, log)
	if err != nil {
		t.Fatal(err)
	}
	defer tk.Close()
	gw, err := server.New(server.Config{Logger: log, AdminToken: testToken, Studios: st, Tokens: tk}, nc)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(gw.Handler())
	t.Cleanup(hs.Close)
	t.Setenv("EDGEPLAY_SERVER", hs.URL)
	t.Setenv("EDGEPLAY_ADMIN_TOKEN", testToken)
	edgectl := func(args ...string) (int, string, error) {
		t.Helper()
		var out, errOut bytes.Buffer
		code, err := run(ctx, args, &out, &errOut)
		return code, out.String(), err
	}

	code, out, err := edgectl("studios", "create", "Acme Games", "--games", "paddle,snake", "--max-sessions", "20",
		"--origins", "https://play.acme.example")
	if code != 0 {
		t.Fatalf("create: %d %v\n%s", code, err, out)
	}
	id := regexp.MustCompile(`studio +(st-[a-z2-7]+)`).FindStringSubmatch(out)
	key := regexp.MustCompile(`ep_live_[A-Za-z0-9_]+`).FindString(out)
	if id == nil || key == "" || !strings.Contains(out, "shown this once") || !strings.Contains(out, "paddle,snake") {
		t.Fatalf("create printed:\n%s", out)
	}
	sid := id[1]

	// The key mints a token (what the studio's backend does).
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, hs.URL+"/v1/studio/tokens",
		strings.NewReader(`{"game":"paddle","player_id":"u1"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("mint with the printed key: %d", resp.StatusCode)
	}

	if code, out, err := edgectl("studios"); code != 0 || !strings.Contains(out, sid) || !strings.Contains(out, "Acme Games") || strings.Contains(out, key) {
		t.Fatalf("list: %d %v\n%s", code, err, out)
	}
	if code, out, err := edgectl("studios", "update", sid, "--max-queued", "4", "-o", "json"); code != 0 {
		t.Fatalf("update: %d %v\n%s", code, err, out)
	} else {
		var v []studioJSON
		if err := json.Unmarshal([]byte(out), &v); err != nil || len(v) != 1 || v[0].MaxQueued != 4 || v[0].MaxSessions != 20 || len(v[0].Games) != 2 {
			t.Fatalf("update changed more or less than asked: %v\n%s", err, out)
		}
	}
	if code, _, err := edgectl("studios", "update", sid); code != 2 || err == nil {
		t.Errorf("update without a setting: %d %v, want usage error", code, err)
	}
	code, out, err = edgectl("studios", "keys", "add", sid)
	second := regexp.MustCompile(`key ([a-z2-7]{12}) added`).FindStringSubmatch(out)
	if code != 0 || second == nil || !strings.Contains(out, "ep_live_") {
		t.Fatalf("keys add: %d %v\n%s", code, err, out)
	}
	if code, out, err := edgectl("studios", "show", sid); code != 0 || strings.Count(out, "…") != 2 {
		t.Fatalf("show: %d %v\n%s", code, err, out)
	}
	if code, out, err := edgectl("studios", "keys", "revoke", sid, second[1]); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: %d %v\n%s", code, err, out)
	}
	if code, _, err := edgectl("studios", "keys", "revoke", sid, second[1]); code != 1 || err == nil {
		t.Errorf("revoke twice: %d %v, want a failure", code, err)
	}
	if code, _, err := edgectl("studios", "create", "x", "--origins", "https://*.acme.example"); code != 1 || err == nil || !strings.Contains(err.Error(), "wildcards") {
		t.Errorf("a wildcard origin: %d %v, want refused with the reason", code, err)
	}
	if code, _, err := edgectl("studios", "frobnicate"); code != 2 || err == nil {
		t.Errorf("unknown subcommand: %d %v", code, err)
	}
	if code, out, err := edgectl("studios", "delete", sid); code != 0 || !strings.Contains(out, "deleted") {
		t.Fatalf("delete: %d %v\n%s", code, err, out)
	}
	if code, _, err := edgectl("studios", "show", sid); code != 1 || err == nil {
		t.Errorf("show deleted: %d %v", code, err)
	}
}

// TestUsageAgainstGateway reads usage records put in the real stream through edgectl: each
// session, sums by game, CSV and JSON.
func TestUsageAgainstGateway(t *testing.T) {
	ns, err := natsd.Start(natsd.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	nc, closeNC, err := natsd.Connect("", ns, "gw", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeNC)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := natsd.EnsureStreams(ctx, nc, 1); err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	for _, r := range []protocol.UsageRecord{
		{Kind: "start", Session: "s1", Studio: "st-a", Player: "ada", Game: "paddle", Region: "dxb-1", Host: "h1", Start: start, Seconds: 0},
		{Kind: "end", Session: "s1", Studio: "st-a", Player: "ada", Game: "paddle", Region: "dxb-1", Host: "h1", Start: start, End: start.Add(90 * time.Second), Seconds: 90, Reason: "player_left"},
		{Kind: "tick", Session: "s2", Game: "demo", Region: "dxb-2", Host: "h2", Start: start, Seconds: 60},
		{Kind: "end", Session: "s3", Studio: "st-a", Player: "bob", Game: "paddle", Region: "dxb-2", Host: "h2", Start: start, End: start.Add(30 * time.Second), Seconds: 30.5, Reason: "kicked"},
	} {
		r.Time = time.Now().UTC()
		b, _ := json.Marshal(r)
		if _, err := js.Publish(ctx, protocol.SubjectUsage(r.Studio, r.Host, r.Session, r.Kind), b); err != nil {
			t.Fatal(err)
		}
	}
	gw, err := server.New(server.Config{Logger: log, AdminToken: testToken}, nc)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(gw.Handler())
	t.Cleanup(hs.Close)
	t.Setenv("EDGEPLAY_SERVER", hs.URL)
	t.Setenv("EDGEPLAY_ADMIN_TOKEN", testToken)
	edgectl := func(args ...string) (int, string, error) {
		t.Helper()
		var out, errOut bytes.Buffer
		code, err := run(ctx, args, &out, &errOut)
		return code, out.String(), err
	}
	code, out, err := edgectl("usage")
	if code != 0 || !strings.Contains(out, "3 sessions since") || !strings.Contains(out, "3m01s played") ||
		!strings.Contains(out, "s2") || !strings.Contains(out, "open") || !strings.Contains(out, "kicked") {
		t.Fatalf("usage: %d %v\n%s", code, err, out)
	}
	if code, out, err := edgectl("usage", "--by", "game", "-o", "csv"); code != 0 || out != "GAME,SESSIONS,PLAYED\ndemo,1,60.000\npaddle,2,120.500\n" {
		t.Fatalf("usage by game as CSV: %d %v\n%q", code, err, out)
	}
	if code, out, err := edgectl("usage", "--studio", "st-a", "-o", "json"); code != 0 {
		t.Fatalf("usage json: %d %v", code, err)
	} else {
		var rows []usageRecord
		if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 2 || rows[0].Studio != "st-a" {
			t.Fatalf("usage --studio st-a -o json: %v\n%s", err, out)
		}
	}
	if code, _, err := edgectl("usage", "--by", "week"); code != 1 || err == nil || !strings.Contains(err.Error(), "by:") {
		t.Errorf("a bad --by: %d %v", code, err)
	}
	if code, _, err := edgectl("hosts", "-o", "csv"); code != 2 || err == nil {
		t.Errorf("csv for another command: %d %v", code, err)
	}
}
