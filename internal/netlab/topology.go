package netlab

import (
	"context"
	"fmt"
	"net/netip"
)

// Addresses, for the subnet number n that freeSubnet picks (1…254):
//
//	direct: root rootIf 10.77.n.2/24 ⟷ host eth0 10.77.n.1/24
//	NAT:    root rootIf 198.18.n.2/24 ⟷ router wan 198.18.n.1/24 (PublicIP)
//	        router lan 10.77.n.2/24 ⟷ host eth0 10.77.n.1/24
//
// The host's default route points back along the link, so it reaches every root namespace
// address; the root namespace routes only the link's own /24.

// privateNet is the host's subnet (the lab link in direct mode, the router's inside in NAT).
func privateNet(n int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 77, byte(n), 0}), 24)
}

// outsideNet is the link between the root namespace and the router in NAT mode.
func outsideNet(n int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(n), 0}), 24)
}

// hostAt returns the address .i of the /24 p, with p's length.
func hostAt(p netip.Prefix, i byte) netip.Prefix {
	a := p.Addr().As4()
	a[3] = i
	return netip.PrefixFrom(netip.AddrFrom4(a), p.Bits())
}

// lossTable is the nft table that drops UDP at random on packets entering a namespace through
// one interface (ingress, so that senders never see an error: a drop on a local sender's
// output path would fail its sendmsg with EPERM). Its counter "drops" survives rule changes.
func lossTable(table, ifname string) string {
	return fmt.Sprintf(`table inet %s {
	counter drops {}
	chain loss { type filter hook prerouting priority raw; policy accept; }
}
`, table) + lossRule(table, ifname, 0)
}

func lossRule(table, ifname string, permille int) string {
	if permille >= 1000 { // every UDP packet (numgen's "< 1000" is out of nft's range)
		return fmt.Sprintf("flush chain inet %s loss\nadd rule inet %s loss iifname %q meta l4proto udp counter name \"drops\" drop\n",
			table, table, ifname)
	}
	return fmt.Sprintf("flush chain inet %s loss\nadd rule inet %s loss iifname %q meta l4proto udp numgen random mod 1000 < %d counter name \"drops\" drop\n",
		table, table, ifname, permille)
}

const farTable = "netlab" // the loss table's name inside the lab's own namespaces

// build creates the namespaces, links, addresses, routes and nft tables.
func (l *Lab) build(ctx context.Context, n int, opts Options) error {
	type end struct {
		ns, ifname string
		addr       netip.Prefix
	}
	private := privateNet(n)
	host := end{l.HostNS, HostInterface, hostAt(private, 1)}
	var root, far end
	var steps [][]string // {ns, tool, args...}
	steps = append(steps, []string{"", "ip", "netns", "add", l.HostNS})
	if opts.NAT {
		outside := outsideNet(n)
		root = end{"", l.rootIf, hostAt(outside, 2)}
		far = end{l.routerNS, "wan", hostAt(outside, 1)}
		lan := end{l.routerNS, "lan", hostAt(private, 2)}
		l.PublicIP = far.addr.Addr()
		steps = append(steps,
			[]string{"", "ip", "netns", "add", l.routerNS},
			[]string{"", "ip", "link", "add", root.ifname, "type", "veth", "peer", "name", far.ifname, "netns", far.ns},
			[]string{l.routerNS, "ip", "link", "add", lan.ifname, "type", "veth", "peer", "name", host.ifname, "netns", host.ns},
		)
		if err := l.runSteps(ctx, steps); err != nil {
			return err
		}
		for _, e := range []end{root, far, lan, host} {
			if err := l.upIf(ctx, e.ns, e.ifname, e.addr, opts.KeepDAD); err != nil {
				return err
			}
		}
		if err := writeSysctl(l.routerNS, "net/ipv4/ip_forward", "1"); err != nil {
			return err
		}
		nat := fmt.Sprintf(`table ip nat {
	chain pre { type nat hook prerouting priority dstnat; iifname "wan" ip daddr %s dnat to %s; }
	chain post { type nat hook postrouting priority srcnat; oifname "wan" ip saddr %s snat to %s; }
}
`, l.PublicIP, host.addr.Addr(), host.addr.Addr(), l.PublicIP)
		steps = [][]string{
			{l.routerNS, "ip", "route", "add", "default", "via", root.addr.Addr().String()},
			{l.HostNS, "ip", "route", "add", "default", "via", lan.addr.Addr().String()},
		}
		if err := l.runSteps(ctx, steps); err != nil {
			return err
		}
		if _, err := run(ctx, l.routerNS, nat, "nft", "-f", "-"); err != nil {
			return err
		}
	} else {
		root = end{"", l.rootIf, hostAt(private, 2)}
		far = host
		l.PublicIP = host.addr.Addr()
		steps = append(steps,
			[]string{"", "ip", "link", "add", root.ifname, "type", "veth", "peer", "name", host.ifname, "netns", host.ns})
		if err := l.runSteps(ctx, steps); err != nil {
			return err
		}
		for _, e := range []end{root, host} {
			if err := l.upIf(ctx, e.ns, e.ifname, e.addr, opts.KeepDAD); err != nil {
				return err
			}
		}
		if _, err := run(ctx, l.HostNS, "", "ip", "route", "add", "default", "via", root.addr.Addr().String()); err != nil {
			return err
		}
	}
	l.HostIP, l.PlayerIP = host.addr.Addr(), root.addr.Addr()
	l.farNS, l.farIf = far.ns, far.ifname
	if _, err := run(ctx, "", lossTable(l.rootTable, l.rootIf), "nft", "-f", "-"); err != nil {
		return err
	}
	_, err := run(ctx, l.farNS, lossTable(farTable, l.farIf), "nft", "-f", "-")
	return err
}

func (l *Lab) runSteps(ctx context.Context, steps [][]string) error {
	for _, s := range steps {
		if _, err := run(ctx, s[0], "", s[1], s[2:]...); err != nil {
			return err
		}
	}
	return nil
}

// upIf addresses an interface and brings it up, with DAD off first unless keepDAD. In a lab
// namespace it brings up lo too (harmless when repeated).
func (l *Lab) upIf(ctx context.Context, ns, ifname string, addr netip.Prefix, keepDAD bool) error {
	if !keepDAD {
		if err := writeSysctl(ns, "net/ipv6/conf/"+ifname+"/accept_dad", "0"); err != nil {
			return fmt.Errorf("netlab: disable DAD on %s: %w", ifname, err)
		}
	}
	steps := [][]string{
		{ns, "ip", "addr", "add", addr.String(), "dev", ifname},
		{ns, "ip", "link", "set", ifname, "up"},
	}
	if ns != "" {
		steps = append(steps, []string{ns, "ip", "link", "set", "lo", "up"})
	}
	return l.runSteps(ctx, steps)
}
