package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/gameproc"
	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/internal/testplayer"
	"github.com/edgeplay/edgeplay/protocol"
)

// TestGameFailures plays, one after another on a host with one slot, games that misbehave in
// every way docs/SDK.md names, through the whole system: each player is told why the session
// ended (and, for a game that ends itself, gets its result), the game's processes are gone,
// the slot frees, and after all of them the host still serves a well-behaved game.
func TestGameFailures(t *testing.T) {
	bin := buildTestGame(t)
	childPIDs := filepath.Join(t.TempDir(), "child.pid")
	cases := []struct {
		id     string
		env    []string
		cmd    gameproc.Command
		reason protocol.Reason
		leave  bool // the player leaves after the first frames; the game must be stopped
	}{
		{id: "crash", env: []string{"TESTGAME_CRASH_AFTER=20"}, reason: protocol.ReasonGameCrashed},
		{id: "hang", env: []string{"TESTGAME_HANG_AFTER=20"}, cmd: gameproc.Command{StallTimeout: 2 * time.Second}, reason: protocol.ReasonGameHung},
		{id: "never-ready", env: []string{"TESTGAME_NEVER_READY=1"}, cmd: gameproc.Command{ReadyTimeout: 2 * time.Second}, reason: protocol.ReasonGameStartFailed},
		{id: "slow-start", env: []string{"TESTGAME_LOAD_MS=600000", "TESTGAME_LOAD_QUIET=1"}, cmd: gameproc.Command{ReadyTimeout: 2 * time.Second}, reason: protocol.ReasonGameStartFailed},
		{id: "ends", env: []string{"TESTGAME_END_AFTER=20"}, reason: protocol.ReasonGameEnded},
		{id: "garbage", env: []string{"TESTGAME_GARBAGE_AFTER=20"}, reason: protocol.ReasonGameCrashed},
		{id: "oversized", env: []string{"TESTGAME_OVERSIZE_AFTER=20"}, reason: protocol.ReasonGameCrashed},
		{id: "ignores-shutdown", env: []string{"TESTGAME_IGNORE_SHUTDOWN=1"}, leave: true, reason: protocol.ReasonPlayerLeft},
		{id: "forks", env: []string{"TESTGAME_CHILD_PIDFILE=" + childPIDs}, leave: true, reason: protocol.ReasonPlayerLeft},
	}
	a := startApp(t, appOpts{slots: 1, mutate: func(c *app.Config) {
		h := &c.Hosts[0]
		h.Width, h.Height, h.FPS = 320, 180, 30
		h.Games["good"] = gameproc.Factory(gameproc.Command{Path: bin, Logger: testLogger()})
		for _, tc := range cases {
			cmd := tc.cmd
			cmd.Path, cmd.Env, cmd.Logger = bin, tc.env, testLogger()
			h.Games[tc.id] = gameproc.Factory(cmd)
		}
	}})
	slotFree := func() bool {
		hs := a.Matchmaker().Hosts()
		return len(hs) == 1 && hs[0].Used == 0 && hs[0].Reserved == 0
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			before := gameProcesses(t, bin)
			p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{Game: tc.id})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if tc.leave {
				if err := p.Play(ctxFor(t, 15*time.Second)); err != nil {
					t.Fatal(err)
				}
				waitFor(t, 10*time.Second, "frames arrive", func() bool { return p.Received() > 10 })
				if m, err := p.Leave(ctxFor(t, 10*time.Second)); err != nil || m.Reason != tc.reason {
					t.Fatalf("leave: %+v, %v", m, err)
				}
			} else {
				m := playUntilEnded(t, p, tc.id)
				if m.Reason != tc.reason || m.Message == "" {
					t.Fatalf("ended %+v, want reason %s with a message", m, tc.reason)
				}
				if tc.reason == protocol.ReasonGameEnded && string(m.Result) != `{"frames":20}` {
					t.Fatalf("ended with result %s, want the game's {\"frames\":20}", m.Result)
				}
			}
			p.Close()
			waitFor(t, 10*time.Second, "the slot is free", slotFree)
			// The game's process (and a child it forked) is gone: killed with its group.
			waitFor(t, 10*time.Second, "the game's processes are gone", func() bool {
				return len(gameProcesses(t, bin)) <= len(before)
			})
			if b, err := os.ReadFile(childPIDs); err == nil && tc.id == "forks" {
				pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
				waitFor(t, 5*time.Second, "the forked child is gone", func() bool { return pid > 0 && processGone(pid) })
			}
		})
	}
	// The host serves the next player with a game that behaves.
	p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{Game: "good", Decode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Play(ctxFor(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "decoded frames of the good game", func() bool { return len(p.Frames()) >= 5 })
}

// TestGameWarmPool: a game that takes 2 s to load still shows its first frame within a second
// of Play when the host keeps a warm process, and a player never gets a used process.
func TestGameWarmPool(t *testing.T) {
	bin := buildTestGame(t)
	var l *gameproc.Launcher
	a := startApp(t, appOpts{slots: 1, mutate: func(c *app.Config) {
		h := &c.Hosts[0]
		h.Width, h.Height, h.FPS = 320, 180, 30
		var err error
		l, err = gameproc.NewLauncher(gameproc.Command{
			Path: bin, Env: []string{"TESTGAME_LOAD_MS=2000"}, Warm: 1, Logger: testLogger(),
		}, game.Config{Width: h.Width, Height: h.Height, FPS: h.FPS})
		if err != nil {
			t.Fatal(err)
		}
		h.Games["slow"] = l.Factory()
	}})
	t.Cleanup(l.Close) // after the app: cleanups run last-registered first
	for i := range 2 {
		waitFor(t, 15*time.Second, "a warm process is ready", func() bool { return l.Warm() == 1 })
		p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{Game: "slow"})
		if err != nil {
			t.Fatal(err)
		}
		begin := time.Now()
		if err := p.Play(ctxFor(t, 15*time.Second)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the first frame", func() bool { return p.Received() > 0 })
		took := time.Since(begin)
		t.Logf("play %d: Play → first frame %v (the game loads for 2 s)", i+1, took)
		if took > time.Second {
			t.Errorf("play %d: first frame after %v, want under 1 s with a warm process", i+1, took)
		}
		if _, err := p.Leave(ctxFor(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		p.Close()
		waitFor(t, 10*time.Second, "the slot is free", func() bool {
			hs := a.Matchmaker().Hosts()
			return len(hs) == 1 && hs[0].Used == 0 && hs[0].Reserved == 0
		})
	}
}

// playUntilEnded plays and reads messages until "ended" (which may come instead of the offer,
// for a game that never starts).
func playUntilEnded(t *testing.T, p *testplayer.Player, gameID string) protocol.Message {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	if err := p.SendJSON(protocol.Message{Type: protocol.TypeJoin, Game: gameID}); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := p.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for ended: %v", err)
		}
		switch m.Type {
		case protocol.TypeOffer:
			if err := p.Accept(ctx, m.SDP); err != nil {
				t.Fatalf("accept: %v", err)
			}
		case protocol.TypeEnded:
			return m
		}
	}
}

// gameProcesses lists the running (not zombie) processes of the program bin.
func gameProcesses(t *testing.T, bin string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil && exe == bin && !processGone(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// processGone reports whether pid is gone or a zombie.
func processGone(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	_, after, _ := strings.Cut(string(stat), ") ")
	return strings.HasPrefix(after, "Z")
}
