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

// The conversion of frames into the encoder's YUV 4:2:0 picture (see doc.go, "Colour
// conversion", "YUV frames" and "Scaling"). Our converters split the rows into bands: the
// caller converts the first, one worker goroutine per other band converts the rest. Close
// stops the workers.

// band is a range of rows [y0, y1); both are even.
type band struct{ y0, y1 int }

// source is a frame's planes as C takes them: Go memory or a game's shared memory, used only
// during the C call. An RGBA frame has one plane; an NV12 frame two.
type source struct {
	format C.int // EP_FMT_I420 or EP_FMT_NV12 for YUV; unused for RGBA
	data   [3]*C.uint8_t
	stride [3]C.int
}

// jobKind is what a band job does.
type jobKind uint8

const (
	jobRGBA jobKind = iota // convert rows of an RGBA frame (ep_encoder_convert_rows)
	jobYUV                 // copy (or halve) rows of a YUV frame (ep_encoder_yuv_rows)
	jobFix                 // change the matrix of rows of the scaled picture (ep_encoder_fix_rows)
)

// convJob asks for one band of a frame.
type convJob struct {
	c      *C.ep_encoder
	kind   jobKind
	src    source
	y0, y1 C.int
}

func (j *convJob) run() {
	s := &j.src
	switch j.kind {
	case jobRGBA:
		C.ep_encoder_convert_rows(j.c, s.data[0], s.stride[0], j.y0, j.y1)
	case jobYUV:
		C.ep_encoder_yuv_rows(j.c, s.format, s.data[0], s.stride[0], s.data[1], s.stride[1],
			s.data[2], s.stride[2], j.y0, j.y1)
	case jobFix:
		C.ep_encoder_fix_rows(j.c, j.y0, j.y1)
	}
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
	// yuvCopy copies YUV frames without changing their matrix (wrong colours: only for
	// benchmarks, to weigh the change against a stream that said BT.709).
	yuvCopy bool
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
// convSame and convHalf, the frame's for convFullSws) and of the YUV path over the picture's
// rows, and starts one worker per band but the first. With convSws there is one band: swscale
// runs its own threads.
func (e *Encoder) startConverter(rows int, t tuning) {
	n := t.bands
	if n == 0 {
		n = min(e.cfg.Threads, runtime.NumCPU())
	}
	if e.conv == C.EP_CONV_SWS {
		n = 1
	}
	e.bands = splitRows(rows, n)
	e.yuvBands = splitRows(e.cfg.Height, n)
	if workers := max(len(e.bands), len(e.yuvBands)) - 1; workers > 0 {
		e.jobs = make(chan convJob)
		e.done = make(chan struct{})
		for range workers {
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

// convertWorker runs the band jobs it is given until stopConverter closes e.jobs.
func (e *Encoder) convertWorker() {
	defer e.wg.Done()
	for j := range e.jobs {
		j.run()
		e.done <- struct{}{}
	}
}

// runBands runs j over bands (e.bands or e.yuvBands: there is a worker for each but the
// first, which the calling goroutine converts).
func (e *Encoder) runBands(j convJob, bands []band) {
	for _, b := range bands[1:] {
		j.y0, j.y1 = C.int(b.y0), C.int(b.y1)
		e.jobs <- j
	}
	j.y0, j.y1 = C.int(bands[0].y0), C.int(bands[0].y1)
	j.run()
	for range bands[1:] {
		<-e.done
	}
}

// convert writes f, converted to YUV and scaled to the picture's size, into the encoder's
// picture.
func (e *Encoder) convert(f *game.Frame) error {
	if f.Format != game.RGBA {
		return e.convertYUV(f)
	}
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
	j := convJob{c: e.c, kind: jobRGBA}
	j.src.data[0], j.src.stride[0] = pix, C.int(f.Stride)
	e.runBands(j, e.bands)
	if e.conv == C.EP_CONV_FULL_SWS {
		if rc := C.ep_encoder_scale(e.c); rc < 0 {
			return e.avError("scale", rc)
		}
	}
	return nil
}

// convertYUV writes an I420 or NV12 frame into the encoder's picture: at the picture's size
// copied in bands, at exactly twice it through a 2:1 box filter in bands (where RGBA frames
// take the fused one), otherwise scaled by swscale and then finished in bands; its matrix
// changes from BT.709 to the stream's BT.601 on the way (doc.go, "YUV frames").
func (e *Encoder) convertYUV(f *game.Frame) error {
	j := convJob{c: e.c, kind: jobYUV, src: source{format: C.EP_FMT_I420}}
	planes := 3
	if f.Format == game.NV12 {
		j.src.format, planes = C.EP_FMT_NV12, 2
	}
	for i := range planes {
		j.src.data[i] = (*C.uint8_t)(unsafe.Pointer(&f.Planes[i][0]))
		j.src.stride[i] = C.int(f.Strides[i])
	}
	if f.Width == e.cfg.Width && f.Height == e.cfg.Height || e.conv == C.EP_CONV_HALF {
		if rc := C.ep_encoder_prepare(e.c); rc < 0 {
			return e.avError("convert", rc)
		}
		e.runBands(j, e.yuvBands)
		return nil
	}
	s := &j.src
	if rc := C.ep_encoder_scale_yuv(e.c, s.format, s.data[0], s.stride[0], s.data[1], s.stride[1],
		s.data[2], s.stride[2]); rc < 0 {
		return e.avError("scale", rc)
	}
	e.runBands(convJob{c: e.c, kind: jobFix}, e.yuvBands)
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
