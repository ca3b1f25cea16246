package gameproc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Limits on a game process (Command.MemoryLimit, Command.CPULimit) and the cgroup that makes
// its end certain.
//
// Where the host runs in a cgroup v2 tree it may write to, with the memory and cpu controllers
// available (a systemd service with Delegate=yes, a container with its own cgroup namespace,
// a bare host's root), every game process is born in a cgroup of its own (clone3 with
// CLONE_INTO_CGROUP, SysProcAttr.CgroupFD), and whatever it starts, in its process group or
// not, is in it too:
//
//	<the host's cgroup>/edgeplay-host     the host process, moved here at first use
//	<the host's cgroup>/edgeplay-games    memory and cpu enabled for its children
//	                    edgeplay-games/g-<host pid>-<n>   one game process and all it starts
//
// The host moves itself into a leaf because of cgroup v2's "no internal processes" rule: a
// cgroup other than the root that holds processes cannot give controllers to its children.
// That is what systemd asks of a delegated service, and it changes nothing else for the host;
// a cgroup that holds other processes than the host (a login shell's) is not the host's to
// rearrange, so there the host uses rlimits instead. The games' cgroups live beside the host's
// leaf, not in the parent cgroup, which belongs to whoever started the host.
//
// In a game's cgroup: memory.max = MemoryLimit, memory.swap.max = 0 (where swap is
// accounted), memory.oom.group = 1 (an out-of-memory kill takes the whole game, not one of
// its processes), cpu.max = "CPULimit×100000 100000". When the game ends, cgroup.kill (Linux
// 5.14; SIGKILL to each process in cgroup.procs before that) ends every process in it, those
// that left the process group with setsid included, and the cgroup is removed. Game cgroups
// left by a host that died (g-<pid>-* of a pid that no longer runs) are removed at first use.
// memory.max counts what is resident: the game's memory, the page cache of the files it reads
// (reclaimed before the limit bites) and the kernel's memory for it, and the frame pool, whose
// pages the game touches first (3 frames of width×height×4 bytes: 25 MB at 1080p).
//
// Elsewhere (cgroup v1, a hybrid host whose v2 tree has no memory or cpu controller, no
// write access) the game gets rlimits, set with prlimit right after it started:
//   - MemoryLimit becomes RLIMIT_DATA, not RLIMIT_AS. Since Linux 4.7 RLIMIT_DATA bounds the
//     private writable mappings (heap, anonymous mmap, thread stacks, writable data), which is
//     what a leak grows; RLIMIT_AS also counts reservations that are never backed (a trivial
//     Go program reserves 1.3 GB of address space for 35 MB resident; glibc reserves 64 MB per
//     malloc arena; GPU drivers reserve far more) and would make any useful limit kill
//     healthy games. Shared mappings do not count, so the frame pool (mapped by the game and
//     the host) is outside the limit. What it does not bound: shared memory (memfd, shm,
//     tmpfs files) and the main thread's stack (RLIMIT_STACK). An allocation past it fails
//     with ENOMEM (Go: "fatal error: runtime: out of memory"; C: malloc returns NULL). It still
//     counts writable memory that is mapped and never touched: a Go game starts with about 40
//     MB of it (32 MB is the runtime's heap index, never resident), so under a 64 MiB limit
//     a Go program gets 28 MiB of heap (TestMemoryLimit); each pthread's stack counts 8 MB.
//   - There is no rlimit for a CPU rate (RLIMIT_CPU ends a process after so many CPU seconds,
//     which would end a long session), so CPULimit is not enforced: the game runs 10 nicer
//     than the host, and the host warns once that CPU limits need cgroup v2.
//
// Always, whatever the mechanism: RLIMIT_CORE 0 (no core dumps filling the disk; a game that
// wants crash reports writes its own) and RLIMIT_NOFILE's hard limit at most maxGameFiles
// (the soft limit stays the host's original, as Go restores it for children).
//
// rlimits set after start: Go's SysProcAttr has no rlimits, and setting them on the host
// around the fork would limit the host too. So between exec and prlimit (microseconds: Start
// returns right after exec) the game runs without them. That is harmless: the game keeps
// what it took in that window, but RLIMIT_DATA checks each later allocation against all the
// private memory the process has, so it cannot grow past the limit. The nice value needs no
// such window: it is per thread on
// Linux and the child inherits its creating thread's, so spawn starts the game from a thread
// of its own at the lower priority, and that thread ends with the game.
//
// Neither mechanism is a sandbox: a game that runs as the host's user can move itself out of
// its cgroup (the host's cgroup is writable to that user) or signal the host. The limits guard
// the host against a game that misbehaves, not one that attacks it.

const (
	hostCgroup  = "edgeplay-host"  // the leaf the host moves itself into
	gamesCgroup = "edgeplay-games" // the parent of the games' cgroups

	cpuPeriod     = 100_000 // cpu.max's period in µs (the kernel's default)
	minCPULimit   = 0.01    // the kernel refuses a cpu.max quota under 1 ms
	minMemory     = 1 << 20 // MemoryLimit's least; below it nothing starts
	gameNiceDelta = 10      // how much nicer than the host a game runs without cgroup v2
	maxGameFiles  = 65536   // RLIMIT_NOFILE's hard limit for a game, at most

	// cgroupRemoveTimeout bounds how long removing a game's cgroup waits for its processes,
	// killed, to exit.
	cgroupRemoveTimeout = 2 * time.Second
)

// checkLimits says what is wrong with c's MemoryLimit and CPULimit.
func (c Command) checkLimits() error {
	switch {
	case c.MemoryLimit < 0 || (c.MemoryLimit > 0 && c.MemoryLimit < minMemory):
		return fmt.Errorf("gameproc: memory limit %d bytes, want 0 (none) or at least %d", c.MemoryLimit, minMemory)
	case math.IsNaN(c.CPULimit) || math.IsInf(c.CPULimit, 0) || c.CPULimit < 0 ||
		(c.CPULimit > 0 && c.CPULimit < minCPULimit):
		return fmt.Errorf("gameproc: cpu limit %v cores, want 0 (none) or at least %v", c.CPULimit, minCPULimit)
	}
	return nil
}

// limiter is how this host limits its games: a cgroup v2 tree, or rlimits and nice.
type limiter struct {
	cg      *cgroupTree // nil: no cgroup v2
	why     string      // why not, when cg is nil
	cpuWarn sync.Once   // the warning that CPULimit is not enforced
}

var (
	hostOnce    sync.Once
	hostLimiter *limiter // written once, under hostOnce
)

// limits returns the host's limiter, finding out at first use which mechanism there is and
// logging it once on log (nil: slog.Default()).
func limits(log *slog.Logger) *limiter {
	hostOnce.Do(func() {
		if log == nil {
			log = slog.Default()
		}
		cg, err := newCgroupTree("", os.Getpid(), realCgroupOps)
		if err != nil {
			hostLimiter = &limiter{why: err.Error()}
		} else {
			hostLimiter = &limiter{cg: cg}
		}
		log.Info("game limits: "+hostLimiter.mechanism(), "swept", cg.sweptCount())
	})
	return hostLimiter
}

// mechanism says how games are limited, for the log.
func (l *limiter) mechanism() string {
	if l.cg == nil {
		return "rlimits (RLIMIT_DATA for memory, nice for CPU), no cgroup v2: " + l.why
	}
	return "cgroup v2 at " + l.cg.games
}

// procLimits is one game process's limits: its cgroup, if any, and what to set once it
// started.
type procLimits struct {
	cg     *cgroupTree // nil: no cgroup
	dir    string      // the process's cgroup; "" without
	fd     int         // open on dir until the process started; -1 when not
	data   uint64      // RLIMIT_DATA; 0: none
	renice bool        // start the process from a thread gameNiceDelta nicer
}

// prepare makes c's process limits and sets attr to start the process in its cgroup.
func (l *limiter) prepare(c Command, attr *syscall.SysProcAttr, log *slog.Logger) (*procLimits, error) {
	p := &procLimits{fd: -1}
	if l.cg == nil {
		p.data = uint64(c.MemoryLimit)
		p.renice = c.CPULimit > 0
		if p.renice {
			l.cpuWarn.Do(func() {
				log.Warn("game limits: CPU limits need cgroup v2; games run at a lower priority (nice +10) instead",
					"reason", l.why)
			})
		}
		return p, nil
	}
	dir, err := l.cg.create(c)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		_ = l.cg.remove(dir)
		return nil, fmt.Errorf("gameproc: opening cgroup: %w", err)
	}
	p.cg, p.dir, p.fd = l.cg, dir, fd
	attr.UseCgroupFD, attr.CgroupFD = true, fd
	return p, nil
}

// beforeStart runs on the thread that will start the process, locked to it.
func (p *procLimits) beforeStart() error {
	if !p.renice {
		return nil
	}
	// The raw getpriority returns 20 − nice. PRIO_PROCESS with who 0 is this thread on Linux.
	prio, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	if err != nil {
		return fmt.Errorf("gameproc: getpriority: %w", err)
	}
	if err := unix.Setpriority(unix.PRIO_PROCESS, 0, min(20-prio+gameNiceDelta, 19)); err != nil {
		return fmt.Errorf("gameproc: setpriority: %w", err)
	}
	return nil
}

// started closes the cgroup's descriptor (the process is in it) and sets the process's
// rlimits; pid is 0 when it did not start.
func (p *procLimits) started(pid int) error {
	if p.fd >= 0 {
		_ = unix.Close(p.fd)
		p.fd = -1
	}
	if pid == 0 {
		return nil
	}
	for _, r := range []struct {
		res int
		set func(*unix.Rlimit)
	}{
		{unix.RLIMIT_CORE, func(l *unix.Rlimit) { l.Cur, l.Max = 0, 0 }},
		{unix.RLIMIT_NOFILE, func(l *unix.Rlimit) { l.Cur, l.Max = min(l.Cur, maxGameFiles), min(l.Max, maxGameFiles) }},
		{unix.RLIMIT_DATA, func(l *unix.Rlimit) {
			if p.data > 0 {
				l.Max = min(l.Max, p.data)
				l.Cur = l.Max
			}
		}},
	} {
		var lim unix.Rlimit
		err := unix.Prlimit(pid, r.res, nil, &lim)
		if err == nil {
			r.set(&lim)
			err = unix.Prlimit(pid, r.res, &lim, nil)
		}
		if errors.Is(err, unix.ESRCH) {
			return nil // it exited already; the reaper sees why
		}
		if err != nil {
			return fmt.Errorf("gameproc: prlimit %d: %w", r.res, err)
		}
	}
	return nil
}

// kill kills every process in the cgroup; without one it does nothing.
func (p *procLimits) kill() {
	if p.cg != nil {
		p.cg.kill(p.dir)
	}
}

// release kills what is left in the cgroup and removes it, once the process was reaped.
func (p *procLimits) release(log *slog.Logger) {
	_ = p.started(0) // closes the descriptor if Start failed
	if p.cg == nil {
		return
	}
	if err := p.cg.remove(p.dir); err != nil {
		log.Warn("game limits: cgroup left behind", "err", err)
	}
}

// sweptCount is how many stale game cgroups setup removed; 0 without a tree.
func (t *cgroupTree) sweptCount() int {
	if t == nil {
		return 0
	}
	return t.swept
}

// cgroupOps are the cgroup filesystem's operations that a test replaces to fake the kernel.
type cgroupOps struct {
	mkdir func(path string) error
	rmdir func(path string) error
}

var realCgroupOps = cgroupOps{
	mkdir: func(p string) error { return os.Mkdir(p, 0o755) },
	rmdir: func(p string) error { return unix.Rmdir(p) },
}

// cgroupTree is the host's games' cgroups: gamesCgroup under the host's cgroup.
type cgroupTree struct {
	games    string // the parent of the games' cgroups
	pid      int    // the host's, in the games' cgroups' names
	swap     bool   // memory.swap.max exists (swap is accounted)
	oomGroup bool   // memory.oom.group exists (Linux 4.19)
	killFile bool   // cgroup.kill exists (Linux 5.14)
	swept    int    // stale game cgroups removed at setup
	ops      cgroupOps
	seq      atomic.Uint64
}

// newCgroupTree finds the cgroup v2 this process (pid) runs in and, when it can give the
// memory and cpu controllers to children, sets up the host's leaf and the games' parent. root
// prefixes every path (a fake tree in tests; "" for the real one). The error says why there
// is no cgroup v2 for games.
func newCgroupTree(root string, pid int, ops cgroupOps) (*cgroupTree, error) {
	dir, err := findCgroup(root)
	if err != nil {
		return nil, err
	}
	moved := false
	if filepath.Base(dir) == hostCgroup { // a host before this one (an exec) moved here
		dir, moved = filepath.Dir(dir), true
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("cgroup v2 at %s: "+format, append([]any{dir}, args...)...)
	}
	ctrl, err := readFields(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return nil, fail("%w", err)
	}
	if missing := lacking(ctrl, "memory", "cpu"); missing != "" {
		return nil, fail("controllers %q lack %s", strings.Join(ctrl, " "), missing)
	}
	// The root cgroup, alone, has no cgroup.type, and may hold processes and give controllers.
	_, err = os.Stat(filepath.Join(dir, "cgroup.type"))
	isRoot := errors.Is(err, fs.ErrNotExist)
	if !isRoot && !moved {
		procs, err := readFields(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			return nil, fail("%w", err)
		}
		self := strconv.Itoa(pid)
		if others := slices.DeleteFunc(procs, func(p string) bool { return p == self }); len(others) > 0 {
			return nil, fail("it holds other processes than the host (%s), so it cannot give "+
				"controllers to children; run the host in a cgroup of its own (systemd: Delegate=yes)",
				strings.Join(others[:min(len(others), 5)], " "))
		}
		leaf := filepath.Join(dir, hostCgroup)
		if err := mkdirOK(ops, leaf); err != nil {
			return nil, fail("%w", err)
		}
		if err := writeCgroup(leaf, "cgroup.procs", self); err != nil {
			_ = ops.rmdir(leaf)
			return nil, fail("moving the host into %s: %w", hostCgroup, err)
		}
		moved = true
	}
	if err := enable(dir); err != nil {
		if moved && !isRoot {
			_ = writeCgroup(dir, "cgroup.procs", strconv.Itoa(pid)) // back where it was
		}
		return nil, fail("%w", err)
	}
	t := &cgroupTree{games: filepath.Join(dir, gamesCgroup), pid: pid, ops: ops}
	if err := mkdirOK(ops, t.games); err != nil {
		return nil, fail("%w", err)
	}
	if err := enable(t.games); err != nil {
		return nil, fail("%w", err)
	}
	t.swap = exists(filepath.Join(t.games, "memory.swap.max"))
	t.oomGroup = exists(filepath.Join(t.games, "memory.oom.group"))
	t.killFile = exists(filepath.Join(t.games, "cgroup.kill"))
	t.swept = t.sweep()
	return t, nil
}

// findCgroup returns the directory of this process's cgroup v2 (under root): its path from
// /proc/self/cgroup's "0::" line, under the cgroup2 mount in /proc/self/mountinfo whose root
// holds it (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host).
func findCgroup(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "/proc/self/cgroup"))
	if err != nil {
		return "", err
	}
	path, ok := "", false
	for line := range strings.Lines(string(b)) {
		if p, found := strings.CutPrefix(strings.TrimRight(line, "\n"), "0::"); found {
			path, ok = p, true
		}
	}
	switch {
	case !ok:
		return "", errors.New("no cgroup v2 in /proc/self/cgroup (cgroup v1 only)")
	case !strings.HasPrefix(path, "/") || slices.Contains(strings.Split(path, "/"), ".."):
		return "", fmt.Errorf("cgroup v2 path %q is outside this cgroup namespace", path)
	}
	mi, err := os.ReadFile(filepath.Join(root, "/proc/self/mountinfo"))
	if err != nil {
		return "", err
	}
	for _, m := range cgroup2Mounts(mi) {
		rel, ok := strings.CutPrefix(path, m.root)
		if m.root == "/" {
			rel, ok = path, true
		}
		if ok && (rel == "" || strings.HasPrefix(rel, "/")) {
			return filepath.Join(root, m.point, rel), nil
		}
	}
	return "", fmt.Errorf("no cgroup2 mount holds %s", path)
}

type mount struct{ root, point string }

// cgroup2Mounts parses mountinfo's lines ("36 35 0:30 / /sys/fs/cgroup rw,nosuid - cgroup2
// cgroup2 rw") and returns the cgroup2 mounts' roots and mount points.
func cgroup2Mounts(mountinfo []byte) []mount {
	var ms []mount
	sc := bufio.NewScanner(bytes.NewReader(mountinfo))
	for sc.Scan() {
		left, right, ok := strings.Cut(sc.Text(), " - ")
		f, r := strings.Fields(left), strings.Fields(right)
		if !ok || len(f) < 5 || len(r) < 1 || r[0] != "cgroup2" {
			continue
		}
		ms = append(ms, mount{root: unescapeMountinfo(f[3]), point: unescapeMountinfo(f[4])})
	}
	return ms
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space, \011, \012, \134).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// enable gives memory and cpu to dir's children, unless it does already.
func enable(dir string) error {
	on, err := readFields(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return err
	}
	if lacking(on, "memory", "cpu") == "" {
		return nil
	}
	if err := writeCgroup(dir, "cgroup.subtree_control", "+memory +cpu"); err != nil {
		return fmt.Errorf("enabling memory and cpu for %s's children: %w", filepath.Base(dir), err)
	}
	return nil
}

// create makes the cgroup of a game process with c's limits.
func (t *cgroupTree) create(c Command) (string, error) {
	dir := filepath.Join(t.games, fmt.Sprintf("g-%d-%d", t.pid, t.seq.Add(1)))
	if err := t.ops.mkdir(dir); err != nil {
		return "", fmt.Errorf("gameproc: making the game's cgroup: %w", err)
	}
	var writes [][2]string
	if c.MemoryLimit > 0 {
		writes = append(writes, [2]string{"memory.max", strconv.FormatInt(c.MemoryLimit, 10)})
		if t.swap {
			writes = append(writes, [2]string{"memory.swap.max", "0"})
		}
	}
	if t.oomGroup {
		writes = append(writes, [2]string{"memory.oom.group", "1"})
	}
	if c.CPULimit > 0 {
		quota := max(int64(math.Round(c.CPULimit*cpuPeriod)), 1000)
		writes = append(writes, [2]string{"cpu.max", fmt.Sprintf("%d %d", quota, cpuPeriod)})
	}
	for _, w := range writes {
		if err := writeCgroup(dir, w[0], w[1]); err != nil {
			_ = t.ops.rmdir(dir)
			return "", fmt.Errorf("gameproc: game cgroup: %w", err)
		}
	}
	return dir, nil
}

// kill sends SIGKILL to every process in the cgroup dir: through cgroup.kill, or to each pid
// in cgroup.procs on kernels before 5.14 (one pass; remove repeats it for those forked
// meanwhile). A cgroup already removed is not an error.
func (t *cgroupTree) kill(dir string) {
	if t.killFile {
		_ = writeCgroup(dir, "cgroup.kill", "1")
		return
	}
	procs, _ := readFields(filepath.Join(dir, "cgroup.procs"))
	for _, p := range procs {
		if pid, err := strconv.Atoi(p); err == nil && pid > 0 {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// remove kills what runs in the cgroup dir and removes it, retrying while its processes exit
// (rmdir says EBUSY until they have), for up to cgroupRemoveTimeout.
func (t *cgroupTree) remove(dir string) error {
	deadline := time.Now().Add(cgroupRemoveTimeout)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		t.kill(dir)
		err := t.ops.rmdir(dir)
		switch {
		case err == nil || errors.Is(err, fs.ErrNotExist):
			return nil
		case !errors.Is(err, unix.EBUSY) || !time.Now().Before(deadline):
			return fmt.Errorf("gameproc: removing %s: %w", dir, err)
		}
		time.Sleep(wait)
	}
}

// sweep removes the games' cgroups of hosts that no longer run (g-<pid>-<n> whose pid is
// gone) and says how many.
func (t *cgroupTree) sweep() int {
	ents, _ := os.ReadDir(t.games)
	n := 0
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), "g-")
		p, _, ok2 := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(p)
		if !e.IsDir() || !ok || !ok2 || err != nil || pid <= 0 || pid == t.pid ||
			!errors.Is(unix.Kill(pid, 0), unix.ESRCH) {
			continue
		}
		if t.remove(filepath.Join(t.games, e.Name())) == nil {
			n++
		}
	}
	return n
}

// writeCgroup writes s to dir's file name in one write, as cgroupfs wants; the file must
// exist (cgroupfs makes them; a missing one means the controller is not there).
func writeCgroup(dir, name, s string) error {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %q to %s: %w", s, filepath.Join(dir, name), err)
	}
	return nil
}

func readFields(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	return strings.Fields(string(b)), err
}

// lacking names those of want that have is missing ("memory, cpu"), or "".
func lacking(have []string, want ...string) string {
	var miss []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			miss = append(miss, w)
		}
	}
	return strings.Join(miss, ", ")
}

func mkdirOK(ops cgroupOps, dir string) error {
	if err := ops.mkdir(dir); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
