package media

import (
	"testing"

	"github.com/edgeplay/edgeplay/game"
)

func TestMailboxNewestWins(t *testing.T) {
	pool := game.NewFramePool(16, 16)
	m := newMailbox()
	if m.take() != nil {
		t.Fatal("empty mailbox returned a frame")
	}
	for i := range 3 {
		f := pool.Get()
		f.Seq = uint64(i + 1)
		m.put(f)
	}
	if got := m.dropped.Load(); got != 2 {
		t.Fatalf("dropped %d, want 2", got)
	}
	select {
	case <-m.ready:
	default:
		t.Fatal("ready not signalled")
	}
	f := m.take()
	if f == nil || f.Seq != 3 {
		t.Fatalf("took %+v, want frame 3", f)
	}
	if m.take() != nil {
		t.Fatal("second take returned a frame")
	}
	m.put(pool.Get())
	m.drain()
	if m.take() != nil {
		t.Fatal("drain left a frame")
	}
}

// After drain, frames put are released at once: a borrowed frame (a game process's shared
// memory) is never stranded in a mailbox nobody reads.
func TestMailboxReleasesAfterDrain(t *testing.T) {
	m := newMailbox()
	released := 0
	borrowed := func() *game.Frame {
		return game.BorrowedFrame(16, 16, 64, make([]byte, 64*16), func() { released++ })
	}
	m.put(borrowed())
	m.drain()
	if released != 1 {
		t.Fatalf("drain released %d frames, want 1", released)
	}
	m.put(borrowed())
	if released != 2 || m.take() != nil {
		t.Fatalf("a frame put after drain: %d released, want 2 and an empty mailbox", released)
	}
}
