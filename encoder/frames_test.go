package encoder

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

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
	if x0 >= x1 || y0 >= y1 {
		return
	}
	// Fill the first row, then copy it: far fewer memory accesses for the race detector to
	// check than pixel by pixel.
	first := f.Pix[y0*f.Stride+4*x0 : y0*f.Stride+4*x1]
	for i := 0; i < len(first); i += 4 {
		first[i], first[i+1], first[i+2], first[i+3] = r, g, b, 0xff
	}
	for y := y0 + 1; y < y1; y++ {
		copy(f.Pix[y*f.Stride+4*x0:], first)
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

// panScene draws content shaped like a game's: a textured world that the camera pans across
// (2 pixels right and half a pixel down per frame), a little sensor-like noise that no
// prediction removes, and four objects moving on their own. Its texture and noise are drawn
// once; a frame is mostly row copies.
type panScene struct {
	w, h   int
	stride int // of tex and noise
	tex    []byte
	noise  []byte
	rng    *rand.Rand
}

const panMargin = 128 // how far the camera travels before the pan wraps around

func newPanScene(w, h int) *panScene {
	const amp = 3 // noise of ±3 levels per channel
	s := &panScene{w: w, h: h, stride: 4 * (w + panMargin), rng: rand.New(rand.NewPCG(5, 6))}
	rows := h + panMargin
	s.tex = make([]byte, s.stride*rows)
	for y := range rows {
		for x := range w + panMargin {
			bx, by := x/16, y/16
			v := (bx*37 + by*91 + bx*by*13) % 200
			px := s.tex[y*s.stride+4*x:]
			px[0], px[1], px[2], px[3] = byte(v+x%16*2), byte(200-v+y%16), byte((bx+by)%2*100+40), 0xff
		}
	}
	s.noise = make([]byte, len(s.tex))
	for i := range s.noise {
		s.noise[i] = byte(s.rng.IntN(2*amp+1) - amp)
	}
	return s
}

// draw draws frame n into f (f is w×h, w even, its stride a multiple of 8).
func (s *panScene) draw(f *game.Frame, n int) {
	ox, oy := (2*n)%panMargin, (n/2)%panMargin
	nx, ny := 2*s.rng.IntN(panMargin/2), s.rng.IntN(panMargin) // nx even: 8-byte aligned rows
	for y := range s.h {
		dst := f.Pix[y*f.Stride : y*f.Stride+4*s.w]
		copy(dst, s.tex[(y+oy)*s.stride+4*ox:])
		addBytes(dst, s.noise[(y+ny)*s.stride+4*nx:])
	}
	for k := range 4 {
		x := (n*(5+3*k) + 97*k) % (s.w - 48)
		fillRect(f, x, 40+70*k, x+48, 88+70*k, byte(60*k), 0xff, byte(0xff-50*k))
	}
	f.Seq = uint64(n + 1)
}

// addBytes adds src to dst byte by byte, modulo 256, eight bytes at a time (so that the race
// detector checks an eighth of the accesses). Both start 8-byte aligned; len(dst) is a
// multiple of 8.
func addBytes(dst, src []byte) {
	const high = 0x8080808080808080
	d := unsafe.Slice((*uint64)(unsafe.Pointer(&dst[0])), len(dst)/8)
	s := unsafe.Slice((*uint64)(unsafe.Pointer(&src[0])), len(dst)/8)
	for i, a := range d {
		b := s[i]
		d[i] = ((a &^ high) + (b &^ high)) ^ ((a ^ b) & high)
	}
}

// psnrY is the PSNR of a decoded picture's luma against want (tightly packed, same size).
func psnrY(p *Picture, want []byte) float64 {
	var sse float64
	for y := range p.Height {
		for x, v := range p.Y[y*p.YStride : y*p.YStride+p.Width] {
			d := float64(v) - float64(want[y*p.Width+x])
			sse += d * d
		}
	}
	mse := sse / float64(p.Width*p.Height)
	return 10 * math.Log10(255*255/max(mse, 1e-9))
}

func TestAddBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	dst, src := make([]byte, 64), make([]byte, 64)
	for i := range dst {
		dst[i], src[i] = byte(rng.Uint32()), byte(rng.Uint32())
	}
	dst[0], src[0] = 0xff, 0x02 // wraps without carrying into the next byte
	want := make([]byte, len(dst))
	for i := range want {
		want[i] = dst[i] + src[i]
	}
	addBytes(dst, src)
	if !bytes.Equal(dst, want) {
		t.Errorf("addBytes = %x, want %x", dst, want)
	}
}
