// Package matchmaker places new sessions on session hosts.
//
// Every replica keeps a registry of the hosts from their NATS heartbeats (a restarted replica
// reloads the last heartbeat of every host from the EDGEPLAY_HOSTS stream at once). One replica
// at a time is the leader (a NATS KV lease): only it answers placement requests, keeps the
// queue and publishes host events, so the queue is first-come-first-served and nothing is
// decided twice. A host is only ever booked by asking it to reserve a slot (request-reply): the
// host is the authority on its own slots, so even two leaders during a failover cannot
// double-book it.
//
// Where to place is decided by Policy (policy.go), a pure function of a registry snapshot and
// the ticket: nearest data center within the ticket's RTT cap, then pack or spread inside it.
package matchmaker

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/internal/metrics"
	"github.com/edgeplay/edgeplay/internal/natsd"
	"github.com/edgeplay/edgeplay/probe"
	"github.com/edgeplay/edgeplay/protocol"
)

// Config configures a matchmaker. Zero values take the defaults.
type Config struct {
	ID             string        // replica id, for the leader lease and logs; default random
	HostTTL        time.Duration // forget a host (host_lost) after this long without a heartbeat; default 3 s
	SuspectAfter   time.Duration // place nothing on a host silent this long; default 2 s (2 missed beats)
	Policy         Policy        // default DefaultPolicy()
	ReserveTimeout time.Duration // per reservation request; default 2 s
	LeaseTTL       time.Duration // leader lease; a dead leader is replaced within this; default 3 s
	QueueRefresh   time.Duration // how often queued players hear their position; default 1 s
	MaxQueue       int           // tickets per game beyond which joins get no_free_host; default 10,000
	// Replicas of the JetStream state the matchmaker creates (events stream, hosts stream,
	// lease bucket): 1 on a single server (default), 3 on a cluster.
	Replicas int

	// ProbeKey verifies the signed RTT samples players bring (probe.Sign). Without a key, or
	// with AllowUnsignedRTT, unsigned rtt_ms claims are accepted too: a development mode.
	ProbeKey         []byte
	AllowUnsignedRTT bool

	Logger *slog.Logger
	Now    func() time.Time // injectable clock; default time.Now
}

func (c *Config) setDefaults() {
	if c.ID == "" {
		c.ID = "mm-" + protocol.NewSessionID()[:8]
	}
	if c.HostTTL == 0 {
		c.HostTTL = 3 * time.Second
	}
	if c.SuspectAfter == 0 {
		c.SuspectAfter = 2 * time.Second
	}
	if c.Policy.Caps == nil {
		c.Policy = DefaultPolicy()
	}
	if c.ReserveTimeout == 0 {
		c.ReserveTimeout = 2 * time.Second
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 3 * time.Second
	}
	if c.QueueRefresh == 0 {
		c.QueueRefresh = time.Second
	}
	if c.MaxQueue == 0 {
		c.MaxQueue = 10000
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Matchmaker is one replica.
type Matchmaker struct {
	cfg    Config
	nc     *nats.Conn
	js     jetstream.JetStream
	ejs    jetstream.JetStream // for the events' asynchronous publishes (events.go)
	log    *slog.Logger
	replay *probe.ReplayGuard

	mu    sync.Mutex
	hosts map[string]*hostEntry // guarded by mu
	index *Index                // guarded by mu; the same hosts, arranged for placement
	// pending counts, per host, the reservations in flight; the index counts them as reserved.
	pending map[string]int // guarded by mu
	// studios is the sum of the registry's heartbeats' sessions per studio.
	studios map[string]int // guarded by mu
	subs    []*nats.Subscription

	leader   atomic.Bool
	badBeats atomic.Uint64
	// Owned by run.
	lq       *leaderState
	inflight int // reservations in flight (reserveNext); their answers arrive on results
	// inflightStudio counts those reservations by the ticket's studio. Run goroutine only.
	inflightStudio map[string]int
	closing        bool // no more reservations start
	results        chan reserveResult
	reserveWG      sync.WaitGroup

	events        chan pendingEvent
	eventsDone    chan struct{}
	eventsDropped atomic.Uint64

	placeCh  chan *nats.Msg
	cancelCh chan string
	quit     chan struct{}
	done     chan struct{}
	once     sync.Once
}

type hostEntry struct {
	hb   protocol.Heartbeat
	seen time.Time
}

// New joins the matchmaker replicas: it loads the registry, subscribes to heartbeats and
// starts competing for the leader lease. Close leaves.
func New(cfg Config, nc *nats.Conn) (*Matchmaker, error) {
	cfg.setDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	ejs, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(eventAckTimeout),
		jetstream.WithPublishAsyncMaxPending(2*eventWindow))
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	m := &Matchmaker{
		cfg: cfg, nc: nc, js: js, ejs: ejs, log: cfg.Logger.With("role", "matchmaker", "replica", cfg.ID),
		replay:  &probe.ReplayGuard{},
		hosts:   map[string]*hostEntry{},
		pending: map[string]int{}, inflightStudio: map[string]int{}, studios: map[string]int{},
		results:    make(chan reserveResult, maxInflight),
		index:      NewIndex(),
		placeCh:    make(chan *nats.Msg, 4096),
		events:     make(chan pendingEvent, eventQueue),
		eventsDone: make(chan struct{}),
		cancelCh:   make(chan string, 4096),
		quit:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := nc.Subscribe(protocol.SubjectHeartbeatAll, m.handleHeartbeat)
	if err != nil {
		return nil, fmt.Errorf("subscribe heartbeats: %w", err)
	}
	m.subs = append(m.subs, sub)
	// Any replica answers registry queries (ops), not just the leader.
	sub, err = nc.QueueSubscribe(protocol.SubjectHosts, protocol.QueueMatchmaker+"-hosts", m.handleHosts)
	if err != nil {
		m.unsubscribe()
		return nil, fmt.Errorf("subscribe hosts: %w", err)
	}
	m.subs = append(m.subs, sub)
	if err := m.loadRegistry(ctx); err != nil {
		m.unsubscribe()
		return nil, err
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: LeaseBucket, TTL: cfg.LeaseTTL, Storage: jetstream.MemoryStorage, Replicas: max(cfg.Replicas, 1),
		Description: "edgeplay matchmaker leader lease",
	})
	if err != nil {
		m.unsubscribe()
		return nil, fmt.Errorf("lease bucket: %w", err)
	}
	if err := nc.Flush(); err != nil {
		m.unsubscribe()
		return nil, fmt.Errorf("nats flush: %w", err)
	}
	go m.run(kv)
	go m.eventLoop()
	return m, nil
}

// loadRegistry reads the last heartbeat of every host from the hosts stream, so a replica that
// starts (or restarts) knows every live host at once rather than after a heartbeat interval.
func (m *Matchmaker) loadRegistry(ctx context.Context) error {
	if err := EnsureHostsStream(ctx, m.js, m.cfg.Replicas); err != nil {
		return err
	}
	if err := natsd.EnsureStreams(ctx, m.nc, m.cfg.Replicas); err != nil {
		return err
	}
	cons, err := m.js.OrderedConsumer(ctx, StreamHosts, jetstream.OrderedConsumerConfig{
		// One filter subject: servers before 2.10 need it for last-per-subject delivery and do
		// not know the plural form nats.go sends for several (or none).
		FilterSubjects: []string{protocol.SubjectHeartbeatAll},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return fmt.Errorf("hosts stream consumer: %w", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("hosts stream consumer: %w", err)
	}
	left := info.NumPending
	for left > 0 {
		batch, err := cons.Fetch(int(min(left, 1000)), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return fmt.Errorf("hosts stream fetch: %w", err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			if hb, ok := parseHeartbeat(msg.Subject(), msg.Data()); ok {
				if md, err := msg.Metadata(); err == nil && m.cfg.Now().Sub(md.Timestamp) < m.cfg.HostTTL {
					m.applyAt(hb, md.Timestamp)
				}
			}
		}
		if n == 0 {
			break
		}
		left -= uint64(n)
	}
	return nil
}

// StreamHosts keeps the last heartbeat of every host (a last-value cache for restarts).
const StreamHosts = "EDGEPLAY_HOSTS"

// EnsureHostsStream creates the hosts stream if needed.
func EnsureHostsStream(ctx context.Context, js jetstream.JetStream, replicas int) error {
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              StreamHosts,
		Description:       "last heartbeat of every edgeplay session host",
		Subjects:          []string{protocol.SubjectHeartbeatAll},
		Storage:           jetstream.MemoryStorage,
		MaxMsgsPerSubject: 1,
		MaxAge:            time.Minute,
		Discard:           jetstream.DiscardOld,
		Replicas:          max(replicas, 1),
	})
	if err != nil {
		return fmt.Errorf("create stream %s: %w", StreamHosts, err)
	}
	return nil
}

// Close leaves: it gives up the lease (so another replica takes over at once) and stops.
func (m *Matchmaker) Close() {
	m.once.Do(func() { close(m.quit) })
	<-m.done
	<-m.eventsDone
	m.unsubscribe()
}

func (m *Matchmaker) unsubscribe() {
	m.mu.Lock()
	subs := m.subs
	m.subs = nil
	m.mu.Unlock()
	for _, s := range subs {
		_ = s.Unsubscribe()
	}
}

// IsLeader reports whether this replica holds the lease now.
func (m *Matchmaker) IsLeader() bool { return m.leader.Load() }

func parseHeartbeat(subject string, data []byte) (protocol.Heartbeat, bool) {
	var hb protocol.Heartbeat
	if len(data) > 64<<10 || json.Unmarshal(data, &hb) != nil || !protocol.ValidName(hb.Host) ||
		!protocol.ValidName(hb.Region) || protocol.SubjectHeartbeat(hb.Host) != subject ||
		hb.Slots < 0 || hb.Slots > 4096 || hb.Used < 0 || hb.Reserved < 0 || len(hb.Games) > 256 {
		return hb, false
	}
	for i, g := range hb.Games { // game ids, each once (the index counts a host once per game)
		if !protocol.ValidName(g) || slices.Contains(hb.Games[:i], g) {
			return hb, false
		}
	}
	for g, title := range hb.Titles { // a title for a game the host offers, fit for players
		if !slices.Contains(hb.Games, g) || !protocol.ValidTitle(title) {
			return hb, false
		}
	}
	if len(hb.Studios) > hb.Slots {
		return hb, false
	}
	for st, n := range hb.Studios { // sessions per studio: no more than the host has
		if !protocol.ValidName(st) || n < 0 || n > hb.Slots {
			return hb, false
		}
	}
	return hb, true
}

func (m *Matchmaker) handleHeartbeat(msg *nats.Msg) {
	hb, ok := parseHeartbeat(msg.Subject, msg.Data)
	if !ok {
		metrics.Rejected.WithLabelValues("heartbeat").Inc()
		if n := m.badBeats.Add(1); n == 1 || n%1000 == 0 {
			m.log.Warn("malformed heartbeat ignored", "subject", msg.Subject, "count", n)
		}
		return
	}
	m.apply(hb)
}

// apply updates the registry with a host's state, from a heartbeat or a reservation reply.
func (m *Matchmaker) apply(hb protocol.Heartbeat) { m.applyAt(hb, m.cfg.Now()) }

func (m *Matchmaker) applyAt(hb protocol.Heartbeat, seen time.Time) {
	m.mu.Lock()
	if hb.State == protocol.HostStopped {
		old, known := m.hosts[hb.Host]
		if known {
			m.countStudiosLocked(old.hb, -1)
		}
		delete(m.hosts, hb.Host)
		m.index.Remove(hb.Host)
		m.mu.Unlock()
		if known {
			m.log.Info("host stopped", "host", hb.Host)
		}
		return
	}
	e := m.hosts[hb.Host]
	isNew := e == nil
	if isNew {
		e = &hostEntry{}
		m.hosts[hb.Host] = e
	} else if hb.Seq <= e.hb.Seq && hb.Seq != 1 {
		m.mu.Unlock()
		return // out of order; a restarted host starts again at 1
	}
	if !isNew {
		m.countStudiosLocked(e.hb, -1)
	}
	m.countStudiosLocked(hb, 1)
	e.hb, e.seen = hb, seen
	m.index.Upsert(m.viewLocked(e))
	m.mu.Unlock()
	if isNew {
		m.log.Info("host registered", "host", hb.Host, "region", hb.Region, "slots", hb.Slots)
		if m.leader.Load() {
			m.publishEvent(protocol.Event{Kind: "host_registered", Host: hb.Host, Region: hb.Region})
		}
	}
}

// sweep forgets hosts past their TTL; the leader announces them as lost, which ends their
// sessions (gateways tell the players).
func (m *Matchmaker) sweep() {
	now := m.cfg.Now()
	var lost []protocol.Heartbeat
	m.mu.Lock()
	for id, e := range m.hosts {
		age := now.Sub(e.seen)
		if age > m.cfg.HostTTL {
			m.countStudiosLocked(e.hb, -1)
			delete(m.hosts, id)
			m.index.Remove(id)
			metrics.HeartbeatAge.DeleteLabelValues(id)
			lost = append(lost, e.hb)
			continue
		}
		m.index.SetSuspect(id, age > m.cfg.SuspectAfter)
		metrics.HeartbeatAge.WithLabelValues(id).Set(age.Seconds())
	}
	m.mu.Unlock()
	for _, hb := range lost {
		m.log.Warn("host lost: no heartbeat", "host", hb.Host, "ttl", m.cfg.HostTTL)
		if m.leader.Load() {
			m.publishEvent(protocol.Event{
				Kind: protocol.EventHostLost, Host: hb.Host, Region: hb.Region,
				Reason: protocol.ReasonHostLost, Detail: fmt.Sprintf("no heartbeat for %s", m.cfg.HostTTL),
			})
		}
	}
}

// decide runs the placement policy over the registry's index.
func (m *Matchmaker) decide(t Ticket) Decision {
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.cfg.Policy.DecideIndexed(m.index, t)
	// The sweep marks silent hosts suspect every 250 ms; drop a candidate that went silent
	// since.
	kept := d.Candidates[:0]
	for _, c := range d.Candidates {
		if e := m.hosts[c.Host]; e != nil && now.Sub(e.seen) <= m.cfg.SuspectAfter {
			kept = append(kept, c)
		}
	}
	d.Candidates = kept
	if len(kept) == 0 && d.Code == "" {
		d.Code = protocol.CodeNoFreeHost
		d.Reason = "no free host: every host that offers the game is full, draining or not answering"
	}
	return d
}

// viewLocked is what the index knows of a host: its last heartbeat, with the reservations in
// flight to it counted as reserved. m.mu held.
func (m *Matchmaker) viewLocked(e *hostEntry) HostView {
	hb := e.hb
	return HostView{
		ID: hb.Host, Region: hb.Region, State: hb.State, Suspect: m.cfg.Now().Sub(e.seen) > m.cfg.SuspectAfter,
		Slots: hb.Slots, Used: hb.Used, Reserved: hb.Reserved + m.pending[hb.Host], Games: hb.Games,
	}
}

// addPending counts a reservation to host as started (+1) or answered (-1).
func (m *Matchmaker) addPending(host string, delta int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := m.pending[host] + delta; n > 0 {
		m.pending[host] = n
	} else {
		delete(m.pending, host)
	}
	if e := m.hosts[host]; e != nil {
		m.index.Upsert(m.viewLocked(e))
	}
}

// studioSessions counts a studio's sessions: those its hosts last reported, and the
// reservations for it in flight. Run goroutine only.
func (m *Matchmaker) studioSessions(studio string) int {
	m.mu.Lock()
	n := m.studios[studio]
	m.mu.Unlock()
	return n + m.inflightStudio[studio]
}

// countStudiosLocked adds (sign 1) or takes away (-1) a heartbeat's sessions per studio in
// the totals. m.mu held.
func (m *Matchmaker) countStudiosLocked(hb protocol.Heartbeat, sign int) {
	for st, n := range hb.Studios {
		if m.studios[st] += sign * n; m.studios[st] <= 0 {
			delete(m.studios, st)
		}
	}
}

// Statuses returns the registry for operators: every host with its health, by id.
func (m *Matchmaker) Statuses() []protocol.HostStatus {
	now := m.cfg.Now()
	m.mu.Lock()
	out := make([]protocol.HostStatus, 0, len(m.hosts))
	for _, e := range m.hosts {
		age := now.Sub(e.seen)
		health := "ready"
		if age > m.cfg.SuspectAfter {
			health = "suspect"
		}
		out = append(out, protocol.HostStatus{Heartbeat: e.hb, Health: health, AgeMillis: age.Milliseconds()})
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b protocol.HostStatus) int { return cmp.Compare(a.Host, b.Host) })
	return out
}

func (m *Matchmaker) handleHosts(msg *nats.Msg) {
	b, _ := json.Marshal(m.Statuses())
	if err := msg.Respond(b); err != nil {
		m.log.Debug("hosts reply failed", "err", err)
	}
}

// Hosts returns the heartbeats of the hosts this replica knows, by id.
func (m *Matchmaker) Hosts() []protocol.Heartbeat {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]protocol.Heartbeat, 0, len(m.hosts))
	for _, e := range m.hosts {
		out = append(out, e.hb)
	}
	slices.SortFunc(out, func(a, b protocol.Heartbeat) int { return cmp.Compare(a.Host, b.Host) })
	return out
}

// reserve asks host to hold a slot for the ticket, waiting at most ReserveTimeout (and not
// past deadline).
func (m *Matchmaker) reserve(host string, t *ticket, c Candidate, deadline time.Time) (protocol.Reply, error) {
	body, _ := json.Marshal(protocol.ReserveRequest{
		Session: t.req.Session, Game: t.req.Game,
		RTTMillis: float64(c.RTT) / float64(time.Millisecond), Reason: c.Reason, Studio: t.req.Studio,
	})
	if d := time.Now().Add(m.cfg.ReserveTimeout); d.Before(deadline) {
		deadline = d
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	resp, err := m.nc.RequestWithContext(ctx, protocol.SubjectReserve(host), body)
	if err != nil {
		return protocol.Reply{}, err
	}
	var r protocol.Reply
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return protocol.Reply{}, fmt.Errorf("malformed reservation reply: %w", err)
	}
	if !r.OK {
		return r, r.Err()
	}
	return r, nil
}
