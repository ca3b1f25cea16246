package session

import "errors"

// Sentinel errors. Errors that reach a player carry a protocol.Code instead (see protocol/errors.go).
var (
	ErrConfig = errors.New("session: invalid config")
	ErrClosed = errors.New("session: host is closed")
)
