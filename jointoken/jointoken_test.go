package jointoken

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func newKey(tb testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return pub, priv
}

// setup is a minter at t0 under kid k1 and a key set that knows k1.
func setup(tb testing.TB) (*Minter, *KeySet) {
	tb.Helper()
	pub, priv := newKey(tb)
	m, err := NewMinter("k1", priv)
	if err != nil {
		tb.Fatal(err)
	}
	m.now = func() time.Time { return t0 }
	ks := NewKeySet()
	if err := ks.Add("k1", pub); err != nil {
		tb.Fatal(err)
	}
	return m, ks
}

var claims = Claims{Studio: "acme", Game: "paddle", Player: "p-42", DisplayName: "Ada ✓", Payload: []byte(`{"team":"red"}`)}

func mint(tb testing.TB, m *Minter, c Claims, ttl time.Duration) string {
	tb.Helper()
	tok, _, err := m.Mint(c, ttl)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func TestMintVerify(t *testing.T) {
	m, ks := setup(t)
	tok, minted, err := m.Mint(claims, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(minted.ID) != 32 || !minted.IssuedAt.Equal(t0) || !minted.Expires.Equal(t0.Add(DefaultTTL)) {
		t.Fatalf("minted %+v", minted)
	}
	got, err := ks.Verify(tok, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got.Studio != "acme" || got.Game != "paddle" || got.Player != "p-42" || got.DisplayName != "Ada ✓" ||
		string(got.Payload) != `{"team":"red"}` || got.ID != minted.ID || !got.Expires.Equal(minted.Expires) {
		t.Fatalf("verified %+v, minted %+v", got, minted)
	}
	// Every token has its own jti.
	if _, again, _ := m.Mint(claims, 0); again.ID == minted.ID {
		t.Fatal("two tokens with one jti")
	}
	// No payload, no display name.
	bare := Claims{Studio: "acme", Game: "paddle", Player: "p"}
	got, err = ks.Verify(mint(t, m, bare, time.Second), t0)
	if err != nil || got.Payload != nil || got.DisplayName != "" {
		t.Fatalf("bare token: %+v, %v", got, err)
	}
}

func TestVerifyTimes(t *testing.T) {
	m, ks := setup(t)
	tok := mint(t, m, claims, time.Minute)
	for _, tt := range []struct {
		name string
		at   time.Time
		want error
	}{
		{"at issue", t0, nil},
		{"a clock behind, within the leeway", t0.Add(-Leeway + time.Second), nil},
		{"a clock behind, past the leeway", t0.Add(-Leeway - 2*time.Second), ErrInvalid},
		{"just before the end", t0.Add(time.Minute - time.Second), nil},
		{"past the end, within the leeway", t0.Add(time.Minute + Leeway - time.Second), nil},
		{"past the end and the leeway", t0.Add(time.Minute + Leeway + time.Second), ErrExpired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ks.Verify(tok, tt.at)
			if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Verify at %v: %v, want %v", tt.at.Sub(t0), err, tt.want)
			}
		})
	}
}

func TestMintRefuses(t *testing.T) {
	m, _ := setup(t)
	for _, tt := range []struct {
		name string
		c    Claims
		ttl  time.Duration
	}{
		{"no studio", Claims{Game: "g", Player: "p"}, 0},
		{"bad game", Claims{Studio: "s", Game: "My Game", Player: "p"}, 0},
		{"no player", Claims{Studio: "s", Game: "g"}, 0},
		{"player with a space", Claims{Studio: "s", Game: "g", Player: "a b"}, 0},
		{"player too long", Claims{Studio: "s", Game: "g", Player: strings.Repeat("p", 65)}, 0},
		{"display name with a newline", Claims{Studio: "s", Game: "g", Player: "p", DisplayName: "a\nb"}, 0},
		{"payload over 1 KiB", Claims{Studio: "s", Game: "g", Player: "p", Payload: make([]byte, MaxPayload+1)}, 0},
		{"ttl over 10 min", claims, MaxTTL + time.Second},
		{"ttl under a second", claims, time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := m.Mint(tt.c, tt.ttl); !errors.Is(err, ErrClaims) {
				t.Fatalf("Mint: %v, want %v", err, ErrClaims)
			}
		})
	}
	// The largest claims still fit a join.
	big := Claims{
		Studio: strings.Repeat("s", 64), Game: strings.Repeat("g", 64), Player: strings.Repeat("p", 64),
		DisplayName: strings.Repeat("n", 64), Payload: make([]byte, MaxPayload),
	}
	if tok, _, err := m.Mint(big, MaxTTL); err != nil || len(tok) > MaxTokenSize {
		t.Fatalf("the largest token: %d bytes, %v", len(tok), err)
	}
}

// encode is a JWT segment: base64url JSON.
func encode(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// forge signs a token of the given header and claims with sign (nil: no signature).
func forge(header, body map[string]any, sign func([]byte) []byte) string {
	s := encode(header) + "." + encode(body)
	if sign == nil {
		return s + "."
	}
	return s + "." + base64.RawURLEncoding.EncodeToString(sign([]byte(s)))
}

func TestVerifyRefuses(t *testing.T) {
	m, ks := setup(t)
	_, otherKey := newKey(t)
	other, err := NewMinter("k1", otherKey) // same kid, another key: a forger's
	if err != nil {
		t.Fatal(err)
	}
	other.now = m.now
	unknown, err := NewMinter("k9", otherKey)
	if err != nil {
		t.Fatal(err)
	}
	unknown.now = m.now
	good := mint(t, m, claims, time.Minute)
	parts := strings.Split(good, ".")
	body := func(change func(map[string]any)) map[string]any {
		b, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var v map[string]any
		_ = json.Unmarshal(b, &v)
		change(v)
		return v
	}
	_, priv := newKey(t)
	ed := func(key ed25519.PrivateKey) func([]byte) []byte {
		return func(b []byte) []byte { return ed25519.Sign(key, b) }
	}
	// signGood signs with the minter's own key: tokens whose signature is right and whose
	// claims are wrong, so that each claim check is tested on its own.
	signGood := ed(m.key)
	for _, tt := range []struct {
		name, token string
	}{
		{"empty", ""},
		{"garbage", "not.a.token"},
		{"over the size limit", good + strings.Repeat("A", MaxTokenSize)},
		{"signed with another key under a known kid", mint(t, other, claims, time.Minute)},
		{"an unknown kid", mint(t, unknown, claims, time.Minute)},
		{"claims changed after signing", parts[0] + "." + encode(body(func(v map[string]any) { v["game"] = "other" })) + "." + parts[2]},
		{"alg none", forge(map[string]any{"alg": "none", "typ": "JWT", "kid": "k1"}, body(func(map[string]any) {}), nil)},
		{"alg HS256 keyed with the public key", forge(map[string]any{"alg": "HS256", "typ": "JWT", "kid": "k1"}, body(func(map[string]any) {}),
			func(b []byte) []byte { h := hmac.New(sha256.New, ks.keys["k1"]); h.Write(b); return h.Sum(nil) })},
		{"wrong audience", forge(map[string]any{"alg": "EdDSA", "kid": "k1"}, body(func(v map[string]any) { v["aud"] = []string{"other"} }), signGood)},
		{"wrong issuer", forge(map[string]any{"alg": "EdDSA", "kid": "k1"}, body(func(v map[string]any) { v["iss"] = "someone" }), signGood)},
		{"no exp", forge(map[string]any{"alg": "EdDSA", "kid": "k1"}, body(func(v map[string]any) { delete(v, "exp") }), signGood)},
		{"a lifetime over 10 min", forge(map[string]any{"alg": "EdDSA", "kid": "k1"}, body(func(v map[string]any) { v["exp"] = t0.Add(time.Hour).Unix() }), signGood)},
		{"no jti", forge(map[string]any{"alg": "EdDSA", "kid": "k1"}, body(func(v map[string]any) { delete(v, "jti") }), signGood)},
		{"a bad game", forge(map[string]any{"alg": "EdDSA", "kid": "k1"}, body(func(v map[string]any) { v["game"] = "A B" }), signGood)},
		{"a payload not base64", forge(map[string]any{"alg": "EdDSA", "kid": "k1"}, body(func(v map[string]any) { v["pl"] = "!!" }), signGood)},
		{"signed by an unrelated key", forge(map[string]any{"alg": "EdDSA", "kid": "k1"}, body(func(map[string]any) {}), ed(priv))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ks.Verify(tt.token, t0); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Verify: %v, want %v", err, ErrInvalid)
			}
		})
	}
	// The forging helper itself makes tokens that verify when nothing is wrong.
	if _, err := ks.Verify(forge(map[string]any{"alg": "EdDSA", "kid": "k1"}, body(func(map[string]any) {}), signGood), t0); err != nil {
		t.Fatalf("an untouched forged token: %v", err)
	}
}

// Rotation: tokens of the old key verify while it is in the set, and stop when it leaves; the
// new key's verify as soon as the replicas know it.
func TestKeyRotation(t *testing.T) {
	m1, ks := setup(t)
	pub2, priv2 := newKey(t)
	m2, err := NewMinter("k2", priv2)
	if err != nil {
		t.Fatal(err)
	}
	m2.now = m1.now
	old, next := mint(t, m1, claims, time.Minute), mint(t, m2, claims, time.Minute)
	if _, err := ks.Verify(next, t0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a key not yet published: %v", err)
	}
	if err := ks.Add("k2", pub2); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{old, next} {
		if _, err := ks.Verify(tok, t0); err != nil {
			t.Fatalf("during the rotation: %v", err)
		}
	}
	ks.Remove("k1")
	if _, err := ks.Verify(old, t0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("the retired key's token: %v", err)
	}
	if _, err := ks.Verify(next, t0); err != nil {
		t.Fatal(err)
	}
}

func TestKeysRefused(t *testing.T) {
	pub, priv := newKey(t)
	if _, err := NewMinter("", priv); err == nil {
		t.Error("a minter without a kid")
	}
	if _, err := NewMinter("k1", priv[:10]); err == nil {
		t.Error("a minter with a short key")
	}
	if err := NewKeySet().Add("K 1", pub); err == nil {
		t.Error("a bad kid in the set")
	}
	if err := NewKeySet().Add("k1", pub[:5]); err == nil {
		t.Error("a short public key in the set")
	}
}

// FuzzVerify: no input makes Verify panic, and nothing it accepts differs from what was minted
// (the fuzzer cannot sign, so only the seeds verify).
func FuzzVerify(f *testing.F) {
	m, ks := setup(f)
	good := mint(f, m, claims, time.Minute)
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := ks.Verify(tok, t0)
		if err == nil && tok != good {
			t.Fatalf("a token that was not minted verified: %q → %+v", tok, c)
		}
	})
}

// BenchmarkVerify is a join token's verification on one core (issue 11's benchmark).
func BenchmarkVerify(b *testing.B) {
	m, ks := setup(b)
	tok := mint(b, m, claims, time.Minute)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := ks.Verify(tok, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMint is a join token's signing on one core.
func BenchmarkMint(b *testing.B) {
	m, _ := setup(b)
	b.ReportAllocs()
	for range b.N {
		if _, _, err := m.Mint(claims, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}
