package gamesdk

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/edgeplay/edgeplay/gameproto"
)

// Audio is one audio slot the game fills with sound: Frames frames (one sample per channel) of
// interleaved samples, L R L R …, at the pool's rate (48 kHz). It is valid from AcquireAudio
// until SubmitAudio or DiscardAudio (and never after Close).
type Audio struct {
	Slot     int
	Format   gameproto.SampleFormat // S16 or F32, as the host's audio pool says
	Channels int                    // 2
	Frames   int                    // the most frames the slot holds (the pool's slot_frames)
	// S16 (an S16 pool) or F32 (an F32 pool, −1..1) holds Frames×Channels samples; the other is
	// nil. They are the shared memory itself when the slot is aligned for the sample type and
	// the machine is little-endian (always, with edgeplay's layout); otherwise a buffer that
	// SubmitAudio copies into the slot.
	S16 []int16
	F32 []float32
}

// audioSlots is the game's view of the audio pool: who owns each slot, and each slot's
// samples.
type audioSlots struct {
	state [gameproto.MaxAudioSlots]slotState
	bufs  [gameproto.MaxAudioSlots]Audio
	// direct: the samples are views of the mapping (aligned, little-endian); otherwise each
	// slot has its own buffer, copied into the mapping at submit.
	direct bool
}

// littleEndian reports whether the machine stores integers and floats as the wire does.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// layout prepares the slots' sample views for pool a mapped at mem, every slot the game's.
func (s *audioSlots) layout(a gameproto.AudioPool, mem []byte) {
	size := sampleBytes(a.Format)
	*s = audioSlots{direct: littleEndian && int(a.SlotSize)%size == 0}
	n := int(a.SlotFrames) * int(a.Channels)
	for k := range int(a.NSlots) {
		b := &s.bufs[k]
		*b = Audio{Slot: k, Format: a.Format, Channels: int(a.Channels), Frames: int(a.SlotFrames)}
		off := k * int(a.SlotSize)
		switch {
		case a.Format == gameproto.S16 && s.direct:
			b.S16 = unsafe.Slice((*int16)(unsafe.Pointer(&mem[off])), n)
		case a.Format == gameproto.S16:
			b.S16 = make([]int16, n)
		case s.direct:
			b.F32 = unsafe.Slice((*float32)(unsafe.Pointer(&mem[off])), n)
		default:
			b.F32 = make([]float32, n)
		}
	}
}

func sampleBytes(f gameproto.SampleFormat) int {
	if f == gameproto.F32 {
		return 4
	}
	return 2
}

// AcquireAudio hands out a free audio slot to fill, and false when there is no audio pool
// (audio was not agreed), the game is not started, or every slot is with the host or already
// acquired: the game then drops that piece of sound, or keeps it for later (it never waits).
func (g *Game) AcquireAudio() (*Audio, bool) {
	if g.err != nil || g.state != stateStarted || g.audioMem == nil {
		return nil, false
	}
	for k := range int(g.audio.NSlots) {
		if g.audioSlots.state[k] == slotFree {
			g.audioSlots.state[k] = slotGame
			return &g.audioSlots.bufs[k], true
		}
	}
	return nil, false
}

// audioAcquired checks that a is an audio slot AcquireAudio handed out and that is not yet
// submitted.
func (g *Game) audioAcquired(a *Audio) error {
	if a == nil || g.audioMem == nil || a.Slot < 0 || a.Slot >= int(g.audio.NSlots) || a != &g.audioSlots.bufs[a.Slot] {
		return fmt.Errorf("%w: not an audio slot of this game's current audio pool", ErrArg)
	}
	if s := g.audioSlots.state[a.Slot]; s != slotGame {
		return fmt.Errorf("%w: audio slot %d is %s", ErrState, a.Slot, s)
	}
	return nil
}

// SubmitAudio hands the first frames frames (1..a.Frames) of a to the host (audio_ready);
// ptsNS is the CLOCK_MONOTONIC time, in nanoseconds, at which the first of them belongs, on
// the frames' clock (see MonotonicNS). The game sends its sound in order and without gaps
// (silence as zeros); a ptsNS well past the end of the previous piece marks a break, which
// the host fills with silence. The slot is the host's until AudioReleased: the game must not
// touch a afterwards. It sends a heartbeat when one is due.
func (g *Game) SubmitAudio(a *Audio, frames int, ptsNS uint64) error {
	if g.err != nil {
		return g.err
	}
	if err := g.audioAcquired(a); err != nil {
		return err
	}
	if frames < 1 || frames > a.Frames {
		return fmt.Errorf("%w: %d audio frames, the slot holds 1..%d", ErrArg, frames, a.Frames)
	}
	if !g.audioSlots.direct {
		g.copyAudio(a, frames)
	}
	m := gameproto.AudioReady{Slot: uint8(a.Slot), Frames: uint32(frames), PTS: ptsNS}
	if err := g.send(m, stateStarted); err != nil {
		return err
	}
	g.audioSlots.state[a.Slot] = slotHost
	return g.pingIfDue()
}

// copyAudio writes the first frames frames of a's buffer into its slot, little-endian.
func (g *Game) copyAudio(a *Audio, frames int) {
	dst := g.audioMem[a.Slot*int(g.audio.SlotSize):]
	n := frames * a.Channels
	if a.S16 != nil {
		for i, v := range a.S16[:n] {
			binary.LittleEndian.PutUint16(dst[2*i:], uint16(v))
		}
		return
	}
	for i, v := range a.F32[:n] {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
	}
}

// DiscardAudio gives an acquired audio slot back unsubmitted.
func (g *Game) DiscardAudio(a *Audio) error {
	if err := g.audioAcquired(a); err != nil {
		return err
	}
	g.audioSlots.state[a.Slot] = slotFree
	return nil
}

// audioIdle checks that the audio pool may be replaced: no audio slot is with the host or
// being filled.
func (g *Game) audioIdle() error {
	for k, s := range g.audioSlots.state {
		if s != slotFree {
			return fmt.Errorf("%w: audio_pool while audio slot %d is %s", ErrProtocol, k, s)
		}
	}
	return nil
}

// MonotonicNS is CLOCK_MONOTONIC now, in nanoseconds: the clock of frame_ready's and
// audio_ready's pts. Go's own monotonic clock (time.Now, time.Since) runs on it on Linux, so
// a time.Time t from time.Now converts as MonotonicNS() - uint64(time.Since(t)).
func MonotonicNS() uint64 { return monotonicNS() }
