package demo

import "math"

// rgba is one opaque 8-bit RGBA pixel.
type rgba [4]byte

func rgb(r, g, b byte) rgba { return rgba{r, g, b, 0xff} }

// canvas is an RGBA image to draw on with clipping. It is a value over the frame's pixels, so
// drawing allocates nothing.
type canvas struct {
	pix    []byte
	stride int
	w, h   int
}

// fill paints the rectangle [x0,x1)×[y0,y1), clipped to the canvas: the first row is built by
// doubling copies, the others are copies of the first.
func (c *canvas) fill(x0, y0, x1, y1 int, col rgba) {
	x0, y0 = max(x0, 0), max(y0, 0)
	x1, y1 = min(x1, c.w), min(y1, c.h)
	if x0 >= x1 || y0 >= y1 {
		return
	}
	off := y0*c.stride + 4*x0
	row := c.pix[off : off+4*(x1-x0)]
	copy(row, col[:])
	for n := 4; n < len(row); n *= 2 {
		copy(row[n:], row[:n])
	}
	for y := y0 + 1; y < y1; y++ {
		off += c.stride
		copy(c.pix[off:off+len(row)], row)
	}
}

// square paints a size×size square centred on (x, y).
func (c *canvas) square(x, y float64, size int, col rgba) {
	x0, y0 := int(math.Round(x))-size/2, int(math.Round(y))-size/2
	c.fill(x0, y0, x0+size, y0+size, col)
}

// disc paints a filled circle of radius r centred on (x, y), one span per row.
func (c *canvas) disc(x, y, r float64, col rgba) {
	cx, cy := int(math.Round(x)), int(math.Round(y))
	ri := int(r)
	if cy+ri < 0 || cy-ri >= c.h || cx+ri < 0 || cx-ri >= c.w {
		return
	}
	r2 := r * r
	for dy := -ri; dy <= ri; dy++ {
		hw := int(math.Sqrt(r2 - float64(dy*dy)))
		c.fill(cx-hw, cy+dy, cx+hw+1, cy+dy+1, col)
	}
}

// frame paints a border of thickness t inside the rectangle [x0,x1)×[y0,y1).
func (c *canvas) frame(x0, y0, x1, y1, t int, col rgba) {
	c.fill(x0, y0, x1, y0+t, col)
	c.fill(x0, y1-t, x1, y1, col)
	c.fill(x0, y0+t, x0+t, y1-t, col)
	c.fill(x1-t, y0+t, x1, y1-t, col)
}
