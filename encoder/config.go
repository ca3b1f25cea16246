package encoder

import (
	"fmt"
	"runtime"
	"slices"
)

// Backend names: the libavcodec encoders this package knows how to set up for low latency.
const (
	BackendAuto  = "auto"       // the first of BackendNVENC, BackendVAAPI, BackendX264 that opens
	BackendNVENC = "h264_nvenc" // NVIDIA NVENC
	BackendVAAPI = "h264_vaapi" // VA-API (Intel, AMD) on the default render node
	BackendX264  = "libx264"    // software, always present in our builds
)

// autoOrder is the order in which BackendAuto tries the backends: hardware first.
var autoOrder = []string{BackendNVENC, BackendVAAPI, BackendX264}

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
)

// Config describes one encoder. The zero value of every field except Width, Height and FPS
// selects a default.
type Config struct {
	Width, Height int // pixels; even, > 0, at most 8192
	FPS           int // frames per second, 1–240; sets the time base and the VBV size
	// BitrateKbps is the target and the cap, in kbit/s (100–200000). 0 means 6000 for frames
	// of up to 1280×720 pixels and 10000 above.
	BitrateKbps int
	// Backend is BackendAuto ("" means the same) or one of BackendNVENC, BackendVAAPI,
	// BackendX264.
	Backend string
	// Preset is the libx264 preset; "" means "ultrafast". The hardware backends ignore it.
	Preset string
	// GOP is the number of frames between periodic IDRs, counted from the last IDR (forced
	// ones included). 0 means none: an IDR comes only with the first frame and when Encode
	// is asked for one.
	GOP int
	// Threads is the number of encoder threads (libx264 slice threads). 0 means the number
	// of CPUs, at most 4.
	Threads int
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
	}
	if c.BitrateKbps == 0 {
		c.BitrateKbps = defaultBitrate(c.Width, c.Height)
	}
	if c.Backend == "" {
		c.Backend = BackendAuto
	}
	if c.Backend != BackendAuto && !slices.Contains(autoOrder, c.Backend) {
		return c, unknownBackend(c.Backend)
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

func unknownBackend(name string) error {
	if encoderExists(name) {
		return fmt.Errorf("%w: %q is a libavcodec encoder, but not one this package can set up "+
			"for low-latency H.264; use %q or one of %v", ErrUnknownBackend, name, BackendAuto, autoOrder)
	}
	return fmt.Errorf("%w: %q: want %q or one of %v", ErrUnknownBackend, name, BackendAuto, autoOrder)
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

// vbvBits is the rate-control buffer: about two frames at the target rate, so that no frame
// may be much larger than two average frames and none waits long in a network queue. It is
// never below 10 kbit: libavcodec counts the buffer in whole kbit and 0 would turn it off.
func vbvBits(kbps, fps int) int64 {
	return max(int64(kbps)*1000*2/int64(fps), 10_000)
}
