package encoder

// The pkg-config line applies to every cgo file of the package.

/*
#cgo pkg-config: libavcodec libavutil libswscale
#include <stdlib.h>
#include "codec.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/edgeplay/edgeplay/game"
)

// Packet is one encoded frame.
type Packet struct {
	// Data is one H.264 access unit in Annex-B form (start codes, no length prefixes). It is
	// owned by the Encoder and valid until the next Encode or Close; copy it to keep it.
	Data []byte
	// Keyframe is true for an IDR access unit; those start with SPS and PPS, so a decoder can
	// start from any of them.
	Keyframe bool
	// ConvertDur is the time spent converting RGBA to YUV 4:2:0.
	ConvertDur time.Duration
	// EncodeDur is the time spent in the encoder, copying the packet out included.
	EncodeDur time.Duration
}

// Encoder turns RGBA frames into an H.264 stream, one access unit per frame with no delay.
// It is not safe for concurrent use: one goroutine owns it, from New to Close.
type Encoder struct {
	cfg     Config
	backend string
	c       *C.ep_encoder // nil once closed
	buf     []byte        // backs Packet.Data

	// The RGBA → YUV conversion is split into bands of rows; the caller converts the first,
	// one worker goroutine per other band converts the rest. Close stops the workers.
	useSws bool
	bands  []band
	jobs   chan convJob
	done   chan struct{}
	wg     sync.WaitGroup
}

// band is a range of rows [y0, y1); both are even.
type band struct{ y0, y1 int }

// convJob asks a worker to convert one band of a frame.
type convJob struct {
	c      *C.ep_encoder
	pix    *C.uint8_t // the frame's pixels: Go memory, used only during the C call
	stride C.int
	y0, y1 C.int
}

// tuning holds the knobs of the RGBA → YUV conversion. The defaults come from measurements
// (see doc.go); benchmarks in this package try the others.
type tuning struct {
	sws        bool // convert with swscale instead of ep_rgba_to_i420
	swsFlags   int  // SWS_* scaler flags
	swsThreads int  // swscale slice threads; 1 runs on the calling thread
	bands      int  // row bands converted in parallel by ep_rgba_to_i420; 0 = automatic
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

// defaultTuning converts with ep_rgba_to_i420 on automatic bands. VAAPI, which wants NV12,
// converts with swscale's bicubic scaler, ffmpeg's default.
var defaultTuning = tuning{swsFlags: swsBicubic, swsThreads: 1}

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

var logOnce sync.Once

// initLog routes libav* logging into per-context error sinks (see codec.c) so that the package
// prints nothing. It changes process-wide libav state, which only this package uses.
func initLog() { logOnce.Do(func() { C.ep_log_init() }) }

// New validates cfg and opens the encoder. With Backend "auto" it takes the first backend that
// Probe lists and that opens with cfg. It logs nothing.
func New(cfg Config) (*Encoder, error) {
	return newEncoder(cfg, defaultTuning)
}

func newEncoder(cfg Config, t tuning) (*Encoder, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	initLog()
	if cfg.Backend != BackendAuto {
		return open(cfg, cfg.Backend, t)
	}
	var errs []error
	for _, name := range Probe() {
		e, err := open(cfg, name, t)
		if err == nil {
			return e, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("%w: none of %v opens on this machine", ErrNoBackend, autoOrder)
	}
	return nil, fmt.Errorf("%w: %w", ErrNoBackend, errors.Join(errs...))
}

func backendKind(name string) C.int {
	switch name {
	case BackendNVENC:
		return C.EP_NVENC
	case BackendVAAPI:
		return C.EP_VAAPI
	default:
		return C.EP_X264
	}
}

func open(cfg Config, name string, t tuning) (*Encoder, error) {
	if !encoderExists(name) {
		return nil, unknownBackend(name)
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	cpreset := C.CString(cfg.Preset)
	defer C.free(unsafe.Pointer(cpreset))
	cc := C.ep_enc_config{
		width:       C.int(cfg.Width),
		height:      C.int(cfg.Height),
		fps:         C.int(cfg.FPS),
		bit_rate:    C.int64_t(cfg.BitrateKbps) * 1000,
		buffer_bits: C.int64_t(vbvBits(cfg.BitrateKbps, cfg.FPS)),
		gop:         C.int(cfg.GOP),
		threads:     C.int(cfg.Threads),
		level:       C.int(level(cfg.Width, cfg.Height)),
		preset:      cpreset,
		sws_flags:   C.int(t.swsFlags),
		sws_threads: C.int(t.swsThreads),
	}
	useSws := t.sws || name == BackendVAAPI
	if useSws {
		cc.use_sws = 1
	}
	var c *C.ep_encoder
	if rc := C.ep_encoder_open(cname, backendKind(name), &cc, &c); rc < 0 {
		err := &AVError{Op: "open " + name, Code: int(rc)}
		if c != nil {
			err.Detail = C.GoString(&c.err.msg[0])
		}
		C.ep_encoder_close(c)
		return nil, err
	}
	cfg.Backend = name
	e := &Encoder{cfg: cfg, backend: name, c: c, useSws: useSws}
	if !useSws {
		n := t.bands
		if n == 0 {
			n = min(cfg.Threads, runtime.NumCPU())
		}
		e.bands = splitRows(cfg.Height, n)
	}
	if len(e.bands) > 1 {
		e.jobs = make(chan convJob)
		e.done = make(chan struct{})
		for range len(e.bands) - 1 {
			e.wg.Add(1)
			go e.convertWorker()
		}
	}
	return e, nil
}

// convertWorker converts the bands it is given until Close closes e.jobs.
func (e *Encoder) convertWorker() {
	defer e.wg.Done()
	for j := range e.jobs {
		C.ep_encoder_convert_rows(j.c, j.pix, j.stride, j.y0, j.y1)
		e.done <- struct{}{}
	}
}

// encoderExists reports whether libavcodec has an encoder of that name.
func encoderExists(name string) bool {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return C.avcodec_find_encoder_by_name(cname) != nil
}

// Backend returns the name of the libavcodec encoder in use, e.g. "libx264".
func (e *Encoder) Backend() string { return e.backend }

// Config returns the configuration in effect, defaults filled in and Backend resolved.
func (e *Encoder) Config() Config { return e.cfg }

// Encode converts f to YUV 4:2:0 and encodes it. forceKeyframe makes the access unit an IDR
// with SPS and PPS in front, e.g. to answer a picture-loss indication. f is only read, and not
// kept after Encode returns; the caller still owns it. Packet.Data is valid until the next
// call.
func (e *Encoder) Encode(f *game.Frame, forceKeyframe bool) (Packet, error) {
	if e.c == nil {
		return Packet{}, ErrClosed
	}
	if err := e.checkFrame(f); err != nil {
		return Packet{}, err
	}
	t0 := time.Now()
	if err := e.convert(f); err != nil {
		return Packet{}, err
	}
	t1 := time.Now()
	force := C.int(0)
	if forceKeyframe {
		force = 1
	}
	rc := C.ep_encoder_encode(e.c, force)
	switch {
	case rc < 0:
		return Packet{}, e.avError("encode", rc)
	case rc == 0:
		return Packet{}, fmt.Errorf("%w: %s returned no packet for frame %d", ErrDelayed, e.backend, f.Seq)
	}
	pkt := e.c.pkt
	e.buf = append(e.buf[:0], unsafe.Slice((*byte)(unsafe.Pointer(pkt.data)), int(pkt.size))...)
	key := pkt.flags&C.AV_PKT_FLAG_KEY != 0
	t2 := time.Now()
	return Packet{Data: e.buf, Keyframe: key, ConvertDur: t1.Sub(t0), EncodeDur: t2.Sub(t1)}, nil
}

// convert writes f, converted to YUV, into the encoder's picture.
func (e *Encoder) convert(f *game.Frame) error {
	// Passing the Go pixels straight to C is allowed: the memory holds no Go pointers and C
	// keeps no reference after the call.
	pix := (*C.uint8_t)(unsafe.Pointer(&f.Pix[0]))
	if e.useSws {
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

func (e *Encoder) checkFrame(f *game.Frame) error {
	switch {
	case f == nil:
		return fmt.Errorf("%w: nil frame", ErrFrame)
	case f.Width != e.cfg.Width || f.Height != e.cfg.Height:
		return fmt.Errorf("%w: frame is %dx%d, encoder is %dx%d", ErrFrame, f.Width, f.Height, e.cfg.Width, e.cfg.Height)
	case f.Stride < 4*f.Width:
		return fmt.Errorf("%w: stride %d < 4*width %d", ErrFrame, f.Stride, 4*f.Width)
	case len(f.Pix) < f.Stride*(f.Height-1)+4*f.Width:
		return fmt.Errorf("%w: %d bytes of pixels for %dx%d with stride %d", ErrFrame, len(f.Pix), f.Width, f.Height, f.Stride)
	}
	return nil
}

func (e *Encoder) avError(op string, rc C.int) error {
	return &AVError{Op: op + " " + e.backend, Code: int(rc), Detail: C.GoString(&e.c.err.msg[0])}
}

// SetBitrate changes the target and maximum bit rate (and with them the VBV size) from the
// next frame on. libx264 and NVENC support this; VAAPI returns ErrNotSupported. NVENC applies
// it only where the GPU reports dynamic bit-rate changes.
func (e *Encoder) SetBitrate(kbps int) error {
	if e.c == nil {
		return ErrClosed
	}
	if kbps < minBitrate || kbps > maxBitrate {
		return fmt.Errorf("%w: bitrate %d kbps: must be in %d..%d", ErrConfig, kbps, minBitrate, maxBitrate)
	}
	if e.backend == BackendVAAPI {
		return fmt.Errorf("%w: %s cannot change the bit rate of an open encoder", ErrNotSupported, e.backend)
	}
	C.ep_encoder_set_bitrate(e.c, C.int64_t(kbps)*1000, C.int64_t(vbvBits(kbps, e.cfg.FPS)))
	e.cfg.BitrateKbps = kbps
	return nil
}

// Close frees the encoder's C memory. It is idempotent; Encode and SetBitrate fail with
// ErrClosed afterwards. Packet.Data from the last Encode stays readable (it is Go memory).
func (e *Encoder) Close() error {
	if e.c == nil {
		return nil
	}
	if e.jobs != nil {
		close(e.jobs)
		e.wg.Wait()
	}
	C.ep_encoder_close(e.c)
	e.c = nil
	return nil
}
