package turn

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the TURN REST API scheme is HMAC-SHA1, which browsers' TURN clients expect
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MinSecretSize is the shortest shared secret accepted, in bytes.
const MinSecretSize = 16

// MaxSessionSize bounds the session part of a username, in bytes.
const MaxSessionSize = 64

// Credentials mints time-limited TURN credentials for a session in the TURN REST API scheme
// (draft-uberti-behave-turn-rest, as coturn's use-auth-secret): the username is
// "EXPIRY:SESSION", EXPIRY in Unix seconds (now + ttl, rounded up), and the password is
// base64(HMAC-SHA1(secret, username)). Any TURN server that shares the secret accepts them
// until EXPIRY without asking anyone. session must be 1–64 characters of A-Z a-z 0-9 - _ .
// (a gateway's session ids are); another is refused with ErrMalformedUsername.
func Credentials(secret []byte, session string, ttl time.Duration, now time.Time) (username, password string, err error) {
	if !validSession(session) {
		return "", "", fmt.Errorf("%w: session %q must be 1-%d characters from A-Z a-z 0-9 - _ . (dot)", ErrMalformedUsername, session, MaxSessionSize)
	}
	exp := now.Add(ttl)
	secs := exp.Unix()
	if exp.After(time.Unix(secs, 0)) {
		secs++ // round up: never shorter than ttl
	}
	username = strconv.FormatInt(secs, 10) + ":" + session
	return username, Password(secret, username), nil
}

// Password is the password of username under secret: base64(HMAC-SHA1(secret, username)).
func Password(secret []byte, username string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ParseUsername splits a username into its session and expiry. The error wraps
// ErrMalformedUsername.
func ParseUsername(username string) (session string, expiry time.Time, err error) {
	exp, session, ok := strings.Cut(username, ":")
	if !ok || exp == "" || len(exp) > 12 || !validSession(session) {
		return "", time.Time{}, fmt.Errorf("%w: want EXPIRY:SESSION", ErrMalformedUsername)
	}
	for _, c := range []byte(exp) {
		if c < '0' || c > '9' {
			return "", time.Time{}, fmt.Errorf("%w: expiry is not a number of seconds", ErrMalformedUsername)
		}
	}
	secs, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w: expiry: %w", ErrMalformedUsername, err)
	}
	return session, time.Unix(secs, 0), nil
}

// Validate checks credentials as a TURN server does: the username is well formed, has not
// expired at now (the expiry second itself is still valid), and password is its HMAC under
// secret (compared in constant time). It returns the session. Errors wrap
// ErrMalformedUsername, ErrExpired or ErrBadPassword.
func Validate(secret []byte, username, password string, now time.Time) (string, error) {
	session, expiry, err := ParseUsername(username)
	if err != nil {
		return "", err
	}
	if now.Unix() > expiry.Unix() {
		return "", fmt.Errorf("%w: at %s", ErrExpired, expiry.UTC().Format(time.RFC3339))
	}
	want := Password(secret, username)
	if subtle.ConstantTimeCompare([]byte(want), []byte(password)) != 1 {
		return "", ErrBadPassword
	}
	return session, nil
}

func validSession(s string) bool {
	if s == "" || len(s) > MaxSessionSize {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}
