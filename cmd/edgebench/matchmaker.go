package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/game/demo"
	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/internal/natsd"
	"github.com/edgeplay/edgeplay/internal/testplayer"
	"github.com/edgeplay/edgeplay/matchmaker"
	"github.com/edgeplay/edgeplay/protocol"
	"github.com/edgeplay/edgeplay/session"
)

// The matchmaker's benchmarks (issue 3, "Benchmarks"): placement decisions in process and end to
// end through NATS, heartbeat ingest, and memory per registered host and per queued player.

func init() {
	commands = append(commands,
		command{name: "placement", summary: "matchmaker placement: in-process policy, and end to end through NATS", run: runPlacement},
		command{name: "heartbeats", summary: "heartbeats one matchmaker ingests per second", run: runHeartbeats},
		command{name: "memory", summary: "memory per registered host and per queued player (websocket included)", run: runMemory},
		command{name: "wsecho", summary: "helper for memory: a trivial websocket echo server, in its own process", run: runWSEcho},
	)
}

// Goals from issue 3, printed beside the results.
const (
	goalDecisionsPerSec  = 100000
	goalDecisionP99      = time.Millisecond
	goalPlacementsPerSec = 2000
	goalPlacementP99     = 20 * time.Millisecond
	goalQueuedBytes      = 20 << 10
	goalsLine            = "Goals (issue 3): ≥ 100,000 policy decisions/s with p99 ≤ 1 ms; ≥ 2,000 end-to-end placements/s " +
		"with p99 ≤ 20 ms; ≤ 20 KiB per queued player. For comparison, Agones publishes ~300–400 allocations/s " +
		"(its figure, not measured here)."
	benchGame = "demo"
	// claimsPerTicket is how many data centers each benchmark player reports an RTT for.
	claimsPerTicket = 3
	// placeTimeout bounds one placement request, as the gateway's default PlaceTimeout does.
	placeTimeout = 5 * time.Second
)

var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// ---- shared set-up ----

// benchNATS is an embedded NATS server (JetStream in a temporary directory, removed on close)
// with the connections opened to it. Connections go over loopback TCP, as roles on other
// machines would connect, not through the in-process pipe.
type benchNATS struct {
	srv     *natsd.Server
	closers []func()
}

func startBenchNATS() (*benchNATS, error) {
	s, err := natsd.Start(natsd.Config{})
	if err != nil {
		return nil, err
	}
	return &benchNATS{srv: s}, nil
}

func (b *benchNATS) connect(name string, opts ...nats.Option) (*nats.Conn, error) {
	// Not natsd.Connect: the matchmaker's connection needs an error handler (dropWatch).
	closed := make(chan struct{})
	opts = append([]nats.Option{nats.Name(name), nats.ClosedHandler(func(*nats.Conn) { close(closed) })}, opts...)
	nc, err := nats.Connect(b.srv.ClientURL(), opts...)
	if err != nil {
		return nil, fmt.Errorf("nats connect: %w", err)
	}
	b.closers = append(b.closers, func() {
		if err := nc.Drain(); err != nil {
			nc.Close()
		}
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			nc.Close()
		}
	})
	return nc, nil
}

// dropWatch counts the messages a connection's subscriptions dropped because they fell more
// than their pending limits behind (nats.go reports each such subscription to the connection's
// error handler).
type dropWatch struct {
	mu   sync.Mutex
	subs map[*nats.Subscription]struct{} // guarded by mu
}

func (d *dropWatch) handle(_ *nats.Conn, sub *nats.Subscription, err error) {
	if sub == nil || !errors.Is(err, nats.ErrSlowConsumer) {
		return
	}
	d.mu.Lock()
	if d.subs == nil {
		d.subs = map[*nats.Subscription]struct{}{}
	}
	d.subs[sub] = struct{}{}
	d.mu.Unlock()
}

func (d *dropWatch) dropped() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for sub := range d.subs {
		if k, err := sub.Dropped(); err == nil {
			n += k
		}
	}
	return n
}

// close drains the connections, newest first, then stops the server.
func (b *benchNATS) close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
	b.srv.Shutdown()
}

// startBenchMatchmaker creates the events stream (as app.Start does), starts one matchmaker
// replica and waits until it holds the leader lease.
func startBenchMatchmaker(ctx context.Context, b *benchNATS, cfg matchmaker.Config, drops *dropWatch) (*matchmaker.Matchmaker, error) {
	m, err := startBenchReplica(ctx, b, cfg, drops)
	if err != nil {
		return nil, err
	}
	if err := waitFor(ctx, "the matchmaker to become leader", m.IsLeader); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// startBenchReplica creates the events stream and starts one matchmaker replica.
func startBenchReplica(ctx context.Context, b *benchNATS, cfg matchmaker.Config, drops *dropWatch) (*matchmaker.Matchmaker, error) {
	nc, err := b.connect("edgebench-matchmaker", nats.ErrorHandler(drops.handle))
	if err != nil {
		return nil, err
	}
	if err := natsd.EnsureStreams(ctx, nc, 1); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = discardLogger
	}
	return matchmaker.New(cfg, nc) //nolint:contextcheck // the matchmaker outlives this call; Close stops it
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, what string, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// waitKnown waits until the matchmaker's registry holds n hosts.
func waitKnown(ctx context.Context, m *matchmaker.Matchmaker, n int) error {
	return waitFor(ctx, fmt.Sprintf("the matchmaker to know %d hosts", n), func() bool { return len(m.Hosts()) >= n })
}

// memSnap is the process's memory after a full garbage collection.
type memSnap struct {
	heap, stack int64
	goroutines  int
}

func measureMem() memSnap {
	runtime.GC()
	runtime.GC() // a second cycle frees what the first one's finalizers released
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSnap{heap: int64(ms.HeapAlloc), stack: int64(ms.StackInuse), goroutines: runtime.NumGoroutine()}
}

func (a memSnap) sub(b memSnap) memSnap {
	return memSnap{heap: a.heap - b.heap, stack: a.stack - b.stack, goroutines: a.goroutines - b.goroutines}
}

func kib(b float64) string { return fmt.Sprintf("%.2f KiB", b/1024) }

func ms3(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond)) }

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

// ---- the fake fleet ----

// benchHost is a session host reduced to what placement needs. Its used slots never change:
// every reservation it grants is freed again at once (the player "leaves" immediately), so
// capacity never runs out and the heartbeat it replies with stays exact.
type benchHost struct {
	id, region  string
	slots, used int
	mu          sync.Mutex
	seq         uint64 // guarded by mu
}

var (
	benchGames    = []string{benchGame}
	benchEncoders = []string{"libx264"}
)

// heartbeatLocked returns the host's next heartbeat, as session.Host.Heartbeat builds it.
func (h *benchHost) heartbeatLocked() protocol.Heartbeat {
	h.seq++
	return protocol.Heartbeat{
		Host: h.id, Region: h.region, State: protocol.HostReady, Slots: h.slots, Used: h.used,
		Games: benchGames, Encoders: benchEncoders, Version: "edgebench", CPULoad: 0.25,
		Seq: h.seq, Time: time.Now().UTC(),
	}
}

func (h *benchHost) heartbeat() protocol.Heartbeat {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.heartbeatLocked()
}

// benchFleet is n fake hosts spread evenly over the data centers.
type benchFleet struct {
	hosts   []*benchHost
	byID    map[string]*benchHost
	regions []string
	granted atomic.Int64 // reservations granted
}

func newBenchFleet(n, slots, regions int) *benchFleet {
	f := &benchFleet{byID: make(map[string]*benchHost, n)}
	for r := range regions {
		f.regions = append(f.regions, fmt.Sprintf("dc-%02d", r))
	}
	for i := range n {
		// Used slots vary from 0 to slots-1 inside every data center: every host has room, and
		// pack has partly used hosts to prefer.
		h := &benchHost{id: fmt.Sprintf("h%05d", i), region: f.regions[i%regions], slots: slots, used: (i / regions) % slots}
		f.hosts = append(f.hosts, h)
		f.byID[h.id] = h
	}
	return f
}

// views is the fleet as a registry snapshot shows it to the policy.
func (f *benchFleet) views() []matchmaker.HostView {
	out := make([]matchmaker.HostView, 0, len(f.hosts))
	for _, h := range f.hosts {
		out = append(out, matchmaker.HostView{
			ID: h.id, Region: h.region, State: protocol.HostReady,
			Slots: h.slots, Used: h.used, Games: benchGames,
		})
	}
	return out
}

// reserveAll matches every host's reservation subject (protocol.SubjectReserve).
const reserveAll = "edgeplay.host.*.reserve"

// reserveHostID returns the host id in a protocol.SubjectReserve subject.
func reserveHostID(subject string) (string, bool) {
	rest, ok := strings.CutPrefix(subject, "edgeplay.host.")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, ".reserve")
}

// serveReserve answers a reservation for any host of the fleet: it grants it, frees the slot
// again at once and replies with the host's heartbeat.
func (f *benchFleet) serveReserve(msg *nats.Msg) {
	var req protocol.ReserveRequest
	id, _ := reserveHostID(msg.Subject)
	h := f.byID[id]
	r := protocol.FailReply(protocol.Errorf(protocol.CodeBadField, "no such host"))
	if h != nil && json.Unmarshal(msg.Data, &req) == nil {
		h.mu.Lock()
		if h.used < h.slots {
			hb := h.heartbeatLocked() // reserved and freed again: the state is what it was
			r = protocol.Reply{OK: true, Host: h.id, Region: h.region, Heartbeat: &hb}
		} else {
			r = protocol.FailReply(protocol.Errorf(protocol.CodeNoFreeHost, "full"))
		}
		h.mu.Unlock()
	}
	b, _ := json.Marshal(r)
	if msg.Respond(b) == nil && r.OK {
		f.granted.Add(1)
	}
}

func publishBeat(nc *nats.Conn, h *benchHost) error {
	b, _ := json.Marshal(h.heartbeat())
	return nc.Publish(protocol.SubjectHeartbeat(h.id), b)
}

// register publishes one heartbeat per host, spread over conns, and flushes.
func (f *benchFleet) register(conns []*nats.Conn) error {
	for i, h := range f.hosts {
		if err := publishBeat(conns[i%len(conns)], h); err != nil {
			return err
		}
	}
	for _, nc := range conns {
		if err := nc.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// beatLoop publishes a heartbeat for every host of hosts once per interval, evenly spread
// over it in 10 ms steps, as a fleet of real hosts would, until ctx ends.
func beatLoop(ctx context.Context, nc *nats.Conn, hosts []*benchHost, interval time.Duration) {
	steps := max(1, int(interval/(10*time.Millisecond)))
	perStep := (len(hosts) + steps - 1) / steps
	t := time.NewTicker(interval / time.Duration(steps))
	defer t.Stop()
	next := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for range perStep {
			_ = publishBeat(nc, hosts[next])
			next = (next + 1) % len(hosts)
		}
	}
}

// randomClaims returns unsigned RTT claims for k distinct random data centers, 2–38 ms (inside
// the default 40 ms cap).
func randomClaims(rng *rand.Rand, regions []string, k int) []protocol.RTTClaim {
	k = min(k, len(regions))
	claims := make([]protocol.RTTClaim, 0, k)
	for len(claims) < k {
		r := regions[rng.IntN(len(regions))]
		if slices.ContainsFunc(claims, func(c protocol.RTTClaim) bool { return c.Region == r }) {
			continue
		}
		rtt := float64(int((2+rng.Float64()*36)*10)) / 10
		claims = append(claims, protocol.RTTClaim{Region: r, RTTMillis: rtt})
	}
	return claims
}

// ---- edgebench placement ----

type placementOpts struct {
	hosts, slots, regions, concurrency int
	duration, policyDuration, beat     time.Duration
}

type policyResult struct {
	decisions, empty int
	elapsed          time.Duration
	lat              []time.Duration // sorted
}

type e2eResult struct {
	hostConns, clientConns int
	requests, placed       int
	queued                 int
	errs                   map[string]int
	elapsed                time.Duration
	lat                    []time.Duration // placed requests, sorted
	granted                int64
	heartbeatsDuring       bool
	// The events stream: "placed" events stored, how long after the last reply the stream
	// held one for every placed reply, and events the matchmaker dropped.
	eventsPlaced   uint64
	eventsCaughtUp time.Duration
	eventsDropped  uint64
}

func runPlacement(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edgebench placement", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o placementOpts
	fs.IntVar(&o.hosts, "hosts", 10000, "fake session hosts")
	fs.IntVar(&o.slots, "slots", 8, "slots per host")
	fs.IntVar(&o.regions, "regions", 20, "data centers the hosts are spread over")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "end-to-end measurement time")
	fs.IntVar(&o.concurrency, "concurrency", 64, "clients sending placement requests back to back")
	fs.DurationVar(&o.policyDuration, "policy-duration", 2*time.Second, "in-process policy measurement time")
	fs.DurationVar(&o.beat, "beat", time.Second, "heartbeat interval of the fake hosts during the run; "+
		"0 sends only the registering heartbeat (the matchmaker's host TTL is then raised to an hour)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case o.hosts < 1 || o.slots < 2 || o.slots > 4096 || o.regions < 1 || o.regions > o.hosts:
		return errors.New("need -hosts ≥ 1, -slots 2–4096 and -regions 1–hosts")
	case o.concurrency < 1 || o.duration <= 0 || o.policyDuration <= 0 || o.beat < 0:
		return errors.New("-concurrency, -duration and -policy-duration must be positive, -beat ≥ 0")
	}
	loadBefore := loadAverage()
	f := newBenchFleet(o.hosts, o.slots, o.regions)
	fmt.Fprintf(stderr, "policy: %d hosts, %s on one goroutine…\n", o.hosts, o.policyDuration)
	pol := benchPolicy(f, o.policyDuration)
	fmt.Fprintf(stderr, "end to end: %d hosts, %d clients, %s…\n", o.hosts, o.concurrency, o.duration)
	e2e, err := benchPlacementE2E(ctx, f, o)
	if err != nil {
		return err
	}
	writePlacementReport(stdout, o, pol, e2e, loadBefore, loadAverage())
	return nil
}

// benchPolicy runs the default policy on one goroutine over a snapshot of the fleet.
func benchPolicy(f *benchFleet, dur time.Duration) policyResult {
	idx := matchmaker.NewIndex()
	for _, v := range f.views() {
		idx.Upsert(v)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	tickets := make([]matchmaker.Ticket, 1024)
	for i := range tickets {
		rtt := map[string]time.Duration{}
		for _, c := range randomClaims(rng, f.regions, claimsPerTicket) {
			rtt[c.Region] = time.Duration(c.RTTMillis * float64(time.Millisecond))
		}
		tickets[i] = matchmaker.Ticket{Session: protocol.NewSessionID(), Game: benchGame, RTT: rtt}
	}
	p := matchmaker.DefaultPolicy()
	res := policyResult{lat: make([]time.Duration, 0, 1<<16)}
	start := time.Now()
	for i := 0; ; i++ {
		t0 := time.Now()
		d := p.DecideIndexed(idx, tickets[i%len(tickets)])
		t1 := time.Now()
		res.lat = append(res.lat, t1.Sub(t0))
		if len(d.Candidates) == 0 {
			res.empty++
		}
		if t1.Sub(start) >= dur {
			break
		}
	}
	res.elapsed = time.Since(start)
	res.decisions = len(res.lat)
	slices.Sort(res.lat)
	return res
}

func benchPlacementE2E(ctx context.Context, f *benchFleet, o placementOpts) (*e2eResult, error) {
	nb, err := startBenchNATS()
	if err != nil {
		return nil, err
	}
	defer nb.close()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cfg := matchmaker.Config{AllowUnsignedRTT: true}
	if o.beat == 0 {
		cfg.HostTTL, cfg.SuspectAfter = time.Hour, time.Hour
	}
	m, err := startBenchMatchmaker(sctx, nb, cfg, &dropWatch{})
	if err != nil {
		return nil, err
	}
	defer m.Close()

	res := &e2eResult{
		errs: map[string]int{}, hostConns: (len(f.hosts) + 999) / 1000,
		clientConns: min(o.concurrency, 4), heartbeatsDuring: o.beat > 0,
	}
	hostConns := make([]*nats.Conn, res.hostConns)
	for i := range hostConns {
		if hostConns[i], err = nb.connect(fmt.Sprintf("edgebench-hosts-%d", i)); err != nil {
			return nil, err
		}
		// One wildcard subscription per connection in a queue group: any connection answers
		// for any host, routing by subject, instead of 10,000 subscriptions.
		if _, err := hostConns[i].QueueSubscribe(reserveAll, "edgebench-hosts", f.serveReserve); err != nil {
			return nil, err
		}
	}
	if err := f.register(hostConns); err != nil {
		return nil, err
	}
	if err := waitKnown(sctx, m, len(f.hosts)); err != nil {
		return nil, err
	}
	var beats sync.WaitGroup
	bctx, stopBeats := context.WithCancel(ctx)
	defer func() { stopBeats(); beats.Wait() }()
	if o.beat > 0 {
		for i, nc := range hostConns {
			var part []*benchHost
			for j := i; j < len(f.hosts); j += len(hostConns) {
				part = append(part, f.hosts[j])
			}
			beats.Go(func() { beatLoop(bctx, nc, part, o.beat) })
		}
	}
	clientConns := make([]*nats.Conn, res.clientConns)
	for i := range clientConns {
		if clientConns[i], err = nb.connect(fmt.Sprintf("edgebench-clients-%d", i)); err != nil {
			return nil, err
		}
	}

	type tally struct {
		placed, queued, requests int
		lat                      []time.Duration
		errs                     map[string]int
	}
	tallies := make([]tally, o.concurrency)
	var clients sync.WaitGroup
	start := time.Now()
	deadline := start.Add(o.duration)
	for i := range o.concurrency {
		nc := clientConns[i%len(clientConns)]
		t := &tallies[i]
		t.errs = map[string]int{}
		clients.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			for ctx.Err() == nil && time.Now().Before(deadline) {
				body, _ := json.Marshal(protocol.PlaceRequest{
					Session: protocol.NewSessionID(), Game: benchGame,
					RTTs: randomClaims(rng, f.regions, claimsPerTicket),
				})
				rctx, cancel := context.WithTimeout(ctx, placeTimeout)
				t0 := time.Now()
				msg, err := nc.RequestWithContext(rctx, protocol.SubjectPlace, body)
				d := time.Since(t0)
				cancel()
				t.requests++
				var r protocol.Reply
				switch {
				case errors.Is(err, context.DeadlineExceeded):
					t.errs["timeout"]++
				case err != nil:
					t.errs["nats: "+err.Error()]++
				case json.Unmarshal(msg.Data, &r) != nil:
					t.errs["malformed reply"]++
				case r.OK && r.Host != "":
					t.placed++
					t.lat = append(t.lat, d)
				case r.OK && r.Queued:
					t.queued++
				default:
					t.errs[string(r.Code)]++
				}
			}
		})
	}
	clients.Wait()
	res.elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, t := range tallies {
		res.requests += t.requests
		res.placed += t.placed
		res.queued += t.queued
		res.lat = append(res.lat, t.lat...)
		for k, v := range t.errs {
			res.errs[k] += v
		}
	}
	slices.Sort(res.lat)
	res.granted = f.granted.Load()
	if err := waitEvents(sctx, clientConns[0], res); err != nil {
		return nil, err
	}
	res.eventsDropped = m.EventsDropped()
	return res, nil
}

// waitEvents waits until the events stream holds a "placed" event for every placed reply (the
// matchmaker stores events asynchronously, after it answers).
func waitEvents(ctx context.Context, nc *nats.Conn, res *e2eResult) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	stream, err := js.Stream(ctx, protocol.StreamEvents)
	if err != nil {
		return fmt.Errorf("events stream: %w", err)
	}
	subject := protocol.SubjectEvent("placed")
	start := time.Now()
	for {
		info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subject))
		if err != nil {
			return fmt.Errorf("events stream: %w", err)
		}
		res.eventsPlaced = info.State.Subjects[subject]
		res.eventsCaughtUp = time.Since(start)
		if res.eventsPlaced >= uint64(res.placed) || time.Since(start) > 30*time.Second {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func writePlacementReport(w io.Writer, o placementOpts, pol policyResult, e *e2eResult, loadBefore, loadAfter string) {
	fmt.Fprintf(w, "## Placement: %d hosts × %d slots in %d data centers\n\n", o.hosts, o.slots, o.regions)
	fmt.Fprintf(w, "%s\n\nLoad average (1, 5, 15 min) before: %s; after: %s.\n\n%s\n\n", machineLine(), loadBefore, loadAfter, goalsLine)

	fmt.Fprintf(w, "### Policy, in process\n\n")
	fmt.Fprintf(w, "`matchmaker.DefaultPolicy().DecideIndexed` (what the matchmaker runs) called back to back on one goroutine for %s over a `matchmaker.Index` of %d "+
		"ready hosts offering %q (used slots 0–%d of %d, so every host has room); each ticket has RTTs to %d random data "+
		"centers (2–38 ms, inside the 40 ms cap).\n\n", o.policyDuration, o.hosts, benchGame, o.slots-1, o.slots, claimsPerTicket)
	pps := float64(pol.decisions) / pol.elapsed.Seconds()
	p99 := percentile(pol.lat, 99)
	fmt.Fprintf(w, "| hosts | decisions | decisions/s | p50 ms | p99 ms | max ms | no candidate | goal (≥ 100,000/s, p99 ≤ 1 ms) met |\n")
	fmt.Fprintf(w, "|---:|---:|---:|---:|---:|---:|---:|---|\n")
	fmt.Fprintf(w, "| %d | %d | %.0f | %s | %s | %s | %d | %s |\n\n", o.hosts, pol.decisions, pps,
		ms3(percentile(pol.lat, 50)), ms3(p99), ms3(pol.lat[len(pol.lat)-1]), pol.empty,
		yesNo(pps >= goalDecisionsPerSec && p99 <= goalDecisionP99))

	fmt.Fprintf(w, "### End to end through NATS (placement request → reply with a reserved slot)\n\n")
	fmt.Fprintf(w, "- Embedded NATS server with JetStream (temporary store); every connection goes over loopback TCP; "+
		"everything runs in this one process, so clients, fake hosts, matchmaker and NATS server share the %d cores.\n", runtime.NumCPU())
	fmt.Fprintf(w, "- One matchmaker replica (the leader), unsigned RTT claims allowed (`AllowUnsignedRTT`, no probe key), "+
		"logging at info into io.Discard; its events go to the EDGEPLAY_EVENTS stream (file storage), as in `edgeplay up`.\n")
	fmt.Fprintf(w, "- %d fake hosts on %d NATS connection(s) (one queue-group wildcard subscription `%s` each, routing by subject), "+
		"registered by one heartbeat each before the run. They grant every reservation and free the slot again at once, "+
		"so capacity never runs out; the reply carries the host's heartbeat, keeping the registry exact.\n", o.hosts, e.hostConns, reserveAll)
	if e.heartbeatsDuring {
		fmt.Fprintf(w, "- During the run every host also heartbeats every %s (the hosts' default), i.e. %.0f heartbeats/s "+
			"into the matchmaker and the EDGEPLAY_HOSTS stream.\n", o.beat, float64(o.hosts)/o.beat.Seconds())
	} else {
		fmt.Fprintf(w, "- No heartbeats during the run (`-beat 0`; host TTL raised to an hour).\n")
	}
	fmt.Fprintf(w, "- %d clients on %d NATS connection(s) send `PlaceRequest`s back to back (fresh session ids, game %q, "+
		"unsigned RTT claims for %d random data centers, 2–38 ms) for %s; each request waits for its reply (timeout %s). "+
		"The leader decides one ticket at a time and has up to 256 reservations in flight.\n\n",
		o.concurrency, e.clientConns, benchGame, claimsPerTicket, o.duration, placeTimeout)
	rate := float64(e.placed) / e.elapsed.Seconds()
	errs := 0
	for _, n := range e.errs {
		errs += n
	}
	fmt.Fprintf(w, "| hosts | clients | requests | placed | queued | errors | placements/s | p50 ms | p99 ms | max ms | goal (≥ 2,000/s, p99 ≤ 20 ms) met |\n")
	fmt.Fprintf(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	p50s, p99s, maxs := "–", "–", "–"
	met := false
	if len(e.lat) > 0 {
		p50s, p99s, maxs = ms(percentile(e.lat, 50)), ms(percentile(e.lat, 99)), ms(e.lat[len(e.lat)-1])
		met = rate >= goalPlacementsPerSec && percentile(e.lat, 99) <= goalPlacementP99
	}
	fmt.Fprintf(w, "| %d | %d | %d | %d | %d | %d | %.0f | %s | %s | %s | %s |\n\n", o.hosts, o.concurrency, e.requests,
		e.placed, e.queued, errs, rate, p50s, p99s, maxs, yesNo(met))
	fmt.Fprintf(w, "Elapsed %s (until the last request in flight at the end was answered). Reservations the fake hosts granted: %d "+
		"(placed replies: %d). The events stream held %d `placed` events %s after the last reply; the matchmaker dropped %d events.",
		e.elapsed.Round(time.Millisecond), e.granted, e.placed, e.eventsPlaced, e.eventsCaughtUp.Round(time.Millisecond), e.eventsDropped)
	if errs > 0 {
		keys := slices.Sorted(maps.Keys(e.errs))
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s: %d", k, e.errs[k]))
		}
		fmt.Fprintf(w, " Errors: %s.", strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "\n\n")
}

// ---- edgebench heartbeats ----

// heartbeatTemplate splits hb's JSON (with Seq 0) around the sequence number, so a publisher
// can build each heartbeat by appending the number instead of marshalling.
func heartbeatTemplate(hb protocol.Heartbeat) (prefix, suffix []byte, err error) {
	hb.Seq = 0
	b, err := json.Marshal(hb)
	if err != nil {
		return nil, nil, err
	}
	const field = `"seq":0`
	i := bytes.Index(b, []byte(field))
	if i < 0 || bytes.Count(b, []byte(field)) != 1 {
		return nil, nil, errors.New("heartbeat template: no single seq field")
	}
	return b[:i+len(field)-1], b[i+len(field):], nil
}

type heartbeatResult struct {
	publishers, window int
	heartbeatBytes     int
	registrationTime   time.Duration
	sent               int64
	sendTime           time.Duration // first publish → every publisher's flush answered
	dropped            int           // by the matchmaker's heartbeat subscription (pending limits)
	settled            time.Duration // first publish → the registry's last change
	caughtUp           bool          // every host's last sequence number is in the registry
	atFinal, behind    int
	streamLastSeq      uint64
	streamMsgs         uint64
	slowConsumers      int64
}

func runHeartbeats(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edgebench heartbeats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hosts := fs.Int("hosts", 10000, "hosts whose heartbeats are sent")
	dur := fs.Duration("duration", 5*time.Second, "how long the publishers send")
	pubs := fs.Int("publishers", 2, "publishing NATS connections")
	window := fs.Int("window", 50000, "heartbeats the publishers may be ahead of what the registry shows applied "+
		"(polled every 100 ms); 0 floods without looking")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *hosts < 1 || *dur <= 0 || *pubs < 1 || *window < 0 {
		return errors.New("-hosts, -duration and -publishers must be positive, -window ≥ 0")
	}
	loadBefore := loadAverage()
	res, err := benchHeartbeats(ctx, *hosts, *pubs, *window, *dur, stderr)
	if err != nil {
		return err
	}
	writeHeartbeatReport(stdout, *hosts, *dur, res, loadBefore, loadAverage())
	return nil
}

// registryProgress sums the sequence numbers in the registry and compares them with want.
func registryProgress(m *matchmaker.Matchmaker, want map[string]uint64) (seqSum uint64, atFinal, behind int) {
	for _, hb := range m.Hosts() {
		seqSum += hb.Seq
		if w, ok := want[hb.Host]; ok {
			if hb.Seq >= w {
				atFinal++
			} else {
				behind += int(w - hb.Seq)
			}
		}
	}
	return seqSum, atFinal, behind
}

func benchHeartbeats(ctx context.Context, n, pubs, window int, dur time.Duration, stderr io.Writer) (*heartbeatResult, error) {
	nb, err := startBenchNATS()
	if err != nil {
		return nil, err
	}
	defer nb.close()
	sctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	// A long TTL: the flood ends, and checking the registry must not race with hosts expiring.
	drops := &dropWatch{}
	m, err := startBenchMatchmaker(sctx, nb, matchmaker.Config{HostTTL: time.Minute, SuspectAfter: time.Minute}, drops)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	f := newBenchFleet(n, 8, 20)
	conns := make([]*nats.Conn, pubs)
	for i := range conns {
		if conns[i], err = nb.connect(fmt.Sprintf("edgebench-heartbeats-%d", i)); err != nil {
			return nil, err
		}
	}
	res := &heartbeatResult{publishers: pubs, window: window}
	t0 := time.Now()
	if err := f.register(conns); err != nil {
		return nil, err
	}
	if err := waitKnown(sctx, m, n); err != nil {
		return nil, err
	}
	res.registrationTime = time.Since(t0)

	type pubHost struct {
		id, subject    string
		prefix, suffix []byte
		seq            uint64 // the last sent; registration sent 1
	}
	parts := make([][]*pubHost, pubs)
	for i, h := range f.hosts {
		prefix, suffix, err := heartbeatTemplate(h.heartbeat())
		if err != nil {
			return nil, err
		}
		res.heartbeatBytes = len(prefix) + len(suffix) + 1
		parts[i%pubs] = append(parts[i%pubs], &pubHost{
			id: h.id, subject: protocol.SubjectHeartbeat(h.id),
			prefix: prefix, suffix: suffix, seq: 1,
		})
	}
	fmt.Fprintf(stderr, "heartbeats: %d hosts registered in %s; sending for %s from %d connections (window %d)…\n",
		n, res.registrationTime.Round(time.Millisecond), dur, pubs, window)

	// applied is what the registry showed applied at the last poll (flow control only).
	var sent, applied atomic.Int64
	var wg sync.WaitGroup
	mctx, stopMonitor := context.WithCancel(sctx)
	defer stopMonitor()
	if window > 0 {
		wg.Go(func() {
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-mctx.Done():
					return
				case <-t.C:
				}
				sum, _, _ := registryProgress(m, nil)
				applied.Store(int64(sum) - int64(n))
			}
		})
	}
	errs := make([]error, pubs)
	start := time.Now()
	deadline := start.Add(dur)
	var pubWG sync.WaitGroup
	for p := range pubs {
		pubWG.Go(func() {
			nc, hs := conns[p], parts[p]
			buf := make([]byte, 0, 512)
			const batch = 256
			for i := 0; ; i++ {
				if i%batch == 0 {
					if i > 0 {
						sent.Add(batch)
					}
					for window > 0 && sent.Load()-applied.Load() > int64(window) && time.Now().Before(deadline) && ctx.Err() == nil {
						time.Sleep(time.Millisecond)
					}
					if ctx.Err() != nil || !time.Now().Before(deadline) {
						break
					}
				}
				h := hs[i%len(hs)]
				h.seq++
				buf = append(buf[:0], h.prefix...)
				buf = strconv.AppendUint(buf, h.seq, 10)
				buf = append(buf, h.suffix...)
				if err := nc.Publish(h.subject, buf); err != nil {
					h.seq--
					sent.Add(int64(i % batch))
					errs[p] = err
					return
				}
			}
			errs[p] = nc.Flush()
		})
	}
	pubWG.Wait()
	res.sendTime = time.Since(start)
	stopMonitor()
	wg.Wait()
	res.sent = sent.Load()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("publishing: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	want := map[string]uint64{}
	for _, part := range parts {
		for _, h := range part {
			want[h.id] = h.seq
		}
	}
	// Poll until the registry holds every last sequence number, or has not changed for 2 s
	// (heartbeats were dropped, so some last ones never come).
	var lastSum uint64
	lastChange := time.Now()
	for {
		sum, at, behind := registryProgress(m, want)
		res.atFinal, res.behind = at, behind
		now := time.Now()
		if sum != lastSum {
			lastSum, lastChange = sum, now
		}
		if at == n {
			res.caughtUp, res.settled = true, now.Sub(start)
			break
		}
		if now.Sub(lastChange) > 2*time.Second || sctx.Err() != nil {
			res.settled = lastChange.Sub(start)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	res.dropped = drops.dropped()

	// Every heartbeat is also stored in the hosts stream (its last sequence counts them all);
	// JetStream stores them asynchronously, so wait until it stops moving.
	js, err := jetstream.New(conns[0])
	if err != nil {
		return nil, err
	}
	st, err := js.Stream(sctx, matchmaker.StreamHosts)
	if err != nil {
		return nil, err
	}
	wantStream := uint64(n) + uint64(res.sent)
	lastChange = time.Now()
	for {
		info, err := st.Info(sctx)
		if err != nil {
			return nil, err
		}
		if info.State.LastSeq != res.streamLastSeq {
			lastChange = time.Now()
		}
		res.streamLastSeq, res.streamMsgs = info.State.LastSeq, info.State.Msgs
		if res.streamLastSeq >= wantStream || time.Since(lastChange) > 2*time.Second {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	vz, err := nb.srv.Varz(&server.VarzOptions{})
	if err != nil {
		return nil, err
	}
	res.slowConsumers = vz.SlowConsumers
	return res, nil
}

func writeHeartbeatReport(w io.Writer, n int, dur time.Duration, r *heartbeatResult, loadBefore, loadAfter string) {
	fmt.Fprintf(w, "## Heartbeat ingest: %d hosts\n\n", n)
	fmt.Fprintf(w, "%s\n\nLoad average (1, 5, 15 min) before: %s; after: %s.\n\n", machineLine(), loadBefore, loadAfter)
	fmt.Fprintf(w, "- Embedded NATS server with JetStream; one matchmaker replica (leader); %d publisher connections; all over "+
		"loopback TCP in this one process (publishers, matchmaker and NATS server share the %d cores).\n", r.publishers, runtime.NumCPU())
	fmt.Fprintf(w, "- The %d hosts are registered with one heartbeat each first (%s until the matchmaker knew them all). "+
		"Then each publisher sends valid heartbeats (%d bytes of JSON, sequence numbers incrementing per host) for its share "+
		"of the hosts, round robin, as fast as it can for %s, and flushes.\n", n, r.registrationTime.Round(time.Millisecond),
		r.heartbeatBytes, dur)
	if r.window > 0 {
		fmt.Fprintf(w, "- Flow control: the publishers wait while they are more than %d heartbeats ahead of what the registry "+
			"shows applied (`Matchmaker.Hosts()` polled every 100 ms), so the backlog stays far below the NATS pending limits "+
			"and nothing is dropped: this measures the rate the matchmaker sustains.\n", r.window)
	} else {
		fmt.Fprintf(w, "- No flow control (`-window 0`): the publishers send as fast as NATS takes their messages, whatever the "+
			"matchmaker manages; what it cannot take is dropped by its subscription's pending limits (nats.go default 64 MB / "+
			"512k messages), counted through the connection's error handler.\n")
	}
	fmt.Fprintf(w, "- The matchmaker's applied rate cannot be read directly; it is measured end to end: after the publishers stop, "+
		"the registry is polled (every 10 ms) until every host shows the last sequence number sent to it, or until it stops "+
		"changing. Applied = sent − dropped (heartbeats of one host arrive in order, so every one not dropped is applied). "+
		"Every heartbeat also lands in the EDGEPLAY_HOSTS JetStream stream (memory storage, one per host kept): the NATS "+
		"server does that work as well, on the same cores.\n\n")
	fmt.Fprintf(w, "| hosts | flow control | sent | sending took | sent/s | dropped by the matchmaker | registry settled after | applied/s | hosts at their last seq | seqs behind |\n")
	fmt.Fprintf(w, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fc := "none"
	if r.window > 0 {
		fc = fmt.Sprintf("window %d", r.window)
	}
	fmt.Fprintf(w, "| %d | %s | %d | %s | %.0f | %d | %s | %.0f | %d of %d | %d |\n\n", n, fc, r.sent, r.sendTime.Round(time.Millisecond),
		float64(r.sent)/r.sendTime.Seconds(), r.dropped, r.settled.Round(time.Millisecond),
		float64(r.sent-int64(r.dropped))/r.settled.Seconds(), r.atFinal, n, r.behind)
	if r.caughtUp && r.dropped == 0 {
		fmt.Fprintf(w, "The matchmaker kept up: every heartbeat was applied and every host's last sequence number is in the registry, "+
			"%s after the publishers' flushes returned.", (r.settled - r.sendTime).Round(time.Millisecond))
	} else {
		fmt.Fprintf(w, "The matchmaker did not keep up: it dropped %d of %d heartbeats (%.1f%%); %d of %d hosts do not show their "+
			"last sequence number (%d sequence numbers behind in all); the registry stopped changing %s after the publishers' "+
			"flushes returned.", r.dropped, r.sent, 100*float64(r.dropped)/float64(max(r.sent, 1)), n-r.atFinal, n, r.behind,
			(r.settled - r.sendTime).Round(time.Millisecond))
	}
	fmt.Fprintf(w, " EDGEPLAY_HOSTS stream: last sequence %d for %d heartbeats published (%d registering + %d), %d messages "+
		"kept. NATS server slow-consumer disconnects: %d.\n\n", r.streamLastSeq, int64(n)+r.sent, n, r.sent,
		r.streamMsgs, r.slowConsumers)
}

// ---- edgebench memory ----

type hostMemResult struct {
	withMM, streamOnly memSnap
	heartbeatBytes     int
}

type queuedMemResult struct {
	system, clients memSnap // deltas for T players
	positions       [2]int  // first and last queue position seen
}

func runMemory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edgebench memory", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hosts := fs.Int("hosts", 10000, "hosts to register (per host entry)")
	tickets := fs.Int("tickets", 1000, "players to queue (per queued player)")
	heapProfile := fs.String("heapprofile", "", "write a heap profile to this file while the players are queued")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *hosts < 1 || *tickets < 1 {
		return errors.New("-hosts and -tickets must be positive")
	}
	loadBefore := loadAverage()
	fmt.Fprintf(stderr, "memory: %d hosts…\n", *hosts)
	hm, err := memoryPerHost(ctx, *hosts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "memory: %d queued players…\n", *tickets)
	qm, err := memoryPerQueued(ctx, *tickets, *heapProfile)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "memory: %d client websockets against an echo server in another process…\n", *tickets)
	if qm.clients, err = memoryClients(ctx, *tickets, stderr); err != nil {
		return err
	}
	writeMemoryReport(stdout, *hosts, *tickets, hm, qm, loadBefore, loadAverage())
	return nil
}

// memoryPerHost registers n hosts twice: once with a matchmaker (registry + the server's
// EDGEPLAY_HOSTS stream) and once into the stream alone; the difference is the registry's.
func memoryPerHost(ctx context.Context, n int) (*hostMemResult, error) {
	res := &hostMemResult{}
	for _, withMM := range []bool{false, true} {
		d, size, err := registerAndMeasure(ctx, n, withMM)
		if err != nil {
			return nil, err
		}
		res.heartbeatBytes = size
		if withMM {
			res.withMM = d
		} else {
			res.streamOnly = d
		}
	}
	return res, nil
}

func registerAndMeasure(ctx context.Context, n int, withMM bool) (memSnap, int, error) {
	nb, err := startBenchNATS()
	if err != nil {
		return memSnap{}, 0, err
	}
	defer nb.close()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	pub, err := nb.connect("edgebench-hosts")
	if err != nil {
		return memSnap{}, 0, err
	}
	js, err := jetstream.New(pub)
	if err != nil {
		return memSnap{}, 0, err
	}
	var m *matchmaker.Matchmaker
	if withMM {
		// The lease is held by someone else, so this replica is a follower: it keeps the
		// registry (every replica does) but publishes no host_registered events, whose
		// stream would otherwise be measured with it.
		kv, err := js.CreateOrUpdateKeyValue(sctx, jetstream.KeyValueConfig{
			Bucket: matchmaker.LeaseBucket, TTL: time.Hour, Storage: jetstream.MemoryStorage,
		})
		if err != nil {
			return memSnap{}, 0, err
		}
		if _, err := kv.Create(sctx, matchmaker.LeaseKey, []byte("edgebench")); err != nil {
			return memSnap{}, 0, err
		}
		cfg := matchmaker.Config{HostTTL: time.Hour, SuspectAfter: time.Hour, LeaseTTL: time.Hour}
		if m, err = startBenchReplica(sctx, nb, cfg, &dropWatch{}); err != nil {
			return memSnap{}, 0, err
		}
		defer m.Close()
		if m.IsLeader() {
			return memSnap{}, 0, errors.New("the measured matchmaker took the lease")
		}
	}
	if err := matchmaker.EnsureHostsStream(sctx, js, 1); err != nil {
		return memSnap{}, 0, err
	}
	st, err := js.Stream(sctx, matchmaker.StreamHosts)
	if err != nil {
		return memSnap{}, 0, err
	}
	f := newBenchFleet(n, 8, 20)
	before := measureMem()
	if err := f.register([]*nats.Conn{pub}); err != nil {
		return memSnap{}, 0, err
	}
	if m != nil {
		if err := waitKnown(sctx, m, n); err != nil {
			return memSnap{}, 0, err
		}
	}
	err = waitFor(sctx, "the hosts stream to hold every host", func() bool {
		info, err := st.Info(sctx)
		return err == nil && info.State.Msgs >= uint64(n)
	})
	if err != nil {
		return memSnap{}, 0, err
	}
	d := measureMem().sub(before)
	hb, _ := json.Marshal(f.hosts[0].heartbeat())
	return d, len(hb), nil
}

// memoryPerQueued runs the whole system in process with one host of one slot, fills the slot
// with one test player and queues t more players over plain websockets.
func memoryPerQueued(ctx context.Context, t int, heapProfile string) (*queuedMemResult, error) {
	a, err := app.Start(ctx, app.Config{
		GatewayAddr: "127.0.0.1:0", Matchmaker: true, Gateway: benchGateway, Logger: discardLogger,
		Hosts: []session.Config{{
			ID: "bench-host", Slots: 1, Games: map[string]game.Factory{benchGame: demo.Factory},
			Width: 320, Height: 240, FPS: 30, UDPAddr: "127.0.0.1:0", HeartbeatInterval: 200 * time.Millisecond,
			// The filler player never answers the offer: its reservation must outlast the run.
			ReserveTimeout: 10 * time.Minute,
		}},
	})
	if err != nil {
		return nil, err
	}
	defer closeApp(ctx, a)
	sctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := waitHostsKnown(sctx, a); err != nil {
		return nil, err
	}
	filler, err := testplayer.Dial(sctx, a.URL(), testplayer.Options{})
	if err != nil {
		return nil, err
	}
	defer filler.Close()
	if err := filler.SendJSON(protocol.Message{Type: protocol.TypeJoin, Game: benchGame}); err != nil {
		return nil, err
	}
	if _, err := filler.AwaitOffer(sctx); err != nil {
		return nil, fmt.Errorf("filler player: %w", err)
	}
	err = waitFor(sctx, "the host to be full", func() bool {
		hs := a.Matchmaker().Hosts()
		return len(hs) == 1 && hs[0].Used+hs[0].Reserved >= hs[0].Slots
	})
	if err != nil {
		return nil, err
	}

	res := &queuedMemResult{}
	before := measureMem()
	conns, positions, err := openClients(sctx, t, wsURL(a.URL())+"/v1/play", queueJoin)
	defer closeClients(conns)
	if err != nil {
		return nil, err
	}
	res.system = measureMem().sub(before)
	if heapProfile != "" {
		if err := writeHeapProfile(heapProfile); err != nil {
			return nil, err
		}
	}
	res.positions = [2]int{slices.Min(positions), slices.Max(positions)}
	return res, nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}

func wsURL(base string) string { return "ws" + strings.TrimPrefix(base, "http") }

// clientFlow is what one benchmark websocket does after dialling; it returns the queue
// position (0 when there is none).
type clientFlow func(ws *websocket.Conn) (int, error)

const joinJSON = `{"type":"join","game":"demo"}`

// queueJoin reads "welcome", joins, and reads until "queued".
func queueJoin(ws *websocket.Conn) (int, error) {
	if err := ws.WriteMessage(websocket.TextMessage, []byte(joinJSON)); err != nil {
		return 0, err
	}
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			return 0, err
		}
		var m protocol.Message
		if err := json.Unmarshal(b, &m); err != nil {
			return 0, err
		}
		switch m.Type {
		case protocol.TypeQueued:
			return m.Position, nil
		case protocol.TypeWelcome:
		default:
			return 0, fmt.Errorf("got %q while waiting to be queued: %s", m.Type, b)
		}
	}
}

// echoJoin sends the same join to the echo server and reads it back.
func echoJoin(ws *websocket.Conn) (int, error) {
	if err := ws.WriteMessage(websocket.TextMessage, []byte(joinJSON)); err != nil {
		return 0, err
	}
	_, b, err := ws.ReadMessage()
	if err == nil && string(b) != joinJSON {
		err = fmt.Errorf("echo server answered %q", b)
	}
	return 0, err
}

// openClients opens n gorilla websockets to url from 8 goroutines and runs flow on each. The
// connections are returned open; nothing reads them afterwards (no goroutine per client).
func openClients(ctx context.Context, n int, url string, flow clientFlow) ([]*websocket.Conn, []int, error) {
	conns := make([]*websocket.Conn, n)
	positions := make([]int, n)
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				ws, resp, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
				if resp != nil && resp.Body != nil {
					_ = resp.Body.Close()
				}
				if err != nil {
					errs[i] = fmt.Errorf("dial %s: %w", url, err)
					continue
				}
				conns[i] = ws
				_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
				positions[i], errs[i] = flow(ws)
				_ = ws.SetReadDeadline(time.Time{})
			}
		})
	}
	wg.Wait()
	conns = slices.DeleteFunc(conns, func(c *websocket.Conn) bool { return c == nil })
	if err := errors.Join(errs...); err != nil {
		return conns, nil, err
	}
	if err := ctx.Err(); err != nil {
		return conns, nil, err
	}
	return conns, positions, nil
}

func closeClients(conns []*websocket.Conn) {
	for _, c := range conns {
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
			time.Now().Add(time.Second))
		_ = c.Close()
	}
}

// memoryClients measures n client websockets alone: the echo server runs in a child process
// (edgebench wsecho), so nothing of the server side is in this process's heap.
func memoryClients(ctx context.Context, n int, stderr io.Writer) (memSnap, error) {
	exe, err := os.Executable()
	if err != nil {
		return memSnap{}, err
	}
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(sctx, exe, "wsecho")
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return memSnap{}, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return memSnap{}, err
	}
	if err := cmd.Start(); err != nil {
		return memSnap{}, fmt.Errorf("start echo server: %w", err)
	}
	defer func() {
		_ = stdin.Close() // the echo server exits when its stdin closes
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return memSnap{}, fmt.Errorf("echo server address: %w", err)
	}
	before := measureMem()
	conns, _, err := openClients(sctx, n, wsURL(strings.TrimSpace(line)), echoJoin)
	defer closeClients(conns)
	if err != nil {
		return memSnap{}, err
	}
	return measureMem().sub(before), nil
}

func writeMemoryReport(w io.Writer, hosts, tickets int, hm *hostMemResult, qm *queuedMemResult, loadBefore, loadAfter string) {
	fmt.Fprintf(w, "## Memory per registered host and per queued player\n\n")
	fmt.Fprintf(w, "%s\n\nLoad average (1, 5, 15 min) before: %s; after: %s.\n\n", machineLine(), loadBefore, loadAfter)
	fmt.Fprintf(w, "Heap is `runtime.MemStats.HeapAlloc` after two `runtime.GC()`, before and after; stacks are `StackInuse` "+
		"(goroutine stacks are not in the heap). Everything named runs in this one process.\n\n")

	fmt.Fprintf(w, "### Per host entry (%d hosts, one heartbeat each, %d bytes of JSON)\n\n", hosts, hm.heartbeatBytes)
	fmt.Fprintf(w, "The embedded NATS server keeps the last heartbeat of every host in the EDGEPLAY_HOSTS stream (memory storage), "+
		"and it runs in this process, so the same registration is measured twice: into the stream alone (no matchmaker) "+
		"and with a matchmaker; the difference is the matchmaker's registry and placement index. The measured matchmaker is a follower "+
		"(the leader lease is held by another id): every replica keeps the registry, but only the leader publishes "+
		"host_registered events, which would put the events stream in the measurement.\n\n")
	fmt.Fprintf(w, "| measured | heap Δ | per host |\n|---|---:|---:|\n")
	fmt.Fprintf(w, "| stream only (NATS server) | %s | %s |\n", kib(float64(hm.streamOnly.heap)), kib(float64(hm.streamOnly.heap)/float64(hosts)))
	fmt.Fprintf(w, "| matchmaker + stream | %s | %s |\n", kib(float64(hm.withMM.heap)), kib(float64(hm.withMM.heap)/float64(hosts)))
	reg := float64(hm.withMM.heap - hm.streamOnly.heap)
	fmt.Fprintf(w, "| **matchmaker registry (difference)** | %s | **%s** |\n\n", kib(reg), kib(reg/float64(hosts)))

	fmt.Fprintf(w, "### Per queued player, websocket included (%d players)\n\n", tickets)
	fmt.Fprintf(w, "The whole system runs in process (`app.Start`: embedded NATS, matchmaker, one host of 1 slot, gateway on "+
		"loopback). One test player holds the slot (joined, offer received, never answered; the host keeps the reservation). "+
		"Then %d gorilla websockets each send `%s` and wait for `queued` (positions %d–%d); they are not read afterwards. "+
		"The measurement holds the gateway's connections and goroutines, its NATS subscriptions (client and server side), the "+
		"matchmaker's tickets, and the %d client websockets, which live in this process too. The clients' share is measured "+
		"separately: the same %d websockets send the same join to a trivial echo server in another process (`edgebench wsecho`), "+
		"so that run holds the client side only; it is subtracted.\n\n",
		tickets, joinJSON, qm.positions[0], qm.positions[1], tickets, tickets)
	per := func(v int64) float64 { return float64(v) / float64(tickets) }
	sys, cli := qm.system, qm.clients
	srv := sys.sub(cli)
	fmt.Fprintf(w, "| measured | heap per player | stacks per player | heap + stacks per player | goroutines per player |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|\n")
	row := func(name string, s memSnap) {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %.2f |\n", name, kib(per(s.heap)), kib(per(s.stack)), kib(per(s.heap+s.stack)), per(int64(s.goroutines)))
	}
	row("system + clients (this process)", sys)
	row("clients alone (echo server elsewhere)", cli)
	row("**system per queued player (difference)**", srv)
	fmt.Fprintf(w, "\nGoal ≤ 20 KiB per queued player met: heap alone %s; heap + stacks %s.\n\n",
		yesNo(per(srv.heap) <= goalQueuedBytes), yesNo(per(srv.heap+srv.stack) <= goalQueuedBytes))
}

// ---- edgebench wsecho ----

// runWSEcho serves a websocket echo on a free loopback port, prints its URL on stdout, and
// exits when stdin closes (its parent, edgebench memory, is done) or on a signal.
func runWSEcho(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edgebench wsecho", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var (
		mu      sync.Mutex
		conns   = map[*websocket.Conn]struct{}{} // guarded by mu
		closing bool                             // guarded by mu
		wg      sync.WaitGroup
	)
	up := websocket.Upgrader{}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		mu.Lock()
		if closing {
			mu.Unlock()
			_ = ws.Close()
			return
		}
		conns[ws] = struct{}{}
		wg.Add(1)
		mu.Unlock()
		defer wg.Done()
		for {
			kind, b, err := ws.ReadMessage()
			if err != nil || ws.WriteMessage(kind, b) != nil {
				return
			}
		}
	})}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "http://%s\n", ln.Addr())
	// This goroutine may outlive the function when a signal ends it; the process exits then.
	stdinClosed := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stdinClosed) }()
	select {
	case <-ctx.Done():
	case <-stdinClosed:
	case err := <-serveErr:
		return err
	}
	_ = srv.Close()
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// http.Server.Close does not close hijacked connections: close the websockets ourselves.
	mu.Lock()
	closing = true
	for ws := range conns {
		_ = ws.Close()
	}
	mu.Unlock()
	wg.Wait()
	return nil
}
