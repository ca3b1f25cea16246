package gameproc

import (
	"context"
	"encoding/binary"
	"log/slog"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/gameproto"
)

// FuzzHandle feeds the host's loop any sequence of well-formed game messages (what
// gameproto.Decode accepts) in any state: whatever a game sends, the host refuses it with an
// error or takes it — it never panics, never lends a slot twice, and gives back every mapping.
// The input is its first byte (the state to start in) and then datagrams, each an 8-byte
// header and its payload as the link carries them.
func FuzzHandle(f *testing.F) {
	seq := func(st state, ms ...gameproto.Message) []byte {
		b := []byte{byte(st)}
		for _, m := range ms {
			b = m.Append(b)
		}
		return b
	}
	f.Add(seq(stateSpawned, gameproto.Hello{Major: 1, Caps: gameproto.CapInput | gameproto.CapAudio, SDK: "fuzz"}, gameproto.Ready{}, gameproto.Started{}))
	f.Add(seq(stateLoading, gameproto.Loading{UntilMS: 2000}, gameproto.Ready{}, gameproto.Ping{}))
	f.Add(seq(stateStarted, gameproto.FrameReady{Slot: 0, Seq: 1}, gameproto.FrameReady{Slot: 1, Seq: 2}, gameproto.FrameReady{Slot: 0, Seq: 3}))
	f.Add(seq(stateStarted, gameproto.AudioReady{Slot: 1, Frames: 480}, gameproto.Log{Level: 2, Text: "x"}, gameproto.Ending{Result: `{"a":1}`}))
	f.Add(seq(stateStarting, gameproto.Started{}, gameproto.Fatal{Text: "no"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		st := state(b[0] % byte(stateEnding+1))
		r := fuzzRun(t, st)
		var held []*game.Frame
		sink := func(f *game.Frame) { held = append(held, f) }
		for rest := b[1:]; len(rest) >= gameproto.HeaderSize; {
			n := gameproto.HeaderSize + int(binary.LittleEndian.Uint32(rest[4:]))
			if n > len(rest) || n < gameproto.HeaderSize {
				break
			}
			m, err := gameproto.Decode(rest[:n])
			rest = rest[n:]
			if err != nil {
				continue // the reader would have ended the run; other messages still teach
			}
			if err := r.handle(context.Background(), m, sink); err != nil {
				break
			}
			if len(held) > 1 { // the session lets go of all but the newest
				for _, f := range held[:len(held)-1] {
					f.Release()
				}
				held = held[len(held)-1:]
			}
		}
		for _, f := range held {
			f.Release()
		}
		if r.slots != nil {
			r.slots.close()
			r.slots.mu.Lock()
			mapped := r.slots.mem != nil
			r.slots.mu.Unlock()
			if mapped {
				t.Fatal("the frame pool is still mapped after every frame came back")
			}
		}
	})
}

// fuzzRun is a run in state st over a socket pair whose game side nobody reads (the loop's
// sends fit in the socket's buffer: a few messages per input), with the pools a run has in
// that state.
func fuzzRun(t *testing.T, st state) *run {
	t.Helper()
	host, gameSide, err := gameproto.Pair()
	if err != nil {
		t.Fatal(err)
	}
	r := &run{
		cmd: Command{StartTimeout: time.Second, ReadyTimeout: time.Second, StallTimeout: DefaultStallTimeout},
		cfg: game.Config{Width: 64, Height: 48, FPS: 30}, log: slog.New(slog.DiscardHandler),
		glog: &gameLog{log: slog.New(slog.DiscardHandler)}, conn: host, state: st,
		deadline: time.NewTimer(time.Hour), g: &Game{cfg: game.Config{Session: "s-fuzz"}},
	}
	t.Cleanup(func() {
		r.deadline.Stop()
		_ = host.Close()
		_ = gameSide.Close()
		if r.amem != nil {
			_ = gameproto.Unmap(r.amem)
		}
	})
	if st == stateSpawned {
		return r // welcome maps the pools
	}
	r.caps = gameproto.CapInput | gameproto.CapAudio
	pool, err := gameproto.NewBufferPool(gameproto.RGBA, 64, 48, frameSlots)
	if err != nil {
		t.Fatal(err)
	}
	r.pool, r.slots = pool, newSlots(pool, mapMemfd(t, pool.Size()))
	r.apool, err = gameproto.NewAudioPool(gameproto.S16, audioSlotFrames, audioSlots)
	if err != nil {
		t.Fatal(err)
	}
	r.amem = mapMemfd(t, r.apool.Size())
	r.pcm = make([]int16, audioSlotFrames*2)
	return r
}

func mapMemfd(t *testing.T, size int64) []byte {
	t.Helper()
	f, err := gameproto.NewMemfd("fuzz", size)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mem, err := gameproto.Map(int(f.Fd()), size)
	if err != nil {
		t.Fatal(err)
	}
	return mem
}
