package gameproc

import (
	"errors"

	"github.com/edgeplay/edgeplay/game"
)

// Why Run ended, other than by its context: package game's values (the session maps them to
// end reasons). Each is wrapped with what happened (the exit
// status or signal, the message, the deadline); their texts are the failure reasons of
// docs/SDK.md.
var (
	// ErrStartFailed: the process could not be started, or sent no hello, ready or started
	// within its deadline, or spoke another major version, or died before it started.
	ErrStartFailed = game.ErrStartFailed
	// ErrCrashed: the process exited or closed the link after it started, or sent fatal.
	ErrCrashed = game.ErrCrashed
	// ErrHung: no frame for the stall timeout while started, or the link stopped taking
	// messages.
	ErrHung = game.ErrHung
	// ErrProtocol: the game sent a malformed or unexpected message.
	ErrProtocol = game.ErrProtocol
	// ErrEnded: the game sent ending and exited on its own; the error carries the result.
	ErrEnded = game.ErrEnded
	// ErrRunning: Run was called twice; a process serves one session.
	ErrRunning = errors.New("gameproc: Run called twice")
)
