package studio

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/protocol"
)

// Bucket names.
const (
	BucketStudios = "EDGEPLAY_STUDIOS"
	BucketKeys    = "EDGEPLAY_STUDIO_KEYS"
	BucketSigning = "EDGEPLAY_SIGNING_KEYS"
	BucketClaims  = "EDGEPLAY_JOIN_CLAIMS"
)

// Limits of a studio's settings.
const (
	MaxNameSize    = protocol.MaxTitleSize
	MaxGames       = 64
	MaxOrigins     = 16
	MaxOriginSize  = 256
	MaxKeys        = 5 // active API keys per studio: enough to roll one without a gap
	MaxSessionsCap = 1_000_000
	MaxWebhookURL  = 512
)

// Errors. The gateway maps them to the protocol's codes.
var (
	ErrNotFound    = errors.New("studio: not found")
	ErrInvalid     = errors.New("studio: invalid settings")
	ErrTooManyKeys = errors.New("studio: too many API keys")
	ErrBadKey      = errors.New("studio: API key not valid") // malformed, unknown, revoked, or its studio is gone
	// ErrUnavailable: the store could not be reached or answered in time. Callers fail closed.
	ErrUnavailable = errors.New("studio: store unavailable")
)

// Studio is one studio: who may mint join tokens for which games, within which limits, and
// which web pages may embed its player.
type Studio struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Games the studio's tokens may be for; empty: any game.
	Games []string `json:"games"`
	// MaxSessions bounds the studio's concurrent sessions, MaxQueued its queued tickets;
	// 0: no limit.
	MaxSessions int `json:"max_sessions"`
	MaxQueued   int `json:"max_queued"`
	// Origins are the web origins (scheme://host[:port]) whose pages may embed the player
	// with this studio's tokens.
	Origins []string `json:"origins"`
	// WebhookURL receives the studio's session.started and session.ended events (Standard
	// Webhooks, signed with WebhookSecret); empty: none.
	WebhookURL    string    `json:"webhook_url,omitempty"`
	WebhookSecret string    `json:"webhook_secret,omitempty"` // whsec_…, made when a URL is first set
	Created       time.Time `json:"created"`
	Updated       time.Time `json:"updated"`
	// Keys lists the studio's API keys (never the keys themselves); filled on read.
	Keys []KeyInfo `json:"keys"`
}

// AllowsGame reports whether the studio's tokens may be for game.
func (s Studio) AllowsGame(game string) bool {
	return len(s.Games) == 0 || slices.Contains(s.Games, game)
}

// Spec is what an operator sets on a studio. In an update, nil fields stay as they are.
type Spec struct {
	Name        *string   `json:"name,omitempty"`
	Games       *[]string `json:"games,omitempty"`
	MaxSessions *int      `json:"max_sessions,omitempty"`
	MaxQueued   *int      `json:"max_queued,omitempty"`
	Origins     *[]string `json:"origins,omitempty"`
	WebhookURL  *string   `json:"webhook_url,omitempty"` // "" removes it
}

// apply sets the spec's fields on st and validates the result.
func (sp Spec) apply(st *Studio) error {
	if sp.Name != nil {
		st.Name = *sp.Name
	}
	if sp.Games != nil {
		st.Games = slices.Clone(*sp.Games)
	}
	if sp.MaxSessions != nil {
		st.MaxSessions = *sp.MaxSessions
	}
	if sp.MaxQueued != nil {
		st.MaxQueued = *sp.MaxQueued
	}
	if sp.Origins != nil {
		st.Origins = make([]string, 0, len(*sp.Origins))
		for _, o := range *sp.Origins {
			n, err := NormalizeOrigin(o)
			if err != nil {
				return err
			}
			if !slices.Contains(st.Origins, n) {
				st.Origins = append(st.Origins, n)
			}
		}
	}
	if sp.WebhookURL != nil {
		st.WebhookURL = *sp.WebhookURL
		if st.WebhookURL != "" && st.WebhookSecret == "" {
			st.WebhookSecret = newWebhookSecret()
		}
	}
	return st.validate()
}

func (st *Studio) validate() error {
	if st.WebhookURL != "" {
		u, err := url.Parse(st.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || len(st.WebhookURL) > MaxWebhookURL {
			return fmt.Errorf("%w: webhook_url: an http or https URL of at most %d bytes, without credentials", ErrInvalid, MaxWebhookURL)
		}
	}
	switch {
	case strings.TrimSpace(st.Name) == "" || !protocol.ValidTitle(st.Name):
		return fmt.Errorf("%w: name: 1-%d bytes of UTF-8, no control characters", ErrInvalid, MaxNameSize)
	case len(st.Games) > MaxGames:
		return fmt.Errorf("%w: at most %d games", ErrInvalid, MaxGames)
	case st.MaxSessions < 0 || st.MaxSessions > MaxSessionsCap || st.MaxQueued < 0 || st.MaxQueued > MaxSessionsCap:
		return fmt.Errorf("%w: max_sessions and max_queued: 0 (no limit) to %d", ErrInvalid, MaxSessionsCap)
	case len(st.Origins) > MaxOrigins:
		return fmt.Errorf("%w: at most %d origins", ErrInvalid, MaxOrigins)
	}
	for _, g := range st.Games {
		if !protocol.ValidName(g) {
			return fmt.Errorf("%w: game %q: 1-%d characters of a-z 0-9 - _", ErrInvalid, g, protocol.MaxNameSize)
		}
	}
	if st.Games == nil {
		st.Games = []string{}
	}
	if st.Origins == nil {
		st.Origins = []string{}
	}
	return nil
}

// NormalizeOrigin checks a web origin (scheme://host[:port], http or https, no path, no
// wildcard) and returns it as browsers send it: lower case, without a default port.
func NormalizeOrigin(o string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w: origin %q: %s (want scheme://host[:port], e.g. https://play.example.com)", ErrInvalid, o, why)
	}
	if len(o) > MaxOriginSize {
		return bad("too long")
	}
	u, err := url.Parse(o)
	switch {
	case err != nil:
		return bad("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("the scheme must be http or https")
	case u.Host == "" || u.User != nil || u.Opaque != "":
		return bad("no host")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return bad("an origin has no path, query or fragment")
	case strings.Contains(u.Host, "*"):
		return bad("wildcards are not allowed")
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return u.Scheme + "://" + host, nil
}

// Store reads and writes studios and their keys.
type Store struct {
	studios, keys, signing, claims jetstream.KeyValue
	now                            func() time.Time
}

// Open creates the buckets (or binds to them) with replicas copies each.
func Open(ctx context.Context, js jetstream.JetStream, replicas int) (*Store, error) {
	replicas = max(replicas, 1)
	bucket := func(name, desc string, ttl time.Duration) (jetstream.KeyValue, error) {
		kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: name, Description: desc, TTL: ttl, Storage: jetstream.FileStorage, Replicas: replicas,
			MaxValueSize: 64 << 10,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: bucket %s: %w", ErrUnavailable, name, err)
		}
		return kv, nil
	}
	s := &Store{now: time.Now}
	var err error
	if s.studios, err = bucket(BucketStudios, "edgeplay studios", 0); err != nil {
		return nil, err
	}
	if s.keys, err = bucket(BucketKeys, "edgeplay studio API keys (hashed)", 0); err != nil {
		return nil, err
	}
	if s.signing, err = bucket(BucketSigning, "edgeplay join token signing keys (public)", signingKeep); err != nil {
		return nil, err
	}
	if s.claims, err = bucket(BucketClaims, "edgeplay join tokens used", claimKeep); err != nil {
		return nil, err
	}
	return s, nil
}

// storeErr wraps a bucket error: not found stays ErrNotFound, anything else is ErrUnavailable.
func storeErr(err error, what string) error {
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
}

// newID returns n random characters of a-z 2-7 (base32, lower case): a valid name.
func newID(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return string(b)
}

// Create makes a studio from spec (a name is required) with one API key, and returns the
// studio and the key: the only time the key is shown.
func (s *Store) Create(ctx context.Context, spec Spec) (Studio, string, error) {
	now := s.now().UTC().Truncate(time.Second)
	st := Studio{ID: "st-" + newID(10), Created: now, Updated: now}
	if err := spec.apply(&st); err != nil {
		return Studio{}, "", err
	}
	b, _ := json.Marshal(st)
	if _, err := s.studios.Create(ctx, st.ID, b); err != nil {
		return Studio{}, "", storeErr(err, "create studio")
	}
	info, key, err := s.AddKey(ctx, st.ID)
	if err != nil {
		_ = s.studios.Delete(ctx, st.ID) // a studio without its first key would be useless
		return Studio{}, "", err
	}
	st.Keys = []KeyInfo{info}
	return st, key, nil
}

// get reads a studio record and its revision.
func (s *Store) get(ctx context.Context, id string) (Studio, uint64, error) {
	if !protocol.ValidName(id) {
		return Studio{}, 0, fmt.Errorf("%w: studio %q", ErrNotFound, id)
	}
	e, err := s.studios.Get(ctx, id)
	if err != nil {
		return Studio{}, 0, storeErr(err, "studio "+id)
	}
	var st Studio
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return Studio{}, 0, fmt.Errorf("%w: studio %s: a corrupt record: %w", ErrUnavailable, id, err)
	}
	return st, e.Revision(), nil
}

// Get returns a studio without its keys (the hot path: every token minted and redeemed).
func (s *Store) Get(ctx context.Context, id string) (Studio, error) {
	st, _, err := s.get(ctx, id)
	return st, err
}

// Show returns a studio with its keys.
func (s *Store) Show(ctx context.Context, id string) (Studio, error) {
	st, err := s.Get(ctx, id)
	if err != nil {
		return Studio{}, err
	}
	keys, err := s.allKeys(ctx)
	if err != nil {
		return Studio{}, err
	}
	st.Keys = keys[id]
	if st.Keys == nil {
		st.Keys = []KeyInfo{}
	}
	return st, nil
}

// List returns every studio with its keys, by id.
func (s *Store) List(ctx context.Context) ([]Studio, error) {
	ids, err := listKeys(ctx, s.studios)
	if err != nil {
		return nil, err
	}
	keys, err := s.allKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Studio, 0, len(ids))
	for _, id := range ids {
		st, err := s.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		st.Keys = keys[id]
		if st.Keys == nil {
			st.Keys = []KeyInfo{}
		}
		out = append(out, st)
	}
	return out, nil
}

// listKeys lists a bucket's keys, sorted.
func listKeys(ctx context.Context, kv jetstream.KeyValue) ([]string, error) {
	l, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, storeErr(err, "list")
	}
	defer func() { _ = l.Stop() }()
	var out []string
	for k := range l.Keys() {
		out = append(out, k)
	}
	slices.Sort(out)
	return out, nil
}

// Update changes the fields spec sets. Concurrent updates do not lose each other's changes:
// the write is conditional on the revision read, and retried.
func (s *Store) Update(ctx context.Context, id string, spec Spec) (Studio, error) {
	for range 5 {
		st, rev, err := s.get(ctx, id)
		if err != nil {
			return Studio{}, err
		}
		if err := spec.apply(&st); err != nil {
			return Studio{}, err
		}
		st.Updated = s.now().UTC().Truncate(time.Second)
		st.Keys = nil
		b, _ := json.Marshal(st)
		if _, err := s.studios.Update(ctx, id, b, rev); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) { // someone else wrote first: again
				continue
			}
			return Studio{}, storeErr(err, "update studio "+id)
		}
		return s.Show(ctx, id)
	}
	return Studio{}, fmt.Errorf("%w: update studio %s: too many concurrent updates", ErrUnavailable, id)
}

// Delete removes a studio and its API keys. Its outstanding join tokens stop working: a join
// checks that the token's studio and key still exist.
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, err := s.Get(ctx, id); err != nil {
		return err
	}
	keys, err := s.allKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys[id] {
		if err := s.keys.Delete(ctx, k.ID); err != nil {
			return storeErr(err, "delete key "+k.ID)
		}
	}
	if err := s.studios.Delete(ctx, id); err != nil {
		return storeErr(err, "delete studio "+id)
	}
	return nil
}
