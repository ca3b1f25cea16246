package e2e

import (
	"syscall"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/internal/testplayer"
)

// cpuTime is this process's user + system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkUnconnectedReservation: what players who join and never connect (they never
// answer the offer) cost the host while their reservations are held, against the same system
// idle: CPU cores per held reservation, from getrusage of the whole process over 5 s.
// Issue 11 measured about 0.37 core each before the game waited for the connection.
func BenchmarkUnconnectedReservation(b *testing.B) {
	const players, window = 4, 5 * time.Second
	for range b.N {
		a := startApp(b, appOpts{slots: players, mutate: func(c *app.Config) { c.Hosts[0].ReserveTimeout = time.Minute }})
		time.Sleep(time.Second)
		c0 := cpuTime(b)
		time.Sleep(window)
		idle := cpuTime(b) - c0
		var ps []*testplayer.Player
		for range players {
			p, err := testplayer.Dial(ctxFor(b, 5*time.Second), a.URL(), testplayer.Options{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := p.Join(ctxFor(b, 10*time.Second)); err != nil {
				b.Fatal(err)
			}
			ps = append(ps, p)
		}
		time.Sleep(time.Second)
		c1 := cpuTime(b)
		time.Sleep(window)
		held := cpuTime(b) - c1
		b.ReportMetric(idle.Seconds()/window.Seconds(), "cores-idle")
		b.ReportMetric((held-idle).Seconds()/window.Seconds()/players, "cores/reservation")
		for _, p := range ps {
			p.Close()
		}
		_ = a.Close(ctxFor(b, 10*time.Second))
	}
}
