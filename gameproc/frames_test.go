package gameproc

import (
	"errors"
	"testing"

	"github.com/edgeplay/edgeplay/gameproto"
)

// A lent frame reads the shared memory itself; its Release gives the slot back once, and the
// mapping outlives the run until the last lent frame is back.
func TestSlotsLendAndBack(t *testing.T) {
	pool, err := gameproto.NewBufferPool(gameproto.RGBA, 64, 48, frameSlots)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gameproto.NewMemfd("test-frames", pool.Size())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mem, err := gameproto.Map(int(f.Fd()), pool.Size())
	if err != nil {
		t.Fatal(err)
	}
	s := newSlots(pool, mem)
	pool.Plane(pool.Slot(mem, 2), 0)[0] = 0x7f

	fr, err := s.lend(gameproto.FrameReady{Slot: 2})
	if err != nil {
		t.Fatal(err)
	}
	if fr.Width != 64 || fr.Height != 48 || fr.Stride != int(pool.Planes[0].Stride) || fr.Pix[0] != 0x7f {
		t.Fatalf("frame %dx%d stride %d pix[0] %#x: not slot 2", fr.Width, fr.Height, fr.Stride, fr.Pix[0])
	}
	if _, err := s.lend(gameproto.FrameReady{Slot: 2}); !errors.Is(err, ErrProtocol) {
		t.Fatalf("lending a lent slot: %v, want %v", err, ErrProtocol)
	}

	s.close() // the run is over, the session still encodes slot 2
	if fr.Pix[0] != 0x7f {
		t.Fatal("the lent frame changed")
	}
	s.mu.Lock()
	mapped := s.mem != nil
	s.mu.Unlock()
	if !mapped {
		t.Fatal("unmapped while a frame is lent")
	}
	fr.Release()
	fr.Release() // a second Release does nothing
	if len(s.released) != 1 || <-s.released != 2 {
		t.Fatal("release did not hand slot 2 back exactly once")
	}
	s.mu.Lock()
	mapped = s.mem != nil
	s.mu.Unlock()
	if mapped {
		t.Fatal("still mapped after the run ended and the last frame came back")
	}
}
