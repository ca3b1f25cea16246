package e2e

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/edgeplay/edgeplay/gameproc"
	"github.com/edgeplay/edgeplay/input"
	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/internal/testplayer"
	"github.com/edgeplay/edgeplay/protocol"
)

// TestYUVEndToEnd plays a game process that renders I420, then one that renders NV12 (the
// host lends the frames as they are and the encoder copies the planes in, no RGB step),
// through the whole system, with H.264 and with VP8: the frames reach the player decoded at
// the host's size, and the latency marker the game draws into its luma plane reads back with
// the game's last input, before any and after a key press.
func TestYUVEndToEnd(t *testing.T) {
	bin := buildTestGame(t)
	a := startApp(t, appOpts{slots: 1, mutate: func(c *app.Config) {
		h := &c.Hosts[0]
		// The test player reads the marker in 1280x720 frames; 30 fps keeps decoding light.
		h.Width, h.Height, h.FPS = 1280, 720, 30
		for _, f := range []string{"i420", "nv12"} {
			h.Games[f] = gameproc.Factory(gameproc.Command{
				Path: bin, Env: []string{"TESTGAME_FORMAT=" + f, "TESTGAME_MARKER=1"}, Logger: testLogger(),
			})
		}
	}})
	slotFree := func() bool {
		hs := a.Matchmaker().Hosts()
		return len(hs) == 1 && hs[0].Used == 0 && hs[0].Reserved == 0
	}
	for _, c := range []struct {
		name, game string
		codecs     []string // what the player accepts; nil: pion's defaults, H.264 first
		codec      string
	}{
		{"i420/h264", "i420", nil, "h264"},
		{"nv12/h264", "nv12", nil, "h264"},
		{"i420/vp8", "i420", []string{webrtc.MimeTypeVP8}, "vp8"},
		{"nv12/vp8", "nv12", []string{webrtc.MimeTypeVP8}, "vp8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(),
				testplayer.Options{Game: c.game, Decode: true, Codecs: c.codecs})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Close)
			if err := p.Play(ctxFor(t, 20*time.Second)); err != nil {
				t.Fatalf("play %s: %v", c.game, err)
			}
			waitFor(t, 15*time.Second, "decoded frames arrive", func() bool { return len(p.Frames()) >= 5 })
			if got := p.Codec(); got != c.codec {
				t.Fatalf("codec %q, want %q", got, c.codec)
			}
			for _, f := range p.Frames()[:5] {
				if f.Width != 1280 || f.Height != 720 {
					t.Fatalf("frame %dx%d, want 1280x720", f.Width, f.Height)
				}
			}
			waitFor(t, 10*time.Second, "a frame shows the marker with no input yet", func() bool {
				fs := p.Frames()
				return fs[len(fs)-1].MarkerOK && fs[len(fs)-1].Marker == 0
			})
			seq, err := p.SendInput(input.Event{Type: input.KeyDown, Code: input.KeySpace, Down: true})
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "the picture shows the input", func() bool {
				fs := p.Frames()
				last := fs[len(fs)-1]
				return last.MarkerOK && last.Marker == uint16(seq)
			})
			m, err := p.Leave(ctxFor(t, 10*time.Second))
			if err != nil || m.Reason != protocol.ReasonPlayerLeft {
				t.Fatalf("leave: %+v, %v; want ended player_left", m, err)
			}
			p.Close()
			waitFor(t, 10*time.Second, "the slot is free after the leave", slotFree)
		})
	}
}
