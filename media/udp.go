package media

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/edgeplay/edgeplay/internal/pionlog"
)

// udpMux is the host's one UDP port: a socket per local address, all on the same port, behind
// one ICE mux.
type udpMux struct {
	mux   ice.UDPMux
	port  int
	local []netip.Addr // the addresses bound
}

func (u *udpMux) close() error { return u.mux.Close() }

// listenUDP binds addr ("IP:port" or ":port"). With an unspecified IP it binds the port on
// every address of every interface that is up (loopback included, for players on the same
// machine), and skips, with a warning, addresses that cannot be bound: in a fresh container
// or network namespace an IPv6 link-local address is "tentative" for a second or two and
// refuses bind with EADDRNOTAVAIL. It fails only if no address can be bound.
func listenUDP(addr string, log *slog.Logger, plog pionlog.Factory) (*udpMux, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: udp address %q: %w", ErrConfig, addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("%w: udp address %q: bad port", ErrConfig, addr)
	}
	var ip netip.Addr
	if host != "" {
		if ip, err = netip.ParseAddr(host); err != nil {
			return nil, fmt.Errorf("%w: udp address %q: host must be an IP address", ErrConfig, addr)
		}
	}
	if ip.IsValid() && !ip.IsUnspecified() {
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))))
		if err != nil {
			return nil, fmt.Errorf("listen udp %s: %w", addr, err)
		}
		return &udpMux{
			mux:   webrtc.NewICEUDPMux(plog.NewLogger("udpmux"), conn),
			port:  conn.LocalAddr().(*net.UDPAddr).Port,
			local: []netip.Addr{ip.Unmap()},
		}, nil
	}

	addrs, err := interfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("listen udp %s: list interfaces: %w", addr, err)
	}
	u := &udpMux{port: port}
	var muxes []ice.UDPMux
	var errs []error
	for _, a := range addrs {
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, uint16(u.port))))
		if errors.Is(err, syscall.EADDRNOTAVAIL) {
			// Only this error is skipped: an address in use or forbidden means another
			// process or a wrong port, and a host that started without it would look
			// healthy while its players could not connect.
			log.Warn("UDP address skipped: it cannot be bound yet (an IPv6 address still tentative in a new network?)",
				"addr", a, "port", u.port, "err", err)
			errs = append(errs, err)
			continue
		}
		if err != nil {
			for _, m := range muxes {
				_ = m.Close()
			}
			return nil, fmt.Errorf("listen udp %s: %w", net.JoinHostPort(a.String(), strconv.Itoa(u.port)), err)
		}
		if u.port == 0 { // the first socket picks the port; the others share it
			u.port = conn.LocalAddr().(*net.UDPAddr).Port
		}
		u.local = append(u.local, a.WithZone(""))
		muxes = append(muxes, ice.NewUDPMuxDefault(ice.UDPMuxParams{Logger: plog.NewLogger("udpmux"), UDPConn: conn}))
	}
	if len(muxes) == 0 {
		return nil, fmt.Errorf("listen udp %s: no interface address could be bound: %w", addr, errors.Join(errs...))
	}
	u.mux = ice.NewMultiUDPMuxDefault(muxes...)
	return u, nil
}

// interfaceAddrs lists the unicast addresses of the interfaces that are up, IPv6 link-local
// ones with their zone.
func interfaceAddrs() ([]netip.Addr, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 {
			continue
		}
		as, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range as {
			pfx, err := netip.ParsePrefix(a.String())
			if err != nil {
				continue
			}
			ip := pfx.Addr().Unmap()
			switch {
			case ip.IsMulticast() || ip.IsUnspecified():
				continue
			case ip.Is6() && ip.IsLinkLocalUnicast():
				ip = ip.WithZone(ifc.Name)
			}
			out = append(out, ip)
		}
	}
	return out, nil
}

// natRules turns --public-ip values into ICE address rewrite rules. Behind a 1:1 NAT one
// public address belongs to one local address; rewriting every local socket's candidate to
// the public address (what a rule without a local address does) gives the player several
// candidates with the same address but different sockets behind them, and the host answers
// from the wrong one. So each rule is pinned to one local address: "PUBLIC/LOCAL" names it;
// "PUBLIC" alone takes the one address bound if there is one, else the address the kernel
// routes to PUBLIC from (the interface that faces the NAT), which must be among those bound.
func natRules(publics []string, bound []netip.Addr) ([]webrtc.ICEAddressRewriteRule, error) {
	var rules []webrtc.ICEAddressRewriteRule
	for _, p := range publics {
		pubStr, localStr, pinned := strings.Cut(strings.TrimSpace(p), "/")
		pub, err := netip.ParseAddr(pubStr)
		if err != nil || pub.Zone() != "" {
			return nil, fmt.Errorf("%w: public ip %q: not an IP address", ErrConfig, p)
		}
		var local netip.Addr
		if pinned {
			if local, err = netip.ParseAddr(localStr); err != nil {
				return nil, fmt.Errorf("%w: public ip %q: local part is not an IP address", ErrConfig, p)
			}
			local = local.Unmap()
			switch {
			case local.Is4() != pub.Unmap().Is4():
				return nil, fmt.Errorf("%w: public ip %q: the public and the local address must be of one IP version", ErrConfig, p)
			case !slices.Contains(bound, local):
				return nil, fmt.Errorf("%w: public ip %q: %s is not one of the addresses the UDP port is bound to (%v)", ErrConfig, p, local, bound)
			}
		} else if local, err = localFor(pub.Unmap(), bound); err != nil {
			return nil, fmt.Errorf("%w: public ip %q: %w; name the local address as PUBLIC/LOCAL", ErrConfig, p, err)
		}
		rules = append(rules, webrtc.ICEAddressRewriteRule{
			External: []string{pub.Unmap().String()}, Local: local.Unmap().String(),
			AsCandidateType: webrtc.ICECandidateTypeHost, Mode: webrtc.ICEAddressRewriteReplace,
		})
	}
	return rules, nil
}

// localFor picks the local address that a public address stands for.
func localFor(pub netip.Addr, bound []netip.Addr) (netip.Addr, error) {
	var candidates []netip.Addr
	for _, a := range bound {
		if a.Is4() == pub.Is4() && !a.IsLoopback() && !a.IsLinkLocalUnicast() {
			candidates = append(candidates, a)
		}
	}
	if len(candidates) == 1 {
		return candidates[0], nil
	}
	// Ask the kernel which source address it would use towards the public address (a UDP
	// "connect" sends nothing).
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(pub, 9)))
	if err == nil {
		src := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
		_ = c.Close()
		for _, a := range candidates {
			if a == src {
				return a, nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("cannot tell which of the %d local addresses %v it maps to", len(candidates), candidates)
}
