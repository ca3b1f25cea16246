package e2e

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/transport/v5/test"

	"github.com/edgeplay/edgeplay/input"
	"github.com/edgeplay/edgeplay/internal/testplayer"
	"github.com/edgeplay/edgeplay/protocol"
)

// expectError reads messages until an "error" and checks its code; errors with a code in skip
// are passed over.
func expectError(t *testing.T, p *testplayer.Player, want protocol.Code, skip ...protocol.Code) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		m, err := p.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for error %s: %v", want, err)
		}
		if m.Type == protocol.TypeError {
			if slices.Contains(skip, m.Code) {
				continue
			}
			if m.Code != want {
				t.Fatalf("error code %s (%q), want %s", m.Code, m.Message, want)
			}
			return
		}
	}
}

// TestBadInputDoesNotHurtOtherPlayers plays one good player while a second one sends every kind
// of bad input the gateway and the host must survive; the good player keeps streaming and its
// input keeps working throughout.
func TestBadInputDoesNotHurtOtherPlayers(t *testing.T) {
	defer test.CheckRoutines(t)()
	a := startApp(t, appOpts{})
	defer func() { _ = a.Close(ctxFor(t, 10*time.Second)) }()

	good, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{Decode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if err := good.Play(ctxFor(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}
	checkGood := func(step string) {
		t.Helper()
		before := len(good.Frames())
		seq, err := good.SendInput(input.Event{Type: input.KeyDown, Code: input.KeySpace})
		if err != nil {
			t.Fatalf("%s: good player input: %v", step, err)
		}
		waitFor(t, 5*time.Second, step+": good player's marker follows its input", func() bool {
			fs := good.Frames()
			return len(fs) > before+5 && fs[len(fs)-1].MarkerOK && fs[len(fs)-1].Marker == uint16(seq)
		})
	}
	checkGood("start")

	bad, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()

	// Websocket messages before joining.
	for _, tt := range []struct {
		name string
		send func() error
		want protocol.Code
	}{
		{"malformed json", func() error { return bad.SendText([]byte(`{"type":`)) }, protocol.CodeBadMessage},
		{"unknown type", func() error { return bad.SendText([]byte(`{"type":"teleport"}`)) }, protocol.CodeUnknownType},
		{"binary frame", func() error { return bad.SendBinary([]byte{1, 2, 3}) }, protocol.CodeBadMessage},
		{"answer before join", func() error {
			return bad.SendJSON(protocol.Message{Type: protocol.TypeAnswer, SDP: "v=0\r\n"})
		}, protocol.CodeBadState},
		{"bad game name", func() error { return bad.SendText([]byte(`{"type":"join","game":"DROP TABLE"}`)) }, protocol.CodeBadField},
	} {
		if err := tt.send(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		expectError(t, bad, tt.want)
	}

	// Garbage SDP, then a real handshake, then garbage candidates.
	offer, err := bad.Join(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.SendJSON(protocol.Message{Type: protocol.TypeAnswer, SDP: "v=0\r\nthis is not sdp\r\n"}); err != nil {
		t.Fatal(err)
	}
	expectError(t, bad, protocol.CodeBadSDP)
	if err := bad.SendJSON(protocol.Message{Type: protocol.TypeJoin, Game: "demo"}); err != nil {
		t.Fatal(err)
	}
	expectError(t, bad, protocol.CodeBadState) // one join per socket
	if err := bad.Accept(ctxFor(t, 15*time.Second), offer); err != nil {
		t.Fatal(err)
	}
	if err := bad.SendText([]byte(`{"type":"candidate","candidate":{"candidate":"candidate:garbage"}}`)); err != nil {
		t.Fatal(err)
	}
	expectError(t, bad, protocol.CodeBadCandidate)
	if err := bad.SendText([]byte(`{"type":"candidate","candidate":{"candidate":"not a candidate"}}`)); err != nil {
		t.Fatal(err)
	}
	expectError(t, bad, protocol.CodeBadCandidate)
	checkGood("after bad signalling")

	// Malformed and flooding data-channel input: dropped and counted, nothing else happens.
	for _, b := range [][]byte{
		nil,
		{1},
		{9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0},
		{1, 99, 0, 0, 0, 0, 0, 0, 0, 0},
		[]byte(strings.Repeat("x", 4000)), input.Append(nil, input.Event{Type: input.MouseButton, Button: 200}),
	} {
		if len(b) == 0 {
			continue // pion refuses to send an empty message
		}
		if err := bad.SendRaw(false, b); err != nil {
			t.Fatal(err)
		}
	}
	for range 3000 {
		if _, err := bad.SendInput(input.Event{Type: input.MouseMove, DX: 1}); err != nil {
			t.Fatal(err)
		}
	}
	badHost := a.Hosts()[0]
	waitFor(t, 5*time.Second, "the host counts the bad and the flooding input", func() bool {
		for _, s := range badHost.Sessions() {
			if s.ID == bad.Session {
				return s.Stats.InputsInvalid >= 5 && s.Stats.InputsLimited > 0
			}
		}
		return false
	})
	checkGood("after input flood")

	// Websocket flood: some messages are refused with rate_limited.
	for range 60 {
		if err := bad.SendText([]byte(`{"type":"candidate","candidate":{"candidate":""}}`)); err != nil {
			t.Fatal(err)
		}
	}
	expectError(t, bad, protocol.CodeRateLimited)

	// Oversized message: an error, then the socket closes and the session ends.
	_ = bad.SendText([]byte(`{"type":"leave","pad":"` + strings.Repeat("x", protocol.MaxMessageSize) + `"}`))
	expectError(t, bad, protocol.CodeMessageTooLarge, protocol.CodeRateLimited)
	ctx := ctxFor(t, 5*time.Second)
	for {
		if _, err := bad.Next(ctx); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatal("socket not closed after an oversized message")
			}
			break
		}
	}
	waitFor(t, 5*time.Second, "the bad player's session ends", func() bool { return len(badHost.Sessions()) == 1 })
	checkGood("after the bad player left")

	if _, err := good.Leave(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	good.Close()
	bad.Close()
	if err := a.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}
