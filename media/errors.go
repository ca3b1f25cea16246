package media

import "errors"

// Sentinel errors.
var (
	ErrConfig = errors.New("media: invalid config")
	// ErrNoCommonCodec means the player accepted none of the codecs the host offers; the
	// session cannot send video to it.
	ErrNoCommonCodec = errors.New("media: the player decodes none of the offered video codecs")
)

var (
	errPacerClosed = errors.New("media: pacer closed")
	errPacerFull   = errors.New("media: pacer queue full; packet dropped")
	errNoStream    = errors.New("media: pacer has no stream to send on")
)
