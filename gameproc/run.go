package gameproc

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/gameproto"
	"github.com/edgeplay/edgeplay/input"
	"github.com/edgeplay/edgeplay/internal/metrics"
)

var (
	// errCanceled ends the loop when its context is done; Run turns it into nil.
	errCanceled = errors.New("gameproc: canceled")
	// errWarmReady ends a warm process's loop when it is ready: it joins the pool.
	errWarmReady = errors.New("gameproc: warm process ready")
)

// state is where the game is in its lifecycle (docs/SDK.md, "Lifecycle"), as the host sees it.
type state int

const (
	stateSpawned  state = iota // started; waiting for hello
	stateLoading               // welcome and buffer_pool sent; waiting for ready
	stateReady                 // loaded and idle (a warm process); waiting for a session
	stateStarting              // assign sent; waiting for started
	stateStarted               // rendering
	stateEnding                // sent ending; waiting for its exit
)

// recvd is one Recv's result, from the reader goroutine to the loop.
type recvd struct {
	m   gameproto.Message
	err error
}

// run is one game process: its link, its frame and audio pools and its state. The goroutine
// running loop owns every field (a Launcher's while the process is warm, then Run's: claim
// hands it over between two loops); the reader goroutine only reads the link and posts to msgs.
type run struct {
	cmd  Command
	cfg  game.Config // the stream, as sent in welcome
	log  *slog.Logger
	glog *gameLog
	conn *gameproto.Conn
	ch   *child

	msgs       chan recvd
	quit       chan struct{} // closed by stop: the reader gives up posting
	readerDone chan struct{}

	// Set by claim; nil while the process is warm (no session yet).
	g      *Game
	inputs chan input.Event
	notes  chan gameproto.Message
	audio  func(game.AudioChunk)

	state      state
	deadline   *time.Timer // the current state's deadline (see timeout)
	heard      *time.Timer // heartbeatMiss after the last message from the game
	readyCap   time.Time   // the latest loading may push the ready deadline to
	exitSeen   bool        // the process exited; the loop waits briefly for the link's EOF
	peerClosed bool        // a send found the game's end closed; the loop reads on to the EOF
	saidFatal  bool
	caps       uint32 // agreed in welcome
	result     string // ending's result

	pool    gameproto.BufferPool
	slots   *slots // the frame pool's mapping and slots; nil before buffer_pool
	lastSeq uint64

	handoff prometheus.Observer // edgeplay_game_handoff_seconds of this game

	apool gameproto.AudioPool
	amem  []byte  // the audio pool's mapping; nil without audio
	pcm   []int16 // one audio slot's samples, reused
}

// launch makes the link, spawns the process and starts the reader. The process is then
// spawned, waiting for hello, with the start deadline armed.
func launch(c Command, cfg game.Config) (*run, error) {
	conn, link, err := gameproto.Socketpair()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStartFailed, err)
	}
	log := c.Logger.With("game", c.Path)
	glog := &gameLog{log: log}
	ch, err := spawn(c, link, glog)
	_ = link.Close() // the child has its copy (or there is no child)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	r := &run{
		cmd: c, cfg: cfg, log: log.With("pid", ch.pid), glog: glog, conn: conn, ch: ch,
		msgs: make(chan recvd), quit: make(chan struct{}), readerDone: make(chan struct{}),
		deadline: time.NewTimer(c.StartTimeout), heard: time.NewTimer(heartbeatMiss),
	}
	r.handoff = metrics.GameHandoffSeconds.WithLabelValues(c.ID)
	go r.read()
	return r, nil
}

// read is the reader goroutine: it owns Recv and stops at the first error or at quit.
func (r *run) read() {
	defer close(r.readerDone)
	for {
		m, fds, err := r.conn.Recv()
		for _, fd := range fds { // no game → host message carries one; handle refuses the type
			_ = syscall.Close(fd)
		}
		select {
		case r.msgs <- recvd{m, err}:
		case <-r.quit:
			return
		}
		if err != nil {
			return
		}
	}
}

// releasedC is the slots' release channel, nil (never ready) before buffer_pool.
func (r *run) releasedC() <-chan uint8 {
	if r.slots == nil {
		return nil
	}
	return r.slots.released
}

// claim gives the process to g's session: from now on it takes g's input, notes and sound,
// and a ready process gets its assignment at once (a loading one when it is ready).
func (r *run) claim(g *Game) error {
	r.g, r.inputs, r.notes = g, g.inputs, g.notes
	if sink := g.audio.Load(); sink != nil {
		r.audio = *sink
	}
	if g.cfg.Session != "" {
		r.log = r.log.With("session", g.cfg.Session)
		r.glog.with("session", g.cfg.Session)
	}
	if r.state == stateReady {
		return r.assign()
	}
	return nil
}

// loop runs the game until it ends or ctx is done, and says why it ended.
// A warm process's loop (sink nil, no session) returns errCanceled when its Launcher hands
// it to a session; Run's loop then carries on with the same state.
func (r *run) loop(ctx context.Context, sink func(*game.Frame)) error {
	exited := r.ch.exited
	if r.exitSeen {
		exited = nil
	}
	for {
		select {
		case <-ctx.Done():
			return errCanceled
		case <-exited:
			// The link's EOF follows the messages the game sent before it exited (an ending,
			// a fatal): read those first, unless a grandchild keeps the link open.
			exited, r.exitSeen = nil, true
			r.deadline.Reset(exitLinger)
		case <-r.deadline.C:
			if err := r.timeout(); err != nil {
				return err
			}
		case <-r.heard.C:
			if r.state >= stateReady && r.state <= stateStarted && !r.exitSeen {
				return fmt.Errorf("%w: no message (ping) for %v; heartbeat %v", ErrHung, heartbeatMiss, heartbeat)
			}
			r.heard.Reset(heartbeatMiss)
		case ev := <-r.inputs:
			if err := r.input(ev); err != nil {
				return err
			}
		case k := <-r.releasedC():
			if err := r.release(k); err != nil {
				return err
			}
		case m := <-r.notes:
			if r.state == stateStarting || r.state == stateStarted {
				if err := r.send(m); err != nil {
					return err
				}
			}
		case m := <-r.msgs:
			if m.err != nil {
				return r.linkErr(m.err)
			}
			r.heard.Reset(heartbeatMiss)
			if err := r.handle(ctx, m.m, sink); err != nil {
				return err
			}
		}
	}
}

// stop ends the process, whatever state it is in, and releases everything: after a cancel it
// sends shutdown and waits shutdownGrace; after fatal it waits as long for the exit; then it
// kills the process group, reaps the process, closes the link and unmaps the pool.
func (r *run) stop(cause error) {
	select {
	case <-r.ch.exited:
	default:
		switch {
		case errors.Is(cause, errCanceled):
			_ = r.conn.SetWriteDeadline(time.Now().Add(sendTimeout))
			if r.conn.Send(gameproto.Shutdown{GraceMS: uint32(shutdownGrace / time.Millisecond)}) == nil {
				r.ch.waitExit(shutdownGrace)
			}
		case r.saidFatal:
			r.ch.waitExit(shutdownGrace)
		}
	}
	r.ch.killGroup()
	<-r.ch.exited
	close(r.quit)
	_ = r.conn.Close()
	<-r.readerDone
	r.deadline.Stop()
	r.heard.Stop()
	if r.slots != nil {
		r.slots.close() // now, or when the session releases the last frame it holds
	}
	if r.amem != nil {
		_ = gameproto.Unmap(r.amem)
		r.amem = nil
	}
	if cause != nil && !errors.Is(cause, errCanceled) {
		r.log.Info("game process ended", "err", cause, "status", r.ch.status())
	}
}

// timeout is the current state's deadline passing.
func (r *run) timeout() error {
	c := r.cmd
	switch {
	case r.exitSeen || r.peerClosed:
		return r.gone(nil)
	case r.state == stateSpawned:
		return fmt.Errorf("%w: no hello within %v", ErrStartFailed, c.StartTimeout)
	case r.state == stateLoading:
		return fmt.Errorf("%w: not ready within its deadline (ready timeout %v)", ErrStartFailed, c.ReadyTimeout)
	case r.state == stateReady: // nothing is due while ready: a stale wake-up
		return nil
	case r.state == stateStarting:
		return fmt.Errorf("%w: no started within %v", ErrStartFailed, startedTimeout)
	case r.state == stateStarted:
		return fmt.Errorf("%w: no frame for %v", ErrHung, c.StallTimeout)
	default: // stateEnding
		return fmt.Errorf("%w; it did not exit within %v and was killed", &game.Ended{Result: r.result}, shutdownGrace)
	}
}

// gone is the game's end of the link closing or the process exiting: it waits a little for
// the exit and says how the process ended.
func (r *run) gone(cause error) error {
	what := "closed the link and is still running"
	exited := r.ch.waitExit(shutdownGrace)
	if exited {
		what = "exited: " + r.ch.status()
	}
	if cause != nil {
		what += fmt.Sprintf(" (%v)", cause)
	}
	switch {
	case r.state == stateEnding && exited && r.ch.waitErr == nil:
		return &game.Ended{Result: r.result}
	case r.state == stateStarted || r.state == stateEnding:
		return fmt.Errorf("%w: the game %s", ErrCrashed, what)
	default:
		return fmt.Errorf("%w: the game %s", ErrStartFailed, what)
	}
}

// linkErr sorts a Recv error.
func (r *run) linkErr(err error) error {
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET):
		return r.gone(nil)
	case errors.Is(err, gameproto.ErrVersion):
		return fmt.Errorf("%w: %w", ErrStartFailed, err)
	case errors.Is(err, gameproto.ErrShort), errors.Is(err, gameproto.ErrLong),
		errors.Is(err, gameproto.ErrLength), errors.Is(err, gameproto.ErrType),
		errors.Is(err, gameproto.ErrFlags), errors.Is(err, gameproto.ErrField),
		errors.Is(err, gameproto.ErrFDs):
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	default:
		return r.gone(err)
	}
}

// send writes one message to the game; a game that does not take it within sendTimeout is hung.
//
// A game that closed its end (it exited) cannot take messages, but what it sent before is
// still to be read: an ending, a fatal. So a send to a closed link is dropped, and the loop
// reads on until the link's EOF says how the game went (gone).
func (r *run) send(m gameproto.Message, fds ...int) error {
	if r.peerClosed {
		return nil
	}
	_ = r.conn.SetWriteDeadline(time.Now().Add(sendTimeout))
	err := r.conn.Send(m, fds...)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: it did not take %s within %v", ErrHung, m.Type(), sendTimeout)
	case errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET):
		r.arm(exitLinger) // the EOF follows what is left to read; this bounds the wait for it
		r.peerClosed = true
		return nil
	default:
		return r.gone(err)
	}
}

func (r *run) unexpected(m gameproto.Message) error {
	return fmt.Errorf("%w: unexpected %s in state %d", ErrProtocol, m.Type(), r.state)
}

// handle applies one message from the game.
func (r *run) handle(ctx context.Context, m gameproto.Message, sink func(*game.Frame)) error {
	if !m.Type().FromGame() {
		return fmt.Errorf("%w: %s comes from the host, not the game", ErrProtocol, m.Type())
	}
	switch m := m.(type) {
	case gameproto.Unknown: // ignorable (Recv refuses the others)
	case gameproto.Ping: // every message resets the heartbeat (loop)
	case gameproto.Log:
		r.glog.line(ctx, slog.Level(4*(int(m.Level)-1)), "log", m.Text)
	case gameproto.Fatal:
		r.saidFatal = true
		if r.state == stateStarted {
			return fmt.Errorf("%w: fatal: %s", ErrCrashed, m.Text)
		}
		return fmt.Errorf("%w: fatal: %s", ErrStartFailed, m.Text)
	case gameproto.Ending:
		if r.state == stateSpawned || r.state == stateEnding {
			return r.unexpected(m)
		}
		r.state, r.result = stateEnding, m.Result
		r.arm(shutdownGrace)
	case gameproto.Hello:
		if r.state != stateSpawned {
			return r.unexpected(m)
		}
		return r.welcome(m)
	case gameproto.Loading:
		if r.state != stateLoading {
			return r.unexpected(m)
		}
		until := time.Now().Add(time.Duration(m.UntilMS) * time.Millisecond)
		if until.After(r.readyCap) {
			until = r.readyCap
		}
		r.arm(time.Until(until))
	case gameproto.Ready:
		if r.state != stateLoading {
			return r.unexpected(m)
		}
		r.state = stateReady
		r.deadline.Stop() // nothing is due while ready but pings
		if r.g == nil {
			return errWarmReady
		}
		return r.assign()
	case gameproto.Started:
		if r.state != stateStarting {
			return r.unexpected(m)
		}
		r.state = stateStarted
		r.arm(r.cmd.StallTimeout)
	case gameproto.FrameReady:
		if r.state != stateStarted {
			return r.unexpected(m)
		}
		return r.frame(m, sink)
	case gameproto.AudioReady:
		if r.state != stateStarted || r.amem == nil {
			return r.unexpected(m)
		}
		return r.sound(m)
	default:
		return r.unexpected(m)
	}
	return nil
}

// assign gives a ready game its session: assign, then the one player joins (docs/SDK.md,
// "Lifecycle"; the game takes input only from a player who joined).
func (r *run) assign() error {
	session, player := r.g.cfg.Session, r.g.cfg.Player
	if session == "" {
		session = sessionID()
	}
	if player == "" {
		player = "player"
	}
	if err := r.send(gameproto.Assign{Session: session, Params: []byte(r.g.cfg.Params)}); err != nil {
		return err
	}
	if err := r.send(gameproto.PlayerJoined{Player: 0, ID: player, Payload: []byte(r.g.cfg.Payload)}); err != nil {
		return err
	}
	r.state = stateStarting
	r.arm(startedTimeout)
	return nil
}

// What the host offers a game (docs/SDK.md, "Versions and evolution"): input, sound, and every
// pixel format the encoder takes.
const (
	hostCaps    = gameproto.CapInput | gameproto.CapAudio | gameproto.CapI420 | gameproto.CapNV12
	hostFormats = 1<<gameproto.RGBA | 1<<gameproto.I420 | 1<<gameproto.NV12
)

// welcome answers hello: welcome with the stream's shape and the deadlines, then the frame
// pool in the format poolFormat picks, a sealed memfd the host maps too.
func (r *run) welcome(h gameproto.Hello) error {
	c, cfg := r.cmd, r.cfg
	r.caps = h.Caps & hostCaps
	w := gameproto.Welcome{
		Major: gameproto.Major, Minor: min(h.Minor, gameproto.Minor), Caps: r.caps,
		Width: uint16(cfg.Width), Height: uint16(cfg.Height), FPS: uint16(cfg.FPS),
		Formats:          hostFormats,
		HeartbeatMS:      ms(heartbeat),
		ReadyTimeoutMS:   ms(c.ReadyTimeout),
		ReadyCapMS:       ms(readyCap),
		StartedTimeoutMS: ms(startedTimeout),
		StallTimeoutMS:   ms(c.StallTimeout),
	}
	if err := r.send(w); err != nil {
		return err
	}
	pool, err := gameproto.NewBufferPool(poolFormat(r.caps), cfg.Width, cfg.Height, frameSlots)
	if err != nil {
		return fmt.Errorf("gameproc: %w", err)
	}
	f, err := gameproto.NewMemfd("edgeplay-frames", pool.Size())
	if err != nil {
		return err
	}
	defer f.Close() // the game has its copy once sent; the mapping outlives the file
	mem, err := gameproto.Map(int(f.Fd()), pool.Size())
	if err != nil {
		return err
	}
	r.pool, r.slots = pool, newSlots(pool, mem)
	if err := r.send(pool, int(f.Fd())); err != nil {
		return err
	}
	if r.caps&gameproto.CapAudio != 0 {
		if err := r.audioPool(); err != nil {
			return err
		}
	}
	r.state = stateLoading
	r.readyCap = time.Now().Add(readyCap)
	r.arm(c.ReadyTimeout)
	return nil
}

// frame lends a submitted slot to the sink as a borrowed frame (no copy): the slot is the
// host's until the session releases the frame, when the loop sends release (see slots). The
// media pipeline keeps at most two (the one it encodes and the newest waiting), so a game
// with three slots always has one to render into.
func (r *run) frame(m gameproto.FrameReady, sink func(*game.Frame)) error {
	if err := r.pool.Check(m); err != nil {
		return fmt.Errorf("%w: frame_ready: %w", ErrProtocol, err)
	}
	if m.Seq <= r.lastSeq {
		return fmt.Errorf("%w: frame_ready seq %d after %d", ErrProtocol, m.Seq, r.lastSeq)
	}
	f, err := r.slots.lend(m)
	if err != nil {
		return err
	}
	r.lastSeq = m.Seq
	// Ready is when the game finished the frame (its pts), so the host's latency figures
	// include the hand-off across the process boundary.
	f.Seq, f.Ready, f.InputSeq = m.Seq, hostTime(m.PTS, 0), m.InputSeq
	if r.handoff != nil {
		r.handoff.Observe(time.Since(f.Ready).Seconds())
	}
	r.arm(r.cmd.StallTimeout)
	sink(f)
	return nil
}

// release hands slot k back to the game, once the session released its frame.
func (r *run) release(k uint8) error {
	if r.state != stateStarted { // ending: the game no longer renders
		return nil
	}
	return r.send(gameproto.Release{Slot: k})
}

// audioPool sends the audio pool: s16 slots of 10 ms in a sealed memfd the host maps too.
func (r *run) audioPool() error {
	pool, err := gameproto.NewAudioPool(gameproto.S16, audioSlotFrames, audioSlots)
	if err != nil {
		return fmt.Errorf("gameproc: %w", err)
	}
	f, err := gameproto.NewMemfd("edgeplay-audio", pool.Size())
	if err != nil {
		return err
	}
	defer f.Close()
	mem, err := gameproto.Map(int(f.Fd()), pool.Size())
	if err != nil {
		return err
	}
	r.apool, r.amem = pool, mem
	r.pcm = make([]int16, int(pool.SlotFrames)*int(pool.Channels))
	return r.send(pool, int(f.Fd()))
}

// sound copies a submitted audio slot into a chunk for the audio sink and hands the slot
// straight back. The chunk's start is the game's pts on the host's clock (see hostTime).
func (r *run) sound(m gameproto.AudioReady) error {
	if err := r.apool.Check(m); err != nil {
		return fmt.Errorf("%w: audio_ready: %w", ErrProtocol, err)
	}
	src := r.apool.Slot(r.amem, m)
	pcm := r.pcm[:len(src)/2]
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(src[2*i:]))
	}
	if err := r.send(gameproto.AudioRelease{Slot: m.Slot}); err != nil {
		return err
	}
	if r.audio != nil {
		r.audio(game.AudioChunk{PCM: pcm, Start: hostTime(m.PTS, time.Second)})
	}
	return nil
}

// hostTime turns a game's pts (CLOCK_MONOTONIC ns) into a time on the host's clock; a pts
// later than now+ahead or more than a second ago (a game's clock gone wrong) is taken as now.
func hostTime(pts uint64, ahead time.Duration) time.Time {
	now := time.Now()
	t := now.Add(time.Duration(int64(pts) - monotonicNS()))
	if d := t.Sub(now); d > ahead || d < -time.Second {
		return now
	}
	return t
}

// monotonicNS is CLOCK_MONOTONIC in nanoseconds, the clock of the games' pts.
func monotonicNS() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// input sends ev, with whatever else is queued (up to a batch), as player 0's input. Events
// before the game started, or for a game that did not ask for input, are dropped.
func (r *run) input(ev input.Event) error {
	if r.state != stateStarted || r.caps&gameproto.CapInput == 0 {
		r.g.dropped.Add(1)
		return nil
	}
	batch := &gameproto.Input{Player: 0}
	add := func(ev input.Event) {
		if !batch.Add(ev) {
			r.g.dropped.Add(1) // not a valid event
		}
	}
	add(ev)
more:
	for batch.Len() < gameproto.MaxInputBatch {
		select {
		case ev := <-r.inputs:
			add(ev)
		default:
			break more
		}
	}
	if batch.Len() == 0 {
		return nil
	}
	return r.send(batch)
}

// exitLinger is how long the loop reads on after the process exited, for the messages it sent
// before (an ending, a fatal) and the link's EOF.
const exitLinger = 200 * time.Millisecond

// arm sets the current state's deadline, unless the process has exited (the loop then only
// lingers for its last messages).
func (r *run) arm(d time.Duration) {
	if !r.exitSeen && !r.peerClosed {
		r.deadline.Reset(d)
	}
}

func ms(d time.Duration) uint32 { return uint32(d / time.Millisecond) }

// sessionID names an assignment that has no session id (tests): a random one.
func sessionID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "s-" + hex.EncodeToString(b[:])
}
