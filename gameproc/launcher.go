package gameproc

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/edgeplay/edgeplay/game"
)

// Warm pool refills after failures back off, so a game that cannot start does not spin.
const (
	warmBackoffMin = 500 * time.Millisecond
	warmBackoffMax = 30 * time.Second
)

// Launcher starts a game's processes for sessions and keeps Command.Warm of them started and
// ready (the warm pool), so that a session does not wait for the game to load. A process
// serves one session: a session takes a warm one and the Launcher starts another. A warm
// process that fails (exits, stops pinging, never gets ready) is stopped and replaced, with a
// growing pause after failures in a row. Close stops the warm processes; the games already
// given to sessions run on until their sessions end.
type Launcher struct {
	cmd Command
	cfg game.Config // the stream of the warm processes

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the filler and every warm process's goroutine
	kick   chan struct{}  // wakes the filler

	mu       sync.Mutex
	idle     []*warmProc // guarded by mu: oldest first
	starting int         // guarded by mu: warm processes being started
}

// warmProc is a warm process and the goroutine that runs its loop while it waits.
type warmProc struct {
	r      *run
	cancel context.CancelFunc // hands the process over (or ends it at Close)
	done   chan struct{}      // the goroutine is done with r
	err    error              // the loop's end once taken, written before done closes
	taken  bool               // guarded by the Launcher's mu: a session took it
}

// NewLauncher checks cmd and starts filling its warm pool for streams of hostCfg (the host's
// size and rate, which cmd's own override). Call Close when the host stops.
func NewLauncher(cmd Command, hostCfg game.Config) (*Launcher, error) {
	c, err := cmd.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg, err := c.config(game.Config{Width: hostCfg.Width, Height: hostCfg.Height, FPS: hostCfg.FPS})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Launcher{cmd: c, cfg: cfg, ctx: ctx, cancel: cancel, kick: make(chan struct{}, 1)}
	if c.Warm > 0 {
		l.wg.Go(l.fill)
	}
	return l, nil
}

// Factory is the game.Factory of the Launcher's games.
func (l *Launcher) Factory() game.Factory {
	return func(cfg game.Config) (game.Game, error) { return newGame(l.cmd, cfg, l) }
}

// Warm reports how many processes are in the warm pool (ready or still loading).
func (l *Launcher) Warm() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.idle)
}

// Close stops the warm processes (shutdown, then the group is killed) and waits for them.
func (l *Launcher) Close() {
	l.cancel()
	l.wg.Wait()
}

// take hands a ready warm process for a stream of cfg to its caller, or returns nil (no
// Launcher, an empty pool, or a pool for another stream). The caller owns the process: it
// claims it and, in the end, stops it.
func (l *Launcher) take(cfg game.Config) *run {
	if l == nil || cfg.Width != l.cfg.Width || cfg.Height != l.cfg.Height || cfg.FPS != l.cfg.FPS {
		return nil
	}
	for {
		l.mu.Lock()
		if len(l.idle) == 0 {
			l.mu.Unlock()
			return nil
		}
		w := l.idle[0]
		l.idle = l.idle[1:]
		w.taken = true
		l.mu.Unlock()
		l.poke()
		w.cancel()
		<-w.done
		if errors.Is(w.err, errCanceled) {
			return w.r
		}
		w.r.stop(w.err) // it failed as it was taken; try the next
	}
}

func (l *Launcher) poke() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// fill keeps the pool at cmd.Warm until Close.
func (l *Launcher) fill() {
	backoff := time.Duration(0)
	for {
		l.mu.Lock()
		short := l.cmd.Warm - len(l.idle) - l.starting
		if short > 0 {
			l.starting++
		}
		l.mu.Unlock()
		if short > 0 {
			if backoff > 0 {
				select {
				case <-l.ctx.Done():
					l.mu.Lock()
					l.starting--
					l.mu.Unlock()
					return
				case <-time.After(backoff):
				}
			}
			ok := l.startWarm()
			switch {
			case ok:
				backoff = 0
			case backoff == 0:
				backoff = warmBackoffMin
			default:
				backoff = min(2*backoff, warmBackoffMax)
			}
			continue
		}
		select {
		case <-l.ctx.Done():
			return
		case <-l.kick:
		}
	}
}

// startWarm starts one warm process and runs its loop on its own goroutine until it is ready
// (it then joins the pool) or fails. It reports whether the process got ready.
func (l *Launcher) startWarm() bool {
	defer func() {
		l.mu.Lock()
		l.starting--
		l.mu.Unlock()
	}()
	if l.ctx.Err() != nil {
		return false
	}
	r, err := launch(l.cmd, l.cfg)
	if err != nil {
		l.cmd.Logger.Warn("warm game process failed to start", "game", l.cmd.Path, "err", err)
		return false
	}
	ctx, cancel := context.WithCancel(l.ctx)
	w := &warmProc{r: r, cancel: cancel, done: make(chan struct{})}
	readyCh := make(chan error, 1)
	l.wg.Go(func() {
		defer cancel()
		l.runWarm(ctx, w, readyCh)
	})
	if err := <-readyCh; err != nil {
		r.log.Warn("warm game process failed", "err", err)
		return false
	}
	return true
}

// runWarm is a warm process's goroutine: it loads the process until ready (reporting on
// ready), puts it in the pool and watches it until a session takes it (take cancels its
// context and owns the process from then) or it fails or Close comes (it stops it).
func (l *Launcher) runWarm(ctx context.Context, w *warmProc, ready chan<- error) {
	defer close(w.done)
	r := w.r
	err := r.loop(ctx, nil)
	if !errors.Is(err, errWarmReady) {
		if err == nil || errors.Is(err, errCanceled) {
			err = errCanceled // Close while loading
		}
		ready <- err
		r.stop(err)
		return
	}
	l.mu.Lock()
	l.idle = append(l.idle, w)
	l.mu.Unlock()
	ready <- nil
	r.log.Info("warm game process ready")

	err = r.loop(ctx, nil)
	l.mu.Lock()
	taken := w.taken
	if !taken {
		l.idle = slices.DeleteFunc(l.idle, func(x *warmProc) bool { return x == w })
	}
	l.mu.Unlock()
	if taken {
		w.err = err // take stops r if this is a failure
		return
	}
	if !errors.Is(err, errCanceled) {
		r.log.Warn("warm game process failed while idle; replacing it", "err", err)
		l.poke()
	}
	r.stop(err)
}
