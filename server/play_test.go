package server

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"

	"github.com/edgeplay/edgeplay/protocol"
)

// The writer runs only while there is something to send, so pings come from a timer: a player
// that answers them stays, one that does not is dropped after 3 intervals.
func TestPingsKeepLivePlayersAndDropSilentOnes(t *testing.T) {
	const interval = 50 * time.Millisecond
	s, hs, _ := newTestServerConfig(t, Config{PingInterval: interval})
	u := "ws" + strings.TrimPrefix(hs.URL, "http") + "/v1/play"

	live, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	var pings atomic.Int64
	live.SetPingHandler(func(data string) error {
		pings.Add(1)
		return live.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	liveErr := make(chan error, 1)
	go func() {
		for {
			if _, _, err := live.ReadMessage(); err != nil {
				liveErr <- err
				return
			}
		}
	}()

	silent, _, err := websocket.DefaultDialer.Dial(u, nil) // never reads, so never answers a ping
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	conns := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.conns)
	}
	deadline := time.Now().Add(5 * time.Second)
	for conns() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := conns(); n != 1 {
		t.Fatalf("%d connections after 5 s, want 1: the silent player was not dropped", n)
	}
	time.Sleep(10 * interval)
	select {
	case err := <-liveErr:
		t.Fatalf("the live player was disconnected: %v", err)
	default:
	}
	if n := pings.Load(); n < 5 {
		t.Fatalf("the live player got %d pings in at least 13 intervals, want ≥ 5", n)
	}
	if n := conns(); n != 1 {
		t.Fatalf("%d connections, want the live one", n)
	}
	// The silent player's socket was closed by the gateway: after the welcome, reading fails.
	_ = silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := silent.ReadMessage(); err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				t.Fatal("the silent player's socket is still open")
			}
			break
		}
	}
}

// Around a matchmaker failover two leaders can place the same queued ticket. Once the session
// has started on one host, a "placed" for another host frees that reservation ("leave"); one
// for the session's own host changes nothing.
func TestSecondPlacementIsReleased(t *testing.T) {
	s, _, _ := newTestServer(t)
	c := bareConn(s, "sess1")
	if !c.claimStart("h1") || c.claimStart("h2") || c.hostID() != "h1" {
		t.Fatalf("claims: the first placement must win and record its host (host %q)", c.hostID())
	}
	leaves := make(chan *nats.Msg, 2)
	for _, h := range []string{"h1", "h2"} {
		sub, err := s.nc.ChanSubscribe(protocol.SubjectToHost(h, c.id), leaves)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
	}
	_ = s.nc.Flush()
	for _, h := range []string{"h1", "h2"} {
		b, _ := json.Marshal(protocol.Message{Type: protocol.TypePlaced, Session: c.id, Host: h, Region: "r1"})
		c.fromHost(&nats.Msg{Subject: protocol.SubjectToClient(c.id), Data: b})
	}
	select {
	case msg := <-leaves:
		var m protocol.Message
		if json.Unmarshal(msg.Data, &m) != nil || m.Type != protocol.TypeLeave || msg.Subject != protocol.SubjectToHost("h2", c.id) {
			t.Fatalf("got %s on %s, want leave for h2", msg.Data, msg.Subject)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second placement was not released")
	}
	select {
	case msg := <-leaves:
		t.Fatalf("unexpected %s on %s", msg.Data, msg.Subject)
	case <-time.After(200 * time.Millisecond):
	}
	if len(c.send) != 0 {
		t.Fatalf("%d messages for the player, want none", len(c.send))
	}
}

// After the gateway has sent its Close frame, a client that keeps sending instead of answering
// is cut off: its messages do not keep the connection open.
func TestClientIgnoringCloseIsCutOff(t *testing.T) {
	s, hs, _ := newTestServer(t)
	u := "ws" + strings.TrimPrefix(hs.URL, "http") + "/v1/play"
	ws, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var welcome protocol.Message
	if err := ws.ReadJSON(&welcome); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	var c *playConn
	for pc := range s.conns {
		c = pc
	}
	s.mu.Unlock()
	c.sendErr(protocol.Errorf(protocol.CodeShuttingDown, ""), websocket.CloseGoingAway)
	stop := make(chan struct{})
	go func() { // keep sending text, never read (so never answer the Close)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				if ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"nonsense"}`)) != nil {
					return
				}
			}
		}
	}()
	defer close(stop)
	deadline := time.Now().Add(3 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the connection is still open 3 s after the gateway closed it")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The matchmaker's subject carries only queued, placed and error; the host's subject carries
// no queue or placement news. Anything else is dropped, not forwarded to the player.
func TestMessagesFromTheWrongSenderAreDropped(t *testing.T) {
	s, _, _ := newTestServer(t)
	c := bareConn(s, "sess1")
	c.host = "h1"
	c.writing = true // no writer: the test reads the send queue itself
	deliver := func(subject string, m protocol.Message) {
		b, _ := json.Marshal(m)
		c.fromHost(&nats.Msg{Subject: subject, Data: b})
	}
	fromMM, fromHost := protocol.SubjectToClient(c.id), protocol.SubjectFromHost("h1", c.id)
	deliver(fromMM, protocol.Message{Type: protocol.TypeOffer, SDP: "v=0"})
	deliver(fromMM, protocol.Message{Type: protocol.TypeEnded, Reason: protocol.ReasonHostLost})
	deliver(fromHost, protocol.Message{Type: protocol.TypeQueued, Position: 1})
	deliver(fromHost, protocol.Message{Type: protocol.TypePlaced, Host: "h2"})
	deliver(protocol.SubjectFromHost("h2", c.id), protocol.Message{Type: protocol.TypeEnded, Reason: protocol.ReasonDrained})
	if n := len(c.send); n != 0 {
		t.Fatalf("%d forged messages forwarded to the player", n)
	}
	if len(c.placedCh) != 0 {
		t.Fatal("a placement from the host's subject was taken")
	}
	deliver(fromHost, protocol.Message{Type: protocol.TypeOffer, SDP: "v=0"})
	deliver(fromMM, protocol.Message{Type: protocol.TypeQueued, Position: 2})
	if n := len(c.send); n != 1 { // the queue update is not forwarded once a host has the session
		t.Fatalf("%d messages forwarded, want the host's offer", n)
	}
	if m := <-c.send; !strings.Contains(string(m.data), `"offer"`) {
		t.Fatalf("forwarded %s, want the offer", m.data)
	}
}

// bareConn is a player connection without a websocket, for feeding fromHost directly.
func bareConn(s *Server, id string) *playConn {
	return &playConn{
		s: s, id: id, log: s.log, send: make(chan outMsg, sendQueue),
		done: make(chan struct{}), writerDone: make(chan struct{}), placedCh: make(chan protocol.Reply, 1),
	}
}
