package e2e

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/gameproc"
	"github.com/edgeplay/edgeplay/input"
	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/internal/testplayer"
	"github.com/edgeplay/edgeplay/protocol"
)

// buildPaddle builds the C example game (examples/c/paddle, with the C SDK in sdk/c) with gcc
// into a temporary directory, as `make examples` does (warnings are errors here), and returns
// the binary's path.
func buildPaddle(t *testing.T) string {
	t.Helper()
	const root = "../.."
	srcs, err := filepath.Glob(filepath.Join(root, "examples/c/paddle/*.c"))
	if err != nil || len(srcs) == 0 {
		t.Fatalf("no examples/c/paddle/*.c: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "paddle")
	args := []string{"-std=c99", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-I", filepath.Join(root, "sdk/c"), "-o", bin}
	args = append(append(args, srcs...), filepath.Join(root, "sdk/c/edgeplay.c"), "-lm")
	out, err := exec.CommandContext(ctxFor(t, 2*time.Minute), "gcc", args...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("building paddle: %v\n%s", err, out)
	}
	return bin
}

// endedEvents reads the host's "ended" events from the admin API.
func endedEvents(t *testing.T, a *app.App, token string) []protocol.Event {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxFor(t, 10*time.Second), http.MethodGet, a.URL()+"/v1/admin/events?type=ended", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("events: %s", resp.Status)
	}
	var evs []protocol.Event
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var ev protocol.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("event %q: %v", sc.Text(), err)
		}
		evs = append(evs, ev)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestCSDKEndToEnd plays the C example game (a C99 program on the C SDK, run as its own
// process by package gameproc) through the whole system: decoded frames arrive at the host's
// size; the player's input reaches the game and shows in the picture (the latency marker echoes
// its seq); the player leaves and the slot frees; a player who quits (Escape) ends the game
// itself, and the session's ended event carries the game's result.
func TestCSDKEndToEnd(t *testing.T) {
	bin := buildPaddle(t)
	const token = "csdk-e2e-admin-token"
	a := startApp(t, appOpts{slots: 1, mutate: func(c *app.Config) {
		c.Gateway.AdminToken = token
		h := &c.Hosts[0]
		// The test player reads the latency marker in 1280×720 pixels; 30 fps keeps the copy
		// and the encoder light.
		h.Width, h.Height, h.FPS = 1280, 720, 30
		h.Games["paddle"] = gameproc.Factory(gameproc.Command{Path: bin, Args: []string{"--marker"}, Logger: testLogger()})
	}})
	slotFree := func() bool {
		hs := a.Matchmaker().Hosts()
		return len(hs) == 1 && hs[0].Used == 0 && hs[0].Reserved == 0
	}
	play := func() *testplayer.Player {
		t.Helper()
		p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{Game: "paddle", Decode: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		if err := p.Play(ctxFor(t, 15*time.Second)); err != nil {
			t.Fatalf("play paddle: %v", err)
		}
		waitFor(t, 10*time.Second, "decoded frames arrive", func() bool { return len(p.Frames()) >= 5 })
		for _, f := range p.Frames()[:5] {
			if f.Width != 1280 || f.Height != 720 {
				t.Fatalf("frame %dx%d, want 1280x720", f.Width, f.Height)
			}
		}
		return p
	}
	// shows waits until a frame's marker shows input seq: the game applied it and rendered.
	shows := func(p *testplayer.Player, seq uint32) {
		t.Helper()
		waitFor(t, 10*time.Second, "a frame shows input "+strconv.Itoa(int(seq)), func() bool {
			for _, f := range p.Frames() {
				if f.MarkerOK && f.Marker == uint16(seq) {
					return true
				}
			}
			return false
		})
	}

	// 1. Frames arrive; keyboard, gamepad and mouse input each reach the game and show in the
	// picture; the player leaves; the game exits at shutdown and the slot frees.
	p := play()
	for _, ev := range []input.Event{
		{Type: input.KeyDown, Code: input.KeyArrowUp},
		{Type: input.KeyUp, Code: input.KeyArrowUp},
		{Type: input.GamepadConnect, Pad: input.TouchPad, PadFlags: input.PadTouch},
		{Type: input.GamepadState, Pad: input.TouchPad, LY: 32767},
		{Type: input.MouseMove, X: 30000, Y: 40000},
	} {
		seq, err := p.SendInput(ev)
		if err != nil {
			t.Fatal(err)
		}
		shows(p, seq)
	}
	// The game's sound (it asks for audio; the host agrees) reaches the player as Opus, and
	// the host measured input → frame latency from the input seq the frames carry.
	waitFor(t, 10*time.Second, "the game's sound arrives", func() bool { return p.AudioPackets() > 20 })
	waitFor(t, 10*time.Second, "the host reports input → frame latency", func() bool { return p.Media().InputMs > 0 })
	if m, err := p.Leave(ctxFor(t, 10*time.Second)); err != nil || m.Reason != protocol.ReasonPlayerLeft {
		t.Fatalf("leave: %+v, %v; want ended player_left", m, err)
	}
	p.Close()
	waitFor(t, 10*time.Second, "the slot is free after the leave", slotFree)

	// 2. The player quits: the game ends the session itself with its result.
	p = play()
	if _, err := p.SendInput(input.Event{Type: input.KeyDown, Code: input.KeyEscape}); err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 15*time.Second)
	for {
		m, err := p.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for ended: %v", err)
		}
		if m.Type != protocol.TypeEnded {
			continue
		}
		if m.Reason != protocol.ReasonGameEnded {
			t.Fatalf("ended %+v, want reason game_ended", m)
		}
		break
	}
	p.Close()
	waitFor(t, 10*time.Second, "the slot is free after the game ended", slotFree)
	var detail string
	waitFor(t, 10*time.Second, "the ended event with the game's result", func() bool {
		for _, ev := range endedEvents(t, a, token) {
			if ev.Reason == protocol.ReasonGameEnded && ev.Session == p.Session {
				detail = ev.Detail
				return true
			}
		}
		return false
	})
	const prefix = "game ended: result "
	quoted, ok := strings.CutPrefix(detail, prefix)
	result, err := strconv.Unquote(quoted)
	var res struct{ Score, Opponent *int }
	if !ok || err != nil || json.Unmarshal([]byte(result), &res) != nil || res.Score == nil || res.Opponent == nil {
		t.Fatalf("ended detail %q, want %s\"{\\\"score\\\":N,\\\"opponent\\\":M}\"", detail, prefix)
	}
	t.Logf("ended: %s", detail)

	// 3. The host serves the next player.
	play()
}
