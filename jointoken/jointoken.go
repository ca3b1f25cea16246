// Package jointoken mints and verifies join tokens: the short-lived, single-player permission
// to play one game that a studio's backend gets from edgeplay (issue 11) and its page hands
// to the player, who sends it in `join`.
//
// edgeplay signs; studios never do (their API keys are stored hashed, so they cannot be
// secrets for a MAC). A token is a JWT (RFC 7519) signed with Ed25519 (alg EdDSA, pinned:
// nothing else verifies), its header naming the signing key (kid), so any gateway or
// matchmaker replica verifies it from a local set of public keys without a lookup, and the
// signing key can rotate: publish the next public key everywhere, sign with it, and drop the
// old one once its tokens have expired. Claims: iss "edgeplay", aud "edgeplay-join", sub the
// player's id, iat, nbf, exp (at most MaxTTL after iat), jti (128 random bits: the key under
// which the first join claims the token, so it is used once), and edgeplay's own: studio,
// game, name (display name) and pl (the opaque payload for the game, base64).
//
// Package studio keeps the keys, mints over HTTP for API keys and claims the jti at join.
package jointoken

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeplay/edgeplay/protocol"
)

// Limits and defaults (docs: issue 11, "Join tokens").
const (
	DefaultTTL     = 120 * time.Second
	MaxTTL         = 600 * time.Second
	MaxPayload     = 1024                  // bytes of the opaque payload for the game
	MaxDisplayName = protocol.MaxTitleSize // bytes of UTF-8, no control characters
	MaxPlayerID    = 64                    // printable ASCII without spaces, as the game protocol's ids
	// MaxTokenSize bounds a token: the largest claims (a 1 KiB payload, base64 inside base64)
	// make about 2.5 KB. A join carries at most protocol.MaxTokenSize (2 KiB) today; wiring
	// join tokens into join raises that to this.
	MaxTokenSize = 3 << 10
	Leeway       = 30 * time.Second // clock skew allowed between minter and verifier
	issuer       = "edgeplay"
	audience     = "edgeplay-join"
	maxKeyID     = 64
)

// Errors of Verify; the gateway maps them to the protocol's codes (token_invalid,
// token_expired).
var (
	ErrInvalid = errors.New("jointoken: invalid token") // malformed, bad signature, unknown key, a claim missing or wrong
	ErrExpired = errors.New("jointoken: token expired")
	ErrClaims  = errors.New("jointoken: invalid claims") // Mint: what the caller asked for is out of bounds
)

// Claims is what a join token grants.
type Claims struct {
	Studio      string // the studio whose key minted it
	Key         string // the id of the studio's API key that minted it (revoking the key voids it)
	Game        string // the one game it plays
	Player      string // the player's id (the studio's), passed to the game
	DisplayName string // optional
	Payload     []byte // optional, opaque, passed to the game (player_joined)
	ID          string // jti: unique per token; set by Mint
	IssuedAt    time.Time
	Expires     time.Time
}

// wire is the JWT claims set.
type wire struct {
	jwt.RegisteredClaims
	Studio  string `json:"studio"`
	Key     string `json:"key,omitempty"`
	Game    string `json:"game"`
	Name    string `json:"name,omitempty"`
	Payload string `json:"pl,omitempty"` // base64url, no padding
}

// Minter signs tokens with one Ed25519 key, named kid.
type Minter struct {
	kid  string
	key  ed25519.PrivateKey
	now  func() time.Time
	meth jwt.SigningMethod
}

// NewMinter returns a minter for key, whose public half verifiers know as kid.
func NewMinter(kid string, key ed25519.PrivateKey) (*Minter, error) {
	if !validKeyID(kid) {
		return nil, fmt.Errorf("%w: key id %q: 1-%d characters of a-z 0-9 - _", ErrClaims, kid, maxKeyID)
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: an Ed25519 private key is %d bytes, not %d", ErrClaims, ed25519.PrivateKeySize, len(key))
	}
	return &Minter{kid: kid, key: key, now: time.Now, meth: jwt.SigningMethodEdDSA}, nil
}

// Mint signs c for ttl (0: DefaultTTL; at most MaxTTL) with a fresh jti, and returns the token
// and the claims as minted.
func (m *Minter) Mint(c Claims, ttl time.Duration) (string, Claims, error) {
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if err := checkClaims(c); err != nil {
		return "", Claims{}, err
	}
	if ttl < time.Second || ttl > MaxTTL {
		return "", Claims{}, fmt.Errorf("%w: ttl %v, want 1s..%v", ErrClaims, ttl, MaxTTL)
	}
	var jti [16]byte
	_, _ = rand.Read(jti[:]) // crypto/rand.Read does not fail on Linux
	now := m.now().Truncate(time.Second)
	c.ID, c.IssuedAt, c.Expires = hex.EncodeToString(jti[:]), now, now.Add(ttl)
	w := wire{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: issuer, Audience: jwt.ClaimStrings{audience}, Subject: c.Player, ID: c.ID,
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(c.Expires),
		},
		Studio: c.Studio, Key: c.Key, Game: c.Game, Name: c.DisplayName,
		Payload: base64.RawURLEncoding.EncodeToString(c.Payload),
	}
	t := jwt.NewWithClaims(m.meth, w)
	t.Header["kid"] = m.kid
	s, err := t.SignedString(m.key)
	if err != nil {
		return "", Claims{}, fmt.Errorf("jointoken: sign: %w", err)
	}
	if len(s) > MaxTokenSize {
		return "", Claims{}, fmt.Errorf("%w: the token would be %d bytes, more than %d", ErrClaims, len(s), MaxTokenSize)
	}
	return s, c, nil
}

// KeySet holds the public keys that tokens may be signed with, by kid. Safe for concurrent
// use: a replica swaps keys in as they rotate while it verifies.
type KeySet struct {
	mu   sync.RWMutex
	keys map[string]ed25519.PublicKey // guarded by mu
}

// NewKeySet returns an empty set.
func NewKeySet() *KeySet { return &KeySet{keys: map[string]ed25519.PublicKey{}} }

// Add puts key in the set as kid (replacing one of that id).
func (ks *KeySet) Add(kid string, key ed25519.PublicKey) error {
	if !validKeyID(kid) || len(key) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: key %q of %d bytes", ErrClaims, kid, len(key))
	}
	ks.mu.Lock()
	ks.keys[kid] = append(ed25519.PublicKey(nil), key...)
	ks.mu.Unlock()
	return nil
}

// Remove drops kid: its tokens no longer verify.
func (ks *KeySet) Remove(kid string) {
	ks.mu.Lock()
	delete(ks.keys, kid)
	ks.mu.Unlock()
}

func (ks *KeySet) lookup(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	ks.mu.RLock()
	key, ok := ks.keys[kid]
	ks.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown signing key %q", kid)
	}
	return key, nil
}

// Verify checks token at now: size, the EdDSA signature under a known kid, iss, aud, iat,
// nbf and exp (with Leeway), a lifetime of at most MaxTTL, and the claims' bounds. It does not
// claim the jti: single use is the caller's (a shared store), keyed by Claims.ID.
func (ks *KeySet) Verify(token string, now time.Time) (Claims, error) {
	if len(token) == 0 || len(token) > MaxTokenSize {
		return Claims{}, fmt.Errorf("%w: %d bytes", ErrInvalid, len(token))
	}
	var w wire
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(issuer), jwt.WithAudience(audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if _, err := p.ParseWithClaims(token, &w, ks.lookup); err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return Claims{}, fmt.Errorf("%w: %w", ErrExpired, err)
		}
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if w.IssuedAt == nil || w.ExpiresAt == nil || w.ExpiresAt.Sub(w.IssuedAt.Time) > MaxTTL {
		return Claims{}, fmt.Errorf("%w: lifetime over %v", ErrInvalid, MaxTTL)
	}
	pl, err := base64.RawURLEncoding.DecodeString(w.Payload)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: payload: %w", ErrInvalid, err)
	}
	c := Claims{
		Studio: w.Studio, Key: w.Key, Game: w.Game, Player: w.Subject, DisplayName: w.Name, Payload: pl,
		ID: w.ID, IssuedAt: w.IssuedAt.Time, Expires: w.ExpiresAt.Time,
	}
	if len(c.Payload) == 0 {
		c.Payload = nil
	}
	if err := checkClaims(c); err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if len(c.ID) != 32 {
		return Claims{}, fmt.Errorf("%w: jti %q", ErrInvalid, c.ID)
	}
	return c, nil
}

// KeyID returns the id of the key a token says it is signed with (its header's kid), without
// verifying anything: a verifier uses it to fetch a public key it does not have yet.
func KeyID(token string) (string, error) {
	if len(token) == 0 || len(token) > MaxTokenSize {
		return "", fmt.Errorf("%w: %d bytes", ErrInvalid, len(token))
	}
	t, _, err := jwt.NewParser().ParseUnverified(token, &wire{})
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	kid, _ := t.Header["kid"].(string)
	if !validKeyID(kid) {
		return "", fmt.Errorf("%w: key id %q", ErrInvalid, kid)
	}
	return kid, nil
}

// checkClaims bounds what a token may carry.
func checkClaims(c Claims) error {
	switch {
	case !protocol.ValidName(c.Studio):
		return fmt.Errorf("%w: studio %q", ErrClaims, c.Studio)
	case c.Key != "" && !protocol.ValidName(c.Key):
		return fmt.Errorf("%w: key %q", ErrClaims, c.Key)
	case !protocol.ValidName(c.Game):
		return fmt.Errorf("%w: game %q", ErrClaims, c.Game)
	case !validPlayerID(c.Player):
		return fmt.Errorf("%w: player id %q: 1-%d printable ASCII characters, no spaces", ErrClaims, c.Player, MaxPlayerID)
	case c.DisplayName != "" && !protocol.ValidTitle(c.DisplayName):
		return fmt.Errorf("%w: display name: at most %d bytes of UTF-8, no control characters", ErrClaims, MaxDisplayName)
	case len(c.Payload) > MaxPayload:
		return fmt.Errorf("%w: payload of %d bytes, at most %d", ErrClaims, len(c.Payload), MaxPayload)
	}
	return nil
}

// validPlayerID: 1..MaxPlayerID bytes of printable ASCII without spaces (the game protocol's
// rule for ids, so the id goes to the game as it is).
func validPlayerID(s string) bool {
	if len(s) == 0 || len(s) > MaxPlayerID {
		return false
	}
	for i := range len(s) {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func validKeyID(s string) bool { return len(s) <= maxKeyID && protocol.ValidName(s) }
