package studio

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math/big"
	"slices"
	"strings"
	"time"
)

// API key format: KeyPrefix, the key id, "_", the secret and its check.
const (
	KeyPrefix    = "ep_live_"
	keyIDLen     = 12
	secretLen    = 32 // base62: 190 bits
	checkLen     = 6  // base62 of a CRC-32: 35 bits of room for 32
	maxAPIKeyLen = len(KeyPrefix) + keyIDLen + 1 + secretLen + checkLen
	base62       = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// KeyInfo describes an API key; the key itself is never stored.
type KeyInfo struct {
	ID      string    `json:"id"`
	Studio  string    `json:"studio"`
	Last4   string    `json:"last4"` // the key's last four characters, to tell keys apart
	Created time.Time `json:"created"`
}

// keyRecord is what EDGEPLAY_STUDIO_KEYS holds under the key id.
type keyRecord struct {
	KeyInfo
	Hash string `json:"sha256"` // hex SHA-256 of the whole key
}

// newAPIKey returns a fresh key with the id keyID.
func newAPIKey(keyID string) string {
	var b strings.Builder
	b.WriteString(KeyPrefix + keyID + "_")
	r := make([]byte, secretLen)
	_, _ = rand.Read(r)
	for _, c := range r {
		b.WriteByte(base62[int(c)%62]) // 256 = 4×62+8: a bias of under 2 %, on 190 bits
	}
	b.WriteString(check(b.String()))
	return b.String()
}

// check is the base62 CRC-32 of s, checkLen characters.
func check(s string) string {
	n := new(big.Int).SetUint64(uint64(crc32.ChecksumIEEE([]byte(s))))
	out := []byte(n.Text(62))
	for len(out) < checkLen {
		out = append([]byte{'0'}, out...)
	}
	// big.Int's base 62 digits are 0-9a-zA-Z; map them onto ours (0-9A-Za-z).
	for i, c := range out {
		switch {
		case c >= 'a' && c <= 'z':
			out[i] = c - 'a' + 'A'
		case c >= 'A' && c <= 'Z':
			out[i] = c - 'A' + 'a'
		}
	}
	return string(out)
}

// ParseAPIKey checks a key's shape and check characters and returns its id, without a lookup.
func ParseAPIKey(key string) (string, error) {
	if len(key) != maxAPIKeyLen || !strings.HasPrefix(key, KeyPrefix) {
		return "", fmt.Errorf("%w: not an edgeplay API key (ep_live_…, %d characters)", ErrBadKey, maxAPIKeyLen)
	}
	id, rest, ok := strings.Cut(key[len(KeyPrefix):], "_")
	if !ok || len(id) != keyIDLen || len(rest) != secretLen+checkLen {
		return "", fmt.Errorf("%w: malformed", ErrBadKey)
	}
	for i := range len(rest) {
		if !strings.ContainsRune(base62, rune(rest[i])) {
			return "", fmt.Errorf("%w: malformed", ErrBadKey)
		}
	}
	if check(key[:len(key)-checkLen]) != key[len(key)-checkLen:] {
		return "", fmt.Errorf("%w: the check characters do not match (mistyped or cut?)", ErrBadKey)
	}
	return id, nil
}

func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// AddKey makes a new API key for a studio and returns its description and the key, shown
// only now. A studio has at most MaxKeys.
func (s *Store) AddKey(ctx context.Context, studio string) (KeyInfo, string, error) {
	if _, err := s.Get(ctx, studio); err != nil {
		return KeyInfo{}, "", err
	}
	keys, err := s.allKeys(ctx)
	if err != nil {
		return KeyInfo{}, "", err
	}
	if len(keys[studio]) >= MaxKeys {
		return KeyInfo{}, "", fmt.Errorf("%w: studio %s has %d; revoke one first", ErrTooManyKeys, studio, MaxKeys)
	}
	id := newID(keyIDLen)
	key := newAPIKey(id)
	rec := keyRecord{
		KeyInfo: KeyInfo{ID: id, Studio: studio, Last4: key[len(key)-4:], Created: s.now().UTC().Truncate(time.Second)},
		Hash:    hashKey(key),
	}
	b, _ := json.Marshal(rec)
	if _, err := s.keys.Create(ctx, id, b); err != nil {
		return KeyInfo{}, "", storeErr(err, "create key")
	}
	return rec.KeyInfo, key, nil
}

// RevokeKey deletes a studio's API key: it mints no more tokens, and the tokens it minted no
// longer join.
func (s *Store) RevokeKey(ctx context.Context, studio, keyID string) error {
	rec, err := s.keyRecord(ctx, keyID)
	if err != nil {
		return err
	}
	if rec.Studio != studio {
		return fmt.Errorf("%w: key %s of studio %s", ErrNotFound, keyID, studio)
	}
	if err := s.keys.Delete(ctx, keyID); err != nil {
		return storeErr(err, "revoke key "+keyID)
	}
	return nil
}

func (s *Store) keyRecord(ctx context.Context, id string) (keyRecord, error) {
	if len(id) != keyIDLen {
		return keyRecord{}, fmt.Errorf("%w: key %q", ErrNotFound, id)
	}
	e, err := s.keys.Get(ctx, id)
	if err != nil {
		return keyRecord{}, storeErr(err, "key "+id)
	}
	var rec keyRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return keyRecord{}, fmt.Errorf("%w: key %s: a corrupt record: %w", ErrUnavailable, id, err)
	}
	return rec, nil
}

// allKeys reads every key record, by studio (an operator's list: a handful per studio).
func (s *Store) allKeys(ctx context.Context) (map[string][]KeyInfo, error) {
	ids, err := listKeys(ctx, s.keys)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	out := map[string][]KeyInfo{}
	for _, id := range ids {
		rec, err := s.keyRecord(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[rec.Studio] = append(out[rec.Studio], rec.KeyInfo)
	}
	for _, ks := range out {
		slices.SortFunc(ks, func(a, b KeyInfo) int { return a.Created.Compare(b.Created) })
	}
	return out, nil
}

// Authenticate returns the studio an API key belongs to, and the key's id. ErrBadKey for
// a malformed, unknown or revoked key (or one whose studio is gone); ErrUnavailable when the
// store cannot say.
func (s *Store) Authenticate(ctx context.Context, key string) (Studio, string, error) {
	id, err := ParseAPIKey(key)
	if err != nil {
		return Studio{}, "", err
	}
	rec, err := s.keyRecord(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Studio{}, "", fmt.Errorf("%w: unknown or revoked", ErrBadKey)
	}
	if err != nil {
		return Studio{}, "", err
	}
	if subtle.ConstantTimeCompare([]byte(hashKey(key)), []byte(rec.Hash)) != 1 {
		return Studio{}, "", fmt.Errorf("%w: unknown or revoked", ErrBadKey)
	}
	st, err := s.Get(ctx, rec.Studio)
	if errors.Is(err, ErrNotFound) {
		return Studio{}, "", fmt.Errorf("%w: its studio is gone", ErrBadKey)
	}
	return st, id, err
}

// KeyActive reports whether an API key still exists for studio (a join checks the key that
// minted its token).
func (s *Store) KeyActive(ctx context.Context, studio, keyID string) (bool, error) {
	rec, err := s.keyRecord(ctx, keyID)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return rec.Studio == studio, nil
}
