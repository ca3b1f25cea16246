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

// newTestEncoder opens a libx264 encoder and closes it when the test ends.
func newTestEncoder(t *testing.T, cfg Config) *Encoder {
	t.Helper()
	if cfg.Backend == "" {
		cfg.Backend = BackendX264
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func newTestDecoder(t *testing.T) *Decoder {
	t.Helper()
	d, err := NewDecoder()
	if err != nil {
		t.Fatalf("NewDecoder: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
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
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEncoder(t, Config{Width: tt.width, Height: tt.height, FPS: 60, Threads: tt.threads})
			d := newTestDecoder(t)
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
				types := nalTypes(p.Data)
				if n == 0 {
					if !p.Keyframe || !isIDR(types) {
						t.Fatalf("first packet: keyframe %v, NAL types %v; want a keyframe with SPS, PPS, IDR", p.Keyframe, types)
					}
				} else if p.Keyframe || !isP(types) {
					t.Fatalf("frame %d: keyframe %v, NAL types %v; want non-IDR slices only", n, p.Keyframe, types)
				}

				// No B-frames: every access unit decodes at once to the picture just encoded.
				pic, err := d.Decode(p.Data)
				if err != nil {
					t.Fatalf("frame %d: Decode: %v", n, err)
				}
				if pic == nil {
					t.Fatalf("frame %d: decoder returned no picture; want one per access unit", n)
				}
				if pic.Width != tt.width || pic.Height != tt.height {
					t.Fatalf("frame %d: decoded %dx%d, want %dx%d", n, pic.Width, pic.Height, tt.width, tt.height)
				}
				// Limited range: white is 235, black 16, grey 128 → about 126.
				inset := 8 // keep away from edges, where chroma and deblocking blur
				if got := lumaMean(pic, whiteX+inset, blockY+inset, whiteX+blockSize-inset, blockY+blockSize-inset); got < 220 {
					t.Errorf("frame %d: white block luma %d, want >= 220", n, got)
				}
				if got := lumaMean(pic, blackX+inset, blockY+inset, blackX+blockSize-inset, blockY+blockSize-inset); got > 30 {
					t.Errorf("frame %d: black block luma %d, want <= 30", n, got)
				}
				x := moverX(n, tt.width)
				if got := lumaMean(pic, x+4, moverY+4, x+moverSize-4, moverY+moverSize-4); got < 200 {
					t.Errorf("frame %d: moving square at x=%d has luma %d, want >= 200 (frames out of order?)", n, x, got)
				}
			}
		})
	}
}

func TestKeyframes(t *testing.T) {
	tests := []struct {
		name  string
		gop   int
		force []int // frames encoded with forceKeyframe
		want  []int // frames that must be IDRs; all others must not be
	}{
		{"first only", 0, nil, []int{0}},
		{"forced mid-stream", 0, []int{7}, []int{0, 7}},
		{"forced twice in a row", 0, []int{5, 6}, []int{0, 5, 6}},
		{"periodic", 10, nil, []int{0, 10, 20}},
		{"periodic counts from a forced IDR", 10, []int{4}, []int{0, 4, 14, 24}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEncoder(t, Config{Width: 320, Height: 240, FPS: 30, GOP: tt.gop})
			d := newTestDecoder(t)
			f := newFrame(320, 240)
			for n := range 25 {
				drawTest(f, n)
				p, err := e.Encode(f, slices.Contains(tt.force, n))
				if err != nil {
					t.Fatalf("frame %d: %v", n, err)
				}
				types := nalTypes(p.Data)
				if want := slices.Contains(tt.want, n); want != p.Keyframe || want != isIDR(types) {
					t.Errorf("frame %d: keyframe %v, NAL types %v; want IDR %v", n, p.Keyframe, types, want)
				}
				if pic, err := d.Decode(p.Data); err != nil || pic == nil {
					t.Fatalf("frame %d: Decode = %v, %v", n, pic, err)
				}
			}
		})
	}
}

// An IDR mid-stream must be decodable by a decoder that has seen nothing before it.
func TestDecodeFromForcedIDR(t *testing.T) {
	e := newTestEncoder(t, Config{Width: 320, Height: 240, FPS: 30})
	f := newFrame(320, 240)
	for n := range 5 {
		drawTest(f, n)
		if _, err := e.Encode(f, false); err != nil {
			t.Fatal(err)
		}
	}
	d := newTestDecoder(t)
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
		width, height int
		wantKbps      int
	}{
		{"720p", 1280, 720, 6000},
		{"smaller", 640, 480, 6000},
		{"1080p", 1920, 1080, 10000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEncoder(t, Config{Width: tt.width, Height: tt.height, FPS: 60})
			cfg := e.Config()
			if cfg.BitrateKbps != tt.wantKbps || cfg.Preset != "ultrafast" || cfg.Threads < 1 || cfg.Threads > 4 {
				t.Errorf("Config() = %+v; want %d kbps, ultrafast, 1..4 threads", cfg, tt.wantKbps)
			}
		})
	}
}

func TestBadFrame(t *testing.T) {
	e := newTestEncoder(t, Config{Width: 320, Height: 240, FPS: 30})
	short := newFrame(320, 240)
	short.Pix = short.Pix[:len(short.Pix)-1]
	narrow := newFrame(320, 240)
	narrow.Stride = 100
	tests := []struct {
		name string
		f    func() *game.Frame
	}{
		{"nil", func() *game.Frame { return nil }},
		{"wrong size", func() *game.Frame { return newFrame(640, 480) }},
		{"short buffer", func() *game.Frame { return short }},
		{"stride below width", func() *game.Frame { return narrow }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.Encode(tt.f(), false); !errors.Is(err, ErrFrame) {
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
	e, err := New(Config{Width: 320, Height: 240, FPS: 30, Backend: BackendX264})
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
	if e.Backend() != BackendX264 {
		t.Errorf("Backend after Close = %q", e.Backend())
	}
	if !isIDR(nalTypes(p.Data)) {
		t.Errorf("last packet unreadable after Close: NAL types %v", nalTypes(p.Data))
	}

	d, err := NewDecoder()
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
	for _, name := range Probe() {
		if !slices.Contains(autoOrder, name) {
			t.Errorf("Probe lists %q, not a known backend", name)
		}
	}
}

func TestAutoBackend(t *testing.T) {
	for _, backend := range []string{"", BackendAuto} {
		e, err := New(Config{Width: 320, Height: 240, FPS: 30, Backend: backend})
		if err != nil {
			t.Fatalf("Backend %q: %v", backend, err)
		}
		if want := Probe()[0]; e.Backend() != want {
			t.Errorf("Backend %q chose %q, want %q (first of Probe)", backend, e.Backend(), want)
		}
		_ = e.Close()
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

// Once the packet buffer has grown, encoding a frame allocates nothing.
func TestEncodeAllocs(t *testing.T) {
	e := newTestEncoder(t, Config{Width: 320, Height: 240, FPS: 30})
	f := newFrame(320, 240)
	drawTest(f, 0)
	if _, err := e.Encode(f, true); err != nil { // an IDR: the largest packet
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
}

func TestDecodeNothing(t *testing.T) {
	d := newTestDecoder(t)
	tests := []struct {
		name string
		in   []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if pic, err := d.Decode(tt.in); pic != nil || err != nil {
				t.Errorf("Decode = %v, %v; want nil, nil", pic, err)
			}
		})
	}
}
