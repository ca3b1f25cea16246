package gamesdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/edgeplay/edgeplay/gameproto"
	"github.com/edgeplay/edgeplay/input"
)

// SDKName is what the SDK announces in hello.
const SDKName = "edgeplay-go/1.0.0"

// EnvFD names the environment variable that holds the link's descriptor; DefaultFD is used
// when it is unset.
const (
	EnvFD     = "EDGEPLAY_FD"
	DefaultFD = 3
)

// Ping pacing: the SDK pings at most once per maxPingEvery, and at least twice per heartbeat.
const maxPingEvery = time.Second

// minWait is the shortest read deadline Poll sets: a deadline already past would not even
// look at the socket, so Poll(0) waits this long at most for a message to be there.
const minWait = 100 * time.Microsecond

// DefaultHandshakeTimeout bounds hello → buffer_pool when Config.HandshakeTimeout is zero.
const DefaultHandshakeTimeout = 10 * time.Second

// Config is what the game announces in hello. The zero value is an RGBA game that wants input
// and makes no sound.
type Config struct {
	I420, NV12 bool // the game can also render these formats (the host picks one)
	Audio      bool // the game makes sound: the host registers an audio pool
	NoInput    bool // the game does not want input messages
	// HandshakeTimeout bounds the wait for welcome and the pools; zero means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
}

func (c Config) caps() uint32 {
	var caps uint32
	if c.Audio {
		caps |= gameproto.CapAudio
	}
	if c.I420 {
		caps |= gameproto.CapI420
	}
	if c.NV12 {
		caps |= gameproto.CapNV12
	}
	if !c.NoInput {
		caps |= gameproto.CapInput
	}
	return caps
}

type state int

const (
	stateLoading  state = iota // after the handshake, before Ready
	stateReady                 // Ready sent, waiting for assign
	stateAssigned              // assign received, Started not sent yet
	stateStarted               // Started sent: rendering
	stateEnded                 // End or Fatal sent: only Log, Fatal and Close remain
)

var stateNames = [...]string{"loading", "ready", "assigned", "started", "ended"}

func (s state) String() string { return stateNames[s] }

// player is what the SDK knows of one player index.
type player struct {
	joined, away bool
}

// Game is the game's end of the link. It is owned by one goroutine (the game's loop); see the
// package doc for the contracts.
type Game struct {
	conn    *gameproto.Conn
	welcome gameproto.Welcome
	caps    uint32 // what the game announced

	pool   gameproto.BufferPool
	mem    []byte // the pool's mapping
	slots  [gameproto.MaxSlots]slotState
	frames [gameproto.MaxSlots]Frame
	next   int    // where AcquireFrame starts looking
	seq    uint64 // last frame_ready seq

	audio      gameproto.AudioPool
	audioMem   []byte // nil without an audio pool
	audioSlots audioSlots

	wake *waker // set while Serve runs: another goroutine may cut a Poll short

	state   state
	session string
	players [gameproto.MaxPlayers]player
	drain   bool
	down    bool // shutdown received

	now       func() time.Time // injectable clock for the ping pacing
	pingEvery time.Duration
	lastPing  time.Time

	inputBuf []input.Event // reused by Input events
	err      error         // sticky: a protocol error, the host's close, or Close
}

// Open connects to the host through the descriptor named by EDGEPLAY_FD (fd 3 when unset) and
// runs the handshake (see New). The Game takes over the descriptor.
func Open(cfg Config) (*Game, error) {
	fd := DefaultFD
	if s := os.Getenv(EnvFD); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: %s=%q", ErrArg, EnvFD, s)
		}
		fd = n
	}
	conn, err := gameproto.FileConn(os.NewFile(uintptr(fd), "edgeplay-link"))
	if err != nil {
		return nil, fmt.Errorf("gamesdk: link fd %d: %w", fd, err)
	}
	return New(conn, cfg)
}

// New runs the handshake on conn: it sends hello, waits for welcome (same major version), the
// buffer_pool (whose memfd it checks and maps) and, when audio was agreed, the audio_pool. The
// Game takes over conn and closes it on any error.
func New(conn *gameproto.Conn, cfg Config) (*Game, error) {
	g := &Game{conn: conn, caps: cfg.caps(), now: time.Now, state: stateLoading}
	if err := g.handshake(cfg); err != nil {
		_ = g.Close()
		return nil, err
	}
	return g, nil
}

func (g *Game) handshake(cfg Config) error {
	timeout := cfg.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	if err := g.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("gamesdk: %w", err)
	}
	hello := gameproto.Hello{Major: gameproto.Major, Minor: gameproto.Minor, Caps: g.caps, SDK: SDKName}
	if err := g.conn.Send(hello); err != nil {
		return fmt.Errorf("gamesdk: hello: %w", sendErr(err))
	}

	m, fds, err := g.recv()
	if err != nil {
		return fmt.Errorf("gamesdk: waiting for welcome: %w", err)
	}
	closeFDs(fds)
	w, ok := m.(gameproto.Welcome)
	switch {
	case !ok:
		return fmt.Errorf("%w: %s before welcome", ErrProtocol, m.Type())
	case w.Minor > gameproto.Minor:
		return fmt.Errorf("%w: welcome settles on minor %d, the game has %d", ErrProtocol, w.Minor, gameproto.Minor)
	case w.Caps&^g.caps != 0:
		return fmt.Errorf("%w: welcome caps %#x, the game announced %#x", ErrProtocol, w.Caps, g.caps)
	}
	g.welcome = w
	g.pingEvery = min(maxPingEvery, time.Duration(w.HeartbeatMS)*time.Millisecond/2)

	m, fds, err = g.recv()
	if err != nil {
		return fmt.Errorf("gamesdk: waiting for buffer_pool: %w", err)
	}
	p, ok := m.(gameproto.BufferPool)
	if !ok {
		closeFDs(fds)
		return fmt.Errorf("%w: %s before buffer_pool", ErrProtocol, m.Type())
	}
	if err := g.mapPool(p, fds[0]); err != nil {
		return err
	}

	if w.Caps&gameproto.CapAudio != 0 {
		m, fds, err := g.recv()
		if err != nil {
			return fmt.Errorf("gamesdk: waiting for audio_pool: %w", err)
		}
		a, ok := m.(gameproto.AudioPool)
		if !ok {
			closeFDs(fds)
			return fmt.Errorf("%w: %s before audio_pool", ErrProtocol, m.Type())
		}
		if err := g.mapAudio(a, fds[0]); err != nil {
			return err
		}
	}
	if err := g.conn.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("gamesdk: %w", err)
	}
	return nil
}

// recv reads one message, skipping ignorable unknown ones, and sorts its errors into the
// SDK's: ErrHostGone at the host's close, ErrVersion and ErrProtocol for what the host sent.
// Deadline errors come back as they are.
func (g *Game) recv() (gameproto.Message, []int, error) {
	for {
		m, fds, err := g.conn.Recv()
		switch {
		case err == nil:
			if _, skip := m.(gameproto.Unknown); skip {
				continue
			}
			return m, fds, nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, nil, err
		case errors.Is(err, io.EOF):
			return nil, nil, fmt.Errorf("%w: %w", ErrHostGone, err)
		case errors.Is(err, net.ErrClosed):
			return nil, nil, fmt.Errorf("%w: %w", ErrClosed, err)
		case errors.Is(err, gameproto.ErrVersion):
			return nil, nil, fmt.Errorf("%w: %w", ErrVersion, err)
		default:
			return nil, nil, fmt.Errorf("%w: %w", ErrProtocol, err)
		}
	}
}

// mapPool checks a buffer_pool against the welcome and maps its memfd, which it closes. An
// earlier pool is unmapped; every slot is then the game's.
func (g *Game) mapPool(p gameproto.BufferPool, fd int) error {
	defer closeFDs([]int{fd})
	w := g.welcome
	switch {
	case p.Width != w.Width || p.Height != w.Height:
		return fmt.Errorf("%w: buffer_pool is %dx%d, welcome said %dx%d", ErrProtocol, p.Width, p.Height, w.Width, w.Height)
	case !g.formatAgreed(p.Format):
		return fmt.Errorf("%w: buffer_pool format %s was not agreed", ErrProtocol, p.Format)
	}
	mem, err := gameproto.Map(fd, p.Size())
	if err != nil {
		return fmt.Errorf("%w: buffer_pool: %w", ErrProtocol, err)
	}
	if g.mem != nil {
		_ = gameproto.Unmap(g.mem)
	}
	g.pool, g.mem, g.slots, g.next = p, mem, [gameproto.MaxSlots]slotState{}, 0
	return nil
}

// formatAgreed reports whether the game may be asked to render f: it announced it and the
// host accepts it.
func (g *Game) formatAgreed(f gameproto.PixelFormat) bool {
	var capBit uint32
	switch f {
	case gameproto.RGBA:
	case gameproto.I420:
		capBit = gameproto.CapI420
	case gameproto.NV12:
		capBit = gameproto.CapNV12
	default:
		return false
	}
	return g.welcome.Caps&capBit == capBit && g.welcome.Formats&(1<<f) != 0
}

func (g *Game) mapAudio(a gameproto.AudioPool, fd int) error {
	defer closeFDs([]int{fd})
	if g.welcome.Caps&gameproto.CapAudio == 0 {
		return fmt.Errorf("%w: audio_pool without the audio capability", ErrProtocol)
	}
	mem, err := gameproto.Map(fd, a.Size())
	if err != nil {
		return fmt.Errorf("%w: audio_pool: %w", ErrProtocol, err)
	}
	if g.audioMem != nil {
		_ = gameproto.Unmap(g.audioMem)
	}
	g.audio, g.audioMem = a, mem
	g.audioSlots.layout(a, mem)
	return nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		_ = unix.Close(fd)
	}
}

// Welcome returns what the host settled on: version, capabilities, frame size and rate, the
// deadlines.
func (g *Game) Welcome() gameproto.Welcome { return g.welcome }

// Pool returns the current frame buffer layout.
func (g *Game) Pool() gameproto.BufferPool { return g.pool }

// AudioPool returns the audio buffer layout, and false when there is none.
func (g *Game) AudioPool() (gameproto.AudioPool, bool) { return g.audio, g.audioMem != nil }

// Session returns the session id from assign ("" before it).
func (g *Game) Session() string { return g.session }

// Err returns the error that broke the Game, or nil.
func (g *Game) Err() error { return g.err }

// fail records err as the Game's sticky error, when it breaks the link, and returns it.
func (g *Game) fail(err error) error {
	if g.err == nil && (errors.Is(err, ErrProtocol) || errors.Is(err, ErrHostGone) || errors.Is(err, ErrVersion)) {
		g.err = err
	}
	return err
}

// send sends m if the Game is usable and its state is one of allowed (none: any state but
// ended).
func (g *Game) send(m gameproto.Message, allowed ...state) error {
	if g.err != nil {
		return g.err
	}
	if len(allowed) == 0 && g.state == stateEnded {
		return fmt.Errorf("%w: %s after the game ended", ErrState, m.Type())
	}
	if len(allowed) > 0 && !hasState(allowed, g.state) {
		return fmt.Errorf("%w: %s while %s", ErrState, m.Type(), g.state)
	}
	if err := g.conn.Send(m); err != nil {
		return g.fail(sendErr(err))
	}
	return nil
}

// sendErr sorts a send error: the host's end closed is ErrHostGone.
func sendErr(err error) error {
	if errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) {
		return fmt.Errorf("%w: %w", ErrHostGone, err)
	}
	return fmt.Errorf("gamesdk: %w", err)
}

func hasState(ss []state, s state) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Ready tells the host the game has loaded: it waits, rendering nothing, for Assign.
func (g *Game) Ready() error {
	if err := g.send(gameproto.Ready{}, stateLoading); err != nil {
		return err
	}
	g.state = stateReady
	return nil
}

// Started tells the host the game took its assignment and renders from now on.
func (g *Game) Started() error {
	if err := g.send(gameproto.Started{}, stateAssigned); err != nil {
		return err
	}
	g.state = stateStarted
	return nil
}

// Ping sends a heartbeat now. Poll and SubmitFrame send them on their own; a game that blocks
// its loop elsewhere for long (loading) calls Ping itself.
func (g *Game) Ping() error {
	if err := g.send(gameproto.Ping{}); err != nil {
		return err
	}
	g.lastPing = g.now()
	return nil
}

// pingIfDue sends a ping when the last one is at least pingEvery old.
func (g *Game) pingIfDue() error {
	if g.state == stateEnded || g.now().Sub(g.lastPing) < g.pingEvery {
		return nil
	}
	return g.Ping()
}

// untilPing is how long until the next ping is due.
func (g *Game) untilPing() time.Duration {
	return g.pingEvery - g.now().Sub(g.lastPing)
}

// Loading asks for d more time before Ready (from now, within the welcome's ReadyCapMS).
func (g *Game) Loading(d time.Duration) error {
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms < 1 || ms > gameproto.MaxLoadingMS {
		return fmt.Errorf("%w: loading %v", ErrArg, d)
	}
	return g.send(gameproto.Loading{UntilMS: uint32(ms)}, stateLoading)
}

// Log levels for Log.
const (
	LevelDebug = gameproto.LevelDebug
	LevelInfo  = gameproto.LevelInfo
	LevelWarn  = gameproto.LevelWarn
	LevelError = gameproto.LevelError
)

// Log sends one line to the host's log (which tags it with the session). text must be UTF-8;
// past gameproto.MaxText bytes it is cut at a character boundary.
func (g *Game) Log(level int, text string) error {
	if level < LevelDebug || level > LevelError {
		return fmt.Errorf("%w: log level %d", ErrArg, level)
	}
	if !utf8.ValidString(text) {
		return fmt.Errorf("%w: log text is not UTF-8", ErrArg)
	}
	if g.err != nil {
		return g.err
	}
	return g.send(gameproto.Log{Level: uint8(level), Text: truncate(text, gameproto.MaxText)},
		stateLoading, stateReady, stateAssigned, stateStarted, stateEnded)
}

// End says the game is over with an optional result: "" or a JSON object of at most
// gameproto.MaxResult bytes, which goes into the session's ended event. The game exits after
// it (Close, then exit 0).
func (g *Game) End(resultJSON string) error {
	if len(resultJSON) > gameproto.MaxResult {
		return fmt.Errorf("%w: result is %d bytes, the most is %d", ErrArg, len(resultJSON), gameproto.MaxResult)
	}
	if resultJSON != "" && (resultJSON[0] != '{' || !utf8.ValidString(resultJSON) || !json.Valid([]byte(resultJSON))) {
		return fmt.Errorf("%w: result is not a JSON object", ErrArg)
	}
	if err := g.send(gameproto.Ending{Result: resultJSON}); err != nil {
		return err
	}
	g.state = stateEnded
	return nil
}

// Fatal says the game cannot go on, and why (cut to gameproto.MaxText bytes; invalid UTF-8 is
// replaced). The game exits after it. It is allowed after a protocol error, to tell the host.
func (g *Game) Fatal(msg string) error {
	if g.conn == nil || errors.Is(g.err, ErrClosed) || errors.Is(g.err, ErrHostGone) {
		return fmt.Errorf("%w: fatal: %s", ErrState, msg)
	}
	msg = truncate(toValidUTF8(msg), gameproto.MaxText)
	if msg == "" {
		msg = "fatal error"
	}
	if err := g.conn.Send(gameproto.Fatal{Text: msg}); err != nil {
		return g.fail(sendErr(err))
	}
	g.state = stateEnded
	return nil
}

func toValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	b := make([]rune, 0, len(s))
	for _, r := range s {
		b = append(b, r) // invalid bytes decode as utf8.RuneError
	}
	return string(b)
}

// truncate cuts s to at most n bytes at a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Close closes the link and unmaps the shared memory; frames acquired and not submitted must
// not be touched afterwards. It is idempotent.
func (g *Game) Close() error {
	if g.conn == nil {
		return nil
	}
	err := g.conn.Close()
	g.conn = nil
	if g.mem != nil {
		_ = gameproto.Unmap(g.mem)
		g.mem = nil
	}
	if g.audioMem != nil {
		_ = gameproto.Unmap(g.audioMem)
		g.audioMem = nil
	}
	g.err = ErrClosed
	for i := range g.frames {
		g.frames[i] = Frame{}
	}
	g.audioSlots = audioSlots{}
	return err
}
