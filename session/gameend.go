package session

import (
	"errors"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/protocol"
)

// gameEnd maps why a game's Run returned to the session's end reason, with the error's text
// as the detail (for the log and the "ended" event). A game's failures (package
// game's errors; the out-of-process games of package gameproc return them) have reasons of their own; a protocol violation counts as a crash (the
// detail starts with "protocol"); any other error is the host's: ReasonError.
func gameEnd(err error) (protocol.Reason, string) {
	switch {
	case errors.Is(err, game.ErrEnded):
		return protocol.ReasonGameEnded, err.Error()
	case errors.Is(err, game.ErrStartFailed):
		return protocol.ReasonGameStartFailed, err.Error()
	case errors.Is(err, game.ErrHung):
		return protocol.ReasonGameHung, err.Error()
	case errors.Is(err, game.ErrCrashed), errors.Is(err, game.ErrProtocol):
		return protocol.ReasonGameCrashed, err.Error()
	}
	return protocol.ReasonError, err.Error()
}
