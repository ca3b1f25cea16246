package gameproc

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/gameproto"
)

// slots is the frame pool's mapping and its slots as the host sees them. The host encodes
// straight from the shared memory: a submitted slot is lent to the session as a borrowed
// game.Frame, and its Release hands the slot back to the game (docs/SDK.md, "Ownership").
// The mapping outlives the run while frames are lent: it is unmapped when the run is over
// and the last frame is back, so a late encoder never reads unmapped memory.
type slots struct {
	pool     gameproto.BufferPool
	frames   []*game.Frame // one per slot, reused: a slot is lent once at a time
	lent     []atomic.Bool // slot k is the host's (the session holds its frame)
	released chan uint8    // Release → the loop, which sends release; capacity: every slot

	mu   sync.Mutex
	mem  []byte // guarded by mu; nil once unmapped
	out  int    // guarded by mu: frames lent
	over bool   // guarded by mu: the run is over; unmap when out reaches 0
}

// poolFormat is the frame pool's format for a game with the agreed caps: I420 if it renders
// I420, else NV12 if it renders NV12, else RGBA. YUV spares the host its RGBA conversion (the
// encoder copies the planes, doc of package encoder); I420 first because it is the picture
// the software encoders read, where NV12's chroma must be taken apart.
func poolFormat(caps uint32) gameproto.PixelFormat {
	switch {
	case caps&gameproto.CapI420 != 0:
		return gameproto.I420
	case caps&gameproto.CapNV12 != 0:
		return gameproto.NV12
	}
	return gameproto.RGBA
}

// frameFormat is the format of the frames lent from a pool of format f.
func frameFormat(f gameproto.PixelFormat) game.PixelFormat {
	switch f {
	case gameproto.I420:
		return game.I420
	case gameproto.NV12:
		return game.NV12
	}
	return game.RGBA
}

func newSlots(pool gameproto.BufferPool, mem []byte) *slots {
	s := &slots{
		pool: pool, mem: mem, frames: make([]*game.Frame, pool.NSlots),
		lent: make([]atomic.Bool, pool.NSlots), released: make(chan uint8, pool.NSlots),
	}
	w, h := int(pool.Width), int(pool.Height)
	for k := range s.frames {
		slot := pool.Slot(mem, k)
		back := func() { s.back(uint8(k)) }
		if pool.Format == gameproto.RGBA {
			s.frames[k] = game.BorrowedFrame(w, h, int(pool.Planes[0].Stride), pool.Plane(slot, 0), back)
			continue
		}
		var planes [3][]byte
		var strides [3]int
		for i := range planes {
			if pl := pool.Plane(slot, i); pl != nil {
				planes[i], strides[i] = pl, int(pool.Planes[i].Stride)
			}
		}
		s.frames[k] = game.BorrowedYUVFrame(frameFormat(pool.Format), w, h, planes, strides, back)
	}
	return s
}

// lend hands slot m.Slot to the session as its frame, or says why it cannot: the host holds
// it already (the game submitted a slot it does not own).
func (s *slots) lend(m gameproto.FrameReady) (*game.Frame, error) {
	if !s.lent[m.Slot].CompareAndSwap(false, true) {
		return nil, fmt.Errorf("%w: frame_ready for slot %d, which the host holds", ErrProtocol, m.Slot)
	}
	s.mu.Lock()
	s.out++
	s.mu.Unlock()
	return s.frames[m.Slot], nil
}

// back is a lent frame's Release: the slot goes back to the game (through the loop) and,
// once the run is over and nothing is lent, the mapping goes. A second Release of the same
// frame does nothing.
func (s *slots) back(k uint8) {
	if !s.lent[k].CompareAndSwap(true, false) {
		return
	}
	select {
	case s.released <- k: // never full: at most one entry per slot
	default:
	}
	s.mu.Lock()
	s.out--
	s.unmapLocked()
	s.mu.Unlock()
}

// close marks the run over: the mapping goes now, or with the last lent frame.
func (s *slots) close() {
	s.mu.Lock()
	s.over = true
	s.unmapLocked()
	s.mu.Unlock()
}

func (s *slots) unmapLocked() {
	if s.over && s.out == 0 && s.mem != nil {
		_ = gameproto.Unmap(s.mem)
		s.mem = nil
	}
}
