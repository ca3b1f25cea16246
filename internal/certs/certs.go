// Package certs serves a TLS certificate from PEM files and reads them again when they change,
// so that a renewed certificate (Let's Encrypt: every 60 days) needs no restart: the gateway's
// players and the TURN server's relays keep their connections.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// CheckInterval is how often the files are looked at for a renewal; a variable for tests.
var CheckInterval = time.Minute

// Reloader holds the certificate of a pair of PEM files.
type Reloader struct {
	certFile, keyFile string

	mu      sync.Mutex
	cert    *tls.Certificate // guarded by mu
	mod     time.Time        // guarded by mu: the newer of the files' modification times
	checked time.Time        // guarded by mu
}

// NewReloader loads the pair; it fails when the files cannot be read or do not match.
func NewReloader(certFile, keyFile string) (*Reloader, error) {
	r := &Reloader{certFile: certFile, keyFile: keyFile}
	mod, err := r.modTime()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	r.cert, r.mod, r.checked = &cert, mod, time.Now()
	return r, nil
}

func (r *Reloader) modTime() (time.Time, error) {
	var newest time.Time
	for _, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return time.Time{}, fmt.Errorf("TLS certificate: %w", err)
		}
		if fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
	}
	return newest, nil
}

// GetCertificate is tls.Config.GetCertificate. A renewed pair that fails to load (a
// half-written file) leaves the old certificate in use until the next check.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) < CheckInterval {
		return r.cert, nil
	}
	r.checked = time.Now()
	mod, err := r.modTime()
	if err != nil || !mod.After(r.mod) {
		return r.cert, nil //nolint:nilerr // keep serving the certificate we have
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return r.cert, nil //nolint:nilerr // as above; retried at the next check
	}
	r.cert, r.mod = &cert, mod
	return r.cert, nil
}

// ServerConfig is a TLS server configuration on r: TLS 1.2 and later, HTTP/1.1.
func (r *Reloader) ServerConfig() *tls.Config {
	return &tls.Config{GetCertificate: r.GetCertificate, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
}

// WriteSelfSignedForTest writes a self-signed certificate for localhost and 127.0.0.1, named
// cn, valid for an hour, and its key, as cert.pem and key.pem in dir.
func WriteSelfSignedForTest(dir, cn string) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}
