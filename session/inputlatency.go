package session

import (
	"sync"
	"time"

	"github.com/edgeplay/edgeplay/game"
)

// inputWindow is how many recent inputs the session remembers the arrival of: an input seq
// that a frame names is looked up here. 256 covers well over a second of heavy input.
const inputWindow = 256

// inputClock measures input → frame latency for any game, without a marker: the session notes
// when each input arrived, and each frame carries the seq of the last input the game applied
// (game.Frame.InputSeq), so the first frame that names a new seq gives one sample: its Ready
// time minus that input's arrival. Safe for concurrent use (inputs arrive on pion's
// goroutines, frames on the game's).
type inputClock struct {
	mu      sync.Mutex
	arrived [inputWindow]struct { // guarded by mu: by seq % inputWindow
		seq uint32
		at  time.Time
	}
	lastSeq uint32        // guarded by mu: the last frame's InputSeq
	last    time.Duration // guarded by mu: the latest sample
	n       uint64        // guarded by mu: samples taken
}

// input notes that the input with seq arrived at.
func (c *inputClock) input(seq uint32, at time.Time) {
	c.mu.Lock()
	e := &c.arrived[seq%inputWindow]
	e.seq, e.at = seq, at
	c.mu.Unlock()
}

// frame takes a sample when f is the first frame to reflect an input the session saw; it
// returns the sample and whether there was one.
func (c *inputClock) frame(f *game.Frame) (time.Duration, bool) {
	if f.InputSeq == 0 {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.InputSeq == c.lastSeq {
		return 0, false
	}
	c.lastSeq = f.InputSeq
	e := c.arrived[f.InputSeq%inputWindow]
	if e.seq != f.InputSeq || e.at.IsZero() || f.Ready.Before(e.at) {
		return 0, false // too old, never seen, or a game that names an input it had not got
	}
	c.last = f.Ready.Sub(e.at)
	c.n++
	return c.last, true
}

// latest is the latest sample and how many were taken.
func (c *inputClock) latest() (time.Duration, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last, c.n
}
