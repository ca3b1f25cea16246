package media

import (
	"fmt"
	"time"
)

// Rung is one step of the resolution ladder: the size the encoder produces.
type Rung struct{ Width, Height int }

func (r Rung) String() string { return fmt.Sprintf("%dx%d", r.Width, r.Height) }

// Ladder returns the resolution ladder for frames of w×h: full size, three quarters and half
// (1280×720 → 960×540 → 640×360), each dimension even. Rungs smaller than 160×90 are left out.
func Ladder(w, h int) []Rung {
	out := []Rung{{w, h}}
	for _, f := range [][2]int{{3, 4}, {1, 2}} {
		r := Rung{w * f[0] / f[1] &^ 1, h * f[0] / f[1] &^ 1}
		if r.Width >= 160 && r.Height >= 90 {
			out = append(out, r)
		}
	}
	return out
}

// RateConfig tunes the RateController. Zero values take the defaults.
type RateConfig struct {
	FPS              int // frames per second; required
	MinKbps, MaxKbps int // the encoder's bounds; default 150 and 6000
	// Headroom is the share of the estimate given to the encoder; the rest is left for
	// retransmissions and estimate noise. Default 0.9.
	Headroom float64
	// A rung is used while the target gives it at least DownBPP bits per pixel, and entered
	// from below once the target gives it UpBPP. Defaults 0.04 and 0.05: at 60 fps, 1280×720
	// needs 2.2 Mbit/s to stay and 2.8 to enter, 960×540 1.2 and 1.6.
	DownBPP, UpBPP float64
	// DownAfter is how long the target must stay below a rung's floor before stepping down
	// (estimates dip for a moment on every queue blip); UpAfter how long above the next rung's
	// entry before stepping up, and the least time between two switches up. Defaults 300 ms
	// and 2 s.
	DownAfter, UpAfter time.Duration
	// The bit rate follows the target when it falls by at least MinFall or rises by at least
	// MinRise, rises at most every RiseInterval. Defaults 5 %, 5 % and 100 ms: cheap changes
	// (libx264 and libvpx reconfigure without a keyframe). An encoder whose every change costs
	// a keyframe (FFmpeg's NVENC wrapper) wants far fewer: CostlyChanges.
	MinFall, MinRise float64
	RiseInterval     time.Duration
}

// CostlyChanges returns c tuned for an encoder that makes a keyframe on every bit-rate
// change: only changes of 15 % down or 25 % up, rises at most every 2 s.
func (c RateConfig) CostlyChanges() RateConfig {
	c.MinFall, c.MinRise, c.RiseInterval = 0.15, 0.25, 2*time.Second
	return c
}

func (c *RateConfig) setDefaults() {
	if c.MinKbps == 0 {
		c.MinKbps = 150
	}
	if c.MaxKbps == 0 {
		c.MaxKbps = 6000
	}
	if c.Headroom == 0 {
		c.Headroom = 0.9
	}
	if c.DownBPP == 0 {
		c.DownBPP = 0.04
	}
	if c.UpBPP == 0 {
		c.UpBPP = 0.05
	}
	if c.DownAfter == 0 {
		c.DownAfter = 300 * time.Millisecond
	}
	if c.UpAfter == 0 {
		c.UpAfter = 2 * time.Second
	}
	if c.MinFall == 0 {
		c.MinFall = 0.05
	}
	if c.MinRise == 0 {
		c.MinRise = 0.05
	}
	if c.RiseInterval == 0 {
		c.RiseInterval = 100 * time.Millisecond
	}
}

// RateController turns bandwidth estimates into the encoder's bit rate and rung. It is a pure
// decision: no clock, no I/O; the video sender calls Update once per frame. Bit-rate changes
// apply to the open encoder (no keyframe); a rung change reopens the encoder at the new size.
type RateController struct {
	cfg    RateConfig
	ladder []Rung

	rung       int
	kbps       int       // the bit rate last decided
	changed    time.Time // when kbps last changed
	switched   time.Time // when the rung last changed
	belowSince time.Time // the target has been below the rung's floor since; zero if not
	aboveSince time.Time // the target has been above the next rung's entry since; zero if not
}

// Decision is what the encoder should do now.
type Decision struct {
	Kbps       int  // target bit rate for the encoder
	Rung       int  // index into the ladder
	SetBitrate bool // Kbps differs enough from the last decision to tell the encoder
	Switch     bool // Rung changed: reopen the encoder at the rung's size
}

// NewRateController starts on the highest rung the start estimate (bits per second) can keep.
func NewRateController(cfg RateConfig, ladder []Rung, startBps int) *RateController {
	cfg.setDefaults()
	c := &RateController{cfg: cfg, ladder: ladder}
	c.kbps = c.target(startBps)
	c.rung = c.fit(c.kbps)
	return c
}

// Rung returns the current rung.
func (c *RateController) Rung() Rung { return c.ladder[c.rung] }

// Kbps returns the current target.
func (c *RateController) Kbps() int { return c.kbps }

// target is the encoder's share of an estimate, bounded.
func (c *RateController) target(bps int) int {
	k := int(float64(bps) * c.cfg.Headroom / 1000)
	return max(c.cfg.MinKbps, min(c.cfg.MaxKbps, k))
}

// floor and entry are the least bit rates (kbit/s) to stay on and to enter rung i.
func (c *RateController) floor(i int) int { return c.kbpsAt(i, c.cfg.DownBPP) }
func (c *RateController) entry(i int) int { return c.kbpsAt(i, c.cfg.UpBPP) }

func (c *RateController) kbpsAt(i int, bpp float64) int {
	r := c.ladder[i]
	return int(bpp * float64(r.Width*r.Height*c.cfg.FPS) / 1000)
}

// fit is the highest rung whose floor kbps reaches, or the lowest rung.
func (c *RateController) fit(kbps int) int {
	for i := range c.ladder {
		if kbps >= c.floor(i) {
			return i
		}
	}
	return len(c.ladder) - 1
}

// Update takes the latest estimate (bits per second) at now and decides.
func (c *RateController) Update(now time.Time, estimateBps int) Decision {
	t := c.target(estimateBps)
	d := Decision{Kbps: c.kbps, Rung: c.rung}

	// Down: the target has stayed below this rung's floor for DownAfter.
	if c.rung < len(c.ladder)-1 && t < c.floor(c.rung) {
		if c.belowSince.IsZero() {
			c.belowSince = now
		}
		if now.Sub(c.belowSince) >= c.cfg.DownAfter {
			c.setRung(now, max(c.fit(t), c.rung+1))
			d.Rung, d.Switch = c.rung, true
		}
	} else {
		c.belowSince = time.Time{}
	}
	// Up: the target has stayed above the next rung's entry for UpAfter, and the last
	// switch is UpAfter old (so a link that just failed a rung is not tried again at once).
	if !d.Switch && c.rung > 0 && t >= c.entry(c.rung-1) {
		if c.aboveSince.IsZero() {
			c.aboveSince = now
		}
		if now.Sub(c.aboveSince) >= c.cfg.UpAfter && now.Sub(c.switched) >= c.cfg.UpAfter {
			c.setRung(now, c.rung-1)
			d.Rung, d.Switch = c.rung, true
		}
	} else if !d.Switch {
		c.aboveSince = time.Time{}
	}

	// The bit rate: follow the target, ignoring small changes unless the rung changed, and
	// rises that come too soon (a fall is applied at once).
	diff := float64(t-c.kbps) / float64(c.kbps)
	rise := diff >= c.cfg.MinRise && (c.changed.IsZero() || now.Sub(c.changed) >= c.cfg.RiseInterval)
	if d.Switch || diff <= -c.cfg.MinFall || rise {
		c.kbps, c.changed = t, now
		d.Kbps, d.SetBitrate = t, true
	}
	return d
}

func (c *RateController) setRung(now time.Time, i int) {
	c.rung, c.switched = i, now
	c.belowSince, c.aboveSince = time.Time{}, time.Time{}
}
