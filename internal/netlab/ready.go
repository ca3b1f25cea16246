package netlab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

const pollEvery = 20 * time.Millisecond

// waitReady waits until the host answers UDP from the player and, if dad, until no lab
// address is tentative.
func (l *Lab) waitReady(ctx context.Context, dad bool) error {
	if dad {
		if err := l.WaitDAD(ctx); err != nil {
			return err
		}
	}
	return l.probeUDP(ctx)
}

// WaitDAD waits until no address on the lab's interfaces, in any of its namespaces, is
// tentative (IPv6 duplicate address detection has finished).
func (l *Lab) WaitDAD(ctx context.Context) error {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		var left []netip.Addr
		for _, e := range l.ifaces() {
			addrs, err := tentative(ctx, e[0], e[1])
			if err != nil {
				return err
			}
			left = append(left, addrs...)
		}
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("netlab: addresses still tentative %v: %w", left, ctx.Err())
		case <-t.C:
		}
	}
}

// TentativeAddrs returns the host namespace's addresses that are still tentative, each with
// its interface as zone. Binding a socket to one fails (EADDRNOTAVAIL).
func (l *Lab) TentativeAddrs() ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return tentative(ctx, l.HostNS, HostInterface)
}

// ifaces lists the lab's interfaces as {namespace, name}.
func (l *Lab) ifaces() [][2]string {
	out := [][2]string{{"", l.rootIf}, {l.farNS, l.farIf}}
	if l.routerNS != "" {
		out = append(out, [2]string{l.routerNS, "lan"}, [2]string{l.HostNS, HostInterface})
	}
	return out
}

func tentative(ctx context.Context, ns, ifname string) ([]netip.Addr, error) {
	out, err := run(ctx, ns, "", "ip", "-j", "addr", "show", "dev", ifname)
	if err != nil {
		return nil, err
	}
	var links []struct {
		AddrInfo []struct {
			Local     string
			Tentative bool
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("netlab: parse ip output: %w", err)
	}
	var addrs []netip.Addr
	for _, link := range links {
		for _, a := range link.AddrInfo {
			if !a.Tentative {
				continue
			}
			ip, err := netip.ParseAddr(a.Local)
			if err != nil {
				return nil, fmt.Errorf("netlab: parse ip output: %w", err)
			}
			addrs = append(addrs, ip.WithZone(ifname))
		}
	}
	return addrs, nil
}

// probeUDP waits until a UDP echo in the host namespace answers the root namespace at
// PublicIP, which checks the links, routes and NAT in both directions.
func (l *Lab) probeUDP(ctx context.Context) error {
	var echo *net.UDPConn
	if err := l.Do(func() (err error) {
		echo, err = net.ListenUDP("udp4", &net.UDPAddr{IP: l.HostIP.AsSlice()})
		return err
	}); err != nil {
		return fmt.Errorf("netlab: probe: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64)
		for {
			n, from, err := echo.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			_, _ = echo.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	defer func() { echo.Close(); <-done }()

	port := echo.LocalAddr().(*net.UDPAddr).Port
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(l.PublicIP, uint16(port))))
	if err != nil {
		return fmt.Errorf("netlab: probe: %w", err)
	}
	defer c.Close()
	msg, buf := []byte("netlab probe"), make([]byte, 64)
	var last error
	for ctx.Err() == nil {
		_, _ = c.Write(msg) // an error here shows again on Read
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, err := c.Read(buf)
		if err == nil && bytes.Equal(buf[:n], msg) {
			return nil
		}
		last = err
		var ne net.Error
		if timeout := errors.As(err, &ne) && ne.Timeout(); err != nil && !timeout {
			// Refused (ICMP) or unreachable: answer comes at once, so pause before retrying.
			select {
			case <-ctx.Done():
			case <-time.After(pollEvery):
			}
		}
	}
	return fmt.Errorf("netlab: host %s does not answer UDP from the player: %w", l.PublicIP, errors.Join(ctx.Err(), last))
}
