package certs

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writePair(t *testing.T, dir, cn string) (string, string) {
	t.Helper()
	c, k, err := WriteSelfSignedForTest(dir, cn)
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

func subject(t *testing.T, r *Reloader) string {
	t.Helper()
	c, err := r.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.Subject.CommonName
}

// A renewed pair is picked up at the next check; a broken one leaves the old in use.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writePair(t, dir, "first")
	r, err := NewReloader(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	old := CheckInterval
	CheckInterval = 0
	defer func() { CheckInterval = old }()
	if got := subject(t, r); got != "first" {
		t.Fatalf("serving %q", got)
	}
	time.Sleep(10 * time.Millisecond) // a newer modification time
	writePair(t, dir, "renewed")
	if got := subject(t, r); got != "renewed" {
		t.Errorf("after renewal serving %q", got)
	}
	time.Sleep(10 * time.Millisecond)
	if err := os.WriteFile(keyFile, []byte("half written"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := subject(t, r); got != "renewed" {
		t.Errorf("with a broken key file serving %q, want the last good one", got)
	}
	if _, err := NewReloader(filepath.Join(dir, "none.pem"), keyFile); err == nil {
		t.Error("a missing certificate loaded")
	}
}
