package e2e

import (
	"errors"
	"testing"
	"time"

	"github.com/pion/transport/v5/test"

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

func TestNoFreeHostAndUnknownGame(t *testing.T) {
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

	for _, tt := range []struct {
		name, game string
		want       protocol.Code
	}{
		{"full", "demo", protocol.CodeNoFreeHost},
		{"unknown game", "chess", protocol.CodeUnknownGame},
	} {
		p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{Game: tt.game})
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Join(ctxFor(t, 10*time.Second))
		if m := serverError(t, err); m.Code != tt.want || m.Message == "" {
			t.Errorf("%s: got %+v, want code %s with a message", tt.name, m, tt.want)
		}
		// The socket closes after these errors.
		if _, err := p.Next(ctxFor(t, 5*time.Second)); err == nil {
			t.Errorf("%s: socket still open", tt.name)
		}
		p.Close()
	}

	// Freeing the slot lets the next player in.
	if _, err := first.Leave(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	first.Close()
	waitFor(t, 5*time.Second, "the slot is free in the matchmaker's view", func() bool {
		hb := a.Matchmaker().Hosts()
		return len(hb) == 1 && hb[0].Used == 0 && hb[0].Reserved == 0
	})
	next, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if err := next.Play(ctxFor(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}
	next.Close()
	if err := a.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}

func TestReservationTimesOut(t *testing.T) {
	defer test.CheckRoutines(t)()
	a := startApp(t, appOpts{slots: 1, mutate: func(c *app.Config) { c.Hosts[0].ReserveTimeout = time.Second }})
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
	p.Close()
	if err := a.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
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
// slot (the reservation reply carries the host's new state), and the next one is refused.
func TestBackToBackJoinsFillTheHost(t *testing.T) {
	defer test.CheckRoutines(t)()
	a := startApp(t, appOpts{slots: 2, mutate: func(c *app.Config) { c.Hosts[0].HeartbeatInterval = time.Hour }})
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
		_, err = p.Join(ctxFor(t, 10*time.Second))
		if i < 2 && err != nil {
			t.Fatalf("join %d: %v", i+1, err)
		}
		if i == 2 {
			if m := serverError(t, err); m.Code != protocol.CodeNoFreeHost {
				t.Fatalf("third join: %+v, want no_free_host", m)
			}
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
