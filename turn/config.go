package turn

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Defaults of Config.
const (
	DefaultAddr               = ":3478"
	DefaultTLSAddr            = ":443"
	DefaultRealm              = "edgeplay"
	DefaultMinPort            = 49152
	DefaultMaxPort            = 65535
	DefaultMaxAllocations     = 1000
	DefaultMaxUserAllocations = 16
	DefaultRefreshGrace       = 24 * time.Hour
	// AllocationLifetime is the most an allocation lives without a Refresh (RFC 8656's
	// default, pion's too); a TCP or TLS connection silent for longer than this and a minute
	// cannot hold a live allocation, and is closed.
	AllocationLifetime = 10 * time.Minute
)

// Config configures a TURN server. Zero values take the defaults; Secret and, unless Addr
// names an IP, RelayIP are required.
type Config struct {
	// Addr is the UDP and TCP listen address (one port for both), e.g. ":3478". Port 0 picks
	// a port free for both.
	Addr string
	// TLSAddr is the TLS (turns:) listen address, used when CertFile and KeyFile are set;
	// default ":443" (the port firewalls that allow only HTTPS let through).
	TLSAddr string
	// CertFile and KeyFile are the TLS certificate chain and key (PEM). Both or neither. The
	// files are read again when they change (checked at most once a minute), so a renewed
	// certificate needs no restart.
	CertFile, KeyFile string

	// RelayIP is the address players and hosts reach relays at (the public address): the
	// relayed candidate's address. Default: Addr's IP when Addr names one.
	RelayIP netip.Addr
	// RelayBind is the local address relay sockets bind to; default: all IPv4 addresses.
	// Behind a 1:1 NAT it is the local address RelayIP maps to (or left as all).
	RelayBind netip.Addr
	// MinPort and MaxPort bound the relay ports (inclusive); default 49152–65535.
	MinPort, MaxPort uint16

	// Realm is the long-term credential realm; default "edgeplay".
	Realm string
	// Secret is shared with the gateways, which mint credentials with it (Credentials); at
	// least MinSecretSize bytes. Never logged.
	Secret []byte
	// RefreshGrace: a new allocation needs unexpired credentials, but requests on an
	// existing allocation of the same user (Refresh, CreatePermission, ChannelBind) accept
	// credentials expired up to this long ago, so a session relayed for longer than the
	// credentials' TTL is not cut off. Default 24 h; negative: none.
	RefreshGrace time.Duration

	// MaxAllocations bounds the allocations open at once (and the TCP and TLS connections
	// open at once); default 1000. MaxUserAllocations bounds them per session (a browser
	// makes one per local address and TURN URL); default 16.
	MaxAllocations, MaxUserAllocations int

	// AllowedPeers, when set, are the only peer addresses relays may reach (the session
	// hosts' networks). Loopback, unspecified, multicast and link-local peers are refused
	// in any case, loopback unless AllowLoopbackPeers (edgeplay up: the hosts are local).
	AllowedPeers       []netip.Prefix
	AllowLoopbackPeers bool

	Logger *slog.Logger
	// NowForTest replaces the clock of credential checks; nil: time.Now.
	NowForTest func() time.Time
}

// withDefaults validates c and fills in the defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return c, fmt.Errorf("%w: address %q: %w", ErrConfig, c.Addr, err)
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return c, fmt.Errorf("%w: a TLS certificate needs both the certificate and the key file", ErrConfig)
	}
	if c.CertFile != "" && c.TLSAddr == "" {
		c.TLSAddr = DefaultTLSAddr
	}
	if !c.RelayIP.IsValid() {
		ip, err := netip.ParseAddr(host)
		if err != nil || ip.IsUnspecified() {
			return c, fmt.Errorf("%w: the relay address (public IP) is needed when the listen address %q names no IP", ErrConfig, c.Addr)
		}
		c.RelayIP = ip
	}
	c.RelayIP = c.RelayIP.Unmap()
	if !c.RelayIP.Is4() || c.RelayIP.IsUnspecified() {
		return c, fmt.Errorf("%w: relay address %s: want an IPv4 address", ErrConfig, c.RelayIP)
	}
	if !c.RelayBind.IsValid() {
		c.RelayBind = netip.IPv4Unspecified()
	}
	if !c.RelayBind.Unmap().Is4() {
		return c, fmt.Errorf("%w: relay bind address %s: want an IPv4 address", ErrConfig, c.RelayBind)
	}
	if c.MinPort == 0 && c.MaxPort == 0 {
		c.MinPort, c.MaxPort = DefaultMinPort, DefaultMaxPort
	}
	if c.MinPort == 0 || c.MaxPort < c.MinPort {
		return c, fmt.Errorf("%w: relay ports %d-%d: want 1 ≤ MIN ≤ MAX", ErrConfig, c.MinPort, c.MaxPort)
	}
	if c.Realm == "" {
		c.Realm = DefaultRealm
	}
	if len(c.Secret) < MinSecretSize {
		return c, fmt.Errorf("%w: the shared secret must be at least %d bytes", ErrConfig, MinSecretSize)
	}
	if c.RefreshGrace == 0 {
		c.RefreshGrace = DefaultRefreshGrace
	}
	if c.MaxAllocations == 0 {
		c.MaxAllocations = DefaultMaxAllocations
	}
	if c.MaxUserAllocations == 0 {
		c.MaxUserAllocations = DefaultMaxUserAllocations
	}
	if c.MaxAllocations < 0 || c.MaxUserAllocations < 0 {
		return c, fmt.Errorf("%w: allocation limits must be positive", ErrConfig)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// ParsePortRange parses "MIN-MAX", e.g. "49152-65535".
func ParsePortRange(s string) (lo, hi uint16, err error) {
	a, b, ok := strings.Cut(s, "-")
	x, err1 := strconv.ParseUint(a, 10, 16)
	y, err2 := strconv.ParseUint(b, 10, 16)
	if !ok || err1 != nil || err2 != nil || x == 0 || y < x {
		return 0, 0, fmt.Errorf("%w: port range %q: want MIN-MAX, e.g. 49152-65535", ErrConfig, s)
	}
	return uint16(x), uint16(y), nil
}

// peerAllowed says whether a relay may send to ip.
func (c *Config) peerAllowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid(), ip.IsUnspecified(), ip.IsMulticast(), ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(),
		ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return false
	case ip.IsLoopback() && !c.AllowLoopbackPeers:
		return false
	}
	if len(c.AllowedPeers) == 0 {
		return true
	}
	for _, p := range c.AllowedPeers {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
