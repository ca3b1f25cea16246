package turn

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the scheme's hash
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func TestCredentialsFormat(t *testing.T) {
	now := time.Unix(1_800_000_000, 250_000_000)
	user, pass, err := Credentials(testSecret, "6321536e5bdc15ff", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	// now + 1 h, rounded up to the second: never shorter than the TTL.
	if want := "1800003601:6321536e5bdc15ff"; user != want {
		t.Errorf("username %q, want %q", user, want)
	}
	mac := hmac.New(sha1.New, testSecret)
	mac.Write([]byte(user))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); pass != want {
		t.Errorf("password %q, want base64(HMAC-SHA1(secret, username)) %q", pass, want)
	}
	// A whole second is not rounded.
	user, _, _ = Credentials(testSecret, "s", time.Minute, time.Unix(1_800_000_000, 0))
	if want := "1800000060:s"; user != want {
		t.Errorf("username %q, want %q", user, want)
	}
	for _, bad := range []string{"", "a:b", "has space", strings.Repeat("x", MaxSessionSize+1)} {
		if _, _, err := Credentials(testSecret, bad, time.Hour, now); !errors.Is(err, ErrMalformedUsername) {
			t.Errorf("session %q: err %v, want ErrMalformedUsername", bad, err)
		}
	}
}

func TestValidate(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	user, pass, err := Credentials(testSecret, "sess-1", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		secret     []byte
		user, pass string
		at         time.Time
		want       error // nil: valid
	}{
		{"valid", testSecret, user, pass, now, nil},
		{"valid in the expiry second", testSecret, user, pass, now.Add(time.Hour + 999*time.Millisecond), nil},
		{"expired", testSecret, user, pass, now.Add(time.Hour + time.Second), ErrExpired},
		{"long expired", testSecret, user, pass, now.Add(48 * time.Hour), ErrExpired},
		{"wrong secret", []byte("another secret, just as long....."), user, pass, now, ErrBadPassword},
		{"wrong password", testSecret, user, Password(testSecret, user+"x"), now, ErrBadPassword},
		{"empty password", testSecret, user, "", now, ErrBadPassword},
		{"expiry moved later", testSecret, "1900000000:sess-1", pass, now, ErrBadPassword},
		{"other session", testSecret, "1800003600:sess-2", pass, now, ErrBadPassword},
		{"no colon", testSecret, "1800003600", Password(testSecret, "1800003600"), now, ErrMalformedUsername},
		{"empty session", testSecret, "1800003600:", Password(testSecret, "1800003600:"), now, ErrMalformedUsername},
		{"empty expiry", testSecret, ":sess-1", Password(testSecret, ":sess-1"), now, ErrMalformedUsername},
		{"signed expiry", testSecret, "+1800003600:sess-1", Password(testSecret, "+1800003600:sess-1"), now, ErrMalformedUsername},
		{"negative expiry", testSecret, "-1:sess-1", Password(testSecret, "-1:sess-1"), now, ErrMalformedUsername},
		{"expiry not a number", testSecret, "soon:sess-1", Password(testSecret, "soon:sess-1"), now, ErrMalformedUsername},
		{"huge expiry", testSecret, "99999999999999999999:s", Password(testSecret, "99999999999999999999:s"), now, ErrMalformedUsername},
		{"session with a colon", testSecret, "1800003600:a:b", Password(testSecret, "1800003600:a:b"), now, ErrMalformedUsername},
		{"session too long", testSecret, "1800003600:" + strings.Repeat("s", 65), "", now, ErrMalformedUsername},
		{"user:expiry order", testSecret, "sess-1:1800003600", Password(testSecret, "sess-1:1800003600"), now, ErrMalformedUsername},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			session, err := Validate(tt.secret, tt.user, tt.pass, tt.at)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("Validate: %v, want valid", err)
			case tt.want == nil && session != "sess-1":
				t.Fatalf("session %q, want sess-1", session)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("Validate: %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParsePortRange(t *testing.T) {
	for _, tt := range []struct {
		in     string
		lo, hi uint16
		ok     bool
	}{
		{"49152-65535", 49152, 65535, true},
		{"20000-20000", 20000, 20000, true},
		{"0-10", 0, 0, false},
		{"10-5", 0, 0, false},
		{"10", 0, 0, false},
		{"1-70000", 0, 0, false},
		{"a-b", 0, 0, false},
	} {
		lo, hi, err := ParsePortRange(tt.in)
		if (err == nil) != tt.ok || lo != tt.lo || hi != tt.hi {
			t.Errorf("ParsePortRange(%q) = %d, %d, %v", tt.in, lo, hi, err)
		}
	}
}

// FuzzParseUsername: usernames come from the network; parsing never panics, and what parses
// is what Credentials would have written.
func FuzzParseUsername(f *testing.F) {
	for _, s := range []string{"1800003600:sess-1", ":", "1:", ":a", "99999999999:x", "-1:a", "1:a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, username string) {
		session, exp, err := ParseUsername(username)
		if err != nil {
			return
		}
		if !validSession(session) || exp.Unix() < 0 {
			t.Fatalf("%q parsed to session %q, expiry %v", username, session, exp)
		}
	})
}
