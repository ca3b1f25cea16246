package encoder

/*
#cgo pkg-config: opus
#include <opus.h>

// opus_encoder_ctl and opus_decoder_ctl are variadic, which cgo cannot call: one wrapper per
// request.
static int ep_opus_set_bitrate(OpusEncoder *e, opus_int32 v) { return opus_encoder_ctl(e, OPUS_SET_BITRATE(v)); }
static int ep_opus_set_fec(OpusEncoder *e, opus_int32 v) { return opus_encoder_ctl(e, OPUS_SET_INBAND_FEC(v)); }
static int ep_opus_set_loss(OpusEncoder *e, opus_int32 v) { return opus_encoder_ctl(e, OPUS_SET_PACKET_LOSS_PERC(v)); }
static int ep_opus_set_dtx(OpusEncoder *e, opus_int32 v) { return opus_encoder_ctl(e, OPUS_SET_DTX(v)); }
static int ep_opus_set_complexity(OpusEncoder *e, opus_int32 v) { return opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(v)); }
static int ep_opus_set_signal(OpusEncoder *e, opus_int32 v) { return opus_encoder_ctl(e, OPUS_SET_SIGNAL(v)); }
static int ep_opus_get_lookahead(OpusEncoder *e, opus_int32 *v) { return opus_encoder_ctl(e, OPUS_GET_LOOKAHEAD(v)); }
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Opus settings. The sound format is the one games produce (game.AudioRate, stereo).
const (
	OpusRate     = 48000
	OpusChannels = 2
	// OpusMaxPacket is the largest packet Encode returns: RFC 6716 allows 1275 bytes per frame.
	OpusMaxPacket = 1275
	// DefaultOpusFrameMs is the frame length: 10 ms keeps the audio path's added latency low
	// (a frame must be complete before it is encoded); 20 ms halves the packet rate.
	DefaultOpusFrameMs = 10
	// DefaultOpusKbps is the bit rate for game sound: stereo music and effects.
	DefaultOpusKbps = 96
)

// OpusConfig configures an Opus encoder. The zero value is valid: every zero field takes its
// default.
type OpusConfig struct {
	FrameMs int // 10 or 20; default DefaultOpusFrameMs
	Kbps    int // 6..510; default DefaultOpusKbps
	// LossPct is the packet loss (0..100) the encoder plans its in-band FEC for; the sender
	// updates it from the receiver's reports (SetLossPercent). FEC costs quality when there is
	// no loss, so it starts at 0.
	LossPct int
}

// Opus is a libopus encoder with in-band FEC and DTX on. It is not safe for concurrent use.
type Opus struct {
	e       *C.OpusEncoder // nil once closed
	samples int            // per channel per frame
	out     [OpusMaxPacket]byte
}

// NewOpus opens an encoder: 48 kHz stereo, application "audio" (full band; the game's sound is
// music and effects, not speech), in-band FEC (libopus adds it to frames it codes with SILK,
// at the lower bit rates) and discontinuous transmission in silence.
func NewOpus(cfg OpusConfig) (*Opus, error) {
	if cfg.FrameMs == 0 {
		cfg.FrameMs = DefaultOpusFrameMs
	}
	if cfg.Kbps == 0 {
		cfg.Kbps = DefaultOpusKbps
	}
	switch {
	case cfg.FrameMs != 10 && cfg.FrameMs != 20:
		return nil, fmt.Errorf("%w: opus frame %d ms, want 10 or 20", ErrConfig, cfg.FrameMs)
	case cfg.Kbps < 6 || cfg.Kbps > 510:
		return nil, fmt.Errorf("%w: opus bit rate %d kbit/s outside 6..510", ErrConfig, cfg.Kbps)
	case cfg.LossPct < 0 || cfg.LossPct > 100:
		return nil, fmt.Errorf("%w: opus expected loss %d %% outside 0..100", ErrConfig, cfg.LossPct)
	}
	var rc C.int
	e := C.opus_encoder_create(OpusRate, OpusChannels, C.OPUS_APPLICATION_AUDIO, &rc)
	if rc != C.OPUS_OK || e == nil {
		return nil, opusError("create opus encoder", rc)
	}
	o := &Opus{e: e, samples: OpusRate * cfg.FrameMs / 1000}
	for _, set := range []struct {
		name string
		rc   C.int
	}{
		{"bit rate", C.ep_opus_set_bitrate(e, C.opus_int32(cfg.Kbps*1000))},
		{"in-band FEC", C.ep_opus_set_fec(e, 1)},
		{"expected loss", C.ep_opus_set_loss(e, C.opus_int32(cfg.LossPct))},
		{"DTX", C.ep_opus_set_dtx(e, 1)},
		// Complexity 5 costs about half of the default 10 (BenchmarkOpusEncode) for little
		// audible difference at this bit rate.
		{"complexity", C.ep_opus_set_complexity(e, 5)},
		{"signal", C.ep_opus_set_signal(e, C.OPUS_SIGNAL_MUSIC)},
	} {
		if set.rc != C.OPUS_OK {
			o.Close()
			return nil, opusError("set opus "+set.name, set.rc)
		}
	}
	return o, nil
}

// FrameSamples is the number of samples per channel that each Encode call takes.
func (o *Opus) FrameSamples() int { return o.samples }

// Lookahead is the encoder's algorithmic delay in samples per channel (at 48 kHz).
func (o *Opus) Lookahead() int {
	if o.e == nil {
		return 0
	}
	var v C.opus_int32
	C.ep_opus_get_lookahead(o.e, &v)
	return int(v)
}

// SetLossPercent tells the encoder how much loss to plan its FEC for (0..100), e.g. from the
// receiver's reports.
func (o *Opus) SetLossPercent(p int) error {
	if o.e == nil {
		return ErrClosed
	}
	p = min(max(p, 0), 100)
	if rc := C.ep_opus_set_loss(o.e, C.opus_int32(p)); rc != C.OPUS_OK {
		return opusError("set opus expected loss", rc)
	}
	return nil
}

// Encode encodes one frame of interleaved stereo samples (exactly 2×FrameSamples values). The
// packet it returns aliases the encoder's buffer and is valid until the next call. A packet of
// two bytes or less is a DTX frame: it need not be sent (RFC 6716 and libopus's documentation;
// the encoder still emits a full frame every 400 ms of silence).
func (o *Opus) Encode(pcm []int16) ([]byte, error) {
	if o.e == nil {
		return nil, ErrClosed
	}
	if len(pcm) != OpusChannels*o.samples {
		return nil, fmt.Errorf("%w: %d samples, want %d", ErrFrame, len(pcm), OpusChannels*o.samples)
	}
	n := C.opus_encode(o.e, (*C.opus_int16)(unsafe.Pointer(&pcm[0])), C.int(o.samples),
		(*C.uchar)(unsafe.Pointer(&o.out[0])), C.opus_int32(len(o.out)))
	if n < 0 {
		return nil, opusError("opus encode", n)
	}
	return o.out[:n], nil
}

// Close frees the encoder. It is safe to call more than once.
func (o *Opus) Close() {
	if o.e != nil {
		C.opus_encoder_destroy(o.e)
		o.e = nil
	}
}

// OpusDecoder decodes Opus packets to 48 kHz stereo, for tests and tools. It is not safe for
// concurrent use.
type OpusDecoder struct {
	d *C.OpusDecoder // nil once closed
}

// NewOpusDecoder opens a 48 kHz stereo decoder.
func NewOpusDecoder() (*OpusDecoder, error) {
	var rc C.int
	d := C.opus_decoder_create(OpusRate, OpusChannels, &rc)
	if rc != C.OPUS_OK || d == nil {
		return nil, opusError("create opus decoder", rc)
	}
	return &OpusDecoder{d: d}, nil
}

// Decode decodes one packet into pcm (interleaved stereo; room for 120 ms, 5760×2 values, is
// always enough) and returns the number of samples per channel written. A nil packet asks the
// decoder to conceal a lost frame of len(pcm)/2 samples.
func (d *OpusDecoder) Decode(packet []byte, pcm []int16) (int, error) {
	if d.d == nil {
		return 0, ErrClosed
	}
	if len(pcm) < OpusChannels {
		return 0, fmt.Errorf("%w: no room for samples", ErrFrame)
	}
	var data *C.uchar
	if len(packet) > 0 {
		data = (*C.uchar)(unsafe.Pointer(&packet[0]))
	}
	n := C.opus_decode(d.d, data, C.opus_int32(len(packet)),
		(*C.opus_int16)(unsafe.Pointer(&pcm[0])), C.int(len(pcm)/OpusChannels), 0)
	if n < 0 {
		return 0, opusError("opus decode", n)
	}
	return int(n), nil
}

// Close frees the decoder. It is safe to call more than once.
func (d *OpusDecoder) Close() {
	if d.d != nil {
		C.opus_decoder_destroy(d.d)
		d.d = nil
	}
}

// OpusError is a failure reported by libopus.
type OpusError struct {
	Op   string
	Code int // libopus's negative error code
}

func (e *OpusError) Error() string {
	return fmt.Sprintf("encoder: %s: %s", e.Op, C.GoString(C.opus_strerror(C.int(e.Code))))
}

func opusError(op string, rc C.int) error { return &OpusError{Op: op, Code: int(rc)} }
