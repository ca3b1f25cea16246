package gameproc

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/gameproto"
)

// BenchmarkFrameHandoff is the cost of one 1280×720 RGBA frame crossing the process boundary
// with zero copy, both sides' work on one goroutine: the game's frame_ready, the host's
// receive, check and lend, the session's Release, the host's release and the game's receive
// of it. The pixels are not touched: that is the point.
func BenchmarkFrameHandoff(b *testing.B) {
	r, gameSide := handoffRun(b)
	ctx := context.Background()
	sink := func(f *game.Frame) { f.Release() }
	b.ResetTimer()
	for i := range b.N {
		m := gameproto.FrameReady{Slot: uint8(i % frameSlots), Seq: uint64(i + 1), PTS: uint64(monotonicNS())}
		if err := gameSide.Send(m); err != nil {
			b.Fatal(err)
		}
		got, _, err := r.conn.Recv()
		if err != nil {
			b.Fatal(err)
		}
		if err := r.handle(ctx, got, sink); err != nil {
			b.Fatal(err)
		}
		if err := r.release(<-r.slots.released); err != nil {
			b.Fatal(err)
		}
		if _, _, err := gameSide.Recv(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFrameCopy is what the hand-off would cost on top if the host copied each 1280×720
// RGBA frame out of the shared memory (as the first slice did).
func BenchmarkFrameCopy(b *testing.B) {
	r, _ := handoffRun(b)
	src := r.slots.frames[0].Pix
	dst := make([]byte, len(src))
	b.SetBytes(int64(len(src)))
	b.ResetTimer()
	for range b.N {
		copy(dst, src)
	}
}

// handoffRun is a started run over a socket pair with a 720p frame pool in a real memfd.
func handoffRun(b *testing.B) (*run, *gameproto.Conn) {
	b.Helper()
	host, gameSide, err := gameproto.Pair()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = host.Close(); _ = gameSide.Close() })
	pool, err := gameproto.NewBufferPool(gameproto.RGBA, 1280, 720, frameSlots)
	if err != nil {
		b.Fatal(err)
	}
	f, err := gameproto.NewMemfd("bench-frames", pool.Size())
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	mem, err := gameproto.Map(int(f.Fd()), pool.Size())
	if err != nil {
		b.Fatal(err)
	}
	r := &run{
		cmd: Command{StallTimeout: DefaultStallTimeout}, log: slog.Default(), conn: host,
		state: stateStarted, deadline: time.NewTimer(time.Hour), pool: pool, slots: newSlots(pool, mem),
	}
	for k := range r.slots.frames { // fault the pages in, as a running game would have
		clear(r.slots.frames[k].Pix)
	}
	b.Cleanup(func() { r.deadline.Stop(); r.slots.close() })
	return r, gameSide
}
