package encoder

import (
	"fmt"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/game"
)

// movingFrames pre-renders n benchmark frames so that drawing is not timed.
func movingFrames(w, h, n int) []*game.Frame {
	frames := make([]*game.Frame, n)
	for i := range frames {
		frames[i] = newFrame(w, h)
		drawMoving(frames[i], i)
	}
	return frames
}

var benchSizes = []struct {
	name string
	w, h int
}{
	{"720p", 1280, 720},
	{"1080p", 1920, 1080},
}

// BenchmarkEncode times Encode (conversion included) at the default settings on moving
// content, and reports the two halves and the output rate.
func BenchmarkEncode(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			frames := movingFrames(s.w, s.h, 60)
			e, err := New(Config{Width: s.w, Height: s.h, FPS: 60, Backend: BackendX264})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			var conv, enc time.Duration
			var bytes int
			for i := 0; b.Loop(); i++ {
				p, err := e.Encode(frames[i%len(frames)], false)
				if err != nil {
					b.Fatal(err)
				}
				conv += p.ConvertDur
				enc += p.EncodeDur
				bytes += len(p.Data)
			}
			n := float64(b.N)
			b.ReportMetric(float64(conv.Microseconds())/n, "convert-µs/op")
			b.ReportMetric(float64(enc.Microseconds())/n, "encode-µs/op")
			b.ReportMetric(float64(bytes)*8*60/n/1000, "kbps@60fps")
		})
	}
}

// BenchmarkConvert compares ways of doing the RGBA → YUV 4:2:0 conversion alone: our
// converter on 1 and 2 bands of rows, and swscale's algorithms with and without its slice
// threads (at the same size only chroma is resampled).
func BenchmarkConvert(b *testing.B) {
	variants := []struct {
		name string
		t    tuning
	}{
		{"own/bands=1", tuning{bands: 1}},
		{"own/bands=2", tuning{bands: 2}},
	}
	for _, fl := range []struct {
		name  string
		flags int
	}{
		{"fast_bilinear", swsFastBilinear},
		{"point", swsPoint},
		{"area", swsArea},
		{"bilinear", swsBilinear},
		{"bicubic", swsBicubic},
		{"fast_bilinear+accurate_rnd", swsFastBilinear | swsAccurateRnd},
	} {
		for _, threads := range []int{1, 2} {
			variants = append(variants, struct {
				name string
				t    tuning
			}{fmt.Sprintf("sws/%s/threads=%d", fl.name, threads), tuning{sws: true, swsFlags: fl.flags, swsThreads: threads}})
		}
	}
	for _, s := range benchSizes {
		frames := movingFrames(s.w, s.h, 8)
		for _, v := range variants {
			b.Run(s.name+"/"+v.name, func(b *testing.B) {
				e, err := newEncoder(Config{Width: s.w, Height: s.h, FPS: 60, Backend: BackendX264}, v.t)
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				for i := 0; b.Loop(); i++ {
					if err := e.convert(frames[i%len(frames)]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
