package turn

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	pionturn "github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgeplay/edgeplay/internal/metrics"
)

// mediaBytes is how much an allocation relays before it counts as carrying a session's media:
// ICE connectivity checks and keepalives alone stay far below it (about 100 bytes every
// 2.5 s), a second of video is above it.
const mediaBytes = 64 << 10

var errTCPRelay = errors.New("turn: TCP relays (RFC 6062) are not offered; WebRTC relays UDP")

// relayGenerator makes pion's relay sockets for allocations arriving over one transport
// (udp, tcp or tls): in the configured port range, counted against the limits, and wrapped so
// the bytes they relay are counted.
func (s *Server) relayGenerator(transport string) pionturn.RelayAddressGenerator {
	return &relayGenerator{
		s: s, transport: transport,
		inner: &pionturn.RelayAddressGeneratorPortRange{
			RelayAddress: net.IP(s.cfg.RelayIP.AsSlice()),
			Address:      s.cfg.RelayBind.String(),
			MinPort:      s.cfg.MinPort,
			MaxPort:      s.cfg.MaxPort,
			MaxRetries:   32,
		},
		active: metrics.TURNAllocationsActive.WithLabelValues(transport),
		total:  metrics.TURNAllocations.WithLabelValues(transport),
	}
}

type relayGenerator struct {
	s         *Server
	transport string
	inner     *pionturn.RelayAddressGeneratorPortRange
	active    prometheus.Gauge
	total     prometheus.Counter
}

func (g *relayGenerator) Validate() error { return g.inner.Validate() }

// AllocatePacketConn opens a relay socket for an allocation of user (the session). The quota
// handler has checked the limits already; they are checked again here, under the same lock
// that counts the socket, so that racing allocations cannot pass them.
func (g *relayGenerator) AllocatePacketConn(c pionturn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	if c.Network != "udp4" {
		return nil, nil, fmt.Errorf("turn: %s relays are not offered (relays are IPv4)", c.Network)
	}
	s := g.s
	s.mu.Lock()
	if reason := s.limitLocked(c.UserID); reason != "" {
		s.mu.Unlock()
		metrics.TURNRejected.WithLabelValues(reason).Inc()
		return nil, nil, fmt.Errorf("turn: allocation refused: %s", reason)
	}
	s.allocs++
	s.byUser[c.UserID]++
	s.mu.Unlock()
	conn, addr, err := g.inner.AllocatePacketConn(c)
	if err != nil {
		s.release(c.UserID)
		metrics.TURNRejected.WithLabelValues("capacity").Inc()
		s.log.Warn("TURN relay socket not opened", "session", c.UserID, "err", err)
		return nil, nil, err
	}
	g.active.Inc()
	g.total.Inc()
	s.log.Debug("TURN allocation", "session", c.UserID, "transport", g.transport, "relay", addr.String())
	return &relayConn{
		PacketConn: conn, g: g, user: c.UserID,
		toPeer:   metrics.TURNRelayedBytes.WithLabelValues("to_peer"),
		fromPeer: metrics.TURNRelayedBytes.WithLabelValues("from_peer"),
	}, addr, nil
}

func (g *relayGenerator) AllocateListener(pionturn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errTCPRelay
}

func (g *relayGenerator) AllocateConn(pionturn.AllocateConnConfig) (net.Conn, error) {
	return nil, errTCPRelay
}

// release gives back an allocation of user.
func (s *Server) release(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allocs--
	if s.byUser[user]--; s.byUser[user] <= 0 {
		delete(s.byUser, user)
	}
}

// relayConn is an allocation's relay socket: it counts the bytes relayed and gives the
// allocation back when pion closes it.
type relayConn struct {
	net.PacketConn
	g                *relayGenerator
	user             string
	toPeer, fromPeer prometheus.Counter
	bytes            atomic.Int64
	state            atomic.Int32 // relayIdle → relayMedia (carried mediaBytes) → closed
	once             sync.Once
}

// relayConn states: the media gauge counts a socket from relayMedia until it closes.
const (
	relayIdle int32 = iota
	relayMedia
	relayClosed
)

// ReadFrom reads what a peer (the session host) sent to the relay.
func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(p)
	if n > 0 {
		c.fromPeer.Add(float64(n))
		c.count(n)
	}
	return n, addr, err
}

// WriteTo sends what the client (the player) relays to a peer.
func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	n, err := c.PacketConn.WriteTo(p, addr)
	if n > 0 {
		c.toPeer.Add(float64(n))
		c.count(n)
	}
	return n, err
}

func (c *relayConn) count(n int) {
	if c.bytes.Add(int64(n)) >= mediaBytes && c.state.Load() == relayIdle && c.state.CompareAndSwap(relayIdle, relayMedia) {
		metrics.TURNRelayedSessions.Inc()
		metrics.TURNRelayedSessionsActive.Inc()
		c.g.s.log.Info("TURN relaying a session", "session", c.user, "transport", c.g.transport)
	}
}

func (c *relayConn) Close() error {
	err := c.PacketConn.Close()
	c.once.Do(func() {
		c.g.active.Dec()
		if c.state.Swap(relayClosed) == relayMedia {
			metrics.TURNRelayedSessionsActive.Dec()
		}
		c.g.s.log.Debug("TURN allocation closed", "session", c.user, "transport", c.g.transport, "bytes", c.bytes.Load())
		c.g.s.release(c.user)
	})
	return err
}
