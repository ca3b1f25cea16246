package turn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/transport/v5/test"
	pionturn "github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgeplay/edgeplay/internal/metrics"
)

// testClock is a settable clock for the server's credential checks.
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *testClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *testClock) add(d time.Duration) { c.ns.Add(int64(d)) }

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func loopback() netip.Addr      { return netip.MustParseAddr("127.0.0.1") }

// secretCfg gives c the test secret and clock.
func secretCfg(c *Config, clock *testClock) { c.Secret, c.NowForTest = testSecret, clock.now }

// Metric readers.
func counter(reason string) float64 {
	return testutil.ToFloat64(metrics.TURNRejected.WithLabelValues(reason))
}

func bytesRelayed(dir string) float64 {
	return testutil.ToFloat64(metrics.TURNRelayedBytes.WithLabelValues(dir))
}

func allocsTotal(transport string) float64 {
	return testutil.ToFloat64(metrics.TURNAllocations.WithLabelValues(transport))
}

func allocsActive(transport string) float64 {
	return testutil.ToFloat64(metrics.TURNAllocationsActive.WithLabelValues(transport))
}

// startServer starts a TURN server on loopback that may relay to loopback peers, and closes
// it at cleanup.
func startServer(t *testing.T, clock *testClock, edit func(*Config)) *Server {
	t.Helper()
	cfg := Config{
		Addr: "127.0.0.1:0", AllowLoopbackPeers: true, MinPort: 40000, MaxPort: 40999,
		Logger: quietLogger(),
	}
	secretCfg(&cfg, clock)
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// client is a pion TURN client over one transport.
type client struct {
	*pionturn.Client
	conn net.PacketConn
}

func (c *client) close() {
	c.Close()
	_ = c.conn.Close()
}

// dial connects a TURN client to s over transport (udp, tcp, tls) with the given credentials.
func dial(t *testing.T, s *Server, transport, user, pass string) *client {
	t.Helper()
	addr := s.Addr().String()
	var conn net.PacketConn
	switch transport {
	case "udp":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conn = c
	case "tcp":
		c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn = pionturn.NewSTUNConn(c)
	case "tls":
		addr = s.TLSAddr().String()
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // the test's self-signed certificate
		c, err := d.DialContext(context.Background(), "tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn = pionturn.NewSTUNConn(c)
	}
	cl, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: user, Password: pass, Realm: DefaultRealm, RTO: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Listen(); err != nil {
		t.Fatal(err)
	}
	c := &client{Client: cl, conn: conn}
	t.Cleanup(c.close)
	return c
}

func creds(t *testing.T, session string, ttl time.Duration, now time.Time) (string, string) {
	t.Helper()
	u, p, err := Credentials(testSecret, session, ttl, now)
	if err != nil {
		t.Fatal(err)
	}
	return u, p
}

// echoPeer is a UDP socket on loopback that sends back what it receives, standing in for a
// session host.
func echoPeer(t *testing.T) net.Addr {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(buf[:n], from)
		}
	})
	t.Cleanup(func() { _ = pc.Close(); wg.Wait() })
	return pc.LocalAddr()
}

// roundTrip sends msg to peer through the relay and reads the echo.
func roundTrip(t *testing.T, relay net.PacketConn, peer net.Addr, msg []byte) {
	t.Helper()
	if _, err := relay.WriteTo(msg, peer); err != nil {
		t.Fatalf("write through the relay: %v", err)
	}
	_ = relay.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, from, err := relay.ReadFrom(buf)
	if err != nil {
		t.Fatalf("read the echo through the relay: %v", err)
	}
	if string(buf[:n]) != string(msg) || from.String() != peer.String() {
		t.Fatalf("echo %q from %v, want %q from %v", buf[:n], from, msg, peer)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAllocateAndRelay(t *testing.T) {
	for _, transport := range []string{"udp", "tcp", "tls"} {
		t.Run(transport, func(t *testing.T) {
			t.Cleanup(test.CheckRoutines(t)) // registered first: runs after the other cleanups
			clock := newTestClock()
			s := startServer(t, clock, func(c *Config) {
				if transport == "tls" {
					c.CertFile, c.KeyFile = selfSigned(t)
					c.TLSAddr = "127.0.0.1:0"
				}
			})
			peer := echoPeer(t)
			user, pass := creds(t, "sess-"+transport, time.Hour, clock.now())
			c := dial(t, s, transport, user, pass)
			total0, toPeer0, fromPeer0 := allocsTotal(transport), bytesRelayed("to_peer"), bytesRelayed("from_peer")

			relay, err := c.Allocate()
			if err != nil {
				t.Fatalf("Allocate: %v", err)
			}
			if got := relay.LocalAddr().(*net.UDPAddr); !got.IP.Equal(net.IPv4(127, 0, 0, 1)) || got.Port < 40000 || got.Port > 40999 {
				t.Errorf("relay address %v, want 127.0.0.1 in the port range 40000-40999", got)
			}
			if n := s.Allocations(); n != 1 {
				t.Errorf("%d allocations, want 1", n)
			}
			if d := allocsTotal(transport) - total0; d != 1 {
				t.Errorf("edgeplay_turn_allocations_total{transport=%q} grew by %v, want 1", transport, d)
			}
			if allocsActive(transport) < 1 {
				t.Errorf("edgeplay_turn_allocations_active{transport=%q} is %v", transport, allocsActive(transport))
			}
			msg := []byte("a frame of video, more or less")
			for range 3 {
				roundTrip(t, relay, peer, msg)
			}
			// The relay counts a packet after its write returns, which may be after the echo
			// has come back.
			waitFor(t, "the relayed bytes to be counted", func() bool {
				return bytesRelayed("to_peer")-toPeer0 >= float64(3*len(msg)) &&
					bytesRelayed("from_peer")-fromPeer0 >= float64(3*len(msg))
			})

			_ = relay.Close() // Refresh with lifetime 0: the server deletes the allocation
			waitFor(t, "the allocation to be deleted", func() bool { return s.Allocations() == 0 })
			c.close()
		})
	}
}

// The same port serves UDP and TCP, also when the port is picked (port 0).
func TestOnePortForUDPAndTCP(t *testing.T) {
	s := startServer(t, newTestClock(), nil)
	c, err := net.DialTimeout("tcp4", s.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatalf("TCP on the UDP port %s: %v", s.Addr(), err)
	}
	_ = c.Close()
}

func TestAllocateRefused(t *testing.T) {
	clock := newTestClock()
	s := startServer(t, clock, nil)
	now := clock.now()
	good, _ := creds(t, "sess-1", time.Hour, now)
	expired, expiredPass := creds(t, "sess-1", -time.Minute, now)
	tests := []struct {
		name, user, pass, reason string
	}{
		{"expired", expired, expiredPass, "expired"},
		{"wrong password", good, Password([]byte("some other secret of 32 bytes..."), good), "bad_password"},
		{"malformed username", "sess-1", Password(testSecret, "sess-1"), "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := counter(tt.reason)
			c := dial(t, s, "udp", tt.user, tt.pass)
			if relay, err := c.Allocate(); err == nil {
				_ = relay.Close()
				t.Fatal("Allocate succeeded")
			}
			if counter(tt.reason) <= before {
				t.Errorf("edgeplay_turn_rejected_total{reason=%q} did not grow", tt.reason)
			}
			if n := s.Allocations(); n != 0 {
				t.Errorf("%d allocations, want 0", n)
			}
		})
	}
}

func TestQuota(t *testing.T) {
	clock := newTestClock()
	s := startServer(t, clock, func(c *Config) { c.MaxUserAllocations, c.MaxAllocations = 2, 3 })
	alloc := func(session string) error {
		u, p := creds(t, session, time.Hour, clock.now())
		relay, err := dial(t, s, "udp", u, p).Allocate()
		if err == nil {
			t.Cleanup(func() { _ = relay.Close() })
		}
		return err
	}
	for i := range 2 {
		if err := alloc("sess-a"); err != nil {
			t.Fatalf("allocation %d of sess-a: %v", i+1, err)
		}
	}
	quota := counter("quota")
	if err := alloc("sess-a"); err == nil {
		t.Fatal("a third allocation of sess-a succeeded; the per-session limit is 2")
	}
	if counter("quota") <= quota {
		t.Error("the refusal was not counted as quota")
	}
	if err := alloc("sess-b"); err != nil {
		t.Fatalf("sess-b: %v", err)
	}
	capacity := counter("capacity")
	if err := alloc("sess-c"); err == nil {
		t.Fatal("a fourth allocation succeeded; the server's limit is 3")
	}
	if counter("capacity") <= capacity {
		t.Error("the refusal was not counted as capacity")
	}
}

// A relay may not reach loopback peers unless allowed (edgeplay up), nor peers outside
// AllowedPeers.
func TestPeerFilter(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*Config)
	}{
		{"loopback", func(c *Config) { c.AllowLoopbackPeers = false }},
		{"not allowed", func(c *Config) { c.AllowedPeers = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			s := startServer(t, clock, tt.edit)
			u, p := creds(t, "sess-1", time.Hour, clock.now())
			relay, err := dial(t, s, "udp", u, p).Allocate()
			if err != nil {
				t.Fatal(err)
			}
			defer relay.Close()
			before := counter("peer")
			if _, err := relay.WriteTo([]byte("x"), echoPeer(t)); err == nil {
				t.Fatal("the relay sent to a refused peer")
			}
			if counter("peer") <= before {
				t.Error("the refusal was not counted as peer")
			}
		})
	}
	cfg := Config{AllowedPeers: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	for ip, want := range map[string]bool{
		"10.1.2.3": true, "192.168.1.1": false, "127.0.0.1": false, "0.0.0.0": false,
		"224.0.0.1": false, "169.254.1.1": false, "255.255.255.255": false, "fe80::1": false,
	} {
		if got := cfg.peerAllowed(netip.MustParseAddr(ip)); got != want {
			t.Errorf("peerAllowed(%s) = %v, want %v", ip, got, want)
		}
	}
}

// Credentials that expire while the allocation is open keep it working (a new permission is
// granted) within RefreshGrace; a new allocation with them is refused.
func TestRefreshGrace(t *testing.T) {
	for _, tt := range []struct {
		name  string
		grace time.Duration
		ok    bool
	}{
		{"within the grace", 0, true}, // default 24 h
		{"no grace", -1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			s := startServer(t, clock, func(c *Config) { c.RefreshGrace = tt.grace })
			u, p := creds(t, "sess-1", time.Minute, clock.now())
			c := dial(t, s, "udp", u, p)
			relay, err := c.Allocate()
			if err != nil {
				t.Fatal(err)
			}
			defer relay.Close()
			clock.add(time.Hour) // the credentials have expired
			_, err = relay.WriteTo([]byte("x"), echoPeer(t))
			if (err == nil) != tt.ok {
				t.Fatalf("CreatePermission after expiry: err %v, want ok=%v", err, tt.ok)
			}
			if _, err := dial(t, s, "udp", u, p).Allocate(); err == nil {
				t.Fatal("a new allocation with expired credentials succeeded")
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	clock := newTestClock()
	s := startServer(t, clock, nil)
	now := clock.now()
	u, _ := creds(t, "sess-1", time.Minute, now)
	for _, tt := range []struct {
		name   string
		realm  string
		method stun.Method
		after  time.Duration
		ok     bool
	}{
		{"allocate", DefaultRealm, stun.MethodAllocate, 0, true},
		{"allocate expired", DefaultRealm, stun.MethodAllocate, 2 * time.Minute, false},
		{"refresh expired", DefaultRealm, stun.MethodRefresh, 2 * time.Minute, true},
		{"channel bind expired", DefaultRealm, stun.MethodChannelBind, 2 * time.Minute, true},
		{"refresh past the grace", DefaultRealm, stun.MethodRefresh, 25 * time.Hour, false},
		{"wrong realm", "other", stun.MethodAllocate, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock.ns.Store(now.Add(tt.after).UnixNano())
			session, key, ok := s.authenticate(&pionturn.RequestAttributes{Username: u, Realm: tt.realm, Method: tt.method})
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if ok && (session != "sess-1" || len(key) == 0) {
				t.Fatalf("session %q, key %x", session, key)
			}
		})
	}
}

// Close ends TCP and TLS connections pion would keep (with and without an allocation, and one
// stuck before its TLS handshake) and waits for them: no goroutine is left.
func TestCloseEndsEverything(t *testing.T) {
	t.Cleanup(test.CheckRoutines(t)) // registered first: runs after the other cleanups
	clock := newTestClock()
	cert, key := selfSigned(t)
	cfg := Config{
		Addr: "127.0.0.1:0", TLSAddr: "127.0.0.1:0", CertFile: cert, KeyFile: key, RelayIP: loopback(),
		AllowLoopbackPeers: true, Logger: quietLogger(),
	}
	secretCfg(&cfg, clock)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	u, p := creds(t, "sess-1", time.Hour, clock.now())
	var relays []net.PacketConn
	for _, transport := range []string{"udp", "tcp", "tls"} {
		relay, err := dial(t, s, transport, u, p).Allocate()
		if err != nil {
			t.Fatalf("%s: %v", transport, err)
		}
		relays = append(relays, relay)
	}
	idle, err := net.Dial("tcp4", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	noHandshake, err := net.Dial("tcp4", s.TLSAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer noHandshake.Close()
	waitFor(t, "5 connections", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.conns) == 4 // tcp, tls, idle, noHandshake
	})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := s.Allocations(); n != 0 {
		t.Errorf("%d allocations after Close", n)
	}
	if err := s.Close(ctx); err != nil { // idempotent
		t.Errorf("second Close: %v", err)
	}
	for _, r := range relays {
		_ = r.Close()
	}
	// The idle connection was closed by the server.
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("idle connection: read %v, want EOF", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
	}{
		{"no secret", Config{Addr: "127.0.0.1:0"}},
		{"short secret", Config{Addr: "127.0.0.1:0", Secret: []byte("short")}},
		{"no relay IP", Config{Addr: ":0", Secret: testSecret}},
		{"IPv6 relay IP", Config{Addr: ":0", Secret: testSecret, RelayIP: netip.MustParseAddr("2001:db8::1")}},
		{"cert without key", Config{Addr: "127.0.0.1:0", Secret: testSecret, CertFile: "x.pem"}},
		{"bad port range", Config{Addr: "127.0.0.1:0", Secret: testSecret, MinPort: 10, MaxPort: 5}},
		{"bad address", Config{Addr: "nowhere", Secret: testSecret}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if err == nil {
				_ = s.Close(context.Background())
				t.Fatal("New succeeded")
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("error %v does not wrap ErrConfig", err)
			}
		})
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and returns the file names.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "edgeplay turn test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
