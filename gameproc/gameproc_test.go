package gameproc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/input"
)

// testGame is the test game's binary (testdata/testgame), built once by TestMain.
var testGame string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "gameproc-test")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		testGame = filepath.Join(dir, "testgame")
		out, err := exec.Command("go", "build", "-o", testGame, "./testdata/testgame").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "building the test game: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}())
}

// palette is testgame's: the colour after n key presses is palette[n%4].
var palette = [][3]byte{{0xff, 0, 0}, {0, 0xff, 0}, {0, 0, 0xff}, {0xff, 0xff, 0}}

var testConfig = game.Config{Width: 64, Height: 48, FPS: 60}

// started is a game running in Run on its own goroutine, with its frames on a channel.
type started struct {
	g      *Game
	cancel context.CancelFunc
	frames chan *game.Frame
	done   chan error
}

func start(t *testing.T, cmd Command, env ...string) *started {
	t.Helper()
	cmd.Path = testGame
	cmd.Env = env
	cmd.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	gg, err := Factory(cmd)(testConfig)
	if err != nil {
		t.Fatal(err)
	}
	return runGame(t, gg)
}

// runGame runs gg's Run on its own goroutine until the test ends.
func runGame(t *testing.T, gg game.Game) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &started{g: gg.(*Game), cancel: cancel, frames: make(chan *game.Frame, 16), done: make(chan error, 1)}
	go func() {
		s.done <- s.g.Run(ctx, func(f *game.Frame) {
			select { // the sink never blocks: drop when the test is not reading
			case s.frames <- f:
			default:
				f.Release()
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return s
}

// frame waits for the next frame.
func (s *started) frame(t *testing.T) *game.Frame {
	t.Helper()
	select {
	case f := <-s.frames:
		return f
	case err := <-s.done:
		s.done <- err // for Cleanup
		t.Fatalf("Run ended before a frame: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no frame in 10 s")
	}
	return nil
}

// result waits up to d for Run's error.
func (s *started) result(t *testing.T, d time.Duration) error {
	t.Helper()
	for {
		select {
		case f := <-s.frames:
			f.Release()
		case err := <-s.done:
			s.done <- err // for Cleanup
			return err
		case <-time.After(d):
			t.Fatalf("Run did not return within %v", d)
		}
	}
}

// colour is the frame's solid colour, after checking that every pixel has it.
func colour(t *testing.T, f *game.Frame) [3]byte {
	t.Helper()
	c := [3]byte{f.Pix[0], f.Pix[1], f.Pix[2]}
	for y := range f.Height {
		for x := range f.Width {
			p := f.Pix[y*f.Stride+4*x:]
			if [3]byte{p[0], p[1], p[2]} != c {
				t.Fatalf("frame %d: pixel (%d,%d) is %v, (0,0) is %v", f.Seq, x, y, p[:3], c)
			}
		}
	}
	return c
}

func fdCount(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// processGone reports whether pid is gone (or a zombie, for an orphan whose reaper is not
// ours).
func processGone(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, after, _ := strings.Cut(string(stat), ") ")
	return strings.HasPrefix(after, "Z")
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still there", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRunFramesInputShutdown(t *testing.T) {
	before := fdCount(t)
	s := start(t, Command{})
	f := s.frame(t)
	if f.Width != testConfig.Width || f.Height != testConfig.Height || f.Stride != 4*testConfig.Width {
		t.Fatalf("frame %dx%d stride %d, want %dx%d stride %d", f.Width, f.Height, f.Stride,
			testConfig.Width, testConfig.Height, 4*testConfig.Width)
	}
	if c := colour(t, f); c != palette[0] {
		t.Fatalf("first frame's colour %v, want %v", c, palette[0])
	}
	f.Release()
	pid := int(s.g.pid.Load())
	if pid == 0 {
		t.Fatal("no pid while running")
	}

	s.g.Input(input.Event{Type: input.KeyDown, Seq: 7, Code: 4})
	for {
		f := s.frame(t)
		c, seq := colour(t, f), f.InputSeq
		f.Release()
		if seq < 7 {
			continue
		}
		if c != palette[1] {
			t.Fatalf("frame after the key press: colour %v, want %v", c, palette[1])
		}
		break
	}

	s.cancel()
	if err := s.result(t, 3*time.Second); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if !processGone(pid) {
		t.Errorf("process %d still there after Run returned", pid)
	}
	if after := fdCount(t); after != before {
		t.Errorf("%d descriptors open after Run, %d before", after, before)
	}
}

func TestRunFailures(t *testing.T) {
	tests := []struct {
		name    string
		cmd     Command
		env     []string
		want    error
		text    string
		within  time.Duration
		ignored bool // cancel after the first frame; Run returns nil
	}{
		{name: "crash", env: []string{"TESTGAME_CRASH_AFTER=10"}, want: ErrCrashed, text: "exit status 3", within: 5 * time.Second},
		{
			name: "never ready", cmd: Command{ReadyTimeout: time.Second}, env: []string{"TESTGAME_NEVER_READY=1"},
			want: ErrStartFailed, text: "not ready", within: 5 * time.Second,
		},
		{name: "hang", env: []string{"TESTGAME_HANG_AFTER=10"}, want: ErrHung, text: "no frame for 5s", within: 10 * time.Second},
		{name: "ignores shutdown", env: []string{"TESTGAME_IGNORE_SHUTDOWN=1"}, ignored: true, within: 5 * time.Second},
		{name: "no such program", cmd: Command{Dir: "/nonexistent"}, want: ErrStartFailed, within: 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fdCount(t)
			s := start(t, tt.cmd, tt.env...)
			pid := 0
			if tt.ignored {
				s.frame(t).Release()
				pid = int(s.g.pid.Load())
				s.cancel()
			}
			err := s.result(t, tt.within)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("Run: %v, want nil", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("Run: %v, want %v", err, tt.want)
			case tt.text != "" && !strings.Contains(fmt.Sprint(err), tt.text):
				t.Fatalf("Run: %v, want it to say %q", err, tt.text)
			}
			t.Logf("Run: %v", err)
			if pid != 0 && !processGone(pid) {
				t.Errorf("process %d still there after Run returned", pid)
			}
			if after := fdCount(t); after != before {
				t.Errorf("%d descriptors open after Run, %d before", after, before)
			}
		})
	}
}

func TestForkedChildDiesWithGroup(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "child.pid")
	s := start(t, Command{}, "TESTGAME_CHILD_PIDFILE="+pidfile)
	s.frame(t).Release()
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if processGone(child) {
		t.Fatal("the game's child is not running")
	}
	s.cancel()
	if err := s.result(t, 3*time.Second); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	waitGone(t, child)
}

// The game inherits stdin (/dev/null), stdout, stderr (pipes to the host's log) and the link
// on fd 3, nothing else.
func TestInheritsOnlyTheLink(t *testing.T) {
	fdfile := filepath.Join(t.TempDir(), "fds")
	s := start(t, Command{}, "TESTGAME_FDFILE="+fdfile)
	s.frame(t).Release()
	b, err := os.ReadFile(fdfile)
	if err != nil {
		t.Fatal(err)
	}
	fds := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		fd, target, _ := strings.Cut(line, " ")
		fds[fd] = target
	}
	for fd, target := range fds {
		switch {
		case fd == "0" && target == "/dev/null",
			(fd == "1" || fd == "2") && strings.HasPrefix(target, "pipe:"),
			fd == "3" && strings.HasPrefix(target, "socket:"),
			// the game's own Go runtime's: netpoll, and the cgroup files GOMAXPROCS follows
			strings.HasPrefix(target, "anon_inode:[event"), strings.HasPrefix(target, "/sys/fs/cgroup/"):
		default:
			t.Errorf("the game has fd %s → %s", fd, target)
		}
	}
	if _, ok := fds["3"]; !ok {
		t.Errorf("the game has no fd 3: %v", fds)
	}
}

func TestRunTwice(t *testing.T) {
	s := start(t, Command{})
	s.frame(t).Release()
	if err := s.g.Run(context.Background(), func(f *game.Frame) { f.Release() }); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Run: %v, want %v", err, ErrRunning)
	}
}

func TestFactoryRejects(t *testing.T) {
	tests := []struct {
		name string
		cmd  Command
		cfg  game.Config
	}{
		{"no program", Command{}, testConfig},
		{"odd size", Command{Path: "x"}, game.Config{Width: 63, Height: 48, FPS: 60}},
		{"no fps", Command{Path: "x"}, game.Config{Width: 64, Height: 48}},
		{"short ready timeout", Command{Path: "x", ReadyTimeout: time.Millisecond}, testConfig},
		{"session id with a space", Command{Path: "x"}, game.Config{Width: 64, Height: 48, FPS: 60, Session: "a b"}},
		{"player id too long", Command{Path: "x"}, game.Config{Width: 64, Height: 48, FPS: 60, Player: strings.Repeat("p", 65)}},
		{"payload over 4 KiB", Command{Path: "x"}, game.Config{Width: 64, Height: 48, FPS: 60, Payload: strings.Repeat("x", 4097)}},
		{"params over 4 KiB", Command{Path: "x"}, game.Config{Width: 64, Height: 48, FPS: 60, Params: strings.Repeat("x", 4097)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Factory(tt.cmd)(tt.cfg); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// testWriter sends the games' log lines to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
