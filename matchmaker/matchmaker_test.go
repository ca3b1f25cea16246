package matchmaker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/edgeplay/edgeplay/internal/natsd"
	"github.com/edgeplay/edgeplay/probe"
	"github.com/edgeplay/edgeplay/protocol"
)

func startNATS(t *testing.T) (*natsd.Server, func(name string) *nats.Conn) {
	t.Helper()
	s, err := natsd.Start(natsd.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s, func(name string) *nats.Conn {
		nc, closeFn, err := natsd.Connect("", s, name, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(closeFn)
		return nc
	}
}

// fakeHost is a session host reduced to its slot accounting: it answers reservations and
// publishes heartbeats, and it is the authority on its slots, as a real host is.
type fakeHost struct {
	id, game string
	slots    int
	refuse   bool
	nc       *nats.Conn
	mu       sync.Mutex
	used     int
	maxUsed  int
	reserved int // reservations granted in all
	seq      uint64
	// leaveAfter, when set, frees each reserved slot again after that long (the player left)
	// and announces it with a heartbeat.
	leaveAfter time.Duration
	refused    int // reservations refused in all
	// onReserve, when set, is called as a reservation request arrives, before it is answered:
	// blocking in it makes a slow host.
	onReserve func(session string)
	// claim, when set, is the host its reservation replies name (a lying host).
	claim string
	// studios counts the reserved sessions by their studio (reported in heartbeats, and in
	// the reservation's reply as a real host does).
	studios map[string]int
}

func newFakeHost(t *testing.T, nc *nats.Conn, id string, slots int) *fakeHost {
	t.Helper()
	h := &fakeHost{id: id, game: "demo", slots: slots, nc: nc}
	sub, err := nc.Subscribe(protocol.SubjectReserve(id), func(m *nats.Msg) {
		h.mu.Lock()
		on := h.onReserve
		h.mu.Unlock()
		var rq protocol.ReserveRequest
		_ = json.Unmarshal(m.Data, &rq)
		if on != nil {
			on(rq.Session)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		r := protocol.Reply{OK: true, Host: id, Region: "r1"}
		if h.claim != "" {
			r.Host = h.claim
		}
		if h.refuse || h.used >= h.slots {
			h.refused++
			r = protocol.FailReply(protocol.Errorf(protocol.CodeNoFreeHost, "full"))
		} else {
			h.used++
			h.reserved++
			h.maxUsed = max(h.maxUsed, h.used)
			if rq.Studio != "" {
				if h.studios == nil {
					h.studios = map[string]int{}
				}
				h.studios[rq.Studio]++
				h.seq++
				hb := h.heartbeatLocked(protocol.HostReady)
				r.Heartbeat = &hb
			}
			if h.leaveAfter > 0 {
				time.AfterFunc(h.leaveAfter, func() {
					h.mu.Lock()
					h.used--
					h.mu.Unlock()
					h.beatNow()
				})
			}
		}
		b, _ := json.Marshal(r)
		_ = m.Respond(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *fakeHost) beat(t *testing.T, state string) {
	t.Helper()
	if err := h.publishBeat(state); err != nil {
		t.Fatal(err)
	}
}

func (h *fakeHost) beatNow() { _ = h.publishBeat(protocol.HostReady) }

func (h *fakeHost) heartbeatLocked(state string) protocol.Heartbeat {
	return protocol.Heartbeat{
		Host: h.id, Region: "r1", State: state, Slots: h.slots, Used: h.used,
		Games: []string{h.game}, Seq: h.seq, Studios: maps.Clone(h.studios),
	}
}

func (h *fakeHost) publishBeat(state string) error {
	h.mu.Lock()
	h.seq++
	hb := h.heartbeatLocked(state)
	h.mu.Unlock()
	b, _ := json.Marshal(hb)
	if err := h.nc.Publish(protocol.SubjectHeartbeat(h.id), b); err != nil {
		return err
	}
	return h.nc.Flush()
}

func waitHosts(t *testing.T, m *Matchmaker, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(m.Hosts()) != n {
		if time.Now().After(deadline) {
			t.Fatalf("matchmaker knows %d hosts, want %d", len(m.Hosts()), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitLeader waits until one of the replicas holds the lease.
func waitLeader(t *testing.T, mms ...*Matchmaker) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, m := range mms {
			if m.IsLeader() {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no matchmaker became leader")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func place(t *testing.T, nc *nats.Conn, session, game string) protocol.Reply {
	t.Helper()
	b, _ := json.Marshal(protocol.PlaceRequest{Session: session, Game: game})
	resp, err := nc.Request(protocol.SubjectPlace, b, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var r protocol.Reply
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPlacement(t *testing.T) {
	_, connect := startNATS(t)
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	m, err := New(Config{Now: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, connect("mm"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	waitLeader(t, m)
	hostConn, client := connect("hosts"), connect("gateway")
	a := newFakeHost(t, hostConn, "a", 1)
	b := newFakeHost(t, hostConn, "b", 1)
	a.beat(t, protocol.HostReady)
	b.beat(t, protocol.HostReady)
	waitHosts(t, m, 2)

	steps := []struct {
		name     string
		before   func()
		game     string
		wantHost string
		wantCode protocol.Code
	}{
		{"first free host by id", nil, "demo", "a", ""},
		{"a refuses (full), next is b", nil, "demo", "b", ""},
		{"everything full: queued (then cancelled)", nil, "demo", "", "queued"},
		{"unknown game", nil, "chess", "", protocol.CodeUnknownGame},
		{"a refuses though its heartbeat says free: move on", func() {
			a.mu.Lock()
			a.used, a.refuse = 0, true
			a.mu.Unlock()
			b.mu.Lock()
			b.used = 0
			b.mu.Unlock()
			a.beat(t, protocol.HostReady)
			b.beat(t, protocol.HostReady)
			time.Sleep(50 * time.Millisecond) // let the beats land
		}, "demo", "b", ""},
		{"draining host is skipped", func() {
			a.mu.Lock()
			a.refuse = false
			a.mu.Unlock()
			b.mu.Lock()
			b.used = 0
			b.mu.Unlock()
			a.beat(t, protocol.HostDraining)
			b.beat(t, protocol.HostReady)
			time.Sleep(50 * time.Millisecond)
		}, "demo", "b", ""},
		{"hosts past the TTL are forgotten", func() {
			now.Add(int64(10 * time.Second))
			waitHosts(t, m, 0) // the sweep runs every 250 ms
		}, "demo", "", protocol.CodeUnknownGame},
	}
	for i, st := range steps {
		if st.before != nil {
			st.before()
		}
		session := fmt.Sprintf("s%d", i)
		r := place(t, client, session, st.game)
		if st.wantCode == "queued" {
			if !r.OK || !r.Queued || r.Position != 1 || r.ETA <= 0 {
				t.Fatalf("%s: got %+v, want queued at position 1 with an ETA", st.name, r)
			}
			b, _ := json.Marshal(protocol.CancelRequest{Session: session})
			if err := client.Publish(protocol.SubjectCancel, b); err != nil {
				t.Fatal(err)
			}
			if err := client.Flush(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if st.wantCode != "" {
			if r.OK || r.Code != st.wantCode {
				t.Fatalf("%s: got %+v, want code %s", st.name, r, st.wantCode)
			}
			continue
		}
		if !r.OK || r.Host != st.wantHost {
			t.Fatalf("%s: got %+v, want host %s", st.name, r, st.wantHost)
		}
	}
}

func TestHeartbeatValidation(t *testing.T) {
	_, connect := startNATS(t)
	m, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, connect("mm"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	nc := connect("h")
	bad := []struct {
		name, subject string
		body          string
	}{
		{"not json", protocol.SubjectHeartbeat("x"), "garbage"},
		{"host differs from subject", protocol.SubjectHeartbeat("x"), `{"host":"y","region":"r1","state":"ready","slots":1}`},
		{"bad host id", "edgeplay.host.X.heartbeat", `{"host":"X","region":"r1","state":"ready","slots":1}`},
		{"no region", protocol.SubjectHeartbeat("x"), `{"host":"x","state":"ready","slots":1}`},
		{"negative slots", protocol.SubjectHeartbeat("x"), `{"host":"x","region":"r1","state":"ready","slots":-1}`},
		{"too many slots", protocol.SubjectHeartbeat("x"), `{"host":"x","region":"r1","state":"ready","slots":5000}`},
		{"a game twice", protocol.SubjectHeartbeat("x"), `{"host":"x","region":"r1","state":"ready","slots":1,"games":["demo","demo"]}`},
		{"bad game id", protocol.SubjectHeartbeat("x"), `{"host":"x","region":"r1","state":"ready","slots":1,"games":["de mo"]}`},
	}
	for _, tt := range bad {
		if err := nc.Publish(tt.subject, []byte(tt.body)); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
	}
	// A valid one after the bad ones: only it is registered.
	if err := nc.Publish(protocol.SubjectHeartbeat("ok"), []byte(`{"host":"ok","region":"r1","state":"ready","slots":1,"games":["demo"],"seq":1}`)); err != nil {
		t.Fatal(err)
	}
	waitHosts(t, m, 1)
	if h := m.Hosts(); h[0].Host != "ok" {
		t.Fatalf("registered %+v", h)
	}
	if n := m.badBeats.Load(); n != uint64(len(bad)) {
		t.Fatalf("%d heartbeats counted as bad, want %d", n, len(bad))
	}
	// A stopped heartbeat removes the host at once.
	if err := nc.Publish(protocol.SubjectHeartbeat("ok"), []byte(`{"host":"ok","region":"r1","state":"stopped","slots":1,"seq":2}`)); err != nil {
		t.Fatal(err)
	}
	waitHosts(t, m, 0)
}

// TestNoDoubleBooking runs three matchmaker replicas against 20 hosts × 4 slots that count
// their own slots, with 500 concurrent joins: no host is ever booked beyond its slots, every
// join is placed or queued, and the queue drains as players leave (each fake player leaves
// 50 ms after its slot was reserved).
func TestNoDoubleBooking(t *testing.T) {
	_, connect := startNATS(t)
	var mms []*Matchmaker
	for i := range 3 {
		m, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, connect(fmt.Sprintf("mm%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		mms = append(mms, m)
	}
	hostConn := connect("hosts")
	var hosts []*fakeHost
	for i := range 20 {
		h := newFakeHost(t, hostConn, fmt.Sprintf("h%02d", i), 4)
		h.leaveAfter = 50 * time.Millisecond
		h.beat(t, protocol.HostReady)
		hosts = append(hosts, h)
	}
	for _, m := range mms {
		waitHosts(t, m, 20)
	}
	waitLeader(t, mms...)

	client := connect("gateway")
	const joins = 500
	var placedLater atomic.Int32
	sub, err := client.Subscribe("edgeplay.client.*", func(msg *nats.Msg) {
		var m protocol.Message
		if json.Unmarshal(msg.Data, &m) == nil && m.Type == protocol.TypePlaced {
			placedLater.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	var placed, queued atomic.Int32
	var wg sync.WaitGroup
	for i := range joins {
		wg.Go(func() {
			b, _ := json.Marshal(protocol.PlaceRequest{Session: fmt.Sprintf("s%d", i), Game: "demo"})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			resp, err := client.RequestWithContext(ctx, protocol.SubjectPlace, b)
			if err != nil {
				t.Error(err)
				return
			}
			var r protocol.Reply
			_ = json.Unmarshal(resp.Data, &r)
			switch {
			case r.OK && r.Queued && r.Position > 0 && r.Position <= joins:
				queued.Add(1)
			case r.OK && !r.Queued:
				placed.Add(1)
			default:
				t.Errorf("unexpected reply %+v", r)
			}
		})
	}
	wg.Wait()
	if placed.Load()+queued.Load() != joins {
		t.Fatalf("placed %d + queued %d != %d joins", placed.Load(), queued.Load(), joins)
	}
	deadline := time.Now().Add(30 * time.Second)
	for placed.Load()+placedLater.Load() < joins {
		if time.Now().After(deadline) {
			t.Fatalf("queue did not drain: %d placed at once, %d from the queue, of %d", placed.Load(), placedLater.Load(), joins)
		}
		time.Sleep(20 * time.Millisecond)
	}
	total := 0
	for _, h := range hosts {
		h.mu.Lock()
		if h.maxUsed > h.slots {
			t.Errorf("host %s booked %d of %d slots", h.id, h.maxUsed, h.slots)
		}
		total += h.reserved
		h.mu.Unlock()
	}
	if total != joins {
		t.Fatalf("hosts granted %d reservations, want exactly %d (one per join)", total, joins)
	}
	t.Logf("%d joins: %d placed at once, %d queued and placed as players left", joins, placed.Load(), placedLater.Load())
}

// TestLeaderFailover: when the leader leaves, another replica takes the lease at once; when
// the leader dies (its connection drops, the lease is not given back), another takes over
// within the lease TTL. Placements work throughout.
func TestLeaderFailover(t *testing.T) {
	s, connect := startNATS(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	newReplica := func(name string) (*Matchmaker, *nats.Conn) {
		nc, _, err := natsd.Connect("", s, name, quiet)
		if err != nil {
			t.Fatal(err)
		}
		m, err := New(Config{ID: name, LeaseTTL: time.Second, Logger: quiet}, nc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close(); nc.Close() })
		return m, nc
	}
	a, aConn := newReplica("a")
	waitLeader(t, a)
	b, _ := newReplica("b")
	c, _ := newReplica("c")
	h := newFakeHost(t, connect("hosts"), "h1", 100)
	h.beat(t, protocol.HostReady)
	for _, m := range []*Matchmaker{a, b, c} {
		waitHosts(t, m, 1)
	}
	client := connect("gateway")

	if r := place(t, client, "s1", "demo"); !r.OK || r.Host != "h1" {
		t.Fatalf("placement with a as leader: %+v", r)
	}
	// Graceful: a closes and hands over.
	a.Close()
	aConn.Close()
	waitLeader(t, b, c)
	if r := place(t, client, "s2", "demo"); !r.OK || r.Host != "h1" {
		t.Fatalf("placement after a left: %+v", r)
	}
	// Crash: the new leader's connection drops without giving the lease back.
	leader, other := b, c
	if c.IsLeader() {
		leader, other = c, b
	}
	start := time.Now()
	leader.nc.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !other.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatal("no takeover after the leader crashed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("takeover %s after the leader's connection dropped (lease TTL 1 s)", time.Since(start).Round(time.Millisecond))
	if r := place(t, client, "s3", "demo"); !r.OK || r.Host != "h1" {
		t.Fatalf("placement after the crash: %+v", r)
	}
}

// TestResubmitAfterFailover: a queued ticket whose leader died is submitted again by its
// gateway with the same RTT tokens, after they have expired and with their nonces already
// used: the new leader accepts it and keeps its age.
func TestResubmitAfterFailover(t *testing.T) {
	s, connect := startNATS(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	key := []byte("0123456789abcdef0123456789abcdef")
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	newReplica := func(name string) *Matchmaker {
		nc, closeFn, err := natsd.Connect("", s, name, quiet)
		if err != nil {
			t.Fatal(err)
		}
		m, err := New(Config{ID: name, ProbeKey: key, Logger: quiet, Now: clock, LeaseTTL: time.Second}, nc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close(); closeFn() })
		return m
	}
	a := newReplica("a")
	waitLeader(t, a)
	h := newFakeHost(t, connect("hosts"), "h1", 0) // no slots: everything queues
	h.beat(t, protocol.HostReady)
	waitHosts(t, a, 1)
	client := connect("gateway")

	since := clock()
	tok := probe.Sign(key, probe.Sample{Region: "r1", Session: "s1", RTT: 5 * time.Millisecond, Expires: since.Add(30 * time.Second)})
	req := protocol.PlaceRequest{
		Session: "s1", Game: "demo", Since: since,
		RTTs: []protocol.RTTClaim{{Region: "r1", Token: tok}},
	}
	ask := func(req protocol.PlaceRequest) protocol.Reply {
		b, _ := json.Marshal(req)
		resp, err := client.Request(protocol.SubjectPlace, b, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var r protocol.Reply
		_ = json.Unmarshal(resp.Data, &r)
		return r
	}
	if r := ask(req); !r.Queued {
		t.Fatalf("first submission: %+v, want queued", r)
	}
	b := newReplica("b")
	waitHosts(t, b, 1)
	a.Close() // the leader goes; its queue with it
	waitLeader(t, b)
	now.Add(int64(time.Minute)) // the token has expired meanwhile
	h.beat(t, protocol.HostReady)
	if r := ask(req); r.Code != protocol.CodeBadRTT {
		t.Fatalf("a fresh join with the expired token: %+v, want bad_rtt", r)
	}
	req.Resubmit = true
	if r := ask(req); !r.Queued || r.Position != 1 {
		t.Fatalf("re-submission: %+v, want queued at position 1", r)
	}
}

// TestRestartedReplicaKnowsHostsAtOnce: a matchmaker that starts while hosts are between
// heartbeats knows them all immediately, from the hosts stream.
func TestRestartedReplicaKnowsHostsAtOnce(t *testing.T) {
	_, connect := startNATS(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	first, err := New(Config{Logger: quiet}, connect("mm1")) // creates the hosts stream
	if err != nil {
		t.Fatal(err)
	}
	hostConn := connect("hosts")
	for i := range 5 {
		newFakeHost(t, hostConn, fmt.Sprintf("h%d", i), 4).beat(t, protocol.HostReady)
	}
	waitHosts(t, first, 5)
	first.Close()

	// No heartbeat is sent from here on.
	restarted, err := New(Config{Logger: quiet}, connect("mm2"))
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.Close()
	if n := len(restarted.Hosts()); n != 5 {
		t.Fatalf("restarted replica knows %d hosts right after New, want 5", n)
	}
}

// A studio's quota: a ticket waits while its studio has its maximum of sessions (even with
// free slots), one past the studio's queued maximum is refused quota_exceeded, the studio's
// waiting ticket does not hold up others, and it is placed once one of the studio's
// sessions ends.
func TestStudioQuota(t *testing.T) {
	_, connect := startNATS(t)
	m, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, connect("mm"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	waitLeader(t, m)
	hostConn, client := connect("hosts"), connect("gateway")
	h := newFakeHost(t, hostConn, "a", 3)
	h.beat(t, protocol.HostReady)
	waitHosts(t, m, 1)
	placeStudio := func(session string) protocol.Reply {
		t.Helper()
		b, _ := json.Marshal(protocol.PlaceRequest{Session: session, Game: "demo", Studio: "acme", StudioMaxSessions: 1, StudioMaxQueued: 1})
		resp, err := client.Request(protocol.SubjectPlace, b, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var r protocol.Reply
		if err := json.Unmarshal(resp.Data, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := placeStudio("s1"); !r.OK || r.Host != "a" {
		t.Fatalf("the studio's first: %+v, want placed", r)
	}
	placed := make(chan protocol.Message, 1)
	sub, err := client.Subscribe(protocol.SubjectToClient("s2"), func(msg *nats.Msg) {
		var pm protocol.Message
		if json.Unmarshal(msg.Data, &pm) == nil && pm.Type == protocol.TypePlaced {
			placed <- pm
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if r := placeStudio("s2"); !r.OK || !r.Queued {
		t.Fatalf("the studio's second with a free slot: %+v, want queued (its quota is 1 session)", r)
	}
	if r := placeStudio("s3"); r.OK || r.Code != protocol.CodeQuotaExceeded {
		t.Fatalf("the studio's third: %+v, want quota_exceeded (1 queued at most)", r)
	}
	if r := place(t, client, "other", "demo"); !r.OK || r.Host != "a" {
		t.Fatalf("a player without a studio: %+v, want placed past the studio's waiting ticket", r)
	}
	// The studio's session ends: its waiting ticket is placed.
	h.mu.Lock()
	h.used--
	h.studios["acme"]--
	h.mu.Unlock()
	h.beatNow()
	select {
	case pm := <-placed:
		if pm.Host != "a" {
			t.Errorf("placed %+v", pm)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the studio's waiting ticket was not placed after its session ended")
	}
}

// A join that can never be placed (no host offers its game) is refused without a
// ticket_created event; a real one has its event.
func TestNoEventForUnplaceableJoin(t *testing.T) {
	_, connect := startNATS(t)
	m, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, connect("mm"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	waitLeader(t, m)
	hostConn, client := connect("hosts"), connect("gateway")
	h := newFakeHost(t, hostConn, "a", 1)
	h.beat(t, protocol.HostReady)
	waitHosts(t, m, 1)
	created := make(chan string, 4)
	sub, err := client.Subscribe(protocol.SubjectEvent("ticket_created"), func(msg *nats.Msg) {
		var ev protocol.Event
		_ = json.Unmarshal(msg.Data, &ev)
		created <- ev.Session
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := client.Flush(); err != nil {
		t.Fatal(err)
	}
	if r := place(t, client, "nogame", "chess"); r.OK || r.Code != protocol.CodeUnknownGame {
		t.Fatalf("unknown game: %+v", r)
	}
	if r := place(t, client, "real", "demo"); !r.OK {
		t.Fatalf("demo: %+v", r)
	}
	select {
	case s := <-created:
		if s != "real" {
			t.Fatalf("ticket_created for %q, want only the placeable join's", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no ticket_created for the placed join")
	}
	select {
	case s := <-created:
		t.Errorf("another ticket_created, for %q", s)
	case <-time.After(300 * time.Millisecond):
	}
}
