package netlab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// Command returns a command that runs name with args in the host namespace, through
// `ip netns exec`, which execs name in place: the *exec.Cmd's process is the program itself,
// so cancelling ctx or cmd.Process.Kill stops it. Stop such processes before Close: a process
// still in the namespace keeps it alive (though without its links) after Close.
func (l *Lab) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	ip := "ip"
	if paths, err := tools(); err == nil {
		ip = paths["ip"]
	}
	return exec.CommandContext(ctx, ip, append([]string{"netns", "exec", l.HostNS, name}, args...)...)
}

// Do runs fn on an OS thread switched into the host namespace and returns its error. Sockets
// fn creates (net.ListenUDP, net.Listen, net.Dial, a pion UDP mux built from them) belong to
// the host namespace for their whole life, whichever goroutine later reads or writes them;
// net.Interfaces inside fn lists the host namespace's interfaces.
//
// Caveats: fn runs on its own goroutine, so it must not call t.FailNow (t.Fatal) — return an
// error instead. Goroutines that fn starts are NOT in the namespace, nor is anything that
// opens sockets later from another goroutine (a pion agent gathering candidates itself, a NATS
// client reconnecting); use literal IP addresses inside fn, since name resolution may run on
// other threads. The thread is never switched back: it exits when fn returns.
func (l *Lab) Do(fn func() error) error {
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return inNS(l.HostNS, fn)
}

// inNS runs fn on a locked OS thread in the named namespace. The goroutine returns without
// unlocking the thread, so the Go runtime terminates the thread rather than reuse it.
func inNS(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- fmt.Errorf("netlab: open namespace: %w", err)
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			errc <- fmt.Errorf("netlab: setns %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// writeSysctl sets a sysctl such as "net/ipv6/conf/eth0/accept_dad" in namespace ns ("" is the
// root namespace). /proc/sys/net follows the network namespace of the thread that opens it.
func writeSysctl(ns, key, value string) error {
	write := func() error { return os.WriteFile("/proc/sys/"+key, []byte(value), 0o644) }
	if ns == "" {
		return write()
	}
	return inNS(ns, write)
}
