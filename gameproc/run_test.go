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
		{"slot the host holds", stateStarted, gameproto.FrameReady{Slot: 1, Seq: 9}, ErrProtocol},
		{"audio without a pool", stateStarted, gameproto.AudioReady{Slot: 0, Frames: 1}, ErrProtocol},
		{"loading after ready", stateStarted, gameproto.Loading{UntilMS: 1000}, ErrProtocol},
		{"fatal while loading", stateLoading, gameproto.Fatal{Text: "no assets"}, ErrStartFailed},
		{"fatal while started", stateStarted, gameproto.Fatal{Text: "out of memory"}, ErrCrashed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &run{
				cmd:   Command{StallTimeout: DefaultStallTimeout},
				log:   slog.Default(),
				state: tt.state, deadline: time.NewTimer(time.Hour),
				pool: pool, slots: newSlots(pool, make([]byte, pool.Size())),
				lastSeq: 5,
			}
			if _, err := r.slots.lend(gameproto.FrameReady{Slot: 1}); err != nil { // the host holds slot 1
				t.Fatal(err)
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

// TestSound checks the host's side of the game's sound: an audio_ready's samples reach the
// audio sink with the pts on the host's clock, the slot goes straight back, and a bad slot or
// frame count is a protocol error.
func TestSound(t *testing.T) {
	host, gameSide, err := gameproto.Pair()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	defer gameSide.Close()
	var chunks []game.AudioChunk
	r := &run{
		cmd: Command{StallTimeout: DefaultStallTimeout}, log: slog.Default(), conn: host,
		state: stateStarted, deadline: time.NewTimer(time.Hour),
		audio: func(c game.AudioChunk) {
			c.PCM = append([]int16(nil), c.PCM...) // valid only during the call
			chunks = append(chunks, c)
		},
	}
	defer r.deadline.Stop()
	pool, err := gameproto.NewAudioPool(gameproto.S16, audioSlotFrames, audioSlots)
	if err != nil {
		t.Fatal(err)
	}
	r.apool, r.amem = pool, make([]byte, pool.Size())
	r.pcm = make([]int16, audioSlotFrames*2)
	slot := r.amem[2*int(pool.SlotSize):]
	for i := range 4 { // 2 frames: L R L R = 1, -2, 3, -4
		v := int16((i + 1) * (1 - 2*(i%2)))
		slot[2*i], slot[2*i+1] = byte(v), byte(uint16(v)>>8)
	}
	pts := monotonicNS() + int64(20*time.Millisecond)
	if err := r.handle(context.Background(), gameproto.AudioReady{Slot: 2, Frames: 2, PTS: uint64(pts)}, nil); err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 1 || len(chunks[0].PCM) != 4 || chunks[0].PCM[0] != 1 || chunks[0].PCM[3] != -4 {
		t.Fatalf("chunks %+v, want one of 1 -2 3 -4", chunks)
	}
	if d := time.Until(chunks[0].Start); d < 10*time.Millisecond || d > 30*time.Millisecond {
		t.Errorf("chunk starts in %v, want about 20 ms (its pts)", d)
	}
	m, _, err := gameSide.Recv()
	if err != nil || m != (gameproto.AudioRelease{Slot: 2}) {
		t.Fatalf("the game got %v, %v; want audio_release of slot 2", m, err)
	}
	// A pts far off is taken as now.
	if err := r.handle(context.Background(), gameproto.AudioReady{Slot: 0, Frames: 1, PTS: 1}, nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(chunks[1].Start); d < 0 || d > time.Second {
		t.Errorf("a chunk with pts 1 starts %v ago, want now", d)
	}
	for _, bad := range []gameproto.AudioReady{{Slot: audioSlots, Frames: 1}, {Slot: 0, Frames: audioSlotFrames + 1}} {
		if err := r.handle(context.Background(), bad, nil); !errors.Is(err, ErrProtocol) {
			t.Errorf("audio_ready %+v: %v, want %v", bad, err, ErrProtocol)
		}
	}
}

// A game that sends sound, then ending, and exits at once ended the session itself, even
// though the host's audio_release for that sound finds the link closed: the host reads what
// the game sent before it went before it decides (the race TestGoSDKEndToEnd once hit).
func TestEndingAfterClosedLink(t *testing.T) {
	host, gameSide, err := gameproto.Pair()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	pool, err := gameproto.NewAudioPool(gameproto.S16, audioSlotFrames, audioSlots)
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	r := &run{
		cmd: Command{StallTimeout: DefaultStallTimeout}, log: slog.Default(), conn: host,
		ch:   &child{exited: exited},
		msgs: make(chan recvd), quit: make(chan struct{}), readerDone: make(chan struct{}),
		state: stateStarted, deadline: time.NewTimer(time.Hour), heard: time.NewTimer(time.Hour),
		apool: pool, amem: make([]byte, pool.Size()), pcm: make([]int16, audioSlotFrames*2),
	}
	defer r.deadline.Stop()
	defer r.heard.Stop()
	for _, m := range []gameproto.Message{gameproto.AudioReady{Slot: 0, Frames: 480}, gameproto.Ending{Result: `{"score":3}`}} {
		if err := gameSide.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	_ = gameSide.Close() // the game is gone; its messages wait in the socket
	time.AfterFunc(50*time.Millisecond, func() { close(exited) })
	go r.read()
	err = r.loop(context.Background(), func(f *game.Frame) { f.Release() })
	close(r.quit)
	<-r.readerDone
	var ended *game.Ended
	if !errors.As(err, &ended) || ended.Result != `{"score":3}` {
		t.Fatalf("loop: %v, want the game's end with its result", err)
	}
}
