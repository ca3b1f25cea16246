package probe

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/edgeplay/edgeplay/protocol"
)

const testSession = "0123456789abcdef"

func newTestServer(t *testing.T, cfg HandlerConfig) (*Handler, *httptest.Server) {
	t.Helper()
	if cfg.Key == nil {
		cfg.Key = testKey
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h := NewHandler(cfg)
	mux := http.NewServeMux()
	mux.Handle("GET /v1/probe", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		_ = h.Close()
	})
	return h, srv
}

func dial(t *testing.T, srv *httptest.Server, region, session string) *websocket.Conn {
	t.Helper()
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/probe?" +
		url.Values{"region": {region}, "session": {session}}.Encode()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(u, http.Header{"Origin": {"https://another-gateway.example"}})
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = ws.Close() })
	// Every wait of the client is bounded: the server must be done well within this.
	_ = ws.SetReadDeadline(time.Now().Add(ConnDeadline + 3*time.Second))
	return ws
}

// clientMsg is anything the probe endpoint sends.
type clientMsg struct {
	Type      string        `json:"type"`
	Seq       uint64        `json:"seq"`
	Region    string        `json:"region"`
	RTTMillis float64       `json:"rtt_ms"`
	Token     string        `json:"token"`
	Code      protocol.Code `json:"code"`
	Message   string        `json:"message"`
}

func read(t *testing.T, ws *websocket.Conn) (clientMsg, error) {
	t.Helper()
	var m clientMsg
	_, data, err := ws.ReadMessage()
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("server sent %q: %v", data, err)
	}
	return m, nil
}

// pongBehaviour says how the test client answers a ping.
type pongBehaviour int

const (
	pongRight pongBehaviour = iota
	pongWrongSeq
	pongNever
	pongBinary
	pongOversized
	pongEarly // a pong with a guessed seq before the ping arrives
	pongGarbage
)

// runClient answers pings as b says until the server sends something else or closes. It
// returns what the client saw: the result or error message (if any) and the close error.
func runClient(t *testing.T, ws *websocket.Conn, b pongBehaviour) (last clientMsg, pings int, closeErr error) {
	t.Helper()
	if b == pongEarly {
		if err := ws.WriteJSON(map[string]any{"type": "pong", "seq": 1}); err != nil {
			t.Fatal(err)
		}
	}
	for {
		m, err := read(t, ws)
		if err != nil {
			return last, pings, err
		}
		if m.Type != TypePing {
			last = m
			continue
		}
		pings++
		if m.Seq == 0 {
			t.Errorf("ping without a seq")
		}
		var werr error
		switch b {
		case pongRight, pongEarly:
			werr = ws.WriteJSON(map[string]any{"type": "pong", "seq": m.Seq})
		case pongWrongSeq:
			werr = ws.WriteJSON(map[string]any{"type": "pong", "seq": m.Seq + 1})
		case pongBinary:
			werr = ws.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"pong"}`))
		case pongOversized:
			werr = ws.WriteJSON(map[string]any{"type": "pong", "seq": m.Seq, "pad": strings.Repeat("x", ReadLimit)})
		case pongGarbage:
			werr = ws.WriteMessage(websocket.TextMessage, []byte("pong"))
		case pongNever:
		}
		if werr != nil {
			t.Logf("client write: %v", werr)
		}
	}
}

func closeCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}

func TestHandlerMeasures(t *testing.T) {
	regions := map[string]time.Duration{"near": 0, "far": 30 * time.Millisecond}
	h, srv := newTestServer(t, HandlerConfig{Regions: regions, TTL: time.Minute})
	for _, region := range []string{"near", "far"} {
		t.Run(region, func(t *testing.T) {
			start := time.Now()
			ws := dial(t, srv, region, testSession)
			res, pings, err := runClient(t, ws, pongRight)
			if code := closeCode(err); code != websocket.CloseNormalClosure {
				t.Errorf("closed with %v, want a normal Close frame", err)
			}
			if pings != DefaultSamples {
				t.Errorf("%d pings, want %d", pings, DefaultSamples)
			}
			if res.Type != TypeResult || res.Region != region || res.Token == "" {
				t.Fatalf("result %+v", res)
			}
			s, err := Verify(testKey, res.Token, time.Now())
			if err != nil {
				t.Fatalf("result token: %v", err)
			}
			if s.Region != region || s.Session != testSession {
				t.Errorf("token for %s/%s, want %s/%s", s.Region, s.Session, region, testSession)
			}
			if res.RTTMillis != Millis(s.RTT) {
				t.Errorf("rtt_ms %v, token says %v", res.RTTMillis, s.RTT)
			}
			// The simulated delay is a floor; never assert an upper bound on a shared machine.
			if s.RTT < regions[region] || s.RTT <= 0 {
				t.Errorf("RTT %v, want ≥ %v and > 0", s.RTT, regions[region])
			}
			if s.Expires.Before(start.Add(time.Minute).Truncate(time.Millisecond)) {
				t.Errorf("expires %v, want ≥ start + TTL", s.Expires)
			}
			t.Logf("%s: rtt %v (rtt_ms %v)", region, s.RTT, res.RTTMillis)
		})
	}
	waitCounts(t, h, 2, 0) // the server counts after its close handshake: poll
}

func TestHandlerRefuses(t *testing.T) {
	tests := []struct {
		name      string
		region    string
		session   string
		pong      pongBehaviour
		code      protocol.Code // of the error message; "" = none expected
		closeCode int           // -1: any end of the connection
	}{
		{"unknown region", "mars-1", testSession, pongRight, protocol.CodeBadField, websocket.ClosePolicyViolation},
		{"no region", "", testSession, pongRight, protocol.CodeBadField, websocket.ClosePolicyViolation},
		{"no session", "near", "", pongRight, protocol.CodeBadField, websocket.ClosePolicyViolation},
		{"bad session", "near", "../../x", pongRight, protocol.CodeBadField, websocket.ClosePolicyViolation},
		{"long session", "near", strings.Repeat("a", 65), pongRight, protocol.CodeBadField, websocket.ClosePolicyViolation},
		{"wrong pong seq", "near", testSession, pongWrongSeq, protocol.CodeBadMessage, websocket.ClosePolicyViolation},
		{"pong before ping", "near", testSession, pongEarly, protocol.CodeBadMessage, websocket.ClosePolicyViolation},
		{"binary pong", "near", testSession, pongBinary, protocol.CodeBadMessage, websocket.ClosePolicyViolation},
		{"not JSON", "near", testSession, pongGarbage, protocol.CodeBadMessage, websocket.ClosePolicyViolation},
		{"oversized pong", "near", testSession, pongOversized, "", websocket.CloseMessageTooBig},
		{"no pong", "near", testSession, pongNever, "", websocket.ClosePolicyViolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, srv := newTestServer(t, HandlerConfig{Regions: map[string]time.Duration{"near": 0}})
			ws := dial(t, srv, tt.region, tt.session)
			last, _, err := runClient(t, ws, tt.pong)
			if last.Type == TypeResult || last.Token != "" {
				t.Fatalf("got a result: %+v", last)
			}
			if tt.code != "" && (last.Type != protocol.TypeError || last.Code != tt.code || last.Message == "") {
				t.Errorf("last message %+v, want an error %s", last, tt.code)
			}
			if tt.code == "" && last.Type != "" {
				t.Errorf("unexpected message %+v", last)
			}
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the server did not close the connection: %v", err)
			}
			if got := closeCode(err); got != tt.closeCode {
				t.Errorf("connection ended with %v, want close code %d", err, tt.closeCode)
			}
			waitCounts(t, h, 0, 1)
		})
	}
}

// waitCounts polls h.Counts until it reads measured, failed, for at most 5 s.
func waitCounts(t *testing.T, h *Handler, measured, failed uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		m, f := h.Counts()
		if m == measured && f == failed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("counts %d measured, %d failed; want %d, %d", m, f, measured, failed)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHandlerNotWebsocket(t *testing.T) {
	h, srv := newTestServer(t, HandlerConfig{Regions: map[string]time.Duration{"near": 0}})
	resp, err := http.Get(srv.URL + "/v1/probe?region=near&session=" + testSession)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400", resp.StatusCode)
	}
	waitCounts(t, h, 0, 1)
}

func TestHandlerClose(t *testing.T) {
	h, srv := newTestServer(t, HandlerConfig{Regions: map[string]time.Duration{"near": 0}})
	ws := dial(t, srv, "near", testSession)
	if m, err := read(t, ws); err != nil || m.Type != TypePing {
		t.Fatalf("first message %+v, %v; want a ping", m, err)
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_ = h.Close()
	}()
	_, _, err := runClient(t, ws, pongNever)
	if code := closeCode(err); code != websocket.CloseGoingAway {
		t.Errorf("connection ended with %v, want 1001", err)
	}
	select {
	case <-closed:
	case <-time.After(ConnDeadline + 3*time.Second):
		t.Fatal("Close did not return")
	}
	resp, err := http.Get(srv.URL + "/v1/probe?region=near&session=" + testSession)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("after Close: status %d, want 503", resp.StatusCode)
	}
	_ = h.Close() // idempotent
}

func TestHandlerConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  HandlerConfig
		ok   bool
	}{
		{"minimal", HandlerConfig{Key: testKey}, true},
		{"regions", HandlerConfig{Key: testKey, Regions: map[string]time.Duration{"dxb-1": 8 * time.Millisecond, "dxb-2": 30 * time.Millisecond}}, true},
		{"max delay", HandlerConfig{Key: testKey, Regions: map[string]time.Duration{"r": MaxSimulatedDelay}}, true},
		{"no key", HandlerConfig{}, false},
		{"short key", HandlerConfig{Key: []byte("0123456789")}, false},
		{"bad region id", HandlerConfig{Key: testKey, Regions: map[string]time.Duration{"DXB 1": 0}}, false},
		{"negative delay", HandlerConfig{Key: testKey, Regions: map[string]time.Duration{"r": -time.Millisecond}}, false},
		{"delay too long", HandlerConfig{Key: testKey, Regions: map[string]time.Duration{"r": time.Second}}, false},
		{"samples × delay over the deadline", HandlerConfig{Key: testKey, Samples: 16, Regions: map[string]time.Duration{"r": 400 * time.Millisecond}}, false},
		{"too many samples", HandlerConfig{Key: testKey, Samples: MaxSamples + 1}, false},
		{"negative samples", HandlerConfig{Key: testKey, Samples: -1}, false},
		{"negative TTL", HandlerConfig{Key: testKey, TTL: -time.Second}, false},
		{"TTL too long", HandlerConfig{Key: testKey, TTL: time.Hour}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tt.ok)
			}
			if !tt.ok {
				defer func() {
					if recover() == nil {
						t.Error("NewHandler accepted an invalid config")
					}
				}()
				NewHandler(tt.cfg)
			}
		})
	}
}
