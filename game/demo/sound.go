package demo

import (
	"math"
	"time"

	"github.com/edgeplay/edgeplay/game"
)

// The demo's sound: a small synthesiser (a pool of voices for the effects, a sequencer for the
// music) played on a sound clock that keeps each chunk's Start on the frames' clock.
//
// Cost: a voice is a phase accumulator, an exponential envelope and a pan, a few float32
// operations a sample. BenchmarkSound measures 10 ms of audio: on a shared 2-core AMD EPYC,
// about 6–10 µs with the music alone (0.06–0.1 % of a core), 15–30 µs while playing (a shot
// every 100 ms, a hit every 300 ms), and 50–100 µs with all 24 voices busy, more than the game
// ever starts. Nothing allocates.

// The sound clock.
const (
	// clockStep is the sound clock's granule: chunks begin and end on multiples of 6 samples,
	// 125 µs, a whole number of nanoseconds, so that a chunk's Start plus its duration is
	// exactly the next chunk's Start and no rounding accumulates.
	clockStep     = 6
	clockStepTime = clockStep * time.Second / game.AudioRate
	// maxChunk is the longest chunk, in samples: the contract's 100 ms.
	maxChunk = game.AudioRate / 10
	// maxLag is how far behind real time the sound may fall (ticks dropped, the loop stalled)
	// and still be filled in without a gap. Past it the clock is re-anchored at the frame's
	// Ready time and Start jumps forward: a stall that long means the game stopped, and
	// handing over that much sound late would only add latency at the player. 100 ms is one
	// longest chunk, six dropped ticks at 60 fps.
	maxLag = 100 * time.Millisecond
)

// audioOut plays the synthesiser on the sound clock. Each tick it hands the sink the sound from
// where the previous chunk ended up to one frame time past this frame's Ready time (so Start of
// chunk N+1 is Start of chunk N plus its duration), and the sounds the tick triggered start at
// Ready: the chunk that a tick delivers begins (when no tick was dropped) at that frame's Ready
// time, and the sound of a shot reaches the host together with the frame that shows it. How
// many samples a tick makes follows the clock, not the tick count, so dropped ticks leave no
// gap. It is owned by the goroutine that drives the game.
type audioOut struct {
	sink     func(game.AudioChunk)
	synth    synth
	anchor   time.Time // when sample 0 of the clock belongs
	n        int64     // samples handed out since anchor; a multiple of clockStep
	anchored bool
}

// at is when sample n (a multiple of clockStep) belongs.
func (a *audioOut) at(n int64) time.Time {
	return a.anchor.Add(time.Duration(n/clockStep) * clockStepTime)
}

// tick starts the sounds for c at ready and hands the sink the sound up to until, in order,
// in chunks of at most maxChunk samples. It allocates nothing.
func (a *audioOut) tick(ready, until time.Time, c *cues) {
	if !a.anchored || ready.Sub(a.at(a.n)) > maxLag {
		a.anchor, a.n, a.anchored = ready, 0, true
	}
	// Where ready falls from the first sample not yet handed out; when the clock is ahead (the
	// tick came early) the sounds start at once.
	off := 0
	if d := ready.Sub(a.at(a.n)); d > 0 {
		off = int((int64(d)*game.AudioRate + int64(time.Second)/2) / int64(time.Second))
	}
	a.synth.play(c, off)
	end := int64(until.Sub(a.anchor)/clockStepTime) * clockStep
	for a.n < end {
		k := int(min(end-a.n, maxChunk))
		a.sink(game.AudioChunk{PCM: a.synth.render(k), Start: a.at(a.n)})
		a.n += int64(k)
	}
}

// Levels and voices.
const (
	maxVoices = 24                             // effect voices at once; the quietest is replaced
	fadeStep  = 1.0 / (0.002 * game.AudioRate) // every voice fades in over 2 ms, so it never clicks
	knee      = 0.5                            // the limiter is transparent below this level
	stepTime  = 0.125                          // seconds per sixteenth note: 120 bpm
	stepLen   = game.AudioRate / 8             // samples per sixteenth note
	loopSteps = 4 * 16                         // four bars
	musicArp  = 0.03                           // the arpeggio's level and the bass's: the music sits about
	musicBass = 0.045                          // 20 dB under the effects (0.3–0.5)
	musicPan  = 0.3                            // the arpeggio alternates this far left and right
	silence   = 1e-3                           // every envelope ends 60 dB down
	panWidth  = 0.7                            // an event at the frame's edge is panned this far
	hitLevel  = 0.3                            // the noise of one hit
	rngSeed   = 0x9e3779b9                     // the noise generator's seed: the same cues, the same sound
	pcmScale  = math.MaxInt16 - 0.5            // float full scale to int16
	semitone  = 1.0594630943592953             // 2^(1/12)
	midiA4    = 69                             // MIDI note of 440 Hz
)

type wave uint8

const (
	sine wave = iota
	square
	saw
	triangle
	noise // white noise through a one-pole low-pass
)

// voice is one sound: an oscillator that glides in pitch, under an envelope that fades in over
// 2 ms and dies away exponentially, panned. left == 0 means the voice is free.
type voice struct {
	wave   wave
	delay  int     // samples before it starts
	left   int     // samples it still sounds once started
	phase  float32 // cycles, [0, 1)
	inc    float32 // cycles per sample
	glide  float32 // inc is multiplied by this every sample
	amp    float32 // envelope now
	decay  float32 // amp is multiplied by this every sample
	fade   float32 // the fade-in, 0 → 1
	gl, gr float32 // pan gains
	lpk    float32 // noise: low-pass coefficient, 0..1 (1 = white)
	lp     float32 // noise: low-pass state
	rng    uint32  // noise: xorshift state, never 0
}

// newVoice returns a voice of wave w whose pitch glides from hz to toHz while it dies away from
// amp to silence over dur seconds, panned by pan (−1 left … 1 right).
func newVoice(w wave, hz, toHz, dur, amp, pan float64) voice {
	n := max(1, int(dur*game.AudioRate))
	a := (clamp(pan, -1, 1) + 1) * math.Pi / 4 // equal-power pan
	return voice{
		wave:  w,
		left:  n,
		inc:   float32(hz / game.AudioRate),
		glide: float32(math.Pow(toHz/hz, 1/float64(n))),
		amp:   float32(amp),
		decay: float32(math.Pow(silence, 1/float64(n))),
		gl:    float32(math.Cos(a)),
		gr:    float32(math.Sin(a)),
		lpk:   1,
	}
}

// noiseVoice is a burst of noise low-passed by lpk (smaller is darker).
func noiseVoice(lpk, dur, amp, pan float64) voice {
	v := newVoice(noise, 1, 1, dur, amp, pan)
	v.lpk = float32(lpk)
	return v
}

// render adds the voice's next k samples into mix (interleaved stereo, 2k values).
func (v *voice) render(mix []float32, k int) {
	if v.delay >= k {
		v.delay -= k
		return
	}
	i := v.delay
	v.delay = 0
	n := min(k, i+v.left)
	v.left -= n - i
	// Locals, so that the loop keeps its state in registers while it writes mix.
	w, ph, inc, glide, amp, decay, fade := v.wave, v.phase, v.inc, v.glide, v.amp, v.decay, v.fade
	gl, gr, lpk, lp, rng := v.gl, v.gr, v.lpk, v.lp, v.rng
	mix = mix[:2*n]
	for ; i < n; i++ {
		var s float32
		switch w {
		case sine:
			s = sinCycle(ph)
		case square:
			s = 1
			if ph >= 0.5 {
				s = -1
			}
		case saw:
			s = 2*ph - 1
		case triangle:
			s = 4*abs32(ph-0.5) - 1
		case noise:
			rng ^= rng << 13
			rng ^= rng >> 17
			rng ^= rng << 5
			lp += lpk * (float32(int32(rng))*(1.0/(1<<31)) - lp)
			s = lp
		}
		s *= amp * fade
		mix[2*i] += s * gl
		mix[2*i+1] += s * gr
		if ph += inc; ph >= 1 {
			ph--
		}
		inc *= glide
		amp *= decay
		if fade < 1 {
			fade = min(1, fade+fadeStep)
		}
	}
	v.phase, v.inc, v.amp, v.fade, v.lp, v.rng = ph, inc, amp, fade, lp, rng
}

// sinCycle is sin(2πp) for p in [0, 1), within 0.1 %: a parabola, refined once.
func sinCycle(p float32) float32 {
	t := 2*p - 1
	y := 4 * t * (1 - abs32(t)) // sin(πt), roughly; sin(2πp) = −sin(πt)
	return -(y + 0.225*(y*abs32(y)-y))
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

// limit passes x through below knee and bends it smoothly towards ±1 above, so that a pile of
// sounds saturates instead of wrapping.
func limit(x float32) float32 {
	a := abs32(x)
	if a <= knee {
		return x
	}
	e := (a - knee) / (1 - knee)
	y := knee + (1-knee)*e/(1+e)
	if x < 0 {
		return -y
	}
	return y
}

// midiHz is the frequency of MIDI note n.
func midiHz(n int) float64 { return 440 * math.Pow(semitone, float64(n-midiA4)) }

// synth mixes the effect voices and the music into interleaved stereo int16.
type synth struct {
	voices  [maxVoices]voice
	music   music
	noMusic bool // tests: effects only
	rng     uint32
	mix     [2 * maxChunk]float32
	pcm     [2 * maxChunk]int16
}

// start plays v after delay samples, in a free voice or in place of the quietest.
func (s *synth) start(v voice, delay int) {
	if s.rng == 0 {
		s.rng = rngSeed
	}
	s.rng ^= s.rng << 13
	s.rng ^= s.rng >> 17
	s.rng ^= s.rng << 5
	v.rng, v.delay = s.rng, delay
	slot := &s.voices[0]
	for i := range s.voices {
		w := &s.voices[i]
		if w.left == 0 {
			slot = w
			break
		}
		if w.amp < slot.amp {
			slot = w
		}
	}
	*slot = v
}

// A minor pentatonic, for the chime that climbs with the combo.
var pentatonic = [...]int{0, 3, 5, 7, 10}

// play starts the sounds for one tick's cues, at samples from now.
//
//   - a shot: a "pew", a square wave gliding down two octaves in 110 ms; a spread is a lower,
//     longer, doubled one;
//   - a hit: a burst of noise and a low thump (a sine falling from 150 to 40 Hz), panned to
//     the explosion, and 20 ms later a chime that climbs the pentatonic scale with the combo;
//   - rammed: a low buzz (two detuned saws at 70 Hz, beating) over dark noise;
//   - the round lost: four falling notes; a new round otherwise: four rising notes.
func (s *synth) play(c *cues, at int) {
	switch {
	case c.shots == 1:
		s.start(newVoice(square, 1400, 350, 0.11, 0.2, c.shotPan), at)
	case c.shots > 1:
		s.start(newVoice(square, 950, 240, 0.16, 0.15, c.shotPan-0.1), at)
		s.start(newVoice(saw, 960, 242, 0.16, 0.15, c.shotPan+0.1), at)
	}
	if c.hits > 0 {
		lvl := hitLevel * min(1.6, 1+0.3*float64(c.hits-1))
		s.start(noiseVoice(0.45, 0.18, lvl, c.hitPan), at)
		s.start(newVoice(sine, 150, 40, 0.25, 1.6*lvl, c.hitPan/2), at)
		step := min(max(c.combo-1, 0), 2*len(pentatonic)-1)
		hz := midiHz(midiA4 + 12*(step/len(pentatonic)) + pentatonic[step%len(pentatonic)])
		s.start(newVoice(sine, hz, hz, 0.3, 0.1, c.hitPan), at+game.AudioRate/50)
	}
	if c.rammed {
		s.start(newVoice(saw, 70, 50, 0.45, 0.22, c.shipPan-0.2), at)
		s.start(newVoice(saw, 73.5, 52, 0.45, 0.22, c.shipPan+0.2), at)
		s.start(noiseVoice(0.08, 0.3, 0.5, c.shipPan), at)
	}
	switch {
	case c.lost:
		for i, n := range [...]int{64, 62, 60, 57} { // E D C A, falling
			s.start(newVoice(square, midiHz(n), midiHz(n), 0.3, 0.12, 0), at+(i+2)*game.AudioRate*16/100)
		}
	case c.round:
		for i, n := range [...]int{69, 72, 76, 81} { // A C E A, rising
			s.start(newVoice(triangle, midiHz(n), midiHz(n), 0.25, 0.2, 0), at+i*game.AudioRate*7/100)
		}
	}
}

// render mixes the next k samples (k <= maxChunk) and returns them as interleaved int16, valid
// until the next call.
func (s *synth) render(k int) []int16 {
	mix := s.mix[:2*k]
	clear(mix)
	for i := range s.voices {
		if s.voices[i].left > 0 {
			s.voices[i].render(mix, k)
		}
	}
	if !s.noMusic {
		s.music.render(mix, k)
	}
	pcm := s.pcm[:2*k]
	for i, x := range mix {
		pcm[i] = int16(limit(x) * pcmScale)
	}
	return pcm
}

// The music: four bars of sixteenth notes over A minor, F, C and G, an 8-second loop of a
// triangle-wave arpeggio that swings left and right over a triangle bass.
var (
	chords   = [4][3]int{{57, 60, 64}, {53, 57, 60}, {48, 52, 55}, {55, 59, 62}} // MIDI notes
	arpeggio = [16]int{0, 1, 2, 3, 4, 5, 4, 3, 2, 3, 4, 5, 6, 5, 4, 2}           // tone i%3 of the chord, i/3 octaves up
	bassLine = [16]int{0, -1, 0, -1, 12, -1, 0, -1, 0, -1, 0, 7, 12, -1, 7, -1}  // semitones over the root an octave down; −1 rests
)

// music is the sequencer. Two voices each for the arpeggio and the bass take turns, so that a
// note rings out while the next one starts.
type music struct {
	step   int // the next sixteenth note, 0..loopSteps-1
	left   int // samples until it starts
	voices [4]voice
	turn   int // which voice of each pair plays next
}

func (m *music) render(mix []float32, k int) {
	for i := 0; i < k; {
		if m.left == 0 {
			m.next()
			m.left = stepLen
		}
		n := min(k-i, m.left)
		seg := mix[2*i : 2*(i+n)]
		for j := range m.voices {
			if m.voices[j].left > 0 {
				m.voices[j].render(seg, n)
			}
		}
		i += n
		m.left -= n
	}
}

// next starts the notes of the current step and moves on.
func (m *music) next() {
	chord, s := chords[m.step/16], m.step%16
	a := arpeggio[s]
	pan := musicPan
	if s%2 == 1 {
		pan = -pan
	}
	hz := midiHz(chord[a%3] + 12*(a/3))
	m.voices[m.turn] = newVoice(triangle, hz, hz, stepTime, musicArp, pan)
	if b := bassLine[s]; b >= 0 {
		hz := midiHz(chord[0] - 12 + b)
		m.voices[2+m.turn] = newVoice(triangle, hz, hz, 2*stepTime, musicBass, 0)
	}
	m.turn ^= 1
	m.step = (m.step + 1) % loopSteps
}
