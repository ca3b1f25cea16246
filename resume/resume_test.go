package resume

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func signer(t *testing.T, secret string) *Signer {
	t.Helper()
	s, err := NewSigner([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMintAndCheck(t *testing.T) {
	s := signer(t, strings.Repeat("k", 32))
	now := time.Unix(1_800_000_000, 0)
	tok := s.Mint(Token{Session: "s1", Host: "h1", Generation: 3, Expires: now.Add(time.Hour)})
	got, err := s.Check(tok, "s1", now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Session != "s1" || got.Host != "h1" || got.Generation != 3 || !got.Expires.Equal(now.Add(time.Hour)) {
		t.Errorf("checked token %+v", got)
	}
}

func TestCheckRefuses(t *testing.T) {
	s := signer(t, strings.Repeat("k", 32))
	other := signer(t, strings.Repeat("x", 32))
	now := time.Unix(1_800_000_000, 0)
	good := s.Mint(Token{Session: "s1", Host: "h1", Generation: 1, Expires: now.Add(time.Minute)})
	p, m, _ := strings.Cut(good, ".")
	tests := []struct {
		name, token, session string
		now                  time.Time
		want                 error
	}{
		{"wrong secret", other.Mint(Token{Session: "s1", Host: "h1", Expires: now.Add(time.Minute)}), "s1", now, ErrSignature},
		{"expired", good, "s1", now.Add(time.Minute), ErrExpired},
		{"another player's session", good, "s2", now, ErrSession},
		{"tampered payload", tamper(t, p) + "." + m, "s1", now, ErrSignature},
		{"payload swapped", s.Mint(Token{Session: "s2", Host: "h1", Expires: now.Add(time.Minute)})[:len(p)] + "." + m, "s1", now, ErrSignature},
		{"no dot", p + m, "s1", now, ErrMalformed},
		{"empty", "", "s1", now, ErrMalformed},
		{"not base64", "!!.??", "s1", now, ErrMalformed},
		{"too long", strings.Repeat("a", MaxTokenSize+1), "s1", now, ErrMalformed},
	}
	for _, tt := range tests {
		if _, err := s.Check(tt.token, tt.session, tt.now); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

// tamper changes the generation in a token's payload.
func tamper(t *testing.T, p64 string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(p64)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(b), "|1|", "|9|", 1)))
}

func TestShortSecret(t *testing.T) {
	if _, err := NewSigner([]byte("short")); err == nil {
		t.Error("a 5-byte secret was accepted")
	}
}

func FuzzCheck(f *testing.F) {
	s, _ := NewSigner([]byte(strings.Repeat("k", 32)))
	f.Add(s.Mint(Token{Session: "s", Host: "h", Generation: 1, Expires: time.Unix(2e9, 0)}))
	f.Add("a.b")
	f.Add("MXxzfGh8MXwy.AAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		got, err := s.Check(tok, "s", time.Unix(1e9, 0))
		if err == nil && got.Session != "s" {
			t.Fatalf("accepted a token for %q", got.Session)
		}
	})
}

// A token carries the origin of a studio's page; a version 1 token (no origin) from a gateway
// not yet updated still checks.
func TestOriginAndVersion1(t *testing.T) {
	s := signer(t, strings.Repeat("k", 32))
	now := time.Unix(1_800_000_000, 0)
	tok := s.Mint(Token{Session: "s1", Host: "h1", Generation: 1, Expires: now.Add(time.Hour), Origin: "https://play.acme.example:8443"})
	if got, err := s.Check(tok, "s1", now); err != nil || got.Origin != "https://play.acme.example:8443" {
		t.Fatalf("with an origin: %+v %v", got, err)
	}
	payload := []byte("1|s1|h1|4|1800003600")
	enc := base64.RawURLEncoding
	v1 := enc.EncodeToString(payload) + "." + enc.EncodeToString(s.mac(payload))
	if got, err := s.Check(v1, "s1", now); err != nil || got.Generation != 4 || got.Origin != "" {
		t.Fatalf("version 1: %+v %v", got, err)
	}
	bad := []byte("1|s1|h1|4|1800003600|https://x.example")
	forged := enc.EncodeToString(bad) + "." + enc.EncodeToString(s.mac(bad))
	if _, err := s.Check(forged, "s1", now); !errors.Is(err, ErrMalformed) {
		t.Errorf("version 1 with an origin field: %v, want ErrMalformed", err)
	}
}
