package gameproc

import "errors"

// Why Run ended, other than by its context. Each is wrapped with what happened (the exit
// status or signal, the message, the deadline); their texts are the failure reasons of
// docs/SDK.md.
var (
	// ErrStartFailed: the process could not be started, or sent no hello, ready or started
	// within its deadline, or spoke another major version, or died before it started.
	ErrStartFailed = errors.New("game_start_failed")
	// ErrCrashed: the process exited or closed the link after it started, or sent fatal.
	ErrCrashed = errors.New("game_crashed")
	// ErrHung: no frame for the stall timeout while started, or the link stopped taking
	// messages.
	ErrHung = errors.New("game_hung")
	// ErrProtocol: the game sent a malformed or unexpected message.
	ErrProtocol = errors.New("protocol")
	// ErrEnded: the game sent ending and exited on its own; the error carries the result.
	ErrEnded = errors.New("game ended")
	// ErrRunning: Run was called twice; a process serves one session.
	ErrRunning = errors.New("gameproc: Run called twice")
)
