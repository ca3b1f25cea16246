package demo

import (
	"context"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/input"
)

// samples converts a duration to a sample count at game.AudioRate.
func samples(d time.Duration) int { return int(int64(d) * game.AudioRate / int64(time.Second)) }

// stream renders n samples from s in 10 ms pieces and returns them interleaved.
func stream(s *synth, n int) []int16 {
	out := make([]int16, 0, 2*n)
	for n > 0 {
		k := min(n, game.AudioRate/100)
		out = append(out, s.render(k)...)
		n -= k
	}
	return out
}

// energy is the mean square of channel ch (0 left, 1 right; -1 both) over samples [from, to).
func energy(pcm []int16, from, to, ch int) float64 {
	var sum float64
	n := 0
	for i := from; i < to; i++ {
		for c := range game.AudioChannels {
			if ch >= 0 && c != ch {
				continue
			}
			x := float64(pcm[2*i+c]) / math.MaxInt16
			sum += x * x
			n++
		}
	}
	return sum / float64(max(n, 1))
}

func TestSinCycle(t *testing.T) {
	worst := 0.0
	for i := range 4096 {
		p := float64(i) / 4096
		worst = max(worst, math.Abs(float64(sinCycle(float32(p)))-math.Sin(2*math.Pi*p)))
	}
	if worst > 2e-3 {
		t.Fatalf("sinCycle is off sin by up to %.4f", worst)
	}
}

func TestLimit(t *testing.T) {
	prev := float32(-1)
	for i := -4000; i <= 4000; i++ {
		x := float32(i) / 1000 // −4 … 4
		y := limit(x)
		switch {
		case abs32(x) <= knee && y != x:
			t.Fatalf("limit(%v) = %v below the knee", x, y)
		case abs32(y) >= 1:
			t.Fatalf("limit(%v) = %v, not inside ±1", x, y)
		case y < prev:
			t.Fatalf("limit is not monotonic at %v: %v after %v", x, y, prev)
		case limit(-x) != -y:
			t.Fatalf("limit is not odd at %v", x)
		}
		prev = y
	}
}

// TestCueSounds plays each cue into one synthesiser and nothing into a twin: the difference,
// the cue's own sound, must be silent before the cue, carry energy while the sound lasts, and
// be exactly silent after it; the rest of the output is the music alone.
func TestCueSounds(t *testing.T) {
	const at = 1000 // samples into the stream
	tests := []struct {
		name  string
		c     cues
		lasts time.Duration // the sound ends by then
		loud  time.Duration // ... and has most of its energy in this first part
	}{
		{"shot", cues{shots: 1}, 110 * time.Millisecond, 40 * time.Millisecond},
		{"spread", cues{shots: 3}, 160 * time.Millisecond, 60 * time.Millisecond},
		{"hit", cues{hits: 1, combo: 1}, 320 * time.Millisecond, 100 * time.Millisecond},
		{"hit, combo 12", cues{hits: 2, combo: 12}, 320 * time.Millisecond, 100 * time.Millisecond},
		{"rammed", cues{rammed: true}, 450 * time.Millisecond, 200 * time.Millisecond},
		{"round lost", cues{rammed: true, lost: true, round: true}, 1100 * time.Millisecond, 900 * time.Millisecond},
		{"new round", cues{round: true}, 460 * time.Millisecond, 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var quiet, loud synth
			loud.play(&tt.c, at)
			n := at + samples(tt.lasts) + game.AudioRate/2
			a, b := stream(&quiet, n), stream(&loud, n)
			d := make([]int16, len(a))
			for i := range a {
				d[i] = b[i] - a[i]
			}
			end := at + samples(tt.lasts) + 1
			if e := energy(d, 0, at, -1); e != 0 {
				t.Errorf("sound before the cue: energy %g", e)
			}
			if e := energy(d, end, n, -1); e != 0 {
				t.Errorf("sound after %v: energy %g", tt.lasts, e)
			}
			head := energy(d, at, at+samples(tt.loud), -1)
			if head < 1e-4 { // −40 dBFS
				t.Errorf("the first %v has energy %g, too quiet", tt.loud, head)
			}
			if tail := energy(d, at+samples(tt.loud), end, -1); tail >= head {
				t.Errorf("the sound does not die away: energy %g, then %g", head, tail)
			}
			if m := energy(a, 0, n, -1); m == 0 || 10*math.Log10(head/m) < 15 {
				t.Errorf("music energy %g against the sound's %g: want it about 20 dB under", m, head)
			}
		})
	}
}

func TestSoundPans(t *testing.T) {
	for _, pan := range []float64{-panWidth, panWidth} {
		s := synth{noMusic: true}
		s.play(&cues{shots: 1, shotPan: pan}, 0)
		pcm := stream(&s, samples(100*time.Millisecond))
		l, r := energy(pcm, 0, len(pcm)/2, 0), energy(pcm, 0, len(pcm)/2, 1)
		if (pan < 0) != (l > 4*r) || (pan > 0) != (r > 4*l) {
			t.Errorf("a shot panned %v: left energy %g, right %g", pan, l, r)
		}
	}
}

func TestSoundDeterministic(t *testing.T) {
	run := func() []int16 {
		var s synth
		var out []int16
		for i := range 200 {
			c := cues{shots: i % 3, hits: i % 7 / 6, rammed: i%50 == 0, combo: i / 10, hitPan: 0.3}
			s.play(&c, 37*(i%13))
			out = append(out, s.render(800)...)
		}
		return out
	}
	a, b := run(), run()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("two runs of the same cues differ at sample %d: %d, %d", i/2, a[i], b[i])
		}
	}
}

// TestMusicLoops checks that the music repeats exactly every four bars and stays quiet.
func TestMusicLoops(t *testing.T) {
	var s synth
	loop := loopSteps * stepLen
	pcm := stream(&s, 2*loop)
	peak := 0
	for i := range loop * 2 {
		if pcm[i] != pcm[2*loop+i] {
			t.Fatalf("the second loop differs at sample %d", i/2)
		}
		peak = max(peak, int(abs(float64(pcm[i]))))
	}
	if e := energy(pcm, 0, loop, -1); e < 1e-5 || peak > math.MaxInt16/8 {
		t.Fatalf("music energy %g, peak %d: want audible and under −18 dBFS", e, peak)
	}
}

// TestSoundSaturates piles up far more sounds than a game makes at once: the limiter must
// bend the peaks, never wrap them.
func TestSoundSaturates(t *testing.T) {
	var s synth
	for range 8 {
		s.play(&cues{shots: 3, hits: 9, rammed: true, lost: true, round: true}, 0)
	}
	loudest := float32(0)
	for range 20 {
		pcm := s.render(maxChunk / 4)
		for i, x := range s.mix[:len(pcm)] {
			loudest = max(loudest, abs32(x))
			if abs32(x) > 0.01 && (x > 0) != (pcm[i] > 0) {
				t.Fatalf("mix %v came out as %d", x, pcm[i])
			}
		}
	}
	if loudest < 1 {
		t.Fatalf("the pile-up peaked at %v; the test needs it over full scale", loudest)
	}
}

// chunkLog records what an audio sink was handed.
type chunkLog struct {
	starts []time.Time
	pcm    []int16 // every chunk, back to back
	sizes  []int   // samples per chunk
}

func (l *chunkLog) sink(c game.AudioChunk) {
	l.starts = append(l.starts, c.Start)
	l.sizes = append(l.sizes, len(c.PCM)/game.AudioChannels)
	l.pcm = append(l.pcm, c.PCM...)
}

// check fails t unless the chunks are in order, no longer than 100 ms, and contiguous: each
// starts where the one before ended. gaps lists the chunks that may start later than that.
func (l *chunkLog) check(t *testing.T, gaps ...int) {
	t.Helper()
	if len(l.starts) == 0 {
		t.Fatal("no sound")
	}
	for i, n := range l.sizes {
		if n == 0 || n > game.AudioRate/10 || n%clockStep != 0 {
			t.Fatalf("chunk %d has %d samples", i, n)
		}
		if i == 0 {
			continue
		}
		want := l.starts[i-1].Add(time.Duration(l.sizes[i-1]) * time.Second / game.AudioRate)
		got := l.starts[i]
		if got.Equal(want) {
			continue
		}
		gap := false
		for _, g := range gaps {
			gap = gap || g == i
		}
		if !gap || got.Before(want) {
			t.Fatalf("chunk %d starts %v after the end of chunk %d", i, got.Sub(want), i-1)
		}
	}
}

// end is when the sound handed out so far ends.
func (l *chunkLog) end() time.Time {
	n := len(l.sizes) - 1
	return l.starts[n].Add(time.Duration(l.sizes[n]) * time.Second / game.AudioRate)
}

// at is the sample index in l.pcm of time ts, assuming no gap.
func (l *chunkLog) at(ts time.Time) int { return samples(ts.Sub(l.starts[0])) }

// timeOf is when sample i of l.pcm belongs.
func (l *chunkLog) timeOf(i int) time.Time {
	for c, n := range l.sizes {
		if i < n {
			return l.starts[c].Add(time.Duration(i) * time.Second / game.AudioRate)
		}
		i -= n
	}
	return time.Time{}
}

// onset is the index of the first sample at or after from that is not silent, or -1.
func onset(pcm []int16, from int) int {
	for i := from; i < len(pcm)/2; i++ {
		if pcm[2*i] != 0 || pcm[2*i+1] != 0 {
			return i
		}
	}
	return -1
}

// TestAudioClock drives the sound clock with tick times like Run's.
func TestAudioClock(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	dt := time.Second / 60
	tests := []struct {
		name  string
		dt    time.Duration
		ready []time.Duration // tick times after t0
		gaps  []int           // chunks that may start after the previous one's end
	}{
		{"regular", dt, ticks(dt, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9), nil},
		{"dropped ticks", dt, ticks(dt, 0, 1, 4, 5, 6, 9, 10), nil},
		{"late and early", dt, []time.Duration{0, dt + 3*time.Millisecond, 2*dt - 4*time.Millisecond, 3 * dt, 4 * dt}, nil},
		{"1 fps", time.Second, ticks(time.Second, 0, 1, 2), nil},
		{"stalled", dt, ticks(dt, 0, 1, 2, 30, 31), []int{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l chunkLog
			a := audioOut{sink: l.sink}
			a.synth.noMusic = true
			for i, r := range tt.ready {
				ready := t0.Add(r)
				before := len(l.sizes)
				c := cues{}
				if i == len(tt.ready)-1 {
					c.shots = 1 // the last tick fires: the pew starts at its Ready time
				}
				a.tick(ready, ready.Add(tt.dt), &c)
				if len(l.sizes) == before {
					t.Fatalf("tick %d made no sound", i)
				}
				if d := l.end().Sub(ready.Add(tt.dt)); d > 0 || d <= -clockStepTime {
					t.Fatalf("tick %d: sound ends %v from one frame past Ready", i, d)
				}
				if i == 0 && !l.starts[0].Equal(ready) {
					t.Fatalf("the first chunk starts %v from the first Ready", l.starts[0].Sub(ready))
				}
			}
			l.check(t, tt.gaps...)
			// The pew of the last tick starts at its Ready time, within a sample or two (the
			// fade-in's first sample is 0, the clock's granule is 6 samples).
			i := onset(l.pcm, 0)
			if i < 0 {
				t.Fatal("no shot")
			}
			if d := l.timeOf(i).Sub(t0.Add(tt.ready[len(tt.ready)-1])); d < 0 || d > 2*time.Second/game.AudioRate {
				t.Fatalf("the shot starts %v after its frame's Ready time", d)
			}
		})
	}
}

func ticks(dt time.Duration, n ...int) []time.Duration {
	out := make([]time.Duration, len(n))
	for i, k := range n {
		out[i] = time.Duration(k) * dt
	}
	return out
}

// TestRunSoundAndRumble runs the game on synctest's fake clock with both sinks: the ship is
// rammed on the first tick, the frame sink stalls for three ticks once (the ticker drops them),
// and a click at 600 ms fires a shot.
func TestRunSoundAndRumble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newTestGame(t)
		var (
			l       chunkLog
			rumbles []game.Rumble
			readies []time.Time
			clicked time.Time
		)
		g.SetAudioSink(l.sink)
		g.SetRumbleSink(func(r game.Rumble) { rumbles = append(rumbles, r) })
		g.audio.synth.noMusic = true
		// A target on the ship; the others parked, still, in a corner.
		wd := &g.world
		for i := range wd.targets {
			tg := &wd.targets[i]
			tg.x, tg.y, tg.vx, tg.vy = tg.r, tg.r, 0, 0
		}
		wd.targets[0].x, wd.targets[0].y = wd.sx, wd.sy

		ctx, cancel := context.WithTimeout(t.Context(), 800*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := g.Run(ctx, func(f *game.Frame) {
			readies = append(readies, f.Ready)
			switch {
			case f.Seq == 10:
				time.Sleep(3 * tick)
			case f.InputSeq == 7:
				if clicked.IsZero() {
					clicked = f.Ready
				}
			case f.Ready.Sub(start) >= 600*time.Millisecond && clicked.IsZero():
				g.Input(input.Event{Type: input.MouseButton, Seq: 7, Button: input.ButtonLeft, Down: true})
			}
			f.Release()
		})
		if err != nil {
			t.Fatal(err)
		}

		if len(rumbles) == 0 || rumbles[0].Strong == 0 || rumbles[0].Duration <= 0 {
			t.Fatalf("rumbles %+v; want a strong one for the ram", rumbles)
		}
		l.check(t)
		if !l.starts[0].Equal(readies[0]) {
			t.Fatalf("the sound starts %v from the first frame", l.starts[0].Sub(readies[0]))
		}
		if last := readies[len(readies)-1]; l.end().Before(last.Add(tick - clockStepTime)) {
			t.Fatalf("the sound ends %v before one frame past the last", last.Add(tick).Sub(l.end()))
		}
		if e := energy(l.pcm, 0, samples(100*time.Millisecond), -1); e < 1e-4 {
			t.Fatalf("the ram is quiet: energy %g", e)
		}
		if clicked.IsZero() {
			t.Fatal("the click was never applied")
		}
		// After the ram's sound, silence until the shot, which starts with the click's frame.
		i := onset(l.pcm, l.at(readies[0].Add(470*time.Millisecond)))
		if d := l.timeOf(i).Sub(clicked); i < 0 || d < 0 || d > 2*time.Second/game.AudioRate {
			t.Fatalf("the shot starts %v after the frame that fired it", d)
		}
		if e := energy(l.pcm, i, i+samples(20*time.Millisecond), -1); e < 1e-4 {
			t.Fatalf("the shot is quiet: energy %g", e)
		}
		stalled := false
		for i := 1; i < len(readies); i++ {
			stalled = stalled || readies[i].Sub(readies[i-1]) >= 3*tick
		}
		if !stalled {
			t.Fatal("no tick was dropped; the test did not test that")
		}
	})
}

func TestRumbleFor(t *testing.T) {
	tests := []struct {
		name         string
		c            cues
		strong, weak bool
	}{
		{"nothing", cues{}, false, false},
		{"shot", cues{shots: 3}, false, false},
		{"hit", cues{hits: 1, mult: 1}, false, true},
		{"rammed", cues{rammed: true, hits: 1}, true, true},
		{"lost", cues{rammed: true, lost: true, round: true}, true, true},
		{"new round", cues{round: true}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := rumbleFor(&tt.c)
			if ok != (tt.strong || tt.weak) || (r.Strong > 0) != tt.strong || (r.Weak > 0) != tt.weak {
				t.Fatalf("rumble %+v, %v", r, ok)
			}
			if ok && (r.Duration < time.Millisecond || r.Duration > 5*time.Second || r.Strong > 1 || r.Weak > 1) {
				t.Fatalf("rumble %+v outside the contract", r)
			}
		})
	}
}

// TestCues checks the cues that observe finds in the world's counters.
func TestCues(t *testing.T) {
	g := newTestGame(t)
	wd := &g.world
	var cs cueState
	cs.reset(wd)
	step := func() cues { g.Step(tick); return cs.observe(wd) }

	if c := step(); c != (cues{combo: c.combo, mult: c.mult, shotPan: c.shotPan, hitPan: c.hitPan, shipPan: c.shipPan}) {
		t.Fatalf("a quiet tick has cues %+v", c)
	}
	g.ApplyForTest(input.Event{Type: input.MouseButton, Seq: 1, Button: input.ButtonRight, Down: true})
	if c := step(); c.shots != 3 || c.rammed || c.round {
		t.Fatalf("a spread has cues %+v", c)
	}
	for n := maxShields - 1; n >= 0; n-- {
		wd.hurt = 0
		cs.hurt = 0
		tg := &wd.targets[0]
		tg.x, tg.y, tg.vx, tg.vy = wd.sx, wd.sy, 0, 0
		c := step()
		if !c.rammed || c.lost != (n == 0) || c.round != (n == 0) {
			t.Fatalf("rammed with %d shields left: cues %+v", n, c)
		}
	}
	wd.score = 50
	cs.reset(wd)
	g.ApplyForTest(input.Event{Type: input.KeyDown, Seq: 2, Code: input.KeyEnter, Down: true})
	if c := step(); !c.round || c.lost {
		t.Fatalf("Enter has cues %+v", c)
	}
}

// TestEmitAllocs checks that a tick's sound and rumble allocate nothing, and that without
// sinks nothing is synthesised.
func TestEmitAllocs(t *testing.T) {
	g := newTestGame(t)
	g.SetAudioSink(nil)
	if g.audio != nil {
		t.Fatal("a nil sink made a synthesiser")
	}
	var chunks, rumbles int
	g.SetAudioSink(func(game.AudioChunk) { chunks++ })
	g.SetRumbleSink(func(game.Rumble) { rumbles++ })
	g.seen.reset(&g.world)
	now := time.Now()
	allocs := testing.AllocsPerRun(500, func() {
		g.world.shots++
		g.world.hits++
		now = now.Add(g.dt)
		g.emit(now)
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per tick", allocs)
	}
	if chunks < 500 || rumbles < 500 {
		t.Fatalf("%d chunks and %d rumbles in 500 ticks", chunks, rumbles)
	}
}

// BenchmarkSound measures the synthesiser per 10 ms of audio (one op) and reports it as a
// share of one core: music alone, a typical moment (a shot every 100 ms, a hit every 300 ms) and
// every voice busy.
func BenchmarkSound(b *testing.B) {
	const op = game.AudioRate / 100 // 10 ms
	for _, bc := range []struct {
		name string
		cue  func(i int) cues
	}{
		{"music", func(int) cues { return cues{} }},
		{"play", func(i int) cues { return cues{shots: b2i(i%10 == 0), hits: b2i(i%30 == 0), combo: i / 30 % 12} }},
		{"busy", func(i int) cues { return cues{shots: 3, hits: 2, rammed: i%5 == 0, combo: 4} }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var s synth
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c := bc.cue(i)
				s.play(&c, 0)
				s.render(op)
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e7*100, "%core")
		})
	}
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}
