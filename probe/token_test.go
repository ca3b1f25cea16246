package probe

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	testKey = []byte("test-key-0123456789abcdef-32-byt")
	testNow = time.Unix(1_700_000_000, 0)
)

func testSample() Sample {
	return Sample{
		Region: "dxb-1", Session: "0123456789abcdef", RTT: 8312 * time.Microsecond,
		Expires: testNow.Add(30 * time.Second),
	}
}

// signRaw signs body as Sign would, for payloads Sign cannot make.
func signRaw(key []byte, body string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString([]byte(body)) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestSignVerifyRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		s    Sample
	}{
		{"typical", testSample()},
		{"zero rtt", Sample{Region: "r", Session: "s", RTT: 0, Expires: testNow.Add(time.Millisecond)}},
		{"max rtt", Sample{Region: "eu-west_2", Session: "x", RTT: MaxRTT, Expires: testNow.Add(time.Hour)}},
		{"given nonce", Sample{Region: "r", Session: "s", RTT: time.Millisecond, Expires: testNow.Add(time.Second), Nonce: "fixed"}},
		{"sub-microsecond rtt is truncated", Sample{Region: "r", Session: "s", RTT: 1500 * time.Nanosecond, Expires: testNow.Add(time.Second)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := Sign(testKey, tt.s)
			if len(tok) > MaxTokenSize {
				t.Fatalf("token is %d bytes", len(tok))
			}
			got, err := Verify(testKey, tok, testNow)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := tt.s
			want.RTT = want.RTT.Truncate(time.Microsecond)
			want.Expires = want.Expires.Truncate(time.Millisecond)
			if want.Nonce == "" {
				if len(got.Nonce) != 16 {
					t.Errorf("nonce %q, want 16 base64url characters", got.Nonce)
				}
				want.Nonce = got.Nonce
			}
			if got.Region != want.Region || got.Session != want.Session || got.RTT != want.RTT ||
				!got.Expires.Equal(want.Expires) || got.Nonce != want.Nonce {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestSignNonceUnique(t *testing.T) {
	a, _ := Verify(testKey, Sign(testKey, testSample()), testNow)
	b, _ := Verify(testKey, Sign(testKey, testSample()), testNow)
	if a.Nonce == "" || a.Nonce == b.Nonce {
		t.Fatalf("nonces %q and %q", a.Nonce, b.Nonce)
	}
}

func TestSignPanicsOnShortKey(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Sign with a short key did not panic")
		}
	}()
	Sign([]byte("short"), testSample())
}

func TestVerifyRejects(t *testing.T) {
	good := Sign(testKey, testSample())
	body64, sig64, _ := strings.Cut(good, ".")
	body, _ := base64.RawURLEncoding.DecodeString(body64)
	sig, _ := base64.RawURLEncoding.DecodeString(sig64)

	faster := base64.RawURLEncoding.EncodeToString(bytes.Replace(body, []byte(`"rtt_us":8312`), []byte(`"rtt_us":1`), 1))
	flipped := bytes.Clone(sig)
	flipped[0] ^= 1
	// 32 bytes are 43 base64 characters, 258 bits: the low 2 bits of the last one are padding,
	// which a strict decoder wants zero. Setting one gives a second encoding of the same MAC.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	nonCanonical := sig64[:len(sig64)-1] + string(alphabet[strings.IndexByte(alphabet, sig64[len(sig64)-1])^1])

	at := func(s Sample) string { return Sign(testKey, s) }
	sample := func(f func(*Sample)) Sample { s := testSample(); f(&s); return s }

	tests := []struct {
		name  string
		key   []byte
		token string
		now   time.Time
		want  error
	}{
		{"tampered payload", testKey, faster + "." + sig64, testNow, ErrSignature},
		{"tampered signature", testKey, body64 + "." + base64.RawURLEncoding.EncodeToString(flipped), testNow, ErrSignature},
		{"truncated signature", testKey, body64 + "." + base64.RawURLEncoding.EncodeToString(sig[:16]), testNow, ErrSignature},
		{"empty signature", testKey, body64 + ".", testNow, ErrSignature},
		{"wrong key", []byte("another-key-0123456789abcdef-32b"), good, testNow, ErrSignature},
		{"unsigned payload with a made-up signature", testKey, faster + ".AAAA", testNow, ErrSignature},
		{"expired exactly", testKey, good, testNow.Add(30 * time.Second), ErrExpired},
		{"expired long ago", testKey, good, testNow.Add(time.Hour), ErrExpired},
		{"absurd: over 2 s", testKey, at(sample(func(s *Sample) { s.RTT = MaxRTT + time.Microsecond })), testNow, ErrAbsurd},
		{"absurd: negative", testKey, at(sample(func(s *Sample) { s.RTT = -time.Millisecond })), testNow, ErrAbsurd},
		{"short key", []byte("short"), good, testNow, ErrKey},
		{"empty", testKey, "", testNow, ErrMalformed},
		{"no dot", testKey, body64, testNow, ErrMalformed},
		{"only a dot", testKey, ".", testNow, ErrMalformed},
		{"three parts", testKey, good + ".x", testNow, ErrMalformed},
		{"payload not base64url", testKey, "!!!." + sig64, testNow, ErrMalformed},
		{"padded base64", testKey, body64 + "=." + sig64, testNow, ErrMalformed},
		{"standard base64 alphabet", testKey, body64 + "." + sig64[:len(sig64)-2] + "+/", testNow, ErrMalformed},
		{"signature not base64url", testKey, body64 + ".***", testNow, ErrMalformed},
		{"non-canonical signature encoding", testKey, body64 + "." + nonCanonical, testNow, ErrMalformed},
		{"too long", testKey, good + strings.Repeat("A", MaxTokenSize), testNow, ErrMalformed},
		{"signed, not JSON", testKey, signRaw(testKey, "hello"), testNow, ErrMalformed},
		{"signed, JSON array", testKey, signRaw(testKey, "[1]"), testNow, ErrMalformed},
		{"signed, trailing data", testKey, signRaw(testKey, `{"v":1,"region":"r","session":"s","rtt_us":1,"exp_ms":1700000030000,"nonce":"n"}{}`), testNow, ErrMalformed},
		{"signed, wrong version", testKey, signRaw(testKey, `{"v":2,"region":"r","session":"s","rtt_us":1,"exp_ms":1700000030000,"nonce":"n"}`), testNow, ErrMalformed},
		{"signed, no region", testKey, signRaw(testKey, `{"v":1,"session":"s","rtt_us":1,"exp_ms":1700000030000,"nonce":"n"}`), testNow, ErrMalformed},
		{"signed, no nonce", testKey, signRaw(testKey, `{"v":1,"region":"r","session":"s","rtt_us":1,"exp_ms":1700000030000}`), testNow, ErrMalformed},
		{"signed, no expiry", testKey, signRaw(testKey, `{"v":1,"region":"r","session":"s","rtt_us":1,"nonce":"n"}`), testNow, ErrMalformed},
		{"signed, rtt as string", testKey, signRaw(testKey, `{"v":1,"region":"r","session":"s","rtt_us":"1","exp_ms":1700000030000,"nonce":"n"}`), testNow, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Verify(tt.key, tt.token, tt.now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %+v, %v; want %v", s, err, tt.want)
			}
			if s != (Sample{}) {
				t.Errorf("a rejected token returned %+v", s)
			}
		})
	}
}

func TestVerifyIgnoresUnknownFields(t *testing.T) {
	tok := signRaw(testKey, `{"v":1,"region":"r","session":"s","rtt_us":1500,"exp_ms":1700000030000,"nonce":"n","ip":"x"}`)
	s, err := Verify(testKey, tok, testNow)
	if err != nil || s.RTT != 1500*time.Microsecond {
		t.Fatalf("Verify = %+v, %v", s, err)
	}
}

func TestMillis(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want float64
	}{
		{0, 0},
		{49 * time.Microsecond, 0},
		{50 * time.Microsecond, 0.1},
		{8312 * time.Microsecond, 8.3},
		{30*time.Millisecond + 460*time.Microsecond, 30.5},
		{2 * time.Second, 2000},
	} {
		if got := Millis(tt.d); got != tt.want {
			t.Errorf("Millis(%v) = %v, want %v", tt.d, got, tt.want)
		}
	}
}
