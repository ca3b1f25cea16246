package studio

import (
	"fmt"
	"testing"
)

// FuzzParseAPIKey: any string is parsed without a panic, and only keys of the exact shape
// with a matching check pass.
func FuzzParseAPIKey(f *testing.F) {
	f.Add(newAPIKey("abcdefghijkl"))
	f.Add("ep_live_abcdefghijkl_")
	f.Add("")
	f.Add("ep_live_" + string(make([]byte, 51)))
	f.Fuzz(func(t *testing.T, key string) {
		id, err := ParseAPIKey(key)
		if err != nil {
			return
		}
		if len(key) != maxAPIKeyLen || len(id) != keyIDLen || key[:len(KeyPrefix)] != KeyPrefix ||
			check(key[:len(key)-checkLen]) != key[len(key)-checkLen:] {
			t.Fatalf("accepted %q (id %q)", key, id)
		}
	})
}

// BenchmarkRedeem is a join's token work against an in-process JetStream: the signature and
// claims, the studio and API key reads, and the single-use claim (a KV create).
func BenchmarkRedeem(b *testing.B) {
	ns, err := startBenchNATS(b)
	if err != nil {
		b.Fatal(err)
	}
	s := benchStore(b, ns)
	tk, err := NewTokens(b.Context(), s, quiet)
	if err != nil {
		b.Fatal(err)
	}
	defer tk.Close()
	st, _, err := s.Create(b.Context(), Spec{Name: ptr("bench"), Games: ptr([]string{"demo"})})
	if err != nil {
		b.Fatal(err)
	}
	toks := make([]string, b.N)
	for i := range toks {
		if toks[i], _, err = tk.Mint(st, st.Keys[0].ID, MintRequest{Game: "demo", PlayerID: "p"}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if _, _, err := tk.Redeem(b.Context(), toks[i], "demo", fmt.Sprint(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticate is a studio API request's key check: parse, read the key record,
// compare its hash, read the studio.
func BenchmarkAuthenticate(b *testing.B) {
	ns, err := startBenchNATS(b)
	if err != nil {
		b.Fatal(err)
	}
	s := benchStore(b, ns)
	_, key, err := s.Create(b.Context(), Spec{Name: ptr("bench")})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, _, err := s.Authenticate(b.Context(), key); err != nil {
			b.Fatal(err)
		}
	}
}
