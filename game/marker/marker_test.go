package marker

import (
	"math/rand/v2"
	"testing"
)

// rgbaImage returns a w×h RGBA buffer with stride bytes per row, filled with one grey.
func rgbaImage(w, h, stride int, grey byte) []byte {
	pix := make([]byte, (h-1)*stride+4*w)
	for y := range h {
		for x := range w {
			o := y*stride + 4*x
			pix[o], pix[o+1], pix[o+2], pix[o+3] = grey, grey, grey, 0xff
		}
	}
	return pix
}

// toLuma converts an RGBA buffer to a luma plane with the given stride, as a decoder would.
func toLuma(pix []byte, rgbaStride, w, h, lumaStride int) []byte {
	luma := make([]byte, (h-1)*lumaStride+w)
	for y := range h {
		for x := range w {
			o := y*rgbaStride + 4*x
			luma[y*lumaStride+x] = byte(Luma(pix[o], pix[o+1], pix[o+2]))
		}
	}
	return luma
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name          string
		value         uint16
		w, h          int // image size
		stride, lumaS int // row pitch of the RGBA image and of the luma plane
	}{
		{"zero", 0, 256, 64, 4 * 256, 256},
		{"all ones", 0xFFFF, 256, 64, 4 * 256, 256},
		{"corners", 0x8001, 256, 64, 4 * 256, 256},
		{"one", 1, 320, 240, 4 * 320, 320},
		{"alternating", 0xAAAA, 1280, 720, 4 * 1280, 1280},
		{"alternating inverse", 0x5555, 1280, 720, 4 * 1280, 1280},
		{"padded rows", 0x1234, 300, 70, 4*300 + 64, 320},
		{"high byte", 0xFF00, 256, 64, 4 * 256, 256},
		{"low byte", 0x00FF, 256, 64, 4 * 256, 256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pix := rgbaImage(tt.w, tt.h, tt.stride, 128)
			Draw(pix, tt.stride, tt.value)

			got, ok := ReadRGBA(pix, tt.stride)
			if !ok || got != tt.value {
				t.Fatalf("ReadRGBA = %#04x, %v; want %#04x, true", got, ok, tt.value)
			}
			luma := toLuma(pix, tt.stride, tt.w, tt.h, tt.lumaS)
			got, ok = Read(luma, tt.lumaS)
			if !ok || got != tt.value {
				t.Fatalf("Read = %#04x, %v; want %#04x, true", got, ok, tt.value)
			}
		})
	}
}

// TestLayout checks the wire layout itself, not just that Draw and Read agree.
func TestLayout(t *testing.T) {
	tests := []struct {
		name     string
		value    uint16
		row, col int // the one white cell
	}{
		{"bit 15", 1 << 15, 0, 0},
		{"bit 8", 1 << 8, 0, 7},
		{"bit 7", 1 << 7, 1, 0},
		{"bit 0", 1, 1, 7},
		{"bit 10", 1 << 10, 0, 5},
	}
	const stride = 4 * Width
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pix := make([]byte, stride*Height)
			Draw(pix, stride, tt.value)
			for y := range Height {
				for x := range Width {
					o := y*stride + 4*x
					want := [4]byte{0, 0, 0, 0xff}
					if y/Cell == tt.row && x/Cell == tt.col {
						want = [4]byte{0xff, 0xff, 0xff, 0xff}
					}
					if got := [4]byte(pix[o : o+4]); got != want {
						t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, got, want)
					}
				}
			}
		})
	}
}

func TestDrawLeavesRestAlone(t *testing.T) {
	const w, h = 320, 80
	pix := rgbaImage(w, h, 4*w, 77)
	Draw(pix, 4*w, 0xFFFF)
	for y := range h {
		for x := range w {
			if x < Width && y < Height {
				continue
			}
			if o := y*4*w + 4*x; pix[o] != 77 {
				t.Fatalf("pixel (%d,%d) outside the region changed to %d", x, y, pix[o])
			}
		}
	}
}

func TestNoiseTolerance(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, v := range []uint16{0, 0xFFFF, 0x8001, 0x1234, 0xBEEF} {
		const stride = 4 * Width
		pix := make([]byte, stride*Height)
		Draw(pix, stride, v)
		for i := range pix {
			if i%4 == 3 {
				continue
			}
			n := int(pix[i]) + rng.IntN(81) - 40
			pix[i] = byte(max(0, min(255, n)))
		}
		if got, ok := ReadRGBA(pix, stride); !ok || got != v {
			t.Errorf("ReadRGBA with noise = %#04x, %v; want %#04x, true", got, ok, v)
		}
		luma := toLuma(pix, stride, Width, Height, Width)
		if got, ok := Read(luma, Width); !ok || got != v {
			t.Errorf("Read with noise = %#04x, %v; want %#04x, true", got, ok, v)
		}
	}
}

func TestNoMarker(t *testing.T) {
	tests := []struct {
		name string
		grey byte
	}{
		{"mid grey", 128},
		{"just above 0", 96},
		{"just below 1", 160},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pix := rgbaImage(Width, Height, 4*Width, tt.grey)
			if v, ok := ReadRGBA(pix, 4*Width); ok {
				t.Fatalf("ReadRGBA on grey %d = %#04x, true; want false", tt.grey, v)
			}
			luma := toLuma(pix, 4*Width, Width, Height, Width)
			if v, ok := Read(luma, Width); ok {
				t.Fatalf("Read on grey %d = %#04x, true; want false", tt.grey, v)
			}
		})
	}
}

// TestOneGreyCell checks that a single ambiguous cell spoils the whole marker.
func TestOneGreyCell(t *testing.T) {
	luma := make([]byte, Width*Height)
	for y := Cell; y < 2*Cell; y++ {
		for x := 3 * Cell; x < 4*Cell; x++ {
			luma[y*Width+x] = 128
		}
	}
	if v, ok := Read(luma, Width); ok {
		t.Fatalf("Read = %#04x, true; want false", v)
	}
}

func TestTooSmall(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		stride int
	}{
		{"nil", 0, Width},
		{"one row short", (Height-2)*Width + Width, Width},
		{"one byte short", (Height-1)*Width + Width - 1, Width},
		{"narrow stride", Width * Height, Width - 1},
		{"zero stride", Width * Height, 0},
		{"negative stride", Width * Height, -Width},
		{"huge stride", Width * Height, int(^uint(0) >> 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			luma := make([]byte, tt.size)
			if _, ok := Read(luma, tt.stride); ok {
				t.Error("Read ok on a buffer too small")
			}
			pix := make([]byte, 4*tt.size)
			if _, ok := ReadRGBA(pix, 4*tt.stride); ok {
				t.Error("ReadRGBA ok on a buffer too small")
			}
			Draw(pix, 4*tt.stride, 0xFFFF) // must not panic
		})
	}
}

func FuzzRead(f *testing.F) {
	valid := make([]byte, 4*Width*Height)
	Draw(valid, 4*Width, 0x8001)
	f.Add(toLuma(valid, 4*Width, Width, Height, Width), Width)
	f.Add(make([]byte, Width*Height), Width)
	f.Add([]byte{}, 0)
	f.Add([]byte{1, 2, 3}, -1)
	f.Fuzz(func(t *testing.T, luma []byte, stride int) {
		v, ok := Read(luma, stride)
		if !ok {
			return
		}
		// An accepted plane carries a marker whose every probe agrees with the value read, so
		// redrawing that value and reading it again gives the same value.
		pix := make([]byte, 4*Width*Height)
		Draw(pix, 4*Width, v)
		if again, ok := ReadRGBA(pix, 4*Width); !ok || again != v {
			t.Fatalf("redrawn %#04x reads back as %#04x, %v", v, again, ok)
		}
		if _, ok := ReadRGBA(luma, stride); ok && stride < 4*Width {
			t.Fatalf("ReadRGBA accepted stride %d", stride)
		}
	})
}

func BenchmarkRead(b *testing.B) {
	pix := make([]byte, 4*1280*720)
	Draw(pix, 4*1280, 0xA5A5)
	luma := toLuma(pix, 4*1280, 1280, 720, 1280)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := Read(luma, 1280); !ok {
			b.Fatal("no marker")
		}
	}
}

func BenchmarkDraw(b *testing.B) {
	pix := make([]byte, 4*1280*720)
	b.ReportAllocs()
	for b.Loop() {
		Draw(pix, 4*1280, 0xA5A5)
	}
}

// downscale returns a w×h luma plane sampled (box average) from a 1280×720 one.
func downscale(luma []byte, w, h int) []byte {
	out := make([]byte, w*h)
	for y := range h {
		for x := range w {
			x0, x1 := x*1280/w, (x+1)*1280/w
			y0, y1 := y*720/h, (y+1)*720/h
			sum, n := 0, 0
			for sy := y0; sy < y1; sy++ {
				for sx := x0; sx < x1; sx++ {
					sum += int(luma[sy*1280+sx])
					n++
				}
			}
			out[y*w+x] = byte(sum / n)
		}
	}
	return out
}

func TestReadScaled(t *testing.T) {
	pix := rgbaImage(1280, 720, 4*1280, 128)
	Draw(pix, 4*1280, 0xA5C3)
	full := toLuma(pix, 4*1280, 1280, 720, 1280)
	for _, size := range [][2]int{{1280, 720}, {960, 540}, {640, 360}} {
		luma := full
		if size[0] != 1280 {
			luma = downscale(full, size[0], size[1])
		}
		if v, ok := ReadScaled(luma, size[0], size[0], size[1], 1280, 720); !ok || v != 0xA5C3 {
			t.Errorf("%dx%d: ReadScaled = %#04x, %v; want 0xa5c3, true", size[0], size[1], v, ok)
		}
	}
	if _, ok := ReadScaled(make([]byte, 10), 5, 10, 1, 1280, 720); ok {
		t.Error("a plane shorter than its rows read as a marker")
	}
}
