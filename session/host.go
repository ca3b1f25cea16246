package session

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/edgeplay/edgeplay/encoder"
	"github.com/edgeplay/edgeplay/internal/metrics"
	"github.com/edgeplay/edgeplay/media"
	"github.com/edgeplay/edgeplay/protocol"
)

// maxNATSMessage bounds what the host accepts from NATS per message; signalling is small.
const maxNATSMessage = protocol.MaxMessageSize + 1024

// Host is the session host: it owns the slots of one machine, answers reservations from the
// matchmaker, runs one Session per player and publishes heartbeats and events on NATS.
type Host struct {
	cfg      Config
	nc       *nats.Conn
	log      *slog.Logger
	media    *media.Engine
	encoders []string
	seq      atomic.Uint64
	latency  *sampleRing // frame ready → last RTP packet written, all sessions
	// inputLatency: an input's arrival → the first frame that reflects it, all sessions.
	inputLatency *sampleRing
	usage        *usagePublisher // the sessions' usage records

	mu       sync.Mutex
	sessions map[string]*Session // guarded by mu
	state    string              // guarded by mu; protocol.Host*
	sys      struct {            // guarded by mu; refreshed by the heartbeat loop
		load float64
		gpus []protocol.GPU
	}
	subs []*nats.Subscription
	// drain is guarded by mu.
	drain struct {
		deadline time.Time
		reason   string
		timer    *time.Timer
	}

	quit      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup // heartbeat loop and session loops
}

// New starts a host on nc: it binds the UDP port, subscribes to its NATS subjects and starts
// heartbeating. Close stops it.
func New(cfg Config, nc *nats.Conn) (*Host, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("host", cfg.ID, "region", cfg.Region)
	h := &Host{
		cfg:          cfg,
		nc:           nc,
		log:          log,
		latency:      newSampleRing(8192),
		inputLatency: newSampleRing(8192),
		sessions:     make(map[string]*Session),
		state:        protocol.HostRegistering, // until its subscriptions are in place
		quit:         make(chan struct{}),
	}
	// Every codec offered must have an encoder that opens here (players are sent the first
	// codec of the list they accept, so an offered codec without one would end their
	// sessions); --encoder picks among H.264's.
	for _, c := range cfg.Codecs {
		backends := encoder.ProbeCodec(c.Name)
		if len(backends) == 0 {
			return nil, fmt.Errorf("%w: no %s encoder can be opened here; leave %s out of --codecs", ErrConfig, c.Name, c.Name)
		}
		if c.Name == media.H264.Name && cfg.EncoderBackend != encoder.BackendAuto && !slices.Contains(backends, cfg.EncoderBackend) {
			return nil, fmt.Errorf("%w: encoder %q cannot be opened here (available: %s)",
				ErrConfig, cfg.EncoderBackend, strings.Join(backends, ", "))
		}
		h.encoders = append(h.encoders, backends...)
	}
	eng, err := media.NewEngine(media.EngineConfig{
		Codecs: cfg.Codecs, UDPAddr: cfg.UDPAddr, PublicIPs: cfg.PublicIPs, MaxKbps: cfg.BitrateKbps, Logger: log,
		// ICE must not give up on a player who may still come back: a failed agent can be
		// restarted, but give the player the whole grace and some.
		ICEFailedTimeout: max(25*time.Second, cfg.ResumeGrace+10*time.Second),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	h.media = eng
	if h.usage, err = newUsagePublisher(nc, cfg.ID, log); err != nil {
		_ = eng.Close()
		return nil, err
	}

	for subj, fn := range map[string]nats.MsgHandler{
		protocol.SubjectReserve(cfg.ID):   h.handleReserve,
		protocol.SubjectDrain(cfg.ID):     h.handleDrain,
		protocol.SubjectKick(cfg.ID):      h.handleKick,
		protocol.SubjectToHostAll(cfg.ID): h.handleToHost,

		protocol.SubjectHostSessions(cfg.ID): h.handleSessions, // admin.go
	} {
		sub, err := nc.Subscribe(subj, h.containHandler(subj, fn))
		if err != nil {
			h.unsubscribe()
			_ = eng.Close()
			h.usage.close(context.Background())
			return nil, fmt.Errorf("subscribe %s: %w", subj, err)
		}
		h.subs = append(h.subs, sub)
	}
	// Make sure the subscriptions are known to the server before the first heartbeat invites
	// reservations.
	if err := nc.Flush(); err != nil {
		h.unsubscribe()
		_ = eng.Close()
		h.usage.close(context.Background())
		return nil, fmt.Errorf("nats flush: %w", err)
	}
	log.Info("host started", "slots", cfg.Slots, "udp_port", eng.Port(), "encoders", h.encoders,
		"size", fmt.Sprintf("%dx%d@%d", cfg.Width, cfg.Height, cfg.FPS))
	h.mu.Lock()
	h.state = protocol.HostReady
	h.mu.Unlock()
	h.publishEvent(protocol.Event{Kind: "host_started"})
	h.heartbeat()
	h.wg.Go(h.heartbeatLoop)
	return h, nil
}

// UDPPort is the port the ICE UDP mux is bound to.
func (h *Host) UDPPort() int { return h.media.Port() }

// ID is the host id.
func (h *Host) ID() string { return h.cfg.ID }

// Close ends every session with reason "shutdown", publishes a final heartbeat, and releases
// the UDP port. It waits for every goroutine the host started, or until ctx is done.
func (h *Host) Close(ctx context.Context) error {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		h.state = protocol.HostStopped
		if h.drain.timer != nil {
			h.drain.timer.Stop()
		}
		sessions := make([]*Session, 0, len(h.sessions))
		for _, s := range h.sessions {
			sessions = append(sessions, s)
		}
		h.mu.Unlock()
		h.unsubscribe()
		for _, s := range sessions {
			s.stop(protocol.ReasonShutdown)
		}
		close(h.quit)
	})
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		h.usage.close(ctx)
		return fmt.Errorf("host close: %w", ctx.Err())
	}
	// The sessions' end records: a few seconds to store them (JetStream unreachable: they
	// are counted as dropped, and the sessions' last ticks stand).
	uctx, cancel := context.WithTimeout(ctx, usageFlush)
	h.usage.close(uctx)
	cancel()
	h.heartbeat() // state stopped: the matchmaker forgets this host now rather than after a TTL
	h.publishEvent(protocol.Event{Kind: "host_stopped"})
	if err := h.nc.Flush(); err != nil {
		h.log.Warn("nats flush on close", "err", err)
	}
	return h.media.Close()
}

func (h *Host) unsubscribe() {
	for _, sub := range h.subs {
		_ = sub.Unsubscribe()
	}
}

func (h *Host) heartbeatLoop() {
	t := time.NewTicker(h.cfg.HeartbeatInterval)
	defer t.Stop()
	var lastGPU time.Time
	for {
		select {
		case <-h.quit:
			return
		case <-t.C:
			load := cpuLoad()
			h.mu.Lock()
			h.sys.load = load
			h.mu.Unlock()
			if time.Since(lastGPU) >= 5*time.Second {
				lastGPU = time.Now()
				g := gpus(context.Background()) // bounded by its own 2 s timeout
				h.mu.Lock()
				h.sys.gpus = g
				h.mu.Unlock()
			}
			h.heartbeat()
		}
	}
}

// Heartbeat returns what the host would publish now.
func (h *Host) Heartbeat() protocol.Heartbeat {
	h.mu.Lock()
	hb := protocol.Heartbeat{
		Host: h.cfg.ID, Region: h.cfg.Region, State: h.state, Slots: h.cfg.Slots,
		Encoders: h.encoders, Version: h.cfg.Version, Time: time.Now().UTC(),
		CPULoad: h.sys.load, GPUs: h.sys.gpus,
	}
	for _, s := range h.sessions {
		if s.isReserved() {
			hb.Reserved++
		} else {
			hb.Used++
		}
		if s.studio != "" {
			if hb.Studios == nil {
				hb.Studios = map[string]int{}
			}
			hb.Studios[s.studio]++
		}
	}
	hb.Seq = h.seq.Add(1) // under mu: a later sequence number never describes an older state
	h.mu.Unlock()
	for g := range h.cfg.Games {
		hb.Games = append(hb.Games, g)
	}
	slices.Sort(hb.Games)
	if len(h.cfg.Titles) > 0 {
		hb.Titles = h.cfg.Titles // never written after the host started
	}
	return hb
}

func (h *Host) heartbeat() { h.publishHeartbeat(h.Heartbeat()) }

func (h *Host) publishHeartbeat(hb protocol.Heartbeat) {
	b, _ := json.Marshal(hb)
	if err := h.nc.Publish(protocol.SubjectHeartbeat(h.cfg.ID), b); err != nil {
		h.log.Warn("heartbeat publish failed", "err", err)
	}
}

func (h *Host) publishEvent(ev protocol.Event) {
	ev.Time = time.Now().UTC()
	ev.Host = h.cfg.ID
	ev.Region = h.cfg.Region
	b, _ := json.Marshal(ev)
	if err := h.nc.Publish(protocol.SubjectEvent(ev.Kind), b); err != nil {
		h.log.Warn("event publish failed", "kind", ev.Kind, "err", err)
	}
}

// sendToClient publishes a message for the player of session sid.
func (h *Host) sendToClient(sid string, m protocol.Message) {
	b, _ := json.Marshal(m)
	if err := h.nc.Publish(protocol.SubjectFromHost(h.cfg.ID, sid), b); err != nil {
		h.log.Warn("publish to client failed", "session", sid, "type", m.Type, "err", err)
	}
}

func respond(msg *nats.Msg, r protocol.Reply) {
	if msg.Reply == "" {
		return
	}
	b, _ := json.Marshal(r)
	_ = msg.Respond(b)
}

// handleReserve holds a slot for a new session (matchmaker → host, request-reply).
func (h *Host) handleReserve(msg *nats.Msg) {
	var req protocol.ReserveRequest
	if len(msg.Data) > maxNATSMessage || json.Unmarshal(msg.Data, &req) != nil ||
		!protocol.ValidName(req.Session) || !protocol.ValidName(req.Game) {
		respond(msg, protocol.FailReply(protocol.Errorf(protocol.CodeBadField, "malformed reserve request")))
		return
	}
	s, err := h.reserve(req)
	if err != nil {
		h.log.Info("reservation refused", "session", req.Session, "game", req.Game, "err", err)
		respond(msg, protocol.FailReply(err))
		return
	}
	s.log.Info("slot reserved", "game", req.Game, "hold", h.cfg.ReserveTimeout)
	// The reply carries the host's new state, so the matchmaker's view is exact at once
	// (a heartbeat can race the reply); the heartbeat tells every other replica.
	hb := h.Heartbeat()
	respond(msg, protocol.Reply{OK: true, Host: h.cfg.ID, Region: h.cfg.Region, Heartbeat: &hb})
	h.publishHeartbeat(hb)
}

func (h *Host) reserve(req protocol.ReserveRequest) (*Session, error) {
	factory, ok := h.cfg.Games[req.Game]
	if !ok {
		return nil, protocol.Errorf(protocol.CodeUnknownGame, "this host does not offer game %q", req.Game)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.state != protocol.HostReady:
		return nil, protocol.Errorf(protocol.CodeNoFreeHost, "host is %s", h.state)
	case h.sessions[req.Session] != nil:
		return nil, protocol.Errorf(protocol.CodeBadState, "session %s already exists", req.Session)
	case len(h.sessions) >= h.cfg.Slots:
		return nil, protocol.Errorf(protocol.CodeNoFreeHost, "all %d slots in use", h.cfg.Slots)
	}
	s := newSession(h, req.Session, req.Game, factory)
	if req.RTTMillis > 0 && req.RTTMillis < 10000 {
		s.rttMillis = req.RTTMillis
	}
	if len(req.Reason) <= 512 {
		s.reason = req.Reason
	}
	if protocol.ValidName(req.Studio) {
		s.studio = req.Studio
	}
	h.sessions[req.Session] = s
	metrics.SessionsActive.WithLabelValues(h.cfg.ID).Set(float64(len(h.sessions)))
	h.wg.Go(s.run)
	return s, nil
}

// remove forgets an ended session, freeing its slot.
func (h *Host) remove(s *Session) {
	h.mu.Lock()
	if h.sessions[s.id] == s {
		delete(h.sessions, s.id)
	}
	drained := h.state == protocol.HostDraining && len(h.sessions) == 0
	if drained {
		h.state = protocol.HostDrained
		h.log.Info("drained: no sessions left")
	}
	metrics.SessionsActive.WithLabelValues(h.cfg.ID).Set(float64(len(h.sessions)))
	h.mu.Unlock()
	if drained {
		h.publishEvent(protocol.Event{Kind: "host_drained"})
	}
}

// handleToHost routes signalling from the gateway to the session's loop.
func (h *Host) handleToHost(msg *nats.Msg) {
	sid := msg.Subject[strings.LastIndexByte(msg.Subject, '.')+1:]
	var m protocol.Message
	if len(msg.Data) > maxNATSMessage || json.Unmarshal(msg.Data, &m) != nil {
		respond(msg, protocol.FailReply(protocol.Errorf(protocol.CodeBadMessage, "malformed signalling message")))
		return
	}
	h.mu.Lock()
	s := h.sessions[sid]
	h.mu.Unlock()
	if s == nil {
		err := protocol.Errorf(protocol.CodeSessionNotFound, "session %s is not on this host", sid)
		if msg.Reply != "" {
			respond(msg, protocol.FailReply(err))
		} else if m.Type != protocol.TypeLeave {
			h.sendToClient(sid, protocol.ErrorMessage(err))
		}
		return
	}
	s.deliver(m, msg)
}

// SessionInfo describes a session for ops and tests.
type SessionInfo struct {
	ID, Game  string
	State     string
	Stats     Stats
	RTTMillis float64 // the player's RTT to this data center when placed; 0 = unknown
	Reason    string  // why the matchmaker placed it here
	Away      bool    // the player's connection dropped; the session waits for a resume
	Resumes   uint64  // times the player took the session back after a drop
	// Studio and Player: whose join token the session was started with; empty without one.
	Studio, Player string
}

// Sessions lists the host's sessions.
func (h *Host) Sessions() []SessionInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]SessionInfo, 0, len(h.sessions))
	for _, s := range h.sessions {
		out = append(out, SessionInfo{
			ID: s.id, Game: s.game, State: s.State(), Stats: s.Stats(), RTTMillis: s.rttMillis, Reason: s.reason,
			Away: s.isAway.Load(), Resumes: s.resumes.Load(),
		})
		if p := s.player.Load(); p != nil {
			out[len(out)-1].Studio, out[len(out)-1].Player = p.Studio, p.ID
		}
	}
	slices.SortFunc(out, func(a, b SessionInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// LatencySamples returns the host's recent server-side latencies (frame ready → last RTP
// packet of the frame handed to the socket), sorted.
func (h *Host) LatencySamples() []time.Duration { return h.latency.snapshot() }

// InputLatencySamples returns the recent input → frame latencies of all sessions, sorted:
// from an input's arrival to the first frame its game said reflects it (any game, no marker).
func (h *Host) InputLatencySamples() []time.Duration { return h.inputLatency.snapshot() }
