package server

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
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
