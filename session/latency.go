package session

import (
	"slices"
	"sync"
	"time"
)

// sampleRing keeps the most recent durations of one measurement for percentiles.
type sampleRing struct {
	mu   sync.Mutex
	buf  []time.Duration // guarded by mu
	next int             // guarded by mu
	full bool            // guarded by mu
}

func newSampleRing(n int) *sampleRing { return &sampleRing{buf: make([]time.Duration, n)} }

func (r *sampleRing) add(d time.Duration) {
	r.mu.Lock()
	r.buf[r.next] = d
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
	r.mu.Unlock()
}

// snapshot returns a sorted copy of the samples held.
func (r *sampleRing) snapshot() []time.Duration {
	r.mu.Lock()
	n := r.next
	if r.full {
		n = len(r.buf)
	}
	out := slices.Clone(r.buf[:n])
	r.mu.Unlock()
	slices.Sort(out)
	return out
}

// Percentile returns the p-th percentile (0..100) of sorted samples, or 0 if there are none.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p / 100 * float64(len(sorted)-1))
	return sorted[i]
}
