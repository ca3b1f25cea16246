package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/game/demo"
	"github.com/edgeplay/edgeplay/input"
	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/internal/testplayer"
	"github.com/edgeplay/edgeplay/protocol"
)

// buggyGame is the demo with a bug: its Input panics on a key press (an in-process game's
// code runs on the host's goroutines), or its Run panics at once.
type buggyGame struct {
	game.Game
	runPanics bool
}

func (g buggyGame) Input(ev input.Event) {
	if ev.Type == input.KeyDown {
		panic("the game's input handler has a bug")
	}
	g.Game.Input(ev)
}

func (g buggyGame) Run(ctx context.Context, sink func(*game.Frame)) error {
	if g.runPanics {
		panic("the game's main loop has a bug")
	}
	return g.Game.Run(ctx, sink)
}

// A panic in one session's code (a game's input handler, a game's loop) ends that session
// with reason "error" and tells its player; the host's other sessions play on and its slot
// serves the next player.
func TestPanicEndsOnlyItsSession(t *testing.T) {
	a := startApp(t, appOpts{slots: 2, mutate: func(c *app.Config) {
		h := &c.Hosts[0]
		h.Games["buggy"] = func(cfg game.Config) (game.Game, error) {
			g, err := demo.Factory(cfg)
			return buggyGame{Game: g}, err
		}
		h.Games["crashy"] = func(cfg game.Config) (game.Game, error) {
			g, err := demo.Factory(cfg)
			return buggyGame{Game: g, runPanics: true}, err
		}
	}})
	play := func(gameID string) *testplayer.Player {
		t.Helper()
		p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{Game: gameID})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		if err := p.Play(ctxFor(t, 15*time.Second)); err != nil {
			t.Fatal(err)
		}
		return p
	}
	healthy := play("demo")
	buggy := play("buggy")
	if _, err := buggy.SendInput(input.Event{Type: input.KeyDown, Code: 4}); err != nil {
		t.Fatal(err)
	}
	if m := awaitEnded(t, buggy); m.Reason != protocol.ReasonError {
		t.Errorf("the buggy game's player got %+v, want ended error", m)
	}
	before := healthy.Received()
	waitFor(t, 5*time.Second, "the other session keeps streaming", func() bool { return healthy.Received() > before+30 })
	// The freed slot takes a game whose loop panics: that session ends too, the host stays.
	crashy, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{Game: "crashy"})
	if err != nil {
		t.Fatal(err)
	}
	defer crashy.Close()
	offer, err := crashy.Join(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := crashy.Answer(offer); err != nil {
		t.Fatal(err)
	}
	if m := awaitEnded(t, crashy); m.Reason != protocol.ReasonError {
		t.Errorf("the crashing game's player got %+v, want ended error", m)
	}
	waitFor(t, 5*time.Second, "the slots free", func() bool { return len(a.Hosts()[0].Sessions()) == 1 })
	again := play("demo")
	waitFor(t, 5*time.Second, "a new session plays", func() bool { return again.Received() > 10 })
}

// awaitEnded reads p's messages until "ended".
func awaitEnded(t *testing.T, p *testplayer.Player) protocol.Message {
	t.Helper()
	ctx := ctxFor(t, 10*time.Second)
	for {
		m, err := p.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for ended: %v", err)
		}
		if m.Type == protocol.TypeEnded {
			return m
		}
	}
}
