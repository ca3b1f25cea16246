package probe

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

// FuzzVerify: Verify never panics, fails only with its documented errors, and what it accepts
// re-verifies to the same sample and obeys the limits. The seeds in testdata/fuzz/FuzzVerify
// include tokens signed with testKey (valid at testNow, expired, absurd, tampered) so that
// the fuzzer starts from the signed path too.
func FuzzVerify(f *testing.F) {
	f.Add(Sign(testKey, testSample()))
	f.Fuzz(func(t *testing.T, token string) {
		s, err := Verify(testKey, token, testNow)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSignature) &&
				!errors.Is(err, ErrExpired) && !errors.Is(err, ErrAbsurd) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		if len(token) > MaxTokenSize || s.RTT < 0 || s.RTT > MaxRTT || !testNow.Before(s.Expires) ||
			s.Region == "" || s.Session == "" || s.Nonce == "" {
			t.Fatalf("accepted %q as %+v", token, s)
		}
		again, err := Verify(testKey, token, testNow)
		if err != nil || again != s {
			t.Fatalf("re-verify: %+v, %v; first %+v", again, err, s)
		}
	})
}

// TestFuzzSeedsSigned keeps the signed seeds signed: if testKey or testNow change, regenerate
// testdata/fuzz/FuzzVerify (each file is `go test fuzz v1` and one string(…) line).
func TestFuzzSeedsSigned(t *testing.T) {
	data, err := os.ReadFile("testdata/fuzz/FuzzVerify/valid")
	if err != nil {
		t.Fatal(err)
	}
	_, quoted, _ := strings.Cut(strings.TrimSpace(string(data)), "string(")
	token, err := strconv.Unquote(strings.TrimSuffix(quoted, ")"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(testKey, token, testNow); err != nil {
		t.Fatalf("the valid seed does not verify: %v", err)
	}
}
