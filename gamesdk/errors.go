package gamesdk

import "errors"

// Errors returned by the SDK, wrapped with context.
var (
	// ErrProtocol: the host sent something the protocol forbids (a malformed message, a bad
	// slot, a message out of order). The Game is broken after it.
	ErrProtocol = errors.New("gamesdk: protocol error from host")
	// ErrVersion: the host speaks a major version this SDK does not.
	ErrVersion = errors.New("gamesdk: unsupported protocol version")
	// ErrHostGone: the host closed the link. The Game is broken after it.
	ErrHostGone = errors.New("gamesdk: host closed the link")
	// ErrState: the call is not allowed in the game's current state (Started before Assign,
	// SubmitFrame before Started, anything after End, Fatal or Close).
	ErrState = errors.New("gamesdk: not allowed in this state")
	// ErrArg: an argument is out of the protocol's range.
	ErrArg = errors.New("gamesdk: invalid argument")
	// ErrClosed: the Game was closed.
	ErrClosed = errors.New("gamesdk: closed")
	// ErrStuck: Serve cancelled the game's Run and it did not return within
	// ServeConfig.StopTimeout. Its goroutine is left running: the process should exit.
	ErrStuck = errors.New("gamesdk: the game's Run did not return")
)
