package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/internal/natsd"
	"github.com/edgeplay/edgeplay/probe"
	"github.com/edgeplay/edgeplay/protocol"
	"github.com/edgeplay/edgeplay/studio"
)

func TestClientAddr(t *testing.T) {
	s := &Server{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}}
	for _, tc := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"direct", "203.0.113.7:5000", nil, "203.0.113.7"},
		{"direct ignores the header", "203.0.113.7:5000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"through a proxy", "10.1.2.3:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a forged left entry", "10.1.2.3:5000", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},
		{"two proxies", "10.1.2.3:5000", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"two headers", "10.1.2.3:5000", []string{"6.6.6.6", "198.51.100.1"}, "198.51.100.1"},
		{"proxy without a header", "10.1.2.3:5000", nil, "10.1.2.3"},
		{"garbage hop", "10.1.2.3:5000", []string{"198.51.100.1, nonsense"}, "10.1.2.3"},
		{"IPv6 proxy", "[fd00::1]:5000", []string{"2001:db8::5"}, "2001:db8::5"},
		{"mapped IPv4", "[::ffff:203.0.113.7]:5000", nil, "203.0.113.7"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/v1/play", nil)
		r.RemoteAddr = tc.remote
		for _, h := range tc.xff {
			r.Header.Add("X-Forwarded-For", h)
		}
		if got := s.clientAddr(r); got.String() != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	if k := clientKey(netip.MustParseAddr("2001:db8:1:2:3:4:5:6")); k.String() != "2001:db8:1:2::/64" {
		t.Errorf("IPv6 client key %s, want its /64", k)
	}
	if k := clientKey(netip.MustParseAddr("::ffff:192.0.2.1")); k.String() != "192.0.2.1/32" {
		t.Errorf("mapped IPv4 key %s", k)
	}
}

// limitEnv is a gateway with cfg on an in-process NATS, whose connection the test may use to
// play the matchmaker.
type limitEnv struct {
	url string
	nc  *nats.Conn
}

func newLimitEnv(t *testing.T, cfg Config) *limitEnv {
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
	t.Cleanup(closeNC)
	if cfg.Studios == nil {
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if cfg.Studios, err = studio.Open(ctx, js, 1); err != nil {
			t.Fatal(err)
		}
		if cfg.Tokens, err = studio.NewTokens(ctx, cfg.Studios, log); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cfg.Tokens.Close)
	}
	cfg.Logger = log
	s, err := New(cfg, nc)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return &limitEnv{url: "ws" + strings.TrimPrefix(hs.URL, "http") + "/v1/play", nc: nc}
}

// dial opens a player socket and returns it with its first message.
func (e *limitEnv) dial(t *testing.T) (*websocket.Conn, protocol.Message) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(e.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return ws, next(t, ws)
}

func next(t *testing.T, ws *websocket.Conn) protocol.Message {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m protocol.Message
	if err := ws.ReadJSON(&m); err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

// waitClosed reads until the server closes ws.
func waitClosed(t *testing.T, ws *websocket.Conn) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				t.Fatal("the socket was not closed")
			}
			return
		}
	}
}

// One client may hold only so many sockets without a join token, and the gateway only so
// many in all; a closed socket makes room; one whose token is redeemed stops counting.
func TestConnectionLimits(t *testing.T) {
	e := newLimitEnv(t, Config{MaxConnsPerClient: 2, MaxConns: 3, AdminToken: testToken})
	a, m := e.dial(t)
	if m.Type != protocol.TypeWelcome {
		t.Fatalf("first socket: %+v", m)
	}
	if _, m := e.dial(t); m.Type != protocol.TypeWelcome {
		t.Fatalf("second socket: %+v", m)
	}
	third, m := e.dial(t)
	if m.Type != protocol.TypeError || m.Code != protocol.CodeTooManyConnections {
		t.Fatalf("third socket from the same client: %+v, want too_many_connections", m)
	}
	waitClosed(t, third)
	_ = a.Close()
	var again protocol.Message
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ws, m := e.dial(t)
		if again = m; m.Type == protocol.TypeWelcome {
			_ = ws.Close()
			break
		}
	}
	if again.Type != protocol.TypeWelcome {
		t.Fatalf("after a socket closed: %+v, want welcome", again)
	}
}

func TestConnectionLimitTotal(t *testing.T) {
	e := newLimitEnv(t, Config{MaxConnsPerClient: -1, MaxConns: 2})
	e.dial(t)
	e.dial(t)
	if _, m := e.dial(t); m.Type != protocol.TypeError || m.Code != protocol.CodeTooManyConnections {
		t.Fatalf("a socket over the gateway's total: %+v, want too_many_connections", m)
	}
}

// A socket whose join redeems a token no longer counts against its client.
func TestTokenSocketsDoNotCount(t *testing.T) {
	e := newLimitEnv(t, Config{MaxConnsPerClient: 1, AdminToken: testToken, PlaceTimeout: 10 * time.Second})
	tok := e.mintForTest(t)
	ws, _ := e.dial(t)
	if err := ws.WriteJSON(protocol.Message{Type: protocol.TypeJoin, Token: tok}); err != nil {
		t.Fatal(err)
	}
	var m protocol.Message
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		other, got := e.dial(t)
		if m = got; got.Type == protocol.TypeWelcome {
			_ = other.Close()
			break
		}
	}
	if m.Type != protocol.TypeWelcome {
		t.Fatalf("a second socket while the first holds a redeemed token: %+v, want welcome", m)
	}
}

// mintForTest creates a studio for demo on the gateway's store and mints a token.
func (e *limitEnv) mintForTest(t *testing.T) string {
	t.Helper()
	js, _ := jetstream.New(e.nc)
	st, err := studio.Open(t.Context(), js, 1)
	if err != nil {
		t.Fatal(err)
	}
	created, _, err := st.Create(t.Context(), studio.Spec{Name: new("s")})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := studio.NewTokens(t.Context(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tk.Close()
	tok, _, err := tk.Mint(created, created.Keys[0].ID, studio.MintRequest{Game: "demo", PlayerID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestJoinTimeout(t *testing.T) {
	e := newLimitEnv(t, Config{JoinTimeout: 200 * time.Millisecond})
	ws, _ := e.dial(t)
	if m := next(t, ws); m.Type != protocol.TypeError || m.Code != protocol.CodeJoinTimeout {
		t.Fatalf("no join: %+v, want join_timeout", m)
	}
	waitClosed(t, ws)
}

// One client's queued tickets are capped: past the cap the join is refused quota_exceeded and
// its ticket cancelled.
func TestQueuedPerClient(t *testing.T) {
	e := newLimitEnv(t, Config{MaxQueuedPerClient: 1})
	cancelled := make(chan string, 4)
	if _, err := e.nc.Subscribe(protocol.SubjectPlace, func(m *nats.Msg) {
		b, _ := json.Marshal(protocol.Reply{OK: true, Queued: true, Position: 1, ETA: 5})
		_ = m.Respond(b)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.nc.Subscribe(protocol.SubjectCancel, func(m *nats.Msg) {
		var c protocol.CancelRequest
		_ = json.Unmarshal(m.Data, &c)
		cancelled <- c.Session
	}); err != nil {
		t.Fatal(err)
	}
	first, _ := e.dial(t)
	_ = first.WriteJSON(protocol.Message{Type: protocol.TypeJoin, Game: "demo"})
	if m := next(t, first); m.Type != protocol.TypeQueued {
		t.Fatalf("first join: %+v, want queued", m)
	}
	second, welcome := e.dial(t)
	_ = second.WriteJSON(protocol.Message{Type: protocol.TypeJoin, Game: "demo"})
	if m := next(t, second); m.Type != protocol.TypeError || m.Code != protocol.CodeQuotaExceeded {
		t.Fatalf("second queued join from the client: %+v, want quota_exceeded", m)
	}
	select {
	case s := <-cancelled:
		if s != welcome.Session {
			t.Errorf("cancelled %s, want the refused ticket %s", s, welcome.Session)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the refused ticket was not cancelled")
	}
}

// A message must arrive whole within MessageTimeout: a client that sends the start of a large
// message and then only answers pings is cut off.
func TestSlowMessageIsCut(t *testing.T) {
	e := newLimitEnv(t, Config{PingInterval: 100 * time.Millisecond, MessageTimeout: 500 * time.Millisecond})
	ws, _ := e.dial(t)
	w, err := ws.NextWriter(websocket.TextMessage)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(`{"type":"join","game":"` + strings.Repeat("a", 8<<10))); err != nil { // frames go out; the message stays open
		t.Fatal(err)
	}
	start := time.Now()
	closed := make(chan error, 1)
	go func() { // reads, so the client answers the gateway's pings
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				closed <- err
				return
			}
		}
	}()
	select {
	case <-closed:
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("cut after %v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a message held open while answering pings was not cut off")
	}
}

// RTT probes are held to the per-client cap too: past it, 429 too_many_connections.
func TestProbeLimits(t *testing.T) {
	ph := probe.NewHandler(probe.HandlerConfig{Key: []byte(strings.Repeat("k", 32)), Regions: map[string]time.Duration{"r1": 0}})
	e := newLimitEnv(t, Config{MaxConnsPerClient: 1, Probe: ph})
	u := strings.Replace(e.url, "/v1/play", "/v1/probe?region=r1&session=0123456789abcdef", 1)
	first, _, err := websocket.DefaultDialer.Dial(u, nil) // holds its probe open: it never answers a ping
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	_, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a second probe from the client: %v %v, want 429", resp, err)
	}
	resp.Body.Close()
	// A player socket is counted apart: still admitted.
	if _, m := e.dial(t); m.Type != protocol.TypeWelcome {
		t.Fatalf("a player socket beside a probe: %+v", m)
	}
}
