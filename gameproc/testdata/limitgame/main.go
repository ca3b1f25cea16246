// Command limitgame is gameproc's limits test program. It does not speak the game protocol;
// the tests start it with spawn and watch it. It writes what it did to $LIMITGAME_OUT:
//
//	LIMITGAME_ALLOC_MIB=N     wait for a byte (or EOF) on fd 3, then allocate and touch N MiB,
//	                          1 MiB at a time, writing the MiB held so far after each; then
//	                          "done N" and exit 0 (the wait lets the host set its rlimits
//	                          first, so the test checks the limit, not the start's window)
//	LIMITGAME_THREADS=N       start N more OS threads, write "ready", and sleep
//	LIMITGAME_ESCAPE=1        start /bin/sleep in a session of its own (out of the process
//	                          group), write "ready <its pid>", and sleep
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "limitgame:", err)
		os.Exit(1)
	}
}

func report(format string, args ...any) error {
	return os.WriteFile(os.Getenv("LIMITGAME_OUT"), fmt.Appendf(nil, format, args...), 0o600)
}

func run() error {
	if n, _ := strconv.Atoi(os.Getenv("LIMITGAME_ALLOC_MIB")); n > 0 {
		var b [1]byte
		_, _ = os.NewFile(3, "link").Read(b[:])
		held := make([][]byte, 0, n)
		for i := range n {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1
			}
			held = append(held, b)
			if err := report("%d", i+1); err != nil {
				return err
			}
		}
		runtime.KeepAlive(held)
		return report("done %d", n)
	}
	if n, _ := strconv.Atoi(os.Getenv("LIMITGAME_THREADS")); n > 0 {
		for range n {
			go func() {
				runtime.LockOSThread()
				sleep()
			}()
		}
		time.Sleep(100 * time.Millisecond) // let them start
		if err := report("ready"); err != nil {
			return err
		}
		sleep()
	}
	if os.Getenv("LIMITGAME_ESCAPE") != "" {
		c := exec.CommandContext(context.Background(), "/bin/sleep", "1000")
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := c.Start(); err != nil {
			return err
		}
		if err := report("ready %d", c.Process.Pid); err != nil {
			return err
		}
		sleep()
	}
	return fmt.Errorf("nothing to do")
}

// sleep never returns; unlike select {}, it does not look like a deadlock to the runtime.
func sleep() {
	for {
		time.Sleep(time.Hour)
	}
}
