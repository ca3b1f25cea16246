package demo

import (
	"flag"
	"image"
	"image/png"
	"os"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/game/marker"
	"github.com/edgeplay/edgeplay/input"
)

var pngOut = flag.String("demo.png", "", "write a 720p frame of a short scripted game to this PNG file")

// TestSnapshot writes a frame to look at by eye when -demo.png is given:
//
//	go test ./game/demo -run Snapshot -demo.png=/tmp/demo.png
func TestSnapshot(t *testing.T) {
	if *pngOut == "" {
		t.Skip("no -demo.png")
	}
	g := newTestGame(t)
	seq := uint32(0)
	ev := func(e input.Event) {
		seq++
		e.Seq = seq
		g.ApplyForTest(e)
	}
	ev(input.Event{Type: input.MouseMove, X: 50000, Y: 15000})
	ev(input.Event{Type: input.KeyDown, Code: input.KeyW})
	ev(input.Event{Type: input.KeyDown, Code: input.KeyD})
	ev(input.Event{Type: input.MouseButton, Button: input.ButtonLeft, Down: true})
	for range 40 {
		g.Step(time.Second / 60)
	}
	ev(input.Event{Type: input.KeyDown, Code: input.KeySpace})
	f := renderFrame(g)
	img := &image.RGBA{Pix: f.Pix, Stride: f.Stride, Rect: image.Rect(0, 0, f.Width, f.Height)}
	out, err := os.Create(*pngOut)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := png.Encode(out, img); err != nil {
		t.Fatal(err)
	}
	v, ok := marker.ReadRGBA(f.Pix, f.Stride)
	t.Logf("wrote %s; marker %d %v; score %d shots %d", *pngOut, v, ok, g.world.score, g.world.shots)
}

func newTestGame(tb testing.TB) *Game {
	tb.Helper()
	g, err := New(game.Config{Width: 1280, Height: 720, FPS: 60})
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

func renderFrame(g *Game) *game.Frame {
	f := game.NewFramePool(g.cfg.Width, g.cfg.Height).Get()
	g.Render(f)
	return f
}

func BenchmarkRender720p(b *testing.B) {
	g := newTestGame(b)
	g.ApplyForTest(input.Event{Type: input.MouseButton, Seq: 1, Button: input.ButtonLeft, Down: true})
	g.ApplyForTest(input.Event{Type: input.KeyDown, Seq: 2, Code: input.KeyW})
	for range 30 {
		g.Step(time.Second / 60)
	}
	f := game.NewFramePool(1280, 720).Get()
	b.SetBytes(int64(len(f.Pix)))
	b.ReportAllocs()
	for b.Loop() {
		g.Render(f)
	}
}

func BenchmarkStep(b *testing.B) {
	g := newTestGame(b)
	g.ApplyForTest(input.Event{Type: input.MouseButton, Seq: 1, Button: input.ButtonLeft, Down: true})
	g.ApplyForTest(input.Event{Type: input.KeyDown, Seq: 2, Code: input.KeyD})
	b.ReportAllocs()
	for b.Loop() {
		g.Step(time.Second / 60)
	}
}
