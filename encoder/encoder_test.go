package encoder

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/game"
)

// testCodecs are the codecs every codec-independent test runs with, each on its software
// backend.
var testCodecs = []string{CodecH264, CodecVP8}

// softwareBackend is the backend the tests use for a codec ("" is H.264).
func softwareBackend(codec string) string {
	if codec == CodecVP8 {
		return BackendVP8
	}
	return BackendX264
}

// newTestEncoder opens an encoder on the software backend of cfg.Codec (libx264 when it is
// empty) and closes it when the test ends.
func newTestEncoder(t *testing.T, cfg Config) *Encoder {
	t.Helper()
	if cfg.Backend == "" {
		cfg.Backend = softwareBackend(cfg.Codec)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func newTestDecoder(t *testing.T) *Decoder { t.Helper(); return newTestDecoderCodec(t, CodecH264) }

func newTestDecoderCodec(t *testing.T, codec string) *Decoder {
	t.Helper()
	d, err := NewDecoderCodec(codec)
	if err != nil {
		t.Fatalf("NewDecoderCodec(%q): %v", codec, err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// checkKeyframe checks that a packet is a keyframe or not, as want says, by its flag and by
// its bitstream: for H.264 SPS, PPS and IDR slices or non-IDR slices only; for VP8 the frame
// header, which for a key frame also gives the picture size (w×h).
func checkKeyframe(t *testing.T, codec string, n int, p Packet, want bool, w, h int) {
	t.Helper()
	if codec == CodecVP8 {
		key, kw, kh, ok := vp8Header(p.Data)
		if !ok || p.Keyframe != want || key != want || (want && (kw != w || kh != h)) {
			t.Errorf("frame %d: keyframe %v, header key %v %dx%d (valid %v); want keyframe %v, %dx%d",
				n, p.Keyframe, key, kw, kh, ok, want, w, h)
		}
		return
	}
	types := nalTypes(p.Data)
	if p.Keyframe != want || (want && !isIDR(types)) || (!want && !isP(types)) {
		t.Errorf("frame %d: keyframe %v, NAL types %v; want keyframe %v (SPS, PPS, IDR or else non-IDR slices only)",
			n, p.Keyframe, types, want)
	}
}

// isIDR reports whether an access unit is SPS, PPS and IDR slices (an SEI may come first).
func isIDR(types []int) bool {
	i := slices.Index(types, nalSPS)
	return i >= 0 && i+1 < len(types) && types[i+1] == nalPPS && slices.Contains(types, nalIDR) &&
		!slices.Contains(types, nalSlice)
}

// isP reports whether an access unit holds only non-IDR slices.
func isP(types []int) bool {
	return len(types) > 0 && !slices.ContainsFunc(types, func(t int) bool { return t != nalSlice })
}

func TestEncodeDecode(t *testing.T) {
	tests := []struct {
		name          string
		width, height int
		threads       int
	}{
		{"320x240", 320, 240, 0},
		{"640x360 one thread", 640, 360, 1},
		{"1280x720", 1280, 720, 0},
		{"odd macroblock count 346x198", 346, 198, 2},
	}
	for _, codec := range testCodecs {
		for _, tt := range tests {
			t.Run(codec+"/"+tt.name, func(t *testing.T) {
				e := newTestEncoder(t, Config{Width: tt.width, Height: tt.height, FPS: 60, Codec: codec, Threads: tt.threads})
				d := newTestDecoderCodec(t, codec)
				f := newFrame(tt.width, tt.height)
				for n := range 20 {
					drawTest(f, n)
					p, err := e.Encode(f, false)
					if err != nil {
						t.Fatalf("frame %d: Encode: %v", n, err)
					}
					if p.ConvertDur <= 0 || p.EncodeDur <= 0 {
						t.Errorf("frame %d: durations %v, %v; want both > 0", n, p.ConvertDur, p.EncodeDur)
					}
					checkKeyframe(t, codec, n, p, n == 0, tt.width, tt.height)

					// No B-frames, no lookahead: every frame decodes at once to the picture
					// just encoded.
					pic, err := d.Decode(p.Data)
					if err != nil {
						t.Fatalf("frame %d: Decode: %v", n, err)
					}
					if pic == nil {
						t.Fatalf("frame %d: decoder returned no picture; want one per frame", n)
					}
					if pic.Width != tt.width || pic.Height != tt.height {
						t.Fatalf("frame %d: decoded %dx%d, want %dx%d", n, pic.Width, pic.Height, tt.width, tt.height)
					}
					checkTestPicture(t, n, pic, 1, 1)
					want, _, _ := e.planesForTest()
					if got := psnrY(pic, want); got < 35 {
						t.Errorf("frame %d: luma PSNR %.1f dB against the encoded picture, want >= 35", n, got)
					}
				}
			})
		}
	}
}

// checkTestPicture checks the blocks of test picture n (drawTest) in a decoded picture that
// was scaled down by divX and divY: white stays white, black black, and the moving square is
// where frame n put it. Limited range: white is 235, black 16, grey 128 → about 126.
func checkTestPicture(t *testing.T, n int, pic *Picture, divX, divY float64) {
	t.Helper()
	inset := 8 // keep away from edges, where chroma, scaling and deblocking blur
	atX := func(v int) int { return int(float64(v) / divX) }
	atY := func(v int) int { return int(float64(v) / divY) }
	block := func(x0 int) int {
		return lumaMean(pic, atX(x0)+inset, atY(blockY)+inset, atX(x0+blockSize)-inset, atY(blockY+blockSize)-inset)
	}
	if got := block(whiteX); got < 220 {
		t.Errorf("frame %d: white block luma %d, want >= 220", n, got)
	}
	if got := block(blackX); got > 30 {
		t.Errorf("frame %d: black block luma %d, want <= 30", n, got)
	}
	x := moverX(n, int(float64(pic.Width)*divX))
	x0, y0, x1, y1 := atX(x)+4, atY(moverY)+4, atX(x+moverSize)-4, atY(moverY+moverSize)-4
	if got := lumaMean(pic, x0, y0, x1, y1); got < 200 {
		t.Errorf("frame %d: moving square at x=%d has luma %d, want >= 200 (frames out of order?)", n, x0, got)
	}
}

func TestKeyframes(t *testing.T) {
	tests := []struct {
		name  string
		gop   int
		force []int // frames encoded with forceKeyframe
		want  []int // frames that must be keyframes; all others must not be
	}{
		{"first only", 0, nil, []int{0}},
		{"forced mid-stream", 0, []int{7}, []int{0, 7}},
		{"forced twice in a row", 0, []int{5, 6}, []int{0, 5, 6}},
		{"periodic", 10, nil, []int{0, 10, 20}},
		{"periodic counts from a forced keyframe", 10, []int{4}, []int{0, 4, 14, 24}},
	}
	for _, codec := range testCodecs {
		for _, tt := range tests {
			t.Run(codec+"/"+tt.name, func(t *testing.T) {
				e := newTestEncoder(t, Config{Width: 320, Height: 240, FPS: 30, Codec: codec, GOP: tt.gop})
				d := newTestDecoderCodec(t, codec)
				f := newFrame(320, 240)
				for n := range 25 {
					drawTest(f, n)
					p, err := e.Encode(f, slices.Contains(tt.force, n))
					if err != nil {
						t.Fatalf("frame %d: %v", n, err)
					}
					checkKeyframe(t, codec, n, p, slices.Contains(tt.want, n), 320, 240)
					if pic, err := d.Decode(p.Data); err != nil || pic == nil {
						t.Fatalf("frame %d: Decode = %v, %v", n, pic, err)
					}
				}
			})
		}
	}
}

// A keyframe mid-stream must be decodable by a decoder that has seen nothing before it.
func TestDecodeFromForcedKeyframe(t *testing.T) {
	for _, codec := range testCodecs {
		t.Run(codec, func(t *testing.T) {
			e := newTestEncoder(t, Config{Width: 320, Height: 240, FPS: 30, Codec: codec})
			f := newFrame(320, 240)
			for n := range 5 {
				drawTest(f, n)
				if _, err := e.Encode(f, false); err != nil {
					t.Fatal(err)
				}
			}
			d := newTestDecoderCodec(t, codec)
			for n := 5; n < 10; n++ {
				drawTest(f, n)
				p, err := e.Encode(f, n == 5)
				if err != nil {
					t.Fatal(err)
				}
				pic, err := d.Decode(p.Data)
				if err != nil || pic == nil {
					t.Fatalf("frame %d: Decode = %v, %v; want a picture", n, pic, err)
				}
				x := moverX(n, 320)
				if got := lumaMean(pic, x+4, moverY+4, x+moverSize-4, moverY+moverSize-4); got < 200 {
					t.Errorf("frame %d: moving square luma %d, want >= 200", n, got)
				}
			}
		})
	}
}

// The SPS must say constrained baseline (profile_idc 66 with constraint_set1) and the level
// the size needs.
func TestSPS(t *testing.T) {
	tests := []struct {
		name          string
		width, height int
		level         byte
	}{
		{"720p is level 3.2", 1280, 720, 32},
		{"1080p is level 4.2", 1920, 1080, 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEncoder(t, Config{Width: tt.width, Height: tt.height, FPS: 60})
			f := newFrame(tt.width, tt.height)
			drawTest(f, 0)
			p, err := e.Encode(f, false)
			if err != nil {
				t.Fatal(err)
			}
			var sps []byte
			for _, u := range nalUnits(p.Data) {
				if u[0]&0x1f == nalSPS {
					sps = u
				}
			}
			if len(sps) < 4 {
				t.Fatalf("no SPS in first packet (NAL types %v)", nalTypes(p.Data))
			}
			if profile, constraints, level := sps[1], sps[2], sps[3]; profile != 66 || constraints&0x40 == 0 || level != tt.level {
				t.Errorf("SPS profile %d, constraint flags %#x, level %d; want 66 (baseline) with constraint_set1 (0x40), level %d",
					profile, constraints, level, tt.level)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	ok := Config{Width: 320, Height: 240, FPS: 30, Backend: BackendX264}
	tests := []struct {
		name    string
		edit    func(*Config)
		want    error
		mention string // the message must name the problem
	}{
		{"odd width", func(c *Config) { c.Width = 321 }, ErrConfig, "width 321"},
		{"odd height", func(c *Config) { c.Height = 239 }, ErrConfig, "height 239"},
		{"zero width", func(c *Config) { c.Width = 0 }, ErrConfig, "width 0"},
		{"huge height", func(c *Config) { c.Height = 10000 }, ErrConfig, "height 10000"},
		{"zero fps", func(c *Config) { c.FPS = 0 }, ErrConfig, "fps 0"},
		{"negative fps", func(c *Config) { c.FPS = -30 }, ErrConfig, "fps -30"},
		{"fps too high", func(c *Config) { c.FPS = 1000 }, ErrConfig, "fps 1000"},
		{"negative bitrate", func(c *Config) { c.BitrateKbps = -1 }, ErrConfig, "bitrate -1"},
		{"bitrate too low", func(c *Config) { c.BitrateKbps = 10 }, ErrConfig, "bitrate 10"},
		{"negative gop", func(c *Config) { c.GOP = -1 }, ErrConfig, "gop -1"},
		{"negative threads", func(c *Config) { c.Threads = -2 }, ErrConfig, "threads -2"},
		{"bad preset", func(c *Config) { c.Preset = "ludicrous" }, ErrConfig, `preset "ludicrous"`},
		{"unknown backend", func(c *Config) { c.Backend = "h264_magic" }, ErrUnknownBackend, `"h264_magic"`},
		{"not an h264 backend", func(c *Config) { c.Backend = "mjpeg" }, ErrUnknownBackend, "not one this package can set up"},
		{"unknown codec", func(c *Config) { c.Codec = "vp9" }, ErrConfig, `codec "vp9"`},
		{"vp8 on an h264 backend", func(c *Config) { c.Codec = CodecVP8 }, ErrUnknownBackend, `"libx264" encodes h264, not vp8`},
		{"h264 on libvpx", func(c *Config) { c.Codec, c.Backend = CodecH264, BackendVP8 }, ErrUnknownBackend, `"libvpx" encodes vp8, not h264`},
		{"source width alone", func(c *Config) { c.SrcWidth = 640 }, ErrConfig, "give both or neither"},
		{"source height alone", func(c *Config) { c.SrcHeight = 480 }, ErrConfig, "give both or neither"},
		{"odd source size", func(c *Config) { c.SrcWidth, c.SrcHeight = 641, 480 }, ErrConfig, "source size 641x480: must be even"},
		{"negative source size", func(c *Config) { c.SrcWidth, c.SrcHeight = -640, 480 }, ErrConfig, "source size -640x480"},
		{"huge source", func(c *Config) { c.SrcWidth, c.SrcHeight = 640, 10000 }, ErrConfig, "source size 640x10000"},
		{"source narrower", func(c *Config) { c.SrcWidth, c.SrcHeight = 160, 240 }, ErrConfig, "only scales down"},
		{"source shorter", func(c *Config) { c.SrcWidth, c.SrcHeight = 640, 120 }, ErrConfig, "only scales down"},
		{"vbv below a frame", func(c *Config) { c.VBVFrames = 0.5 }, ErrConfig, "vbv frames 0.5"},
		{"negative vbv", func(c *Config) { c.VBVFrames = -2 }, ErrConfig, "vbv frames -2"},
		{"vbv too large", func(c *Config) { c.VBVFrames = 61 }, ErrConfig, "vbv frames 61"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.edit(&cfg)
			e, err := New(cfg)
			if err == nil {
				_ = e.Close()
				t.Fatalf("New(%+v) succeeded, want %v", cfg, tt.want)
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("New(%+v) = %q; want %v mentioning %q", cfg, err, tt.want, tt.mention)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	tests := []struct {
		name          string
		cfg           Config
		wantKbps      int
		wantCodec     string
		wantSrcW      int
		wantVBVFrames float64
	}{
		{"720p", Config{Width: 1280, Height: 720}, 6000, CodecH264, 1280, 3},
		{"smaller", Config{Width: 640, Height: 480}, 6000, CodecH264, 640, 3},
		{"1080p", Config{Width: 1920, Height: 1080}, 10000, CodecH264, 1920, 3},
		{"libvpx means vp8", Config{Width: 640, Height: 480, Backend: BackendVP8}, 6000, CodecVP8, 640, 2},
		{"rate by encoded size", Config{Width: 960, Height: 540, SrcWidth: 1920, SrcHeight: 1080}, 6000, CodecH264, 1920, 3},
		{"vbv as given", Config{Width: 640, Height: 480, VBVFrames: 1.5}, 6000, CodecH264, 640, 1.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.FPS = 60
			e := newTestEncoder(t, tt.cfg)
			cfg := e.Config()
			if cfg.BitrateKbps != tt.wantKbps || cfg.Codec != tt.wantCodec || cfg.SrcWidth != tt.wantSrcW ||
				cfg.VBVFrames != tt.wantVBVFrames || cfg.Preset != "ultrafast" || cfg.Threads < 1 || cfg.Threads > 4 {
				t.Errorf("Config() = %+v; want %d kbps, codec %s, SrcWidth %d, VBVFrames %g, ultrafast, 1..4 threads",
					cfg, tt.wantKbps, tt.wantCodec, tt.wantSrcW, tt.wantVBVFrames)
			}
		})
	}
}

func TestBadFrame(t *testing.T) {
	e := newTestEncoder(t, Config{Width: 320, Height: 240, FPS: 30})
	scaled := newTestEncoder(t, Config{Width: 320, Height: 240, SrcWidth: 640, SrcHeight: 480, FPS: 30})
	short := newFrame(320, 240)
	short.Pix = short.Pix[:len(short.Pix)-1]
	narrow := newFrame(320, 240)
	narrow.Stride = 100
	tests := []struct {
		name string
		e    *Encoder
		f    func() *game.Frame
	}{
		{"nil", e, func() *game.Frame { return nil }},
		{"wrong size", e, func() *game.Frame { return newFrame(640, 480) }},
		{"short buffer", e, func() *game.Frame { return short }},
		{"stride below width", e, func() *game.Frame { return narrow }},
		{"scaling encoder given the encoded size", scaled, func() *game.Frame { return newFrame(320, 240) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.e.Encode(tt.f(), false); !errors.Is(err, ErrFrame) {
				t.Errorf("Encode = %v, want ErrFrame", err)
			}
		})
	}
	// The encoder still works afterwards.
	f := newFrame(320, 240)
	drawTest(f, 0)
	if _, err := e.Encode(f, false); err != nil {
		t.Errorf("Encode after bad frames: %v", err)
	}
}

// A frame whose rows are padded (stride > 4*width) encodes like an unpadded one.
func TestPaddedStride(t *testing.T) {
	const w, h = 320, 240
	e := newTestEncoder(t, Config{Width: w, Height: h, FPS: 30})
	d := newTestDecoder(t)
	f := newFrame(w, h)
	drawTest(f, 3)
	padded := &game.Frame{Width: w, Height: h, Stride: 4*w + 64, Pix: make([]byte, (4*w+64)*h)}
	for y := range h {
		copy(padded.Pix[y*padded.Stride:], f.Pix[y*f.Stride:(y+1)*f.Stride])
	}
	p, err := e.Encode(padded, false)
	if err != nil {
		t.Fatal(err)
	}
	pic, err := d.Decode(p.Data)
	if err != nil || pic == nil {
		t.Fatalf("Decode = %v, %v", pic, err)
	}
	if got := lumaMean(pic, whiteX+8, blockY+8, whiteX+blockSize-8, blockY+blockSize-8); got < 220 {
		t.Errorf("white block luma %d, want >= 220", got)
	}
}

func TestClose(t *testing.T) {
	for _, codec := range testCodecs {
		t.Run(codec, func(t *testing.T) {
			backend := softwareBackend(codec)
			e, err := New(Config{Width: 320, Height: 240, FPS: 30, Codec: codec, Backend: backend})
			if err != nil {
				t.Fatal(err)
			}
			f := newFrame(320, 240)
			drawTest(f, 0)
			p, err := e.Encode(f, false)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Close(); err != nil {
				t.Errorf("first Close: %v", err)
			}
			if err := e.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if _, err := e.Encode(f, false); !errors.Is(err, ErrClosed) {
				t.Errorf("Encode after Close = %v, want ErrClosed", err)
			}
			if err := e.SetBitrate(1000); !errors.Is(err, ErrClosed) {
				t.Errorf("SetBitrate after Close = %v, want ErrClosed", err)
			}
			if e.Backend() != backend {
				t.Errorf("Backend after Close = %q", e.Backend())
			}
			checkKeyframe(t, codec, 0, p, true, 320, 240) // the last packet is still readable

			d, err := NewDecoderCodec(codec)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Close(); err != nil {
				t.Errorf("Decoder first Close: %v", err)
			}
			if err := d.Close(); err != nil {
				t.Errorf("Decoder second Close: %v", err)
			}
			if _, err := d.Decode(p.Data); !errors.Is(err, ErrClosed) {
				t.Errorf("Decode after Close = %v, want ErrClosed", err)
			}
		})
	}
}

// Close must stop the conversion workers.
func TestCloseStopsWorkers(t *testing.T) {
	e, err := newEncoder(Config{Width: 320, Height: 720, FPS: 30, Backend: BackendX264}, tuning{bands: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.bands) != 3 {
		t.Fatalf("%d bands, want 3", len(e.bands))
	}
	f := newFrame(320, 720)
	drawTest(f, 0)
	if _, err := e.Encode(f, false); err != nil {
		t.Fatal(err)
	}
	// Count the workers by name: other tests' goroutines may come and go meanwhile.
	workers := func() int {
		buf := make([]byte, 1<<20)
		return strings.Count(string(buf[:runtime.Stack(buf, true)]), "convertWorker(")
	}
	if got := workers(); got != 2 {
		t.Fatalf("%d conversion workers with 3 bands, want 2", got)
	}
	_ = e.Close()
	for deadline := time.Now().Add(5 * time.Second); workers() > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d conversion workers left after Close", workers())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestProbe(t *testing.T) {
	got := Probe()
	if !slices.Contains(got, BackendX264) {
		t.Fatalf("Probe() = %v, want it to contain %s", got, BackendX264)
	}
	got[0] = "changed"
	if again := Probe(); again[0] == "changed" {
		t.Error("Probe returned its cached slice, not a copy")
	}
	if h264 := ProbeCodec(CodecH264); !slices.Equal(h264, Probe()) {
		t.Errorf("ProbeCodec(h264) = %v, Probe() = %v; want the same", h264, Probe())
	}
	for _, codec := range testCodecs {
		for _, name := range ProbeCodec(codec) {
			if !slices.Contains(codecBackends[codec], name) {
				t.Errorf("ProbeCodec(%s) lists %q, not one of its backends", codec, name)
			}
		}
	}
	if vp8 := ProbeCodec(CodecVP8); !slices.Equal(vp8, []string{BackendVP8}) {
		t.Errorf("ProbeCodec(vp8) = %v, want [%s]", vp8, BackendVP8)
	}
	if none := ProbeCodec("vp9"); none != nil {
		t.Errorf("ProbeCodec(vp9) = %v, want nil", none)
	}
}

func TestAutoBackend(t *testing.T) {
	for _, codec := range []string{"", CodecH264, CodecVP8} {
		for _, backend := range []string{"", BackendAuto} {
			e, err := New(Config{Width: 320, Height: 240, FPS: 30, Codec: codec, Backend: backend})
			if err != nil {
				t.Fatalf("Codec %q, Backend %q: %v", codec, backend, err)
			}
			want := Probe()[0]
			if codec == CodecVP8 {
				want = BackendVP8
			}
			if e.Backend() != want || e.Config().Backend != want {
				t.Errorf("Codec %q, Backend %q chose %q, want %q (first of ProbeCodec)", codec, backend, e.Backend(), want)
			}
			_ = e.Close()
		}
	}
}

// Lowering the bit rate at run time must shrink the packets of content that is hard to code.
func TestSetBitrate(t *testing.T) {
	const w, h, fps = 320, 240, 30
	e := newTestEncoder(t, Config{Width: w, Height: h, FPS: fps, BitrateKbps: 8000})
	rng := rand.New(rand.NewPCG(1, 2))
	f := newFrame(w, h)
	meanSize := func(frames int) int {
		total := 0
		for range frames {
			drawNoise(f, rng)
			p, err := e.Encode(f, false)
			if err != nil {
				t.Fatal(err)
			}
			total += len(p.Data)
		}
		return total / frames
	}
	meanSize(10) // let rate control settle
	high := meanSize(20)
	if err := e.SetBitrate(400); err != nil {
		t.Fatalf("SetBitrate: %v", err)
	}
	meanSize(10)
	low := meanSize(20)
	if low*2 > high {
		t.Errorf("mean packet %d bytes at 8000 kbps, %d at 400 kbps; want at least halved", high, low)
	}
	if e.Config().BitrateKbps != 400 {
		t.Errorf("Config().BitrateKbps = %d, want 400", e.Config().BitrateKbps)
	}
	if err := e.SetBitrate(5); !errors.Is(err, ErrConfig) {
		t.Errorf("SetBitrate(5) = %v, want ErrConfig", err)
	}
}

// Once the packet buffer has grown, encoding a frame allocates nothing, whatever the codec
// and the conversion.
func TestEncodeAllocs(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"h264", Config{Width: 320, Height: 240, FPS: 30}},
		{"vp8", Config{Width: 320, Height: 240, FPS: 30, Codec: CodecVP8}},
		{"h264 scaled 2:1", Config{Width: 320, Height: 240, SrcWidth: 640, SrcHeight: 480, FPS: 30}},
		{"vp8 scaled 4:3", Config{Width: 480, Height: 360, SrcWidth: 640, SrcHeight: 480, FPS: 30, Codec: CodecVP8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEncoder(t, tt.cfg)
			sw, sh := e.Config().srcSize()
			f := newFrame(sw, sh)
			drawTest(f, 0)
			if _, err := e.Encode(f, true); err != nil { // a keyframe: the largest packet
				t.Fatal(err)
			}
			allocs := testing.AllocsPerRun(20, func() {
				if _, err := e.Encode(f, false); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("Encode allocates %.1f times per frame, want 0", allocs)
			}
		})
	}
}

func TestDecodeNothing(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
	}
	for _, codec := range testCodecs {
		d := newTestDecoderCodec(t, codec)
		for _, tt := range tests {
			t.Run(codec+"/"+tt.name, func(t *testing.T) {
				if pic, err := d.Decode(tt.in); pic != nil || err != nil {
					t.Errorf("Decode = %v, %v; want nil, nil", pic, err)
				}
			})
		}
	}
}

func TestDecoderCodecs(t *testing.T) {
	if _, err := NewDecoderCodec("vp9"); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), `"vp9"`) {
		t.Errorf("NewDecoderCodec(vp9) = %v, want ErrConfig naming it", err)
	}
	// An H.264 decoder refuses VP8 and says which decoder failed.
	e := newTestEncoder(t, Config{Width: 320, Height: 240, FPS: 30, Codec: CodecVP8})
	f := newFrame(320, 240)
	drawTest(f, 0)
	p, err := e.Encode(f, false)
	if err != nil {
		t.Fatal(err)
	}
	var avErr *AVError
	if pic, err := newTestDecoder(t).Decode(p.Data); pic != nil || !errors.As(err, &avErr) || !strings.Contains(err.Error(), "decode h264") {
		t.Errorf("H.264 decoder on VP8 = %v, %v; want an AVError from decode h264", pic, err)
	}
}
