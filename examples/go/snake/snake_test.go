package main

import (
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/game/marker"
	"github.com/edgeplay/edgeplay/gamesdk"
	"github.com/edgeplay/edgeplay/input"
)

// TestSnakeRules: the snake steps on time, turns (never straight back), eats and grows, and a
// wall ends the round.
func TestSnakeRules(t *testing.T) {
	s := newSnake(1)
	head := s.body[0]
	if ate, died := s.advance(stepEvery - time.Millisecond); ate || died || s.body[0] != head {
		t.Fatalf("moved before a step's time: %v", s.body[0])
	}
	s.advance(time.Millisecond)
	if s.body[0] != (cell{head.x + 1, head.y}) || len(s.body) != startLen {
		t.Fatalf("after one step: head %v, %d cells", s.body[0], len(s.body))
	}
	s.input(input.Event{Type: input.KeyDown, Code: input.KeyArrowLeft}) // straight back: ignored
	s.input(input.Event{Type: input.KeyDown, Code: input.KeyW})
	s.advance(stepEvery)
	if s.body[0] != (cell{head.x + 1, head.y - 1}) {
		t.Fatalf("after turning up: head %v", s.body[0])
	}
	s.food = cell{s.body[0].x, s.body[0].y - 1}
	if ate, _ := s.advance(stepEvery); !ate || s.score != 1 || len(s.body) != startLen+1 {
		t.Fatalf("eating: ate %v, score %d, %d cells", ate, s.score, len(s.body))
	}
	s.input(input.Event{Type: input.GamepadState, Buttons: 1 << input.PadLeft})
	s.food = cell{noFoodCell, noFoodCell}
	var died bool
	for range cols {
		if _, d := s.advance(stepEvery); d {
			died = true
			break
		}
	}
	if !died || s.rounds != 1 || s.best != 1 || s.score != 0 || len(s.body) != startLen {
		t.Fatalf("into the wall: died %v, rounds %d, best %d, score %d", died, s.rounds, s.best, s.score)
	}
}

// TestDraw: the picture respects the slot's stride, and carries the latency marker with the
// input seq when the frame has room for the scoreboard.
func TestDraw(t *testing.T) {
	const w, h, stride = 640, 360, 4*640 + 64
	pix := make([]byte, stride*h)
	for i := range pix {
		pix[i] = 0xaa // what the stride's padding must keep
	}
	f := &gamesdk.Frame{Width: w, Height: h, Planes: [3][]byte{pix}, Strides: [3]int{stride}}
	s := newSnake(1)
	if !draw(f, s, 0xbeef) {
		t.Fatal("no marker at 640x360")
	}
	luma := make([]byte, marker.Width*marker.Height)
	for y := range marker.Height {
		for x := range marker.Width {
			luma[y*marker.Width+x] = pix[y*stride+4*x]
		}
	}
	if v, ok := marker.Read(luma, marker.Width); !ok || v != 0xbeef {
		t.Errorf("marker %#x (ok %v), want 0xbeef", v, ok)
	}
	for y := range h {
		if pad := pix[y*stride+4*w : (y+1)*stride]; pad[0] != 0xaa || pad[len(pad)-1] != 0xaa {
			t.Fatalf("row %d: the stride's padding was drawn over", y)
		}
	}
	small := &gamesdk.Frame{Width: 64, Height: 32, Planes: [3][]byte{make([]byte, 4*64*32)}, Strides: [3]int{4 * 64}}
	if draw(small, s, 1) {
		t.Error("a marker on a 64x32 frame")
	}
}
