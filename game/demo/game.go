package demo

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/input"
)

// Limits on game.Config that New enforces.
const (
	MinWidth  = 320
	MinHeight = 240
	MaxWidth  = 7680
	MaxHeight = 4320
	MaxFPS    = 240
)

// QueueSize is how many input events wait for the next tick; when the queue is full the oldest
// event is dropped and counted in Stats.InputsDropped.
const QueueSize = 256

var (
	_ game.Game         = (*Game)(nil)
	_ game.AudioSource  = (*Game)(nil)
	_ game.HapticSource = (*Game)(nil)
	_ game.Presence     = (*Game)(nil)
	_ game.FrameSource  = (*Game)(nil)
)

// Factory creates demo games; it is the demo's entry in a host's game table.
var Factory game.Factory = func(cfg game.Config) (game.Game, error) {
	return New(cfg)
}

// Stats counts what a game has done since New. All counters only grow.
type Stats struct {
	FramesRendered uint64 // Render calls, including those from Run
	InputsApplied  uint64 // events applied to the simulation
	InputsDropped  uint64 // events dropped because the input queue was full
}

// Game is one demo game instance. See the package comment for which methods may be called
// concurrently.
type Game struct {
	cfg game.Config
	dt  time.Duration // one tick at cfg.FPS

	running atomic.Bool // set while Run runs

	rendered atomic.Uint64
	applied  atomic.Uint64
	dropped  atomic.Uint64
	// release asks the next tick to let go of every held control (PlayerAway); away is set
	// while the player is away.
	release, away atomic.Bool

	mu sync.Mutex
	// Guarded by mu: a ring of input events waiting for the next tick.
	queue [QueueSize]input.Event
	qHead int // index of the oldest event
	qLen  int

	// Owned by the goroutine that drives the game (Run, or a test or benchmark).
	pending [QueueSize]input.Event // events taken from the queue for this tick
	world   world
	art     art

	// Set before Run by SetAudioSink, SetRumbleSink and SetFrameSource, then owned by Run's
	// goroutine.
	audio  *audioOut          // nil: no sound is made
	rumble func(game.Rumble)  // nil: no rumble
	source func() *game.Frame // nil: Run renders into its own pool
	seen   cueState           // the world's counters after the previous tick
}

// New validates cfg and returns a game ready to Run. Sizes must be even and at least
// MinWidth×MinHeight (the latency marker alone needs 256×64); FPS must be 1..MaxFPS.
func New(cfg game.Config) (*Game, error) {
	switch {
	case cfg.Width < MinWidth || cfg.Height < MinHeight || cfg.Width > MaxWidth || cfg.Height > MaxHeight:
		return nil, fmt.Errorf("%w: size %dx%d outside %dx%d..%dx%d", ErrConfig,
			cfg.Width, cfg.Height, MinWidth, MinHeight, MaxWidth, MaxHeight)
	case cfg.Width%2 != 0 || cfg.Height%2 != 0:
		return nil, fmt.Errorf("%w: size %dx%d is not even", ErrConfig, cfg.Width, cfg.Height)
	case cfg.FPS < 1 || cfg.FPS > MaxFPS:
		return nil, fmt.Errorf("%w: fps %d outside 1..%d", ErrConfig, cfg.FPS, MaxFPS)
	}
	g := &Game{cfg: cfg, dt: time.Second / time.Duration(cfg.FPS)}
	g.world.init(cfg.Width, cfg.Height)
	g.art.init(cfg.Width, cfg.Height)
	return g, nil
}

// Config returns the configuration the game was created with.
func (g *Game) Config() game.Config { return g.cfg }

// Run ticks at the configured frame rate until ctx is done. Each tick applies the queued input,
// advances the simulation by one frame time, renders into a frame (from the source set by
// SetFrameSource, else from a pool of its own) and hands it to sink, which owns it from then
// on, then hands the tick's sound and rumble to the sinks set by SetAudioSink and
// SetRumbleSink, if any. A tick that falls behind is skipped, not queued (time.Ticker drops
// ticks for slow receivers); the sound still covers the time it spans. A tick for which the
// source has no frame renders nothing (the simulation and the sound go on). Run returns nil
// when ctx ends, or ErrRunning if the game is already running.
func (g *Game) Run(ctx context.Context, sink func(*game.Frame)) error {
	if !g.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer g.running.Store(false)
	g.seen.reset(&g.world)

	pool := game.NewFramePool(g.cfg.Width, g.cfg.Height)
	ticker := time.NewTicker(g.dt)
	defer ticker.Stop()
	var seq uint64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		if ctx.Err() != nil {
			return nil
		}
		if g.release.Swap(false) {
			g.world.releaseAll()
		}
		g.applyQueued()
		g.Step(g.dt)
		var f *game.Frame
		if g.source != nil {
			f = g.source()
		} else {
			f = pool.Get()
		}
		if f == nil { // no frame free: skip the picture, not the tick
			g.emit(time.Now())
			continue
		}
		g.Render(f) // draws every pixel: a frame from the source holds an old picture
		seq++
		ready := time.Now()
		f.Seq = seq
		f.Ready = ready
		f.InputSeq = g.world.lastSeq
		sink(f)
		g.emit(ready)
	}
}

// PlayerAway implements game.Presence: the player's connection dropped. The game runs on,
// and lets go of whatever the player held, so the ship does not fly on or keep firing.
func (g *Game) PlayerAway() {
	g.away.Store(true)
	g.release.Store(true)
}

// PlayerBack implements game.Presence.
func (g *Game) PlayerBack() { g.away.Store(false) }

// Away reports whether the player is away (between PlayerAway and PlayerBack).
func (g *Game) Away() bool { return g.away.Load() }

// SetAudioSink implements game.AudioSource: from the next Run on, each tick hands sink the
// sound since the previous tick's (see audioOut for how Start is kept), with the sounds of what
// the tick did starting at its frame's Ready time. It must be called before Run, not during it;
// a nil sink turns the sound off, and without a sink no sound is synthesised.
func (g *Game) SetAudioSink(sink func(game.AudioChunk)) {
	if sink == nil {
		g.audio = nil
		return
	}
	if g.audio == nil {
		g.audio = &audioOut{}
	}
	g.audio.sink = sink
}

// SetRumbleSink implements game.HapticSource: from the next Run on, a tick in which a target is
// hit, the ship is rammed or the round is lost calls sink once (see rumbleFor). It must be
// called before Run, not during it; nil turns rumble off.
func (g *Game) SetRumbleSink(sink func(game.Rumble)) { g.rumble = sink }

// SetFrameSource implements game.FrameSource: from the next Run on, each tick renders into a
// frame from get (Render draws every pixel and honours the frame's Stride), and a tick for
// which get returns nil renders nothing. It must be called before Run, not during it; nil
// goes back to the game's own frames.
func (g *Game) SetFrameSource(get func() *game.Frame) { g.source = get }

// emit hands the sinks the sound and rumble of the tick whose frame was ready at ready. It
// allocates nothing.
func (g *Game) emit(ready time.Time) {
	if g.audio == nil && g.rumble == nil {
		return
	}
	c := g.seen.observe(&g.world)
	if g.audio != nil {
		g.audio.tick(ready, ready.Add(g.dt), &c)
	}
	if g.rumble != nil {
		if r, ok := rumbleFor(&c); ok {
			g.rumble(r)
		}
	}
}

// cues are what one tick did that the player hears or feels. The world knows nothing of sound:
// the cues are found by comparing its counters with the previous tick's.
type cues struct {
	shots, hits int  // bullets fired, targets hit
	rammed      bool // a target rammed the ship
	lost        bool // ... and took the last shield: the round is lost
	round       bool // a new round started (after a loss, or on Enter)
	combo, mult int  // hits in a row and the score multiplier, after the tick
	// Where things happened, for panning: −panWidth at the left edge … panWidth at the right.
	shotPan, hitPan, shipPan float64
}

// cueState is what observe compares against.
type cueState struct {
	shots, hits, shields, score int
	hurt                        float64
}

func (cs *cueState) reset(wd *world) {
	*cs = cueState{shots: wd.shots, hits: wd.hits, shields: wd.shields, score: wd.score, hurt: wd.hurt}
}

// observe returns the cues of everything since the previous observe (or reset).
func (cs *cueState) observe(wd *world) cues {
	pan := func(x float64) float64 { return panWidth * clamp(2*x/wd.w-1, -1, 1) }
	c := cues{
		shots:   max(0, wd.shots-cs.shots),
		hits:    max(0, wd.hits-cs.hits),
		rammed:  wd.hurt > cs.hurt, // hurt only counts down, except when a target rams
		round:   wd.shields > cs.shields || wd.score < cs.score,
		combo:   wd.combo,
		mult:    wd.multiplier(),
		shotPan: pan(wd.sx),
		shipPan: pan(wd.sx),
	}
	c.lost = c.rammed && c.round
	// The newest spark is the newest explosion's.
	c.hitPan = pan(wd.sparks[(wd.nextSp+maxSparks-1)%maxSparks].x)
	cs.reset(wd)
	return c
}

// Input queues ev for the next tick. It never blocks: when the queue is full the oldest
// queued event is dropped and counted.
func (g *Game) Input(ev input.Event) {
	g.mu.Lock()
	if g.qLen == QueueSize {
		g.qHead = (g.qHead + 1) % QueueSize
		g.qLen--
		g.dropped.Add(1)
	}
	g.queue[(g.qHead+g.qLen)%QueueSize] = ev
	g.qLen++
	g.mu.Unlock()
}

// applyQueued applies, in arrival order, every event queued so far.
func (g *Game) applyQueued() {
	g.mu.Lock()
	n := g.qLen
	for i := range n {
		g.pending[i] = g.queue[(g.qHead+i)%QueueSize]
	}
	g.qHead, g.qLen = 0, 0
	g.mu.Unlock()
	for i := range n {
		g.apply(g.pending[i])
	}
}

// ApplyForTest applies ev to the simulation at once, bypassing the queue. It must not be called
// while Run is running.
func (g *Game) ApplyForTest(ev input.Event) { g.apply(ev) }

func (g *Game) apply(ev input.Event) {
	g.world.apply(ev)
	g.applied.Add(1)
}

// Step advances the simulation by dt. It must not be called while Run is running.
func (g *Game) Step(dt time.Duration) { g.world.step(dt.Seconds()) }

// Render draws the current state into f, which should have the configured size; a frame of
// another size is drawn clipped to the smaller of the two. It draws every pixel of that area
// (rows Stride bytes apart), so f may hold any old picture. The latency marker carries the low
// 16 bits of the last applied input seq. Render must not be called while Run is running.
func (g *Game) Render(f *game.Frame) {
	g.art.render(f, &g.world)
	g.rendered.Add(1)
}

// Stats returns the game's counters. It is safe for concurrent use.
func (g *Game) Stats() Stats {
	return Stats{
		FramesRendered: g.rendered.Load(),
		InputsApplied:  g.applied.Load(),
		InputsDropped:  g.dropped.Load(),
	}
}
