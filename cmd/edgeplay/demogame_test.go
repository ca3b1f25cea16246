package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/game/marker"
	"github.com/edgeplay/edgeplay/gameproc"
	"github.com/edgeplay/edgeplay/input"
)

// TestDemoGame runs `edgeplay demo-game` (this test binary as the edgeplay command, see
// TestMain) as an out-of-process game through the host's side, gameproc: the demo's frames
// come back at the host's size with the latency marker, an input comes back as the frames'
// input seq and in the marker, and the end of Run stops the process.
func TestDemoGame(t *testing.T) {
	f := gameproc.Factory(gameproc.Command{
		Path: os.Args[0], Args: []string{"demo-game"}, Env: []string{"EDGEPLAY_TEST_MAIN=1"},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	gm, err := f(game.Config{Width: 320, Height: 240, FPS: 30})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var frames []game.Frame // copies of the header, Pix: the marker rows only
	sink := func(fr *game.Frame) {
		defer fr.Release()
		c := *fr
		c.Pix = append([]byte(nil), fr.Pix[:marker.Height*fr.Stride]...)
		mu.Lock()
		frames = append(frames, c)
		mu.Unlock()
	}
	last := func() (game.Frame, int) {
		mu.Lock()
		defer mu.Unlock()
		if len(frames) == 0 {
			return game.Frame{}, 0
		}
		return frames[len(frames)-1], len(frames)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- gm.Run(ctx, sink) }()

	demoWaitUntil(t, 20*time.Second, "the demo's frames arrive", func() bool { _, n := last(); return n >= 5 })
	fr, _ := last()
	if fr.Width != 320 || fr.Height != 240 {
		t.Fatalf("frame %dx%d, want 320x240", fr.Width, fr.Height)
	}
	if v, ok := markerOf(fr); !ok || v != 0 {
		t.Fatalf("marker %d (ok %v) before input, want 0", v, ok)
	}
	gm.Input(input.Event{Type: input.KeyDown, Seq: 1234, Code: input.KeySpace, Down: true})
	demoWaitUntil(t, 10*time.Second, "a frame echoes the input", func() bool {
		fr, _ := last()
		v, ok := markerOf(fr)
		return fr.InputSeq == 1234 && ok && v == 1234
	})

	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}

// demoWaitUntil polls cond until it holds, failing the test after d.
func demoWaitUntil(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting until %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// markerOf reads the latency marker of an RGBA frame (its red channel as the luma).
func markerOf(fr game.Frame) (uint16, bool) {
	luma := make([]byte, marker.Width*marker.Height)
	for y := range marker.Height {
		for x := range marker.Width {
			luma[y*marker.Width+x] = fr.Pix[y*fr.Stride+4*x]
		}
	}
	return marker.Read(luma, marker.Width)
}

// TestDemoGameWithoutHost: started by hand, demo-game says how it is meant to run.
func TestDemoGameWithoutHost(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "not-a-socket")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("EDGEPLAY_FD", strconv.Itoa(fd)) // demo-game takes it over and closes it
	var stderr bytes.Buffer
	err = run([]string{"demo-game"}, &stderr)
	if err == nil || !strings.Contains(err.Error(), "started by an edgeplay host") {
		t.Fatalf("got %v", err)
	}
	if err := run([]string{"demo-game", "extra"}, &stderr); err == nil || !strings.Contains(err.Error(), "unexpected arguments") {
		t.Fatalf("extra argument: %v", err)
	}
}
