package studio

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/internal/natsd"
	"github.com/edgeplay/edgeplay/jointoken"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testNATS is an in-process NATS with JetStream.
func testNATS(t *testing.T) *natsd.Server {
	t.Helper()
	ns, err := natsd.Start(natsd.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

func startBenchNATS(b *testing.B) (*natsd.Server, error) {
	b.Helper()
	ns, err := natsd.Start(natsd.Config{StoreDir: b.TempDir()})
	if err == nil {
		b.Cleanup(ns.Shutdown)
	}
	return ns, err
}

func benchStore(b *testing.B, ns *natsd.Server) *Store {
	b.Helper()
	nc, closeNC, err := natsd.Connect("", ns, "studio-bench", quiet)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(closeNC)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	s, err := Open(b.Context(), js, 1)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// openStore connects to ns and opens the store; the returned connection closes at cleanup.
func openStore(t *testing.T, ns *natsd.Server) (*Store, *nats.Conn) {
	t.Helper()
	nc, closeNC, err := natsd.Connect("", ns, "studio-test", quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeNC)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctxFor(t), js, 1)
	if err != nil {
		t.Fatal(err)
	}
	return s, nc
}

func ptr[T any](v T) *T { return &v }

func TestStudioLifecycle(t *testing.T) {
	s, _ := openStore(t, testNATS(t))
	ctx := ctxFor(t)
	st, key, err := s.Create(ctx, Spec{
		Name: ptr("Acme Games"), Games: ptr([]string{"paddle", "snake"}), MaxSessions: ptr(10),
		Origins: ptr([]string{"https://Play.Example.com:443", "http://localhost:5173", "https://play.example.com"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(st.ID, "st-") || len(st.Keys) != 1 || !strings.HasPrefix(key, KeyPrefix+st.Keys[0].ID+"_") {
		t.Fatalf("created %+v with key %q", st, key)
	}
	if want := []string{"https://play.example.com", "http://localhost:5173"}; strings.Join(st.Origins, " ") != strings.Join(want, " ") {
		t.Errorf("origins %v, want %v (normalised, deduplicated)", st.Origins, want)
	}
	if st.Keys[0].Last4 != key[len(key)-4:] {
		t.Errorf("last4 %q of key %q", st.Keys[0].Last4, key)
	}

	got, id, err := s.Authenticate(ctx, key)
	if err != nil || got.ID != st.ID || id != st.Keys[0].ID {
		t.Fatalf("authenticate: %+v %q %v", got, id, err)
	}
	up, err := s.Update(ctx, st.ID, Spec{MaxQueued: ptr(3), Games: ptr([]string{})})
	if err != nil || up.MaxQueued != 3 || up.MaxSessions != 10 || len(up.Games) != 0 || up.Name != "Acme Games" || len(up.Keys) != 1 {
		t.Fatalf("update: %+v %v", up, err)
	}
	if !up.AllowsGame("anything") {
		t.Error("a studio with no games listed allows none; want any")
	}

	second, key2, err := s.AddKey(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || len(list[0].Keys) != 2 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := s.RevokeKey(ctx, st.ID, st.Keys[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Authenticate(ctx, key); !errors.Is(err, ErrBadKey) {
		t.Errorf("revoked key: %v, want ErrBadKey", err)
	}
	if _, id, err := s.Authenticate(ctx, key2); err != nil || id != second.ID {
		t.Errorf("the second key after the first was revoked: %q %v", id, err)
	}
	if err := s.RevokeKey(ctx, "st-other", second.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoking through another studio: %v, want ErrNotFound", err)
	}

	if err := s.Delete(ctx, st.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Authenticate(ctx, key2); !errors.Is(err, ErrBadKey) {
		t.Errorf("key of a deleted studio: %v, want ErrBadKey", err)
	}
	if _, err := s.Show(ctx, st.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("show deleted: %v", err)
	}
	if err := s.Delete(ctx, st.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
	if list, err := s.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("list after delete: %+v %v", list, err)
	}
}

func TestStudioValidation(t *testing.T) {
	s, _ := openStore(t, testNATS(t))
	ctx := ctxFor(t)
	many := make([]string, MaxGames+1)
	for i := range many {
		many[i] = "g"
	}
	for name, spec := range map[string]Spec{
		"no name":              {},
		"blank name":           {Name: ptr("  ")},
		"control in the name":  {Name: ptr("a\x00b")},
		"bad game":             {Name: ptr("a"), Games: ptr([]string{"Bad Game"})},
		"too many games":       {Name: ptr("a"), Games: &many},
		"negative max":         {Name: ptr("a"), MaxSessions: ptr(-1)},
		"wildcard origin":      {Name: ptr("a"), Origins: ptr([]string{"https://*.example.com"})},
		"star origin":          {Name: ptr("a"), Origins: ptr([]string{"*"})},
		"origin with a path":   {Name: ptr("a"), Origins: ptr([]string{"https://example.com/play"})},
		"origin of a file":     {Name: ptr("a"), Origins: ptr([]string{"file:///tmp/x.html"})},
		"origin with userinfo": {Name: ptr("a"), Origins: ptr([]string{"https://u:p@example.com"})},
	} {
		if _, _, err := s.Create(ctx, spec); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	st, _, err := s.Create(ctx, Spec{Name: ptr("ok")})
	if err != nil {
		t.Fatal(err)
	}
	for range MaxKeys - 1 {
		if _, _, err := s.AddKey(ctx, st.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.AddKey(ctx, st.ID); !errors.Is(err, ErrTooManyKeys) {
		t.Errorf("key %d: %v, want ErrTooManyKeys", MaxKeys+1, err)
	}
	if _, err := s.Update(ctx, "st-nope", Spec{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("update unknown: %v", err)
	}
	if _, err := s.Get(ctx, "../x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("get a bad id: %v", err)
	}
}

func TestAPIKeyFormat(t *testing.T) {
	key := newAPIKey("abcdefghijkl")
	id, err := ParseAPIKey(key)
	if err != nil || id != "abcdefghijkl" {
		t.Fatalf("parse %q: %q %v", key, id, err)
	}
	flip := func(i int) string {
		b := []byte(key)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	for name, k := range map[string]string{
		"empty":          "",
		"other prefix":   "sk_live_" + key[len(KeyPrefix):],
		"cut":            key[:len(key)-1],
		"longer":         key + "x",
		"a typo":         flip(len(KeyPrefix) + keyIDLen + 5),
		"a typo, check":  flip(len(key) - 1),
		"bad character":  key[:len(key)-10] + "-" + key[len(key)-9:],
		"no separator":   strings.Replace(key, "_", "x", 2) + "",
		"admin token":    "0123456789abcdef0123456789abcdef",
		"bearer garbage": strings.Repeat("\xff", maxAPIKeyLen),
	} {
		if _, err := ParseAPIKey(k); !errors.Is(err, ErrBadKey) {
			t.Errorf("%s: %v, want ErrBadKey", name, err)
		}
	}
	if a, b := newAPIKey("abcdefghijkl"), newAPIKey("abcdefghijkl"); a == b {
		t.Error("two keys alike")
	}
}

// tokenSetup is a store with a studio for paddle and a Tokens (a gateway's signer).
func tokenSetup(t *testing.T) (*Store, *Tokens, Studio, string, *natsd.Server) {
	t.Helper()
	ns := testNATS(t)
	s, _ := openStore(t, ns)
	tk, err := NewTokens(ctxFor(t), s, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tk.Close)
	st, _, err := s.Create(ctxFor(t), Spec{Name: ptr("Acme"), Games: ptr([]string{"paddle"})})
	if err != nil {
		t.Fatal(err)
	}
	return s, tk, st, st.Keys[0].ID, ns
}

func TestTokenLife(t *testing.T) {
	s, tk, st, keyID, ns := tokenSetup(t)
	ctx := ctxFor(t)
	req := MintRequest{Game: "paddle", PlayerID: "p-1", DisplayName: "Ada", Payload: `{"team":"red"}`}
	tok, minted, err := tk.Mint(st, keyID, req)
	if err != nil {
		t.Fatal(err)
	}
	c, got, err := tk.Redeem(ctx, tok, "", "join-1")
	if err != nil || c.ID != minted.ID || c.Player != "p-1" || string(c.Payload) != `{"team":"red"}` || got.ID != st.ID || c.Key != keyID {
		t.Fatalf("redeem: %+v %+v %v", c, got, err)
	}
	if _, _, err := tk.Redeem(ctx, tok, "paddle", "join-2"); !errors.Is(err, ErrTokenUsed) {
		t.Errorf("replay: %v, want ErrTokenUsed", err)
	}
	if _, _, err := tk.Redeem(ctx, tok, "", "join-1"); err != nil {
		t.Errorf("the same join again (its reply lost): %v, want accepted", err)
	}

	// A second replica (its own signing key) verifies the first's tokens, and the other way.
	s2, _ := openStore(t, ns)
	tk2, err := NewTokens(ctx, s2, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer tk2.Close()
	tokA, _, _ := tk.Mint(st, keyID, req)
	tokB, _, _ := tk2.Mint(st, keyID, req)
	if _, _, err := tk2.Redeem(ctx, tokA, "paddle", "j-a"); err != nil {
		t.Errorf("replica 2 redeems replica 1's token: %v", err)
	}
	if _, _, err := tk.Redeem(ctx, tokB, "paddle", "j-b"); err != nil {
		t.Errorf("replica 1 redeems replica 2's token: %v", err)
	}

	mint := func() string {
		t.Helper()
		tok, _, err := tk.Mint(st, keyID, req)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if _, _, err := tk.Redeem(ctx, mint(), "snake", "j-c"); !errors.Is(err, ErrGameMismatch) {
		t.Errorf("another game: %v, want ErrGameMismatch", err)
	}
	forged := mint()
	forged = forged[:len(forged)-4] + "AAAA"
	if _, _, err := tk.Redeem(ctx, forged, "", "j-d"); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("bad signature: %v, want ErrTokenInvalid", err)
	}
	if _, _, err := tk.Redeem(ctx, "garbage", "", "j-e"); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("garbage: %v, want ErrTokenInvalid", err)
	}
	// Signed by a key nobody published.
	stranger, _ := NewTokens(ctx, s, quiet)
	stranger.Close()
	_ = s.signing.Delete(ctx, stranger.kid)
	strangeTok, _, _ := stranger.Mint(st, keyID, req)
	if _, _, err := tk.Redeem(ctx, strangeTok, "", "j-f"); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("unknown signing key: %v, want ErrTokenInvalid", err)
	}

	// Expired: the verifier's clock past exp + leeway.
	old := mint()
	tk.now = func() time.Time { return time.Now().Add(jointoken.DefaultTTL + jointoken.Leeway + time.Second) }
	if _, _, err := tk.Redeem(ctx, old, "", "j-g"); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("expired: %v, want ErrTokenExpired", err)
	}
	tk.now = time.Now

	// The game leaves the studio's list; the key is revoked; the studio is deleted.
	pending := mint()
	if _, err := s.Update(ctx, st.ID, Spec{Games: ptr([]string{"snake"})}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tk.Redeem(ctx, pending, "", "j-h"); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("game no longer the studio's: %v, want ErrTokenInvalid", err)
	}
	if _, _, err := tk.Mint(st, keyID, req); err != nil {
		t.Errorf("mint with the studio as read before the update: %v", err)
	}
	st, _ = s.Get(ctx, st.ID)
	if _, _, err := tk.Mint(st, keyID, req); !errors.Is(err, ErrGameForbidden) {
		t.Errorf("mint for a game not the studio's: %v, want ErrGameForbidden", err)
	}
	req.Game = "snake"
	pending = mint()
	if err := s.RevokeKey(ctx, st.ID, keyID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tk.Redeem(ctx, pending, "", "j-i"); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("minted by a revoked key: %v, want ErrTokenInvalid", err)
	}
	info, _, err := s.AddKey(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	pending, _, _ = tk.Mint(st, info.ID, req)
	if err := s.Delete(ctx, st.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tk.Redeem(ctx, pending, "", "j-j"); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("studio deleted: %v, want ErrTokenInvalid", err)
	}
}

// A signing key whose promise ran out longer ago than any token lives no longer verifies.
func TestRetiredSigningKey(t *testing.T) {
	_, tk, st, keyID, _ := tokenSetup(t)
	tok, _, err := tk.Mint(st, keyID, MintRequest{Game: "paddle", PlayerID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(signingPromise + jointoken.MaxTTL + jointoken.Leeway + time.Minute)
	tk.now = func() time.Time { return later }
	if _, _, err := tk.Redeem(ctxFor(t), tok, "", "j"); !errors.Is(err, ErrTokenInvalid) || !strings.Contains(err.Error(), "retired") {
		t.Errorf("retired key: %v, want ErrTokenInvalid (retired)", err)
	}
}

// Two replicas redeem the same token at once: exactly one join gets it.
func TestTokenSingleUseAcrossReplicas(t *testing.T) {
	_, tk, st, keyID, ns := tokenSetup(t)
	s2, _ := openStore(t, ns)
	tk2, err := NewTokens(ctxFor(t), s2, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer tk2.Close()
	for round := range 20 {
		tok, _, err := tk.Mint(st, keyID, MintRequest{Game: "paddle", PlayerID: "p"})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, r := range []*Tokens{tk, tk2} {
			wg.Go(func() { _, _, errs[i] = r.Redeem(ctxFor(t), tok, "paddle", "replica-"+string(rune('a'+i))) })
		}
		wg.Wait()
		ok, used := 0, 0
		for _, e := range errs {
			switch {
			case e == nil:
				ok++
			case errors.Is(e, ErrTokenUsed):
				used++
			default:
				t.Fatalf("round %d: %v", round, e)
			}
		}
		if ok != 1 || used != 1 {
			t.Fatalf("round %d: %d joins got the token, %d were refused as used; want 1 and 1", round, ok, used)
		}
	}
}

// The store gone: a redeem fails closed (ErrUnavailable), never lets the token through.
func TestRedeemFailsClosed(t *testing.T) {
	other, nc := openStore(t, testNATS(t))
	tk, err := NewTokens(ctxFor(t), other, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer tk.Close()
	st, _, err := other.Create(ctxFor(t), Spec{Name: ptr("Acme")})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := tk.Mint(st, st.Keys[0].ID, MintRequest{Game: "paddle", PlayerID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, _, err := tk.Redeem(ctx, tok, "", "j"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("store unreachable: %v, want ErrUnavailable", err)
	}
	if _, _, err := other.Authenticate(ctx, "ep_live_"+strings.Repeat("a", maxAPIKeyLen-len(KeyPrefix))); err == nil {
		t.Error("authenticate with the store unreachable succeeded")
	}
}

// Signing keys rotate by themselves: a gateway that restarts signs with a new key, and the
// tokens its old key signed still join until they expire.
func TestSigningKeyRotation(t *testing.T) {
	s, old, st, keyID, _ := tokenSetup(t)
	tok, _, err := old.Mint(st, keyID, MintRequest{Game: "paddle", PlayerID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	old.Close() // the gateway restarts
	next, err := NewTokens(ctxFor(t), s, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if next.KeyID() == old.KeyID() {
		t.Fatal("the restarted gateway signs with the same key")
	}
	if _, _, err := next.Redeem(ctxFor(t), tok, "paddle", "j1"); err != nil {
		t.Errorf("a token of the previous key: %v, want accepted", err)
	}
	fresh, _, _ := next.Mint(st, keyID, MintRequest{Game: "paddle", PlayerID: "p"})
	kid, _ := jointoken.KeyID(fresh)
	if kid != next.KeyID() {
		t.Errorf("minted with %q, want the new key %q", kid, next.KeyID())
	}
}
