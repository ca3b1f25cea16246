package encoder

// The pkg-config line applies to every cgo file of the package.

/*
#cgo pkg-config: libavcodec libavutil libswscale vpx
#include <stdlib.h>
#include "codec.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/edgeplay/edgeplay/game"
)

// Packet is one encoded frame.
type Packet struct {
	// Data is the encoded frame: for H.264 one access unit in Annex-B form (start codes, no
	// length prefixes), for VP8 one VP8 frame as RFC 6386 defines it (what RFC 7741's
	// payloader takes). It is owned by the Encoder and valid until the next Encode or Close;
	// copy it to keep it.
	Data []byte
	// Keyframe is true for a keyframe: for H.264 an IDR access unit, which starts with SPS and
	// PPS; for VP8 a key frame. A decoder can start from any of them.
	Keyframe bool
	// ConvertDur is the time spent making the encoder's YUV 4:2:0 picture from the frame
	// (converting RGBA, or copying YUV), scaling included.
	ConvertDur time.Duration
	// EncodeDur is the time spent in the encoder, copying the packet out included.
	EncodeDur time.Duration
}

// Encoder turns frames (RGBA, I420 or NV12) into an H.264 or VP8 stream, one encoded frame
// per frame with no delay. It is not safe for concurrent use: one goroutine owns it, from New to Close.
type Encoder struct {
	cfg     Config
	backend string
	c       *C.ep_encoder // nil once closed
	buf     []byte        // backs Packet.Data

	// conv is the conversion (EP_CONV_*). Our converters work in bands of rows, converted
	// in parallel by the caller and one worker goroutine per band but the first (convert.go).
	conv     C.int
	bands    []band // over the rows conv converts
	yuvBands []band // over the picture's rows, for YUV frames
	jobs     chan convJob
	done     chan struct{}
	wg       sync.WaitGroup
}

var logOnce sync.Once

// initLog routes libav* logging into per-context error sinks (see codec.c) so that the package
// prints nothing. It changes process-wide libav state, which only this package uses.
func initLog() { logOnce.Do(func() { C.ep_log_init() }) }

// New validates cfg and opens the encoder. With Backend "auto" it takes the first backend of
// the codec that ProbeCodec lists and that opens with cfg. It logs nothing.
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
	for _, name := range ProbeCodec(cfg.Codec) {
		e, err := open(cfg, name, t)
		if err == nil {
			return e, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("%w: none of %v opens on this machine", ErrNoBackend, codecBackends[cfg.Codec])
	}
	return nil, fmt.Errorf("%w: %w", ErrNoBackend, errors.Join(errs...))
}

func backendKind(name string) C.int {
	switch name {
	case BackendNVENC:
		return C.EP_NVENC
	case BackendVAAPI:
		return C.EP_VAAPI
	case BackendVP8:
		return C.EP_VP8
	default:
		return C.EP_X264
	}
}

func open(cfg Config, name string, t tuning) (*Encoder, error) {
	if !backendExists(name) {
		return nil, unknownBackend(cfg.Codec, name)
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	cpreset := C.CString(cfg.Preset)
	defer C.free(unsafe.Pointer(cpreset))
	conv := chooseConversion(cfg, name, t)
	sw, sh := cfg.srcSize()
	cc := C.ep_enc_config{
		width:         C.int(cfg.Width),
		height:        C.int(cfg.Height),
		fps:           C.int(cfg.FPS),
		src_width:     C.int(sw),
		src_height:    C.int(sh),
		bit_rate:      C.int64_t(cfg.BitrateKbps) * 1000,
		buffer_bits:   C.int64_t(vbvBits(cfg.BitrateKbps, cfg.FPS, cfg.VBVFrames)),
		buffer_ms:     C.int(vbvMillis(cfg.FPS, cfg.VBVFrames)),
		gop:           C.int(cfg.GOP),
		threads:       C.int(cfg.Threads),
		level:         C.int(level(cfg.Width, cfg.Height)),
		preset:        cpreset,
		conv:          conv.mode,
		sws_flags:     C.int(conv.swsFlags),
		sws_threads:   C.int(conv.swsThreads),
		cpu_used:      C.int(vp8CPUUsed(t)),
		max_intra_pct: C.int(vp8MaxIntraPct(cfg.FPS, cfg.VBVFrames)),
	}
	if t.yuvCopy {
		cc.yuv_copy = 1
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
	e := &Encoder{cfg: cfg, backend: name, c: c, conv: conv.mode}
	rows := cfg.Height
	if conv.mode == C.EP_CONV_FULL_SWS {
		rows = sh
	}
	e.startConverter(rows, t)
	return e, nil
}

// backendExists reports whether this build has the backend: libvpx is linked in, the others
// are libavcodec encoders that libavcodec may or may not have been built with.
func backendExists(name string) bool {
	return name == BackendVP8 || encoderExists(name)
}

// encoderExists reports whether libavcodec has an encoder of that name.
func encoderExists(name string) bool {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return C.avcodec_find_encoder_by_name(cname) != nil
}

// Backend returns the name of the encoder in use, e.g. "libx264".
func (e *Encoder) Backend() string { return e.backend }

// Config returns the configuration in effect, defaults filled in and Backend resolved.
func (e *Encoder) Config() Config { return e.cfg }

// Encode converts f to YUV 4:2:0 (scaling it to the encoded size if Config.SrcWidth and
// SrcHeight say so) and encodes it. f may be RGBA, I420 or NV12, frame by frame; YUV is
// copied without an RGB step (doc.go, "YUV frames"). forceKeyframe makes the frame a keyframe (for H.264 an
// IDR with SPS and PPS in front), e.g. to answer a picture-loss indication. f is only read,
// and not kept after Encode returns; the caller still owns it. Packet.Data is valid until the
// next call.
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
	e.buf = append(e.buf[:0], unsafe.Slice((*byte)(unsafe.Pointer(e.c.out)), int(e.c.out_size))...)
	key := e.c.out_key != 0
	t2 := time.Now()
	return Packet{Data: e.buf, Keyframe: key, ConvertDur: t1.Sub(t0), EncodeDur: t2.Sub(t1)}, nil
}

func (e *Encoder) checkFrame(f *game.Frame) error {
	sw, sh := e.cfg.srcSize()
	switch {
	case f == nil:
		return fmt.Errorf("%w: nil frame", ErrFrame)
	case f.Width != sw || f.Height != sh:
		return fmt.Errorf("%w: frame is %dx%d, encoder takes %dx%d", ErrFrame, f.Width, f.Height, sw, sh)
	}
	w, h := f.Width, f.Height
	var planes [3]plane
	switch f.Format {
	case game.RGBA:
		return checkPlane(f, 0, f.Pix, f.Stride, plane{4 * w, h})
	case game.I420:
		planes = [3]plane{{w, h}, {w / 2, h / 2}, {w / 2, h / 2}}
	case game.NV12:
		planes = [3]plane{{w, h}, {w, h / 2}} // Y, then U and V interleaved
	default:
		return fmt.Errorf("%w: unknown pixel format %v", ErrFrame, f.Format)
	}
	for i, p := range planes {
		if p.rows == 0 {
			break
		}
		if err := checkPlane(f, i, f.Planes[i], f.Strides[i], p); err != nil {
			return err
		}
	}
	return nil
}

// plane is the shape of one plane of a frame.
type plane struct{ rowBytes, rows int }

// checkPlane checks that pix, plane i of f, holds p's rows stride bytes apart (the last row
// need not be padded).
func checkPlane(f *game.Frame, i int, pix []byte, stride int, p plane) error {
	switch {
	case stride < p.rowBytes:
		return fmt.Errorf("%w: %s %s: stride %d < %d bytes a row", ErrFrame, f.Format, planeName(f.Format, i),
			stride, p.rowBytes)
	case len(pix) < stride*(p.rows-1)+p.rowBytes:
		return fmt.Errorf("%w: %s %s: %d bytes for %d rows of %d with stride %d", ErrFrame, f.Format,
			planeName(f.Format, i), len(pix), p.rows, p.rowBytes, stride)
	}
	return nil
}

// planeName names plane i of a frame of format pf, for errors.
func planeName(pf game.PixelFormat, i int) string {
	switch pf {
	case game.I420:
		return [...]string{"Y", "U", "V"}[i]
	case game.NV12:
		return [...]string{"Y", "UV"}[i]
	}
	return "pixels"
}

func (e *Encoder) avError(op string, rc C.int) error {
	return &AVError{Op: op + " " + e.backend, Code: int(rc), Detail: C.GoString(&e.c.err.msg[0])}
}

// SetBitrate changes the target and maximum bit rate (and with them the rate-control buffer,
// which stays Config.VBVFrames frames long) from the next frame on, without a keyframe.
// libx264, libvpx and NVENC support this; VAAPI returns ErrNotSupported. NVENC applies it only
// where the GPU reports dynamic bit-rate changes, and through libavcodec with an IDR.
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
	rc := C.ep_encoder_set_bitrate(e.c, C.int64_t(kbps)*1000, C.int64_t(vbvBits(kbps, e.cfg.FPS, e.cfg.VBVFrames)))
	if rc < 0 {
		return e.avError("set bit rate", rc)
	}
	e.cfg.BitrateKbps = kbps
	return nil
}

// Close frees the encoder's C memory. It is idempotent; Encode and SetBitrate fail with
// ErrClosed afterwards. Packet.Data from the last Encode stays readable (it is Go memory).
func (e *Encoder) Close() error {
	if e.c == nil {
		return nil
	}
	e.stopConverter()
	C.ep_encoder_close(e.c)
	e.c = nil
	return nil
}
