package probe

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestReplayGuard(t *testing.T) {
	t0 := testNow
	exp := t0.Add(30 * time.Second)
	type step struct {
		nonce   string
		exp     time.Time
		now     time.Time
		refused bool
		len     int // nonces held afterwards
	}
	tests := []struct {
		name  string
		max   int
		steps []step
	}{
		{"first accepted, second refused", 0, []step{
			{"a", exp, t0, false, 1},
			{"a", exp, t0.Add(time.Second), true, 1},
			{"b", exp, t0.Add(time.Second), false, 2},
		}},
		{"still refused until pruned past its expiry", 0, []step{
			{"a", t0.Add(2 * time.Second), t0, false, 1},
			{"a", t0.Add(2 * time.Second), t0.Add(1900 * time.Millisecond), true, 1},
		}},
		{"expired token refused and not stored", 0, []step{
			{"a", t0, t0, true, 0},
			{"b", t0.Add(-time.Second), t0, true, 0},
		}},
		{"expired nonces are pruned", 0, []step{
			{"a", t0.Add(time.Second), t0, false, 1},
			{"b", t0.Add(1500 * time.Millisecond), t0, false, 2},
			{"c", t0.Add(10 * time.Second), t0, false, 3},
			{"d", t0.Add(10 * time.Second), t0.Add(2 * time.Second), false, 2}, // a and b dropped
			{"e", t0.Add(20 * time.Second), t0.Add(11 * time.Second), false, 1},
		}},
		{"full: refuse rather than grow", 2, []step{
			{"a", exp, t0, false, 1},
			{"b", exp, t0, false, 2},
			{"c", exp, t0.Add(5 * time.Second), true, 2},
			{"a", exp, t0.Add(5 * time.Second), true, 2},
		}},
		{"full: room again once some expire", 2, []step{
			{"a", t0.Add(time.Second), t0, false, 1},
			{"b", exp, t0, false, 2},
			{"c", exp, t0.Add(100 * time.Millisecond), true, 2}, // full, a not yet expired
			{"c", exp, t0.Add(1100 * time.Millisecond), false, 2},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &ReplayGuard{Max: tt.max}
			for i, s := range tt.steps {
				if got := g.Seen(s.nonce, s.exp, s.now); got != s.refused {
					t.Errorf("step %d: Seen(%s) = %v, want %v", i, s.nonce, got, s.refused)
				}
				if got := g.Len(); got != s.len {
					t.Errorf("step %d: Len = %d, want %d", i, got, s.len)
				}
			}
		})
	}
}

// TestReplayGuardConcurrent: of many goroutines presenting the same nonce, exactly one wins.
func TestReplayGuardConcurrent(t *testing.T) {
	var g ReplayGuard
	exp := testNow.Add(time.Minute)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		accepted = map[string]int{}
	)
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				n := fmt.Sprint(i)
				if !g.Seen(n, exp, testNow.Add(time.Duration(w)*time.Millisecond)) {
					mu.Lock()
					accepted[n]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for i := range 200 {
		if n := accepted[fmt.Sprint(i)]; n != 1 {
			t.Errorf("nonce %d accepted %d times", i, n)
		}
	}
}

func BenchmarkReplayGuardSeen(b *testing.B) {
	var g ReplayGuard
	now := testNow
	for i := 0; b.Loop(); i++ {
		now = now.Add(time.Microsecond)
		g.Seen(fmt.Sprint(i), now.Add(30*time.Second), now)
	}
}
