package encoder

import (
	"fmt"
	"math"
	"runtime"
	"slices"
)

// Codecs: what the stream is.
const (
	CodecH264 = "h264" // H.264 constrained baseline, Annex-B access units
	CodecVP8  = "vp8"  // VP8 frames (RFC 6386)
)

// Backend names: the encoders this package knows how to set up for low latency. All but
// BackendVP8 are libavcodec encoders; BackendVP8 is libvpx driven through its own API (see
// doc.go), named as libavcodec names its wrapper of the same library.
const (
	BackendAuto  = "auto"       // the first backend of the codec that opens; see Config.Backend
	BackendNVENC = "h264_nvenc" // H.264: NVIDIA NVENC
	BackendVAAPI = "h264_vaapi" // H.264: VA-API (Intel, AMD) on the default render node
	BackendX264  = "libx264"    // H.264: software, always present in our builds
	BackendVP8   = "libvpx"     // VP8: software, always present in our builds
)

// codecBackends lists each codec's backends in the order BackendAuto tries them: hardware
// first.
var codecBackends = map[string][]string{
	CodecH264: {BackendNVENC, BackendVAAPI, BackendX264},
	CodecVP8:  {BackendVP8},
}

// codecs are the values Config.Codec may take, besides "".
var codecs = []string{CodecH264, CodecVP8}

// backendCodec is the codec a backend encodes, or "" for a name this package does not know.
func backendCodec(name string) string {
	for _, c := range codecs {
		if slices.Contains(codecBackends[c], name) {
			return c
		}
	}
	return ""
}

// x264Presets are the presets libx264 accepts, fastest first.
var x264Presets = []string{
	"ultrafast", "superfast", "veryfast", "faster", "fast",
	"medium", "slow", "slower", "veryslow", "placebo",
}

// Limits on Config fields.
const (
	maxDimension  = 8192
	maxFPS        = 240
	minBitrate    = 100     // kbps
	maxBitrate    = 200_000 // kbps
	maxThreads    = 64
	autoThreadCap = 4
	minVBVFrames  = 1  // x264 raises a smaller VBV to one frame anyway
	maxVBVFrames  = 60 // a second at 60 fps: far beyond low latency
)

// defaultVBVFrames is the rate-control buffer when Config.VBVFrames is 0, in frames, per
// codec. libx264 undershoots its target with a small buffer (doc.go, "Rate control"); libvpx
// hits its target at 2 already, and its keyframe cap grows with the buffer.
var defaultVBVFrames = map[string]float64{CodecH264: 3, CodecVP8: 2}

// Config describes one encoder. The zero value of every field except Width, Height and FPS
// selects a default.
type Config struct {
	Width, Height int // pixels of the encoded picture; even, > 0, at most 8192
	FPS           int // frames per second, 1–240; sets the time base and the VBV size
	// Codec is CodecH264 or CodecVP8. "" means CodecH264, or CodecVP8 when Backend is
	// BackendVP8.
	Codec string
	// SrcWidth and SrcHeight are the size of the frames given to Encode, when it differs from
	// Width×Height: the encoder then scales each frame down while converting it (see doc.go,
	// "Scaling"). Both 0 means Width×Height. Otherwise both are even, at most 8192, and at
	// least Width and Height: the encoder only scales down.
	SrcWidth, SrcHeight int
	// BitrateKbps is the target and the cap, in kbit/s (100–200000). 0 means 6000 for frames
	// of up to 1280×720 pixels and 10000 above (by the encoded size).
	BitrateKbps int
	// VBVFrames is the size of the rate-control buffer in frames at the target rate (1–60;
	// fractions allowed), which is also about the largest a frame may be, keyframes included.
	// 0 means 3 for H.264 and 2 for VP8. Smaller makes the stream smoother and keyframes blurrier; larger lets
	// keyframes and motion spend more, in bursts the network must absorb. It scales with the
	// rate, also on SetBitrate. See doc.go.
	VBVFrames float64
	// Backend is BackendAuto ("" means the same) or one of the codec's backends: BackendNVENC,
	// BackendVAAPI, BackendX264 for H.264, BackendVP8 for VP8.
	Backend string
	// Preset is the libx264 preset; "" means "ultrafast". Other backends ignore it.
	Preset string
	// GOP is the number of frames between periodic keyframes, counted from the last keyframe
	// (forced ones included). 0 means none: a keyframe comes only with the first frame and
	// when Encode is asked for one.
	GOP int
	// Threads is the number of encoder threads (libx264 slice threads, libvpx threads). 0
	// means the number of CPUs, at most 4.
	Threads int
}

// srcSize is the size of the frames Encode takes.
func (c Config) srcSize() (w, h int) {
	if c.SrcWidth == 0 && c.SrcHeight == 0 {
		return c.Width, c.Height
	}
	return c.SrcWidth, c.SrcHeight
}

// withDefaults validates c and returns it with every default filled in.
func (c Config) withDefaults() (Config, error) {
	switch {
	case c.Width <= 0 || c.Width > maxDimension || c.Width%2 != 0:
		return c, fmt.Errorf("%w: width %d: must be even and in 2..%d", ErrConfig, c.Width, maxDimension)
	case c.Height <= 0 || c.Height > maxDimension || c.Height%2 != 0:
		return c, fmt.Errorf("%w: height %d: must be even and in 2..%d", ErrConfig, c.Height, maxDimension)
	case c.FPS <= 0 || c.FPS > maxFPS:
		return c, fmt.Errorf("%w: fps %d: must be in 1..%d", ErrConfig, c.FPS, maxFPS)
	case c.BitrateKbps != 0 && (c.BitrateKbps < minBitrate || c.BitrateKbps > maxBitrate):
		return c, fmt.Errorf("%w: bitrate %d kbps: must be 0 (default) or in %d..%d",
			ErrConfig, c.BitrateKbps, minBitrate, maxBitrate)
	case c.GOP < 0:
		return c, fmt.Errorf("%w: gop %d: must be >= 0", ErrConfig, c.GOP)
	case c.Threads < 0 || c.Threads > maxThreads:
		return c, fmt.Errorf("%w: threads %d: must be in 0..%d", ErrConfig, c.Threads, maxThreads)
	case c.VBVFrames != 0 && !(c.VBVFrames >= minVBVFrames && c.VBVFrames <= maxVBVFrames):
		return c, fmt.Errorf("%w: vbv frames %g: must be 0 (default) or in %d..%d",
			ErrConfig, c.VBVFrames, minVBVFrames, maxVBVFrames)
	}
	if err := c.checkSrcSize(); err != nil {
		return c, err
	}
	if c.BitrateKbps == 0 {
		c.BitrateKbps = defaultBitrate(c.Width, c.Height)
	}
	c.SrcWidth, c.SrcHeight = c.srcSize()
	if c.Backend == "" {
		c.Backend = BackendAuto
	}
	if c.Codec == "" {
		c.Codec = CodecH264
		if c.Backend == BackendVP8 {
			c.Codec = CodecVP8
		}
	}
	if !slices.Contains(codecs, c.Codec) {
		return c, fmt.Errorf("%w: codec %q: want one of %v", ErrConfig, c.Codec, codecs)
	}
	if c.VBVFrames == 0 {
		c.VBVFrames = defaultVBVFrames[c.Codec]
	}
	if c.Backend != BackendAuto && !slices.Contains(codecBackends[c.Codec], c.Backend) {
		return c, unknownBackend(c.Codec, c.Backend)
	}
	if c.Preset == "" {
		c.Preset = "ultrafast"
	}
	if !slices.Contains(x264Presets, c.Preset) {
		return c, fmt.Errorf("%w: preset %q: want one of %v", ErrConfig, c.Preset, x264Presets)
	}
	if c.Threads == 0 {
		c.Threads = min(runtime.NumCPU(), autoThreadCap)
	}
	return c, nil
}

// checkSrcSize checks SrcWidth and SrcHeight against the encoded size.
func (c Config) checkSrcSize() error {
	if c.SrcWidth == 0 && c.SrcHeight == 0 {
		return nil
	}
	sw, sh := c.SrcWidth, c.SrcHeight
	switch {
	case sw == 0 || sh == 0:
		return fmt.Errorf("%w: source size %dx%d: give both or neither", ErrConfig, sw, sh)
	case sw < 0 || sw > maxDimension || sw%2 != 0 || sh < 0 || sh > maxDimension || sh%2 != 0:
		return fmt.Errorf("%w: source size %dx%d: must be even and in 2..%d", ErrConfig, sw, sh, maxDimension)
	case sw < c.Width || sh < c.Height:
		return fmt.Errorf("%w: source size %dx%d is smaller than the encoded %dx%d: the encoder only scales down",
			ErrConfig, sw, sh, c.Width, c.Height)
	}
	return nil
}

func unknownBackend(codec, name string) error {
	want := codecBackends[codec]
	if other := backendCodec(name); other != "" {
		return fmt.Errorf("%w: %q encodes %s, not %s; use %q or one of %v",
			ErrUnknownBackend, name, other, codec, BackendAuto, want)
	}
	if encoderExists(name) {
		return fmt.Errorf("%w: %q is a libavcodec encoder, but not one this package can set up "+
			"for low-latency %s; use %q or one of %v", ErrUnknownBackend, name, codec, BackendAuto, want)
	}
	return fmt.Errorf("%w: %q: want %q or one of %v", ErrUnknownBackend, name, BackendAuto, want)
}

// defaultBitrate is the default target for a frame size, in kbps.
func defaultBitrate(w, h int) int {
	if w*h <= 1280*720 {
		return 6000
	}
	return 10000
}

// level is the H.264 level_idc to signal: 3.2 covers 720p60, 4.2 covers 1080p60.
func level(w, h int) int {
	if w*h <= 1280*720 {
		return 32
	}
	return 42
}

// vbvBits is the rate-control buffer in bits: frames frames at the target rate, so that no
// frame may be much larger than that and none waits long in a network queue. It is never
// below 10 kbit: libavcodec counts the buffer in whole kbit and 0 would turn it off.
func vbvBits(kbps, fps int, frames float64) int64 {
	return max(int64(float64(kbps)*1000*frames/float64(fps)), 10_000)
}

// vbvMillis is the same buffer in milliseconds, as libvpx counts it (so that it follows the
// rate by itself); at least 1.
func vbvMillis(fps int, frames float64) int {
	return max(int(math.Round(frames*1000/float64(fps))), 1)
}
