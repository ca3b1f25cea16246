package netlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var modes = []struct {
	name string
	opts Options
}{
	{"direct", Options{}},
	{"nat", Options{NAT: true}},
}

// hostUDP opens a UDP socket on HostIP in the host namespace.
func hostUDP(t *testing.T, l *Lab) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	if err := l.Do(func() (err error) {
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: l.HostIP.AsSlice()})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// playerUDP opens a UDP socket on PlayerIP in the root namespace.
func playerUDP(t *testing.T, l *Lab) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: l.PlayerIP.AsSlice()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func port(c *net.UDPConn) uint16 { return c.LocalAddr().(*net.UDPAddr).AddrPort().Port() }

// flow returns a sender, a receiver and the address to send to, for direction d.
func flow(t *testing.T, l *Lab, d Direction) (src, dst *net.UDPConn, to netip.AddrPort) {
	t.Helper()
	h, p := hostUDP(t, l), playerUDP(t, l)
	if d == ToPlayer {
		return h, p, netip.AddrPortFrom(l.PlayerIP, port(p))
	}
	return p, h, netip.AddrPortFrom(l.PublicIP, port(h))
}

// TestEchoAndNAT: the player sends to PublicIP; the host's socket on its private HostIP gets
// it from PlayerIP and its reply comes back from PublicIP. The host reaches a TCP service in
// the root namespace, appearing there as PublicIP.
func TestEchoAndNAT(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			l := New(t, m.opts)
			if m.opts.NAT == (l.PublicIP == l.HostIP) {
				t.Fatalf("PublicIP %v, HostIP %v", l.PublicIP, l.HostIP)
			}
			if tent, err := l.TentativeAddrs(); err != nil || len(tent) > 0 {
				t.Fatalf("tentative addresses after New: %v %v", tent, err)
			}
			host, player := hostUDP(t, l), playerUDP(t, l)
			want := netip.AddrPortFrom(l.PublicIP, port(host))
			if _, err := player.WriteToUDPAddrPort([]byte("ping"), want); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 16)
			_ = host.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, from, err := host.ReadFromUDPAddrPort(buf)
			if err != nil || string(buf[:n]) != "ping" {
				t.Fatalf("host read %q %v", buf[:n], err)
			}
			if from.Addr().Unmap() != l.PlayerIP {
				t.Errorf("host saw the player as %v, want %v", from, l.PlayerIP)
			}
			if _, err := host.WriteToUDPAddrPort([]byte("pong"), from); err != nil {
				t.Fatal(err)
			}
			_ = player.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, from, err = player.ReadFromUDPAddrPort(buf)
			if err != nil || string(buf[:n]) != "pong" {
				t.Fatalf("player read %q %v", buf[:n], err)
			}
			if from.Addr().Unmap() != want.Addr() || from.Port() != want.Port() {
				t.Errorf("reply came from %v, want %v", from, want)
			}

			ln, err := net.Listen("tcp4", netip.AddrPortFrom(l.PlayerIP, 0).String())
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			var conn net.Conn
			if err := l.Do(func() (err error) {
				conn, err = net.DialTimeout("tcp4", ln.Addr().String(), 5*time.Second)
				return err
			}); err != nil {
				t.Fatalf("host dials the root namespace: %v", err)
			}
			defer conn.Close()
			ac, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer ac.Close()
			if got := ac.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap(); got != l.PublicIP {
				t.Errorf("root namespace saw the host as %v, want %v", got, l.PublicIP)
			}
		})
	}
}

// TestCommand runs `ip -o addr` in the host namespace: it has HostIP, never PlayerIP, and in
// NAT mode not PublicIP either.
func TestCommand(t *testing.T) {
	l := New(t, Options{NAT: true})
	out, err := l.Command(t.Context(), "ip", "-o", "addr").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, HostInterface+"    inet "+l.HostIP.String()+"/24") {
		t.Errorf("no %s on %s in:\n%s", l.HostIP, HostInterface, s)
	}
	for _, a := range []netip.Addr{l.PlayerIP, l.PublicIP} {
		if strings.Contains(s, "inet "+a.String()+"/") {
			t.Errorf("host namespace has %s:\n%s", a, s)
		}
	}
}

// TestRate blasts UDP at three times the limit: what arrives in one second is near the rate,
// and the limiter counts drops.
func TestRate(t *testing.T) {
	const rateKbit, size = 2000, 1200
	for _, m := range modes {
		for _, d := range []Direction{ToPlayer, ToHost} {
			t.Run(m.name+"/"+d.String(), func(t *testing.T) {
				t.Parallel()
				l := New(t, m.opts)
				if err := l.Shape(d, Shape{RateKbit: rateKbit}); err != nil {
					t.Fatal(err)
				}
				src, dst, to := flow(t, l, d)
				stop := make(chan struct{})
				sent := make(chan struct{})
				go func() { // paced at 3× the rate: 10 ms ticks
					defer close(sent)
					tick := time.NewTicker(10 * time.Millisecond)
					defer tick.Stop()
					pkt := make([]byte, size)
					per := 3 * rateKbit * 1000 / 8 / 100 / size
					for {
						for range per {
							_, _ = src.WriteToUDPAddrPort(pkt, to)
						}
						select {
						case <-stop:
							return
						case <-tick.C:
						}
					}
				}()
				got := receiveFor(t, dst, time.Second)
				close(stop)
				<-sent
				want := rateKbit * 1000 / 8
				t.Logf("received %d bytes in 1 s at %d kbit/s (%.2f of the rate)", got, rateKbit, float64(got)/float64(want))
				if got < want/2 || got > want*13/10 {
					t.Errorf("received %d bytes in 1 s, want %d (0.5…1.3×)", got, want)
				}
				st, err := l.Stats(d)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("stats %+v", st)
				if st.QueueDrops == 0 || st.Bytes < uint64(got) {
					t.Errorf("stats %+v after receiving %d bytes", st, got)
				}
				if err := l.Shape(d, Shape{}); err != nil {
					t.Fatal(err)
				}
				if st, err := l.Stats(d); err != nil || st.Packets != 0 {
					t.Errorf("stats after clearing: %+v %v", st, err)
				}
			})
		}
	}
}

// receiveFor counts the bytes c receives during d from its first packet.
func receiveFor(t *testing.T, c *net.UDPConn, d time.Duration) int {
	t.Helper()
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("nothing arrives: %v", err)
	}
	total, end := n, time.Now().Add(d)
	_ = c.SetReadDeadline(end)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return total
		}
		total += n
	}
}

// TestLoss drops 20 % of UDP: the drops are binomial, the counter matches what went
// missing, and after Clear nothing is lost.
func TestLoss(t *testing.T) {
	const permille, n = 200, 2000
	for _, m := range modes {
		for _, d := range []Direction{ToPlayer, ToHost} {
			t.Run(m.name+"/"+d.String(), func(t *testing.T) {
				t.Parallel()
				l := New(t, m.opts)
				if err := l.Shape(d, Shape{LossPermille: permille}); err != nil {
					t.Fatal(err)
				}
				src, dst, to := flow(t, l, d)
				got := sendCount(t, src, dst, to, n)
				st, err := l.Stats(d)
				if err != nil {
					t.Fatal(err)
				}
				p := permille / 1000.0
				tol := 5 * math.Sqrt(n*p*(1-p))
				t.Logf("%d of %d arrived; the loss rule dropped %d (expected %.0f ± %.0f)", got, n, st.LossDrops, n*p, tol)
				if math.Abs(float64(st.LossDrops)-n*p) > tol {
					t.Errorf("dropped %d of %d, want %.0f ± %.0f", st.LossDrops, n, n*p, tol)
				}
				if lost := n - got; lost < int(st.LossDrops) || lost > int(st.LossDrops)+n/100 {
					t.Errorf("%d went missing but the rule dropped %d", lost, st.LossDrops)
				}
				if err := l.Clear(); err != nil {
					t.Fatal(err)
				}
				if got := sendCount(t, src, dst, to, 200); got != 200 {
					t.Errorf("after Clear %d of 200 arrived", got)
				}
				if st2, err := l.Stats(d); err != nil || st2.LossDrops != st.LossDrops {
					t.Errorf("loss counter after Clear: %+v %v, was %d", st2, err, st.LossDrops)
				}
			})
		}
	}
}

// sendCount sends n small packets, 20 per millisecond so the receiver keeps up, and returns
// how many arrived.
func sendCount(t *testing.T, src, dst *net.UDPConn, to netip.AddrPort, n int) int {
	t.Helper()
	var got atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64)
		for {
			_ = dst.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			if _, err := dst.Read(buf); err != nil {
				return
			}
			got.Add(1)
		}
	}()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for i := 0; i < n; i++ {
		if i%20 == 0 {
			<-tick.C
		}
		if _, err := src.WriteToUDPAddrPort([]byte("x"), to); err != nil {
			t.Errorf("send: %v", err)
		}
	}
	<-done
	return int(got.Load())
}

// TestTwoLabs: two labs at once have their own names and subnets and both carry traffic.
func TestTwoLabs(t *testing.T) {
	a, b := New(t, Options{}), New(t, Options{NAT: true})
	if a.HostNS == b.HostNS || a.rootIf == b.rootIf || a.PlayerIP == b.PlayerIP || a.HostIP == b.HostIP {
		t.Fatalf("labs collide: %+v %+v", a, b)
	}
	for _, l := range []*Lab{a, b} {
		if err := l.probeUDP(t.Context()); err != nil {
			t.Error(err)
		}
	}
}

// TestClose removes every namespace, link and table, and is idempotent.
func TestClose(t *testing.T) {
	l, err := Open(t.Context(), Options{NAT: true})
	if errors.Is(err, ErrNotRoot) || errors.Is(err, ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Shape(ToPlayer, Shape{RateKbit: 1000, LossPermille: 10}); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(l.Close(), l.Close()); err != nil {
		t.Fatal(err)
	}
	if err := l.Shape(ToHost, Shape{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Shape after Close: %v", err)
	}
	if err := l.Do(func() error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Do after Close: %v", err)
	}
	assertGone(t, l.HostNS, l.routerNS, l.rootIf, l.rootTable)
}

func assertGone(t *testing.T, hostNS, routerNS, rootIf, table string) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{hostNS, routerNS} {
		if ns != "" && bytes.Contains(out, []byte(ns)) {
			t.Errorf("namespace %s left:\n%s", ns, out)
		}
	}
	if out, err := exec.Command("nft", "list", "tables").CombinedOutput(); err != nil || bytes.Contains(out, []byte(table)) {
		t.Errorf("nft table %s left (%v):\n%s", table, err, out)
	}
	if err := exec.Command("ip", "link", "show", "dev", rootIf).Run(); err == nil {
		t.Errorf("link %s left", rootIf)
	}
}

// TestStale: leftovers of a dead process are removed when a lab opens; a live lab is not.
func TestStale(t *testing.T) {
	live := New(t, Options{})
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	pid := dead.Process.Pid
	ns, ifname, table := fmt.Sprintf("eplab-%d-1-h", pid), fmt.Sprintf("ep%d-1", pid), fmt.Sprintf("eplab_%d_1", pid)
	for _, args := range [][]string{
		{"ip", "netns", "add", ns},
		{"ip", "link", "add", ifname, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"nft", "add", "table", "inet", table},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
	}
	New(t, Options{})
	assertGone(t, ns, "", ifname, table)
	if err := live.probeUDP(t.Context()); err != nil {
		t.Errorf("live lab broken by stale cleanup: %v", err)
	}
}

// TestTentative keeps DAD on: the host's link-local address is tentative right after New,
// binding a socket to it fails with EADDRNOTAVAIL until WaitDAD returns, then succeeds.
func TestTentative(t *testing.T) {
	l := New(t, Options{KeepDAD: true})
	tent, err := l.TentativeAddrs()
	if err != nil {
		t.Fatal(err)
	}
	if len(tent) == 0 {
		t.Fatal("no tentative address right after New with KeepDAD")
	}
	bind := func(a netip.Addr) error {
		return l.Do(func() error {
			c, err := net.ListenUDP("udp6", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, 0)))
			if err == nil {
				c.Close()
			}
			return err
		})
	}
	err = bind(tent[0])
	still, _ := l.TentativeAddrs()
	t.Logf("bind %v while tentative: %v", tent[0], err)
	if len(still) > 0 && !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Errorf("bind to tentative %v: %v, want EADDRNOTAVAIL", tent[0], err)
	}
	// ":0" (the wildcard) binds fine even while an address is tentative.
	if err := l.Do(func() error {
		c, err := net.ListenUDP("udp", &net.UDPAddr{})
		if err == nil {
			c.Close()
		}
		return err
	}); err != nil {
		t.Errorf("wildcard bind while tentative: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := l.WaitDAD(ctx); err != nil {
		t.Fatal(err)
	}
	if err := bind(tent[0]); err != nil {
		t.Errorf("bind after WaitDAD: %v", err)
	}
}

// LossPermille 1000 is a blackout: every UDP packet goes.
func TestLossTotal(t *testing.T) {
	l := New(t, Options{})
	if err := l.Shape(ToPlayer, Shape{LossPermille: 1000}); err != nil {
		t.Fatal(err)
	}
	src, dst, to := flow(t, l, ToPlayer)
	if got := sendCount(t, src, dst, to, 200); got != 0 {
		t.Errorf("%d of 200 packets crossed a total blackout", got)
	}
	st, err := l.Stats(ToPlayer)
	if err != nil {
		t.Fatal(err)
	}
	if st.LossDrops != 200 {
		t.Errorf("the loss counter says %d, want 200", st.LossDrops)
	}
}
