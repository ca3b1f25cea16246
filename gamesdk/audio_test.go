package gamesdk

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/gameproto"
)

func audioPool(tb testing.TB, f gameproto.SampleFormat, frames, n int) gameproto.AudioPool {
	tb.Helper()
	p, err := gameproto.NewAudioPool(f, frames, n)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// hostSamples reads the samples of an audio_ready from the host's own mapping, as floats
// (s16 scaled to −1..1).
func (h *fakeHost) hostSamples(m gameproto.AudioReady) []float64 {
	h.tb.Helper()
	b := h.audio.Slot(h.audioMem, m)
	if b == nil {
		h.tb.Fatalf("audio_ready %#v outside the pool %#v", m, h.audio)
	}
	var out []float64
	if h.audio.Format == gameproto.S16 {
		for i := 0; i < len(b); i += 2 {
			out = append(out, float64(int16(binary.LittleEndian.Uint16(b[i:])))/32768)
		}
		return out
	}
	for i := 0; i < len(b); i += 4 {
		out = append(out, float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))))
	}
	return out
}

// recvAudio reads the game's next audio_ready, passing over pings and the lifecycle's ready
// and started.
func (h *fakeHost) recvAudio() (gameproto.AudioReady, bool) {
	h.tb.Helper()
	for {
		switch m := h.recv().(type) {
		case gameproto.Ping, gameproto.Ready, gameproto.Started:
		case gameproto.AudioReady:
			return m, true
		default:
			h.tb.Fatalf("got %#v, want audio_ready", m)
		}
	}
}

// fill writes sample i = v(i) into a's first frames frames.
func fill(a *Audio, frames int, v func(i int) float64) {
	for i := range frames * a.Channels {
		if a.S16 != nil {
			a.S16[i] = int16(v(i) * 32768)
		} else {
			a.F32[i] = float32(v(i))
		}
	}
}

// TestAudioSubmit: in each sample format, and with a slot size that leaves the samples
// unaligned (the SDK then copies), the host reads what the game wrote, with the frames and
// pts the game gave; a release frees exactly its slot.
func TestAudioSubmit(t *testing.T) {
	unaligned := func(f gameproto.SampleFormat, bytes uint32) gameproto.AudioPool {
		p := audioPool(t, f, 480, 2)
		p.SlotSize = 480*2*bytes + 1 // valid, but slot 1 starts off the sample size
		return p
	}
	cases := []struct {
		name   string
		pool   gameproto.AudioPool
		direct bool
	}{
		{"s16", audioPool(t, gameproto.S16, 480, 4), true},
		{"f32", audioPool(t, gameproto.F32, 480, 4), true},
		{"s16 unaligned", unaligned(gameproto.S16, 2), false},
		{"f32 unaligned", unaligned(gameproto.F32, 4), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, g := startAudio(t, c.pool)
			if got, ok := g.AudioPool(); !ok || got != c.pool {
				t.Fatalf("audio pool %#v %v", got, ok)
			}
			if _, ok := g.AcquireAudio(); ok {
				t.Fatal("acquired audio before started")
			}
			toStarted(t, h, g)
			if g.audioSlots.direct != c.direct {
				t.Errorf("direct %v, want %v", g.audioSlots.direct, c.direct)
			}
			var pts uint64 = 1_000_000_000
			seen := map[int]bool{}
			for i := range int(c.pool.NSlots) {
				a, ok := g.AcquireAudio()
				if !ok || seen[a.Slot] {
					t.Fatalf("acquire %d: %v %v", i, a, ok)
				}
				seen[a.Slot] = true
				if a.Format != c.pool.Format || a.Channels != 2 || a.Frames != 480 {
					t.Fatalf("audio %#v", a)
				}
				if n := len(a.S16) + len(a.F32); n != 960 || (a.S16 == nil) == (c.pool.Format == gameproto.S16) {
					t.Fatalf("%d samples, s16 %v f32 %v", n, a.S16 != nil, a.F32 != nil)
				}
				frames := 100 + i
				v := func(k int) float64 { return float64(k%50-25) / 64 }
				fill(a, frames, v)
				slot := a.Slot
				if err := g.SubmitAudio(a, frames, pts); err != nil {
					t.Fatal(err)
				}
				m, ok := h.recvAudio()
				if !ok || int(m.Slot) != slot || m.Frames != uint32(frames) || m.PTS != pts {
					t.Fatalf("audio_ready %#v, want slot %d, %d frames at %d", m, slot, frames, pts)
				}
				got := h.hostSamples(m)
				for k, x := range got {
					if x != v(k) {
						t.Fatalf("sample %d: host reads %v, the game wrote %v", k, x, v(k))
					}
				}
				pts += uint64(frames) * uint64(time.Second) / 48000
			}
			if a, ok := g.AcquireAudio(); ok {
				t.Fatalf("acquired slot %d with every slot at the host", a.Slot)
			}
			h.send(gameproto.AudioRelease{Slot: 1})
			if ev := poll(t, g); ev != (AudioReleased{Slot: 1}) {
				t.Fatalf("got %#v", ev)
			}
			a, ok := g.AcquireAudio()
			if !ok || a.Slot != 1 {
				t.Fatalf("acquire after release: %v %v", a, ok)
			}
			if err := g.DiscardAudio(a); err != nil {
				t.Fatal(err)
			}
			if a, ok := g.AcquireAudio(); !ok || a.Slot != 1 {
				t.Fatalf("acquire after discard: %v %v", a, ok)
			}
		})
	}
}

// TestAudioErrors: the game's mistakes with audio slots are refused before they reach the
// host, and the Game goes on.
func TestAudioErrors(t *testing.T) {
	h, g := startAudio(t, audioPool(t, gameproto.S16, 480, 2))
	toStarted(t, h, g)
	a, ok := g.AcquireAudio()
	if !ok {
		t.Fatal("no audio slot")
	}
	b, ok := g.AcquireAudio()
	if !ok {
		t.Fatal("no second audio slot")
	}
	checks := []struct {
		name string
		err  error
		want error
	}{
		{"no frames", g.SubmitAudio(a, 0, 1), ErrArg},
		{"more frames than the slot holds", g.SubmitAudio(a, 481, 1), ErrArg},
		{"nil", g.SubmitAudio(nil, 1, 1), ErrArg},
		{"a copy", g.SubmitAudio(&Audio{Slot: a.Slot, Frames: 480, Channels: 2, S16: a.S16}, 1, 1), ErrArg},
		{"slot past the pool", g.SubmitAudio(&Audio{Slot: 7}, 1, 1), ErrArg},
		{"discard a copy", g.DiscardAudio(&Audio{Slot: b.Slot}), ErrArg},
	}
	for _, c := range checks {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.err, c.want)
		}
	}
	if err := g.SubmitAudio(a, 480, 1); err != nil {
		t.Fatal(err)
	}
	if err := g.SubmitAudio(a, 480, 2); !errors.Is(err, ErrState) {
		t.Errorf("second submit: %v", err)
	}
	if err := g.DiscardAudio(a); !errors.Is(err, ErrState) {
		t.Errorf("discard of a submitted slot: %v", err)
	}
	if err := g.End(""); err != nil {
		t.Fatal(err)
	}
	if err := g.SubmitAudio(b, 1, 3); !errors.Is(err, ErrState) {
		t.Errorf("submit after end: %v", err)
	}
	if _, ok := g.AcquireAudio(); ok {
		t.Error("acquired audio after end")
	}
	n := 0
	for _, m := range h.drain() {
		if m.Type() == gameproto.TypeAudioReady {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d audio_ready, want 1", n)
	}
}

// TestNoAudio: without audio agreed there is nothing to acquire.
func TestNoAudio(t *testing.T) {
	h, g := start(t, Config{Audio: true}) // the host's welcome does not agree
	toStarted(t, h, g)
	if _, ok := g.AudioPool(); ok {
		t.Fatal("an audio pool without audio agreed")
	}
	if a, ok := g.AcquireAudio(); ok {
		t.Fatalf("acquired audio slot %d without an audio pool", a.Slot)
	}
	if err := g.SubmitAudio(&Audio{}, 1, 1); !errors.Is(err, ErrArg) {
		t.Errorf("submit without an audio pool: %v", err)
	}
}

// TestAudioHostErrors: an audio_release for a slot the host does not hold, or a new audio pool
// while it holds one, is a protocol error that breaks the Game.
func TestAudioHostErrors(t *testing.T) {
	cases := []struct {
		name string
		host func(h *fakeHost)
	}{
		{"release of a free slot", func(h *fakeHost) { h.send(gameproto.AudioRelease{Slot: 1}) }},
		{"release past the pool", func(h *fakeHost) { h.send(gameproto.AudioRelease{Slot: 5}) }},
		{"pool while the host holds a slot", func(h *fakeHost) {
			h.sendAudioPool(audioPool(h.tb, gameproto.S16, 480, 2))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, g := startAudio(t, audioPool(t, gameproto.S16, 480, 2))
			toStarted(t, h, g)
			a, ok := g.AcquireAudio()
			if !ok || a.Slot != 0 {
				t.Fatalf("acquire: %v %v", a, ok)
			}
			if err := g.SubmitAudio(a, 10, 1); err != nil {
				t.Fatal(err)
			}
			c.host(h)
			ev, err := g.Poll(5 * time.Second)
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("got %#v, %v; want a protocol error", ev, err)
			}
			t.Log(err)
			if _, ok := g.AcquireAudio(); ok {
				t.Error("acquired audio on a broken Game")
			}
		})
	}
}

// TestAudioPoolChange: a new audio pool while every audio slot is the game's replaces the old
// one, and its slots are the ones handed out.
func TestAudioPoolChange(t *testing.T) {
	h, g := startAudio(t, audioPool(t, gameproto.S16, 480, 2))
	toStarted(t, h, g)
	a, ok := g.AcquireAudio()
	if !ok {
		t.Fatal("no audio slot")
	}
	if err := g.SubmitAudio(a, 10, 1); err != nil {
		t.Fatal(err)
	}
	if m, _ := h.recvAudio(); m.Frames != 10 {
		t.Fatalf("got %#v", m)
	}
	h.send(gameproto.AudioRelease{Slot: uint8(a.Slot)})
	if ev := poll(t, g); ev != (AudioReleased{Slot: a.Slot}) {
		t.Fatalf("got %#v", ev)
	}
	np := audioPool(t, gameproto.F32, 960, 3)
	h.sendAudioPool(np)
	if ev, ok := poll(t, g).(AudioPoolChanged); !ok || ev.Pool != np {
		t.Fatalf("got %#v", ev)
	}
	for range 3 {
		a, ok := g.AcquireAudio()
		if !ok || a.F32 == nil || a.Frames != 960 {
			t.Fatalf("acquire from the new pool: %#v %v", a, ok)
		}
		a.F32[1] = 0.25
		if err := g.SubmitAudio(a, 960, 5); err != nil {
			t.Fatal(err)
		}
		m, ok := h.recvAudio()
		if !ok {
			t.Fatalf("got %#v", m)
		}
		if got := h.hostSamples(m); len(got) != 1920 || got[1] != 0.25 {
			t.Fatalf("host reads %d samples, [1] = %v", len(got), got[1])
		}
	}
}

// TestAudioClose: Close forgets the audio slots; nothing is handed out afterwards.
func TestAudioClose(t *testing.T) {
	h, g := startAudio(t, audioPool(t, gameproto.S16, 480, 2))
	toStarted(t, h, g)
	a, ok := g.AcquireAudio()
	if !ok {
		t.Fatal("no audio slot")
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if a.S16 != nil || a.F32 != nil {
		t.Error("the acquired slot still points into the unmapped pool")
	}
	if _, ok := g.AcquireAudio(); ok {
		t.Error("acquired audio after close")
	}
	if err := g.SubmitAudio(a, 1, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("submit after close: %v", err)
	}
}
