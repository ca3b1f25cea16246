package turn

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"
)

// certCheckInterval is how often the certificate files are looked at for a renewal.
const certCheckInterval = time.Minute

// certReloader serves a certificate from PEM files and reads them again when they change, so
// that a renewed certificate (Let's Encrypt: every 60 days) needs no restart, which would end
// every relayed session.
type certReloader struct {
	certFile, keyFile string

	mu      sync.Mutex
	cert    *tls.Certificate // guarded by mu
	mod     time.Time        // guarded by mu: the newer of the files' modification times
	checked time.Time        // guarded by mu
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile}
	mod, err := r.modTime()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: TLS certificate: %w", ErrConfig, err)
	}
	r.cert, r.mod, r.checked = &cert, mod, time.Now()
	return r, nil
}

func (r *certReloader) modTime() (time.Time, error) {
	var newest time.Time
	for _, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: TLS certificate: %w", ErrConfig, err)
		}
		if fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
	}
	return newest, nil
}

// get is tls.Config.GetCertificate. A renewed pair that fails to load (a half-written file)
// leaves the old certificate in use until the next check.
func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) < certCheckInterval {
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
