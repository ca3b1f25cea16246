package demo

import (
	"math"
	"testing"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/input"
)

// padState is a GamepadState of pad 0 with seq.
func padState(seq uint32, ev input.Event) input.Event {
	ev.Type, ev.Seq = input.GamepadState, seq
	return ev
}

func steps(g *Game, n int) {
	for range n {
		g.Step(tick)
	}
}

func TestGamepadLeftStickMovesShip(t *testing.T) {
	tests := []struct {
		name   string
		state  input.Event
		dx, dy int // expected sign of the motion
	}{
		{"stick right", input.Event{LX: 32767}, 1, 0},
		{"stick left", input.Event{LX: -32767}, -1, 0},
		{"stick up", input.Event{LY: -32767}, 0, -1},
		{"stick down", input.Event{LY: 32767}, 0, 1},
		{"stick up-right", input.Event{LX: 23170, LY: -23170}, 1, -1},
		{"d-pad left", input.Event{Buttons: 1 << input.PadLeft}, -1, 0},
		{"d-pad down", input.Event{Buttons: 1 << input.PadDown}, 0, 1},
		{"touch pad right", input.Event{Pad: input.TouchPad, LX: 32767}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newTestGame(t)
			x0, y0 := g.world.sx, g.world.sy
			g.ApplyForTest(padState(1, tt.state))
			steps(g, 20)
			dx, dy := g.world.sx-x0, g.world.sy-y0
			if sign(dx) != tt.dx || sign(dy) != tt.dy {
				t.Fatalf("ship moved by (%.1f, %.1f), want signs (%d, %d)", dx, dy, tt.dx, tt.dy)
			}
			if max(abs(dx), abs(dy)) < 20 {
				t.Fatalf("ship moved only (%.1f, %.1f) in 20 frames", dx, dy)
			}
			// Back to rest: the ship stops.
			g.ApplyForTest(padState(2, input.Event{Pad: tt.state.Pad}))
			steps(g, 60)
			x1, y1 := g.world.sx, g.world.sy
			g.Step(tick)
			if d := max(abs(g.world.sx-x1), abs(g.world.sy-y1)); d > 0.5 {
				t.Fatalf("ship still moving %.2f px/frame a second after the stick rests", d)
			}
		})
	}
}

// TestGamepadStickIsAnalog: half deflection moves the ship about half as fast as full.
func TestGamepadStickIsAnalog(t *testing.T) {
	dist := func(lx int16) float64 {
		g := newTestGame(t)
		x0 := g.world.sx
		g.ApplyForTest(padState(1, input.Event{LX: lx}))
		steps(g, 30)
		return g.world.sx - x0
	}
	full, half := dist(32767), dist(16384)
	if r := half / full; r < 0.4 || r > 0.6 {
		t.Fatalf("half deflection moved %.1f px, full %.1f px: ratio %.2f, want about 0.5", half, full, r)
	}
	// Keyboard and stick together are no faster than either at full.
	g := newTestGame(t)
	x0 := g.world.sx
	g.ApplyForTest(input.Event{Type: input.KeyDown, Seq: 1, Code: input.KeyD, Down: true})
	g.ApplyForTest(padState(2, input.Event{LX: 32767}))
	steps(g, 30)
	if both := g.world.sx - x0; both > full*1.01 {
		t.Fatalf("key and stick moved %.1f px, one alone %.1f", both, full)
	}
}

func TestGamepadRightStickAims(t *testing.T) {
	g := newTestGame(t)
	wd := &g.world
	g.ApplyForTest(padState(1, input.Event{RX: 0, RY: -32767})) // straight up
	g.Step(tick)
	if math.Abs(wd.dirX) > 1e-9 || wd.dirY != -1 {
		t.Fatalf("right stick up aims (%.2f, %.2f), want (0, -1)", wd.dirX, wd.dirY)
	}
	if math.Abs(wd.ax-wd.sx) > 1e-6 || wd.ay >= wd.sy {
		t.Fatalf("crosshair (%.1f, %.1f) is not above the ship (%.1f, %.1f)", wd.ax, wd.ay, wd.sx, wd.sy)
	}
	// Released, the aim stays; moving with the left stick then turns it to the motion.
	g.ApplyForTest(padState(2, input.Event{}))
	g.Step(tick)
	if wd.dirY != -1 {
		t.Fatalf("aim moved to (%.2f, %.2f) when the stick was released", wd.dirX, wd.dirY)
	}
	g.ApplyForTest(padState(3, input.Event{LX: -32767}))
	g.Step(tick)
	if wd.dirX != -1 {
		t.Fatalf("moving left with the right stick at rest aims (%.2f, %.2f), want (-1, 0)", wd.dirX, wd.dirY)
	}
	// A small right-stick deflection (below stickAim) does not turn the aim away from the motion.
	g.ApplyForTest(padState(4, input.Event{LX: -32767, RY: 3000}))
	g.Step(tick)
	if wd.dirX != -1 {
		t.Fatalf("a nudge of the right stick turned the aim to (%.2f, %.2f)", wd.dirX, wd.dirY)
	}
	// The mouse takes the aim back.
	g.ApplyForTest(input.Event{Type: input.MouseMove, Seq: 5, X: 65535, Y: 32768})
	g.ApplyForTest(padState(6, input.Event{}))
	g.Step(tick)
	if wd.padAim || wd.ax != wd.w-1 || wd.dirX <= 0 {
		t.Fatalf("after mouse motion: padAim %v, crosshair (%.1f, %.1f), aim (%.2f, %.2f)", wd.padAim, wd.ax, wd.ay, wd.dirX, wd.dirY)
	}
}

func TestGamepadFire(t *testing.T) {
	tests := []struct {
		name  string
		state input.Event
		shots int // after one tick
	}{
		{"right trigger", input.Event{RT: 255}, 1},
		{"right trigger past the threshold", input.Event{RT: triggerOn}, 1},
		{"right trigger barely touched", input.Event{RT: triggerOn - 1}, 0},
		{"A", input.Event{Buttons: 1 << input.PadA}, 1},
		{"right bumper", input.Event{Buttons: 1 << input.PadRB}, 1},
		{"left trigger spread", input.Event{LT: 255}, 3},
		{"X spread", input.Event{Buttons: 1 << input.PadX}, 3},
		{"B does nothing", input.Event{Buttons: 1 << input.PadB}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newTestGame(t)
			g.ApplyForTest(padState(1, tt.state))
			g.Step(tick)
			if g.world.shots != tt.shots {
				t.Fatalf("shots %d, want %d", g.world.shots, tt.shots)
			}
		})
	}
}

func TestGamepadHoldTriggerAutoFires(t *testing.T) {
	g := newTestGame(t)
	g.ApplyForTest(padState(1, input.Event{RT: 255}))
	// The client repeats an unchanged state: that is no new press.
	g.ApplyForTest(padState(2, input.Event{RT: 255}))
	steps(g, 60)
	held := g.world.shots
	if held < 5 {
		t.Fatalf("a second of holding the trigger fired %d shots", held)
	}
	g.ApplyForTest(padState(3, input.Event{}))
	steps(g, 60)
	if g.world.shots != held {
		t.Fatalf("kept firing after release: %d shots, then %d", held, g.world.shots)
	}
}

func TestGamepadStartRestartsRound(t *testing.T) {
	g := newTestGame(t)
	wd := &g.world
	g.ApplyForTest(padState(1, input.Event{LX: 32767}))
	steps(g, 30)
	wd.score = 500
	g.ApplyForTest(padState(2, input.Event{Buttons: 1 << input.PadStart}))
	if wd.score != 0 || wd.best != 500 || wd.sx != wd.w/2 {
		t.Fatalf("after Start: score %d best %d ship x %.1f", wd.score, wd.best, wd.sx)
	}
	// Holding Start (repeated states) does not restart again.
	wd.score = 10
	g.ApplyForTest(padState(3, input.Event{Buttons: 1 << input.PadStart}))
	if wd.score != 10 {
		t.Fatal("a held Start restarted the round again")
	}
}

// TestGamepadLateStateIgnored: states travel on the unordered channel, so a late one (an older
// seq) must not undo a newer state or a disconnect.
func TestGamepadLateStateIgnored(t *testing.T) {
	g := newTestGame(t)
	wd := &g.world
	g.ApplyForTest(padState(5, input.Event{}))
	g.ApplyForTest(padState(4, input.Event{LX: 32767})) // late
	if wd.pads[0].lx != 0 {
		t.Fatal("a late state overwrote a newer one")
	}
	g.ApplyForTest(input.Event{Type: input.GamepadDisconnect, Seq: 7})
	g.ApplyForTest(padState(6, input.Event{LX: 32767})) // sent before the disconnect, arrived after
	if wd.pads[0].connected || wd.pads[0].lx != 0 {
		t.Fatalf("a state older than the disconnect revived the pad: %+v", wd.pads[0])
	}
	// Seq wraps: 1 is newer than 2^32-1.
	g.ApplyForTest(padState(1<<32-1, input.Event{Pad: 1}))
	g.ApplyForTest(padState(1, input.Event{Pad: 1, LY: 100}))
	if wd.pads[1].ly != 100 {
		t.Fatal("a state after the seq wrapped was ignored")
	}
}

// TestGamepadDisconnectReleases: a pad that goes away while its stick and trigger are held
// stops moving the ship and stops firing.
func TestGamepadDisconnectReleases(t *testing.T) {
	g := newTestGame(t)
	wd := &g.world
	g.ApplyForTest(input.Event{Type: input.GamepadConnect, Seq: 1, Pad: 2, PadFlags: input.PadRumble, Down: true})
	if !wd.padsConnected() {
		t.Fatal("connect did not connect the pad")
	}
	g.ApplyForTest(padState(2, input.Event{Pad: 2, LX: 32767, RT: 255}))
	steps(g, 10)
	g.ApplyForTest(input.Event{Type: input.GamepadDisconnect, Seq: 3, Pad: 2})
	steps(g, 60)
	x, shots := wd.sx, wd.shots
	steps(g, 30)
	if abs(wd.sx-x) > 0.5 || wd.shots != shots {
		t.Fatalf("after disconnect the ship moved %.1f px and fired %d shots", wd.sx-x, wd.shots-shots)
	}
	if wd.padsConnected() || wd.padsHeld() {
		t.Fatal("the pad still counts as connected")
	}
}

// TestGamepadOutOfRangePadIgnored: Decode refuses pad indices ≥ MaxPads; the game does not
// trust that.
func TestGamepadOutOfRangePadIgnored(t *testing.T) {
	g := newTestGame(t)
	g.ApplyForTest(padState(1, input.Event{Pad: 200, LX: 32767}))
	g.ApplyForTest(input.Event{Type: input.GamepadConnect, Seq: 2, Pad: 255})
	steps(g, 10)
	if g.world.padsConnected() || g.world.sx != g.world.w/2 {
		t.Fatal("an out-of-range pad index had an effect")
	}
}

// TestGamepadPressChangesPicture: a button press and a connect show in the next frame (the
// input counter, the border flash and the pad indicator), without a step in between.
func TestGamepadPressChangesPicture(t *testing.T) {
	g := newTestGame(t)
	pool := game.NewFramePool(1280, 720)
	before, after := pool.Get(), pool.Get()
	for i, ev := range []input.Event{
		{Type: input.GamepadConnect, Pad: 0, Down: true},
		{Type: input.GamepadState, Buttons: 1 << input.PadB},
		{Type: input.GamepadState, Buttons: 1<<input.PadB | 1<<input.PadY},
		{Type: input.GamepadState, Buttons: 1 << input.PadY, LT: 255},
	} {
		g.Step(tick)
		g.Render(before)
		ev.Seq = uint32(i + 1)
		g.ApplyForTest(ev)
		g.Render(after)
		if sameOutsideMarker(before, after) {
			t.Errorf("event %d (%v) did not change the picture", i, ev.Type)
		}
	}
}

func TestShipForTest(t *testing.T) {
	g := newTestGame(t)
	g.ApplyForTest(input.Event{Type: input.GamepadConnect, Seq: 1, Pad: input.TouchPad, PadFlags: input.PadTouch, Down: true})
	g.ApplyForTest(padState(2, input.Event{Pad: input.TouchPad, LX: 32767, RT: 255}))
	steps(g, 10)
	st := g.ShipForTest()
	if st.X <= g.world.w/2 || st.Y != g.world.h/2 || st.Shots == 0 || st.Pads != 1 || st.DirX != 1 {
		t.Fatalf("ShipForTest = %+v", st)
	}
}

// PlayerAway lets go of everything the player held: a dropped connection must not leave the
// ship flying or firing. A late state from before the drop does not press again.
func TestPlayerAwayReleases(t *testing.T) {
	g, err := New(game.Config{Width: 1280, Height: 720, FPS: 60})
	if err != nil {
		t.Fatal(err)
	}
	g.ApplyForTest(input.Event{Type: input.KeyDown, Seq: 1, Code: input.KeyD})
	g.ApplyForTest(input.Event{Type: input.GamepadState, Seq: 5, Pad: 0, RT: 255, LX: 32767})
	if !g.world.held[input.KeyD] || !g.world.padsHeld() {
		t.Fatal("the controls are not held before the drop")
	}
	g.PlayerAway()
	if !g.Away() {
		t.Error("Away is false after PlayerAway")
	}
	if g.release.Swap(false) {
		g.world.releaseAll()
	}
	if g.world.held[input.KeyD] || g.world.padsHeld() || g.world.firing() {
		t.Error("controls still held after the player went away")
	}
	g.ApplyForTest(input.Event{Type: input.GamepadState, Seq: 4, Pad: 0, RT: 255})
	if g.world.padsHeld() {
		t.Error("a state from before the drop pressed again")
	}
	g.PlayerBack()
	if g.Away() {
		t.Error("Away is true after PlayerBack")
	}
}
