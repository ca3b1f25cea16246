package session

import (
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/game"
)

func TestInputClock(t *testing.T) {
	var c inputClock
	t0 := time.Now()
	frame := func(seq uint32, at time.Duration) (time.Duration, bool) {
		return c.frame(&game.Frame{InputSeq: seq, Ready: t0.Add(at)})
	}
	if _, ok := frame(0, 0); ok {
		t.Fatal("a frame before any input gave a sample")
	}
	c.input(1, t0)
	c.input(2, t0.Add(5*time.Millisecond))
	if d, ok := frame(2, 21*time.Millisecond); !ok || d != 16*time.Millisecond {
		t.Fatalf("frame for input 2: %v %v, want 16ms", d, ok)
	}
	if _, ok := frame(2, 38*time.Millisecond); ok {
		t.Fatal("a second frame for the same input gave a sample")
	}
	if _, ok := frame(7, 40*time.Millisecond); ok {
		t.Fatal("a frame naming an input the host never saw gave a sample")
	}
	c.input(300, t0.Add(50*time.Millisecond))
	if _, ok := frame(300, 45*time.Millisecond); ok {
		t.Fatal("a frame ready before its input arrived gave a sample")
	}
	c.input(301, t0.Add(60*time.Millisecond))
	c.input(301+inputWindow, t0.Add(70*time.Millisecond)) // overwrites 301's entry
	if _, ok := frame(301, 80*time.Millisecond); ok {
		t.Fatal("a frame naming an input out of the window gave a sample")
	}
	if last, n := c.latest(); last != 16*time.Millisecond || n != 1 {
		t.Fatalf("latest %v after %d samples, want 16ms after 1", last, n)
	}
}
