package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/internal/natsd"
	"github.com/edgeplay/edgeplay/jointoken"
	"github.com/edgeplay/edgeplay/protocol"
	"github.com/edgeplay/edgeplay/studio"
)

type studioEnv struct {
	base   string
	tokens *studio.Tokens
}

// newStudioEnv is a gateway with a studio store on an in-process NATS; require sets
// RequireJoinTokens.
func newStudioEnv(t *testing.T, require bool) *studioEnv {
	t.Helper()
	return newStudioEnvTB(t, require)
}

func newStudioEnvTB(tb testing.TB, require bool) *studioEnv {
	tb.Helper()
	ns, err := natsd.Start(natsd.Config{StoreDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(ns.Shutdown)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	nc, closeNC, err := natsd.Connect("", ns, "gw", log)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(closeNC)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := studio.Open(ctx, js, 1)
	if err != nil {
		tb.Fatal(err)
	}
	tk, err := studio.NewTokens(ctx, st, log)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(tk.Close)
	s, err := New(Config{Logger: log, AdminToken: testToken, Studios: st, Tokens: tk, RequireJoinTokens: require}, nc)
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	tb.Cleanup(hs.Close)
	tb.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return &studioEnv{base: hs.URL, tokens: tk}
}

func (e *studioEnv) send(t *testing.T, method, path, auth, body string) adminResp {
	t.Helper()
	return e.sendTB(t, method, path, auth, body)
}

func (e *studioEnv) sendTB(tb testing.TB, method, path, auth, body string) adminResp {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(tb.Context(), method, e.base+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return adminResp{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (e *studioEnv) admin(t *testing.T, method, path, body string) adminResp {
	t.Helper()
	return e.send(t, method, path, "Bearer "+testToken, body)
}

// createStudio makes a studio through the admin API and returns it and its API key.
func (e *studioEnv) createStudio(t *testing.T, body string) (studio.Studio, string) {
	t.Helper()
	r := e.admin(t, http.MethodPost, "/v1/admin/studios", body)
	if r.status != http.StatusCreated {
		t.Fatalf("create studio: %d %s", r.status, r.body)
	}
	c := decode[struct {
		Studio studio.Studio `json:"studio"`
		APIKey string        `json:"api_key"`
	}](t, r)
	return c.Studio, c.APIKey
}

func TestAdminStudios(t *testing.T) {
	e := newStudioEnv(t, false)
	st, key := e.createStudio(t, `{"name":"Acme","games":["paddle"],"max_sessions":5,"origins":["https://play.acme.example"]}`)
	if st.ID == "" || len(st.Keys) != 1 || !strings.HasPrefix(key, studio.KeyPrefix) || st.MaxSessions != 5 {
		t.Fatalf("created %+v, key %q", st, key)
	}
	if r := e.admin(t, http.MethodGet, "/v1/admin/studios", ""); r.status != 200 || !strings.Contains(r.body, st.ID) || strings.Contains(r.body, key) {
		t.Errorf("list: %d %s (must list the studio, never its key)", r.status, r.body)
	}
	if r := e.admin(t, http.MethodPatch, "/v1/admin/studios/"+st.ID, `{"max_queued":2}`); r.status != 200 || decode[studio.Studio](t, r).MaxQueued != 2 {
		t.Errorf("update: %d %s", r.status, r.body)
	}
	r := e.admin(t, http.MethodPost, "/v1/admin/studios/"+st.ID+"/keys", "")
	if r.status != http.StatusCreated {
		t.Fatalf("add key: %d %s", r.status, r.body)
	}
	added := decode[struct {
		Key    studio.KeyInfo `json:"key"`
		APIKey string         `json:"api_key"`
	}](t, r)
	if added.APIKey == "" || added.APIKey == key || added.Key.Studio != st.ID {
		t.Errorf("added %+v", added)
	}
	for range studio.MaxKeys - 2 {
		e.admin(t, http.MethodPost, "/v1/admin/studios/"+st.ID+"/keys", "")
	}
	if r := e.admin(t, http.MethodPost, "/v1/admin/studios/"+st.ID+"/keys", ""); r.status != http.StatusConflict || r.errorCode(t) != protocol.CodeTooManyKeys {
		t.Errorf("a key too many: %d %s", r.status, r.body)
	}
	if r := e.admin(t, http.MethodDelete, "/v1/admin/studios/"+st.ID+"/keys/"+added.Key.ID, ""); r.status != http.StatusNoContent {
		t.Errorf("revoke: %d %s", r.status, r.body)
	}
	if r := e.admin(t, http.MethodDelete, "/v1/admin/studios/"+st.ID+"/keys/"+added.Key.ID, ""); r.status != http.StatusNotFound || r.errorCode(t) != protocol.CodeNotFound {
		t.Errorf("revoke twice: %d %s", r.status, r.body)
	}
	if r := e.admin(t, http.MethodGet, "/v1/admin/studios/"+st.ID, ""); r.status != 200 || len(decode[studio.Studio](t, r).Keys) != studio.MaxKeys-1 {
		t.Errorf("show: %d %s", r.status, r.body)
	}

	for name, tc := range map[string]struct {
		method, path, body string
		status             int
		code               protocol.Code
	}{
		"not JSON":         {http.MethodPost, "/v1/admin/studios", `{name`, 400, protocol.CodeBadMessage},
		"unknown field":    {http.MethodPost, "/v1/admin/studios", `{"name":"a","quota":3}`, 400, protocol.CodeBadMessage},
		"no name":          {http.MethodPost, "/v1/admin/studios", `{}`, 400, protocol.CodeBadField},
		"two objects":      {http.MethodPost, "/v1/admin/studios", `{"name":"a"}{}`, 400, protocol.CodeBadMessage},
		"wildcard origin":  {http.MethodPost, "/v1/admin/studios", `{"name":"a","origins":["https://*.x.com"]}`, 400, protocol.CodeBadField},
		"too large":        {http.MethodPost, "/v1/admin/studios", `{"name":"` + strings.Repeat("a", 10000) + `"}`, 400, protocol.CodeBadMessage},
		"unknown studio":   {http.MethodGet, "/v1/admin/studios/st-nope", "", 404, protocol.CodeNotFound},
		"query parameter":  {http.MethodGet, "/v1/admin/studios?all=1", "", 400, protocol.CodeBadField},
		"patch unknown":    {http.MethodPatch, "/v1/admin/studios/st-nope", `{"max_queued":1}`, 404, protocol.CodeNotFound},
		"bad patch":        {http.MethodPatch, "/v1/admin/studios/" + st.ID, `{"max_sessions":-1}`, 400, protocol.CodeBadField},
		"wrong method":     {http.MethodPut, "/v1/admin/studios/" + st.ID, `{}`, 405, protocol.CodeMethodNotAllowed},
		"key of nobody":    {http.MethodDelete, "/v1/admin/studios/" + st.ID + "/keys/aaaaaaaaaaaa", "", 404, protocol.CodeNotFound},
		"keys for nobody":  {http.MethodPost, "/v1/admin/studios/st-nope/keys", "", 404, protocol.CodeNotFound},
		"delete not found": {http.MethodDelete, "/v1/admin/studios/st-nope", "", 404, protocol.CodeNotFound},
	} {
		r := e.admin(t, tc.method, tc.path, tc.body)
		if r.status != tc.status || r.errorCode(t) != tc.code {
			t.Errorf("%s: %d %s, want %d %s", name, r.status, r.body, tc.status, tc.code)
		}
	}
	if r := e.send(t, http.MethodGet, "/v1/admin/studios", "Bearer "+key, ""); r.status != 401 {
		t.Errorf("a studio's API key on the admin API: %d, want 401", r.status)
	}
	if r := e.admin(t, http.MethodDelete, "/v1/admin/studios/"+st.ID, ""); r.status != http.StatusNoContent {
		t.Errorf("delete: %d %s", r.status, r.body)
	}
	if r := e.send(t, http.MethodPost, "/v1/studio/tokens", "Bearer "+key, `{"game":"paddle","player_id":"p"}`); r.status != 401 || r.errorCode(t) != protocol.CodeBadAPIKey {
		t.Errorf("key of a deleted studio: %d %s", r.status, r.body)
	}
}

func TestStudioTokenEndpoint(t *testing.T) {
	e := newStudioEnv(t, false)
	st, key := e.createStudio(t, `{"name":"Acme","games":["paddle"]}`)
	r := e.send(t, http.MethodPost, "/v1/studio/tokens", "Bearer "+key,
		`{"game":"paddle","player_id":"user-42","display_name":"Ada","payload":"{\"team\":\"red\"}","ttl_s":60}`)
	if r.status != 200 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("mint: %d %s", r.status, r.body)
	}
	got := decode[tokenResponse](t, r)
	if got.Studio != st.ID || got.Game != "paddle" || got.PlayerID != "user-42" || time.Until(got.ExpiresAt) > 61*time.Second || time.Until(got.ExpiresAt) < 50*time.Second {
		t.Errorf("minted %+v", got)
	}
	c, _, err := e.tokens.Redeem(t.Context(), got.Token, "", "test")
	if err != nil || c.Player != "user-42" || string(c.Payload) != `{"team":"red"}` || c.DisplayName != "Ada" {
		t.Errorf("the minted token redeems to %+v, %v", c, err)
	}

	for name, tc := range map[string]struct {
		auth, body string
		status     int
		code       protocol.Code
	}{
		"no key":               {"", `{"game":"paddle","player_id":"p"}`, 401, protocol.CodeBadAPIKey},
		"basic auth":           {"Basic " + key, `{"game":"paddle","player_id":"p"}`, 401, protocol.CodeBadAPIKey},
		"admin token":          {"Bearer " + testToken, `{"game":"paddle","player_id":"p"}`, 401, protocol.CodeBadAPIKey},
		"mistyped key":         {"Bearer " + key[:len(key)-1] + "x", `{"game":"paddle","player_id":"p"}`, 401, protocol.CodeBadAPIKey},
		"other game":           {"Bearer " + key, `{"game":"snake","player_id":"p"}`, 403, protocol.CodeGameNotAllowed},
		"no player":            {"Bearer " + key, `{"game":"paddle"}`, 400, protocol.CodeBadField},
		"player with a space":  {"Bearer " + key, `{"game":"paddle","player_id":"a b"}`, 400, protocol.CodeBadField},
		"bad game id":          {"Bearer " + key, `{"game":"Paddle","player_id":"p"}`, 400, protocol.CodeBadField},
		"ttl too long":         {"Bearer " + key, `{"game":"paddle","player_id":"p","ttl_s":601}`, 400, protocol.CodeBadField},
		"negative ttl":         {"Bearer " + key, `{"game":"paddle","player_id":"p","ttl_s":-1}`, 400, protocol.CodeBadField},
		"payload too large":    {"Bearer " + key, `{"game":"paddle","player_id":"p","payload":"` + strings.Repeat("x", 1025) + `"}`, 400, protocol.CodeBadField},
		"display name control": {"Bearer " + key, `{"game":"paddle","player_id":"p","display_name":"a\u0007"}`, 400, protocol.CodeBadField},
		"unknown field":        {"Bearer " + key, `{"game":"paddle","player_id":"p","admin":true}`, 400, protocol.CodeBadMessage},
		"no body":              {"Bearer " + key, ``, 400, protocol.CodeBadMessage},
		"payload not a string": {"Bearer " + key, `{"game":"paddle","player_id":"p","payload":{"a":1}}`, 400, protocol.CodeBadMessage},
	} {
		r := e.send(t, http.MethodPost, "/v1/studio/tokens", tc.auth, tc.body)
		if r.status != tc.status || r.errorCode(t) != tc.code {
			t.Errorf("%s: %d %s, want %d %s", name, r.status, r.body, tc.status, tc.code)
		}
	}
	if r := e.send(t, http.MethodGet, "/v1/studio/tokens", "Bearer "+key, ""); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET tokens: %d", r.status)
	}
}

func TestStudioTokenEndpointWithoutStore(t *testing.T) {
	_, hs, _ := newTestServer(t)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, hs.URL+"/v1/studio/tokens", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := adminResp{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if r.status != 503 || r.errorCode(t) != protocol.CodeStudioUnavailable {
		t.Errorf("no store: %d %s", r.status, r.body)
	}
}

// joinWith opens /v1/play, sends a join and returns the first message after welcome.
func joinWith(t *testing.T, base string, join protocol.Message) protocol.Message {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/v1/play", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var welcome protocol.Message
	if err := ws.ReadJSON(&welcome); err != nil || welcome.Type != protocol.TypeWelcome {
		t.Fatalf("welcome: %+v %v", welcome, err)
	}
	if err := ws.WriteJSON(join); err != nil {
		t.Fatal(err)
	}
	var m protocol.Message
	if err := ws.ReadJSON(&m); err != nil {
		t.Fatalf("after join: %v", err)
	}
	return m
}

// A gateway that requires join tokens refuses a join without one, and every bad token with
// its code, before placing anything.
func TestJoinTokenRefusals(t *testing.T) {
	e := newStudioEnv(t, true)
	_, key := e.createStudio(t, `{"name":"Acme","games":["paddle"]}`)
	mint := func() string {
		t.Helper()
		r := e.send(t, http.MethodPost, "/v1/studio/tokens", "Bearer "+key, `{"game":"paddle","player_id":"p"}`)
		if r.status != 200 {
			t.Fatalf("mint: %d %s", r.status, r.body)
		}
		return decode[tokenResponse](t, r).Token
	}
	used := mint()
	if _, _, err := e.tokens.Redeem(t.Context(), used, "", "elsewhere"); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		join protocol.Message
		code protocol.Code
	}{
		"no token":     {protocol.Message{Type: protocol.TypeJoin, Game: "paddle"}, protocol.CodeTokenRequired},
		"garbage":      {protocol.Message{Type: protocol.TypeJoin, Game: "paddle", Token: "not.a.token"}, protocol.CodeTokenInvalid},
		"used":         {protocol.Message{Type: protocol.TypeJoin, Token: used}, protocol.CodeTokenUsed},
		"another game": {protocol.Message{Type: protocol.TypeJoin, Game: "snake", Token: mint()}, protocol.CodeTokenGameMismatch},
		"too long":     {protocol.Message{Type: protocol.TypeJoin, Game: "paddle", Token: strings.Repeat("a", jointoken.MaxTokenSize+1)}, protocol.CodeBadField},
	} {
		if m := joinWith(t, e.base, tc.join); m.Type != protocol.TypeError || m.Code != tc.code {
			t.Errorf("%s: %+v, want error %s", name, m, tc.code)
		}
	}
}

// Each studio error reaches the client as its code.
func TestStudioErrorCodes(t *testing.T) {
	for err, want := range map[error]protocol.Code{
		studio.ErrTokenExpired:                     protocol.CodeTokenExpired,
		studio.ErrTokenUsed:                        protocol.CodeTokenUsed,
		studio.ErrTokenInvalid:                     protocol.CodeTokenInvalid,
		studio.ErrGameMismatch:                     protocol.CodeTokenGameMismatch,
		studio.ErrBadKey:                           protocol.CodeBadAPIKey,
		studio.ErrGameForbidden:                    protocol.CodeGameNotAllowed,
		studio.ErrTooManyKeys:                      protocol.CodeTooManyKeys,
		studio.ErrNotFound:                         protocol.CodeNotFound,
		studio.ErrInvalid:                          protocol.CodeBadField,
		jointoken.ErrClaims:                        protocol.CodeBadField,
		studio.ErrUnavailable:                      protocol.CodeStudioUnavailable,
		context.DeadlineExceeded:                   protocol.CodeStudioUnavailable,
		protocol.Errorf(protocol.CodeBadField, ""): protocol.CodeBadField,
		io.ErrUnexpectedEOF:                        protocol.CodeInternal,
	} {
		if got := protocol.ErrorMessage(studioError(fmt.Errorf("wrapped: %w", err))).Code; got != want {
			t.Errorf("%v: %s, want %s", err, got, want)
		}
	}
}

// FuzzStudioTokens: no Authorization value or body crashes the token endpoint or gets a 500;
// every answer is a token or a JSON error with a documented status, and a token comes only
// with the studio's key.
func FuzzStudioTokens(f *testing.F) {
	e := newStudioEnvTB(f, false)
	r := e.sendTB(f, http.MethodPost, "/v1/admin/studios", "Bearer "+testToken, `{"name":"Acme","games":["paddle"]}`)
	var created struct {
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal([]byte(r.body), &created); err != nil || created.APIKey == "" {
		f.Fatalf("create: %d %s", r.status, r.body)
	}
	key := created.APIKey
	f.Add(key, `{"game":"paddle","player_id":"p"}`)
	f.Add(key, `{"game":"paddle","player_id":"p","payload":"x","ttl_s":600,"display_name":"Ada"}`)
	f.Add(key, `{"game":"snake","player_id":"p"}`)
	f.Add(key+"x", `{}`)
	f.Add("", `[]`)
	f.Add("ep_live_", `{"game":1}`)
	f.Fuzz(func(t *testing.T, auth, body string) {
		for _, c := range []byte(auth) {
			if (c < ' ' && c != '\t') || c == 0x7f { // not a header value an HTTP client can send
				return
			}
		}
		r := e.sendTB(t, http.MethodPost, "/v1/studio/tokens", "Bearer "+auth, body)
		switch r.status {
		case http.StatusOK:
			if auth != key {
				t.Fatalf("a token for key %q", auth)
			}
			var tr tokenResponse
			if err := json.Unmarshal([]byte(r.body), &tr); err != nil || tr.Token == "" {
				t.Fatalf("200 with %q", r.body)
			}
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
			var ae adminError
			if err := json.Unmarshal([]byte(r.body), &ae); err != nil || ae.Code == "" || ae.Message == "" {
				t.Fatalf("%d with %q", r.status, r.body)
			}
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
}
