package gameproc

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/gameproto"
)

// TestHandleRejects checks the loop's verdict on messages a game must not send, without a
// process: every case is refused before anything is sent.
func TestHandleRejects(t *testing.T) {
	pool, err := gameproto.NewBufferPool(gameproto.RGBA, 64, 48, frameSlots)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		state state
		m     gameproto.Message
		want  error
	}{
		{"host's message", stateStarted, gameproto.Release{Slot: 0}, ErrProtocol},
		{"ready before hello", stateSpawned, gameproto.Ready{}, ErrProtocol},
		{"second hello", stateLoading, gameproto.Hello{Major: 1}, ErrProtocol},
		{"started before assign", stateLoading, gameproto.Started{}, ErrProtocol},
		{"frame before started", stateStarting, gameproto.FrameReady{Slot: 0, Seq: 9}, ErrProtocol},
		{"slot past the pool", stateStarted, gameproto.FrameReady{Slot: frameSlots, Seq: 9}, ErrProtocol},
		{"seq not increasing", stateStarted, gameproto.FrameReady{Slot: 0, Seq: 5}, ErrProtocol},
		{"audio without a pool", stateStarted, gameproto.AudioReady{Slot: 0, Frames: 1}, ErrProtocol},
		{"loading after ready", stateStarted, gameproto.Loading{UntilMS: 1000}, ErrProtocol},
		{"fatal while loading", stateLoading, gameproto.Fatal{Text: "no assets"}, ErrStartFailed},
		{"fatal while started", stateStarted, gameproto.Fatal{Text: "out of memory"}, ErrCrashed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &run{
				g:     &Game{cmd: Command{StallTimeout: DefaultStallTimeout}},
				log:   slog.Default(),
				state: tt.state, deadline: time.NewTimer(time.Hour),
				pool: pool, mem: make([]byte, pool.Size()), frames: game.NewFramePool(64, 48),
				lastSeq: 5,
			}
			defer r.deadline.Stop()
			err := r.handle(context.Background(), tt.m, func(f *game.Frame) {
				t.Error("a frame reached the sink")
				f.Release()
			})
			if !errors.Is(err, tt.want) {
				t.Fatalf("handle(%s): %v, want %v", tt.m.Type(), err, tt.want)
			}
		})
	}
}
