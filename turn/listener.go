package turn

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/edgeplay/edgeplay/internal/metrics"
)

// idleTimeout closes a TCP or TLS connection that has been silent this long: it cannot hold
// a live allocation (a client refreshes before AllocationLifetime ends), and pion would keep
// it, and its goroutine, forever.
const idleTimeout = AllocationLifetime + time.Minute

// handshakeTimeout bounds a TLS handshake.
const handshakeTimeout = 10 * time.Second

// track registers a new TCP connection, or refuses it (nil) when the server is closing or
// has MaxAllocations connections open.
func (s *Server) track(c net.Conn) *trackedConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || len(s.conns) >= s.cfg.MaxAllocations {
		return nil
	}
	tc := &trackedConn{Conn: c, s: s}
	s.conns[tc] = true
	return tc
}

// trackedConn is a TCP connection the server can close on shutdown. Close, which pion (or
// the TLS layer above) calls once its read loop has ended, releases it.
type trackedConn struct {
	net.Conn
	s    *Server
	once sync.Once
}

// Read reads with an idle deadline, renewed on every read.
func (c *trackedConn) Read(p []byte) (int, error) {
	_ = c.SetReadDeadline(time.Now().Add(idleTimeout))
	return c.Conn.Read(p)
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
	})
	return err
}

// tcpListener tracks the connections it accepts.
type tcpListener struct {
	net.Listener
	s *Server
}

func (l *tcpListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if tc := l.s.track(c); tc != nil {
			return tc, nil
		}
		metrics.TURNRejected.WithLabelValues("capacity").Inc()
		_ = c.Close()
	}
}

// tlsListener accepts TCP connections, tracks them and completes their TLS handshakes
// (handshakeTimeout each, one goroutine per handshake) before handing them to pion as
// *tls.Conn. pion's own listener loop would do the handshake itself, but it leaves a
// connection whose handshake fails open; here it is closed.
type tlsListener struct {
	raw   net.Listener
	cfg   *tls.Config
	s     *Server
	ready chan *tls.Conn
	quit  chan struct{}
	once  sync.Once
}

func newTLSListener(s *Server, raw net.Listener, cfg *tls.Config) *tlsListener {
	l := &tlsListener{raw: raw, cfg: cfg, s: s, ready: make(chan *tls.Conn), quit: make(chan struct{})}
	s.wg.Go(l.acceptLoop)
	return l
}

func (l *tlsListener) acceptLoop() {
	for {
		c, err := l.raw.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				l.s.log.Warn("TURN TLS listener failed", "err", err)
			}
			l.Close()
			return
		}
		tc := l.s.track(c)
		if tc == nil {
			metrics.TURNRejected.WithLabelValues("capacity").Inc()
			_ = c.Close()
			continue
		}
		l.s.wg.Go(func() { l.handshake(tc) })
	}
}

func (l *tlsListener) handshake(c *trackedConn) {
	conn := tls.Server(c, l.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	if err := conn.HandshakeContext(ctx); err != nil {
		l.s.log.Debug("TURN TLS handshake failed", "client", c.RemoteAddr().String(), "err", err)
		_ = conn.Close()
		return
	}
	select {
	case l.ready <- conn:
	case <-l.quit:
		_ = conn.Close()
	}
}

// Accept returns the next connection whose handshake is complete.
func (l *tlsListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.quit:
		return nil, net.ErrClosed
	}
}

// Close stops accepting; handshakes under way end on their own (closed when done).
func (l *tlsListener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.quit)
		err = l.raw.Close()
	})
	return err
}

func (l *tlsListener) Addr() net.Addr { return l.raw.Addr() }
