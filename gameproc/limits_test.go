package gameproc

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sys/unix"
)

var (
	limitGameOnce sync.Once
	limitGame     string // testdata/limitgame's binary, beside testGame (TestMain removes both)
	limitGameErr  error
)

// buildLimitGame builds testdata/limitgame once.
func buildLimitGame(t *testing.T) string {
	t.Helper()
	limitGameOnce.Do(func() {
		limitGame = filepath.Join(filepath.Dir(testGame), "limitgame")
		out, err := exec.Command("go", "build", "-o", limitGame, "./testdata/limitgame").CombinedOutput()
		if err != nil {
			limitGameErr = fmt.Errorf("building limitgame: %w\n%s", err, out)
		}
	})
	if limitGameErr != nil {
		t.Fatal(limitGameErr)
	}
	return limitGame
}

// limited is limitgame started by spawn with c's limits; go is the write end of its fd 3.
type limited struct {
	ch   *child
	out  string // $LIMITGAME_OUT
	gate *os.File
}

func spawnLimited(t *testing.T, c Command, env ...string) *limited {
	t.Helper()
	return spawnLogged(t, slog.New(slog.NewTextHandler(testWriter{t}, nil)), c, env...)
}

// spawnLogged is spawnLimited with the game's lines going to log.
func spawnLogged(t *testing.T, log *slog.Logger, c Command, env ...string) *limited {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	c.Path = buildLimitGame(t)
	c.Env = append(env, "LIMITGAME_OUT="+out)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ch, err := spawn(c, r, &gameLog{log: log})
	_ = r.Close()
	if err != nil {
		_ = w.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = w.Close()
		ch.killGroup()
		<-ch.exited
	})
	return &limited{ch: ch, out: out, gate: w}
}

// output waits for limitgame's $LIMITGAME_OUT to start with prefix and returns it.
func (l *limited) output(t *testing.T, prefix string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(l.out)
		if strings.HasPrefix(string(b), prefix) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("limitgame wrote %q, want %q…", b, prefix)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (l *limited) wait(t *testing.T) {
	t.Helper()
	if !l.ch.waitExit(30 * time.Second) {
		t.Fatal("limitgame did not exit in 30 s")
	}
}

// A game that tries to take twice its memory limit cannot have more than the limit, whichever
// mechanism this host has; without the limit the same program gets all it asks for.
func TestMemoryLimit(t *testing.T) {
	const limitMiB, askMiB = 64, 128
	tests := []struct {
		name  string
		limit int64
	}{
		{"no limit", 0},
		{"limit", limitMiB << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not the test's log: a Go program out of memory prints every goroutine's stack.
			l := spawnLogged(t, slog.New(slog.DiscardHandler), Command{MemoryLimit: tt.limit},
				"LIMITGAME_ALLOC_MIB="+strconv.Itoa(askMiB))
			if _, err := l.gate.Write([]byte{1}); err != nil { // the limits are set: go
				t.Fatal(err)
			}
			l.wait(t)
			b, _ := os.ReadFile(l.out)
			t.Logf("%s: limitgame wrote %q and ended with %s (%s)", tt.name, b, l.ch.status(), limits(nil).mechanism())
			if tt.limit == 0 {
				if want := fmt.Sprintf("done %d", askMiB); string(b) != want || l.ch.waitErr != nil {
					t.Fatalf("without a limit: wrote %q, %s; want %q, exit status 0", b, l.ch.status(), want)
				}
				return
			}
			held, err := strconv.Atoi(string(b))
			switch {
			case l.ch.waitErr == nil:
				t.Fatalf("limitgame exited 0 under a %d MiB limit, having written %q", limitMiB, b)
			case err != nil:
				t.Fatalf("limitgame wrote %q under a %d MiB limit; want the MiB it held", b, limitMiB)
			case held >= limitMiB:
				t.Fatalf("limitgame held %d MiB under a %d MiB limit", held, limitMiB)
			}
		})
	}
}

// The limits reach the process: its rlimits, its nice value on every thread or its cgroup's
// files, by mechanism; the host's threads keep their priority; the cgroup goes with the game.
func TestLimitsApplied(t *testing.T) {
	hostNice := 20 - mustPriority(t)
	const mem = 256 << 20
	l := spawnLimited(t, Command{MemoryLimit: mem, CPULimit: 0.5}, "LIMITGAME_THREADS=4")
	l.output(t, "ready")
	pid := l.ch.pid

	lims := procLimitsFile(t, pid)
	if got := lims["Max core file size"]; got != [2]string{"0", "0"} {
		t.Errorf("core limit %v, want 0 0", got)
	}
	if hard, err := strconv.Atoi(lims["Max open files"][1]); err != nil || hard > maxGameFiles {
		t.Errorf("open files hard limit %q, want at most %d", lims["Max open files"][1], maxGameFiles)
	}
	lim := limits(nil)
	t.Logf("mechanism: %s", lim.mechanism())
	if lim.cg == nil {
		if got, want := lims["Max data size"], [2]string{strconv.Itoa(mem), strconv.Itoa(mem)}; got != want {
			t.Errorf("data limit %v, want %v", got, want)
		}
		tasks := threadNices(t, pid)
		if len(tasks) < 5 {
			t.Errorf("limitgame has %d threads, want at least 5", len(tasks))
		}
		for tid, n := range tasks {
			if want := min(hostNice+gameNiceDelta, 19); n != want {
				t.Errorf("thread %d of the game: nice %d, want %d", tid, n, want)
			}
		}
	} else {
		if p := cgroupV2Path(t, pid); !strings.HasSuffix(p, "/"+gamesCgroup+"/"+filepath.Base(l.ch.lim.dir)) {
			t.Errorf("the game's cgroup is %q, want %s", p, l.ch.lim.dir)
		}
		for name, want := range map[string]string{"memory.max": strconv.Itoa(mem), "cpu.max": "50000 100000"} {
			if got := readTrim(t, filepath.Join(l.ch.lim.dir, name)); got != want {
				t.Errorf("%s: %q, want %q", name, got, want)
			}
		}
	}

	l.ch.killGroup()
	l.wait(t)
	if l.ch.lim.dir != "" && exists(l.ch.lim.dir) {
		t.Errorf("cgroup %s still there after the game ended", l.ch.lim.dir)
	}
	// The thread that started the game had the game's nice value; it ends with the game.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var wrong []string
		for tid, n := range threadNices(t, os.Getpid()) {
			if n != hostNice {
				wrong = append(wrong, fmt.Sprintf("thread %d: nice %d", tid, n))
			}
		}
		if len(wrong) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("host threads not at the host's nice %d: %v", hostNice, wrong)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A process the game started in a session of its own (out of its process group) dies with
// the game where there is a cgroup, and outlives it where there is not (doc.go, limits.go).
func TestKillEscapedChild(t *testing.T) {
	l := spawnLimited(t, Command{}, "LIMITGAME_ESCAPE=1")
	pid, err := strconv.Atoi(strings.TrimPrefix(l.output(t, "ready "), "ready "))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	l.ch.killGroup()
	l.wait(t)
	if limits(nil).cg != nil {
		waitGone(t, pid)
		return
	}
	time.Sleep(100 * time.Millisecond) // SIGKILL is not instant; give a wrong kill time to show
	if processGone(pid) {
		t.Fatalf("the escaped process %d died without a cgroup; update limits.go's documentation", pid)
	}
}

// The host's own detection: what it found, and that its verdict holds together. Set
// EDGEPLAY_WANT_LIMITS=cgroup or rlimits to make a machine's expected mechanism a failure
// condition (this development machine, a hybrid cgroup v1 host: rlimits).
func TestHostLimits(t *testing.T) {
	lim := limits(slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	t.Logf("mechanism: %s", lim.mechanism())
	switch want := os.Getenv("EDGEPLAY_WANT_LIMITS"); {
	case want == "cgroup" && lim.cg == nil, want == "rlimits" && lim.cg != nil:
		t.Fatalf("EDGEPLAY_WANT_LIMITS=%s, have %s", want, lim.mechanism())
	}
	if lim.cg == nil {
		if lim.why == "" {
			t.Fatal("no cgroup and no reason")
		}
		return
	}
	if ctrl := readTrim(t, filepath.Join(lim.cg.games, "cgroup.subtree_control")); lacking(strings.Fields(ctrl), "memory", "cpu") != "" {
		t.Errorf("%s gives its children %q", lim.cg.games, ctrl)
	}
	if p := cgroupV2Path(t, os.Getpid()); !strings.HasSuffix(p, "/"+hostCgroup) && p != "/" {
		t.Errorf("the host is in %q, want its leaf %s", p, hostCgroup)
	}
}

func TestCheckLimits(t *testing.T) {
	tests := []struct {
		name string
		c    Command
		ok   bool
	}{
		{"none", Command{}, true},
		{"both", Command{MemoryLimit: 1 << 30, CPULimit: 1.5}, true},
		{"least", Command{MemoryLimit: minMemory, CPULimit: minCPULimit}, true},
		{"negative memory", Command{MemoryLimit: -1}, false},
		{"tiny memory", Command{MemoryLimit: 4096}, false},
		{"negative cpu", Command{CPULimit: -1}, false},
		{"tiny cpu", Command{CPULimit: 0.001}, false},
		{"NaN cpu", Command{CPULimit: math.NaN()}, false},
		{"infinite cpu", Command{CPULimit: math.Inf(1)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.c.checkLimits(); (err == nil) != tt.ok {
				t.Fatalf("checkLimits: %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// thisHostMountinfo is this development machine's: cgroup v1 for each controller, and the v2
// tree, with only hugetlb, at /sys/fs/cgroup/unified.
const thisHostMountinfo = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

const thisHostCgroup = `4:memory:/process_api/1a8d
1:cpu:/
0::/
`

func TestFindCgroup(t *testing.T) {
	const v2 = "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
	tests := []struct {
		name      string
		cgroup    string
		mountinfo string
		dirs      map[string]string // dir under root → its cgroup.controllers
		want      string            // the directory under root; "" for an error
		why       string            // what the error says
	}{
		{
			name: "systemd service", cgroup: "0::/system.slice/edgeplay.service\n", mountinfo: v2,
			want: "/sys/fs/cgroup/system.slice/edgeplay.service",
		},
		{
			name: "hybrid", cgroup: "1:name=systemd:/x\n0::/user.slice\n",
			mountinfo: thisHostMountinfo, want: "/sys/fs/cgroup/unified/user.slice",
		},
		{name: "this host", cgroup: thisHostCgroup, mountinfo: thisHostMountinfo, want: "/sys/fs/cgroup/unified"},
		{
			name: "bind-mounted subtree", cgroup: "0::/docker/abc/game\n",
			mountinfo: "50 40 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
			want:      "/sys/fs/cgroup/game",
		},
		{
			name: "escaped mount point", cgroup: "0::/a\n",
			mountinfo: `50 40 0:26 / /mnt/cg\040two rw - cgroup2 cgroup2 rw` + "\n",
			want:      "/mnt/cg two/a",
		},
		{name: "v1 only", cgroup: "4:memory:/x\n1:cpu:/\n", mountinfo: v2, why: "cgroup v1 only"},
		{name: "outside the namespace", cgroup: "0::/../../x\n", mountinfo: v2, why: "outside"},
		{
			name: "not under the mount's root", cgroup: "0::/other\n",
			mountinfo: "50 40 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
			why:       "no cgroup2 mount",
		},
		{
			name: "prefix is not a parent", cgroup: "0::/docker/abcdef\n",
			mountinfo: "50 40 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
			why:       "no cgroup2 mount",
		},
		{name: "no cgroup2 mount", cgroup: "0::/\n", mountinfo: thisHostMountinfo[:strings.LastIndex(thisHostMountinfo[:len(thisHostMountinfo)-1], "\n")+1], why: "no cgroup2 mount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, filepath.Join(root, "proc/self/cgroup"), tt.cgroup)
			writeFile(t, filepath.Join(root, "proc/self/mountinfo"), tt.mountinfo)
			got, err := findCgroup(root)
			switch {
			case tt.want == "" && err == nil:
				t.Fatalf("findCgroup: %s, want an error saying %q", got, tt.why)
			case tt.want == "" && !strings.Contains(err.Error(), tt.why):
				t.Fatalf("findCgroup: %v, want it to say %q", err, tt.why)
			case tt.want != "" && err != nil:
				t.Fatalf("findCgroup: %v", err)
			case tt.want != "" && got != filepath.Join(root, tt.want):
				t.Fatalf("findCgroup: %s, want %s", got, filepath.Join(root, tt.want))
			}
		})
	}
}

// fakeKernel is cgroupOps whose mkdir makes the files cgroupfs would (without cgroup.kill,
// memory.swap.max or memory.oom.group when old) and whose rmdir answers EBUSY busy times.
type fakeKernel struct {
	t      *testing.T
	old    bool
	busy   int // EBUSY answers left
	rmdirs int
}

func (k *fakeKernel) ops() cgroupOps {
	return cgroupOps{
		mkdir: func(p string) error {
			if err := os.Mkdir(p, 0o755); err != nil {
				return err
			}
			k.populate(p, "domain", "memory cpu", "")
			return nil
		},
		rmdir: func(p string) error {
			k.rmdirs++
			if _, err := os.Stat(p); err != nil {
				return err
			}
			if k.busy > 0 {
				k.busy--
				return &fs.PathError{Op: "rmdir", Path: p, Err: unix.EBUSY}
			}
			return os.RemoveAll(p)
		},
	}
}

// populate writes a cgroup directory's files; typ "" leaves out cgroup.type (the root).
func (k *fakeKernel) populate(dir, typ, controllers, procs string) {
	files := map[string]string{
		"cgroup.controllers": controllers, "cgroup.subtree_control": "", "cgroup.procs": procs,
		"cgroup.events": "populated 0\nfrozen 0\n", "cgroup.type": typ,
		"memory.max": "max", "cpu.max": "max 100000",
		"cgroup.kill": "", "memory.swap.max": "max", "memory.oom.group": "0",
	}
	if typ == "" {
		delete(files, "cgroup.type")
	}
	if k.old {
		delete(files, "cgroup.kill")
		delete(files, "memory.swap.max")
		delete(files, "memory.oom.group")
	}
	for name, s := range files {
		writeFile(k.t, filepath.Join(dir, name), s)
	}
}

// fakeHost makes a fake tree whose process is in cgroup path (under a cgroup2 mount at
// /sys/fs/cgroup) with the given type, controllers and processes; it returns root and the
// cgroup's directory.
func fakeHost(t *testing.T, k *fakeKernel, path, typ, controllers, procs string) (string, string) {
	t.Helper()
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "proc/self/cgroup"), "0::"+path+"\n")
	writeFile(t, filepath.Join(root, "proc/self/mountinfo"), "29 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n")
	dir := filepath.Join(root, "sys/fs/cgroup", path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	k.populate(dir, typ, controllers, procs)
	return root, dir
}

// The setup's writes on a fake tree: where the host may, it moves into its leaf and gives
// memory and cpu to its children and to edgeplay-games'; where it may not, it writes nothing
// and says why.
func TestNewCgroupTree(t *testing.T) {
	const pid = 4242
	tests := []struct {
		name        string
		path, typ   string // the host's cgroup; typ "" for the root
		controllers string
		procs       string
		want        map[string]string // file under the host's cgroup → content, after setup
		absent      []string          // what setup must not have made
		why         string            // the error, when it must fail
	}{
		{
			name: "delegated service", path: "/system.slice/edgeplay.service", typ: "domain",
			controllers: "cpuset cpu io memory pids", procs: "4242\n",
			want: map[string]string{
				"edgeplay-host/cgroup.procs":            "4242",
				"cgroup.subtree_control":                "+memory +cpu",
				"edgeplay-games/cgroup.subtree_control": "+memory +cpu",
			},
		},
		{
			name: "root with other processes", path: "/", controllers: "cpu memory", procs: "1\n4242\n",
			want: map[string]string{
				"cgroup.subtree_control":                "+memory +cpu",
				"edgeplay-games/cgroup.subtree_control": "+memory +cpu",
			},
			absent: []string{"edgeplay-host"},
		},
		{
			name: "moved by a host before", path: "/svc/edgeplay-host", typ: "domain", controllers: "cpu memory",
			procs: "4242\n",
			want:  map[string]string{"edgeplay-games/cgroup.subtree_control": "+memory +cpu"},
		},
		{
			name: "shared with a shell", path: "/user.slice/session-1.scope", typ: "domain",
			controllers: "cpu memory", procs: "777\n4242\n", why: "other processes than the host (777)",
			absent: []string{"edgeplay-host", "edgeplay-games"},
		},
		{
			name: "no memory controller", path: "/", controllers: "hugetlb", procs: "4242\n",
			why: `controllers "hugetlb" lack memory, cpu`, absent: []string{"edgeplay-host", "edgeplay-games"},
		},
		{
			name: "no cpu controller", path: "/a", typ: "domain", controllers: "memory pids", procs: "4242\n",
			why: "lack cpu", absent: []string{"edgeplay-host", "edgeplay-games"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &fakeKernel{t: t}
			root, dir := fakeHost(t, k, tt.path, tt.typ, tt.controllers, tt.procs)
			if filepath.Base(dir) == hostCgroup {
				dir = filepath.Dir(dir)
				k.populate(dir, tt.typ, tt.controllers, "")
			}
			tree, err := newCgroupTree(root, pid, k.ops())
			switch {
			case tt.why != "" && err == nil:
				t.Fatalf("newCgroupTree: no error, want one saying %q", tt.why)
			case tt.why != "" && !strings.Contains(err.Error(), tt.why):
				t.Fatalf("newCgroupTree: %v, want it to say %q", err, tt.why)
			case tt.why == "" && err != nil:
				t.Fatalf("newCgroupTree: %v", err)
			case tt.why == "" && tree.games != filepath.Join(dir, gamesCgroup):
				t.Fatalf("games at %s, want %s", tree.games, filepath.Join(dir, gamesCgroup))
			}
			t.Logf("newCgroupTree: %v", err)
			for name, want := range tt.want {
				if got := readTrim(t, filepath.Join(dir, name)); got != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
			for _, name := range tt.absent {
				if exists(filepath.Join(dir, name)) {
					t.Errorf("%s was made", name)
				}
			}
		})
	}
}

// Setup removes the cgroups of games whose host is gone, and only those.
func TestCgroupSweep(t *testing.T) {
	k := &fakeKernel{t: t}
	root, dir := fakeHost(t, k, "/svc", "domain", "cpu memory", "4242\n")
	games := filepath.Join(dir, gamesCgroup)
	const dead = 1 << 30 // above any pid_max
	for _, name := range []string{gamesCgroup, gamesCgroup + "/g-1-1", gamesCgroup + fmt.Sprintf("/g-%d-3", dead), gamesCgroup + "/other"} {
		if err := k.ops().mkdir(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	tree, err := newCgroupTree(root, 4242, k.ops())
	if err != nil {
		t.Fatal(err)
	}
	if tree.swept != 1 || exists(filepath.Join(games, fmt.Sprintf("g-%d-3", dead))) {
		t.Errorf("swept %d; the dead host's game cgroup is there: %v", tree.swept, exists(filepath.Join(games, fmt.Sprintf("g-%d-3", dead))))
	}
	for _, name := range []string{"g-1-1", "other"} { // pid 1 runs; "other" is not ours
		if !exists(filepath.Join(games, name)) {
			t.Errorf("%s was removed", name)
		}
	}
}

// A game's cgroup on a fake tree: its limit files, then cgroup.kill and its removal.
func TestCgroupGame(t *testing.T) {
	tests := []struct {
		name string
		old  bool
		c    Command
		want map[string]string
	}{
		{
			name: "both limits", c: Command{MemoryLimit: 64 << 20, CPULimit: 1.5},
			want: map[string]string{
				"memory.max": "67108864", "memory.swap.max": "0", "memory.oom.group": "1",
				"cpu.max": "150000 100000",
			},
		},
		{
			name: "no limits", c: Command{},
			want: map[string]string{"memory.max": "max", "memory.swap.max": "max", "memory.oom.group": "1", "cpu.max": "max 100000"},
		},
		{
			name: "least cpu", c: Command{CPULimit: minCPULimit},
			want: map[string]string{"memory.max": "max", "cpu.max": "1000 100000"},
		},
		{
			name: "old kernel", old: true, c: Command{MemoryLimit: 1 << 30, CPULimit: 2},
			want: map[string]string{"memory.max": "1073741824", "cpu.max": "200000 100000"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &fakeKernel{t: t, old: tt.old}
			root, _ := fakeHost(t, k, "/svc", "domain", "cpu memory", "4242\n")
			tree, err := newCgroupTree(root, 4242, k.ops())
			if err != nil {
				t.Fatal(err)
			}
			dir, err := tree.create(tt.c)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(tree.games, "g-4242-1"); dir != want {
				t.Errorf("cgroup %s, want %s", dir, want)
			}
			for name, want := range tt.want {
				if got := readTrim(t, filepath.Join(dir, name)); got != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
			tree.kill(dir)
			if !tt.old {
				if got := readTrim(t, filepath.Join(dir, "cgroup.kill")); got != "1" {
					t.Errorf("cgroup.kill: %q, want 1", got)
				}
			}
			k.busy = 3 // its processes take a while to exit
			if err := tree.remove(dir); err != nil {
				t.Fatal(err)
			}
			if exists(dir) || k.rmdirs != 4 {
				t.Errorf("after remove: there %v, %d rmdirs; want gone after 4", exists(dir), k.rmdirs)
			}
			if dir2, _ := tree.create(tt.c); filepath.Base(dir2) != "g-4242-2" {
				t.Errorf("second cgroup %s, want g-4242-2", dir2)
			}
		})
	}
}

// Before Linux 5.14 (no cgroup.kill) the kill is a SIGKILL to each process in cgroup.procs.
func TestCgroupKillWithoutKillFile(t *testing.T) {
	k := &fakeKernel{t: t, old: true}
	root, _ := fakeHost(t, k, "/svc", "domain", "cpu memory", "4242\n")
	tree, err := newCgroupTree(root, 4242, k.ops())
	if err != nil {
		t.Fatal(err)
	}
	dir, err := tree.create(Command{})
	if err != nil {
		t.Fatal(err)
	}
	sleep := exec.Command("/bin/sleep", "1000")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "cgroup.procs"), fmt.Sprintf("%d\n", sleep.Process.Pid))
	if err := tree.remove(dir); err != nil {
		t.Fatal(err)
	}
	err = sleep.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("sleep ended with %v, want SIGKILL", err)
	}
}

// A cgroup whose processes never leave is given up after cgroupRemoveTimeout, with an error.
func TestCgroupRemoveGivesUp(t *testing.T) {
	k := &fakeKernel{t: t}
	root, _ := fakeHost(t, k, "/svc", "domain", "cpu memory", "4242\n")
	tree, err := newCgroupTree(root, 4242, k.ops())
	if err != nil {
		t.Fatal(err)
	}
	dir, err := tree.create(Command{})
	if err != nil {
		t.Fatal(err)
	}
	k.busy = math.MaxInt
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		err := tree.remove(dir)
		if !errors.Is(err, unix.EBUSY) {
			t.Fatalf("remove: %v, want EBUSY", err)
		}
		if d := time.Since(start); d < cgroupRemoveTimeout || d > cgroupRemoveTimeout+time.Second {
			t.Errorf("remove gave up after %v, want %v", d, cgroupRemoveTimeout)
		}
	})
}

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		`/sys/fs/cgroup`: "/sys/fs/cgroup", `/a\040b`: "/a b", `/tab\011`: "/tab\t",
		`/back\134slash`: `/back\slash`, `/bad\09`: `/bad\09`, `/end\04`: `/end\04`,
	} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", in, got, want)
		}
	}
}

// cgroupV2Path is pid's cgroup v2 path, from the "0::" line of /proc/pid/cgroup.
func cgroupV2Path(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			return p
		}
	}
	t.Fatalf("no cgroup v2 line in %q", b)
	return ""
}

func mustPriority(t *testing.T) int {
	t.Helper()
	prio, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	if err != nil {
		t.Fatal(err)
	}
	return prio
}

// procLimitsFile parses /proc/pid/limits: name → {soft, hard}.
func procLimitsFile(t *testing.T, pid int) map[string][2]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][2]string{}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		if len(line) < 26 {
			continue
		}
		f := strings.Fields(line[25:])
		if len(f) >= 2 {
			m[strings.TrimSpace(line[:25])] = [2]string{f[0], f[1]}
		}
	}
	return m
}

// threadNices is each thread's nice value, from /proc/pid/task/*/stat.
func threadNices(t *testing.T, pid int) map[int]int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := map[int]int{}
	for _, e := range ents {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, e.Name()))
		if err != nil {
			continue // the thread ended
		}
		_, after, _ := strings.Cut(string(b), ") ")
		f := strings.Fields(after) // from field 3 (state); nice is field 19
		tid, _ := strconv.Atoi(e.Name())
		if n, err := strconv.Atoi(f[16]); err == nil {
			m[tid] = n
		}
	}
	return m
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
