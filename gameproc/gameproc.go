package gameproc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
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

	startedTimeout  = 10 * time.Second  // assign → started
	readyCap        = 600 * time.Second // how far loading may push the ready deadline
	shutdownGrace   = 2 * time.Second   // shutdown → kill; also ending/fatal → kill
	sendTimeout     = time.Second       // one message to the game; longer is a hung game
	inputQueue      = 256               // input events waiting for Run's loop; more are dropped
	notesQueue      = 8                 // presence and drain notes waiting for Run's loop
	frameSlots      = 3                 // the pool's slots (docs/SDK.md: edgeplay sends 3)
	audioSlots      = 8                 // the audio pool's slots
	audioSlotFrames = 480               // 10 ms at 48 kHz
)

// Command is how to start a game's program. The process gets Env as its whole environment
// (nothing of the host's is inherited) plus EDGEPLAY_FD=3, the link as fd 3 and no other
// descriptor; it runs in its own process group, which is killed when the game ends.
type Command struct {
	ID   string   // the game's id, for metrics and logs; default: the program's file name
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

	// Width, Height and FPS are the game's stream; zero: the host's (game.Config).
	Width, Height, FPS int
	// Warm is how many started, ready processes a Launcher keeps waiting for sessions (0:
	// none; at most MaxWarm). A process serves one session and is never reused.
	Warm int
	// MemoryLimit caps the game's memory in bytes (0: no limit); CPULimit its CPU time in
	// cores, e.g. 1.5 (0: no limit). See limits.go for how each is enforced.
	MemoryLimit int64
	CPULimit    float64
}

// Heartbeats (variables for tests): welcome announces heartbeat as the longest gap between
// pings; a ready or started game silent for heartbeatMiss (3 missed) is hung. Any message
// counts, not only ping.
var (
	heartbeat     = 2 * time.Second
	heartbeatMiss = 3 * heartbeat
)

// MaxWarm bounds Command.Warm.
const MaxWarm = 16

func (c Command) withDefaults() (Command, error) {
	if c.Path == "" {
		return c, fmt.Errorf("gameproc: no program")
	}
	if c.ID == "" {
		c.ID = filepath.Base(c.Path)
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
	case c.Warm < 0 || c.Warm > MaxWarm:
		return c, fmt.Errorf("gameproc: warm pool of %d, want 0..%d", c.Warm, MaxWarm)
	case (c.Width == 0) != (c.Height == 0):
		return c, fmt.Errorf("gameproc: size %dx%d: set both or neither", c.Width, c.Height)
	}
	return c, c.checkLimits()
}

// Validate checks c as Factory and NewLauncher will, without starting anything.
func (c Command) Validate() error {
	_, err := c.withDefaults()
	return err
}

// config is the stream a game of c renders for a host that asks for cfg: c's size and rate
// where set.
func (c Command) config(cfg game.Config) (game.Config, error) {
	if c.Width != 0 {
		cfg.Width, cfg.Height = c.Width, c.Height
	}
	if c.FPS != 0 {
		cfg.FPS = c.FPS
	}
	if _, err := gameproto.NewBufferPool(gameproto.RGBA, cfg.Width, cfg.Height, frameSlots); err != nil {
		return cfg, fmt.Errorf("gameproc: %w", err)
	}
	if cfg.FPS < 1 || cfg.FPS > gameproto.MaxFPS {
		return cfg, fmt.Errorf("gameproc: fps %d", cfg.FPS)
	}
	return cfg, nil
}

// Factory returns a game.Factory whose games run cmd's program, each started in its Run (no
// warm pool: for that, see Launcher). Creating a game only checks the configuration.
func Factory(cmd Command) game.Factory {
	return func(cfg game.Config) (game.Game, error) {
		c, err := cmd.withDefaults()
		if err != nil {
			return nil, err
		}
		return newGame(c, cfg, nil)
	}
}

func newGame(c Command, cfg game.Config, l *Launcher) (*Game, error) {
	cfg, err := c.config(cfg)
	if err != nil {
		return nil, err
	}
	if err := checkJoin(cfg); err != nil {
		return nil, err
	}
	return &Game{
		cmd: c, cfg: cfg, launcher: l,
		inputs: make(chan input.Event, inputQueue), notes: make(chan gameproto.Message, notesQueue),
	}, nil
}

// checkJoin refuses a session whose ids, params or payload assign and player_joined could not
// carry (gameproto's rules: ids of printable ASCII, at most 4 KiB of opaque bytes).
func checkJoin(cfg game.Config) error {
	session, player := cfg.Session, cfg.Player
	if session == "" {
		session = "s" // assign gives such a game a random id
	}
	if player == "" {
		player = "player"
	}
	for _, m := range []gameproto.Message{
		gameproto.Assign{Session: session, Params: []byte(cfg.Params)},
		gameproto.PlayerJoined{ID: player, Payload: []byte(cfg.Payload)},
	} {
		if _, err := gameproto.Decode(m.Append(nil)); err != nil {
			return fmt.Errorf("gameproc: %s: %w", m.Type(), err)
		}
	}
	return nil
}

// Game is one game process, serving one session: Run starts it (or takes a warm one from its
// Launcher), runs it and stops it.
type Game struct {
	cmd      Command
	cfg      game.Config
	launcher *Launcher        // nil: always a cold start
	inputs   chan input.Event // Input → Run's loop
	notes    chan gameproto.Message
	audio    atomic.Pointer[func(game.AudioChunk)] // set once before Run

	running atomic.Bool
	dropped atomic.Uint64 // input events dropped because the queue was full
	pid     atomic.Int64  // the running process, 0 before and after; for tests
	warm    atomic.Bool   // Run took a warm process; for tests and logs
}

// Config is the stream the game renders: the host's, or the Command's size and rate.
func (g *Game) Config() game.Config { return g.cfg }

// SetAudioSink takes the sink for the game's sound (game.AudioSource). A game that does not
// ask for audio in its hello makes none.
func (g *Game) SetAudioSink(sink func(game.AudioChunk)) { g.audio.Store(&sink) }

// Input queues ev for the game; when the queue is full the event is dropped. Never blocks.
// Events before the game has started are dropped.
func (g *Game) Input(ev input.Event) {
	select {
	case g.inputs <- ev:
	default:
		g.dropped.Add(1)
	}
}

// note queues a lifecycle message for the game; dropped when the queue is full.
func (g *Game) note(m gameproto.Message) {
	select {
	case g.notes <- m:
	default:
	}
}

// PlayerAway tells the game its player's connection dropped (game.Presence).
func (g *Game) PlayerAway() { g.note(gameproto.PlayerAway{Player: 0}) }

// PlayerBack tells the game its player is back (game.Presence).
func (g *Game) PlayerBack() { g.note(gameproto.PlayerBack{Player: 0}) }

// Drain tells the game to finish by deadline (game.Drainer).
func (g *Game) Drain(deadline time.Time) {
	d := time.Until(deadline)
	d = min(max(d, time.Millisecond), 24*time.Hour)
	g.note(gameproto.Drain{DeadlineMS: ms(d)})
}

// Run starts the process (or takes a warm one), takes it through hello, welcome, buffer_pool,
// ready, assign and started, then hands each frame it submits to sink (a copy, as a
// game.FramePool frame the sink releases) and its sound to the audio sink until ctx is done,
// when it sends shutdown, waits up to 2 s and kills the process group. It returns nil when
// ctx ended it, and otherwise an error wrapping ErrEnded, ErrStartFailed, ErrCrashed, ErrHung
// or ErrProtocol that says what happened. Either way the process and its group are gone,
// reaped, and every descriptor and mapping is released.
func (g *Game) Run(ctx context.Context, sink func(*game.Frame)) error {
	if !g.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	r := g.launcher.take(g.cfg)
	if r != nil {
		g.warm.Store(true)
	} else {
		var err error
		if r, err = launch(g.cmd, g.cfg); err != nil {
			return err
		}
	}
	g.pid.Store(int64(r.ch.pid))
	err := r.claim(g)
	if err == nil {
		err = r.loop(ctx, sink)
	}
	r.stop(err)
	g.pid.Store(0)
	if ctx.Err() != nil && errors.Is(err, errCanceled) {
		return nil
	}
	return err
}
