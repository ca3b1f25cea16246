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

var _ game.Game = (*Game)(nil)

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

	mu sync.Mutex
	// Guarded by mu: a ring of input events waiting for the next tick.
	queue [QueueSize]input.Event
	qHead int // index of the oldest event
	qLen  int

	// Owned by the goroutine that drives the game (Run, or a test or benchmark).
	pending [QueueSize]input.Event // events taken from the queue for this tick
	world   world
	art     art
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
// advances the simulation by one frame time, renders into a pooled frame and hands it to sink,
// which owns it from then on. A tick that falls behind is skipped, not queued (time.Ticker drops
// ticks for slow receivers). Run returns nil when ctx ends, or ErrRunning if the game is already
// running.
func (g *Game) Run(ctx context.Context, sink func(*game.Frame)) error {
	if !g.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer g.running.Store(false)

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
		g.applyQueued()
		g.Step(g.dt)
		f := pool.Get()
		g.Render(f)
		seq++
		f.Seq = seq
		f.Ready = time.Now()
		f.InputSeq = g.world.lastSeq
		sink(f)
	}
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
// another size is drawn clipped to the smaller of the two. The latency marker carries the low
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
