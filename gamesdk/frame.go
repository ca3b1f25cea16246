package gamesdk

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/edgeplay/edgeplay/gameproto"
)

// slotState is who has a frame slot.
type slotState uint8

const (
	slotFree slotState = iota // the game's, not handed out
	slotGame                  // handed out by AcquireFrame, being rendered into
	slotHost                  // sent with frame_ready, until release
)

func (s slotState) String() string {
	return [...]string{"free", "acquired by the game", "held by the host"}[s]
}

// Frame is one frame slot the game renders into: views of the shared memory, valid from
// AcquireFrame until SubmitFrame or Discard (and never after Close). Use the strides given;
// rows are not packed.
type Frame struct {
	Slot          int
	Format        gameproto.PixelFormat
	Width, Height int
	// Planes and Strides: RGBA has one plane (4 bytes per pixel, R G B A); I420 has Y, U, V;
	// NV12 has Y and interleaved UV. Planes past the format's are nil. Chroma planes are half
	// the width and height.
	Planes  [3][]byte
	Strides [3]int
	// Marker says the game drew edgeplay's latency marker (game/marker) into the frame.
	Marker bool
}

// AcquireFrame hands out a free slot to render into, and false when the game is not started
// or every slot is with the host or already acquired: the game then skips rendering this
// frame (it never waits for one).
func (g *Game) AcquireFrame() (*Frame, bool) {
	if g.err != nil || g.state != stateStarted || g.mem == nil {
		return nil, false
	}
	n := int(g.pool.NSlots)
	for i := range n {
		k := (g.next + i) % n
		if g.slots[k] != slotFree {
			continue
		}
		g.slots[k] = slotGame
		g.next = (k + 1) % n
		f := &g.frames[k]
		*f = Frame{
			Slot: k, Format: g.pool.Format,
			Width: int(g.pool.Width), Height: int(g.pool.Height),
		}
		slot := g.pool.Slot(g.mem, k)
		for i := range f.Planes {
			if pl := g.pool.Plane(slot, i); pl != nil {
				f.Planes[i], f.Strides[i] = pl, int(g.pool.Planes[i].Stride)
			}
		}
		return f, true
	}
	return nil, false
}

// acquired checks that f is a frame AcquireFrame handed out and that is not yet submitted.
func (g *Game) acquired(f *Frame) error {
	if f == nil || f.Slot < 0 || f.Slot >= int(g.pool.NSlots) || f != &g.frames[f.Slot] {
		return fmt.Errorf("%w: not a frame of this game's current pool", ErrArg)
	}
	if s := g.slots[f.Slot]; s != slotGame {
		return fmt.Errorf("%w: slot %d is %s", ErrState, f.Slot, s)
	}
	return nil
}

// SubmitFrame hands f to the host (frame_ready) with the next frame number and the time now;
// inputSeq is the Seq of the last input event applied before rendering it (0: none yet). The
// slot is the host's until it is Released: the game must not touch f afterwards. It sends a
// heartbeat when one is due.
func (g *Game) SubmitFrame(f *Frame, inputSeq uint32) error {
	return g.submitFrame(f, inputSeq, monotonicNS())
}

// submitFrame is SubmitFrame with the frame's pts: CLOCK_MONOTONIC when it was finished.
func (g *Game) submitFrame(f *Frame, inputSeq uint32, pts uint64) error {
	if g.err != nil {
		return g.err
	}
	if err := g.acquired(f); err != nil {
		return err
	}
	var flags uint8
	if f.Marker {
		flags = gameproto.FrameMarker
	}
	m := gameproto.FrameReady{Slot: uint8(f.Slot), Flags: flags, InputSeq: inputSeq, Seq: g.seq + 1, PTS: pts}
	if err := g.send(m, stateStarted); err != nil {
		return err
	}
	g.seq++
	g.slots[f.Slot] = slotHost
	*f = Frame{Slot: f.Slot}
	return g.pingIfDue()
}

// Discard gives an acquired frame back unsubmitted.
func (g *Game) Discard(f *Frame) error {
	if err := g.acquired(f); err != nil {
		return err
	}
	g.slots[f.Slot] = slotFree
	*f = Frame{Slot: f.Slot}
	return nil
}

// monotonicNS is CLOCK_MONOTONIC in nanoseconds, the clock of frame_ready's pts.
func monotonicNS() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) // cannot fail for this clock
	return uint64(ts.Nano())
}
