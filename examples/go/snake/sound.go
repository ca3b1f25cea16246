package main

import (
	"math"
	"time"

	"github.com/edgeplay/edgeplay/gamesdk"
)

const (
	rate     = 48000                  // the pool's rate: the protocol has only this one
	maxLag   = 100 * time.Millisecond // behind by more (a stall): skip ahead, do not catch up
	beepGain = 0.25
)

// sound is the game's sound: silence with a beep now and then, streamed into the host's audio
// slots without gaps, each piece with its pts on CLOCK_MONOTONIC (the clock of the frames), so
// that the host keeps it in step with the picture. Sample n of the stream belongs at anchor +
// n/rate.
type sound struct {
	anchor uint64 // CLOCK_MONOTONIC ns of sample 0
	n      int64  // frames (a sample per channel) sent since anchor

	// The beep playing: left of length frames to go.
	hz           float64
	left, length int
	phase        float64 // cycles
}

// start anchors the stream at now (CLOCK_MONOTONIC ns).
func (s *sound) start(now uint64) { s.anchor, s.n = now, 0 }

// beep starts a tone of hz for d that fades out.
func (s *sound) beep(hz float64, d time.Duration) {
	s.hz, s.length, s.phase = hz, int(d*rate/time.Second), 0
	s.left = s.length
}

// framesAt is how many frames of the stream lie between the anchor and t (CLOCK_MONOTONIC ns).
func (s *sound) framesAt(t uint64) int64 {
	d := int64(t - s.anchor)
	sec := int64(time.Second)
	return d/sec*rate + d%sec*rate/sec
}

// at is the pts of frame n.
func (s *sound) at(n int64) uint64 {
	sec := int64(time.Second)
	return s.anchor + uint64(n/rate*sec+n%rate*sec/rate)
}

// send hands the host the sound from where the stream is up to lead past now, in slot-sized
// pieces. Without a free slot it stops and goes on at the next frame; more than maxLag behind
// it skips ahead, and the jump in pts tells the host to fill the gap with silence.
func (s *sound) send(g *gamesdk.Game, lead time.Duration) error {
	now := gamesdk.MonotonicNS()
	target := s.framesAt(now + uint64(lead))
	if target-s.n > int64(maxLag*rate/time.Second) {
		s.n = s.framesAt(now)
	}
	for s.n < target {
		a, ok := g.AcquireAudio()
		if !ok {
			return nil // every slot is with the host
		}
		k := int(min(target-s.n, int64(a.Frames)))
		s.render(a, k)
		if err := g.SubmitAudio(a, k, s.at(s.n)); err != nil {
			return err
		}
		s.n += int64(k)
	}
	return nil
}

// render writes the next k frames of the stream into a, in the pool's sample format.
func (s *sound) render(a *gamesdk.Audio, k int) {
	for i := range k {
		var v float64
		if s.left > 0 {
			v = beepGain * float64(s.left) / float64(s.length) * math.Sin(2*math.Pi*s.phase)
			s.phase += s.hz / rate
			s.phase -= math.Floor(s.phase)
			s.left--
		}
		for ch := range a.Channels {
			j := i*a.Channels + ch
			if a.S16 != nil {
				a.S16[j] = int16(v * math.MaxInt16)
			} else {
				a.F32[j] = float32(v)
			}
		}
	}
}
