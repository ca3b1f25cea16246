package encoder

/*
#include <libavutil/error.h>
*/
import "C"

import (
	"errors"
	"fmt"
)

// Errors returned by this package, wrapped with context; test with errors.Is.
var (
	// ErrConfig means a Config field is out of range; the message names the field.
	ErrConfig = errors.New("encoder: invalid config")
	// ErrUnknownBackend means Config.Backend names no encoder of Config.Codec that this
	// package can configure for low latency.
	ErrUnknownBackend = errors.New("encoder: unknown backend")
	// ErrNoBackend means Backend "auto" found no encoder of the codec that opens on this
	// machine.
	ErrNoBackend = errors.New("encoder: no encoder available for the codec")
	// ErrClosed means the Encoder or Decoder was used after Close.
	ErrClosed = errors.New("encoder: closed")
	// ErrFrame means a frame does not match the encoder's size or its buffer is too short.
	ErrFrame = errors.New("encoder: bad frame")
	// ErrNotSupported means the backend cannot do what was asked (e.g. change the bit rate).
	ErrNotSupported = errors.New("encoder: not supported by this backend")
	// ErrDelayed means the encoder kept a frame back instead of returning its packet at once,
	// which the low-latency settings are meant to rule out. The encoder should be closed.
	ErrDelayed = errors.New("encoder: encoder buffered a frame")
)

// AVError is a failure reported by libavcodec, libswscale or libvpx.
type AVError struct {
	Op     string // what was being done, e.g. "open libx264"
	Code   int    // the negative AVERROR code (AVERROR_EXTERNAL for libvpx's errors)
	Detail string // error messages libavcodec logged, or libvpx's description, if any
}

func (e *AVError) Error() string {
	var buf [C.AV_ERROR_MAX_STRING_SIZE]C.char
	C.av_strerror(C.int(e.Code), &buf[0], C.size_t(len(buf)))
	msg := fmt.Sprintf("encoder: %s: %s", e.Op, C.GoString(&buf[0]))
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg
}
