package main

import (
	"github.com/edgeplay/edgeplay/game/marker"
	"github.com/edgeplay/edgeplay/gamesdk"
)

// Colours, R G B.
var (
	background = rgb{0x10, 0x13, 0x1a}
	boardFloor = rgb{0x1a, 0x21, 0x2d}
	pausedRim  = rgb{0xe0, 0xb0, 0x30}
	snakeBody  = rgb{0x3a, 0xc8, 0x68}
	snakeHead  = rgb{0xa8, 0xff, 0xbc}
	foodColour = rgb{0xff, 0x52, 0x40}
	scoreInk   = rgb{0xf0, 0xf0, 0xf0}
	bestInk    = rgb{0x80, 0x88, 0x98}
)

type rgb [3]byte

// canvas is an RGBA frame slot: rows are stride bytes apart (the pool's stride, which may be
// more than 4 × width: never assume packed rows).
type canvas struct {
	pix       []byte
	stride    int
	width, ht int
}

// fill paints the rectangle [x0, x1) × [y0, y1), clipped to the canvas: the first row pixel by
// pixel, the others as copies of it.
func (c *canvas) fill(x0, y0, x1, y1 int, col rgb) {
	x0, y0 = max(x0, 0), max(y0, 0)
	x1, y1 = min(x1, c.width), min(y1, c.ht)
	if x0 >= x1 || y0 >= y1 {
		return
	}
	first := c.pix[y0*c.stride+4*x0 : y0*c.stride+4*x1]
	for i := 0; i < len(first); i += 4 {
		first[i], first[i+1], first[i+2], first[i+3] = col[0], col[1], col[2], 0xff
	}
	for y := y0 + 1; y < y1; y++ {
		copy(c.pix[y*c.stride+4*x0:], first)
	}
}

// draw renders the game into the frame f and says whether it drew edgeplay's latency marker,
// which carries the last applied input seq (frame_ready's marker flag says so; the host and
// its test player read it to measure input → picture). The top marker.Height rows are the
// scoreboard when the frame is large enough; the board fills the rest.
func draw(f *gamesdk.Frame, s *snake, lastSeq uint32) bool {
	c := canvas{pix: f.Planes[0], stride: f.Strides[0], width: f.Width, ht: f.Height}
	c.fill(0, 0, c.width, c.ht, background)

	withHUD := c.width >= 2*marker.Width && c.ht >= 3*marker.Height
	top := 0
	if withHUD {
		top = marker.Height
	}
	size := min(c.width/cols, (c.ht-top)/rows) // a cell's side, in pixels
	if size >= 1 {
		ox, oy := (c.width-size*cols)/2, top+(c.ht-top-size*rows)/2
		if s.paused {
			c.fill(ox-2, oy-2, ox+size*cols+2, oy+size*rows+2, pausedRim)
		}
		c.fill(ox, oy, ox+size*cols, oy+size*rows, boardFloor)
		gap := 0
		if size >= 6 {
			gap = 1
		}
		cellAt := func(p cell, col rgb) {
			x, y := ox+p.x*size, oy+p.y*size
			c.fill(x+gap, y+gap, x+size-gap, y+size-gap, col)
		}
		if s.food.x >= 0 {
			cellAt(s.food, foodColour)
		}
		for i, p := range s.body {
			col := snakeBody
			if i == 0 {
				col = snakeHead
			}
			cellAt(p, col)
		}
	}
	if !withHUD {
		return false
	}
	// The score on the right, large; the best round below it, small.
	scale := marker.Height / 8
	x := c.width - scale
	x = c.number(x, scale/2, s.score, scale, scoreInk)
	c.number(x-3*scale, scale/2+3*scale, max(s.best, s.score), scale/2, bestInk)
	marker.Draw(c.pix, c.stride, uint16(lastSeq))
	return true
}

// digits are 3×5 bitmaps of 0–9, row by row from the top, the leftmost pixel the high bit of
// each 3-bit row.
var digits = [10][5]uint8{
	{7, 5, 5, 5, 7},
	{2, 6, 2, 2, 7},
	{7, 1, 7, 4, 7},
	{7, 1, 7, 1, 7},
	{5, 5, 7, 1, 1},
	{7, 4, 7, 1, 7},
	{7, 4, 7, 5, 7},
	{7, 1, 1, 1, 1},
	{7, 5, 7, 5, 7},
	{7, 5, 7, 1, 7},
}

// number draws n right-aligned so that it ends at x, from row y, each font pixel scale
// pixels wide, and returns where it begins.
func (c *canvas) number(x, y, n, scale int, col rgb) int {
	for {
		x -= 4 * scale // a digit and a column of space
		d := digits[n%10]
		for row, bits := range d {
			for b := range 3 {
				if bits&(4>>b) != 0 {
					px, py := x+b*scale, y+row*scale
					c.fill(px, py, px+scale, py+scale, col)
				}
			}
		}
		n /= 10
		if n == 0 {
			return x
		}
	}
}
