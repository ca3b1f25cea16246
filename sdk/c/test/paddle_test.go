package csdk

import (
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/game/marker"
	"github.com/edgeplay/edgeplay/gameproto"
	"github.com/edgeplay/edgeplay/input"
)

// The example game (examples/c/paddle), built with the sanitizers, against the fake host.

const paddleW, paddleH = 320, 180

// playerColour is the player's paddle, COLOUR_PLAYER in examples/c/paddle/game.h.
var playerColour = [3]byte{0x50, 0xc8, 0xff}

// paddleHost plays the host for paddle: it releases every frame and audio slot at once, as
// gameproc does, and checks the sound's timeline.
type paddleHost struct {
	*fakeHost
	frames     int
	lastSeq    uint64
	audio      int    // audio_ready messages
	audioEnd   uint64 // pts past the last chunk
	audioGaps  int
	lastFrame  gameproto.FrameReady
	lastPixels []byte // plane 0 of the last frame, copied
}

// next reads the game's messages up to its next frame, and returns it with a copy of its
// pixels. Audio is checked and released on the way.
func (h *paddleHost) next(tb testing.TB) gameproto.FrameReady {
	tb.Helper()
	for {
		switch m := h.recv().(type) {
		case gameproto.Ping, gameproto.Log:
		case gameproto.AudioReady:
			if err := h.apool.Check(m); err != nil {
				tb.Fatalf("audio_ready %#v: %v", m, err)
			}
			if h.audio > 0 {
				switch {
				case m.PTS+1000 < h.audioEnd:
					tb.Fatalf("audio chunk %d at %d overlaps the one before, which ends at %d", h.audio, m.PTS, h.audioEnd)
				case m.PTS > h.audioEnd+1000:
					h.audioGaps++
				}
			}
			h.audio++
			h.audioEnd = m.PTS + uint64(m.Frames)*1e9/48000
			h.send(gameproto.AudioRelease{Slot: m.Slot})
		case gameproto.FrameReady:
			if err := h.pool.Check(m); err != nil || m.Seq <= h.lastSeq {
				tb.Fatalf("frame_ready %#v after seq %d: %v", m, h.lastSeq, err)
			}
			h.lastSeq = m.Seq
			h.frames++
			h.lastFrame = m
			px := h.pool.Plane(h.pool.Slot(h.mem, int(m.Slot)), 0)
			h.lastPixels = append(h.lastPixels[:0], px...)
			h.send(gameproto.Release{Slot: m.Slot})
			return m
		default:
			tb.Fatalf("unexpected %#v", m)
		}
	}
}

// paddleY is the centre row of the player's paddle in the last frame, or -1.
func (h *paddleHost) paddleY() float64 {
	stride := int(h.pool.Planes[0].Stride)
	x := paddleW*4/100 + 1 // inside the paddle: PADDLE_X of game.c, plus one
	sum, n := 0, 0
	for y := range paddleH {
		p := h.lastPixels[y*stride+4*x:]
		if p[0] == playerColour[0] && p[1] == playerColour[1] && p[2] == playerColour[2] {
			sum += y
			n++
		}
	}
	if n == 0 {
		return -1
	}
	return float64(sum) / float64(n)
}

// TestPaddle plays the example game against the fake host: the handshake with and without
// sound, frames at the welcome's size that echo the last input's seq, the paddle moving up for
// every kind of input, the latency marker, and each way the game ends: drain, the player
// leaving and Escape end it with its result and exit 0; shutdown makes it exit 0 at once.
func TestPaddle(t *testing.T) {
	// Input that moves the paddle up, but the mouse's, which moves it down: at the top the
	// paddle would be under the latency marker, which that case draws.
	moves := map[string][]input.Event{
		"keys":  {{Type: input.KeyDown, Code: input.KeyArrowUp, Down: true}},
		"touch": {{Type: input.GamepadConnect, Pad: input.TouchPad, PadFlags: input.PadTouch, Down: true}, {Type: input.GamepadState, Pad: input.TouchPad, LY: -32767}},
		"mouse": {{Type: input.MouseMove, X: 100, Y: 65535}},
		"dpad":  {{Type: input.GamepadState, Pad: 0, Buttons: 1 << input.PadUp}},
		"wasd":  {{Type: input.KeyDown, Code: input.KeyW, Down: true}},
	}
	cases := []struct {
		name       string
		args       []string
		hostAudio  bool // the host agrees to sound
		input      string
		end        func(h *paddleHost, seq *uint32)
		wantEnding bool
	}{
		{"keys, drain, sound", nil, true, "keys", func(h *paddleHost, _ *uint32) { h.send(gameproto.Drain{DeadlineMS: 5000}) }, true},
		{"touch, player left, silent host", nil, false, "touch", func(h *paddleHost, _ *uint32) { h.send(gameproto.PlayerLeft{Player: 0}) }, true},
		{"mouse, escape, marker", []string{"--marker"}, false, "mouse", func(h *paddleHost, seq *uint32) {
			*seq++
			in := &gameproto.Input{Player: 0}
			in.Add(input.Event{Type: input.KeyDown, Seq: *seq, Code: input.KeyEscape, Down: true})
			h.send(in)
		}, true},
		{"d-pad, shutdown, no audio asked", []string{"--no-audio"}, false, "dpad", func(h *paddleHost, _ *uint32) { h.send(gameproto.Shutdown{GraceMS: 2000}) }, false},
		{"wasd, back button", nil, true, "wasd", func(h *paddleHost, seq *uint32) {
			*seq++
			in := &gameproto.Input{Player: 0}
			in.Add(input.Event{Type: input.GamepadState, Seq: *seq, Pad: 1, Buttons: 1 << input.PadBack})
			h.send(in)
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fh, link := newLink(t)
			h := &paddleHost{fakeHost: fh}
			p := start(t, paddleBin(t), link, nil, c.args...)
			_ = link.Close()

			hello, ok := h.recv().(gameproto.Hello)
			wantCaps := uint32(gameproto.CapInput | gameproto.CapAudio)
			if len(c.args) > 0 && c.args[0] == "--no-audio" {
				wantCaps = gameproto.CapInput
			}
			if !ok || hello.Caps != wantCaps || hello.SDK != "edgeplay-c/1.0.0" {
				t.Fatalf("hello %#v", hello)
			}
			w := testWelcome()
			w.Width, w.Height = paddleW, paddleH
			if c.hostAudio {
				w.Caps |= gameproto.CapAudio
			}
			h.send(w)
			h.sendPool(gameproto.RGBA, paddleW, paddleH, 3)
			if c.hostAudio {
				h.sendAudioPool(gameproto.S16, 480, 8)
			}
			for m := h.recv(); m.Type() != gameproto.TypeReady; m = h.recv() {
				if m.Type() != gameproto.TypePing && m.Type() != gameproto.TypeLog {
					t.Fatalf("before ready: %#v", m)
				}
			}
			h.send(gameproto.Assign{Session: "s1"})
			h.send(gameproto.PlayerJoined{Player: 0, ID: "p"})
			for m := h.recv(); m.Type() != gameproto.TypeStarted; m = h.recv() {
				if m.Type() != gameproto.TypePing {
					t.Fatalf("before started: %#v", m)
				}
			}

			for range 10 {
				if fr := h.next(t); fr.InputSeq != 0 {
					t.Fatalf("input seq %d before any input", fr.InputSeq)
				}
			}
			y0 := h.paddleY()
			if y0 < 0 {
				t.Fatal("no paddle in the picture")
			}
			var seq uint32
			in := &gameproto.Input{Player: 0}
			for _, ev := range moves[c.input] {
				seq++
				ev.Seq = seq
				in.Add(ev)
			}
			h.send(in)
			for h.next(t).InputSeq != seq {
				if h.frames > 200 {
					t.Fatalf("no frame echoes input seq %d", seq)
				}
			}
			if c.args != nil && c.args[0] == "--marker" {
				v, ok := marker.ReadRGBA(h.lastPixels, int(h.pool.Planes[0].Stride))
				if !ok || v != uint16(seq) || h.lastFrame.Flags != gameproto.FrameMarker {
					t.Errorf("marker %d, %v, flags %d; want %d", v, ok, h.lastFrame.Flags, seq)
				}
			}
			for range 20 {
				h.next(t)
			}
			moved := y0 - h.paddleY()
			if c.input == "mouse" {
				moved = -moved
			}
			if h.paddleY() < 0 || moved < 10 {
				t.Errorf("paddle at %.0f, then %.0f after %s input", y0, h.paddleY(), c.input)
			}
			if c.hostAudio && h.audio == 0 {
				t.Error("no sound")
			}
			if !c.hostAudio && h.audio != 0 {
				t.Errorf("%d audio chunks without an audio pool", h.audio)
			}

			c.end(h, &seq)
			var ending *gameproto.Ending
			for {
				m, err := h.recvWithin(10 * time.Second)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				switch m := m.(type) {
				case gameproto.Ending:
					ending = &m
				case gameproto.FrameReady:
					h.send(gameproto.Release{Slot: m.Slot})
				case gameproto.AudioReady:
					h.send(gameproto.AudioRelease{Slot: m.Slot})
				}
			}
			if code := p.wait(10 * time.Second); code != 0 {
				t.Fatalf("exit status %d", code)
			}
			switch {
			case c.wantEnding && ending == nil:
				t.Fatal("no ending")
			case !c.wantEnding && ending != nil:
				t.Fatalf("ending %q at shutdown", ending.Result)
			case ending != nil:
				var res struct{ Score, Opponent *int }
				if err := json.Unmarshal([]byte(ending.Result), &res); err != nil || res.Score == nil || res.Opponent == nil {
					t.Fatalf("result %q: %v", ending.Result, err)
				}
				t.Logf("result %s after %d frames, %d audio chunks (%d breaks)", ending.Result, h.frames, h.audio, h.audioGaps)
			}
		})
	}
}

// TestPaddleBeforeAssign: a game waiting for its session (the warm pool) that is drained ends
// without a result and exits 0; one that is shut down exits 0.
func TestPaddleBeforeAssign(t *testing.T) {
	for _, c := range []struct {
		name   string
		msg    gameproto.Message
		ending bool
	}{
		{"drain", gameproto.Drain{DeadlineMS: 1000}, true},
		{"shutdown", gameproto.Shutdown{GraceMS: 1000}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, link := newLink(t)
			p := start(t, paddleBin(t), link, nil)
			_ = link.Close()
			if m := h.recv(); m.Type() != gameproto.TypeHello {
				t.Fatalf("got %#v", m)
			}
			w := testWelcome()
			w.Width, w.Height = paddleW, paddleH
			h.send(w)
			h.sendPool(gameproto.RGBA, paddleW, paddleH, 3)
			h.recvType(gameproto.TypeReady)
			h.send(c.msg)
			var got []gameproto.Message
			for {
				m, err := h.recvWithin(10 * time.Second)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if m.Type() != gameproto.TypePing {
					got = append(got, m)
				}
			}
			if code := p.wait(10 * time.Second); code != 0 {
				t.Fatalf("exit status %d", code)
			}
			if c.ending && (len(got) != 1 || got[0] != (gameproto.Ending{})) || !c.ending && len(got) != 0 {
				t.Fatalf("the game sent %#v", got)
			}
		})
	}
}
