package probe

import "errors"

// Errors of Verify. Each is wrapped with detail; test with errors.Is.
var (
	// ErrMalformed: not a token of the documented shape (parts, base64url, JSON, fields, or
	// longer than MaxTokenSize).
	ErrMalformed = errors.New("probe: malformed token")
	// ErrSignature: the signature does not match the payload under this key (forged,
	// tampered with, or signed with another key).
	ErrSignature = errors.New("probe: bad token signature")
	// ErrExpired: the token was valid but its expiry has passed.
	ErrExpired = errors.New("probe: token expired")
	// ErrAbsurd: the signed RTT is outside 0..MaxRTT.
	ErrAbsurd = errors.New("probe: absurd RTT")
	// ErrKey: the key is shorter than MinKeySize; nothing verifies under it.
	ErrKey = errors.New("probe: signing key too short")
)
