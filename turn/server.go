package turn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"

	"github.com/edgeplay/edgeplay/internal/certs"
	"github.com/edgeplay/edgeplay/internal/metrics"
	"github.com/edgeplay/edgeplay/internal/pionlog"
)

// Server is a TURN server: pion/turn's protocol engine with edgeplay's credentials, limits,
// metrics and shutdown around it.
//
// pion/turn starts its own goroutines (one read loop per listener and per TCP connection, one
// per allocation) and its Close only closes the listeners. The Server owns them through what
// they hold: it tracks every TCP and TLS connection and every relay socket, closes them on
// Close, and waits until pion has let go of each (a connection is released when pion closes
// it after its read loop ends, a relay socket when pion closes its allocation).
//
// Lock order: mu only; it is never held while calling into pion.
type Server struct {
	cfg  Config
	log  *slog.Logger
	pion *pionturn.Server
	udp  net.PacketConn
	tcp  net.Listener
	tls  *tlsListener // nil without a certificate

	wg sync.WaitGroup // the TLS accept loop and handshakes

	mu      sync.Mutex
	closing bool                  // guarded by mu
	conns   map[*trackedConn]bool // guarded by mu: TCP and TLS connections open
	allocs  int                   // guarded by mu: relay sockets open
	byUser  map[string]int        // guarded by mu: relay sockets open per session

	closeOnce sync.Once
	closeErr  error
}

// New starts a TURN server: it listens on cfg.Addr (UDP and TCP) and, with a certificate, on
// cfg.TLSAddr (TLS). Close stops it.
func New(cfg Config) (s *Server, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s = &Server{
		cfg: cfg, log: cfg.Logger.With("role", "turn"),
		conns: map[*trackedConn]bool{}, byUser: map[string]int{},
	}
	defer func() {
		if err != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = s.Close(ctx)
			s = nil
		}
	}()
	udp, tcp, err := listenPair(cfg.Addr)
	if err != nil {
		return s, err
	}
	s.udp, s.tcp = udp, &tcpListener{Listener: tcp, s: s}
	sc := pionturn.ServerConfig{
		PacketConnConfigs: []pionturn.PacketConnConfig{{
			PacketConn: udp, RelayAddressGenerator: s.relayGenerator("udp"), PermissionHandler: s.permit,
		}},
		ListenerConfigs: []pionturn.ListenerConfig{{
			Listener: s.tcp, RelayAddressGenerator: s.relayGenerator("tcp"), PermissionHandler: s.permit,
		}},
		LoggerFactory:      pionlog.Factory{Logger: s.log},
		Realm:              cfg.Realm,
		AuthHandler:        s.authenticate,
		QuotaHandler:       s.quota,
		AllocationLifetime: AllocationLifetime,
		EventHandler: pionturn.EventHandler{
			OnAuth: func(src, _ net.Addr, _, username, _, method string, ok bool) {
				if !ok { // the auth handler accepted the username; the message integrity failed
					metrics.TURNRejected.WithLabelValues("bad_password").Inc()
					s.log.Debug("TURN request refused: wrong password", "client", src.String(), "username", username, "method", method)
				}
			},
		},
	}
	if cfg.CertFile != "" {
		reloader, err := certs.NewReloader(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return s, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		var lc net.ListenConfig
		raw, err := lc.Listen(context.Background(), "tcp", cfg.TLSAddr)
		if err != nil {
			return s, fmt.Errorf("turn: listen tls %s: %w", cfg.TLSAddr, err)
		}
		s.tls = newTLSListener(s, raw, &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: reloader.GetCertificate})
		sc.ListenerConfigs = append(sc.ListenerConfigs, pionturn.ListenerConfig{
			Listener: s.tls, RelayAddressGenerator: s.relayGenerator("tls"), PermissionHandler: s.permit,
		})
	}
	s.pion, err = pionturn.NewServer(sc)
	if err != nil {
		return s, fmt.Errorf("turn: %w", err)
	}
	attrs := []any{
		"addr", s.Addr().String(), "relay_ip", cfg.RelayIP.String(),
		"relay_ports", fmt.Sprintf("%d-%d", cfg.MinPort, cfg.MaxPort), "realm", cfg.Realm,
	}
	if s.tls != nil {
		attrs = append(attrs, "tls_addr", s.tls.Addr().String())
	}
	s.log.Info("TURN server listening", attrs...)
	return s, nil
}

// listenPair listens on addr over UDP and TCP with one port. Port 0 picks one free for both.
func listenPair(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("turn: address %q: %w", addr, err)
	}
	var lc net.ListenConfig
	ctx := context.Background()
	for try := 0; ; try++ {
		udp, err := lc.ListenPacket(ctx, "udp4", net.JoinHostPort(host, port))
		if err != nil {
			return nil, nil, fmt.Errorf("turn: listen udp %s: %w", addr, err)
		}
		p := strconv.Itoa(udp.LocalAddr().(*net.UDPAddr).Port)
		tcp, err := lc.Listen(ctx, "tcp4", net.JoinHostPort(host, p))
		if err == nil {
			return udp, tcp, nil
		}
		_ = udp.Close()
		if port != "0" || try == 20 { // a chosen port is busy over TCP; or no luck
			return nil, nil, fmt.Errorf("turn: listen tcp %s: %w", net.JoinHostPort(host, p), err)
		}
	}
}

// Addr is the UDP and TCP address the server listens on.
func (s *Server) Addr() net.Addr { return s.udp.LocalAddr() }

// TLSAddr is the TLS address, or nil without a certificate.
func (s *Server) TLSAddr() net.Addr {
	if s.tls == nil {
		return nil
	}
	return s.tls.Addr()
}

// RelayIP is the address relays are advertised at (Config.RelayIP, or the listen address's).
func (s *Server) RelayIP() netip.Addr { return s.cfg.RelayIP }

// Allocations is the number of relay allocations open.
func (s *Server) Allocations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.allocs
}

// Close stops the server: it closes the listeners, every TCP and TLS connection and every
// allocation, and waits until pion's goroutines have let go of them, or ctx ends. It is
// idempotent.
func (s *Server) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		var errs []error
		if s.pion != nil {
			// Closes the UDP socket and the listeners; pion's read loops end and close the
			// allocations they manage.
			if err := s.pion.Close(); err != nil {
				errs = append(errs, err)
			}
		} else { // New failed half way
			if s.udp != nil {
				_ = s.udp.Close()
			}
			if s.tcp != nil {
				_ = s.tcp.Close()
			}
			if s.tls != nil {
				_ = s.tls.Close()
			}
		}
		s.mu.Lock()
		conns := make([]*trackedConn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		for _, c := range conns {
			_ = c.Conn.Close() // pion's read loop ends, deletes the allocation and closes it
		}
		if err := s.waitReleased(ctx); err != nil {
			errs = append(errs, err)
		}
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("turn: close: %w", ctx.Err()))
		}
		s.closeErr = errors.Join(errs...)
		s.log.Info("TURN server stopped")
	})
	return s.closeErr
}

// waitReleased waits until pion has closed every connection and relay socket.
func (s *Server) waitReleased(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		conns, allocs := len(s.conns), s.allocs
		s.mu.Unlock()
		if conns == 0 && allocs == 0 {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("turn: close: %d connections and %d allocations still open: %w", conns, allocs, ctx.Err())
		}
	}
}

// now is the clock of credential checks.
func (s *Server) now() time.Time {
	if s.cfg.NowForTest != nil {
		return s.cfg.NowForTest()
	}
	return time.Now()
}

// authenticate is pion's AuthHandler: it parses the username, checks its expiry and realm,
// and returns the key of the password the username should have; pion checks the request's
// message integrity with it (a wrong password fails there: OnAuth). The user id is the
// session.
func (s *Server) authenticate(ra *pionturn.RequestAttributes) (string, []byte, bool) {
	session, expiry, err := ParseUsername(ra.Username)
	if err != nil {
		metrics.TURNRejected.WithLabelValues("malformed").Inc()
		s.log.Debug("TURN request refused", "client", addrString(ra.SrcAddr), "err", err)
		return "", nil, false
	}
	if ra.Realm != s.cfg.Realm {
		metrics.TURNRejected.WithLabelValues("realm").Inc()
		s.log.Debug("TURN request refused: wrong realm", "client", addrString(ra.SrcAddr), "session", session)
		return "", nil, false
	}
	if now := s.now(); now.Unix() > expiry.Unix() {
		// A new allocation needs live credentials; requests on an existing one (pion finds
		// it by 5-tuple and user) may use them for RefreshGrace longer.
		if ra.Method == stun.MethodAllocate || s.cfg.RefreshGrace < 0 || now.After(expiry.Add(s.cfg.RefreshGrace)) {
			metrics.TURNRejected.WithLabelValues("expired").Inc()
			s.log.Debug("TURN request refused: credentials expired", "client", addrString(ra.SrcAddr),
				"session", session, "method", ra.Method.String(), "expired", expiry.UTC())
			return "", nil, false
		}
	}
	return session, pionturn.GenerateAuthKey(ra.Username, ra.Realm, Password(s.cfg.Secret, ra.Username)), true
}

// quota is pion's QuotaHandler, asked before an allocation is made: 486 Allocation Quota
// Reached when the session has MaxUserAllocations or the server MaxAllocations.
func (s *Server) quota(session, _ string, src net.Addr) bool {
	s.mu.Lock()
	reason := s.limitLocked(session)
	s.mu.Unlock()
	if reason != "" {
		metrics.TURNRejected.WithLabelValues(reason).Inc()
		s.log.Debug("TURN allocation refused", "reason", reason, "session", session, "client", addrString(src))
		return false
	}
	return true
}

// limitLocked says why session may not have another allocation now ("" if it may).
func (s *Server) limitLocked(session string) string {
	switch {
	case s.closing, s.allocs >= s.cfg.MaxAllocations:
		return "capacity"
	case s.byUser[session] >= s.cfg.MaxUserAllocations:
		return "quota"
	}
	return ""
}

// permit is pion's PermissionHandler: which peers a client may relay to.
func (s *Server) permit(client net.Addr, peer net.IP) bool {
	ip, ok := netip.AddrFromSlice(peer)
	if ok && s.cfg.peerAllowed(ip) {
		return true
	}
	metrics.TURNRejected.WithLabelValues("peer").Inc()
	s.log.Debug("TURN permission refused", "client", addrString(client), "peer", peer.String())
	return false
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
