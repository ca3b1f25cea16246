package e2e

import (
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/internal/testplayer"
	"github.com/edgeplay/edgeplay/protocol"
	"github.com/edgeplay/edgeplay/server"
)

// mintToken has a studio's backend mint a join token with its API key at gateway a.
func mintToken(t *testing.T, a *app.App, apiKey, body string) string {
	t.Helper()
	code, out := adminPost(t, a, apiKey, "/v1/studio/tokens", body)
	tok, _ := out["token"].(string)
	if code != http.StatusOK || tok == "" {
		t.Fatalf("mint: %d %v", code, out)
	}
	return tok
}

// joinError joins with opts at url and returns the error code the gateway answers with.
func joinError(t *testing.T, url string, opts testplayer.Options) protocol.Code {
	t.Helper()
	p, err := testplayer.Dial(ctxFor(t, 5*time.Second), url, testplayer.Options{Game: opts.Game, Token: opts.Token})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = p.Join(ctxFor(t, 10*time.Second))
	var se *testplayer.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("join: %v, want an error message", err)
	}
	return se.Msg.Code
}

// tokenApp starts the system with a gateway that requires join tokens and a studio for the
// demo game; it returns the app, the studio's id and its API key.
func tokenApp(t *testing.T, natsAuth bool) (*app.App, string, string) {
	t.Helper()
	return tokenAppWith(t, natsAuth, `{"name":"Acme","games":["demo"]}`)
}

// tokenAppWith is tokenApp with the studio made from body (POST /v1/admin/studios).
func tokenAppWith(t *testing.T, natsAuth bool, body string) (*app.App, string, string) {
	t.Helper()
	const admin = "test-admin-token"
	a := startApp(t, appOpts{slots: 4, mutate: func(c *app.Config) {
		c.Gateway.AdminToken, c.Gateway.RequireJoinTokens, c.NATSAuth = admin, true, natsAuth
	}})
	code, out := adminPost(t, a, admin, "/v1/admin/studios", body)
	key, _ := out["api_key"].(string)
	st, _ := out["studio"].(map[string]any)
	if code != http.StatusCreated || key == "" || st == nil {
		t.Fatalf("create studio: %d %v", code, out)
	}
	return a, st["id"].(string), key
}

// The join token's life through the whole system (each role with its own NATS user), on a
// gateway that requires tokens: a studio created through the admin API mints with its key; a
// join without a token, with a used one or for another game is refused; the token plays, and
// its player reaches the host.
func TestJoinTokens(t *testing.T) {
	a, studioID, key := tokenApp(t, true)

	if c := joinError(t, a.URL(), testplayer.Options{Game: "demo"}); c != protocol.CodeTokenRequired {
		t.Errorf("join without a token: %s, want token_required", c)
	}
	tok := mintToken(t, a, key, `{"game":"demo","player_id":"player-7","payload":"{\"level\":3}"}`)
	if c := joinError(t, a.URL(), testplayer.Options{Game: "paddle", Token: tok}); c != protocol.CodeTokenGameMismatch {
		t.Errorf("join for another game: %s, want token_game_mismatch", c)
	}
	p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Play(ctxFor(t, 15*time.Second)); err != nil {
		t.Fatalf("play with the token: %v", err)
	}
	waitFor(t, 5*time.Second, "frames", func() bool { return p.Received() > 10 })
	var found bool
	for _, s := range a.Hosts()[0].SessionStatuses(time.Now()) {
		if s.ID == p.Session {
			found = s.Studio == studioID && s.Player == "player-7" && s.Game == "demo"
			if !found {
				t.Errorf("the host's session %+v, want studio %s, player player-7", s, studioID)
			}
		}
	}
	if !found {
		t.Error("the session is not on the host")
	}
	if c := joinError(t, a.URL(), testplayer.Options{Token: tok}); c != protocol.CodeTokenUsed {
		t.Errorf("replayed token: %s, want token_used", c)
	}
	if _, err := p.Leave(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// A second gateway replica (its own signing key, the same store) verifies tokens the first
// minted, and of two joins with one token racing on both gateways exactly one is placed.
func TestJoinTokensTwoGateways(t *testing.T) {
	a, _, key := tokenApp(t, false)
	gwB, err := app.Start(ctxFor(t, 20*time.Second), app.Config{
		NATSURL: a.NATSURL(), GatewayAddr: "127.0.0.1:0", Logger: testLogger(),
		Gateway: server.Config{RequireJoinTokens: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = gwB.Close(ctxFor(t, 10*time.Second)) }()
	tokB := mintToken(t, gwB, key, `{"game":"demo","player_id":"player-8"}`)
	q, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{Token: tokB})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Play(ctxFor(t, 15*time.Second)); err != nil {
		t.Fatalf("gateway A plays a token gateway B minted: %v", err)
	}
	if _, err := q.Leave(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}

	// One token, two joins at once on two gateways: one is placed, the other refused.
	for round := range 3 {
		tok := mintToken(t, a, key, `{"game":"demo","player_id":"racer"}`)
		var wg sync.WaitGroup
		results := make([]error, 2)
		players := make([]*testplayer.Player, 2)
		for i, url := range []string{a.URL(), gwB.URL()} {
			pl, err := testplayer.Dial(ctxFor(t, 5*time.Second), url, testplayer.Options{Token: tok})
			if err != nil {
				t.Fatal(err)
			}
			defer pl.Close()
			players[i] = pl
		}
		for i, pl := range players {
			wg.Go(func() { _, results[i] = pl.Join(ctxFor(t, 10*time.Second)) })
		}
		wg.Wait()
		placed, used := 0, 0
		for i, err := range results {
			var se *testplayer.ServerError
			switch {
			case err == nil:
				placed++
				if _, err := players[i].Leave(ctxFor(t, 5*time.Second)); err != nil {
					t.Error(err)
				}
			case errors.As(err, &se) && se.Msg.Code == protocol.CodeTokenUsed:
				used++
			default:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if placed != 1 || used != 1 {
			t.Fatalf("round %d: %d placed, %d refused token_used; want 1 and 1", round, placed, used)
		}
	}
}

// A studio at its quota: with one session allowed and one ticket waiting, its second player
// waits although the host has free slots, its third is refused quota_exceeded, and the
// waiting one plays once the first leaves.
func TestStudioQuotaEndToEnd(t *testing.T) {
	a, _, key := tokenAppWith(t, true, `{"name":"Acme","games":["demo"],"max_sessions":1,"max_queued":1}`)
	join := func() *testplayer.Player {
		t.Helper()
		p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{Token: mintToken(t, a, key, `{"game":"demo","player_id":"p"}`)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	first := join()
	if err := first.Play(ctxFor(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}
	second := join()
	if err := second.SendJSON(protocol.Message{Type: protocol.TypeJoin, Token: second.Token()}); err != nil {
		t.Fatal(err)
	}
	if m, err := second.Next(ctxFor(t, 10*time.Second)); err != nil || m.Type != protocol.TypeQueued {
		t.Fatalf("the studio's second player: %+v %v, want queued (the studio's quota is 1 session; the host has 3 free slots)", m, err)
	}
	if c := joinError(t, a.URL(), testplayer.Options{Token: mintToken(t, a, key, `{"game":"demo","player_id":"p"}`)}); c != protocol.CodeQuotaExceeded {
		t.Errorf("the studio's third player: %s, want quota_exceeded", c)
	}
	if _, err := first.Leave(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	offer, err := second.AwaitOffer(ctxFor(t, 15*time.Second))
	if err != nil {
		t.Fatalf("the waiting player after the first left: %v", err)
	}
	if err := second.Accept(ctxFor(t, 15*time.Second), offer); err != nil {
		t.Fatal(err)
	}
}
