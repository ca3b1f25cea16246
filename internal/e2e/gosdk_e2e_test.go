package e2e

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/gameproc"
	"github.com/edgeplay/edgeplay/input"
	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/internal/testplayer"
	"github.com/edgeplay/edgeplay/protocol"
)

// buildGo builds the Go command pkg into a temporary directory and returns the binary's path.
func buildGo(t *testing.T, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	out, err := exec.CommandContext(ctxFor(t, 3*time.Minute), "go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// TestGoSDKEndToEnd plays the Go SDK's games as processes of their own through the whole
// system: the example game (examples/go/snake, the raw gamesdk loop) and `edgeplay demo-game`
// (the built-in demo through gamesdk.Serve). Each one's frames reach the player decoded at
// the host's size; a key press comes back in the picture, as the latency marker both games
// draw, and in the host's input → frame latency; the game's sound arrives as Opus; the leave
// ends the session and frees the host's only slot for the next game. Then each game ends the
// session itself with its result: the snake when the player quits, the demo at a drain.
func TestGoSDKEndToEnd(t *testing.T) {
	snake := buildGo(t, "github.com/edgeplay/edgeplay/examples/go/snake")
	edgeplay := buildGo(t, "github.com/edgeplay/edgeplay/cmd/edgeplay")
	a := startApp(t, appOpts{slots: 1, mutate: func(c *app.Config) {
		h := &c.Hosts[0]
		// The test player reads the marker in 1280x720 frames; 30 fps keeps the demo's copy
		// into the slot and the decoding light.
		h.Width, h.Height, h.FPS = 1280, 720, 30
		h.Games["snake"] = gameproc.Factory(gameproc.Command{Path: snake, Logger: testLogger()})
		h.Games["demo2"] = gameproc.Factory(gameproc.Command{
			Path: edgeplay, Args: []string{"demo-game"}, Logger: testLogger(),
		})
	}})
	slotFree := func() bool {
		hs := a.Matchmaker().Hosts()
		return len(hs) == 1 && hs[0].Used == 0 && hs[0].Reserved == 0
	}
	play := func(t *testing.T, game string) *testplayer.Player {
		t.Helper()
		p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{Game: game, Decode: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		if err := p.Play(ctxFor(t, 20*time.Second)); err != nil {
			t.Fatalf("play %s: %v", game, err)
		}
		waitFor(t, 15*time.Second, "decoded frames arrive", func() bool { return len(p.Frames()) >= 5 })
		for _, f := range p.Frames()[:5] {
			if f.Width != 1280 || f.Height != 720 {
				t.Fatalf("frame %dx%d, want 1280x720", f.Width, f.Height)
			}
		}
		return p
	}
	// ended waits for the session's end, which must be the game's own, and returns its result.
	ended := func(t *testing.T, p *testplayer.Player) map[string]int {
		t.Helper()
		ctx := ctxFor(t, 15*time.Second)
		for {
			m, err := p.Next(ctx)
			if err != nil {
				t.Fatalf("waiting for ended: %v", err)
			}
			if m.Type != protocol.TypeEnded {
				continue
			}
			var res map[string]int
			if m.Reason != protocol.ReasonGameEnded || json.Unmarshal(m.Result, &res) != nil {
				t.Fatalf("ended %+v (result %s), want reason game_ended with a result", m, m.Result)
			}
			t.Logf("ended: result %s", m.Result)
			return res
		}
	}

	for _, c := range []struct {
		game string
		key  uint16
	}{
		{"snake", input.KeyArrowUp},
		{"demo2", input.KeySpace},
	} {
		t.Run(c.game, func(t *testing.T) {
			p := play(t, c.game)
			waitFor(t, 10*time.Second, "a frame shows the marker with no input yet", func() bool {
				fs := p.Frames()
				return fs[len(fs)-1].MarkerOK && fs[len(fs)-1].Marker == 0
			})
			seq, err := p.SendInput(input.Event{Type: input.KeyDown, Code: c.key, Down: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.SendInput(input.Event{Type: input.KeyUp, Code: c.key}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "the picture shows the input", func() bool {
				fs := p.Frames()
				last := fs[len(fs)-1]
				return last.MarkerOK && last.Marker >= uint16(seq) && last.Marker <= uint16(seq+1)
			})
			waitFor(t, 10*time.Second, "the host reports input → frame latency", func() bool { return p.Media().InputMs > 0 })
			waitFor(t, 10*time.Second, "the game's sound arrives", func() bool { return p.AudioPackets() > 20 })

			m, err := p.Leave(ctxFor(t, 10*time.Second))
			if err != nil || m.Reason != protocol.ReasonPlayerLeft {
				t.Fatalf("leave: %+v, %v; want ended player_left", m, err)
			}
			p.Close()
			waitFor(t, 10*time.Second, "the slot is free after the leave", slotFree)
		})
	}

	t.Run("snake quits", func(t *testing.T) {
		p := play(t, "snake")
		if _, err := p.SendInput(input.Event{Type: input.KeyDown, Code: input.KeyEscape, Down: true}); err != nil {
			t.Fatal(err)
		}
		res := ended(t, p)
		if _, ok := res["score"]; !ok || res["rounds"] != 1 {
			t.Fatalf("result %v, want score, best and rounds 1", res)
		}
		p.Close()
		waitFor(t, 10*time.Second, "the slot is free after the game ended", slotFree)
	})

	// Last: a drain leaves the host drained.
	t.Run("demo2 drained", func(t *testing.T) {
		p := play(t, "demo2")
		if _, err := p.SendInput(input.Event{Type: input.KeyDown, Code: input.KeySpace, Down: true}); err != nil {
			t.Fatal(err)
		}
		if err := a.Hosts()[0].Drain(time.Now().Add(5*time.Second), "test"); err != nil {
			t.Fatal(err)
		}
		// The demo plays on until shortly before the deadline, then Serve ends it with the
		// demo's counters: the session ends game_ended, not drained.
		res := ended(t, p)
		if res["frames"] < 30 || res["inputs"] < 1 {
			t.Fatalf("result %v, want the demo's frames and inputs", res)
		}
		p.Close()
		waitFor(t, 10*time.Second, "the slot is free after the game ended", slotFree)
	})
}
