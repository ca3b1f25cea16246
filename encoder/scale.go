package encoder

/*
#include "codec.h"
*/
import "C"

import "runtime"

// How a frame larger than the encoded picture is brought down to it (doc.go, "Scaling").
type scaleMode int

const (
	scaleAuto    scaleMode = iota // the measured choice below
	scaleHalf                     // ep_rgba_to_i420_half: exactly 2:1 in both directions
	scaleSws                      // swscale converts RGBA and scales in one pass
	scaleFullSws                  // our converter at the frame's size, then swscale scales YUV
)

// Measured choices (BenchmarkScale, doc.go): an exact 2:1 reduction takes the fused box
// filter; any other takes our converter at full size followed by swscale's bilinear filter
// on the planes, on two slice threads where there are two CPUs.
const (
	defaultScale      = scaleFullSws
	defaultScaleFlags = swsBilinear
)

// conversion is how one encoder turns frames into its picture.
type conversion struct {
	mode       C.int // EP_CONV_*
	swsFlags   int
	swsThreads int
}

// chooseConversion picks the conversion for an encoder of cfg (defaults filled in) on
// backend, honouring t where it says something.
func chooseConversion(cfg Config, backend string, t tuning) conversion {
	sw, sh := cfg.srcSize()
	same := sw == cfg.Width && sh == cfg.Height
	c := conversion{mode: C.EP_CONV_SAME, swsFlags: t.swsFlags, swsThreads: max(t.swsThreads, 1)}
	if c.swsFlags == 0 {
		c.swsFlags = swsBicubic
	}
	switch {
	case backend == BackendVAAPI:
		// VAAPI wants NV12, which only swscale writes; it scales in the same pass.
		c.mode = C.EP_CONV_SWS
		if !same && t.scaleFlags != 0 {
			c.swsFlags = t.scaleFlags
		}
		return c
	case same && t.sws:
		c.mode = C.EP_CONV_SWS
		return c
	case same:
		return c
	}
	mode := t.scale
	if mode == scaleAuto {
		mode = defaultScale
		if sw == 2*cfg.Width && sh == 2*cfg.Height {
			mode = scaleHalf
		}
	}
	if mode == scaleHalf && (sw != 2*cfg.Width || sh != 2*cfg.Height) {
		mode = defaultScale // only an exact 2:1 can take the fused filter
	}
	c.swsFlags = t.scaleFlags
	if c.swsFlags == 0 {
		c.swsFlags = defaultScaleFlags
	}
	if t.swsThreads == 0 {
		c.swsThreads = max(1, min(cfg.Threads, runtime.NumCPU()))
	}
	switch mode {
	case scaleHalf:
		c.mode = C.EP_CONV_HALF
	case scaleSws:
		c.mode = C.EP_CONV_SWS
	default:
		c.mode = C.EP_CONV_FULL_SWS
	}
	return c
}
