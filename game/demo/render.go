package demo

import (
	"math"
	"strconv"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/game/marker"
	"github.com/edgeplay/edgeplay/input"
)

// tile is the period, in pixels, of the background pattern in both directions.
const tile = 64

var (
	colBase     = rgb(12, 16, 34)
	colGrid     = rgb(34, 64, 96)
	colSubGrid  = rgb(22, 34, 58)
	colShip     = rgb(90, 200, 255)
	colShipCore = rgb(20, 60, 90)
	colHurt     = rgb(255, 70, 70)
	colWhite    = rgb(255, 255, 255)
	colBarrel   = rgb(200, 230, 255)
	colFlame    = rgb(255, 160, 40)
	colBullet   = rgb(255, 255, 150)
	colText     = rgb(230, 232, 240)
	colDim      = rgb(120, 128, 150)
	colKeyOff   = rgb(44, 52, 80)
	colKeyBack  = rgb(16, 20, 36)
	colKeyOn    = rgb(90, 200, 255)
	colKeyText  = rgb(10, 14, 28)

	targetColors = [...]rgba{
		rgb(255, 80, 80), rgb(255, 180, 40), rgb(80, 220, 120), rgb(80, 170, 255), rgb(220, 100, 255),
	}
	flashColors = [...]rgba{
		rgb(255, 220, 60), rgb(60, 230, 255), rgb(255, 90, 200), rgb(120, 255, 110),
	}
	starColors = [3]rgba{rgb(80, 84, 120), rgb(150, 155, 200), rgb(255, 255, 255)}
)

// art holds what rendering precomputes: the background strip and sizes derived from the frame.
type art struct {
	w, h int
	// bg is tile rows of (w+tile) pixels: a tile-periodic pattern, so that the visible w pixels
	// of a row at any horizontal offset in [0, tile) are one contiguous copy.
	bg      []byte
	bgRow   int // bytes per bg row
	s       int // font pixel size
	key     int // side of a key box in the input indicator
	spark   int // side of a spark
	bulletS int // side of a bullet
	star    [3]int
	border  int
}

func (a *art) init(w, h int) {
	a.w, a.h = w, h
	u := float64(h) / 720
	px := func(v float64, least int) int { return max(least, int(math.Round(v*u))) }
	a.s = px(4, 2)
	a.key = 8 * a.s
	a.spark = px(4, 2)
	a.bulletS = px(2*bulletRadius, 3)
	a.star = [3]int{px(1, 1), px(2, 1), px(3, 2)}
	a.border = px(6, 3)

	a.bgRow = 4 * (w + tile)
	a.bg = make([]byte, tile*a.bgRow)
	for y := range tile {
		for x := range w + tile {
			tx, ty := x%tile, y
			col := colBase
			switch {
			case tx == 0 || ty == 0 || tx == 1 || ty == 1:
				col = colGrid
			case tx == tile/2 || ty == tile/2:
				col = colSubGrid
			default:
				// A faint fixed dither so that the encoder sees texture, not flat colour.
				n := int(hash(uint32(tx), uint32(ty))%13) - 6
				col = rgb(shade(colBase[0], n), shade(colBase[1], n), shade(colBase[2], 2*n))
			}
			copy(a.bg[y*a.bgRow+4*x:], col[:])
		}
	}
}

func hash(x, y uint32) uint32 {
	h := x*0x9e3779b1 ^ y*0x85ebca77
	h ^= h >> 15
	h *= 0xc2b2ae3d
	return h ^ h>>13
}

func shade(v byte, d int) byte { return byte(max(0, min(255, int(v)+d))) }

// scale returns col with each channel multiplied by f in [0, 1].
func scale(col rgba, f float64) rgba {
	f = max(0, min(1, f))
	return rgb(byte(float64(col[0])*f), byte(float64(col[1])*f), byte(float64(col[2])*f))
}

// clip returns the canvas over f, limited to the game's size and to what f's buffer holds.
func (a *art) clip(f *game.Frame) canvas {
	w, h := min(f.Width, a.w), min(f.Height, a.h)
	if f.Stride > 0 {
		w = min(w, f.Stride/4)
	}
	if w <= 0 || h <= 0 || f.Stride <= 0 || len(f.Pix) < 4*w {
		return canvas{}
	}
	h = min(h, (len(f.Pix)-4*w)/f.Stride+1)
	return canvas{pix: f.Pix, stride: f.Stride, w: w, h: h}
}

// render draws wd into f.
func (a *art) render(f *game.Frame, wd *world) {
	c := a.clip(f)
	if c.w == 0 {
		return
	}

	// Background: each row is one copy out of the prebuilt strip.
	ox, oy := mod(wd.scrollX, tile), mod(wd.scrollY, tile)
	for y := range c.h {
		src := a.bg[((y+oy)%tile)*a.bgRow+4*ox:]
		copy(c.pix[y*c.stride:y*c.stride+4*c.w], src[:4*c.w])
	}

	// Stars in three parallax layers.
	for i := range wd.stars {
		st := &wd.stars[i]
		f := 0.35 * float64(st.layer+1)
		x := mod(st.x*wd.w-wd.scrollX*f, c.w)
		y := mod(st.y*wd.h-wd.scrollY*f, c.h)
		sz := a.star[st.layer]
		c.fill(x, y, x+sz, y+sz, starColors[st.layer])
	}

	for i := range wd.sparks {
		sp := &wd.sparks[i]
		if sp.life > 0 {
			c.square(sp.x, sp.y, a.spark, scale(sparkColor(sp.hue), sp.life+0.2))
		}
	}

	// Targets are bullseyes: ring, white band, core.
	for i := range wd.targets {
		t := &wd.targets[i]
		col := targetColors[t.hue]
		c.disc(t.x, t.y, t.r, col)
		c.disc(t.x, t.y, t.r*0.68, colWhite)
		c.disc(t.x, t.y, t.r*0.4, col)
	}

	for i := range wd.bullets {
		if b := &wd.bullets[i]; b.live {
			c.square(b.x, b.y, a.bulletS, colBullet)
		}
	}

	a.drawShip(&c, wd)
	a.drawHUD(&c, wd)

	// The latency marker goes over everything.
	if c.w >= marker.Width && c.h >= marker.Height {
		marker.Draw(c.pix, c.stride, uint16(wd.lastSeq))
	}
}

func (a *art) drawShip(c *canvas, wd *world) {
	u := wd.u
	r := shipRadius * u
	body := colShip
	if wd.hurt > 0 && int(wd.clock*12)%2 == 0 {
		body = colHurt
	}
	// Thruster flame behind the ship, flickering, while it moves.
	if v := math.Hypot(wd.svx, wd.svy); v > 30*u {
		fl := 1.1 + 0.25*math.Sin(wd.clock*40)
		c.disc(wd.sx-wd.svx/v*r*fl, wd.sy-wd.svy/v*r*fl, r*0.45, colFlame)
	}
	c.disc(wd.sx, wd.sy, r, body)
	c.disc(wd.sx, wd.sy, r*0.6, colShipCore)
	side := max(3, int(r*0.4))
	for d := 0.5 * r; d <= 1.6*r; d += float64(side) / 2 {
		c.square(wd.sx+wd.dirX*d, wd.sy+wd.dirY*d, side, colBarrel)
	}
	c.disc(wd.sx+wd.dirX*r*0.2, wd.sy+wd.dirY*r*0.2, r*0.28, colWhite)

	// Crosshair: four ticks around a gap, red while the trigger is held.
	cross := colWhite
	if wd.firing() {
		cross = colHurt
	}
	x, y := int(math.Round(wd.ax)), int(math.Round(wd.ay))
	t, in, out := max(2, int(2*u)), max(3, int(6*u)), max(8, int(16*u))
	c.fill(x-out, y-t/2, x-in, y-t/2+t, cross)
	c.fill(x+in, y-t/2, x+out, y-t/2+t, cross)
	c.fill(x-t/2, y-out, x-t/2+t, y-in, cross)
	c.fill(x-t/2, y+in, x-t/2+t, y+out, cross)
}

func (a *art) drawHUD(c *canvas, wd *world) {
	s, pad := a.s, 2*a.s
	var buf [32]byte

	// Top right: score, multiplier, best and shields; below the latency marker's row when the
	// frame is too narrow for both side by side.
	line := append(buf[:0], "SCORE "...)
	line = appendPadded(line, wd.score, 6)
	y := pad
	if c.w-pad-textWidth(len(line), s) < marker.Width+pad {
		y += marker.Height
	}
	c.text(c.w-pad-textWidth(len(line), s), y, s, line, colText)
	y += 7 * s
	line = append(buf[:0], "BEST "...)
	line = appendPadded(line, wd.best, 6)
	c.text(c.w-pad-textWidth(len(line), s), y, s, line, colDim)
	y += 7 * s
	line = append(buf[:0], 'X')
	line = strconv.AppendInt(line, int64(wd.multiplier()), 10)
	c.text(c.w-pad-textWidth(len(line), s), y, s, line, flashColors[0])
	for i := range maxShields {
		col := colKeyOff
		if i < wd.shields {
			col = colShip
		}
		x := c.w - pad - textWidth(len(line), s) - (i+1)*4*s - 2*s
		c.fill(x, y, x+3*s, y+5*s, col)
	}

	// Bottom right: presses so far and accuracy.
	line = append(buf[:0], "IN "...)
	line = strconv.AppendUint(line, uint64(wd.presses), 10)
	c.text(c.w-pad-textWidth(len(line), s), c.h-pad-5*s, s, line, colText)
	line = append(buf[:0], "HIT "...)
	line = strconv.AppendInt(line, int64(wd.hits), 10)
	line = append(line, '/')
	line = strconv.AppendInt(line, int64(wd.shots), 10)
	c.text(c.w-pad-textWidth(len(line), s), c.h-pad-12*s, s, line, colDim)

	// Bottom left: which keys and buttons are held.
	k, gap := a.key, s
	bottom := c.h - pad - k
	top := bottom - k - gap
	x := pad
	a.key3(c, x, top, bottom, [4]uint16{input.KeyW, input.KeyA, input.KeyS, input.KeyD}, "WASD", wd)
	x += 3*(k+gap) + k
	a.key3(c, x, top, bottom, [4]uint16{input.KeyArrowUp, input.KeyArrowLeft, input.KeyArrowDown, input.KeyArrowRight}, "^<v>", wd)
	x += 3*(k+gap) + k
	a.keyBox(c, x, bottom, 4*k, "SPC", wd.held[input.KeySpace])
	x += 4*k + k
	for i, name := range [...]string{"L", "M", "R"} {
		a.keyBox(c, x+i*(k+gap), bottom, k, name, wd.buttons[i])
	}
	// A connected gamepad (TCH: the client's touch controls only), lit while it is used.
	if wd.padsConnected() {
		x += 3*(k+gap) + k
		label := "TCH"
		for i := range wd.pads {
			if p := &wd.pads[i]; p.connected && !p.touch {
				label = "PAD"
			}
		}
		a.keyBox(c, x, bottom, 3*k, label, wd.padsHeld())
	}

	// The border flashes in a new colour on every press.
	if wd.flash > 0 {
		c.frame(0, 0, c.w, c.h, a.border, flashColors[wd.presses%uint32(len(flashColors))])
	}
}

// key3 draws an inverted-T cluster: codes[0] above codes[2], codes[1..3] on the bottom row.
func (a *art) key3(c *canvas, x, top, bottom int, codes [4]uint16, names string, wd *world) {
	k, gap := a.key, a.s
	a.keyBox(c, x+k+gap, top, k, names[0:1], wd.held[codes[0]])
	for i := 1; i < 4; i++ {
		a.keyBox(c, x+(i-1)*(k+gap), bottom, k, names[i:i+1], wd.held[codes[i]])
	}
}

// keyBox draws one key of width w: filled when held, outlined when not, label centred.
func (a *art) keyBox(c *canvas, x, y, w int, label string, on bool) {
	k, s := a.key, a.s
	var buf [4]byte
	text := append(buf[:0], label...)
	fg := colDim
	if on {
		c.fill(x, y, x+w, y+k, colKeyOn)
		fg = colKeyText
	} else {
		c.fill(x, y, x+w, y+k, colKeyBack)
		c.frame(x, y, x+w, y+k, max(1, s/2), colKeyOff)
	}
	c.text(x+(w-textWidth(len(text), s))/2, y+(k-5*s)/2, s, text, fg)
}

func sparkColor(hue int) rgba {
	if hue < len(targetColors) {
		return targetColors[hue]
	}
	return colHurt
}

// appendPadded appends v in decimal, zero-padded to width digits.
func appendPadded(b []byte, v, width int) []byte {
	var d [20]byte
	n := strconv.AppendInt(d[:0], int64(v), 10)
	for i := len(n); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, n...)
}

// mod returns v modulo m as an int in [0, m).
func mod[T float64 | int](v T, m int) int {
	r := int(math.Floor(float64(v))) % m
	if r < 0 {
		r += m
	}
	return r
}
