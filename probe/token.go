package probe

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

const (
	// MaxTokenSize is the longest token Verify accepts, in bytes.
	MaxTokenSize = 1024
	// MaxRTT is the largest RTT a token may carry; Verify rejects more as absurd.
	MaxRTT = 2 * time.Second
	// MinKeySize is the shortest HMAC key Sign and Verify accept, in bytes. Use 32 random
	// bytes.
	MinKeySize = 32

	tokenVersion = 1
	nonceBytes   = 12
)

// b64 is base64url without padding, strict: a token has exactly one encoding, so it cannot
// be varied to slip past a replay check that keys on the token text.
var b64 = base64.RawURLEncoding.Strict()

// Sample is one signed measurement: the median RTT between the probe endpoint of Region and
// the client of Session, valid until Expires. Nonce makes each token unique (replay checks
// key on it).
type Sample struct {
	Region  string
	Session string
	RTT     time.Duration // carried with microsecond precision
	Expires time.Time     // carried with millisecond precision
	Nonce   string
}

// payload is the signed JSON.
type payload struct {
	V       int    `json:"v"`
	Region  string `json:"region"`
	Session string `json:"session"`
	RTT     int64  `json:"rtt_us"`
	Expires int64  `json:"exp_ms"`
	Nonce   string `json:"nonce"`
}

// Sign returns the token for s under key. If s.Nonce is empty, Sign sets a random one (12
// bytes, base64url). It panics if key is shorter than MinKeySize: that is a configuration
// error, caught by HandlerConfig.Validate before any request.
func Sign(key []byte, s Sample) string {
	if len(key) < MinKeySize {
		panic(fmt.Sprintf("probe: Sign with a key of %d bytes; at least %d are needed", len(key), MinKeySize))
	}
	if s.Nonce == "" {
		s.Nonce = NewNonce()
	}
	body, err := json.Marshal(payload{
		V: tokenVersion, Region: s.Region, Session: s.Session,
		RTT: s.RTT.Microseconds(), Expires: s.Expires.UnixMilli(), Nonce: s.Nonce,
	})
	if err != nil { // strings and integers always marshal
		panic("probe: marshal payload: " + err.Error())
	}
	return b64.EncodeToString(body) + "." + b64.EncodeToString(mac(key, body))
}

// NewNonce returns 12 random bytes, base64url.
func NewNonce() string {
	var b [nonceBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24 crashes instead)
	return b64.EncodeToString(b[:])
}

func mac(key, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks token under key at time now and returns its sample. The signature is
// checked before the payload is parsed. Errors wrap ErrMalformed, ErrSignature, ErrExpired,
// ErrAbsurd or ErrKey. The caller still has to check Session and Region against the ticket
// and the claim, and the nonce against a ReplayGuard.
func Verify(key []byte, token string, now time.Time) (Sample, error) {
	if len(key) < MinKeySize {
		return Sample{}, ErrKey
	}
	if len(token) > MaxTokenSize {
		return Sample{}, fmt.Errorf("%w: %d bytes, the limit is %d", ErrMalformed, len(token), MaxTokenSize)
	}
	body64, sig64, ok := strings.Cut(token, ".")
	if !ok || body64 == "" || strings.Contains(sig64, ".") {
		return Sample{}, fmt.Errorf("%w: want two base64url parts separated by a dot", ErrMalformed)
	}
	body, err := b64.DecodeString(body64)
	if err != nil {
		return Sample{}, fmt.Errorf("%w: payload is not base64url", ErrMalformed)
	}
	sig, err := b64.DecodeString(sig64)
	if err != nil {
		return Sample{}, fmt.Errorf("%w: signature is not base64url", ErrMalformed)
	}
	if !hmac.Equal(sig, mac(key, body)) {
		return Sample{}, ErrSignature
	}

	// Signed by a key holder from here on; still checked, as a key holder may run another
	// version.
	var p payload
	// Unknown fields are ignored, so a newer signer can add one during a rolling upgrade.
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&p); err != nil || dec.More() {
		return Sample{}, fmt.Errorf("%w: payload is not the expected JSON", ErrMalformed)
	}
	if p.V != tokenVersion || p.Region == "" || p.Session == "" || p.Nonce == "" || p.Expires == 0 {
		return Sample{}, fmt.Errorf("%w: version %d or a missing field", ErrMalformed, p.V)
	}
	exp := time.UnixMilli(p.Expires)
	if !now.Before(exp) {
		return Sample{}, fmt.Errorf("%w: at %s", ErrExpired, exp.UTC().Format(time.RFC3339Nano))
	}
	if p.RTT < 0 || p.RTT > MaxRTT.Microseconds() {
		return Sample{}, fmt.Errorf("%w: %d µs", ErrAbsurd, p.RTT)
	}
	return Sample{
		Region: p.Region, Session: p.Session, RTT: time.Duration(p.RTT) * time.Microsecond,
		Expires: exp, Nonce: p.Nonce,
	}, nil
}
