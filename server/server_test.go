package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/edgeplay/edgeplay/internal/natsd"
	"github.com/edgeplay/edgeplay/protocol"
)

func newTestServer(t *testing.T) (*Server, *httptest.Server, func()) {
	t.Helper()
	return newTestServerConfig(t, Config{})
}

func newTestServerConfig(t *testing.T, cfg Config) (*Server, *httptest.Server, func()) {
	t.Helper()
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
	cfg.Logger = log
	s, err := New(cfg, nc)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs, closeNC
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHealthAndReadiness(t *testing.T) {
	_, hs, closeNC := newTestServer(t)
	if code, body := get(t, hs.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("healthz %d %q", code, body)
	}
	if code, _ := get(t, hs.URL+"/readyz"); code != 200 {
		t.Fatalf("readyz %d while connected", code)
	}
	if code, body := get(t, hs.URL+"/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("metrics %d", code)
	}
	closeNC()
	if code, body := get(t, hs.URL+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "NATS") {
		t.Fatalf("readyz %d %q without NATS", code, body)
	}
}

func TestWebsocketOrigin(t *testing.T) {
	_, hs, _ := newTestServer(t)
	u := "ws" + strings.TrimPrefix(hs.URL, "http") + "/v1/play"
	tests := []struct {
		name   string
		origin string
		ok     bool
	}{
		{"same origin", hs.URL, true},
		{"no origin (non-browser client)", "", true},
		{"foreign origin (refused at join, below)", "https://evil.example", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			ws, resp, err := websocket.DefaultDialer.Dial(u, h)
			if resp != nil && resp.Body != nil {
				resp.Body.Close()
			}
			if tt.ok != (err == nil) {
				t.Fatalf("dial err %v, want ok=%v", err, tt.ok)
			}
			if ws != nil {
				var m map[string]any
				if err := ws.ReadJSON(&m); err != nil || m["type"] != "welcome" {
					t.Fatalf("first message %v %v", m, err)
				}
				ws.Close()
			}
			if !tt.ok && resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403", resp.StatusCode)
			}
		})
	}
	// A page of another site may not join without a studio's token that lists it.
	h := http.Header{}
	h.Set("Origin", "https://evil.example")
	ws, _, err := websocket.DefaultDialer.Dial(u, h)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var m protocol.Message
	if err := ws.ReadJSON(&m); err != nil || m.Type != protocol.TypeWelcome {
		t.Fatalf("welcome %+v %v", m, err)
	}
	if err := ws.WriteJSON(protocol.Message{Type: protocol.TypeJoin, Game: "demo"}); err != nil {
		t.Fatal(err)
	}
	if err := ws.ReadJSON(&m); err != nil || m.Code != protocol.CodeOriginNotAllowed {
		t.Fatalf("join from another site: %+v %v, want origin_not_allowed", m, err)
	}
}

// With PrivateMetrics (the process serves them on --metrics-addr) the player port has no
// /metrics.
func TestPrivateMetrics(t *testing.T) {
	_, hs, _ := newTestServerConfig(t, Config{PrivateMetrics: true})
	if code, _ := get(t, hs.URL+"/metrics"); code == http.StatusOK {
		t.Errorf("/metrics on the player port: %d", code)
	}
	_, hs2, _ := newTestServer(t)
	if code, _ := get(t, hs2.URL+"/metrics"); code != http.StatusOK {
		t.Errorf("/metrics by default: %d", code)
	}
}
