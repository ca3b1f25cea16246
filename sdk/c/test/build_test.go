package csdk

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The C SDK and the programs that test it are built once per test binary, with every warning
// an error and the address and undefined-behaviour sanitizers on: a test fails on a warning,
// on a memory error, on undefined behaviour and on a leak (LeakSanitizer runs at exit).
// gcc must be there (cgo needs it anyway): without it the tests fail, they do not skip.

const sdkDir = ".." // sdk/c, from this package's directory

var (
	sanitize = []string{
		"-g", "-O1", "-fno-omit-frame-pointer",
		"-fsanitize=address,undefined", "-fno-sanitize-recover=all",
	}
	strict = []string{"-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror"}
	// sanitizerEnv makes a sanitizer report fail the program with a status of its own.
	sanitizerEnv = []string{
		"ASAN_OPTIONS=detect_leaks=1:exitcode=66:abort_on_error=0",
		"UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1",
	}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if builds.dir != "" {
		_ = os.RemoveAll(builds.dir)
	}
	os.Exit(code)
}

var builds struct {
	sync.Mutex
	dir  string
	bins map[string]string
}

// buildDir is a directory for the test binaries that lives as long as the test binary.
func buildDir(tb testing.TB) string {
	tb.Helper()
	builds.Lock()
	defer builds.Unlock()
	if builds.dir == "" {
		d, err := os.MkdirTemp("", "edgeplay-csdk-")
		if err != nil {
			tb.Fatal(err)
		}
		builds.dir, builds.bins = d, map[string]string{}
	}
	return builds.dir
}

// build compiles the C files srcs (relative to sdk/c) with the SDK into a program called name,
// once, and returns its path.
func build(tb testing.TB, name string, extra []string, srcs ...string) string {
	tb.Helper()
	dir := buildDir(tb)
	builds.Lock()
	defer builds.Unlock()
	if bin, ok := builds.bins[name]; ok {
		return bin
	}
	bin := filepath.Join(dir, name)
	args := append(append(append([]string{}, strict...), extra...), "-I", sdkDir, "-o", bin)
	for _, s := range srcs {
		args = append(args, filepath.Join(sdkDir, s))
	}
	args = append(args, filepath.Join(sdkDir, "edgeplay.c"), "-lm")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "gcc", args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if len(bytes.TrimSpace(out)) > 0 {
		tb.Fatalf("gcc %s printed:\n%s", strings.Join(args, " "), out)
	}
	builds.bins[name] = bin
	return bin
}

// replBin is the SDK under test: testdata/repl.c, sanitized.
func replBin(tb testing.TB) string {
	tb.Helper()
	return build(tb, "repl", sanitize, "testdata/repl.c")
}

// paddleBin is the example game, sanitized, with the Makefile's warnings as errors.
func paddleBin(tb testing.TB) string {
	tb.Helper()
	paddle, err := filepath.Glob(filepath.Join(sdkDir, "../../examples/c/paddle/*.c"))
	if err != nil || len(paddle) == 0 {
		tb.Fatalf("no examples/c/paddle/*.c: %v", err)
	}
	srcs := make([]string, len(paddle))
	for i, p := range paddle {
		srcs[i], _ = filepath.Rel(sdkDir, p)
	}
	return build(tb, "paddle", append([]string{"-O2"}, sanitize...), srcs...)
}

// proc is a C program under test: its stdout as lines, its stderr kept for the failure
// report, its exit checked.
type proc struct {
	tb     testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string   // stdout, closed at EOF
	done   chan struct{} // closed when the process has been waited for
	stderr *lockedBuffer
	err    error // cmd.Wait's, set before done is closed
	waited bool  // wait saw the exit: stop does not judge the status again
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs bin with link as its fd 3 (EDGEPLAY_FD=3, as gameproc starts a game) and env.
// link may be nil: then fd 3 is /dev/null. The caller closes its copy of link.
func start(tb testing.TB, bin string, link *os.File, env []string, args ...string) *proc {
	tb.Helper()
	if link == nil {
		f, err := os.Open(os.DevNull)
		if err != nil {
			tb.Fatal(err)
		}
		defer f.Close()
		link = f
	}
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel) // after stop (cleanups run last first): kills what stop left
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(append([]string{"EDGEPLAY_FD=3"}, sanitizerEnv...), env...)
	cmd.ExtraFiles = []*os.File{link}
	p := &proc{tb: tb, cmd: cmd, lines: make(chan string, 1024), done: make(chan struct{}), stderr: &lockedBuffer{}}
	cmd.Stderr = p.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p.stdin = stdin
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.err = cmd.Wait() // after every read from stdout, as exec wants
		close(p.done)
	}()
	tb.Cleanup(func() { p.stop(false) })
	return p
}

// line reads the next line of stdout.
func (p *proc) line(d time.Duration) (string, bool) {
	p.tb.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			return "", false
		}
		return l, true
	case <-time.After(d):
		p.tb.Fatalf("no output for %v; stderr:\n%s", d, p.stderr.String())
		return "", false
	}
}

// do sends one command to the REPL and returns its answer.
func (p *proc) do(format string, args ...any) string {
	p.tb.Helper()
	cmd := fmt.Sprintf(format, args...)
	if _, err := io.WriteString(p.stdin, cmd+"\n"); err != nil {
		p.tb.Fatalf("%s: %v; stderr:\n%s", cmd, err, p.stderr.String())
	}
	l, ok := p.line(20 * time.Second)
	if !ok {
		p.tb.Fatalf("%s: the program ended; stderr:\n%s", cmd, p.stderr.String())
	}
	return l
}

// ok runs a command that must succeed and returns what follows "ok".
func (p *proc) ok(format string, args ...any) string {
	p.tb.Helper()
	l := p.do(format, args...)
	if l != "ok" && !strings.HasPrefix(l, "ok ") {
		p.tb.Fatalf("%s: %s", fmt.Sprintf(format, args...), l)
	}
	return strings.TrimPrefix(strings.TrimPrefix(l, "ok"), " ")
}

// fails runs a command that must fail with the error named want, and returns the detail.
func (p *proc) fails(want, format string, args ...any) string {
	p.tb.Helper()
	l := p.do(format, args...)
	if !strings.HasPrefix(l, "err "+want) {
		p.tb.Fatalf("%s: %s; want %s", fmt.Sprintf(format, args...), l, want)
	}
	return strings.TrimPrefix(strings.TrimPrefix(l, "err "+want), " ")
}

// wait waits for the process to exit by itself and returns its exit status; the sanitizers
// must have found nothing.
func (p *proc) wait(d time.Duration) int {
	p.tb.Helper()
	if !p.drainUntilDone(d) {
		p.tb.Fatalf("the program did not exit within %v; stderr:\n%s", d, p.stderr.String())
	}
	p.checkSanitizers()
	p.waited = true
	return p.cmd.ProcessState.ExitCode()
}

// drainUntilDone discards the program's output until it has exited and been waited for, and
// reports whether that happened within d.
func (p *proc) drainUntilDone(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	lines := p.lines
	for {
		select {
		case _, ok := <-lines:
			if !ok {
				lines = nil
			}
		case <-p.done:
			return true
		case <-t.C:
			return false
		}
	}
}

func (p *proc) checkSanitizers() {
	p.tb.Helper()
	if s := p.stderr.String(); strings.Contains(s, "Sanitizer") || strings.Contains(s, "runtime error") {
		p.tb.Errorf("sanitizer report:\n%s", s)
	}
}

// stop ends the REPL with "exit" (which closes the handle) and checks that it exits 0; when
// kill is set, or the process does not exit, it is killed.
func (p *proc) stop(kill bool) {
	p.tb.Helper()
	select {
	case <-p.done:
	default:
		if kill {
			_ = p.cmd.Process.Kill()
		} else {
			_, _ = io.WriteString(p.stdin, "exit\n")
		}
		_ = p.stdin.Close()
		if !p.drainUntilDone(20 * time.Second) {
			_ = p.cmd.Process.Kill()
			p.drainUntilDone(20 * time.Second)
			p.tb.Errorf("the program did not exit; stderr:\n%s", p.stderr.String())
			return
		}
	}
	if p.waited {
		return
	}
	p.checkSanitizers()
	if !kill && p.err != nil {
		p.tb.Errorf("exit: %v; stderr:\n%s", p.err, p.stderr.String())
	}
}

// TestHeaderFromCPlusPlus: edgeplay.h compiles as C++ without a warning and links against the
// SDK compiled as C, as an engine plugin uses it.
func TestHeaderFromCPlusPlus(t *testing.T) {
	dir := t.TempDir()
	obj, bin := filepath.Join(dir, "edgeplay.o"), filepath.Join(dir, "cplusplus")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := exec.LookPath("g++"); err != nil {
		t.Fatalf("g++ is needed to check edgeplay.h from C++ (apt-get install g++): %v", err)
	}
	for _, args := range [][]string{
		{"gcc", "-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-c", "-o", obj, filepath.Join(sdkDir, "edgeplay.c")},
		{"g++", "-std=c++11", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-I", sdkDir, "-o", bin, filepath.Join(sdkDir, "testdata/cplusplus.cc"), obj},
	} {
		if out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput(); err != nil || len(out) > 0 {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	out, err := exec.CommandContext(ctx, bin).CombinedOutput()
	if want := "EP_ERR_ARG invalid argument 1\nEP_OK 44\n"; err != nil || string(out) != want {
		t.Fatalf("got %q, %v; want %q", out, err, want)
	}
}
