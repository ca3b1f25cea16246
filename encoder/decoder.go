package encoder

/*
#include "codec.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Decoder is an H.264 or VP8 decoder (libavcodec's) for tests and tools: it turns the frames
// an Encoder produces back into pictures. It is not safe for concurrent use.
type Decoder struct {
	d     *C.ep_decoder // nil once closed
	codec string
}

// Picture is a decoded frame's luma plane.
type Picture struct {
	Width, Height int
	// Y holds the luma samples, row after row, YStride bytes apart. It is a copy that belongs
	// to the caller and stays valid after later Decode calls and Close.
	Y       []byte
	YStride int
}

// NewDecoder opens a single-threaded, low-delay H.264 decoder: NewDecoderCodec(CodecH264).
func NewDecoder() (*Decoder, error) { return NewDecoderCodec(CodecH264) }

// NewDecoderCodec opens a single-threaded, low-delay decoder for CodecH264 or CodecVP8.
func NewDecoderCodec(codec string) (*Decoder, error) {
	var kind C.int
	switch codec {
	case CodecH264:
		kind = C.EP_DEC_H264
	case CodecVP8:
		kind = C.EP_DEC_VP8
	default:
		return nil, fmt.Errorf("%w: codec %q: want one of %v", ErrConfig, codec, codecs)
	}
	initLog()
	var d *C.ep_decoder
	if rc := C.ep_decoder_open(kind, &d); rc < 0 {
		err := &AVError{Op: "open " + codec + " decoder", Code: int(rc)}
		if d != nil {
			err.Detail = C.GoString(&d.err.msg[0])
		}
		C.ep_decoder_close(d)
		return nil, err
	}
	return &Decoder{d: d, codec: codec}, nil
}

// Decode decodes one encoded frame: an Annex-B access unit for H.264, a VP8 frame for VP8
// (Packet.Data either way). It returns nil, nil when the data completes no picture (e.g.
// parameter sets alone, or empty input). If the data completes several pictures, the last is
// returned.
func (d *Decoder) Decode(data []byte) (*Picture, error) {
	if d.d == nil {
		return nil, ErrClosed
	}
	if len(data) == 0 {
		return nil, nil // an empty packet would mean "flush" to libavcodec
	}
	rc := C.ep_decoder_decode(d.d, (*C.uint8_t)(unsafe.Pointer(&data[0])), C.int(len(data)))
	if rc < 0 {
		return nil, &AVError{Op: "decode " + d.codec, Code: int(rc), Detail: C.GoString(&d.d.err.msg[0])}
	}
	if rc == 0 {
		return nil, nil
	}
	f := d.d.frame
	w, h := int(f.width), int(f.height)
	stride := int(f.linesize[0])
	src := unsafe.Slice((*byte)(unsafe.Pointer(f.data[0])), stride*(h-1)+w)
	p := &Picture{Width: w, Height: h, Y: make([]byte, w*h), YStride: w}
	for y := range h {
		copy(p.Y[y*w:(y+1)*w], src[y*stride:])
	}
	return p, nil
}

// Close frees the decoder. It is idempotent.
func (d *Decoder) Close() error {
	if d.d != nil {
		C.ep_decoder_close(d.d)
		d.d = nil
	}
	return nil
}
