package encoder

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

// Our converter must agree with swscale, which is what ffmpeg uses: same BT.601 matrix, same
// limited range. On flat 2×2-aligned blocks the chroma filter makes no difference, so the
// comparison is exact to rounding.
func TestConvertMatchesSwscale(t *testing.T) {
	const w, h, block = 320, 720, 16
	rng := rand.New(rand.NewPCG(3, 4))
	f := newFrame(w, h)
	for by := 0; by < h; by += block {
		for bx := 0; bx < w; bx += block {
			fillRect(f, bx, by, bx+block, by+block, byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()))
		}
	}
	// Plus the extremes.
	fillRect(f, 0, 0, block, block, 0, 0, 0)
	fillRect(f, block, 0, 2*block, block, 0xff, 0xff, 0xff)
	fillRect(f, 2*block, 0, 3*block, block, 0xff, 0, 0)
	fillRect(f, 3*block, 0, 4*block, block, 0, 0xff, 0)
	fillRect(f, 4*block, 0, 5*block, block, 0, 0, 0xff)

	tests := []struct {
		name  string
		t     tuning
		bands int
	}{
		{"one band", tuning{bands: 1}, 1},
		{"two bands", tuning{bands: 2}, 2},
		{"three bands", tuning{bands: 3}, 3},
	}
	ref, err := newEncoder(Config{Width: w, Height: h, FPS: 30, Backend: BackendX264}, tuning{sws: true, swsFlags: swsBicubic, swsThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if err := ref.convert(f); err != nil {
		t.Fatal(err)
	}
	wantY, wantU, wantV := ref.planesForTest()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := newEncoder(Config{Width: w, Height: h, FPS: 30, Backend: BackendX264}, tt.t)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if len(e.bands) != tt.bands {
				t.Fatalf("%d bands, want %d", len(e.bands), tt.bands)
			}
			if err := e.convert(f); err != nil {
				t.Fatal(err)
			}
			gotY, gotU, gotV := e.planesForTest()
			// Compare block interiors: away from edges, where swscale's bicubic chroma filter
			// reaches into the neighbouring block.
			check := func(plane string, got, want []byte, pw, ph, scale int) {
				worst := 0
				for y := range ph {
					for x := range pw {
						inY, inX := (y*scale)%block, (x*scale)%block
						if inY < 4 || inY >= block-4 || inX < 4 || inX >= block-4 {
							continue
						}
						d := int(got[y*pw+x]) - int(want[y*pw+x])
						worst = max(worst, d, -d)
					}
				}
				if worst > 1 {
					t.Errorf("%s plane differs from swscale by up to %d, want <= 1", plane, worst)
				}
			}
			check("Y", gotY, wantY, w, h, 1)
			check("U", gotU, wantU, w/2, h/2, 2)
			check("V", gotV, wantV, w/2, h/2, 2)
			if gotY[block/2*w+block/2] != 16 || gotY[block/2*w+block+block/2] != 235 {
				t.Errorf("black → Y %d, white → Y %d; want 16 and 235", gotY[block/2*w+block/2], gotY[block/2*w+block+block/2])
			}
		})
	}
}

func TestSplitRows(t *testing.T) {
	tests := []struct {
		name string
		h, n int
		want []band
	}{
		{"one", 720, 1, []band{{0, 720}}},
		{"two", 720, 2, []band{{0, 360}, {360, 720}}},
		{"four of 1080", 1080, 4, []band{{0, 270}, {270, 540}, {540, 810}, {810, 1080}}},
		{"uneven", 722, 2, []band{{0, 362}, {362, 722}}},
		{"too small to split", 240, 4, []band{{0, 240}}},
		{"capped by minimum rows", 400, 4, []band{{0, 200}, {200, 400}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := splitRows(tt.h, tt.n)
			if len(got) != len(tt.want) {
				t.Fatalf("splitRows(%d, %d) = %v, want %v", tt.h, tt.n, got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] || got[i].y0%2 != 0 {
					t.Fatalf("splitRows(%d, %d) = %v, want %v", tt.h, tt.n, got, tt.want)
				}
			}
		})
	}
}

func numCPUForTest() int { return runtime.NumCPU() }
