package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/edgeplay/edgeplay/server"
	"github.com/edgeplay/edgeplay/turn"
)

// turnFlags are the --turn-… flags.
type turnFlags struct {
	addr, tlsAddr, cert, key, publicIP, realm, secret, secretFile, ports, peers string
	maxAllocs                                                                   int
	urls                                                                        string
	ttl                                                                         time.Duration
}

// serverConfig is the TURN server of `edgeplay turn`.
func (f turnFlags) serverConfig() (*turn.Config, error) {
	if f.addr == "" {
		return nil, errors.New("--turn-addr is required")
	}
	secret, err := f.readSecret()
	if err != nil {
		return nil, err
	}
	if len(secret) == 0 {
		return nil, errors.New("--turn-secret, --turn-secret-file or $EDGEPLAY_TURN_SECRET is required (shared with the gateways' --turn-secret)")
	}
	c, err := f.common(secret)
	if err != nil {
		return nil, err
	}
	if f.cert != "" || f.key != "" {
		c.CertFile, c.KeyFile, c.TLSAddr = f.cert, f.key, f.tlsAddr
	}
	c.MaxAllocations = f.maxAllocs
	for p := range strings.SplitSeq(f.peers, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("--turn-peers %q: want CIDRs, e.g. 10.0.0.0/8: %w", p, err)
		}
		c.AllowedPeers = append(c.AllowedPeers, prefix.Masked())
	}
	return c, nil
}

// upConfig is the TURN server inside `edgeplay up`, or nil with --turn-addr "": on this
// machine, beside the session hosts, so its relays are on loopback (unless --turn-public-ip)
// and may reach the hosts there. Its secret is generated unless given.
func (f turnFlags) upConfig() (*turn.Config, error) {
	if f.addr == "" {
		return nil, nil
	}
	secret, err := f.readSecret()
	if err != nil {
		return nil, err
	}
	if len(secret) == 0 {
		secret = []byte(hex.EncodeToString(randomKey()))
	}
	if f.publicIP == "" {
		f.publicIP = "127.0.0.1/127.0.0.1"
	}
	c, err := f.common(secret)
	if err != nil {
		return nil, err
	}
	c.AllowLoopbackPeers = true
	return c, nil
}

// common fills what every TURN server has: address, relay address and ports, realm, secret.
func (f turnFlags) common(secret []byte) (*turn.Config, error) {
	c := &turn.Config{Addr: f.addr, Realm: f.realm, Secret: secret}
	var err error
	if c.MinPort, c.MaxPort, err = turn.ParsePortRange(f.ports); err != nil {
		return nil, fmt.Errorf("--turn-relay-ports: %w", err)
	}
	if f.publicIP != "" {
		pub, local, hasLocal := strings.Cut(f.publicIP, "/")
		if c.RelayIP, err = netip.ParseAddr(pub); err != nil {
			return nil, fmt.Errorf("--turn-public-ip %q: want PUBLIC or PUBLIC/LOCAL (IPv4 addresses)", f.publicIP)
		}
		if hasLocal {
			if c.RelayBind, err = netip.ParseAddr(local); err != nil {
				return nil, fmt.Errorf("--turn-public-ip %q: want PUBLIC or PUBLIC/LOCAL (IPv4 addresses)", f.publicIP)
			}
		}
	}
	return c, nil
}

// gatewayConfig is what a gateway hands players: --turn-url with credentials minted with the
// secret; zero without --turn-url.
func (f turnFlags) gatewayConfig() (server.TURNConfig, error) {
	var c server.TURNConfig
	for u := range strings.SplitSeq(f.urls, ",") {
		if u = strings.TrimSpace(u); u != "" {
			c.URLs = append(c.URLs, u)
		}
	}
	if !c.Enabled() {
		return c, nil
	}
	secret, err := f.readSecret()
	if err != nil {
		return c, err
	}
	c.Secret, c.TTL = secret, f.ttl
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("--turn-url, --turn-secret: %w", err)
	}
	return c, nil
}

// readSecret is --turn-secret-file's content (without surrounding white space) or
// --turn-secret, refused when it is a placeholder (its length is checked where it is used).
func (f turnFlags) readSecret() ([]byte, error) {
	return secret("the TURN secret", "--turn-secret-file", f.secretFile, f.secret, 1)
}
