package e2e

import (
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/internal/testplayer"
	"github.com/edgeplay/edgeplay/protocol"
	"github.com/edgeplay/edgeplay/server"
)

// hostSession returns the host's view of a session, and whether it exists.
func hostSession(a *app.App, id string) (away bool, resumes uint64, ok bool) {
	for _, s := range a.Hosts()[0].Sessions() {
		if s.ID == id {
			return s.Away, s.Resumes, true
		}
	}
	return false, 0, false
}

// A player whose websocket drops takes its session back with its resume token: the same
// session plays on. Wrong, replayed and another player's tokens are refused; an ICE restart
// on request keeps the picture coming; a player whose media still flows is not lost at the end
// of the grace; an ended session cannot be resumed.
func TestSessionResume(t *testing.T) {
	a := startApp(t, appOpts{slots: 2, mutate: func(c *app.Config) { c.Hosts[0].ResumeGrace = 3 * time.Second }})
	defer func() { _ = a.Close(ctxFor(t, 10*time.Second)) }()
	p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Play(ctxFor(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the game's sound (Opus packets)", func() bool { return p.AudioPackets() > 50 })
	session, tok := p.Session, p.Placed.ResumeToken
	if tok == "" {
		t.Fatal("placed carries no resume_token")
	}
	other, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Play(ctxFor(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}

	refused := func(what, sess, token string) {
		t.Helper()
		q, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		if err := q.SendJSON(protocol.Message{Type: protocol.TypeResume, Session: sess, Token: token}); err != nil {
			t.Fatal(err)
		}
		m, err := q.Next(ctxFor(t, 5*time.Second))
		if err != nil || m.Type != protocol.TypeError || m.Code != protocol.CodeResumeInvalid {
			t.Errorf("%s: got %+v, %v; want error resume_invalid", what, m, err)
		}
	}
	refused("a forged token", session, tok[:len(tok)-2]+"AA")
	refused("another player's session", other.Session, tok)
	if away, _, ok := hostSession(a, session); !ok || away {
		t.Fatalf("after refused resumes the session is there %v, away %v; want playing", ok, away)
	}

	// The websocket drops: the player is away, and comes back with its token.
	p.DropSocket()
	waitFor(t, 5*time.Second, "the host to mark the player away", func() bool { away, _, _ := hostSession(a, session); return away })
	m, err := p.Resume(ctxFor(t, 5*time.Second), session, tok)
	if err != nil || m.Type != protocol.TypeResumed || m.ResumeToken == "" || m.ResumeToken == tok || m.Session != session {
		t.Fatalf("resume: %+v, %v; want resumed with a new token", m, err)
	}
	waitFor(t, 5*time.Second, "the player to be back", func() bool {
		away, resumes, ok := hostSession(a, session)
		return ok && !away && resumes == 1
	})
	refused("a used token", session, tok)
	tok = m.ResumeToken

	// An ICE restart on request: a new offer, answered on the same peer connection, and the
	// picture keeps coming.
	if err := p.SendJSON(protocol.Message{Type: protocol.TypeICERestart}); err != nil {
		t.Fatal(err)
	}
	offer, err := p.AwaitOffer(ctxFor(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AcceptRestart(offer); err != nil {
		t.Fatal(err)
	}
	before := p.Received()
	waitFor(t, 5*time.Second, "frames after the ICE restart", func() bool { return p.Received() > before+30 })
	if _, _, ok := hostSession(a, session); !ok {
		t.Fatal("the session ended during the ICE restart")
	}

	// The websocket drops again and the player never resumes, but its peer connection (and
	// so the game) carries on: at the end of the grace the player is there, not lost. (A
	// player whose media path goes too is lost: TestLabResumeGraceEnds.)
	p.DropSocket()
	waitFor(t, 5*time.Second, "the host to mark the player away", func() bool { away, _, _ := hostSession(a, session); return away })
	time.Sleep(3*time.Second + 500*time.Millisecond)
	if away, _, ok := hostSession(a, session); !ok || away {
		t.Errorf("after the grace with the media flowing: session there %v, away %v; want there and back", ok, away)
	}
	// It can still resume with the token it has.
	if m, err = p.Resume(ctxFor(t, 5*time.Second), session, tok); err != nil || m.Type != protocol.TypeResumed {
		t.Errorf("resume after the grace: %+v, %v; want resumed", m, err)
	}
	// A session that has ended cannot be resumed.
	if _, err := p.Leave(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	m, err = p.Resume(ctxFor(t, 5*time.Second), session, m.ResumeToken)
	if err != nil || m.Type != protocol.TypeError || m.Code != protocol.CodeSessionNotFound {
		t.Errorf("resume after leave: %+v, %v; want error session_not_found", m, err)
	}
	if _, _, ok := hostSession(a, other.Session); !ok {
		t.Error("the other player's session ended")
	}
}

// A gateway that shuts down (a rolling update) does not end its players' sessions: the host
// hears "away", and the player takes the session back through another gateway that shares
// the resume secret.
func TestResumeThroughAnotherGateway(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	sys := startApp(t, appOpts{mutate: func(c *app.Config) { c.Gateway.ResumeSecret, c.NATSAuth = secret, false }})
	defer func() { _ = sys.Close(ctxFor(t, 10*time.Second)) }()
	gwA, err := app.Start(ctxFor(t, 20*time.Second), app.Config{
		NATSURL: sys.NATSURL(), GatewayAddr: "127.0.0.1:0", Logger: testLogger(),
		Gateway: server.Config{ResumeSecret: secret},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := testplayer.Dial(ctxFor(t, 5*time.Second), gwA.URL(), testplayer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Play(ctxFor(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}
	session, tok := p.Session, p.Placed.ResumeToken

	if err := gwA.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the host to mark the player away", func() bool { away, _, _ := hostSession(sys, session); return away })
	p.UseGateway(sys.URL())
	m, err := p.Resume(ctxFor(t, 5*time.Second), session, tok)
	if err != nil || m.Type != protocol.TypeResumed {
		t.Fatalf("resume through the other gateway: %+v, %v", m, err)
	}
	waitFor(t, 5*time.Second, "the player to be back", func() bool {
		away, resumes, ok := hostSession(sys, session)
		return ok && !away && resumes == 1
	})
	before := p.Received()
	waitFor(t, 5*time.Second, "frames after the resume", func() bool { return p.Received() > before+30 })
}
