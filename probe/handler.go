package probe

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/edgeplay/edgeplay/protocol"
)

// Limits and defaults of the probe endpoint (docs/PROTOCOL.md, "RTT probe").
const (
	DefaultSamples = 5
	MaxSamples     = 16
	DefaultTTL     = 30 * time.Second
	MaxTTL         = 5 * time.Minute
	// ConnDeadline bounds one probe connection from upgrade to close.
	ConnDeadline = 5 * time.Second
	// PongTimeout is how long the endpoint waits for each pong (plus the region's simulated
	// delay).
	PongTimeout = 2 * time.Second
	// MaxSimulatedDelay bounds a region's simulated delay.
	MaxSimulatedDelay = 500 * time.Millisecond
	// ReadLimit is the largest message a client may send, in bytes.
	ReadLimit = 256
	// closeWait bounds the wait for the client's answer to our Close frame.
	closeWait = time.Second
)

// Message types on the probe websocket.
const (
	TypePing   = "ping"   // server → client {seq}
	TypePong   = "pong"   // client → server {seq}: the ping's seq, echoed at once
	TypeResult = "result" // server → client {region, rtt_ms, token}; a Close frame follows
)

// HandlerConfig configures the probe endpoint. Key is required; every other zero value means
// the default.
type HandlerConfig struct {
	// Key signs the results; the matchmakers verify with the same key. At least MinKeySize
	// bytes (32 random bytes recommended).
	Key []byte
	// Regions are the data centers this endpoint measures for (?region= must be one of them),
	// each with a simulated extra delay: 0 = none. The delay is a simulation for demos and
	// tests (--simulate-rtt), done in user space because these machines have no netem: the
	// endpoint sleeps that long before each ping, so the measured RTT grows by it as if the
	// path were longer. At most MaxSimulatedDelay, and Samples × delay at most half of
	// ConnDeadline.
	Regions map[string]time.Duration
	// Samples is the number of pings per probe; the result is their median. 0 means
	// DefaultSamples; at most MaxSamples.
	Samples int
	// TTL is the lifetime of a token. 0 means DefaultTTL; at most MaxTTL.
	TTL time.Duration
	// Logger receives one debug line per probe; nil means slog.Default().
	Logger *slog.Logger
}

// Validate reports whether c can make a Handler.
func (c HandlerConfig) Validate() error {
	if len(c.Key) < MinKeySize {
		return fmt.Errorf("probe: key of %d bytes; at least %d are needed", len(c.Key), MinKeySize)
	}
	if c.Samples < 0 || c.Samples > MaxSamples {
		return fmt.Errorf("probe: samples %d out of 0..%d", c.Samples, MaxSamples)
	}
	if c.TTL < 0 || c.TTL > MaxTTL {
		return fmt.Errorf("probe: token TTL %v out of 0..%v", c.TTL, MaxTTL)
	}
	samples := c.samples()
	for id, d := range c.Regions {
		if !protocol.ValidName(id) {
			return fmt.Errorf("probe: region id %q: want 1-%d characters of a-z, 0-9, '-', '_'", id, protocol.MaxNameSize)
		}
		if d < 0 || d > MaxSimulatedDelay || time.Duration(samples)*d > ConnDeadline/2 {
			return fmt.Errorf("probe: region %s: simulated delay %v out of 0..%v (and %d samples × delay ≤ %v)",
				id, d, MaxSimulatedDelay, samples, ConnDeadline/2)
		}
	}
	return nil
}

func (c HandlerConfig) samples() int {
	if c.Samples == 0 {
		return DefaultSamples
	}
	return c.Samples
}

// Handler serves the probe websocket, GET /v1/probe?region=R&session=S. Mount it with
// mux.Handle("GET /v1/probe", h). Close it on shutdown: http.Server.Shutdown does not close
// hijacked connections.
type Handler struct {
	key     []byte
	regions map[string]time.Duration
	samples int
	ttl     time.Duration
	log     *slog.Logger
	up      websocket.Upgrader

	measured, failed atomic.Uint64

	quit chan struct{} // closed by Close
	wg   sync.WaitGroup

	mu     sync.Mutex
	closed bool                         // guarded by mu
	conns  map[*websocket.Conn]struct{} // guarded by mu: the open probe sockets
}

// NewHandler returns the probe endpoint. It panics if cfg.Validate fails: check the config
// when it is built from flags.
//
// The endpoint accepts websockets from any origin. A player probes the gateways of other data
// centers, whose origin is not the page's, so a same-origin check would break the feature;
// and it is safe: the endpoint uses no cookies or credentials, changes no state, and only
// measures the connection that asked and returns that measurement, signed. A token is bound
// to the session id the caller supplied and is useless for any other session.
func NewHandler(cfg HandlerConfig) *Handler {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	h := &Handler{
		key:     slices.Clone(cfg.Key),
		regions: make(map[string]time.Duration, len(cfg.Regions)),
		samples: cfg.samples(),
		ttl:     cfg.TTL,
		log:     cfg.Logger,
		quit:    make(chan struct{}),
		conns:   make(map[*websocket.Conn]struct{}),
	}
	for id, d := range cfg.Regions {
		h.regions[id] = d
	}
	if h.ttl == 0 {
		h.ttl = DefaultTTL
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.up = websocket.Upgrader{
		ReadBufferSize:  512,
		WriteBufferSize: 512,
		CheckOrigin:     func(*http.Request) bool { return true }, // see above
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			http.Error(w, reason.Error(), status)
		},
	}
	return h
}

// Counts returns the number of probes that produced a token and of those that failed (bad
// request, wrong or missing pong, network error).
func (h *Handler) Counts() (measured, failed uint64) {
	return h.measured.Load(), h.failed.Load()
}

// Close refuses new probes, closes the open ones with a Close frame (1001) and waits for
// their handlers to return. It is idempotent.
func (h *Handler) Close() error {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.quit)
	}
	conns := make([]*websocket.Conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		// WriteControl and Close may be called concurrently with the handler's reads and writes.
		_ = c.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "shutting down"), time.Now().Add(time.Second))
		_ = c.Close()
	}
	h.wg.Wait()
	return nil
}

// enter registers a request; false once Close has begun.
func (h *Handler) enter() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1)
	return true
}

func (h *Handler) track(c *websocket.Conn, add bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !add {
		delete(h.conns, c)
		return true
	}
	if h.closed {
		return false
	}
	h.conns[c] = struct{}{}
	return true
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.enter() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	defer h.wg.Done()
	q := r.URL.Query()
	region, session := q.Get("region"), q.Get("session")
	log := h.log.With("region", clip(region), "session", clip(session), "remote", r.RemoteAddr)
	ws, err := h.up.Upgrade(w, r, nil) // on failure the upgrader has answered with an HTTP error
	if err != nil {
		h.failed.Add(1)
		log.Debug("probe: websocket upgrade failed", "err", err)
		return
	}
	defer ws.Close()
	if !h.track(ws, true) {
		h.failed.Add(1)
		_ = ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "shutting down"), time.Now().Add(time.Second))
		return
	}
	defer h.track(ws, false)

	rtt, err := h.serve(ws, region, session)
	if err != nil {
		h.failed.Add(1)
		log.Debug("probe failed", "err", err)
		return
	}
	h.measured.Add(1)
	log.Debug("probe measured", "rtt", rtt)
}

// serve runs one probe on ws and returns the median RTT it signed.
func (h *Handler) serve(ws *websocket.Conn, region, session string) (time.Duration, error) {
	deadline := time.Now().Add(ConnDeadline)
	ws.SetReadLimit(ReadLimit)
	delay, ok := h.regions[region]
	if !ok {
		err := protocol.Errorf(protocol.CodeBadField, "region %q is not measured by this endpoint", clip(region))
		h.refuse(ws, deadline, err)
		return 0, err
	}
	if !protocol.ValidName(session) {
		err := protocol.Errorf(protocol.CodeBadField, "session must be 1-%d characters of a-z, 0-9, '-', '_'", protocol.MaxNameSize)
		h.refuse(ws, deadline, err)
		return 0, err
	}

	rtts := make([]time.Duration, 0, h.samples)
	for i := range h.samples {
		seq := randomSeq()
		t0 := time.Now()
		if delay > 0 {
			select { // the simulated longer path (HandlerConfig.Regions)
			case <-time.After(delay):
			case <-h.quit:
				return 0, errors.New("shutting down")
			}
		}
		if err := writeJSON(ws, deadline, ping{Type: TypePing, Seq: seq}); err != nil {
			return 0, fmt.Errorf("ping %d: %w", i+1, err)
		}
		_ = ws.SetReadDeadline(earliest(t0.Add(delay+PongTimeout), deadline))
		kind, data, err := ws.ReadMessage()
		rtt := time.Since(t0)
		if err != nil {
			closeWith(ws, deadline, websocket.ClosePolicyViolation, "no pong in time")
			return 0, fmt.Errorf("waiting for pong %d: %w", i+1, err)
		}
		var p ping
		if kind != websocket.TextMessage || json.Unmarshal(data, &p) != nil || p.Type != TypePong || p.Seq != seq {
			err := protocol.Errorf(protocol.CodeBadMessage, "expected {\"type\":\"pong\",\"seq\":%d}", seq)
			h.refuse(ws, deadline, err)
			return 0, err
		}
		rtts = append(rtts, rtt)
	}

	med := median(rtts)
	if med > MaxRTT {
		err := protocol.Errorf(protocol.CodeBadState, "median RTT %v is over %v", med.Round(time.Millisecond), MaxRTT)
		h.refuse(ws, deadline, err)
		return 0, err
	}
	token := Sign(h.key, Sample{Region: region, Session: session, RTT: med, Expires: time.Now().Add(h.ttl)})
	if err := writeJSON(ws, deadline, result{Type: TypeResult, Region: region, RTTMillis: Millis(med), Token: token}); err != nil {
		return 0, fmt.Errorf("result: %w", err)
	}
	closeWith(ws, deadline, websocket.CloseNormalClosure, "")
	return med, nil
}

// ping is both the ping and the pong.
type ping struct {
	Type string `json:"type"`
	Seq  uint64 `json:"seq"`
}

type result struct {
	Type      string  `json:"type"`
	Region    string  `json:"region"`
	RTTMillis float64 `json:"rtt_ms"`
	Token     string  `json:"token"`
}

// refuse sends err as an error message and closes with 1008.
func (h *Handler) refuse(ws *websocket.Conn, deadline time.Time, err error) {
	if writeJSON(ws, deadline, protocol.ErrorMessage(err)) == nil {
		closeWith(ws, deadline, websocket.ClosePolicyViolation, "")
	}
}

func writeJSON(ws *websocket.Conn, deadline time.Time, v any) error {
	_ = ws.SetWriteDeadline(deadline)
	return ws.WriteJSON(v)
}

// closeWith sends a Close frame and waits, within the deadline and at most closeWait, for the
// client's; the caller then closes the connection.
func closeWith(ws *websocket.Conn, deadline time.Time, code int, text string) {
	if ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), deadline) != nil {
		return
	}
	_ = ws.SetReadDeadline(earliest(time.Now().Add(closeWait), deadline))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			return // the client's Close frame, a timeout, or a broken connection
		}
	}
}

// Millis is d in milliseconds rounded to 0.1 ms, as result.rtt_ms carries it.
func Millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(100*time.Microsecond)) / 10
}

// median returns the median of d (the mean of the middle two for an even count); d is sorted.
func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	n := len(d)
	if n%2 == 1 {
		return d[n/2]
	}
	return (d[n/2-1] + d[n/2]) / 2
}

// randomSeq returns an unpredictable ping seq in 1..2^32-1, so that a client cannot send a
// pong before the ping arrives.
func randomSeq() uint64 {
	var b [4]byte
	for {
		_, _ = rand.Read(b[:]) // never fails (Go ≥ 1.24 crashes instead)
		if v := binary.LittleEndian.Uint32(b[:]); v != 0 {
			return uint64(v)
		}
	}
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// clip shortens client-supplied strings for logs and messages.
func clip(s string) string {
	if len(s) > protocol.MaxNameSize {
		return s[:protocol.MaxNameSize] + "…"
	}
	return s
}
