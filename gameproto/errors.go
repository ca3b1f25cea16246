package gameproto

import "errors"

// Errors returned by Decode, the pool checks and Conn. Every one of them, seen by the host on a
// game's link, is a protocol violation: the host ends the session with reason "protocol".
var (
	ErrShort   = errors.New("gameproto: message too short")
	ErrLong    = errors.New("gameproto: message too long")
	ErrLength  = errors.New("gameproto: header length does not match the datagram")
	ErrType    = errors.New("gameproto: unknown message type")
	ErrFlags   = errors.New("gameproto: unknown header flags")
	ErrVersion = errors.New("gameproto: unsupported protocol version")
	ErrField   = errors.New("gameproto: field out of range")
	ErrFDs     = errors.New("gameproto: wrong number of file descriptors")
)
