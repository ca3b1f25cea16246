package gamesdk

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/gameproto"
)

// DefaultStopTimeout bounds the wait for a cancelled Run when ServeConfig.StopTimeout is zero.
const DefaultStopTimeout = 2 * time.Second

// ServeConfig says how Serve runs a game. The zero value is fine.
type ServeConfig struct {
	// Marker says the game draws edgeplay's latency marker (package game/marker) into every
	// frame, as the built-in demo does: each frame_ready then carries the marker flag.
	Marker bool
	// Result gives the result that goes with ending ("" or a JSON object, see End) when the
	// game ends at a drain's deadline, when its player leaves or when its Run returns nil by
	// itself (a Run that returns a *game.Ended gives its own). It is called on Serve's
	// goroutine once Run has returned; nil sends no result.
	Result func(game.Game) string
	// StopTimeout bounds the wait for Run to return once Serve has cancelled it; zero:
	// DefaultStopTimeout. A Run that takes longer makes Serve return ErrStuck.
	StopTimeout time.Duration

	// startedForTest, when set, is called with the server before the loop starts.
	startedForTest func(*server)
}

// Queue sizes between the game's goroutine and Serve's loop.
const (
	// audioQueue is how many of the game's sound chunks wait for the loop: at the demo's one
	// chunk a frame, a quarter of a second at 60 fps. When it is full the oldest is dropped.
	audioQueue = 16
	// idlePoll is the longest Poll while nothing is due: the waker ends it sooner for
	// anything the game hands over, and Poll pings on its own.
	idlePoll = time.Second
	// maxDrainMargin is how long before a drain's deadline Serve stops the game to send
	// ending in time (a tenth of the drain when that is shorter).
	maxDrainMargin = time.Second
)

// Serve runs an in-process game, newGame's, as this process's out-of-process game over g, a
// Game that has made the handshake (Open or New) and sent nothing since. It sends ready, waits
// for assign and the first player_joined (that player is the game's one player), creates the
// game in game.Config{Width, Height, FPS from the welcome; Session, Player from assign and the
// join}, sends started and runs the game's Run on a goroutine it owns, with:
//
//   - frames: the sink puts each finished frame in a one-frame mailbox (a newer one replaces
//     it; the replaced one is released) and wakes the loop, which copies it into a free slot
//     and submits it with the frame's InputSeq and its Ready time as pts. With no free slot
//     the frame is skipped: neither side ever waits for the other;
//   - frames of a game.FrameSource: the game renders straight into the slots, with no copy.
//     The loop acquires every free slot and lends it (game.BorrowedFrame over the slot's
//     plane) through a queue that the source's get takes from without waiting (nil when it
//     is empty: the game skips that frame); a lent frame that reaches the loop through the
//     mailbox is submitted in its own slot, one released unsent (replaced in the mailbox, or
//     dropped by the game) is lent again, and a slot the host releases is acquired and lent
//     again. A slot is lent to one frame at a time, and only once the game has let go of it.
//     While slots are lent none is free, so a host's new buffer_pool is a protocol error (the
//     SDK refuses one while a slot is acquired, see Poll; edgeplay's host sends one pool);
//   - sound: when the game is a game.AudioSource and audio was agreed, its chunks are copied
//     to a bounded queue (the oldest dropped when full) and sent in slot_frames pieces, each
//     with its pts on CLOCK_MONOTONIC (the chunk's Start converted with an offset taken once);
//     without a free audio slot the rest of a chunk is dropped;
//   - input of the player goes to the game's Input; player_away and player_back to its
//     game.Presence and drain to its game.Drainer, if it is one. Rumble has no message in the
//     protocol: a HapticSource gets no sink.
//
// The game is created after assign, not while loading, so that it gets its session: a warm
// process waits in ready with nothing created, and the factory's time counts in the host's
// started deadline (10 s); a game that must load for long should use the SDK directly.
//
// It ends:
//   - drain: the game plays on until shortly before the deadline, then Run is cancelled and
//     ending sent; a game.Drainer may end sooner (below). Before the game started, ending
//     goes at once;
//   - Run returns a *game.Ended: ending with its result; Serve returns nil;
//   - the player leaves, or Run returns nil by itself: Run is cancelled, ending sent with
//     cfg.Result's result; Serve returns nil;
//   - Run fails: fatal with its error; Serve returns the error;
//   - shutdown, or ctx done: Run is cancelled and Serve returns nil, sending nothing;
//   - an SDK error (the host closed the link, broke the protocol): Run is cancelled, a
//     protocol error is told to the host with fatal; Serve returns the error.
//
// Only Serve's own goroutine touches g while it runs; the game's goroutine reaches it through
// channels and a waker that cuts Poll short. Serve returns once Run has returned, except when
// Run does not return within cfg.StopTimeout of its cancellation: then it returns ErrStuck and
// the process should exit (the slots lent to a game.FrameSource then stay mapped after g's
// Close, since the stuck game may still render into them). It does not close g. Slots lent
// to a game.FrameSource go back to g when Run has returned.
func Serve(ctx context.Context, g *Game, newGame game.Factory, cfg ServeConfig) error {
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = DefaultStopTimeout
	}
	switch {
	case g.err != nil:
		return g.err
	case g.state != stateLoading:
		return fmt.Errorf("%w: Serve while %s (it sends ready itself)", ErrState, g.state)
	case g.pool.Format != gameproto.RGBA:
		return fmt.Errorf("%w: Serve renders RGBA, the pool is %s", ErrArg, g.pool.Format)
	}
	s := &server{
		g: g, cfg: cfg, newGame: newGame, wake: newWaker(g.conn), clock: newMonoClock(), player: -1,
		frames:  make(chan *game.Frame, 1),
		audio:   make(chan pcmChunk, audioQueue),
		free:    make(chan []int16, audioQueue+1),
		runDone: make(chan error, 1),
	}
	g.wake = s.wake
	defer func() { g.wake = nil }()

	// ctx's end wakes the loop. This goroutine is Serve's and ends with it.
	quit := make(chan struct{})
	var watch sync.WaitGroup
	watch.Go(func() {
		select {
		case <-ctx.Done():
			s.wake.wake()
		case <-quit:
		}
	})
	defer func() {
		close(quit)
		watch.Wait()
	}()

	if cfg.startedForTest != nil {
		cfg.startedForTest(s)
	}
	if err := g.Ready(); err != nil {
		return err
	}
	return s.finish(s.loop(ctx))
}

// server is one Serve: its loop owns every field but those the sinks use (marked).
type server struct {
	g       *Game
	cfg     ServeConfig
	newGame game.Factory
	gm      game.Game // nil until the player joined
	wake    *waker    // sinks and the ctx watcher wake the loop with it
	clock   monoClock

	// The sinks (the game's goroutine) send on these; the loop receives.
	frames  chan *game.Frame // the one-frame mailbox
	audio   chan pcmChunk    // the game's sound, copied
	free    chan []int16     // sample buffers the loop is done with, for the sink to reuse
	runDone chan error       // Run's return
	lend    *lender          // a game.FrameSource's slots; nil for other games

	// Counted by the sinks.
	superseded   atomic.Uint64 // frames replaced in the mailbox before the loop took them
	audioDropped atomic.Uint64 // chunks dropped because the queue was full

	player  int       // the game's player, -1 before the first player_joined
	result  *string   // the game's own result (Run returned a *game.Ended)
	joinBy  time.Time // after assign: the first player_joined is due by then
	drainAt time.Time // after drain: the game is stopped then
	cancel  context.CancelFunc
	running bool // Run's goroutine runs
	runWG   sync.WaitGroup

	submitted, skipped   uint64 // frames sent; frames without a free slot
	audioSent, audioLost uint64 // audio frames sent; audio frames without a free slot
}

// pcmChunk is a copy of one game.AudioChunk.
type pcmChunk struct {
	pcm   []int16
	start time.Time
}

// outcome is why the loop ended: how Serve ends.
type outcome int

const (
	endGame  outcome = iota // stop Run, send ending with the result
	quitGame                // stop Run, send nothing (shutdown, ctx)
	failGame                // stop Run; the error says why
)

// loop runs until the session ends, and says how.
func (s *server) loop(ctx context.Context) (outcome, error) {
	for {
		ev, err := s.g.Poll(s.pollTimeout())
		if err != nil {
			return failGame, err
		}
		if o, done, err := s.handle(ctx, ev); done {
			return o, err
		}
		if err := s.forward(); err != nil {
			return failGame, err
		}
		if s.lend != nil {
			s.lend.refill(s.g)
		}
		select {
		case err := <-s.runDone:
			s.running = false
			s.runWG.Wait()
			var ended *game.Ended
			switch {
			case errors.As(err, &ended):
				s.result = &ended.Result
				return endGame, nil
			case ctx.Err() != nil: // Run's context is ctx's child
				return quitGame, nil
			case err != nil:
				return failGame, fmt.Errorf("gamesdk: the game's Run: %w", err)
			}
			return endGame, nil
		default:
		}
		now := time.Now()
		switch {
		case ctx.Err() != nil:
			return quitGame, nil
		case !s.drainAt.IsZero() && !now.Before(s.drainAt):
			return endGame, nil
		case !s.joinBy.IsZero() && !now.Before(s.joinBy):
			return failGame, fmt.Errorf("%w: no player_joined within %v of assign", ErrProtocol, s.startedTimeout())
		}
	}
}

// pollTimeout is how long the loop may wait for the host: until the next deadline, at most
// idlePoll.
func (s *server) pollTimeout() time.Duration {
	d := idlePoll
	for _, t := range [...]time.Time{s.drainAt, s.joinBy} {
		if !t.IsZero() {
			d = min(d, time.Until(t))
		}
	}
	return max(d, 0)
}

func (s *server) startedTimeout() time.Duration {
	return time.Duration(s.g.Welcome().StartedTimeoutMS) * time.Millisecond
}

// handle applies one event; done says the loop is over.
func (s *server) handle(ctx context.Context, ev Event) (o outcome, done bool, err error) {
	switch ev := ev.(type) {
	case Assign:
		s.joinBy = time.Now().Add(s.startedTimeout())
	case PlayerJoined:
		if s.player < 0 {
			s.player, s.joinBy = ev.Player, time.Time{}
			if err := s.start(ctx, ev.ID); err != nil {
				return failGame, true, err
			}
		}
	case PlayerLeft:
		if ev.Player == s.player {
			return endGame, true, nil
		}
	case PlayerAway:
		if p, ok := s.gm.(game.Presence); ok && ev.Player == s.player {
			p.PlayerAway()
		}
	case PlayerBack:
		if p, ok := s.gm.(game.Presence); ok && ev.Player == s.player {
			p.PlayerBack()
		}
	case Input:
		if ev.Player == s.player {
			for _, in := range ev.Events {
				s.gm.Input(in)
			}
		}
	case Drain:
		if !s.running {
			return endGame, true, nil
		}
		margin := min(maxDrainMargin, time.Until(ev.Deadline)/10)
		s.drainAt = ev.Deadline.Add(-margin)
		if d, ok := s.gm.(game.Drainer); ok {
			d.Drain(s.drainAt) // it may end sooner, by returning a *game.Ended
		}
	case Shutdown:
		return quitGame, true, nil
	case PoolChanged:
		if ev.Pool.Format != gameproto.RGBA {
			return failGame, true, fmt.Errorf("%w: Serve renders RGBA, the new pool is %s", ErrArg, ev.Pool.Format)
		}
	}
	return 0, false, nil
}

// start creates the game for the player whose id is player, sends started and runs the game
// on its goroutine, its sound going to the audio pool when there is one.
func (s *server) start(ctx context.Context, player string) error {
	w := s.g.Welcome()
	cfg := game.Config{Width: int(w.Width), Height: int(w.Height), FPS: int(w.FPS), Session: s.g.Session(), Player: player}
	gm, err := s.newGame(cfg)
	if err != nil {
		return fmt.Errorf("gamesdk: creating the game: %w", err)
	}
	if sz, ok := gm.(game.Sized); ok {
		if c := sz.Config(); c.Width != cfg.Width || c.Height != cfg.Height {
			return fmt.Errorf("%w: the game renders %dx%d, the host's stream is %dx%d", ErrArg, c.Width, c.Height, cfg.Width, cfg.Height)
		}
	}
	s.gm = gm
	if err := s.g.Started(); err != nil {
		return err
	}
	if src, ok := s.gm.(game.AudioSource); ok {
		if _, ok := s.g.AudioPool(); ok {
			src.SetAudioSink(s.sinkAudio)
		}
	}
	if src, ok := s.gm.(game.FrameSource); ok {
		s.lend = newLender(s.wake)
		s.lend.refill(s.g) // the first tick finds its frame
		src.SetFrameSource(s.lend.get)
	}
	runCtx, cancel := context.WithCancel(ctx)
	s.cancel, s.running = cancel, true
	s.runWG.Go(func() {
		s.runDone <- s.gm.Run(runCtx, s.sinkFrame)
		s.wake.wake()
	})
	return nil
}

// sinkFrame is the game's frame sink, on the game's goroutine: it leaves f in the mailbox,
// releasing the frame it replaces, and wakes the loop. It never blocks.
func (s *server) sinkFrame(f *game.Frame) {
	select {
	case old := <-s.frames:
		old.Release()
		s.superseded.Add(1)
	default:
	}
	select {
	case s.frames <- f: // the sink is the only sender, and the mailbox was just emptied
	default:
		f.Release()
		s.superseded.Add(1)
	}
	s.wake.wake()
}

// sinkAudio is the game's sound sink, on the game's goroutine: it copies c for the loop
// (dropping the oldest waiting chunk when the queue is full) and wakes the loop. It never
// blocks.
func (s *server) sinkAudio(c game.AudioChunk) {
	if len(c.PCM) < game.AudioChannels {
		return
	}
	var buf []int16
	select {
	case buf = <-s.free:
	default:
	}
	ch := pcmChunk{pcm: append(buf[:0], c.PCM...), start: c.Start}
	for range 2 {
		select {
		case s.audio <- ch:
			s.wake.wake()
			return
		default:
		}
		select { // full: the oldest goes (the newest sound is what the player should hear)
		case old := <-s.audio:
			s.audioDropped.Add(1)
			s.recycle(old.pcm)
		default:
		}
	}
	s.audioDropped.Add(1) // not reached with one sender; kept so that the sink cannot block
	s.recycle(ch.pcm)
}

// recycle hands a sample buffer back for the sink to reuse.
func (s *server) recycle(b []int16) {
	select {
	case s.free <- b:
	default:
	}
}

// forward sends the newest frame and the waiting sound.
func (s *server) forward() error {
	select {
	case f := <-s.frames:
		if err := s.send(f); err != nil {
			return err
		}
	default:
	}
	for {
		select {
		case c := <-s.audio:
			err := s.sendPCM(c.pcm, s.clock.ns(c.start))
			s.recycle(c.pcm)
			if err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// send submits f: in its own slot when it is one the lender lent, else copied into a free one.
func (s *server) send(f *game.Frame) error {
	if s.lend != nil {
		if k := s.lend.slotOf(f); k >= 0 {
			return s.submitLent(k, f)
		}
	}
	err := s.sendFrame(f)
	f.Release()
	return err
}

// submitLent submits lent slot k, which the game rendered f into, as it is: no copy.
func (s *server) submitLent(k int, f *game.Frame) error {
	ls := &s.lend.slots[k]
	if !ls.out.CompareAndSwap(true, false) {
		// The game released the frame as well as sending it: the slot is already back in
		// returned, to be lent again. Sending it too could lend it twice.
		return nil
	}
	ls.sdk.Marker = s.cfg.Marker
	if err := s.g.submitFrame(ls.sdk, f.InputSeq, s.pts(f)); err != nil {
		return err // the slot stays acquired: reclaim discards it
	}
	ls.sdk = nil // the host's until it is released; refill acquires it again then
	s.submitted++
	return nil
}

// pts is f's Ready time on CLOCK_MONOTONIC, or now when it has none.
func (s *server) pts(f *game.Frame) uint64 {
	if f.Ready.IsZero() {
		return monotonicNS()
	}
	return s.clock.ns(f.Ready)
}

// sendFrame copies f into a free slot and submits it; with no free slot it skips f. Serve
// takes RGBA frames only (its pool is RGBA): a game.Game that renders YUV is an error.
func (s *server) sendFrame(f *game.Frame) error {
	if f.Format != game.RGBA {
		return fmt.Errorf("%w: Serve takes RGBA frames, the game rendered format %d", ErrArg, f.Format)
	}
	slot, ok := s.g.AcquireFrame()
	if !ok {
		s.skipped++
		return nil
	}
	dst, stride := slot.Planes[0], slot.Strides[0]
	row := 4 * min(f.Width, slot.Width)
	for y := range min(f.Height, slot.Height) {
		copy(dst[y*stride:y*stride+row], f.Pix[y*f.Stride:y*f.Stride+row])
	}
	slot.Marker = s.cfg.Marker
	if err := s.g.submitFrame(slot, f.InputSeq, s.pts(f)); err != nil {
		return err
	}
	s.submitted++
	return nil
}

// sendPCM sends interleaved stereo samples whose first belongs at pts (CLOCK_MONOTONIC ns) in
// pieces of at most a slot. Without a free slot the rest is dropped: the next chunk's pts
// tells the host where the sound goes on.
func (s *server) sendPCM(pcm []int16, pts uint64) error {
	const ch = game.AudioChannels
	total := len(pcm) / ch
	for off := 0; off < total; {
		a, ok := s.g.AcquireAudio()
		if !ok {
			s.audioLost += uint64(total - off)
			return nil
		}
		n := min(total-off, a.Frames)
		src := pcm[off*ch : (off+n)*ch]
		if a.S16 != nil {
			copy(a.S16, src)
		} else {
			for i, v := range src {
				a.F32[i] = float32(v) / 32768
			}
		}
		at := pts + uint64(off)*uint64(time.Second)/game.AudioRate
		if err := s.g.SubmitAudio(a, n, at); err != nil {
			return err
		}
		s.audioSent += uint64(n)
		off += n
	}
	return nil
}

// finish stops the game and tells the host how it ended.
func (s *server) finish(o outcome, cause error) error {
	stopErr := s.stop()
	g := s.g
	if s.cancel != nil { // the game ran
		skipped := s.skipped
		if s.lend != nil {
			skipped += s.lend.starved.Load() // the source had no frame for the game
		}
		_ = g.Log(LevelInfo, fmt.Sprintf("gamesdk.Serve: %d frames sent, %d skipped (no free slot), %d superseded; %d audio frames sent, %d lost (no free slot), %d chunks dropped",
			s.submitted, skipped, s.superseded.Load(), s.audioSent, s.audioLost, s.audioDropped.Load()))
	}
	switch {
	case stopErr != nil:
		_ = g.Fatal(stopErr.Error())
		return errors.Join(cause, stopErr)
	case o == failGame:
		if !errors.Is(cause, ErrHostGone) && !errors.Is(cause, ErrClosed) {
			_ = g.Fatal(cause.Error())
		}
		return cause
	case o == endGame:
		return s.end()
	}
	return nil
}

// stop cancels Run and waits for it, at most cfg.StopTimeout; then it lets go of what the
// sinks left behind, and takes the lent slots back.
func (s *server) stop() error {
	if s.running {
		s.cancel()
		t := time.NewTimer(s.cfg.StopTimeout)
		defer t.Stop()
		select {
		case err := <-s.runDone:
			s.running = false
			s.runWG.Wait()
			if err != nil {
				_ = s.g.Log(LevelWarn, "gamesdk.Serve: the game's Run, cancelled: "+err.Error())
			}
		case <-t.C:
			if s.lend != nil {
				// The stuck Run may still render into slots it was lent: the pool stays
				// mapped for the rest of the process, since g.Close would unmap it under the
				// game (the process exits after ErrStuck anyway).
				s.g.mem = nil
			}
			return fmt.Errorf("%w within %v of its cancellation", ErrStuck, s.cfg.StopTimeout)
		}
	}
	if s.cancel != nil {
		s.cancel()
	}
	for done := false; !done; {
		select {
		case f := <-s.frames:
			f.Release() // a lent frame goes to returned, for reclaim
		case <-s.audio:
		default:
			done = true
		}
	}
	if s.lend != nil {
		s.lend.reclaim(s.g)
	}
	return nil
}

// lender lends the pool's slots to a game.FrameSource, to render into with no copy. Every
// slot it has acquired is in one place at a time: waiting in offers, with the game (being
// rendered into, or in the mailbox), or in returned (let go of unsent); the host's slots are
// not acquired. So a slot is lent again only once the game has let go of it. The loop owns
// sdk and frame; the game's goroutine takes from offers and sends on returned.
//
// A slot is acquired as it is lent, so a new pool (which the SDK takes only while no slot is
// acquired) never changes under a lent frame, and slots acquired after one are over it.
type lender struct {
	offers   chan *game.Frame // lent frames not yet taken; get receives
	returned chan int         // slots the game let go of unsent (their Release), for the loop
	starved  atomic.Uint64    // gets that found no frame
	slots    [gameproto.MaxSlots]lentSlot
}

// lentSlot is one slot of the lender.
type lentSlot struct {
	sdk     *Frame      // the slot as AcquireFrame handed it out; nil: not the lender's
	frame   game.Frame  // what the game renders into: a game.BorrowedFrame over sdk's plane
	release func()      // frame's Release: hands the slot back to the loop
	out     atomic.Bool // lent: from its offer to its Release or its submit
}

func newLender(w *waker) *lender {
	l := &lender{
		offers:   make(chan *game.Frame, gameproto.MaxSlots),
		returned: make(chan int, gameproto.MaxSlots),
	}
	for k := range l.slots {
		l.slots[k].release = func() {
			// Not when the loop has taken the frame to send it (a game's mistake): the slot
			// is the host's then.
			if l.slots[k].out.CompareAndSwap(true, false) {
				l.returned <- k // never blocks: each slot is in it at most once
				w.wake()
			}
		}
	}
	return l
}

// get is the game's frame source, on the game's goroutine: a lent frame, or nil when none is
// waiting. It never blocks.
func (l *lender) get() *game.Frame {
	select {
	case f := <-l.offers:
		return f
	default:
		l.starved.Add(1)
		return nil
	}
}

// offer lends acquired slot k: a fresh frame over its plane goes to offers.
func (l *lender) offer(k int) {
	ls := &l.slots[k]
	ls.frame = *game.BorrowedFrame(ls.sdk.Width, ls.sdk.Height, ls.sdk.Strides[0], ls.sdk.Planes[0], ls.release)
	ls.out.Store(true)
	l.offers <- &ls.frame // never blocks: it holds every slot a pool can have
}

// refill lends again the slots the game let go of, and every slot g has free (those the host
// released): from the loop, after each event.
func (l *lender) refill(g *Game) {
	for more := true; more; {
		select {
		case k := <-l.returned:
			l.offer(k)
		default:
			more = false
		}
	}
	for {
		f, ok := g.AcquireFrame()
		if !ok {
			return
		}
		l.slots[f.Slot].sdk = f
		l.offer(f.Slot)
	}
}

// slotOf returns the slot whose lent frame f is, or -1 when f is not one.
func (l *lender) slotOf(f *game.Frame) int {
	for k := range l.slots {
		if f == &l.slots[k].frame {
			return k
		}
	}
	return -1
}

// reclaim gives every slot the lender holds back to g, once Run has returned: the game no
// longer touches any.
func (l *lender) reclaim(g *Game) {
	for more := true; more; {
		select {
		case <-l.offers:
		case <-l.returned:
		default:
			more = false
		}
	}
	for k := range l.slots {
		ls := &l.slots[k]
		ls.out.Store(false)
		if ls.sdk != nil {
			_ = g.Discard(ls.sdk) // acquired, so it cannot fail
			ls.sdk = nil
		}
	}
}

// end sends ending with the game's result; a result End refuses is logged and left out.
func (s *server) end() error {
	var result string
	switch {
	case s.result != nil:
		result = *s.result
	case s.cfg.Result != nil && s.gm != nil:
		result = s.cfg.Result(s.gm)
	}
	err := s.g.End(result)
	if errors.Is(err, ErrArg) {
		_ = s.g.Log(LevelWarn, "gamesdk.Serve: result left out: "+err.Error())
		err = s.g.End("")
	}
	return err
}

// monoClock converts time.Time to CLOCK_MONOTONIC nanoseconds with one offset, taken once:
// Go's monotonic clock is CLOCK_MONOTONIC on Linux, so the offset does not drift, and times
// that carry a monotonic reading (time.Now and what is computed from it) convert exactly.
type monoClock struct {
	t0 time.Time
	m0 uint64 // CLOCK_MONOTONIC at t0
}

// newMonoClock reads CLOCK_MONOTONIC between two time.Now, and takes t0 halfway: the offset
// is then right within half the gap between them. A read that the scheduler cut in two is
// tried again (a few times; the best is kept).
func newMonoClock() monoClock {
	var best monoClock
	bestGap := time.Duration(math.MaxInt64)
	for range 5 {
		a := time.Now()
		m := monotonicNS()
		gap := time.Since(a)
		if gap < bestGap {
			best, bestGap = monoClock{t0: a.Add(gap / 2), m0: m}, gap
		}
		if gap < 20*time.Microsecond {
			break
		}
	}
	return best
}

// ns is t on CLOCK_MONOTONIC, in nanoseconds (0 for a time before the clock's start).
func (c monoClock) ns(t time.Time) uint64 {
	d := t.Sub(c.t0)
	if d < 0 && uint64(-d) > c.m0 {
		return 0
	}
	return uint64(int64(c.m0) + int64(d))
}
