package matchmaker

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/protocol"
)

func quietMatchmaker(t *testing.T, nc *nats.Conn) *Matchmaker {
	t.Helper()
	m, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, nc)
	if err != nil {
		t.Fatal(err)
	}
	waitLeader(t, m)
	return m
}

// The leader does not wait for one host's answer before deciding the next ticket, and a
// reservation in flight counts as taken: two players joining at once against two slow hosts
// of one slot each are reserved at the same time, one on each host, and no host has to refuse.
func TestReservationsInFlightAreCounted(t *testing.T) {
	_, connect := startNATS(t)
	m := quietMatchmaker(t, connect("mm"))
	defer m.Close()
	hostConn, client := connect("hosts"), connect("gateway")
	var now, most atomic.Int32
	slow := func(string) {
		n := now.Add(1)
		for {
			if o := most.Load(); n <= o || most.CompareAndSwap(o, n) {
				break
			}
		}
		time.Sleep(300 * time.Millisecond)
		now.Add(-1)
	}
	hosts := []*fakeHost{newFakeHost(t, hostConn, "a", 1), newFakeHost(t, hostConn, "b", 1)}
	for _, h := range hosts {
		h.onReserve = slow
		h.beat(t, protocol.HostReady)
	}
	waitHosts(t, m, 2)

	replies := make([]protocol.Reply, 2)
	var wg sync.WaitGroup
	for i, s := range []string{"s1", "s2"} {
		wg.Go(func() { replies[i] = place(t, client, s, "demo") })
	}
	wg.Wait()
	if !replies[0].OK || !replies[1].OK || replies[0].Host == "" || replies[0].Host == replies[1].Host {
		t.Fatalf("replies %+v, want both placed, on different hosts", replies)
	}
	if n := most.Load(); n != 2 {
		t.Errorf("at most %d reservation(s) were in flight at once, want 2", n)
	}
	for _, h := range hosts {
		h.mu.Lock()
		refused := h.refused
		h.mu.Unlock()
		if refused != 0 {
			t.Errorf("host %s refused %d reservation(s): a slot was counted twice", h.id, refused)
		}
	}
}

// A queued player who leaves while its reservation is in flight gets the slot freed at once
// (the host is told "leave") instead of holding it until the host's reservation timeout.
func TestCancelWhileReservingFreesTheSlot(t *testing.T) {
	_, connect := startNATS(t)
	m := quietMatchmaker(t, connect("mm"))
	defer m.Close()
	hostConn, client := connect("hosts"), connect("gateway")
	h := newFakeHost(t, hostConn, "a", 1)
	h.beat(t, protocol.HostReady)
	waitHosts(t, m, 1)
	if r := place(t, client, "first", "demo"); !r.OK || r.Host != "a" {
		t.Fatalf("first player: %+v", r)
	}
	h.beat(t, protocol.HostReady) // now full
	time.Sleep(50 * time.Millisecond)
	if r := place(t, client, "second", "demo"); !r.OK || !r.Queued {
		t.Fatalf("second player: %+v, want queued", r)
	}
	leave := make(chan *nats.Msg, 1)
	sub, err := hostConn.ChanSubscribe(protocol.SubjectToHost("a", "second"), leave)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	arrived := make(chan struct{})
	release := make(chan struct{})
	h.mu.Lock()
	h.onReserve = func(string) {
		close(arrived)
		<-release
	}
	h.used = 0 // the first player left
	h.mu.Unlock()
	h.beat(t, protocol.HostReady)

	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the queued ticket was not reserved after a slot freed")
	}
	b, _ := json.Marshal(protocol.CancelRequest{Session: "second"})
	if err := client.Publish(protocol.SubjectCancel, b); err != nil {
		t.Fatal(err)
	}
	_ = client.Flush()
	time.Sleep(100 * time.Millisecond) // the cancel reaches the leader first
	close(release)
	select {
	case msg := <-leave:
		var lm protocol.Message
		if err := json.Unmarshal(msg.Data, &lm); err != nil || lm.Type != protocol.TypeLeave {
			t.Fatalf("host got %s, want leave", msg.Data)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the host was not told to free the cancelled ticket's slot")
	}
}

// Closing answers the placements whose reservations are in flight.
func TestCloseAnswersReservationsInFlight(t *testing.T) {
	_, connect := startNATS(t)
	m := quietMatchmaker(t, connect("mm"))
	hostConn, client := connect("hosts"), connect("gateway")
	h := newFakeHost(t, hostConn, "a", 1)
	arrived := make(chan struct{})
	h.onReserve = func(string) {
		close(arrived)
		time.Sleep(300 * time.Millisecond)
	}
	h.beat(t, protocol.HostReady)
	waitHosts(t, m, 1)
	reply := make(chan protocol.Reply, 1)
	go func() {
		b, _ := json.Marshal(protocol.PlaceRequest{Session: "s1", Game: "demo"})
		var r protocol.Reply
		if resp, err := client.Request(protocol.SubjectPlace, b, 5*time.Second); err == nil {
			_ = json.Unmarshal(resp.Data, &r)
		}
		reply <- r
	}()
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("no reservation")
	}
	m.Close()
	if r := <-reply; !r.OK || r.Host != "a" {
		t.Fatalf("reply %+v, want placed on a", r)
	}
	// Its "placed" event was published after Close began, and is stored all the same.
	js, err := jetstream.New(client)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, protocol.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	subject := protocol.SubjectEvent("placed")
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	if n := info.State.Subjects[subject]; n != 1 {
		t.Fatalf("%d placed events in the stream, want 1", n)
	}
}

// A player who leaves while its first reservation is in flight (never queued) has the slot
// freed as soon as the host grants it.
func TestCancelDuringFirstReservationFreesTheSlot(t *testing.T) {
	_, connect := startNATS(t)
	m := quietMatchmaker(t, connect("mm"))
	defer m.Close()
	hostConn, client := connect("hosts"), connect("gateway")
	h := newFakeHost(t, hostConn, "a", 1)
	arrived, release := make(chan struct{}), make(chan struct{})
	h.onReserve = func(string) {
		close(arrived)
		<-release
	}
	h.beat(t, protocol.HostReady)
	waitHosts(t, m, 1)
	leave := make(chan *nats.Msg, 1)
	sub, err := hostConn.ChanSubscribe(protocol.SubjectToHost("a", "s1"), leave)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	b, _ := json.Marshal(protocol.PlaceRequest{Session: "s1", Game: "demo"})
	if err := client.PublishRequest(protocol.SubjectPlace, nats.NewInbox(), b); err != nil { // nobody waits for the answer
		t.Fatal(err)
	}
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("no reservation")
	}
	b, _ = json.Marshal(protocol.CancelRequest{Session: "s1"})
	if err := client.Publish(protocol.SubjectCancel, b); err != nil {
		t.Fatal(err)
	}
	_ = client.Flush()
	time.Sleep(100 * time.Millisecond)
	close(release)
	select {
	case <-leave:
	case <-time.After(5 * time.Second):
		t.Fatal("the host was not told to free the slot of the player who left")
	}
}

// The placement names the host that was asked, not whatever host its reply claims: a host
// cannot send a player to another host.
func TestPlacementNamesTheHostAsked(t *testing.T) {
	_, connect := startNATS(t)
	m := quietMatchmaker(t, connect("mm"))
	defer m.Close()
	h := newFakeHost(t, connect("hosts"), "a", 1)
	h.claim = "b"
	h.beat(t, protocol.HostReady)
	waitHosts(t, m, 1)
	if r := place(t, connect("gateway"), "s1", "demo"); !r.OK || r.Host != "a" || r.Region != "r1" {
		t.Fatalf("reply %+v, want placed on a in r1", r)
	}
}
