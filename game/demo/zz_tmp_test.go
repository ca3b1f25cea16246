package demo

import (
	"image"
	"image/png"
	"os"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/input"
)

func TestTmpAutopilot(t *testing.T) {
	for _, cfg := range []game.Config{{Width: 1280, Height: 720, FPS: 60}, {Width: 320, Height: 240, FPS: 60}} {
		g, _ := New(cfg)
		wd := &g.world
		seq := uint32(0)
		g.ApplyForTest(input.Event{Type: input.MouseButton, Seq: 1, Button: 0, Down: true})
		g.ApplyForTest(input.Event{Type: input.KeyDown, Seq: 2, Code: input.KeyA})
		seq = 2
		for i := range 300 {
			tg := &wd.targets[i/40%numTargets]
			seq++
			g.ApplyForTest(input.Event{Type: input.MouseMove, Seq: seq, X: uint16(tg.x / wd.w * 65535), Y: uint16(tg.y / wd.h * 65535)})
			g.Step(time.Second / 60)
		}
		f := game.NewFramePool(cfg.Width, cfg.Height).Get()
		g.Render(f)
		img := &image.RGBA{Pix: f.Pix, Stride: f.Stride, Rect: image.Rect(0, 0, f.Width, f.Height)}
		out, _ := os.Create("/tmp/auto" + string(rune('0'+cfg.Height/240)) + ".png")
		png.Encode(out, img)
		out.Close()
		t.Logf("score %d hits %d shots %d shields %d best %d", wd.score, wd.hits, wd.shots, wd.shields, wd.best)
	}
}
