package demo

import (
	"time"

	"github.com/edgeplay/edgeplay/game"
)

// rumbleFor is the one rumble a tick asks for, the strongest its cues call for, or none: losing
// the round shakes both motors hard, being rammed mostly the heavy (low-frequency) one, and a hit
// is a short tick of the light one that grows with the score multiplier. Shots do not rumble:
// holding the trigger fires eleven a second, and a pad that buzzes all the time says nothing.
func rumbleFor(c *cues) (game.Rumble, bool) {
	switch {
	case c.lost:
		return game.Rumble{Strong: 1, Weak: 1, Duration: 600 * time.Millisecond}, true
	case c.rammed:
		return game.Rumble{Strong: 0.8, Weak: 0.3, Duration: 250 * time.Millisecond}, true
	case c.hits > 0:
		return game.Rumble{Weak: min(1, 0.3+0.1*float64(c.mult)), Duration: 60 * time.Millisecond}, true
	}
	return game.Rumble{}, false
}
