// Command testgame is gameproc's test game: a gamesdk game that fills every frame with one
// colour, the next colour of its palette after each key press, at the welcome's fps until
// shutdown. Environment variables make it misbehave:
//
//	TESTGAME_CRASH_AFTER=N     exit with status 3 after N frames
//	TESTGAME_NEVER_READY=1     never send ready
//	TESTGAME_HANG_AFTER=N      stop everything (sleep) after N frames
//	TESTGAME_IGNORE_SHUTDOWN=1 do not exit at shutdown (sleep), and ignore SIGTERM
//	TESTGAME_CHILD_PIDFILE=P   fork a child (sleep) and write its pid to P
//	TESTGAME_FDFILE=P          write the descriptors it inherited to P, one "fd target" a line
//	TESTGAME_LOAD_MS=N         take N ms to load (sends loading first)
//	TESTGAME_LOAD_QUIET=1      … without saying loading (the ready deadline stands)
//	TESTGAME_HANG_READY=1      stop everything (sleep) once ready
//	TESTGAME_END_AFTER=N       end the session itself after N frames, result {"frames":N}
//	TESTGAME_GARBAGE_AFTER=N   write a malformed datagram on the link after N frames
//	TESTGAME_OVERSIZE_AFTER=N  write a 70,000-byte datagram on the link after N frames
//	TESTGAME_EVENTFILE=P       append what the host says to P, a line each: "assign SESSION",
//	                           "joined PLAYER", "away", "back", "drain"
//
// At drain it ends the session itself with the result {"drained":true}.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/edgeplay/edgeplay/gamesdk"
	"github.com/edgeplay/edgeplay/input"
)

// Palette is the colours frames cycle through, one step per key press (R, G, B).
var Palette = [][3]byte{{0xff, 0, 0}, {0, 0xff, 0}, {0, 0, 0xff}, {0xff, 0xff, 0}}

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "testgame:", err)
		os.Exit(1)
	}
}

func run() error {
	if p := os.Getenv("TESTGAME_FDFILE"); p != "" {
		if err := writeFDs(p); err != nil {
			return err
		}
	}
	crashAfter, hangAfter := envInt("TESTGAME_CRASH_AFTER"), envInt("TESTGAME_HANG_AFTER")
	ignoreShutdown := os.Getenv("TESTGAME_IGNORE_SHUTDOWN") != ""
	if ignoreShutdown {
		signal.Ignore(syscall.SIGTERM)
	}
	if pf := os.Getenv("TESTGAME_CHILD_PIDFILE"); pf != "" {
		c := exec.CommandContext(context.Background(), "/bin/sleep", "1000")
		if err := c.Start(); err != nil {
			return err
		}
		if err := os.WriteFile(pf, []byte(strconv.Itoa(c.Process.Pid)), 0o600); err != nil {
			return err
		}
	}
	fmt.Println("testgame starting") // captured into the host's log
	// A copy of the link, for writing what the SDK would never send (the SDK's Open takes fd 3
	// over and may close it).
	link, err := syscall.Dup(3)
	if err != nil {
		return err
	}

	g, err := gamesdk.Open(gamesdk.Config{})
	if err != nil {
		return err
	}
	defer g.Close()
	if os.Getenv("TESTGAME_NEVER_READY") != "" {
		for {
			if _, err := g.Poll(time.Second); err != nil {
				return err
			}
		}
	}
	if ms := envInt("TESTGAME_LOAD_MS"); ms > 0 {
		if os.Getenv("TESTGAME_LOAD_QUIET") == "" {
			if err := g.Loading(time.Duration(ms)*time.Millisecond + 5*time.Second); err != nil {
				return err
			}
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	if err := g.Ready(); err != nil {
		return err
	}
	_ = g.Log(gamesdk.LevelInfo, "testgame ready")
	if os.Getenv("TESTGAME_HANG_READY") != "" {
		time.Sleep(time.Hour)
	}
	note := func(format string, args ...any) {
		if p := os.Getenv("TESTGAME_EVENTFILE"); p != "" {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
			if err == nil {
				_, _ = fmt.Fprintf(f, format+"\n", args...)
				_ = f.Close()
			}
		}
	}

	every := time.Second / time.Duration(g.Welcome().FPS)
	var started bool
	var colour, frames int
	var lastInput uint32
	next := time.Now()
	for {
		wait := time.Second
		if started {
			wait = max(time.Until(next), time.Millisecond)
		}
		ev, err := g.Poll(wait)
		if err != nil {
			return err
		}
		switch ev := ev.(type) {
		case gamesdk.Assign:
			note("assign %s", ev.Session)
			if err := g.Started(); err != nil {
				return err
			}
			started, next = true, time.Now()
		case gamesdk.PlayerJoined:
			note("joined %s", ev.ID)
		case gamesdk.PlayerAway:
			note("away")
		case gamesdk.PlayerBack:
			note("back")
		case gamesdk.Drain:
			note("drain")
			return g.End(`{"drained":true}`)
		case gamesdk.Input:
			for _, in := range ev.Events {
				if in.Type == input.KeyDown {
					colour++
				}
				lastInput = in.Seq
			}
		case gamesdk.Shutdown:
			if ignoreShutdown {
				time.Sleep(time.Hour)
			}
			return nil
		}
		if !started || time.Now().Before(next) {
			continue
		}
		next = next.Add(every)
		f, ok := g.AcquireFrame()
		if !ok {
			continue
		}
		c := Palette[colour%len(Palette)]
		pix, stride := f.Planes[0], f.Strides[0]
		for y := range f.Height {
			row := pix[y*stride : y*stride+4*f.Width]
			for x := 0; x < len(row); x += 4 {
				row[x], row[x+1], row[x+2], row[x+3] = c[0], c[1], c[2], 0xff
			}
		}
		if err := g.SubmitFrame(f, lastInput); err != nil {
			return err
		}
		frames++
		if crashAfter > 0 && frames >= crashAfter {
			os.Exit(3)
		}
		if n := envInt("TESTGAME_END_AFTER"); n > 0 && frames >= n {
			return g.End(fmt.Sprintf(`{"frames":%d}`, frames))
		}
		if n := envInt("TESTGAME_GARBAGE_AFTER"); n > 0 && frames >= n {
			_, _ = syscall.Write(link, []byte{0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3})
			time.Sleep(time.Hour) // the host cuts it off
		}
		if n := envInt("TESTGAME_OVERSIZE_AFTER"); n > 0 && frames >= n {
			_, _ = syscall.Write(link, make([]byte, 70000))
			time.Sleep(time.Hour)
		}
		if hangAfter > 0 && frames >= hangAfter {
			time.Sleep(time.Hour)
		}
	}
}

// writeFDs lists the open descriptors, but for the one reading the list.
func writeFDs(path string) error {
	dir, err := os.Open("/proc/self/fd")
	if err != nil {
		return err
	}
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return err
	}
	var out []byte
	for _, n := range names {
		if n == strconv.Itoa(int(dir.Fd())) {
			continue
		}
		target, _ := os.Readlink("/proc/self/fd/" + n)
		out = fmt.Appendf(out, "%s %s\n", n, target)
	}
	_ = dir.Close()
	return os.WriteFile(path, out, 0o600)
}
