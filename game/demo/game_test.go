package demo

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/game/marker"
	"github.com/edgeplay/edgeplay/input"
)

const tick = time.Second / 60

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  game.Config
		ok   bool
	}{
		{"720p60", game.Config{Width: 1280, Height: 720, FPS: 60}, true},
		{"smallest", game.Config{Width: 320, Height: 240, FPS: 1}, true},
		{"1080p240", game.Config{Width: 1920, Height: 1080, FPS: 240}, true},
		{"zero", game.Config{}, false},
		{"odd width", game.Config{Width: 1281, Height: 720, FPS: 60}, false},
		{"odd height", game.Config{Width: 1280, Height: 721, FPS: 60}, false},
		{"too narrow", game.Config{Width: 318, Height: 240, FPS: 60}, false},
		{"too short", game.Config{Width: 320, Height: 238, FPS: 60}, false},
		{"negative", game.Config{Width: -1280, Height: -720, FPS: 60}, false},
		{"too big", game.Config{Width: 16384, Height: 720, FPS: 60}, false},
		{"fps 0", game.Config{Width: 1280, Height: 720, FPS: 0}, false},
		{"fps 241", game.Config{Width: 1280, Height: 720, FPS: 241}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := New(tt.cfg)
			if tt.ok {
				if err != nil || g == nil {
					t.Fatalf("New(%+v) = %v, %v; want a game", tt.cfg, g, err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("New(%+v) err = %v, want ErrConfig", tt.cfg, err)
			}
		})
	}
}

func TestFactory(t *testing.T) {
	g, err := Factory(game.Config{Width: 640, Height: 360, FPS: 30})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := g.(*Game); !ok {
		t.Fatalf("Factory made a %T", g)
	}
	if _, err := Factory(game.Config{}); err == nil {
		t.Fatal("Factory accepted a zero config")
	}
}

func TestKeysMoveShip(t *testing.T) {
	tests := []struct {
		name   string
		code   uint16
		dx, dy int // expected sign of the motion
	}{
		{"W", input.KeyW, 0, -1},
		{"ArrowUp", input.KeyArrowUp, 0, -1},
		{"S", input.KeyS, 0, 1},
		{"ArrowDown", input.KeyArrowDown, 0, 1},
		{"A", input.KeyA, -1, 0},
		{"ArrowLeft", input.KeyArrowLeft, -1, 0},
		{"D", input.KeyD, 1, 0},
		{"ArrowRight", input.KeyArrowRight, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newTestGame(t)
			x0, y0 := g.world.sx, g.world.sy
			g.ApplyForTest(input.Event{Type: input.KeyDown, Seq: 1, Code: tt.code, Down: true})
			for range 20 {
				g.Step(tick)
			}
			dx, dy := g.world.sx-x0, g.world.sy-y0
			if sign(dx) != tt.dx || sign(dy) != tt.dy {
				t.Fatalf("ship moved by (%.1f, %.1f), want signs (%d, %d)", dx, dy, tt.dx, tt.dy)
			}
			if max(abs(dx), abs(dy)) < 20 {
				t.Fatalf("ship moved only (%.1f, %.1f) in 20 frames", dx, dy)
			}

			// Releasing the key brings the ship to a stop.
			g.ApplyForTest(input.Event{Type: input.KeyUp, Seq: 2, Code: tt.code})
			for range 60 {
				g.Step(tick)
			}
			x1, y1 := g.world.sx, g.world.sy
			g.Step(tick)
			if d := max(abs(g.world.sx-x1), abs(g.world.sy-y1)); d > 0.5 {
				t.Fatalf("ship still moving %.2f px/frame a second after key up", d)
			}
		})
	}
}

func TestShipStaysInArena(t *testing.T) {
	g := newTestGame(t)
	g.ApplyForTest(input.Event{Type: input.KeyDown, Seq: 1, Code: input.KeyW, Down: true})
	g.ApplyForTest(input.Event{Type: input.KeyDown, Seq: 2, Code: input.KeyA, Down: true})
	for range 600 {
		g.Step(tick)
	}
	if g.world.sx < 0 || g.world.sy < 0 {
		t.Fatalf("ship left the arena: (%.1f, %.1f)", g.world.sx, g.world.sy)
	}
}

func TestFire(t *testing.T) {
	tests := []struct {
		name  string
		press input.Event
		shots int
	}{
		{"left button", input.Event{Type: input.MouseButton, Button: input.ButtonLeft, Down: true}, 1},
		{"space", input.Event{Type: input.KeyDown, Code: input.KeySpace, Down: true}, 1},
		{"right button spread", input.Event{Type: input.MouseButton, Button: input.ButtonRight, Down: true}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newTestGame(t)
			tt.press.Seq = 1
			g.ApplyForTest(tt.press)
			g.Step(tick)
			if g.world.shots != tt.shots || liveBullets(g) != tt.shots {
				t.Fatalf("shots %d, live bullets %d; want %d", g.world.shots, liveBullets(g), tt.shots)
			}
		})
	}
}

func TestHoldToAutoFire(t *testing.T) {
	g := newTestGame(t)
	g.ApplyForTest(input.Event{Type: input.MouseButton, Seq: 1, Button: input.ButtonLeft, Down: true})
	for range 60 {
		g.Step(tick)
	}
	held := g.world.shots
	if held < 5 {
		t.Fatalf("a second of holding the button fired %d shots", held)
	}
	g.ApplyForTest(input.Event{Type: input.MouseButton, Seq: 2, Button: input.ButtonLeft})
	for range 60 {
		g.Step(tick)
	}
	if g.world.shots != held {
		t.Fatalf("kept firing after release: %d shots, then %d", held, g.world.shots)
	}
}

// TestTapBetweenTicks checks that a press and release queued within one tick still fire.
func TestTapBetweenTicks(t *testing.T) {
	g := newTestGame(t)
	g.Input(input.Event{Type: input.MouseButton, Seq: 1, Button: input.ButtonLeft, Down: true})
	g.Input(input.Event{Type: input.MouseButton, Seq: 2, Button: input.ButtonLeft})
	g.applyQueued()
	g.Step(tick)
	if g.world.shots != 1 {
		t.Fatalf("shots %d, want 1", g.world.shots)
	}
}

func TestShootTarget(t *testing.T) {
	g := newTestGame(t)
	wd := &g.world
	// Put a still target right in front of the gun and aim at it.
	tg := &wd.targets[0]
	tg.x, tg.y, tg.vx, tg.vy = wd.sx+200, wd.sy, 0, 0
	for i := 1; i < len(wd.targets); i++ {
		wd.targets[i].x, wd.targets[i].y, wd.targets[i].vx, wd.targets[i].vy = 0, 0, 0, 0
	}
	g.ApplyForTest(input.Event{Type: input.MouseMove, Seq: 1, X: uint16((wd.sx + 200) / (wd.w - 1) * 65535), Y: uint16(wd.sy / (wd.h - 1) * 65535)})
	g.ApplyForTest(input.Event{Type: input.MouseButton, Seq: 2, Button: input.ButtonLeft, Down: true})
	g.ApplyForTest(input.Event{Type: input.MouseButton, Seq: 3, Button: input.ButtonLeft})
	for range 30 {
		g.Step(tick)
		if wd.hits > 0 {
			break
		}
	}
	if wd.hits != 1 || wd.score <= 0 {
		t.Fatalf("hits %d score %d after shooting a target point-blank", wd.hits, wd.score)
	}
	if tg.x == wd.sx+200 && tg.y == wd.sy {
		t.Fatal("target did not respawn")
	}
}

func TestRammedShipLosesShieldsThenNewRound(t *testing.T) {
	g := newTestGame(t)
	wd := &g.world
	wd.score = 1234
	for n := maxShields - 1; n >= 0; n-- {
		wd.hurt = 0
		tg := &wd.targets[0]
		tg.x, tg.y, tg.vx, tg.vy = wd.sx, wd.sy, 0, 0
		g.Step(tick)
		if n > 0 && wd.shields != n {
			t.Fatalf("shields %d, want %d", wd.shields, n)
		}
	}
	if wd.shields != maxShields || wd.score != 0 || wd.best != 1234 {
		t.Fatalf("after the last shield: shields %d score %d best %d; want %d, 0, 1234",
			wd.shields, wd.score, wd.best, maxShields)
	}
}

func TestMouseAim(t *testing.T) {
	g := newTestGame(t)
	wd := &g.world
	g.ApplyForTest(input.Event{Type: input.MouseMove, Seq: 1, X: 65535, Y: 0})
	if wd.ax != wd.w-1 || wd.ay != 0 {
		t.Fatalf("absolute (65535, 0) put the crosshair at (%.1f, %.1f)", wd.ax, wd.ay)
	}
	// Pointer lock: the absolute position stays put and the relative motion moves the crosshair.
	g.ApplyForTest(input.Event{Type: input.MouseMove, Seq: 2, X: 65535, Y: 0, DX: -100, DY: 50})
	if wd.ax != wd.w-101 || wd.ay != 50 {
		t.Fatalf("relative (-100, 50) put the crosshair at (%.1f, %.1f)", wd.ax, wd.ay)
	}
	g.ApplyForTest(input.Event{Type: input.MouseMove, Seq: 3, X: 65535, Y: 0, DX: 30000, DY: -30000})
	if wd.ax != wd.w-1 || wd.ay != 0 {
		t.Fatalf("crosshair left the frame: (%.1f, %.1f)", wd.ax, wd.ay)
	}
	g.ApplyForTest(input.Event{Type: input.MouseMove, Seq: 4, X: 0, Y: 65535, DX: 5, DY: 5})
	if wd.ax != 0 || wd.ay != wd.h-1 {
		t.Fatalf("absolute (0, 65535) put the crosshair at (%.1f, %.1f)", wd.ax, wd.ay)
	}
	g.Step(tick)
	if wd.dirX >= 0 || wd.dirY <= 0 {
		t.Fatalf("aiming bottom-left, the gun points (%.2f, %.2f)", wd.dirX, wd.dirY)
	}
}

// TestEveryPressChangesPicture checks that each key or button press, with no simulation step in
// between, visibly changes the frame outside the latency marker.
func TestEveryPressChangesPicture(t *testing.T) {
	presses := []input.Event{
		{Type: input.KeyDown, Code: input.KeyW, Down: true},
		{Type: input.KeyDown, Code: input.KeyArrowLeft, Down: true},
		{Type: input.KeyDown, Code: input.KeyEscape, Down: true},
		{Type: input.KeyDown, Code: 0x1D, Down: true},       // KeyZ: no gameplay meaning
		{Type: input.KeyDown, Code: input.KeyW, Down: true}, // auto-repeat of a held key
		{Type: input.MouseButton, Button: input.ButtonLeft, Down: true},
		{Type: input.MouseButton, Button: input.ButtonMiddle, Down: true},
		{Type: input.MouseButton, Button: 4, Down: true},
	}
	g := newTestGame(t)
	pool := game.NewFramePool(1280, 720)
	before, after := pool.Get(), pool.Get()
	for i, ev := range presses {
		g.Step(tick)
		g.Render(before)
		ev.Seq = uint32(i + 1)
		g.ApplyForTest(ev)
		g.Render(after)
		if sameOutsideMarker(before, after) {
			t.Errorf("press %d (%v code %#x button %d) did not change the picture", i, ev.Type, ev.Code, ev.Button)
		}
	}
}

func TestMarkerCarriesLastAppliedSeq(t *testing.T) {
	g := newTestGame(t)
	f := game.NewFramePool(1280, 720).Get()
	g.Render(f)
	if v, ok := marker.ReadRGBA(f.Pix, f.Stride); !ok || v != 0 {
		t.Fatalf("before any input the marker reads %d, %v; want 0, true", v, ok)
	}
	for _, seq := range []uint32{1, 2, 0x8001, 0xFFFF, 0x10000, 0x12345, 1<<31 + 5, 1<<32 - 1, 3} {
		g.ApplyForTest(input.Event{Type: input.Wheel, Seq: seq, DY: 10})
		g.Step(tick)
		g.Render(f)
		if v, ok := marker.ReadRGBA(f.Pix, f.Stride); !ok || v != uint16(seq) {
			t.Fatalf("after seq %#x the marker reads %#x, %v; want %#x", seq, v, ok, uint16(seq))
		}
	}
	// A late input (an older seq on the unordered motion channel) does not move it back.
	g.ApplyForTest(input.Event{Type: input.MouseMove, Seq: 2, DX: 1})
	g.Step(tick)
	g.Render(f)
	if v, _ := marker.ReadRGBA(f.Pix, f.Stride); v != 3 {
		t.Fatalf("after a late seq 2 the marker reads %#x, want 3", v)
	}
}

// TestRenderSizes renders at several configured sizes and into frames that do not match,
// which must clip rather than panic.
func TestRenderSizes(t *testing.T) {
	for _, cfg := range []game.Config{
		{Width: 320, Height: 240, FPS: 30},
		{Width: 640, Height: 360, FPS: 60},
		{Width: 1920, Height: 1080, FPS: 60},
	} {
		g, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		g.ApplyForTest(input.Event{Type: input.KeyDown, Seq: 77, Code: input.KeyD, Down: true})
		g.ApplyForTest(input.Event{Type: input.MouseButton, Seq: 78, Button: input.ButtonLeft, Down: true})
		for range 90 {
			g.Step(tick)
		}
		f := game.NewFramePool(cfg.Width, cfg.Height).Get()
		g.Render(f)
		if v, ok := marker.ReadRGBA(f.Pix, f.Stride); !ok || v != 78 {
			t.Fatalf("%dx%d: marker %d, %v", cfg.Width, cfg.Height, v, ok)
		}
		for _, odd := range []*game.Frame{
			{},
			{Width: 100, Height: 50, Stride: 400, Pix: make([]byte, 400*50)},
			{Width: cfg.Width * 2, Height: cfg.Height * 2, Stride: 8 * cfg.Width, Pix: make([]byte, 100)},
			{Width: cfg.Width, Height: cfg.Height, Stride: 4 * cfg.Width, Pix: make([]byte, 4*cfg.Width*cfg.Height/2)},
			{Width: cfg.Width, Height: cfg.Height, Stride: -4, Pix: make([]byte, 4*cfg.Width*cfg.Height)},
		} {
			g.Render(odd)
		}
	}
}

func TestInputQueueDropsOldest(t *testing.T) {
	g := newTestGame(t)
	const n = QueueSize + 44
	for i := 1; i <= n; i++ {
		g.Input(input.Event{Type: input.Wheel, Seq: uint32(i)})
	}
	if s := g.Stats(); s.InputsDropped != n-QueueSize || s.InputsApplied != 0 {
		t.Fatalf("stats %+v; want %d dropped, 0 applied", s, n-QueueSize)
	}
	if first := g.queue[g.qHead].Seq; first != n-QueueSize+1 {
		t.Fatalf("oldest queued seq %d, want %d", first, n-QueueSize+1)
	}
	g.applyQueued()
	if s := g.Stats(); s.InputsApplied != QueueSize {
		t.Fatalf("applied %d, want %d", s.InputsApplied, QueueSize)
	}
	if g.world.lastSeq != n {
		t.Fatalf("last applied seq %d, want %d", g.world.lastSeq, n)
	}
	// The queue is empty and usable again.
	g.Input(input.Event{Type: input.Wheel, Seq: n + 1})
	g.applyQueued()
	if g.world.lastSeq != n+1 || g.Stats().InputsApplied != QueueSize+1 {
		t.Fatalf("after refill: last seq %d, stats %+v", g.world.lastSeq, g.Stats())
	}
}

// TestRun drives Run in a synctest bubble, where the ticker runs on the bubble's fake clock:
// no test here waits on wall-clock time.
func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newTestGame(t)
		frames := make(chan *game.Frame, 4)
		sink := func(f *game.Frame) {
			select {
			case frames <- f:
			default:
				f.Release()
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- g.Run(ctx, sink) }()

		start := time.Now()
		var last uint64
		for i := range 5 {
			f := <-frames
			if f.Seq != last+1 {
				t.Fatalf("frame %d has Seq %d after %d", i, f.Seq, last)
			}
			last = f.Seq
			if f.InputSeq != 0 {
				t.Fatalf("frame %d has InputSeq %d before any input", f.Seq, f.InputSeq)
			}
			if want := start.Add(time.Duration(f.Seq) * tick); !f.Ready.Equal(want) {
				t.Fatalf("frame %d ready at %v, want %v on the fake clock", f.Seq, f.Ready.Sub(start), want.Sub(start))
			}
			f.Release()
		}

		g.Input(input.Event{Type: input.KeyDown, Seq: 41, Code: input.KeyW, Down: true})
		g.Input(input.Event{Type: input.MouseButton, Seq: 42, Button: input.ButtonLeft, Down: true})
		f := <-frames
		if f.Seq != last+1 || f.InputSeq != 42 {
			t.Fatalf("frame after input: Seq %d InputSeq %d; want %d, 42", f.Seq, f.InputSeq, last+1)
		}
		if v, ok := marker.ReadRGBA(f.Pix, f.Stride); !ok || v != 42 {
			t.Fatalf("marker reads %d, %v; want 42", v, ok)
		}
		f.Release()
		if s := g.Stats(); s.InputsApplied != 2 || s.FramesRendered != last+1 {
			t.Fatalf("stats %+v", s)
		}

		if err := g.Run(ctx, sink); !errors.Is(err, ErrRunning) {
			t.Fatalf("second Run: %v, want ErrRunning", err)
		}

		cancel()
		synctest.Wait() // Run must now have returned without any more time passing.
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run returned %v", err)
			}
		default:
			t.Fatal("Run did not return after cancel")
		}
		for len(frames) > 0 {
			(<-frames).Release()
		}
	})
}

// TestRunFrameSource: with a source set, Run renders into the source's frames (whose rows
// are padded and which hold an old picture), drawing every pixel and honouring the stride,
// and a tick for which the source has no frame renders nothing.
func TestRunFrameSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newTestGame(t)
		const w, h, stride = 1280, 720, 4*1280 + 64
		newFrame := func() *game.Frame {
			return game.BorrowedFrame(w, h, stride, bytes.Repeat([]byte{0x11}, stride*h), func() {})
		}
		lend := make(chan *game.Frame, 1)
		var gets int // on Run's goroutine; read once it has returned
		g.SetFrameSource(func() *game.Frame {
			gets++
			select {
			case f := <-lend:
				return f
			default:
				return nil
			}
		})
		frames := make(chan *game.Frame, 4)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- g.Run(ctx, func(f *game.Frame) { frames <- f }) }()

		time.Sleep(3*tick + tick/2) // three ticks, no frame to render into
		if n, r := len(frames), g.Stats().FramesRendered; n != 0 || r != 0 {
			t.Fatalf("%d frames sent, %d rendered without a frame from the source", n, r)
		}
		a, b := newFrame(), newFrame()
		g.Input(input.Event{Type: input.KeyDown, Seq: 5, Code: input.KeyD, Down: true})
		for i, want := range []*game.Frame{a, b} {
			lend <- want
			time.Sleep(tick)
			if got := <-frames; got != want || got.Seq != uint64(i+1) || got.InputSeq != 5 {
				t.Fatalf("frame %d: got %p seq %d input seq %d, want %p seq %d input seq 5", i, got, got.Seq, got.InputSeq, want, i+1)
			}
		}
		cancel()
		synctest.Wait()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if s := g.Stats(); s.FramesRendered != 2 || gets != 5 {
			t.Fatalf("%d frames rendered in %d gets, want 2 in 5", s.FramesRendered, gets)
		}

		// b holds what a render into a clean frame holds, and its padding is untouched.
		ref := game.NewFramePool(w, h).Get()
		g.Render(ref)
		for y := range h {
			row := b.Pix[y*stride : (y+1)*stride]
			if !bytes.Equal(row[:4*w], ref.Pix[y*ref.Stride:y*ref.Stride+4*w]) {
				t.Fatalf("row %d differs from a render into a clean frame", y)
			}
			if bytes.Count(row[4*w:], []byte{0x11}) != stride-4*w {
				t.Fatalf("row %d: the padding past the stride's pixels was written", y)
			}
		}
		for i := 3; i < len(a.Pix); i += 4 {
			if x := (i % stride) / 4; x < w && a.Pix[i] != 0xff {
				t.Fatalf("a: pixel (%d,%d) not drawn", x, i/stride)
			}
		}
		if v, ok := marker.ReadRGBA(b.Pix, stride); !ok || v != 5 {
			t.Fatalf("marker reads %d, %v; want 5", v, ok)
		}
	})
}

// TestRunRealClock runs the game on the real clock with concurrent input, for the race
// detector. It waits with generous deadlines and asserts nothing about timing.
func TestRunRealClock(t *testing.T) {
	g, err := New(game.Config{Width: 640, Height: 360, FPS: 240})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		frames []uint64
	)
	sink := func(f *game.Frame) {
		mu.Lock()
		frames = append(frames, f.Seq)
		mu.Unlock()
		f.Release()
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx, sink) }()

	const senders, each = 4, 500
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range each {
				g.Input(input.Event{Type: input.MouseMove, Seq: uint32(s*each + i + 1), DX: 1})
				_ = g.Stats()
			}
		})
	}
	wg.Wait()

	deadline := time.Now().Add(10 * time.Second)
	for g.Stats().FramesRendered < 3 {
		if time.Now().After(deadline) {
			t.Fatal("no frames within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of cancel")
	}

	mu.Lock()
	defer mu.Unlock()
	for i, seq := range frames {
		if seq != uint64(i+1) {
			t.Fatalf("frame %d has Seq %d", i, seq)
		}
	}
	s := g.Stats()
	if got := s.InputsApplied + s.InputsDropped + uint64(g.qLen); got != senders*each {
		t.Fatalf("applied %d + dropped %d + queued %d != %d sent", s.InputsApplied, s.InputsDropped, g.qLen, senders*each)
	}
}

func liveBullets(g *Game) int {
	n := 0
	for _, b := range g.world.bullets {
		if b.live {
			n++
		}
	}
	return n
}

// sameOutsideMarker reports whether a and b have equal pixels everywhere but the marker region.
func sameOutsideMarker(a, b *game.Frame) bool {
	for y := range a.Height {
		row := a.Pix[y*a.Stride : y*a.Stride+4*a.Width]
		other := b.Pix[y*b.Stride : y*b.Stride+4*b.Width]
		if y < marker.Height {
			row, other = row[4*marker.Width:], other[4*marker.Width:]
		}
		if !bytes.Equal(row, other) {
			return false
		}
	}
	return true
}

func sign(v float64) int {
	switch {
	case v > 0.5:
		return 1
	case v < -0.5:
		return -1
	}
	return 0
}

func abs(v float64) float64 { return max(v, -v) }
