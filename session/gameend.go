package session

import (
	"errors"

	"github.com/edgeplay/edgeplay/gameproc"
	"github.com/edgeplay/edgeplay/protocol"
)

// gameEnd maps why a game's Run returned to the session's end reason, with the error's text
// as the detail (for the log and the "ended" event). An out-of-process game's errors
// (package gameproc) have reasons of their own; a protocol violation counts as a crash (the
// detail starts with "protocol"); any other error is the host's: ReasonError.
func gameEnd(err error) (protocol.Reason, string) {
	switch {
	case errors.Is(err, gameproc.ErrEnded):
		return protocol.ReasonGameEnded, err.Error()
	case errors.Is(err, gameproc.ErrStartFailed):
		return protocol.ReasonGameStartFailed, err.Error()
	case errors.Is(err, gameproc.ErrHung):
		return protocol.ReasonGameHung, err.Error()
	case errors.Is(err, gameproc.ErrCrashed), errors.Is(err, gameproc.ErrProtocol):
		return protocol.ReasonGameCrashed, err.Error()
	}
	return protocol.ReasonError, err.Error()
}
