package gameproc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/gameproto"
	"github.com/edgeplay/edgeplay/input"
)

// Defaults for Command's zero fields.
const (
	DefaultStartTimeout = 5 * time.Second  // spawn → hello
	DefaultReadyTimeout = 60 * time.Second // welcome → ready
	DefaultStallTimeout = 5 * time.Second  // the longest gap between frames once started

	startedTimeout = 10 * time.Second  // assign → started
	readyCap       = 600 * time.Second // how far loading may push the ready deadline
	heartbeat      = 2 * time.Second   // announced in welcome; not enforced yet
	shutdownGrace  = 2 * time.Second   // shutdown → kill; also ending/fatal → kill
	sendTimeout    = time.Second       // one message to the game; longer is a hung game
	inputQueue     = 256               // input events waiting for Run's loop; more are dropped
	frameSlots     = 3                 // the pool's slots (docs/SDK.md: edgeplay sends 3)
)

// Command is how to start a game's program. The process gets Env as its whole environment
// (nothing of the host's is inherited) plus EDGEPLAY_FD=3, the link as fd 3 and no other
// descriptor; it runs in its own process group, which is killed when the game ends.
type Command struct {
	Path string   // the program; a relative path is relative to Dir
	Args []string // arguments after the program's name
	Env  []string // "KEY=value"; may be empty
	Dir  string   // working directory; empty: the host's
	// StartTimeout bounds spawn → hello; zero: DefaultStartTimeout.
	StartTimeout time.Duration
	// ReadyTimeout bounds welcome → ready (1 s..600 s; loading may extend it up to 600 s);
	// zero: DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// StallTimeout is the longest gap between frames once started (100 ms..60 s); zero:
	// DefaultStallTimeout.
	StallTimeout time.Duration
	// Logger receives the game's log lines and its stdout and stderr; nil: slog.Default().
	Logger *slog.Logger
}

func (c Command) withDefaults() (Command, error) {
	if c.Path == "" {
		return c, fmt.Errorf("gameproc: no program")
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.StartTimeout < 0:
		return c, fmt.Errorf("gameproc: start timeout %v", c.StartTimeout)
	case c.ReadyTimeout < time.Second || c.ReadyTimeout > readyCap:
		return c, fmt.Errorf("gameproc: ready timeout %v, want 1s..%v", c.ReadyTimeout, readyCap)
	case c.StallTimeout < 100*time.Millisecond || c.StallTimeout > time.Minute:
		return c, fmt.Errorf("gameproc: stall timeout %v, want 100ms..1m", c.StallTimeout)
	}
	return c, nil
}

// Factory returns a game.Factory whose games run cmd's program. Creating a game only checks
// the configuration; the process starts in Run and is gone when Run returns.
func Factory(cmd Command) game.Factory {
	return func(cfg game.Config) (game.Game, error) {
		c, err := cmd.withDefaults()
		if err != nil {
			return nil, err
		}
		if _, err := gameproto.NewBufferPool(gameproto.RGBA, cfg.Width, cfg.Height, frameSlots); err != nil {
			return nil, fmt.Errorf("gameproc: %w", err)
		}
		if cfg.FPS < 1 || cfg.FPS > gameproto.MaxFPS {
			return nil, fmt.Errorf("gameproc: fps %d", cfg.FPS)
		}
		return &Game{cmd: c, cfg: cfg, inputs: make(chan input.Event, inputQueue)}, nil
	}
}

// Game is one game process, serving one session: Run starts it, runs it and stops it.
type Game struct {
	cmd    Command
	cfg    game.Config
	inputs chan input.Event // Input → Run's loop

	running atomic.Bool
	dropped atomic.Uint64 // input events dropped because the queue was full
	pid     atomic.Int64  // the running process, 0 before and after; for tests
}

// Input queues ev for the game; when the queue is full the event is dropped. Never blocks.
// Events before the game has started are dropped.
func (g *Game) Input(ev input.Event) {
	select {
	case g.inputs <- ev:
	default:
		g.dropped.Add(1)
	}
}

// Run starts the process, takes it through hello, welcome, buffer_pool, ready, assign and
// started, then hands each frame it submits to sink (a copy, as a game.FramePool frame the
// sink releases) until ctx is done, when it sends shutdown, waits up to 2 s and kills the
// process group. It returns nil when ctx ended it, and otherwise an error wrapping ErrEnded,
// ErrStartFailed, ErrCrashed, ErrHung or ErrProtocol that says what happened. Either way the
// process and its group are gone, reaped, and every descriptor and mapping is released.
func (g *Game) Run(ctx context.Context, sink func(*game.Frame)) error {
	if !g.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	r, err := g.start()
	if err != nil {
		return err
	}
	err = r.loop(ctx, sink)
	r.stop(err)
	g.pid.Store(0)
	if ctx.Err() != nil && errors.Is(err, errCanceled) {
		return nil
	}
	return err
}
