package e2e

import (
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/gameproc"
	"github.com/edgeplay/edgeplay/input"
	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/internal/testplayer"
	"github.com/edgeplay/edgeplay/protocol"
)

// buildTestGame builds gameproc's test game (gameproc/testdata/testgame) into a temporary
// directory and returns the binary's path.
func buildTestGame(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "testgame")
	out, err := exec.CommandContext(ctxFor(t, 2*time.Minute), "go", "build", "-o", bin,
		"github.com/edgeplay/edgeplay/gameproc/testdata/testgame").CombinedOutput()
	if err != nil {
		t.Fatalf("building the test game: %v\n%s", err, out)
	}
	return bin
}

// TestGameProcEndToEnd plays a game that runs as its own process (package gameproc) through the
// whole system: its frames reach the player; when it crashes, the player gets "ended" with
// reason game_crashed; and the host's only slot is free again for the next player.
func TestGameProcEndToEnd(t *testing.T) {
	bin := buildTestGame(t)
	a := startApp(t, appOpts{slots: 1, mutate: func(c *app.Config) {
		h := &c.Hosts[0]
		h.Width, h.Height, h.FPS = 640, 360, 30 // small and slow: the race detector slows the test game
		h.Games["testgame"] = gameproc.Factory(gameproc.Command{Path: bin, Logger: testLogger()})
		// 60 frames at 30 fps: it crashes (exit status 3) about 2 s after it started.
		h.Games["crashgame"] = gameproc.Factory(gameproc.Command{
			Path: bin, Env: []string{"TESTGAME_CRASH_AFTER=60"}, Logger: testLogger(),
		})
	}})
	if games := a.Matchmaker().Hosts()[0].Games; !slices.Contains(games, "testgame") || !slices.Contains(games, "crashgame") {
		t.Fatalf("the host advertises %v, want testgame and crashgame", games)
	}
	slotFree := func() bool {
		hs := a.Matchmaker().Hosts()
		return len(hs) == 1 && hs[0].Used == 0 && hs[0].Reserved == 0
	}

	play := func(game string) *testplayer.Player {
		t.Helper()
		p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{Game: game, Decode: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		if err := p.Play(ctxFor(t, 15*time.Second)); err != nil {
			t.Fatalf("play %s: %v", game, err)
		}
		return p
	}
	framesArrive := func(p *testplayer.Player) {
		t.Helper()
		waitFor(t, 10*time.Second, "decoded frames arrive", func() bool { return len(p.Frames()) >= 5 })
		for _, f := range p.Frames()[:5] {
			if f.Width != 640 || f.Height != 360 {
				t.Fatalf("frame %dx%d, want 640x360", f.Width, f.Height)
			}
		}
	}

	// 1. The test game plays; input reaches it and the host measures input → frame latency
	// from the input seq its frames carry (no marker); the player leaves.
	p := play("testgame")
	framesArrive(p)
	waitFor(t, 10*time.Second, "the host reports input → frame latency", func() bool {
		if _, err := p.SendInput(input.Event{Type: input.KeyDown, Code: 4}); err != nil {
			t.Fatal(err)
		}
		return p.Media().InputMs > 0
	})
	if ms := p.Media().InputMs; ms > 500 {
		t.Errorf("input → frame %v ms, want well under 500 (a 30 fps game)", ms)
	}
	if len(a.Hosts()[0].InputLatencySamples()) == 0 {
		t.Error("the host kept no input → frame samples")
	}
	if m, err := p.Leave(ctxFor(t, 10*time.Second)); err != nil || m.Reason != protocol.ReasonPlayerLeft {
		t.Fatalf("leave: %+v, %v; want ended player_left", m, err)
	}
	p.Close()
	waitFor(t, 10*time.Second, "the slot is free after the leave", slotFree)

	// 2. The game crashes: the player is told why.
	p = play("crashgame")
	ctx := ctxFor(t, 20*time.Second)
	for {
		m, err := p.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for ended: %v", err)
		}
		if m.Type != protocol.TypeEnded {
			continue
		}
		if m.Reason != protocol.ReasonGameCrashed || m.Message == "" {
			t.Fatalf("ended %+v, want reason game_crashed with a message", m)
		}
		break
	}
	p.Close()
	waitFor(t, 10*time.Second, "the slot is free after the crash", slotFree)

	// 3. The host serves the next player.
	framesArrive(play("testgame"))
}
