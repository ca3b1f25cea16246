package studio

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/jointoken"
)

// Signing keys and claims: how long they are kept.
const (
	// signingRefresh: a gateway re-publishes its public key this often, each time promising
	// to mint with it for signingPromise more; the bucket keeps a record signingKeep after
	// its last write, longer than any token it signed lives.
	signingRefresh = 15 * time.Minute
	signingPromise = 2 * signingRefresh
	signingKeep    = time.Hour
	// claimKeep: a claimed jti is kept longer than any token lives (exp ≤ iat + MaxTTL, plus
	// the verifier's leeway on either side), so no replay can outlive its claim.
	claimKeep = jointoken.MaxTTL + 2*jointoken.Leeway + time.Minute
	// claimTries: a claim whose reply is lost (a timeout) is tried again; a conflict with our
	// own redeemer id means the first try landed.
	claimTries = 3
)

// Errors of Redeem, each a protocol code at the gateway.
var (
	ErrTokenInvalid  = errors.New("join token not valid")        // token_invalid
	ErrTokenExpired  = errors.New("join token expired")          // token_expired
	ErrTokenUsed     = errors.New("join token already used")     // token_used
	ErrGameMismatch  = errors.New("join token for another game") // token_game_mismatch
	ErrGameForbidden = errors.New("game not allowed for the studio")
)

// signingRecord is what EDGEPLAY_SIGNING_KEYS holds under a key id.
type signingRecord struct {
	Public     []byte    `json:"public"`      // Ed25519, 32 bytes
	MintsUntil time.Time `json:"mints_until"` // the key signs no token after this
}

// MintRequest is what a studio's backend asks for: a token for one player and one game.
type MintRequest struct {
	Game        string `json:"game"`
	PlayerID    string `json:"player_id"`
	DisplayName string `json:"display_name,omitempty"`
	Payload     string `json:"payload,omitempty"` // opaque, passed to the game as these bytes
	TTLSeconds  int    `json:"ttl_s,omitempty"`   // 0: jointoken.DefaultTTL
}

// Tokens mints join tokens with this process's own signing key and redeems tokens signed by
// any replica's. Close stops re-publishing the key.
type Tokens struct {
	store  *Store
	log    *slog.Logger
	kid    string
	minter *jointoken.Minter
	pub    ed25519.PublicKey
	keys   *jointoken.KeySet
	now    func() time.Time

	mu    sync.Mutex
	known map[string]time.Time // guarded by mu: key id → until when its tokens verify

	quit      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// NewTokens makes a signing key for this process, publishes its public half (so that every
// replica verifies the tokens it signs) and keeps it published until Close.
func NewTokens(ctx context.Context, store *Store, log *slog.Logger) (*Tokens, error) {
	if log == nil {
		log = slog.Default()
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	t := &Tokens{
		store: store, log: log, kid: "k-" + newID(16), pub: pub, keys: jointoken.NewKeySet(), now: time.Now,
		known: map[string]time.Time{}, quit: make(chan struct{}),
	}
	if t.minter, err = jointoken.NewMinter(t.kid, priv); err != nil {
		return nil, err
	}
	if err := t.publish(ctx); err != nil {
		return nil, err
	}
	t.wg.Go(t.refresh)
	return t, nil
}

// KeyID is this process's signing key id.
func (t *Tokens) KeyID() string { return t.kid }

func (t *Tokens) publish(ctx context.Context) error {
	b, _ := json.Marshal(signingRecord{Public: t.pub, MintsUntil: t.now().Add(signingPromise).UTC()})
	if _, err := t.store.signing.Put(ctx, t.kid, b); err != nil {
		return storeErr(err, "publish signing key")
	}
	return nil
}

// refresh re-publishes the key until Close; a failed write is tried again in a minute (the
// last promise still has signingRefresh to run).
func (t *Tokens) refresh() {
	timer := time.NewTimer(signingRefresh)
	defer timer.Stop()
	for {
		select {
		case <-t.quit:
			return
		case <-timer.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := t.publish(ctx)
		cancel()
		next := signingRefresh
		if err != nil {
			t.log.Warn("signing key not re-published; trying again in a minute", "kid", t.kid, "err", err)
			next = time.Minute
		}
		timer.Reset(next)
	}
}

// Close stops re-publishing the key. Tokens it signed verify until they expire.
func (t *Tokens) Close() {
	t.closeOnce.Do(func() { close(t.quit) })
	t.wg.Wait()
}

// Mint signs a token for st (authenticated with its API key keyID).
func (t *Tokens) Mint(st Studio, keyID string, req MintRequest) (string, jointoken.Claims, error) {
	if !st.AllowsGame(req.Game) {
		return "", jointoken.Claims{}, fmt.Errorf("%w: %q is not one of studio %s's games %v", ErrGameForbidden, req.Game, st.ID, st.Games)
	}
	if req.TTLSeconds < 0 || time.Duration(req.TTLSeconds)*time.Second > jointoken.MaxTTL {
		return "", jointoken.Claims{}, fmt.Errorf("%w: ttl_s %d, want 1..%d", jointoken.ErrClaims, req.TTLSeconds, int(jointoken.MaxTTL/time.Second))
	}
	c := jointoken.Claims{
		Studio: st.ID, Key: keyID, Game: req.Game, Player: req.PlayerID, DisplayName: req.DisplayName, Payload: []byte(req.Payload),
	}
	return t.minter.Mint(c, time.Duration(req.TTLSeconds)*time.Second)
}

// verifyKey makes sure the key a token names is in the set, fetching it the first time (or
// after its last promise ran out, in case it was refreshed).
func (t *Tokens) verifyKey(ctx context.Context, kid string, now time.Time) error {
	t.mu.Lock()
	until, ok := t.known[kid]
	t.mu.Unlock()
	if ok && now.Before(until) {
		return nil
	}
	e, err := t.store.signing.Get(ctx, kid)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%w: unknown signing key %q", ErrTokenInvalid, kid)
	}
	if err != nil {
		return storeErr(err, "signing key "+kid)
	}
	var rec signingRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return fmt.Errorf("%w: signing key %s: a corrupt record: %w", ErrUnavailable, kid, err)
	}
	until = rec.MintsUntil.Add(jointoken.MaxTTL + jointoken.Leeway)
	if !now.Before(until) {
		return fmt.Errorf("%w: signing key %q is retired", ErrTokenInvalid, kid)
	}
	if err := t.keys.Add(kid, rec.Public); err != nil {
		return fmt.Errorf("%w: signing key %s: %w", ErrUnavailable, kid, err)
	}
	t.mu.Lock()
	t.known[kid] = until
	t.mu.Unlock()
	return nil
}

// Redeem checks a join token for game ("" takes the token's) and claims it for redeemer (a
// unique id of this join): signature and times, the game, the studio and the API key that
// minted it still existing, and first use. It returns the claims and the studio.
func (t *Tokens) Redeem(ctx context.Context, token, game, redeemer string) (jointoken.Claims, Studio, error) {
	now := t.now()
	kid, err := jointoken.KeyID(token)
	if err != nil {
		return jointoken.Claims{}, Studio{}, fmt.Errorf("%w: %w", ErrTokenInvalid, err)
	}
	if err := t.verifyKey(ctx, kid, now); err != nil {
		return jointoken.Claims{}, Studio{}, err
	}
	c, err := t.keys.Verify(token, now)
	switch {
	case errors.Is(err, jointoken.ErrExpired):
		return jointoken.Claims{}, Studio{}, fmt.Errorf("%w: %w", ErrTokenExpired, err)
	case err != nil:
		return jointoken.Claims{}, Studio{}, fmt.Errorf("%w: %w", ErrTokenInvalid, err)
	}
	if game != "" && game != c.Game {
		return jointoken.Claims{}, Studio{}, fmt.Errorf("%w: the token is for %q, the join asks for %q", ErrGameMismatch, c.Game, game)
	}
	st, err := t.store.Get(ctx, c.Studio)
	if errors.Is(err, ErrNotFound) {
		return jointoken.Claims{}, Studio{}, fmt.Errorf("%w: studio %s no longer exists", ErrTokenInvalid, c.Studio)
	}
	if err != nil {
		return jointoken.Claims{}, Studio{}, err
	}
	if !st.AllowsGame(c.Game) {
		return jointoken.Claims{}, Studio{}, fmt.Errorf("%w: game %q is no longer one of studio %s's", ErrTokenInvalid, c.Game, st.ID)
	}
	if c.Key != "" {
		active, err := t.store.KeyActive(ctx, c.Studio, c.Key)
		if err != nil {
			return jointoken.Claims{}, Studio{}, err
		}
		if !active {
			return jointoken.Claims{}, Studio{}, fmt.Errorf("%w: the API key that minted it was revoked", ErrTokenInvalid)
		}
	}
	if err := t.store.claim(ctx, c.ID, redeemer); err != nil {
		return jointoken.Claims{}, Studio{}, err
	}
	return c, st, nil
}

// claim records jti as used by redeemer; ErrTokenUsed when another redeemer has it.
func (s *Store) claim(ctx context.Context, jti, redeemer string) error {
	var err error
	for range claimTries {
		if _, err = s.claims.Create(ctx, jti, []byte(redeemer)); err == nil {
			return nil
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			e, gerr := s.claims.Get(ctx, jti)
			if gerr != nil {
				return storeErr(gerr, "join claim")
			}
			if string(e.Value()) == redeemer {
				return nil // our earlier try landed; its reply was lost
			}
			return ErrTokenUsed
		}
		if ctx.Err() != nil {
			break
		}
	}
	return storeErr(err, "join claim")
}
