// Package resume mints and checks the tokens that let a player take its session back after a
// network drop (docs/PROTOCOL.md, "Resume").
//
// A token names one session, the host that runs it and a generation, and expires. It is
// signed with HMAC-SHA256 under a secret that every gateway shares, so any gateway can check
// it without a lookup; it is a bearer secret that only the player's page holds (it arrives on
// the player's own websocket). The generation makes it single-use: the host keeps the
// session's current generation and accepts a resume only with that one, moving it on, and the
// gateway hands the player a token for the new generation. A token that was used once, or
// that a second party copied after the player resumed, is refused by the host.
//
// Format: base64url(payload) "." base64url(HMAC-SHA256(secret, payload)), where payload is
// "2|session|host|generation|expiry-unix|origin" (origin: the web origin of the studio's page
// that joined from another site, empty otherwise; a resume from another site must come from
// that origin). Version 1 tokens ("1|session|host|generation|expiry-unix", no origin) are
// still accepted, so gateways can be updated one at a time.
package resume

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MinSecret is the shortest secret Signer accepts, in bytes.
const MinSecret = 32

// MaxTokenSize bounds a token a player may send.
const MaxTokenSize = 512

// Errors returned by Check; the gateway maps them to protocol codes.
var (
	ErrMalformed = errors.New("resume: malformed token")
	ErrSignature = errors.New("resume: bad signature")
	ErrExpired   = errors.New("resume: token expired")
	ErrSession   = errors.New("resume: token is for another session")
)

// Token is what a resume token says.
type Token struct {
	Session    string
	Host       string
	Generation uint64
	Expires    time.Time
	// Origin is the web origin of the page that joined from another site (a studio's page
	// embedding the player), as the gateway normalised it; empty for the gateway's own page.
	Origin string
}

// Signer mints and checks tokens under one secret.
type Signer struct {
	secret []byte
}

// NewSigner returns a signer for secret (at least MinSecret bytes).
func NewSigner(secret []byte) (*Signer, error) {
	if len(secret) < MinSecret {
		return nil, fmt.Errorf("resume: secret of %d bytes, want at least %d", len(secret), MinSecret)
	}
	return &Signer{secret: append([]byte(nil), secret...)}, nil
}

// Mint returns the token for t.
func (s *Signer) Mint(t Token) string {
	payload := fmt.Sprintf("2|%s|%s|%d|%d|%s", t.Session, t.Host, t.Generation, t.Expires.Unix(), strings.ReplaceAll(t.Origin, "|", ""))
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(s.mac([]byte(payload)))
}

func (s *Signer) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write(payload)
	return m.Sum(nil)
}

// Check verifies token's signature and expiry at now, and that it names session. The
// generation is for the host to check.
func (s *Signer) Check(token, session string, now time.Time) (Token, error) {
	if len(token) > MaxTokenSize {
		return Token{}, ErrMalformed
	}
	p64, m64, ok := strings.Cut(token, ".")
	if !ok {
		return Token{}, ErrMalformed
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p64)
	mac, err2 := enc.DecodeString(m64)
	if err1 != nil || err2 != nil {
		return Token{}, ErrMalformed
	}
	if !hmac.Equal(mac, s.mac(payload)) {
		return Token{}, ErrSignature
	}
	f := strings.Split(string(payload), "|")
	v1, v2 := len(f) == 5 && f[0] == "1", len(f) == 6 && f[0] == "2"
	if !v1 && !v2 {
		return Token{}, ErrMalformed
	}
	gen, err1 := strconv.ParseUint(f[3], 10, 64)
	exp, err2 := strconv.ParseInt(f[4], 10, 64)
	if err1 != nil || err2 != nil {
		return Token{}, ErrMalformed
	}
	t := Token{Session: f[1], Host: f[2], Generation: gen, Expires: time.Unix(exp, 0)}
	if len(f) == 6 {
		t.Origin = f[5]
	}
	switch {
	case !now.Before(t.Expires):
		return t, ErrExpired
	case t.Session != session:
		return t, ErrSession
	}
	return t, nil
}
