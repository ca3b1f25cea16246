package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/edgeplay/edgeplay/internal/metrics"
	"github.com/edgeplay/edgeplay/protocol"
)

// Fairness limits on the player websocket (issue 11): players without a join token are
// anonymous, so one client must not hold many sockets or queue many tickets ahead of others.
// A client is an IPv4 address or an IPv6 /64 (what one subscriber gets), as the socket's peer
// address says, or, behind a trusted proxy, X-Forwarded-For. A socket whose join redeems a
// token stops counting against its client: the studio's quotas govern it.

// Defaults of the limits (Config).
const (
	DefaultJoinTimeout        = 10 * time.Second
	DefaultMaxConnsPerClient  = 8
	DefaultMaxQueuedPerClient = 4
	DefaultMaxConns           = 10000
)

// clientKey is the address a limit counts by: an IPv4 address or an IPv6 /64.
func clientKey(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// clientAddr is the player's address: the socket's peer, or behind a trusted proxy the
// rightmost address of X-Forwarded-For that is not itself a trusted proxy.
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap()
	if !s.trusted(peer) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	addr := peer
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return addr // a malformed hop: trust nothing left of it
			}
			addr = a.Unmap()
			if !s.trusted(addr) {
				return addr
			}
		}
	}
	return addr
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientLimits counts open sockets and queued tickets per client, and sockets in all.
type clientLimits struct {
	mu     sync.Mutex
	conns  map[netip.Prefix]int // guarded by mu: sockets without a redeemed token
	queued map[netip.Prefix]int // guarded by mu: tickets of such sockets in the queue
	total  int                  // guarded by mu: every open player socket
}

func newClientLimits() *clientLimits {
	return &clientLimits{conns: map[netip.Prefix]int{}, queued: map[netip.Prefix]int{}}
}

// admit counts a new socket of client; false (counting nothing) when the gateway or the
// client is at its limit, and which.
func (l *clientLimits) admit(client netip.Prefix, perClient, total int) (ok, full bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if total > 0 && l.total >= total {
		return false, true
	}
	if perClient > 0 && client.IsValid() && l.conns[client] >= perClient {
		return false, false
	}
	l.total++
	if client.IsValid() {
		l.conns[client]++
	}
	return true, false
}

// uncount stops counting a socket against its client (its token redeemed, or it closed).
func (l *clientLimits) uncount(client netip.Prefix) {
	if !client.IsValid() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := l.conns[client] - 1; n > 0 {
		l.conns[client] = n
	} else {
		delete(l.conns, client)
	}
}

// closed forgets a socket in the total.
func (l *clientLimits) closed() {
	l.mu.Lock()
	l.total--
	l.mu.Unlock()
}

// queue counts a queued ticket of client; false when the client has its maximum queued.
func (l *clientLimits) queue(client netip.Prefix, max int) bool {
	if !client.IsValid() {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if max > 0 && l.queued[client] >= max {
		return false
	}
	l.queued[client]++
	return true
}

// unqueue forgets a queued ticket of client.
func (l *clientLimits) unqueue(client netip.Prefix) {
	if !client.IsValid() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := l.queued[client] - 1; n > 0 {
		l.queued[client] = n
	} else {
		delete(l.queued, client)
	}
}

// limitProbes holds the RTT probe endpoint to the same caps as the player sockets: at most
// MaxConnsPerClient probes at once per client (a page probes each data center once, in
// parallel) and MaxConns in all; past them 429 too_many_connections (the page measures
// without that data center).
func (s *Server) limitProbes(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var client netip.Prefix
		if a := s.clientAddr(r); a.IsValid() {
			client = clientKey(a)
		}
		if ok, _ := s.probes.admit(client, s.cfg.MaxConnsPerClient, s.cfg.MaxConns); !ok {
			metrics.Rejected.WithLabelValues("probes").Inc()
			adminJSON(w, http.StatusTooManyRequests, adminError{Code: protocol.CodeTooManyConnections, Message: "too many RTT probes at once from your network"})
			return
		}
		defer s.probes.closed()
		defer s.probes.uncount(client)
		h.ServeHTTP(w, r)
	})
}
