package encoder

/*
#include "codec.h"
*/
import "C"

import (
	"runtime"
	"unsafe"

	"github.com/edgeplay/edgeplay/game"
)

// The RGBA → YUV 4:2:0 conversion (see doc.go, "Colour conversion" and "Scaling"). Our
// converters split the rows into bands: the caller converts the first, one worker goroutine
// per other band converts the rest. Close stops the workers.

// band is a range of rows [y0, y1); both are even.
type band struct{ y0, y1 int }

// convJob asks a worker to convert one band of a frame.
type convJob struct {
	c      *C.ep_encoder
	pix    *C.uint8_t // the frame's pixels: Go memory, used only during the C call
	stride C.int
	y0, y1 C.int
}

// tuning holds the knobs of the conversion and of libvpx's speed. The defaults come from
// measurements (see doc.go); benchmarks in this package try the others.
type tuning struct {
	sws        bool // convert with swscale instead of ep_rgba_to_i420 (same size only)
	swsFlags   int  // SWS_* flags for VAAPI's NV12 and for sws; 0 = swsBicubic
	swsThreads int  // swscale slice threads; 1 runs on the calling thread; 0 = 1
	bands      int  // row bands converted in parallel by our converters; 0 = automatic
	// scale is how a frame larger than the picture is scaled (see scale.go); scaleAuto
	// picks by measurement. scaleFlags are the SWS_* flags for it; 0 = the measured choice.
	scale      scaleMode
	scaleFlags int
	// vp8CPUUsed is libvpx's VP8E_SET_CPUUSED; 0 = the measured choice.
	vp8CPUUsed int
}

// swscale algorithm flags, for tuning and its benchmarks.
const (
	swsFastBilinear = C.SWS_FAST_BILINEAR
	swsBilinear     = C.SWS_BILINEAR
	swsBicubic      = C.SWS_BICUBIC
	swsPoint        = C.SWS_POINT
	swsArea         = C.SWS_AREA
	swsAccurateRnd  = C.SWS_ACCURATE_RND
)

// defaultTuning converts with our converters on automatic bands. VAAPI, which wants NV12,
// converts with swscale's bicubic scaler, ffmpeg's default.
var defaultTuning = tuning{}

// minBandRows is the fewest rows worth handing to another goroutine.
const minBandRows = 180

// splitRows divides h rows (h even) into at most n bands of even height.
func splitRows(h, n int) []band {
	n = max(1, min(n, h/minBandRows))
	per := (h/2 + n - 1) / n * 2
	var bands []band
	for y := 0; y < h; y += per {
		bands = append(bands, band{y, min(y+per, h)})
	}
	return bands
}

// startConverter sets up the bands of our converters over rows rows (the picture's for
// convSame and convHalf, the frame's for convFullSws) and starts one worker per band but the
// first. With convSws there are none: swscale runs its own threads.
func (e *Encoder) startConverter(rows int, t tuning) {
	if e.conv == C.EP_CONV_SWS {
		return
	}
	n := t.bands
	if n == 0 {
		n = min(e.cfg.Threads, runtime.NumCPU())
	}
	e.bands = splitRows(rows, n)
	if len(e.bands) > 1 {
		e.jobs = make(chan convJob)
		e.done = make(chan struct{})
		for range len(e.bands) - 1 {
			e.wg.Add(1)
			go e.convertWorker()
		}
	}
}

// stopConverter stops the workers and waits for them.
func (e *Encoder) stopConverter() {
	if e.jobs != nil {
		close(e.jobs)
		e.wg.Wait()
		e.jobs = nil
	}
}

// convertWorker converts the bands it is given until stopConverter closes e.jobs.
func (e *Encoder) convertWorker() {
	defer e.wg.Done()
	for j := range e.jobs {
		C.ep_encoder_convert_rows(j.c, j.pix, j.stride, j.y0, j.y1)
		e.done <- struct{}{}
	}
}

// convert writes f, converted to YUV and scaled to the picture's size, into the encoder's
// picture.
func (e *Encoder) convert(f *game.Frame) error {
	// Passing the Go pixels straight to C is allowed: the memory holds no Go pointers and C
	// keeps no reference after the call.
	pix := (*C.uint8_t)(unsafe.Pointer(&f.Pix[0]))
	if e.conv == C.EP_CONV_SWS {
		if rc := C.ep_encoder_convert(e.c, pix, C.int(f.Stride)); rc < 0 {
			return e.avError("convert", rc)
		}
		return nil
	}
	if rc := C.ep_encoder_prepare(e.c); rc < 0 {
		return e.avError("convert", rc)
	}
	for _, b := range e.bands[1:] {
		e.jobs <- convJob{c: e.c, pix: pix, stride: C.int(f.Stride), y0: C.int(b.y0), y1: C.int(b.y1)}
	}
	C.ep_encoder_convert_rows(e.c, pix, C.int(f.Stride), C.int(e.bands[0].y0), C.int(e.bands[0].y1))
	for range e.bands[1:] {
		<-e.done
	}
	if e.conv == C.EP_CONV_FULL_SWS {
		if rc := C.ep_encoder_scale(e.c); rc < 0 {
			return e.avError("scale", rc)
		}
	}
	return nil
}

// planesForTest returns copies of the Y, U and V planes of the last converted picture, each
// tightly packed.
func (e *Encoder) planesForTest() (y, u, v []byte) {
	f := e.c.frame
	plane := func(i, w, h int) []byte {
		stride := int(f.linesize[i])
		src := unsafe.Slice((*byte)(unsafe.Pointer(f.data[i])), stride*h)
		out := make([]byte, 0, w*h)
		for r := range h {
			out = append(out, src[r*stride:r*stride+w]...)
		}
		return out
	}
	w, h := e.cfg.Width, e.cfg.Height
	return plane(0, w, h), plane(1, w/2, h/2), plane(2, w/2, h/2)
}
