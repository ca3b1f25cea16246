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
)

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
	case input.Wheel:
		// The wheel nudges the crosshair vertically, so that it too visibly does something.
		wd.ay = clamp(wd.ay+float64(ev.DY)/4, 0, wd.h-1)
	}
}

func (wd *world) press() {
	wd.presses++
	wd.flash = flashTime
}

func (wd *world) down(a, b uint16) bool { return wd.held[a] || wd.held[b] }

func (wd *world) firing() bool {
	return wd.held[input.KeySpace] || wd.buttons[input.ButtonLeft]
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
	k := min(1, shipAccel*dt)
	wd.svx += (mx*shipSpeed*u - wd.svx) * k
	wd.svy += (my*shipSpeed*u - wd.svy) * k
	r := shipRadius * u
	wd.sx = clamp(wd.sx+wd.svx*dt, r, wd.w-r)
	wd.sy = clamp(wd.sy+wd.svy*dt, r, wd.h-r)

	if dx, dy := wd.ax-wd.sx, wd.ay-wd.sy; dx*dx+dy*dy > 1 {
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
