package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/edgeplay/edgeplay/internal/metrics"
	"github.com/edgeplay/edgeplay/jointoken"
	"github.com/edgeplay/edgeplay/protocol"
	"github.com/edgeplay/edgeplay/studio"
)

// The studio platform on the gateway (docs/STUDIO.md): a studio's backend mints join tokens
// with its API key (POST /v1/studio/tokens), operators manage studios through the admin API
// (/v1/admin/studios), and a join with a token is checked and claimed here.

const (
	// studioBodyLimit bounds a studio API request body (a 1 KiB payload is the largest field).
	studioBodyLimit = 8 << 10
	// studioTimeout bounds the store's work for one request or join.
	studioTimeout = 5 * time.Second
)

// errNoStudios answers the studio endpoints of a gateway without a studio store.
var errNoStudios = protocol.Errorf(protocol.CodeStudioUnavailable, "this gateway has no studio store")

// studioError maps the studio package's errors to the protocol's codes. Unknown errors are
// internal.
func studioError(err error) error {
	var pe *protocol.Error
	switch {
	case errors.As(err, &pe):
		return err
	case errors.Is(err, studio.ErrTokenExpired):
		return protocol.Errorf(protocol.CodeTokenExpired, "")
	case errors.Is(err, studio.ErrTokenUsed):
		return protocol.Errorf(protocol.CodeTokenUsed, "")
	case errors.Is(err, studio.ErrGameMismatch):
		return protocol.Errorf(protocol.CodeTokenGameMismatch, "%s", strings.TrimPrefix(err.Error(), studio.ErrGameMismatch.Error()+": "))
	case errors.Is(err, studio.ErrTokenInvalid):
		return protocol.Errorf(protocol.CodeTokenInvalid, "")
	case errors.Is(err, studio.ErrBadKey):
		return protocol.Errorf(protocol.CodeBadAPIKey, "")
	case errors.Is(err, studio.ErrGameForbidden):
		return protocol.Errorf(protocol.CodeGameNotAllowed, "")
	case errors.Is(err, studio.ErrTooManyKeys):
		return protocol.Errorf(protocol.CodeTooManyKeys, "")
	case errors.Is(err, studio.ErrNotFound):
		return protocol.Errorf(protocol.CodeNotFound, "no such studio or key")
	case errors.Is(err, studio.ErrInvalid), errors.Is(err, jointoken.ErrClaims):
		return protocol.Errorf(protocol.CodeBadField, "%s", err.Error())
	case errors.Is(err, studio.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return protocol.Errorf(protocol.CodeStudioUnavailable, "")
	}
	return err
}

// studioStatus is the HTTP status of a studio API error.
func studioStatus(c protocol.Code) int {
	switch c {
	case protocol.CodeBadAPIKey:
		return http.StatusUnauthorized
	case protocol.CodeGameNotAllowed:
		return http.StatusForbidden
	case protocol.CodeTooManyKeys:
		return http.StatusConflict
	case protocol.CodeStudioUnavailable:
		return http.StatusServiceUnavailable
	}
	return adminStatus(c)
}

// grant is what a join may do: the game to place and, with a token, the player it names
// and the studio's limits.
type grant struct {
	game   string
	player *protocol.PlayerInfo // nil without a token
	studio studio.Studio
}

// redeem checks a join's token (when it has one, or the gateway requires one).
func (s *Server) redeem(ctx context.Context, m protocol.Message, redeemer string) (grant, error) {
	if m.Token == "" {
		if s.cfg.RequireJoinTokens {
			return grant{}, protocol.Errorf(protocol.CodeTokenRequired, "")
		}
		return grant{game: m.Game}, nil
	}
	if s.cfg.Tokens == nil {
		return grant{}, protocol.Errorf(protocol.CodeTokenInvalid, "this gateway does not take join tokens (no studio store)")
	}
	ctx, cancel := context.WithTimeout(ctx, studioTimeout)
	defer cancel()
	c, st, err := s.cfg.Tokens.Redeem(ctx, m.Token, m.Game, redeemer)
	if err != nil {
		err = studioError(err)
		metrics.JoinTokens.WithLabelValues(string(protocol.CodeOf(err)), "").Inc()
		return grant{}, err
	}
	metrics.JoinTokens.WithLabelValues("redeemed", st.ID).Inc()
	return grant{
		game:   c.Game,
		player: &protocol.PlayerInfo{Studio: st.ID, ID: c.Player, Name: c.DisplayName, Payload: c.Payload},
		studio: st,
	}, nil
}

// pageOrigin is the web origin of a page of another site that opened r (normalised), or ""
// for this gateway's own page (the Origin's host is the request's Host) and for clients that
// send no Origin; bad reports another site's Origin that is no valid web origin ("null", a
// file: page).
func pageOrigin(r *http.Request) (origin string, bad bool) {
	o := r.Header.Get("Origin")
	if o == "" {
		return "", false
	}
	u, err := url.Parse(o)
	if err == nil && strings.EqualFold(u.Host, r.Host) {
		return "", false
	}
	n, err := studio.NormalizeOrigin(o)
	if err != nil {
		return "", true
	}
	return n, false
}

// originAllowed checks a join from a page of another site: it needs a join token of a
// studio that lists the page's origin.
func originAllowed(origin string, bad bool, g grant) error {
	switch {
	case bad:
		return protocol.Errorf(protocol.CodeOriginNotAllowed, "this page's origin is not a web origin a studio can list")
	case g.player == nil:
		return protocol.Errorf(protocol.CodeOriginNotAllowed,
			"a page on %s can join only with a join token from a studio that lists that origin", origin)
	case !slices.Contains(g.studio.Origins, origin):
		return protocol.Errorf(protocol.CodeOriginNotAllowed, "%s is not one of the studio's origins", origin)
	}
	return nil
}

// studioFail writes a studio API error.
func (s *Server) studioFail(w http.ResponseWriter, r *http.Request, err error) {
	m := protocol.ErrorMessage(studioError(err))
	if m.Code == protocol.CodeInternal {
		s.log.Error("studio request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if m.Code == protocol.CodeBadAPIKey {
		w.Header().Set("WWW-Authenticate", `Bearer realm="edgeplay studio"`)
	}
	adminJSON(w, studioStatus(m.Code), adminError{Code: m.Code, Message: m.Message})
}

// decodeStrict reads one JSON object of at most limit bytes into v, refusing unknown fields
// and trailing data.
func decodeStrict(r *http.Request, limit int64, v any) error {
	if r.Body == nil {
		return protocol.Errorf(protocol.CodeBadMessage, "the body must be a JSON object")
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, limit+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return protocol.Errorf(protocol.CodeBadMessage, "the body is not the expected JSON object: %s", jsonProblem(err))
	}
	if dec.More() {
		return protocol.Errorf(protocol.CodeBadMessage, "one JSON object only")
	}
	return nil
}

// jsonProblem is a decoding error's message without Go type names.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "field " + te.Field + " has the wrong type"
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "cut short or too large"
	}
	return err.Error()
}

// bearer returns the Authorization: Bearer credential, or "".
func bearer(r *http.Request) string {
	scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(cred)
}

// tokenResponse is POST /v1/studio/tokens's answer.
type tokenResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	Studio    string    `json:"studio"`
	Game      string    `json:"game"`
	PlayerID  string    `json:"player_id"`
}

// mintToken serves POST /v1/studio/tokens: a studio's backend, with its API key, gets a join
// token for one player and one game.
func (s *Server) mintToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	st, keyID, ok := s.studioAuth(w, r)
	if !ok {
		return
	}
	var err error
	var req studio.MintRequest
	if err = decodeStrict(r, studioBodyLimit, &req); err != nil {
		s.studioFail(w, r, err)
		return
	}
	switch {
	case !protocol.ValidName(req.Game):
		err = protocol.Errorf(protocol.CodeBadField, "game: 1-%d characters of a-z 0-9 - _", protocol.MaxNameSize)
	case !protocol.ValidPlayerID(req.PlayerID):
		err = protocol.Errorf(protocol.CodeBadField, "player_id: 1-%d printable ASCII characters, no spaces", protocol.MaxPlayerIDSize)
	case len(req.Payload) > protocol.MaxPayloadSize:
		err = protocol.Errorf(protocol.CodeBadField, "payload: at most %d bytes", protocol.MaxPayloadSize)
	}
	if err != nil {
		s.studioFail(w, r, err)
		return
	}
	tok, c, err := s.cfg.Tokens.Mint(st, keyID, req)
	if err != nil {
		s.studioFail(w, r, err)
		return
	}
	metrics.JoinTokens.WithLabelValues("minted", st.ID).Inc()
	s.log.Info("join token minted", "studio", st.ID, "key", keyID, "game", c.Game, "player", c.Player, "expires", c.Expires)
	adminJSON(w, http.StatusOK, tokenResponse{Token: tok, ExpiresAt: c.Expires.UTC(), Studio: st.ID, Game: c.Game, PlayerID: c.Player})
}

// Admin: studios and their keys.

// studioCreated answers POST /v1/admin/studios and POST …/keys: the API key, shown once.
type studioCreated struct {
	Studio *studio.Studio  `json:"studio,omitempty"`
	Key    *studio.KeyInfo `json:"key,omitempty"`
	APIKey string          `json:"api_key"`
}

func (a *admin) studios() (*studio.Store, error) {
	if a.s.cfg.Studios == nil {
		return nil, errNoStudios
	}
	return a.s.cfg.Studios, nil
}

// studioHandler adapts a studio endpoint: the store, a deadline, and its errors mapped.
func (a *admin) studioHandler(h func(ctx context.Context, st *studio.Store, w http.ResponseWriter, r *http.Request) error) adminHandler {
	return func(w http.ResponseWriter, r *http.Request) error {
		st, err := a.studios()
		if err != nil {
			return err
		}
		if _, err := adminQuery(r); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(r.Context(), studioTimeout)
		defer cancel()
		if err := h(ctx, st, w, r); err != nil {
			err = studioError(err)
			var pe *protocol.Error
			if errors.As(err, &pe) && pe.Code != protocol.CodeInternal {
				adminJSON(w, studioStatus(pe.Code), adminError{Code: pe.Code, Message: protocol.ErrorMessage(err).Message})
				return nil
			}
			return err
		}
		return nil
	}
}

func (a *admin) mountStudios() {
	a.handle("GET /v1/admin/studios", a.studioHandler(func(ctx context.Context, st *studio.Store, w http.ResponseWriter, _ *http.Request) error {
		list, err := st.List(ctx)
		if err != nil {
			return err
		}
		adminJSON(w, http.StatusOK, map[string]any{"studios": list})
		return nil
	}))
	a.handle("POST /v1/admin/studios", a.studioHandler(func(ctx context.Context, st *studio.Store, w http.ResponseWriter, r *http.Request) error {
		var spec studio.Spec
		if err := decodeStrict(r, studioBodyLimit, &spec); err != nil {
			return err
		}
		created, key, err := st.Create(ctx, spec)
		if err != nil {
			return err
		}
		a.log.Info("studio created", "studio", created.ID, "name", created.Name, "key", created.Keys[0].ID)
		adminJSON(w, http.StatusCreated, studioCreated{Studio: &created, APIKey: key})
		return nil
	}))
	a.handle("GET /v1/admin/studios/{id}", a.studioHandler(func(ctx context.Context, st *studio.Store, w http.ResponseWriter, r *http.Request) error {
		got, err := st.Show(ctx, r.PathValue("id"))
		if err != nil {
			return err
		}
		adminJSON(w, http.StatusOK, got)
		return nil
	}))
	a.handle("PATCH /v1/admin/studios/{id}", a.studioHandler(func(ctx context.Context, st *studio.Store, w http.ResponseWriter, r *http.Request) error {
		var spec studio.Spec
		if err := decodeStrict(r, studioBodyLimit, &spec); err != nil {
			return err
		}
		got, err := st.Update(ctx, r.PathValue("id"), spec)
		if err != nil {
			return err
		}
		a.log.Info("studio updated", "studio", got.ID)
		adminJSON(w, http.StatusOK, got)
		return nil
	}))
	a.handle("DELETE /v1/admin/studios/{id}", a.studioHandler(func(ctx context.Context, st *studio.Store, w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if err := st.Delete(ctx, id); err != nil {
			return err
		}
		a.log.Info("studio deleted", "studio", id)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
	a.handle("POST /v1/admin/studios/{id}/keys", a.studioHandler(func(ctx context.Context, st *studio.Store, w http.ResponseWriter, r *http.Request) error {
		info, key, err := st.AddKey(ctx, r.PathValue("id"))
		if err != nil {
			return err
		}
		a.log.Info("studio API key added", "studio", info.Studio, "key", info.ID)
		adminJSON(w, http.StatusCreated, studioCreated{Key: &info, APIKey: key})
		return nil
	}))
	a.handle("DELETE /v1/admin/studios/{id}/keys/{key}", a.studioHandler(func(ctx context.Context, st *studio.Store, w http.ResponseWriter, r *http.Request) error {
		id, key := r.PathValue("id"), r.PathValue("key")
		if err := st.RevokeKey(ctx, id, key); err != nil {
			return err
		}
		a.log.Info("studio API key revoked", "studio", id, "key", key)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
}
