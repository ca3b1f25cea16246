package gameproc

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/game"
)

// newLauncher starts a Launcher of the test game with env, closed when the test ends.
func newLauncher(t *testing.T, cmd Command, env ...string) *Launcher {
	t.Helper()
	cmd.Path, cmd.Env = testGame, env
	cmd.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	l, err := NewLauncher(cmd, testConfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// warmPIDs lists the pool's processes.
func (l *Launcher) warmPIDs() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	pids := make([]int, len(l.idle))
	for i, w := range l.idle {
		pids[i] = w.r.ch.pid
	}
	return pids
}

func waitWarm(t *testing.T, l *Launcher, n int, within time.Duration) []int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if pids := l.warmPIDs(); len(pids) == n {
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("warm pool has %d processes after %v, want %d", len(l.warmPIDs()), within, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A game that takes 1.5 s to load still shows its first frame fast when a warm process
// waits; the used process is not reused, the pool refills, and Close ends the idle ones.
func TestWarmPoolSkipsTheLoad(t *testing.T) {
	l := newLauncher(t, Command{Warm: 1}, "TESTGAME_LOAD_MS=1500")
	pids := waitWarm(t, l, 1, 10*time.Second)

	gg, err := l.Factory()(testConfig)
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	s := runGame(t, gg)
	s.frame(t).Release()
	took := time.Since(begin)
	t.Logf("Run → first frame from the warm pool: %v", took)
	if took > 500*time.Millisecond {
		t.Errorf("first frame after %v with a warm process, want < 500 ms (the game loads for 1.5 s)", took)
	}
	if !s.g.warm.Load() || int(s.g.pid.Load()) != pids[0] {
		t.Fatalf("Run used pid %d (warm %v), want the warm pid %d", s.g.pid.Load(), s.g.warm.Load(), pids[0])
	}
	refill := waitWarm(t, l, 1, 10*time.Second)
	if refill[0] == pids[0] {
		t.Fatal("the pool holds the process a session took")
	}

	s.cancel()
	if err := s.result(t, 5*time.Second); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	waitGone(t, pids[0])
	l.Close()
	waitGone(t, refill[0])
	if n := len(l.warmPIDs()); n != 0 {
		t.Errorf("%d warm processes after Close", n)
	}
}

// Without a warm process (another stream size), Run starts the game cold.
func TestWarmPoolOtherStreamIsCold(t *testing.T) {
	l := newLauncher(t, Command{Warm: 1})
	waitWarm(t, l, 1, 10*time.Second)
	gg, err := l.Factory()(game.Config{Width: 32, Height: 32, FPS: 30})
	if err != nil {
		t.Fatal(err)
	}
	s := runGame(t, gg)
	f := s.frame(t)
	if f.Width != 32 || s.g.warm.Load() {
		t.Fatalf("frame %dx%d, warm %v; want a cold 32x32 game", f.Width, f.Height, s.g.warm.Load())
	}
	f.Release()
}

// fastHeartbeat makes heartbeats 200 ms (missed after 600 ms) for the test; the old values
// come back after every other cleanup (the processes are gone then).
func fastHeartbeat(t *testing.T) {
	t.Helper()
	hb, miss := heartbeat, heartbeatMiss
	t.Cleanup(func() { heartbeat, heartbeatMiss = hb, miss })
	heartbeat, heartbeatMiss = 200*time.Millisecond, 600*time.Millisecond
}

// A warm process that stops pinging is hung: the Launcher stops it and starts another.
func TestWarmProcessHungIsReplaced(t *testing.T) {
	fastHeartbeat(t)
	l := newLauncher(t, Command{Warm: 1}, "TESTGAME_HANG_READY=1")
	first := waitWarm(t, l, 1, 10*time.Second)[0]
	waitGone(t, first)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if pids := l.warmPIDs(); len(pids) == 1 && pids[0] != first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the hung warm process was not replaced")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A started game that goes silent (no ping, no frame) is hung once heartbeats are missed,
// before the stall timeout.
func TestHeartbeatMissed(t *testing.T) {
	fastHeartbeat(t)
	s := start(t, Command{StallTimeout: 30 * time.Second}, "TESTGAME_HANG_AFTER=5")
	err := s.result(t, 5*time.Second)
	if !errors.Is(err, ErrHung) || !strings.Contains(err.Error(), "ping") {
		t.Fatalf("Run: %v, want %v for missed pings", err, ErrHung)
	}
}

// The game hears the session's id, its player and the join's payload, presence and the drain; at the drain it ends
// the session itself with its result.
func TestSessionNotes(t *testing.T) {
	events := filepath.Join(t.TempDir(), "events")
	cfg := testConfig
	cfg.Session, cfg.Player, cfg.Payload = "s-1234", "p-42", "team=red"
	gg, err := Factory(Command{
		Path: testGame, Env: []string{"TESTGAME_EVENTFILE=" + events},
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := runGame(t, gg)
	s.frame(t).Release()
	s.g.PlayerAway()
	s.g.PlayerBack()
	s.g.Drain(time.Now().Add(time.Minute))
	err = s.result(t, 5*time.Second)
	if !errors.Is(err, ErrEnded) || !strings.Contains(err.Error(), `drained`) {
		t.Fatalf("Run: %v, want %v with the result", err, ErrEnded)
	}
	b, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	want := []string{"assign s-1234", `joined p-42 "team=red"`, "away", "back", "drain"}
	if !slices.Equal(got, want) {
		t.Fatalf("the game heard %q, want %q", got, want)
	}
}
