package encoder

import (
	"fmt"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/game/demo"
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
			cfg := Config{Width: s.w, Height: s.h, FPS: 60, Backend: BackendX264}
			benchEncodeOnly(b, cfg, defaultTuning, movingFrames(s.w, s.h, 60))
		})
	}
}

// BenchmarkEncodeI420 is BenchmarkEncode for a game that renders I420: the same frames,
// rendered in BT.709 beforehand, so that convert-µs/op is what takes the place of the RGBA
// conversion (the planes copied in, their matrix changed to BT.601). nv12 takes NV12 frames;
// i420-copy-only copies without the change of matrix (what a stream that said BT.709 would
// cost: doc.go, "YUV frames"). The ladder's lower rungs, on demo-game frames, compare with
// BenchmarkEncodeLadder's.
func BenchmarkEncodeI420(b *testing.B) {
	for _, s := range benchSizes {
		rgba := movingFrames(s.w, s.h, 60)
		for _, v := range []struct {
			name   string
			format game.PixelFormat
			t      tuning
		}{
			{"i420", game.I420, defaultTuning},
			{"nv12", game.NV12, defaultTuning},
			{"i420-copy-only", game.I420, tuning{yuvCopy: true}},
		} {
			frames := make([]*game.Frame, len(rgba))
			for i, f := range rgba {
				frames[i] = yuvOf(f, v.format, 0)
			}
			b.Run(s.name+"/"+v.name, func(b *testing.B) {
				benchEncodeOnly(b, Config{Width: s.w, Height: s.h, FPS: 60, Backend: BackendX264}, v.t, frames)
			})
		}
	}
	demo := demoFrames(b, 1280, 720, 120)
	frames := make([]*game.Frame, len(demo))
	for i, f := range demo {
		frames[i] = yuvOf(f, game.I420, 0)
	}
	for _, codec := range []string{CodecH264, CodecVP8} {
		for _, r := range ladder[1:] {
			b.Run("ladder/"+codec+"/"+r.name, func(b *testing.B) {
				cfg := Config{Width: r.w, Height: r.h, SrcWidth: 1280, SrcHeight: 720, FPS: 60, Codec: codec, BitrateKbps: r.kbps}
				benchEncode(b, cfg, defaultTuning, frames)
			})
		}
	}
}

// benchEncodeOnly encodes frames round and round and reports the two halves of Encode and
// the output rate.
func benchEncodeOnly(b *testing.B, cfg Config, t tuning, frames []*game.Frame) {
	b.Helper()
	e, err := newEncoder(cfg, t)
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

// demoFrames renders n frames of the demo game (no input: its ships, shots and starfield move
// on their own), the content the encoder is for.
func demoFrames(tb testing.TB, w, h, n int) []*game.Frame {
	tb.Helper()
	g, err := demo.New(game.Config{Width: w, Height: h, FPS: 60})
	if err != nil {
		tb.Fatal(err)
	}
	pool := game.NewFramePool(w, h)
	frames := make([]*game.Frame, n)
	for i := range frames {
		g.Step(time.Second / 60)
		frames[i] = pool.Get()
		g.Render(frames[i])
		frames[i].Seq = uint64(i + 1)
	}
	return frames
}

// ladder is the resolution ladder the media layer steps down: each rung encodes 1280×720
// game frames at a smaller size.
var ladder = []struct {
	name string
	w, h int
	kbps int
}{
	{"720p", 1280, 720, 6000},
	{"540p-from-720p", 960, 540, 3000},
	{"360p-from-720p", 640, 360, 1500},
}

// BenchmarkEncodeLadder times Encode (conversion and scaling included) for each codec on each
// rung of the ladder, on demo-game frames, and reports the two halves, the output rate and
// the luma PSNR of the decoded stream against the picture that was encoded (scaling is not
// counted as loss).
func BenchmarkEncodeLadder(b *testing.B) {
	frames := demoFrames(b, 1280, 720, 120)
	for _, codec := range []string{CodecH264, CodecVP8} {
		for _, r := range ladder {
			b.Run(codec+"/"+r.name, func(b *testing.B) {
				cfg := Config{Width: r.w, Height: r.h, SrcWidth: 1280, SrcHeight: 720, FPS: 60, Codec: codec, BitrateKbps: r.kbps}
				benchEncode(b, cfg, defaultTuning, frames)
			})
		}
	}
}

// BenchmarkVP8Speed compares libvpx's fixed speeds (VP8E_SET_CPUUSED) at 720p and at 540p
// from 720p: time per frame and luma PSNR at the same rate.
func BenchmarkVP8Speed(b *testing.B) {
	frames := demoFrames(b, 1280, 720, 120)
	for _, r := range ladder[:2] {
		for _, speed := range []int{-6, -8, -10, -12, -14, -16} {
			b.Run(fmt.Sprintf("%s/cpu-used=%d", r.name, speed), func(b *testing.B) {
				cfg := Config{Width: r.w, Height: r.h, SrcWidth: 1280, SrcHeight: 720, FPS: 60, Codec: CodecVP8, BitrateKbps: r.kbps}
				benchEncode(b, cfg, tuning{vp8CPUUsed: speed}, frames)
			})
		}
	}
}

// benchEncode encodes frames round and round and reports per-frame times, the bit rate and
// the mean luma PSNR of the decoded pictures against the encoded ones (the last 60 frames of
// each pass over frames).
func benchEncode(b *testing.B, cfg Config, t tuning, frames []*game.Frame) {
	b.Helper()
	e, err := newEncoder(cfg, t)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	d, err := NewDecoderCodec(e.Config().Codec)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	var conv, enc time.Duration
	var bytes int
	var psnr float64
	var measured int
	for i := 0; b.Loop(); i++ {
		p, err := e.Encode(frames[i%len(frames)], false)
		if err != nil {
			b.Fatal(err)
		}
		conv += p.ConvertDur
		enc += p.EncodeDur
		bytes += len(p.Data)
		// Decoding is part of the loop (every frame must reach the decoder), but its
		// comparison only for 60 frames, to keep the timing close to Encode's.
		b.StopTimer()
		pic, err := d.Decode(p.Data)
		if err != nil || pic == nil {
			b.Fatalf("Decode = %v, %v", pic, err)
		}
		if i%len(frames) >= len(frames)-60 {
			want, _, _ := e.planesForTest()
			psnr += psnrY(pic, want)
			measured++
		}
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(float64(conv.Microseconds())/n, "convert-µs/op")
	b.ReportMetric(float64(enc.Microseconds())/n, "encode-µs/op")
	b.ReportMetric(float64(bytes)*8*60/n/1000, "kbps@60fps")
	if measured > 0 {
		b.ReportMetric(psnr/float64(measured), "psnr-Y-dB")
	}
}

// BenchmarkScale compares ways of converting a 1280×720 RGBA frame into a smaller YUV 4:2:0
// picture: the fused 2:1 box filter, swscale converting and scaling in one pass, and our
// converter at full size followed by swscale on the planes, with swscale's filters on one and
// two slice threads.
func BenchmarkScale(b *testing.B) {
	type variant struct {
		name string
		t    tuning
	}
	var variants []variant
	for _, fl := range []struct {
		name  string
		flags int
	}{
		{"fast_bilinear", swsFastBilinear},
		{"bilinear", swsBilinear},
		{"area", swsArea},
	} {
		for _, threads := range []int{1, 2} {
			variants = append(variants,
				variant{fmt.Sprintf("sws/%s/threads=%d", fl.name, threads), tuning{scale: scaleSws, scaleFlags: fl.flags, swsThreads: threads}},
				variant{fmt.Sprintf("own+sws/%s/threads=%d", fl.name, threads), tuning{scale: scaleFullSws, scaleFlags: fl.flags, swsThreads: threads}})
		}
	}
	frames := movingFrames(1280, 720, 8)
	for _, r := range ladder[1:] {
		vs := variants
		if r.w*2 == 1280 {
			vs = append([]variant{{"half", tuning{scale: scaleHalf}}}, vs...)
		}
		for _, v := range vs {
			b.Run(r.name+"/"+v.name, func(b *testing.B) {
				e, err := newEncoder(Config{Width: r.w, Height: r.h, SrcWidth: 1280, SrcHeight: 720, FPS: 60, Backend: BackendX264}, v.t)
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

// BenchmarkOpen times what a resolution switch costs the media layer: opening an encoder at
// 960×540 for 1280×720 frames, encoding its first frame (a keyframe) and closing it.
func BenchmarkOpen(b *testing.B) {
	frames := demoFrames(b, 1280, 720, 1)
	for _, codec := range []string{CodecH264, CodecVP8} {
		b.Run(codec, func(b *testing.B) {
			var first time.Duration
			for b.Loop() {
				t0 := time.Now()
				e, err := New(Config{Width: 960, Height: 540, SrcWidth: 1280, SrcHeight: 720, FPS: 60, Codec: codec, BitrateKbps: 3000})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := e.Encode(frames[0], false); err != nil {
					b.Fatal(err)
				}
				first += time.Since(t0)
				_ = e.Close()
			}
			b.ReportMetric(float64(first.Microseconds())/float64(b.N), "open+first-µs/op")
		})
	}
}
