package encoder

import (
	"testing"
)

// SetBitrate must take effect on an open encoder within half a second, without a keyframe,
// both down and back up: the mean frame of the last 30 of each 60 frames is within ±25 % of
// the new rate's.
func TestSetBitrateWithoutKeyframe(t *testing.T) {
	const w, h, fps = 640, 360, 60
	for _, codec := range testCodecs {
		t.Run(codec, func(t *testing.T) {
			e := newTestEncoder(t, Config{Width: w, Height: h, FPS: fps, Codec: codec, BitrateKbps: 4000})
			scene := newPanScene(w, h)
			f := newFrame(w, h)
			n := 0
			for _, kbps := range []int{4000, 1000, 4000} {
				if err := e.SetBitrate(kbps); err != nil {
					t.Fatalf("SetBitrate(%d): %v", kbps, err)
				}
				sum := 0
				for i := range 60 {
					scene.draw(f, n)
					p, err := e.Encode(f, false)
					if err != nil {
						t.Fatalf("frame %d: %v", n, err)
					}
					if p.Keyframe != (n == 0) {
						t.Errorf("frame %d at %d kbps: keyframe %v; want only the first", n, kbps, p.Keyframe)
					}
					if i >= 30 {
						sum += len(p.Data)
					}
					n++
				}
				mean, want := float64(sum)/30, float64(kbps)*1000/8/fps
				t.Logf("%d kbps: mean frame %.0f bytes, %.0f%% of %.0f", kbps, mean, 100*mean/want, want)
				if mean < 0.75*want || mean > 1.25*want {
					t.Errorf("%d kbps: mean frame %.0f bytes over the last 30 frames, want %.0f ± 25%%", kbps, mean, want)
				}
				if got := e.Config().BitrateKbps; got != kbps {
					t.Errorf("Config().BitrateKbps = %d, want %d", got, kbps)
				}
			}
		})
	}
}

// A forced keyframe must fit in 100 ms of the link: at 1500 kbit/s 18750 bytes. Demo-game
// frames, rendered at 1280×720 and encoded at 960×540, the ladder's rung for that rate.
func TestKeyframeSizeCap(t *testing.T) {
	const kbps, fps = 1500, 60
	const limit = kbps * 1000 / 8 / 10 // bytes in 100 ms
	frames := demoFrames(t, 1280, 720, 32)
	for _, codec := range testCodecs {
		t.Run(codec, func(t *testing.T) {
			e := newTestEncoder(t, Config{Width: 960, Height: 540, SrcWidth: 1280, SrcHeight: 720, FPS: fps, Codec: codec, BitrateKbps: kbps})
			for n, f := range frames {
				p, err := e.Encode(f, n == 30)
				if err != nil {
					t.Fatal(err)
				}
				if !p.Keyframe {
					continue
				}
				t.Logf("keyframe at frame %d: %d bytes (limit %d, average frame %d)", n, len(p.Data), limit, kbps*1000/8/fps)
				if len(p.Data) > limit {
					t.Errorf("keyframe at frame %d: %d bytes, want <= %d (100 ms at %d kbit/s)", n, len(p.Data), limit, kbps)
				}
			}
		})
	}
}

// VBVFrames must reach the encoder: with libx264 it bounds the IDR, so a six-frame buffer
// lets an IDR grow well beyond what a one-frame buffer allows.
func TestVBVFramesBoundsIDR(t *testing.T) {
	frames := demoFrames(t, 960, 540, 22)
	idr := func(vbv float64) int {
		e := newTestEncoder(t, Config{Width: 960, Height: 540, FPS: 60, BitrateKbps: 1500, VBVFrames: vbv})
		size := 0
		for n, f := range frames {
			p, err := e.Encode(f, n == 20)
			if err != nil {
				t.Fatal(err)
			}
			if n == 20 {
				size = len(p.Data)
			}
		}
		return size
	}
	one, six := idr(1), idr(6)
	t.Logf("IDR at 1500 kbps: %d bytes with a 1-frame VBV, %d with a 6-frame VBV (a frame is %d)", one, six, 1500*1000/8/60)
	if six < one*2 {
		t.Errorf("IDR %d bytes with VBVFrames 6, %d with 1; want at least twice as large", six, one)
	}
	if one > 2*1500*1000/8/60 {
		t.Errorf("IDR %d bytes with VBVFrames 1, want at most two frames (%d)", one, 2*1500*1000/8/60)
	}
}
