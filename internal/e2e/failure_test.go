package e2e

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/transport/v5/test"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/game/demo"
	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/internal/testplayer"
	"github.com/edgeplay/edgeplay/protocol"
)

func serverError(t *testing.T, err error) protocol.Message {
	t.Helper()
	var se *testplayer.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a server message", err)
	}
	return se.Msg
}

// TestQueueAndUnknownGame: with the only slot taken, the next player is queued and told its
// position; an unknown game is refused; when the slot frees, the queued player is placed and
// plays.
func TestQueueAndUnknownGame(t *testing.T) {
	defer test.CheckRoutines(t)()
	a := startApp(t, appOpts{slots: 1})
	defer func() { _ = a.Close(ctxFor(t, 10*time.Second)) }()

	first, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if err := first.Play(ctxFor(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}

	unknown, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{Game: "chess"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = unknown.Join(ctxFor(t, 10*time.Second))
	if m := serverError(t, err); m.Code != protocol.CodeUnknownGame || m.Message == "" {
		t.Errorf("unknown game: got %+v, want unknown_game with a message", m)
	}
	if _, err := unknown.Next(ctxFor(t, 5*time.Second)); err == nil {
		t.Error("socket still open after unknown_game")
	}
	unknown.Close()

	second, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := second.SendJSON(protocol.Message{Type: protocol.TypeJoin, Game: "demo"}); err != nil {
		t.Fatal(err)
	}
	// Queued, at position 1, and told again at least every 2 s.
	var updates int
	for updates < 2 {
		m, err := second.Next(ctxFor(t, 3*time.Second))
		if err != nil {
			t.Fatalf("waiting for queue updates: %v", err)
		}
		if m.Type != protocol.TypeQueued || m.Position != 1 || m.ETA <= 0 {
			t.Fatalf("got %+v, want queued at position 1 with an ETA", m)
		}
		updates++
	}

	// The slot frees: the queued player is placed and plays.
	if _, err := first.Leave(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	first.Close()
	offer, err := second.AwaitOffer(ctxFor(t, 10*time.Second))
	if err == nil {
		err = second.Accept(ctxFor(t, 15*time.Second), offer)
	}
	if err != nil {
		t.Fatal(err)
	}
	second.Close()
	if err := a.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// A player who is placed but never connects holds its slot only until the reservation times
// out, and meanwhile costs next to nothing: its game is never started.
func TestReservationTimesOut(t *testing.T) {
	defer test.CheckRoutines(t)()
	var runs atomic.Int32
	a := startApp(t, appOpts{slots: 1, mutate: func(c *app.Config) {
		c.Hosts[0].ReserveTimeout = time.Second
		c.Hosts[0].Games["demo"] = func(cfg game.Config) (game.Game, error) {
			g, err := demo.Factory(cfg)
			return countRuns{g, &runs}, err
		}
	}})
	defer func() { _ = a.Close(ctxFor(t, 10*time.Second)) }()

	p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Join(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	// Never answer: the host gives the slot back and tells the player.
	m, err := p.Next(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != protocol.TypeEnded || m.Reason != protocol.ReasonTimeout {
		t.Fatalf("got %+v, want ended/timeout", m)
	}
	waitFor(t, 5*time.Second, "the slot is free", func() bool { return len(a.Hosts()[0].Sessions()) == 0 })
	if n := runs.Load(); n != 0 {
		t.Errorf("the game ran %d times for a player who never connected; want 0", n)
	}
	p.Close()

	// A player who connects gets the game running.
	q, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Play(ctxFor(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "frames", func() bool { return q.Received() > 5 })
	if n := runs.Load(); n != 1 {
		t.Errorf("the game ran %d times for one connected player; want 1", n)
	}
	q.Close()
	if err := a.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// countRuns counts its game's Run calls.
type countRuns struct {
	game.Game
	runs *atomic.Int32
}

func (c countRuns) Run(ctx context.Context, sink func(*game.Frame)) error {
	c.runs.Add(1)
	return c.Game.Run(ctx, sink)
}

func TestShutdownTellsPlayers(t *testing.T) {
	defer test.CheckRoutines(t)()
	a := startApp(t, appOpts{})
	p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Play(ctxFor(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := a.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	t.Logf("shutdown with one playing session took %s", time.Since(start).Round(time.Millisecond))
	// The player hears why before the socket closes.
	var got []protocol.Message
	ctx := ctxFor(t, 5*time.Second)
	for {
		m, err := p.Next(ctx)
		if err != nil {
			break
		}
		got = append(got, m)
	}
	for _, m := range got {
		if m.Type == protocol.TypeEnded && m.Reason == protocol.ReasonShutdown ||
			m.Type == protocol.TypeError && m.Code == protocol.CodeShuttingDown {
			p.Close()
			return
		}
	}
	t.Fatalf("player got %+v, want ended/shutdown or error/shutting_down", got)
}

// TestBackToBackJoinsFillTheHost: joins faster than the heartbeat interval still see every
// slot (the reservation reply carries the host's new state), and the next one is queued.
func TestBackToBackJoinsFillTheHost(t *testing.T) {
	defer test.CheckRoutines(t)()
	a := startApp(t, appOpts{slots: 2, mutate: func(c *app.Config) { c.Hosts[0].HeartbeatInterval = time.Second }})
	defer func() { _ = a.Close(ctxFor(t, 10*time.Second)) }()
	var players []*testplayer.Player
	defer func() {
		for _, p := range players {
			p.Close()
		}
	}()
	for i := range 3 {
		p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{})
		if err != nil {
			t.Fatal(err)
		}
		players = append(players, p)
		if i < 2 {
			if _, err := p.Join(ctxFor(t, 10*time.Second)); err != nil {
				t.Fatalf("join %d: %v", i+1, err)
			}
			continue
		}
		if err := p.SendJSON(protocol.Message{Type: protocol.TypeJoin, Game: "demo"}); err != nil {
			t.Fatal(err)
		}
		if m, err := p.Next(ctxFor(t, 5*time.Second)); err != nil || m.Type != protocol.TypeQueued {
			t.Fatalf("third join: %+v %v, want queued", m, err)
		}
	}
	for _, p := range players {
		p.Close()
	}
	players = nil
	if err := a.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}
