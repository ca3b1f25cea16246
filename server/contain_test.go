package server

import (
	"testing"

	"github.com/edgeplay/edgeplay/protocol"
)

// A panic while handling one player's message closes that player's connection with an
// internal error; the gateway and another player's connection carry on.
func TestPanicClosesOneConnection(t *testing.T) {
	dispatchHookForTest = func(m protocol.Message) {
		if m.Type == protocol.TypeICERestart {
			panic("a bug in the ice_restart path")
		}
	}
	defer func() { dispatchHookForTest = nil }()
	e := newLimitEnv(t, Config{})
	bad, _ := e.dial(t)
	good, _ := e.dial(t)
	if err := bad.WriteJSON(protocol.Message{Type: protocol.TypeICERestart}); err != nil {
		t.Fatal(err)
	}
	if m := next(t, bad); m.Type != protocol.TypeError || m.Code != protocol.CodeInternal {
		t.Fatalf("the panicking connection got %+v, want error internal", m)
	}
	waitClosed(t, bad)
	if err := good.WriteJSON(protocol.Message{Type: protocol.TypeAnswer, SDP: "v=0"}); err != nil {
		t.Fatal(err)
	}
	if m := next(t, good); m.Type != protocol.TypeError || m.Code != protocol.CodeBadState {
		t.Fatalf("the other connection got %+v, want its own bad_state: the gateway serves it", m)
	}
	third, m := e.dial(t)
	defer third.Close()
	if m.Type != protocol.TypeWelcome {
		t.Fatalf("a new connection after the panic: %+v", m)
	}
}
