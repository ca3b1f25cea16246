package demo

import (
	"math"
	"math/rand/v2"

	"github.com/edgeplay/edgeplay/input"
)

// Tunables, in units of the frame height (u) per second where they are distances.
const (
	shipRadius   = 22.0
	shipSpeed    = 420.0 // at full stick
	shipAccel    = 10.0  // 1/s: how fast velocity approaches the stick's
	bulletSpeed  = 1100.0
	bulletRadius = 4.0
	fireCooldown = 0.09 // seconds between shots while the trigger is held
	flashTime    = 0.18 // seconds the border flashes after a press
	hurtTime     = 0.8  // seconds the ship blinks after being rammed
	maxShields   = 3
	numTargets   = 7
	maxBullets   = 96
	maxSparks    = 256
	numStars     = 180
	driftX       = -60.0 // background drift, u/s
	driftY       = 25.0
	aimDistance  = 200.0 // crosshair distance from the ship while a gamepad aims
	stickAim     = 0.25  // stick deflection (0..1) that turns the aim
	triggerOn    = 96    // analog trigger value (of 255) that counts as pulled
)

// Gamepads (and the web client's touch controls, a virtual pad) play the demo as a twin-stick
// shooter: the left stick (analog) or the d-pad moves the ship, the right stick aims (while it
// rests the ship faces where it moves), A, the right bumper or the right trigger fires (hold to
// keep firing), X, the left bumper or the left trigger fires a spread, and Start restarts the
// round. Keyboard and mouse keep working beside them; the mouse takes the aim back when it moves.

// pad is one gamepad's state as its last applied message left it (package input, gamepad.go).
type pad struct {
	connected bool
	touch     bool   // the client's on-screen touch controls
	seq       uint32 // seq of the last message applied for this pad
	seqValid  bool
	buttons   uint32 // bit i = standard-mapping button i held
	lt, rt    uint8
	lx, ly    int16
	rx, ry    int16
}

// newer reports whether a message with seq is newer than the last one applied for p. States
// travel on an unordered channel: a late one must not undo a newer state or a disconnect.
func (p *pad) newer(seq uint32) bool {
	d := seq - p.seq
	return !p.seqValid || (d != 0 && d < 1<<31)
}

// fire reports whether the pad holds a fire control: A, the right bumper or the right trigger.
func (p *pad) fire() bool {
	return p.buttons&(1<<input.PadA|1<<input.PadRB) != 0 || p.rt >= triggerOn
}

// spread reports whether the pad holds a spread control: X, the left bumper or the left trigger.
func (p *pad) spread() bool {
	return p.buttons&(1<<input.PadX|1<<input.PadLB) != 0 || p.lt >= triggerOn
}

// active reports whether any control of the pad is off its rest position.
func (p *pad) active() bool {
	return p.buttons != 0 || p.lt != 0 || p.rt != 0 || p.lx != 0 || p.ly != 0 || p.rx != 0 || p.ry != 0
}

type bullet struct {
	x, y, vx, vy float64
	live         bool
}

type target struct {
	x, y, vx, vy, r float64
	hue             int // index into targetColors
}

type spark struct {
	x, y, vx, vy, life float64 // life counts down from 1 to 0
	hue                int
}

type star struct {
	x, y  float64 // in [0,1)
	layer int     // 0 far … 2 near
}

// world is the simulation state. It is owned by whoever drives the game.
type world struct {
	w, h float64 // frame size in pixels
	u    float64 // pixels per unit: the frame height / 720
	rng  *rand.Rand

	// Input state.
	held     [256]bool // by HID usage id
	buttons  [8]bool   // mouse buttons held
	presses  uint32    // key and button presses so far (shown on screen)
	flash    float64   // seconds of border flash left
	lastSeq  uint32    // seq of the last applied input
	absX     uint16    // last absolute mouse position, to tell it from relative motion
	absY     uint16
	absValid bool
	wantShot bool // a trigger press not yet turned into a shot
	wantSpr  bool // a right-button press not yet turned into a spread
	pads     [input.MaxPads]pad
	// padAim: a gamepad aims, so the crosshair rides at aimDistance in the aim direction
	// (turned by the right stick, or by the left while the right rests); mouse motion ends it.
	padAim bool

	// Ship.
	sx, sy, svx, svy float64
	ax, ay           float64 // crosshair
	dirX, dirY       float64 // unit aim direction
	cooldown         float64
	hurt             float64
	shields          int

	// Score.
	score, best, combo int
	shots, hits        int

	targets [numTargets]target
	bullets [maxBullets]bullet
	sparks  [maxSparks]spark
	nextSp  int // ring index into sparks
	stars   [numStars]star

	scrollX, scrollY float64 // background offset in pixels
	clock            float64 // seconds simulated
}

func (wd *world) init(w, h int) {
	wd.w, wd.h = float64(w), float64(h)
	wd.u = wd.h / 720
	wd.rng = rand.New(rand.NewPCG(0x5eed, uint64(w)<<32|uint64(h)))
	for i := range wd.stars {
		wd.stars[i] = star{x: wd.rng.Float64(), y: wd.rng.Float64(), layer: i % 3}
	}
	wd.newRound()
	wd.ax, wd.ay = wd.sx+200*wd.u, wd.sy
	wd.dirX, wd.dirY = 1, 0
}

// newRound puts the ship in the middle, restores its shields and scatters the targets.
func (wd *world) newRound() {
	if wd.score > wd.best {
		wd.best = wd.score
	}
	wd.score, wd.combo = 0, 0
	wd.shields = maxShields
	wd.sx, wd.sy = wd.w/2, wd.h/2
	wd.svx, wd.svy = 0, 0
	for i := range wd.targets {
		wd.spawn(&wd.targets[i])
	}
	for i := range wd.bullets {
		wd.bullets[i].live = false
	}
}

// apply folds one input event into the input state. Movement and firing take effect in step.
func (wd *world) apply(ev input.Event) {
	// The marker only moves forward (in wrapping order): motion travels on an unordered
	// channel, and a late one must not make the frame claim an older input.
	if d := ev.Seq - wd.lastSeq; d != 0 && d < 1<<31 {
		wd.lastSeq = ev.Seq
	}
	switch ev.Type {
	case input.KeyDown, input.KeyUp:
		down := ev.Type == input.KeyDown
		if ev.Code < uint16(len(wd.held)) {
			wd.held[ev.Code] = down
		}
		if !down {
			return
		}
		wd.press()
		switch ev.Code {
		case input.KeySpace:
			wd.wantShot = true
		case input.KeyEnter:
			wd.newRound()
		}
	case input.MouseButton:
		if int(ev.Button) < len(wd.buttons) {
			wd.buttons[ev.Button] = ev.Down
		}
		if !ev.Down {
			return
		}
		wd.press()
		switch ev.Button {
		case input.ButtonLeft:
			wd.wantShot = true
		case input.ButtonRight:
			wd.wantSpr = true
		}
	case input.MouseMove:
		// A move carries both the absolute position and the relative motion. Without pointer
		// lock the absolute position changes and is the truth; under pointer lock it stays put
		// and only the relative motion moves the crosshair.
		if !wd.absValid || ev.X != wd.absX || ev.Y != wd.absY {
			wd.absX, wd.absY, wd.absValid = ev.X, ev.Y, true
			wd.ax = float64(ev.X) * (wd.w - 1) / 65535
			wd.ay = float64(ev.Y) * (wd.h - 1) / 65535
		} else {
			wd.ax = clamp(wd.ax+float64(ev.DX), 0, wd.w-1)
			wd.ay = clamp(wd.ay+float64(ev.DY), 0, wd.h-1)
		}
		wd.padAim = false
	case input.Wheel:
		// The wheel nudges the crosshair vertically, so that it too visibly does something.
		wd.ay = clamp(wd.ay+float64(ev.DY)/4, 0, wd.h-1)
	case input.GamepadConnect, input.GamepadDisconnect:
		if int(ev.Pad) >= len(wd.pads) {
			return
		}
		p := &wd.pads[ev.Pad]
		if !p.newer(ev.Seq) {
			return
		}
		// A disconnect releases everything the pad held.
		*p = pad{connected: ev.Type == input.GamepadConnect, touch: ev.PadFlags&input.PadTouch != 0, seq: ev.Seq, seqValid: true}
	case input.GamepadState:
		if int(ev.Pad) >= len(wd.pads) {
			return
		}
		p := &wd.pads[ev.Pad]
		if !p.newer(ev.Seq) {
			return
		}
		was := *p
		// A state implies the pad is connected: it may overtake its connect (another channel).
		p.connected, p.seq, p.seqValid = true, ev.Seq, true
		p.buttons, p.lt, p.rt = ev.Buttons, ev.LT, ev.RT
		p.lx, p.ly, p.rx, p.ry = ev.LX, ev.LY, ev.RX, ev.RY
		if p.active() {
			wd.padAim = true
		}
		// Presses are edges between two states: a press shorter than the client's polling
		// interval, or whose states were all lost, is not seen (the cost of sending state).
		pressed := p.buttons &^ was.buttons
		if pressed != 0 || (p.rt >= triggerOn && was.rt < triggerOn) || (p.lt >= triggerOn && was.lt < triggerOn) {
			wd.press()
		}
		if p.fire() && !was.fire() {
			wd.wantShot = true
		}
		if p.spread() && !was.spread() {
			wd.wantSpr = true
		}
		if pressed&(1<<input.PadStart) != 0 {
			wd.newRound()
		}
	}
}

// releaseAll lets go of every key, button and pad control, as if the player had released them
// all: the player's connection dropped, and what it held must not keep the ship moving or
// firing. Pads keep their sequence numbers, so a late state from before cannot press again.
func (wd *world) releaseAll() {
	wd.held = [len(wd.held)]bool{}
	wd.buttons = [len(wd.buttons)]bool{}
	for i := range wd.pads {
		p := &wd.pads[i]
		*p = pad{connected: p.connected, touch: p.touch, seq: p.seq, seqValid: p.seqValid}
	}
	wd.wantShot, wd.wantSpr = false, false
}

// padsHeld reports whether any connected pad has a control off its rest position.
func (wd *world) padsHeld() bool {
	for i := range wd.pads {
		if p := &wd.pads[i]; p.connected && p.active() {
			return true
		}
	}
	return false
}

// padsConnected reports whether any pad is connected.
func (wd *world) padsConnected() bool {
	for i := range wd.pads {
		if wd.pads[i].connected {
			return true
		}
	}
	return false
}

// padMove sums the left sticks and d-pads of the connected pads: the movement they ask for,
// before it is clamped to the unit circle.
func (wd *world) padMove() (mx, my float64) {
	for i := range wd.pads {
		p := &wd.pads[i]
		if !p.connected {
			continue
		}
		mx += input.AxisValue(p.lx)
		my += input.AxisValue(p.ly)
		if p.buttons&(1<<input.PadLeft) != 0 {
			mx--
		}
		if p.buttons&(1<<input.PadRight) != 0 {
			mx++
		}
		if p.buttons&(1<<input.PadUp) != 0 {
			my--
		}
		if p.buttons&(1<<input.PadDown) != 0 {
			my++
		}
	}
	return mx, my
}

// padAimStick returns the right stick deflected furthest among the connected pads, as −1..1.
func (wd *world) padAimStick() (x, y, mag float64) {
	for i := range wd.pads {
		p := &wd.pads[i]
		if !p.connected {
			continue
		}
		sx, sy := input.AxisValue(p.rx), input.AxisValue(p.ry)
		if m := math.Hypot(sx, sy); m > mag {
			x, y, mag = sx, sy, m
		}
	}
	return x, y, mag
}

func (wd *world) press() {
	wd.presses++
	wd.flash = flashTime
}

func (wd *world) down(a, b uint16) bool { return wd.held[a] || wd.held[b] }

func (wd *world) firing() bool {
	if wd.held[input.KeySpace] || wd.buttons[input.ButtonLeft] {
		return true
	}
	for i := range wd.pads {
		if p := &wd.pads[i]; p.connected && p.fire() {
			return true
		}
	}
	return false
}

// step advances the simulation by dt seconds.
func (wd *world) step(dt float64) {
	if dt <= 0 {
		return
	}
	if dt > 0.1 {
		dt = 0.1 // a long stall must not tunnel things through each other
	}
	u := wd.u
	wd.clock += dt
	wd.flash = max(0, wd.flash-dt)
	wd.hurt = max(0, wd.hurt-dt)
	wd.cooldown = max(0, wd.cooldown-dt)

	// Ship: the stick sets a target velocity that the ship approaches smoothly.
	var mx, my float64
	if wd.down(input.KeyA, input.KeyArrowLeft) {
		mx--
	}
	if wd.down(input.KeyD, input.KeyArrowRight) {
		mx++
	}
	if wd.down(input.KeyW, input.KeyArrowUp) {
		my--
	}
	if wd.down(input.KeyS, input.KeyArrowDown) {
		my++
	}
	if mx != 0 && my != 0 {
		mx, my = mx*math.Sqrt2/2, my*math.Sqrt2/2
	}
	// Gamepads add their (analog) sticks; the sum is held to the unit circle, so two inputs
	// together are no faster than one at full deflection.
	px, py := wd.padMove()
	mx, my = mx+px, my+py
	if m := math.Hypot(mx, my); m > 1 {
		mx, my = mx/m, my/m
	}
	k := min(1, shipAccel*dt)
	wd.svx += (mx*shipSpeed*u - wd.svx) * k
	wd.svy += (my*shipSpeed*u - wd.svy) * k
	r := shipRadius * u
	wd.sx = clamp(wd.sx+wd.svx*dt, r, wd.w-r)
	wd.sy = clamp(wd.sy+wd.svy*dt, r, wd.h-r)

	if wd.padAim {
		// The right stick aims; while it rests, the ship faces where the left stick moves it.
		if ax, ay, m := wd.padAimStick(); m >= stickAim {
			wd.dirX, wd.dirY = ax/m, ay/m
		} else if m := math.Hypot(px, py); m >= stickAim {
			wd.dirX, wd.dirY = px/m, py/m
		}
		wd.ax = clamp(wd.sx+wd.dirX*aimDistance*u, 0, wd.w-1)
		wd.ay = clamp(wd.sy+wd.dirY*aimDistance*u, 0, wd.h-1)
	} else if dx, dy := wd.ax-wd.sx, wd.ay-wd.sy; dx*dx+dy*dy > 1 {
		d := math.Hypot(dx, dy)
		wd.dirX, wd.dirY = dx/d, dy/d
	}

	// Weapons: a press always fires once; holding the trigger keeps firing.
	if wd.wantShot || (wd.firing() && wd.cooldown == 0) {
		wd.fire(0)
		wd.wantShot = false
		wd.cooldown = fireCooldown
	}
	if wd.wantSpr {
		for _, a := range [...]float64{-0.25, 0, 0.25} {
			wd.fire(a)
		}
		wd.wantSpr = false
		wd.cooldown = fireCooldown
	}

	// Bullets fly until they leave the frame or hit a target.
	for i := range wd.bullets {
		b := &wd.bullets[i]
		if !b.live {
			continue
		}
		b.x += b.vx * dt
		b.y += b.vy * dt
		if b.x < 0 || b.y < 0 || b.x >= wd.w || b.y >= wd.h {
			b.live = false
			continue
		}
		for j := range wd.targets {
			t := &wd.targets[j]
			if hit(b.x, b.y, bulletRadius*u, t.x, t.y, t.r) {
				b.live = false
				wd.hits++
				wd.combo++
				wd.score += 10 * wd.multiplier() * int(60*u/t.r+1)
				wd.burst(t.x, t.y, t.hue, 24)
				wd.spawn(t)
				break
			}
		}
	}

	// Targets drift, bounce off the walls, speed up with the score and ram the ship.
	speed := min(2.5, 1+float64(wd.score)/3000)
	for i := range wd.targets {
		t := &wd.targets[i]
		t.x += t.vx * speed * dt
		t.y += t.vy * speed * dt
		if t.x < t.r && t.vx < 0 || t.x > wd.w-t.r && t.vx > 0 {
			t.vx = -t.vx
		}
		if t.y < t.r && t.vy < 0 || t.y > wd.h-t.r && t.vy > 0 {
			t.vy = -t.vy
		}
		if wd.hurt == 0 && hit(wd.sx, wd.sy, r, t.x, t.y, t.r) {
			wd.hurt = hurtTime
			wd.combo = 0
			wd.shields--
			wd.burst(wd.sx, wd.sy, len(targetColors), 40)
			wd.spawn(t)
			if wd.shields == 0 {
				wd.newRound()
				return
			}
		}
	}

	for i := range wd.sparks {
		s := &wd.sparks[i]
		if s.life <= 0 {
			continue
		}
		s.x += s.vx * dt
		s.y += s.vy * dt
		s.vx *= 1 - min(1, 2*dt)
		s.vy *= 1 - min(1, 2*dt)
		s.life -= dt * 1.4
	}

	// The background drifts, and moves against the ship's motion for a sense of speed.
	wd.scrollX += (driftX*u - 0.25*wd.svx) * dt
	wd.scrollY += (driftY*u - 0.25*wd.svy) * dt
}

func (wd *world) multiplier() int { return min(5, 1+wd.combo/5) }

// fire launches one bullet from the gun, turned by angle radians off the aim.
func (wd *world) fire(angle float64) {
	for i := range wd.bullets {
		b := &wd.bullets[i]
		if b.live {
			continue
		}
		sin, cos := math.Sincos(angle)
		dx := wd.dirX*cos - wd.dirY*sin
		dy := wd.dirX*sin + wd.dirY*cos
		gun := shipRadius * 1.6 * wd.u
		*b = bullet{
			x: wd.sx + dx*gun, y: wd.sy + dy*gun,
			vx: dx * bulletSpeed * wd.u, vy: dy * bulletSpeed * wd.u,
			live: true,
		}
		wd.shots++
		return
	}
}

// spawn places t at a random spot away from the ship with a random drift.
func (wd *world) spawn(t *target) {
	u := wd.u
	t.r = (22 + wd.rng.Float64()*26) * u
	for range 16 {
		t.x = t.r + wd.rng.Float64()*(wd.w-2*t.r)
		t.y = t.r + wd.rng.Float64()*(wd.h-2*t.r)
		if math.Hypot(t.x-wd.sx, t.y-wd.sy) > 260*u {
			break
		}
	}
	a := wd.rng.Float64() * 2 * math.Pi
	v := (70 + wd.rng.Float64()*110) * u
	t.vx, t.vy = math.Cos(a)*v, math.Sin(a)*v
	t.hue = wd.rng.IntN(len(targetColors))
}

// burst throws n sparks of colour hue from (x, y).
func (wd *world) burst(x, y float64, hue, n int) {
	for range n {
		a := wd.rng.Float64() * 2 * math.Pi
		v := (80 + wd.rng.Float64()*340) * wd.u
		wd.sparks[wd.nextSp] = spark{
			x: x, y: y, vx: math.Cos(a) * v, vy: math.Sin(a) * v,
			life: 0.6 + wd.rng.Float64()*0.4, hue: hue,
		}
		wd.nextSp = (wd.nextSp + 1) % maxSparks
	}
}

func hit(ax, ay, ar, bx, by, br float64) bool {
	dx, dy, r := ax-bx, ay-by, ar+br
	return dx*dx+dy*dy < r*r
}

func clamp(v, lo, hi float64) float64 { return max(lo, min(hi, v)) }

// ShipState is what ShipForTest reports.
type ShipState struct {
	X, Y       float64 // the ship's centre, in pixels
	DirX, DirY float64 // the unit aim direction
	Shots      int     // bullets fired since New
	Firing     bool    // a fire control (key, button or pad) is held
	Pads       int     // gamepads connected
	PadX, PadY float64 // the movement the pads ask for (left sticks and d-pads), before clamping
}

// ShipForTest reports the ship. It reads state owned by whoever drives the game, so call it
// from there: from Run's sink (which Run calls on its own goroutine), or between Steps.
func (g *Game) ShipForTest() ShipState {
	wd := &g.world
	st := ShipState{X: wd.sx, Y: wd.sy, DirX: wd.dirX, DirY: wd.dirY, Shots: wd.shots, Firing: wd.firing()}
	st.PadX, st.PadY = wd.padMove()
	for i := range wd.pads {
		if wd.pads[i].connected {
			st.Pads++
		}
	}
	return st
}
