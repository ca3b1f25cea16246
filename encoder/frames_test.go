package encoder

import (
	"math/rand/v2"

	"github.com/edgeplay/edgeplay/game"
)

// Test pictures: a mid-grey background with a white and a black 64×64 block at fixed places
// (to check that luma survives the round trip) and a white 32×32 square that moves 16 pixels
// right per frame (to check frame order and to give the encoder motion).
const (
	blockY     = 32
	whiteX     = 32
	blackX     = 128
	blockSize  = 64
	moverY     = 128
	moverSize  = 32
	moverStep  = 16
	background = 0x80
)

func newFrame(w, h int) *game.Frame {
	return &game.Frame{Width: w, Height: h, Stride: 4 * w, Pix: make([]byte, 4*w*h)}
}

func fillRect(f *game.Frame, x0, y0, x1, y1 int, r, g, b byte) {
	x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, f.Width), min(y1, f.Height)
	for y := y0; y < y1; y++ {
		row := f.Pix[y*f.Stride:]
		for x := x0; x < x1; x++ {
			row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = r, g, b, 0xff
		}
	}
}

// moverX is the left edge of the moving square in frame n.
func moverX(n, width int) int {
	return (n * moverStep) % (width - moverSize)
}

// drawTest draws test picture n into f.
func drawTest(f *game.Frame, n int) {
	fillRect(f, 0, 0, f.Width, f.Height, background, background, background)
	fillRect(f, whiteX, blockY, whiteX+blockSize, blockY+blockSize, 0xff, 0xff, 0xff)
	fillRect(f, blackX, blockY, blackX+blockSize, blockY+blockSize, 0, 0, 0)
	x := moverX(n, f.Width)
	fillRect(f, x, moverY, x+moverSize, moverY+moverSize, 0xff, 0xff, 0xff)
	f.Seq = uint64(n + 1)
}

// drawNoise fills f with random pixels: content that no bit rate is enough for.
func drawNoise(f *game.Frame, rng *rand.Rand) {
	for i := 0; i+8 <= len(f.Pix); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			f.Pix[i+j] = byte(v >> (8 * j))
		}
	}
}

// drawMoving draws benchmark picture n: a colour gradient that scrolls and a grid of squares
// that move, so that every frame differs from the last in most macroblocks.
func drawMoving(f *game.Frame, n int) {
	for y := range f.Height {
		row := f.Pix[y*f.Stride:]
		for x := range f.Width {
			row[4*x] = byte(x + 3*n)
			row[4*x+1] = byte(y + 2*n)
			row[4*x+2] = byte(x + y - n)
			row[4*x+3] = 0xff
		}
	}
	for gy := 0; gy < f.Height; gy += 120 {
		for gx := 0; gx < f.Width; gx += 160 {
			x := gx + (n*5+gy)%100
			y := gy + (n*3+gx)%60
			fillRect(f, x, y, x+40, y+40, byte(gx), byte(gy), byte(n*7))
		}
	}
	f.Seq = uint64(n + 1)
}

// lumaMean is the mean of the luma samples in the rectangle [x0,x1)×[y0,y1).
func lumaMean(p *Picture, x0, y0, x1, y1 int) int {
	sum := 0
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			sum += int(p.Y[y*p.YStride+x])
		}
	}
	return sum / ((x1 - x0) * (y1 - y0))
}
