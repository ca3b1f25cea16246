package gameproc

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// waitDelay bounds how long cmd.Wait waits for stdout and stderr to close after the process
// exited (a grandchild may still hold them).
const waitDelay = time.Second

// envFD names the link's descriptor in the game's environment (docs/SDK.md, "The link").
const envFD = "EDGEPLAY_FD"

// child is a started game process in its own process group and, where there is cgroup v2, its
// own cgroup (limits.go). exited is closed once cmd.Wait returned (the process is reaped) and
// its cgroup, with whatever was left in it, is gone; waitErr is set before that.
type child struct {
	cmd     *exec.Cmd
	pid     int         // written before spawn returns
	lim     *procLimits // its cgroup and rlimits
	exited  chan struct{}
	waitErr error // written before exited is closed
}

// spawn starts the program with link as fd 3 (EDGEPLAY_FD=3) and nothing else inherited: the
// environment is c.Env only, stdout and stderr go to glog; with c's memory and CPU limits
// (limits.go) and SIGKILL when the host dies (Pdeathsig). The caller closes link afterwards.
// A goroutine reaps the process; whoever calls spawn waits for exited.
func spawn(c Command, link *os.File, glog *gameLog) (*child, error) {
	cloexecOnce.Do(func() { cloexecErr = closeOnExecAll() })
	if cloexecErr != nil {
		return nil, fmt.Errorf("%w: %w", ErrStartFailed, cloexecErr)
	}
	if err := c.checkLimits(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStartFailed, err)
	}
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	lim, err := limits(glog.log).prepare(c, attr, glog.log)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStartFailed, err)
	}
	cmd := &exec.Cmd{
		Path:        c.Path,
		Args:        append([]string{c.Path}, c.Args...),
		Env:         append(slices.Clone(c.Env), envFD+"=3"),
		Dir:         c.Dir,
		ExtraFiles:  []*os.File{link}, // fd 3; every other descriptor is close-on-exec
		SysProcAttr: attr,
		WaitDelay:   waitDelay,
		Stdout:      &lineWriter{log: glog, src: "stdout", level: slog.LevelInfo},
		Stderr:      &lineWriter{log: glog, src: "stderr", level: slog.LevelWarn},
	}
	ch := &child{cmd: cmd, lim: lim, exited: make(chan struct{})}
	started := make(chan error, 1)
	go ch.supervise(started, glog.log)
	if err := <-started; err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStartFailed, err)
	}
	return ch, nil
}

// supervise starts the process, says on started whether it did, then reaps it and removes
// its cgroup. It holds its OS thread from before the start until the process is reaped and
// never lets go, so the thread ends with it: the child inherits this thread's nice value (per
// thread on Linux; limits.go lowers it here when there is no cgroup to cap the CPU), and
// Pdeathsig fires when the thread that started the child exits, not the host, so the thread
// must outlive the child.
func (ch *child) supervise(started chan<- error, log *slog.Logger) {
	runtime.LockOSThread() // never unlocked: the runtime ends the thread with this goroutine
	err := ch.lim.beforeStart()
	if err == nil {
		err = ch.cmd.Start()
	}
	if err != nil {
		ch.lim.release(log)
		started <- err
		return
	}
	ch.pid = ch.cmd.Process.Pid
	if err := ch.lim.started(ch.pid); err != nil {
		ch.killGroup()
		_ = ch.cmd.Wait()
		ch.lim.release(log)
		started <- err
		return
	}
	started <- nil
	ch.waitErr = ch.cmd.Wait()
	ch.lim.release(log)
	close(ch.exited)
}

var (
	cloexecOnce sync.Once
	cloexecErr  error // written once, under cloexecOnce
)

// closeOnExecAll marks every descriptor above stderr close-on-exec, once per host process, so
// that a game inherits only the link: Go opens its own descriptors close-on-exec, but the host
// may have inherited others from whoever started it (a shell's, a supervisor's), and
// exec.Cmd passes on every descriptor that is not. Needs Linux 5.11 (close_range).
func closeOnExecAll() error {
	if err := unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("gameproc: marking inherited descriptors close-on-exec: %w", err)
	}
	return nil
}

// waitExit waits up to d for the process to exit and reports whether it did.
func (ch *child) waitExit(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch.exited:
		return true
	case <-t.C:
		return false
	}
}

// killGroup kills the game's cgroup, where it has one, and its process group: every process
// it started, those that left the group included when there is a cgroup. It is safe after the
// leader was reaped: Linux does not reuse a pid while a group of that id still has members,
// and a removed cgroup takes no more writes.
func (ch *child) killGroup() {
	ch.lim.kill()
	_ = syscall.Kill(-ch.pid, syscall.SIGKILL)
}

// status describes how the process ended: "exit status 3", "signal: killed". Call it only
// after exited is closed.
func (ch *child) status() string {
	var ee *exec.ExitError
	switch {
	case ch.waitErr == nil:
		return "exit status 0"
	case errors.As(ch.waitErr, &ee):
		return ee.String()
	default:
		return ch.waitErr.Error()
	}
}
