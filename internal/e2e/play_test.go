// Package e2e runs the whole system in one process (embedded NATS, matchmaker, session host,
// gateway) and plays it through the real websocket and WebRTC with a pion player.
package e2e

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/transport/v5/test"

	"github.com/edgeplay/edgeplay/input"
	"github.com/edgeplay/edgeplay/internal/testplayer"
	"github.com/edgeplay/edgeplay/protocol"
)

func TestPlayEndToEnd(t *testing.T) {
	defer test.CheckRoutines(t)()
	a := startApp(t, appOpts{})
	defer func() { _ = a.Close(ctxFor(t, 10*time.Second)) }()

	p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{Decode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Play(ctxFor(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}
	if p.Host != "host-1" {
		t.Errorf("placed on %q, want host-1", p.Host)
	}

	// The first decoded frames: 1280x720, keyframe first, marker 0 (no input yet).
	waitFor(t, 10*time.Second, "decoded frames arrive", func() bool { return len(p.Frames()) >= 10 })
	frames := p.Frames()
	if !frames[0].Keyframe {
		t.Error("first decoded frame is not an IDR")
	}
	for _, f := range frames[:10] {
		if f.Width != 1280 || f.Height != 720 {
			t.Fatalf("frame size %dx%d, want 1280x720", f.Width, f.Height)
		}
		if !f.MarkerOK || f.Marker != 0 {
			t.Fatalf("marker before input = %d (ok=%v), want 0", f.Marker, f.MarkerOK)
		}
	}

	// The session shows in the metrics.
	scrape := func() string {
		resp, err := http.Get(a.URL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	m := scrape()
	framesEncoded := func(m string) float64 {
		for _, line := range strings.Split(m, "\n") {
			if v, ok := strings.CutPrefix(line, `edgeplay_frames_encoded_total{host="host-1"} `); ok {
				f, _ := strconv.ParseFloat(v, 64)
				return f
			}
		}
		return -1
	}
	firstCount := framesEncoded(m)
	waitFor(t, 5*time.Second, "edgeplay_frames_encoded_total moves", func() bool { return framesEncoded(scrape()) > firstCount+10 })
	for _, want := range []string{
		"edgeplay_player_connections 1", `edgeplay_sessions_active{host="host-1"} 1`,
		`edgeplay_frame_latency_seconds_count{host="host-1"}`, `edgeplay_frames_encoded_total{host="host-1"}`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// Each input shows up in the marker of a later frame.
	for _, ev := range []input.Event{
		{Type: input.KeyDown, Code: input.KeyW},
		{Type: input.MouseMove, DX: 10, DY: -4, X: 30000, Y: 30000},
		{Type: input.MouseButton, Button: input.ButtonLeft, Down: true},
		{Type: input.KeyUp, Code: input.KeyW},
	} {
		seq, err := p.SendInput(ev)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "the marker shows input "+ev.Type.String(), func() bool {
			fs := p.Frames()
			last := fs[len(fs)-1]
			return last.MarkerOK && last.Marker == uint16(seq)
		})
	}

	ended, err := p.Leave(ctxFor(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if ended.Reason != protocol.ReasonPlayerLeft {
		t.Errorf("ended reason %q, want player_left", ended.Reason)
	}
	waitFor(t, 5*time.Second, "the host frees the slot", func() bool { return len(a.Hosts()[0].Sessions()) == 0 })
	p.Close()
	if err := a.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}
