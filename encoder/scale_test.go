package encoder

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestChooseConversion(t *testing.T) {
	const (
		same     = 0 // EP_CONV_SAME
		half     = 1 // EP_CONV_HALF
		sws      = 2 // EP_CONV_SWS
		fullSws  = 3 // EP_CONV_FULL_SWS
		threads2 = 2
	)
	tests := []struct {
		name      string
		cfg       Config
		backend   string
		t         tuning
		mode      int
		flags     int
		swThreads int
	}{
		{"same size", Config{Width: 1280, Height: 720}, BackendX264, tuning{}, same, swsBicubic, 1},
		{"same size, swscale asked", Config{Width: 1280, Height: 720}, BackendX264, tuning{sws: true, swsFlags: swsPoint}, sws, swsPoint, 1},
		{"exact half", Config{Width: 640, Height: 360, SrcWidth: 1280, SrcHeight: 720}, BackendX264, tuning{}, half, swsBilinear, threads2},
		{"exact half on vp8", Config{Width: 640, Height: 360, SrcWidth: 1280, SrcHeight: 720}, BackendVP8, tuning{}, half, swsBilinear, threads2},
		{"three quarters", Config{Width: 960, Height: 540, SrcWidth: 1280, SrcHeight: 720}, BackendX264, tuning{}, fullSws, swsBilinear, threads2},
		{"half one way only", Config{Width: 640, Height: 720, SrcWidth: 1280, SrcHeight: 720}, BackendX264, tuning{}, fullSws, swsBilinear, threads2},
		{"half asked where it cannot be", Config{Width: 960, Height: 540, SrcWidth: 1280, SrcHeight: 720}, BackendX264, tuning{scale: scaleHalf}, fullSws, swsBilinear, threads2},
		{"one-pass swscale asked", Config{Width: 960, Height: 540, SrcWidth: 1280, SrcHeight: 720}, BackendX264, tuning{scale: scaleSws, scaleFlags: swsArea, swsThreads: 1}, sws, swsArea, 1},
		{"one thread", Config{Width: 960, Height: 540, SrcWidth: 1280, SrcHeight: 720, Threads: 1}, BackendX264, tuning{}, fullSws, swsBilinear, 1},
		{"vaapi same size", Config{Width: 1280, Height: 720}, BackendVAAPI, tuning{}, sws, swsBicubic, 1},
		{"vaapi scaling", Config{Width: 640, Height: 360, SrcWidth: 1280, SrcHeight: 720}, BackendVAAPI, tuning{}, sws, swsBicubic, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.FPS = 60
			if cfg.Threads == 0 {
				cfg.Threads = 4
			}
			got := chooseConversion(cfg, tt.backend, tt.t)
			wantThreads := tt.swThreads
			if tt.swThreads == threads2 {
				wantThreads = min(cfg.Threads, numCPUForTest())
			}
			if int(got.mode) != tt.mode || got.swsFlags != tt.flags || got.swsThreads != wantThreads {
				t.Errorf("chooseConversion = mode %d, flags %#x, %d threads; want mode %d, flags %#x, %d threads",
					got.mode, got.swsFlags, got.swsThreads, tt.mode, tt.flags, wantThreads)
			}
		})
	}
}

// The fused 2:1 converter must give what a box filter followed by the BT.601 conversion
// gives, to rounding.
func TestHalfMatchesBox(t *testing.T) {
	const w, h = 160, 96 // the picture; the frame is twice that
	rng := rand.New(rand.NewPCG(7, 8))
	f := newFrame(2*w, 2*h)
	drawNoise(f, rng)
	for _, bands := range []int{1, 2} {
		t.Run(fmt.Sprintf("bands=%d", bands), func(t *testing.T) {
			e, err := newEncoder(Config{Width: w, Height: h, SrcWidth: 2 * w, SrcHeight: 2 * h, FPS: 30, Backend: BackendX264},
				tuning{scale: scaleHalf, bands: bands})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if err := e.convert(f); err != nil {
				t.Fatal(err)
			}
			gotY, gotU, gotV := e.planesForTest()
			// mean is the mean of channel c over the n×n source block at (x, y) of the picture
			// scaled by n.
			mean := func(x, y, n, c int) float64 {
				sum := 0
				for dy := range n {
					for dx := range n {
						sum += int(f.Pix[(y*n+dy)*f.Stride+4*(x*n+dx)+c])
					}
				}
				return float64(sum) / float64(n*n)
			}
			worst := func(plane string, got []byte, pw, ph, n int, conv func(r, g, b float64) float64) {
				d := 0.0
				for y := range ph {
					for x := range pw {
						want := conv(mean(x, y, n, 0), mean(x, y, n, 1), mean(x, y, n, 2))
						d = max(d, math.Abs(float64(got[y*pw+x])-want))
					}
				}
				if d > 1 {
					t.Errorf("%s plane differs from box filter + BT.601 by up to %.2f, want <= 1", plane, d)
				}
			}
			worst("Y", gotY, w, h, 2, func(r, g, b float64) float64 { return 16 + 0.256788*r + 0.504129*g + 0.097906*b })
			worst("U", gotU, w/2, h/2, 4, func(r, g, b float64) float64 { return 128 - 0.148223*r - 0.290993*g + 0.439216*b })
			worst("V", gotV, w/2, h/2, 4, func(r, g, b float64) float64 { return 128 + 0.439216*r - 0.367788*g - 0.071427*b })
		})
	}
}

// The scalers must agree with each other: at 2:1 our box filter and swscale's area filter
// (which is a box filter there) and swscale in one pass; at 4:3 our converter followed by
// swscale and swscale alone.
func TestScalersAgree(t *testing.T) {
	tests := []struct {
		name  string
		w, h  int
		a, b  tuning
		minDB float64
	}{
		{"2:1 half vs full+area", 640, 360, tuning{scale: scaleHalf}, tuning{scale: scaleFullSws, scaleFlags: swsArea}, 50},
		{"2:1 half vs one-pass area", 640, 360, tuning{scale: scaleHalf}, tuning{scale: scaleSws, scaleFlags: swsArea}, 50},
		{"4:3 full+bilinear vs one-pass bilinear", 960, 540, tuning{scale: scaleFullSws}, tuning{scale: scaleSws, scaleFlags: swsBilinear}, 50},
	}
	f := newFrame(1280, 720)
	newPanScene(1280, 720).draw(f, 3)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var planes [2][]byte
			for i, tu := range []tuning{tt.a, tt.b} {
				e, err := newEncoder(Config{Width: tt.w, Height: tt.h, SrcWidth: 1280, SrcHeight: 720, FPS: 30, Backend: BackendX264}, tu)
				if err != nil {
					t.Fatal(err)
				}
				if err := e.convert(f); err != nil {
					t.Fatal(err)
				}
				planes[i], _, _ = e.planesForTest()
				_ = e.Close()
			}
			pic := &Picture{Width: tt.w, Height: tt.h, Y: planes[0], YStride: tt.w}
			if got := psnrY(pic, planes[1]); got < tt.minDB {
				t.Errorf("luma PSNR between the two scalers %.1f dB, want >= %.0f", got, tt.minDB)
			}
		})
	}
}

// A scaling encoder takes frames of the source size and its stream decodes at the encoded
// size, showing the test picture where it should be.
func TestScaledEncodeDecode(t *testing.T) {
	tests := []struct {
		name   string
		sw, sh int
		w, h   int
	}{
		{"720p to 360p (2:1)", 1280, 720, 640, 360},
		{"720p to 540p (4:3)", 1280, 720, 960, 540},
		{"640x480 to 480x272 (not uniform)", 640, 480, 480, 272},
	}
	for _, codec := range testCodecs {
		for _, tt := range tests {
			t.Run(codec+"/"+tt.name, func(t *testing.T) {
				e := newTestEncoder(t, Config{Width: tt.w, Height: tt.h, SrcWidth: tt.sw, SrcHeight: tt.sh, FPS: 60, Codec: codec})
				d := newTestDecoderCodec(t, codec)
				f := newFrame(tt.sw, tt.sh)
				for n := range 6 {
					drawTest(f, n)
					p, err := e.Encode(f, false)
					if err != nil {
						t.Fatalf("frame %d: %v", n, err)
					}
					checkKeyframe(t, codec, n, p, n == 0, tt.w, tt.h)
					pic, err := d.Decode(p.Data)
					if err != nil || pic == nil {
						t.Fatalf("frame %d: Decode = %v, %v", n, pic, err)
					}
					if pic.Width != tt.w || pic.Height != tt.h {
						t.Fatalf("frame %d: decoded %dx%d, want %dx%d", n, pic.Width, pic.Height, tt.w, tt.h)
					}
					checkTestPicture(t, n, pic, float64(tt.sw)/float64(tt.w), float64(tt.sh)/float64(tt.h))
					want, _, _ := e.planesForTest()
					if got := psnrY(pic, want); got < 35 {
						t.Errorf("frame %d: luma PSNR %.1f dB against the encoded picture, want >= 35", n, got)
					}
				}
			})
		}
	}
}
