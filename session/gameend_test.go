package session

import (
	"errors"
	"fmt"
	"testing"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/protocol"
)

func TestGameEnd(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want protocol.Reason
	}{
		{"ended", fmt.Errorf("%w: result %q", game.ErrEnded, `{"score":3}`), protocol.ReasonGameEnded},
		{"start failed", fmt.Errorf("%w: no hello within 5s", game.ErrStartFailed), protocol.ReasonGameStartFailed},
		{"crashed", fmt.Errorf("%w: the game exited with status 3", game.ErrCrashed), protocol.ReasonGameCrashed},
		{"protocol", fmt.Errorf("%w: unexpected hello", game.ErrProtocol), protocol.ReasonGameCrashed},
		{"hung", fmt.Errorf("%w: no frame for 5s", game.ErrHung), protocol.ReasonGameHung},
		{"other", errors.New("encoder broke"), protocol.ReasonError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, d := gameEnd(tt.err)
			if r != tt.want || d != tt.err.Error() {
				t.Errorf("gameEnd(%v) = %q, %q; want %q, %q", tt.err, r, d, tt.want, tt.err.Error())
			}
		})
	}
}
