package netlab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// HostInterface is the name of the host namespace's link towards the player.
const HostInterface = "eth0"

// Options shape a lab. The zero value is a direct link with IPv6 DAD off.
type Options struct {
	// NAT puts a router namespace between the player and the host that maps PublicIP 1:1 to
	// HostIP (DNAT in, SNAT out); PublicIP is then not an address of the host namespace.
	NAT bool
	// KeepDAD leaves IPv6 duplicate address detection on, so the interfaces' link-local
	// addresses stay tentative for a second or two after Open returns (TentativeAddrs,
	// WaitDAD). By default DAD is off on the lab's interfaces and Open waits until no
	// address is tentative.
	KeepDAD bool
}

// Lab is one emulated link between the root namespace (the player: the test process and the
// browser it starts) and a host namespace, optionally through a NAT router. Its exported
// fields are set by Open and must not be changed.
type Lab struct {
	// HostNS is the name of the host namespace (for `ip netns exec`).
	HostNS string
	// HostIP is the host's interface address (private in NAT mode).
	HostIP netip.Addr
	// PublicIP is where the player reaches the host: HostIP, or in NAT mode the router's
	// outside address, which the host advertises (--public-ip).
	PublicIP netip.Addr
	// PlayerIP is the root namespace's address on the lab link. The host reaches services
	// the test runs (NATS, the gateway) here, so they must listen on it or on 0.0.0.0, not on
	// 127.0.0.1.
	PlayerIP netip.Addr

	routerNS  string // "" in direct mode
	rootIf    string // root end of the link to the player
	farNS     string // namespace at the other end of rootIf: the router's, or the host's
	farIf     string // interface at the other end of rootIf
	rootTable string // nft table (inet) in the root namespace: loss towards the player

	mu     sync.Mutex
	closed bool    // guarded by mu
	shaped [2]bool // guarded by mu: a tbf qdisc is installed, by Direction
}

var labSeq atomic.Uint32

// Open builds a lab and waits until it is ready: the host namespace answers UDP from the root
// namespace and, unless opts.KeepDAD, no lab address is tentative. It removes leftovers of
// labs whose process died first. Close it when done.
func Open(ctx context.Context, opts Options) (*Lab, error) {
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	if _, err := tools(); err != nil {
		return nil, err
	}
	pid, seq := os.Getpid(), labSeq.Add(1)
	l := &Lab{
		HostNS:    fmt.Sprintf("%s%d-%d-h", nsPrefix, pid, seq),
		rootIf:    fmt.Sprintf("%s%d-%d", ifPrefix, pid, seq),
		rootTable: fmt.Sprintf("%s%d_%d", tablePrefix, pid, seq),
	}
	if opts.NAT {
		l.routerNS = fmt.Sprintf("%s%d-%d-r", nsPrefix, pid, seq)
	}
	if err := l.create(ctx, opts); err != nil {
		return nil, errors.Join(err, l.close(context.WithoutCancel(ctx)))
	}
	if err := l.waitReady(ctx, !opts.KeepDAD); err != nil {
		return nil, errors.Join(err, l.close(context.WithoutCancel(ctx)))
	}
	return l, nil
}

// create allocates a subnet and builds the topology, holding the machine-wide lab lock so
// that parallel test processes pick different subnets.
func (l *Lab) create(ctx context.Context, opts Options) error {
	unlock, err := lockLabs()
	if err != nil {
		return err
	}
	defer unlock()
	if err := cleanStale(ctx); err != nil {
		return err
	}
	n, err := freeSubnet(ctx)
	if err != nil {
		return err
	}
	return l.build(ctx, n, opts)
}

// New opens a lab for a test and closes it in t.Cleanup. It skips the test when not root or
// when the kernel lacks a feature, and fails it otherwise (a missing ip, tc or nft included).
func New(tb testing.TB, opts Options) *Lab {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 20*time.Second)
	defer cancel()
	l, err := Open(ctx, opts)
	switch {
	case errors.Is(err, ErrNotRoot), errors.Is(err, ErrUnsupported):
		tb.Skip(err)
	case err != nil:
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := l.Close(); err != nil {
			tb.Errorf("netlab: close: %v", err)
		}
	})
	return l
}

// Close removes the namespaces, links, qdiscs and nft tables of the lab. It is idempotent.
func (l *Lab) Close() error { return l.close(context.Background()) }

func (l *Lab) close(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var errs []error
	del := func(ns, tool string, args ...string) {
		if _, err := run(ctx, ns, "", tool, args...); err != nil && !notFound(err) {
			errs = append(errs, err)
		}
	}
	del("", "nft", "delete", "table", "inet", l.rootTable)
	// Deleting a veth end deletes its peer, qdiscs included. Delete the links explicitly: a
	// namespace that some process still lives in outlasts `ip netns del`, and so would its links.
	del("", "ip", "link", "del", l.rootIf)
	if l.routerNS != "" {
		del(l.routerNS, "ip", "link", "del", "lan")
		del("", "ip", "netns", "del", l.routerNS)
	}
	del("", "ip", "netns", "del", l.HostNS)
	return errors.Join(errs...)
}

// MovePlayer changes the root namespace's primary address on the link, as a player's network
// change (Wi-Fi to 4G) changes its address: PlayerIP's next address in the link's /24 becomes
// the link's primary address, the one a browser uses, and is returned. PlayerIP stays as a
// secondary address, so that connections the host holds to services on it (NATS) carry on;
// to make the old address useless for media, drop its UDP in the host namespace. The change
// goes with the link when the lab closes.
func (l *Lab) MovePlayer(ctx context.Context) (netip.Addr, error) {
	addr := l.PlayerIP.Next()
	oldP, newP := netip.PrefixFrom(l.PlayerIP, 24).String(), netip.PrefixFrom(addr, 24).String()
	// Deleting a primary address deletes its secondaries too, unless they are promoted.
	if err := os.WriteFile("/proc/sys/net/ipv4/conf/"+l.rootIf+"/promote_secondaries", []byte("1"), 0o644); err != nil {
		return netip.Addr{}, fmt.Errorf("netlab: move the player: %w", err)
	}
	for _, args := range [][]string{
		{"ip", "addr", "add", newP, "dev", l.rootIf},
		{"ip", "addr", "del", oldP, "dev", l.rootIf}, // the new one is promoted
		{"ip", "addr", "add", oldP, "dev", l.rootIf},
	} {
		if _, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput(); err != nil {
			return netip.Addr{}, fmt.Errorf("netlab: move the player to %v: %s: %w", addr, strings.Join(args, " "), err)
		}
	}
	return addr, nil
}
