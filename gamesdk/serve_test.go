package gamesdk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/transport/v5/test"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/gameproto"
	"github.com/edgeplay/edgeplay/input"
)

// fakeGame is an in-process game the test drives: Run executes the test's commands on its own
// goroutine, so the sinks are called from the game's goroutine as in a real game.
type fakeGame struct {
	cfg     game.Config
	cmds    chan func(sink func(*game.Frame)) error // errStop: Run returns nil
	inputs  chan input.Event
	away    atomic.Int32
	back    atomic.Int32
	audio   func(game.AudioChunk) // set by SetAudioSink, before Run
	stuck   chan struct{}         // non-nil: a cancelled Run waits for it to close
	started chan struct{}         // closed when Run starts
	done    chan struct{}         // closed when Run returns
	pool    *game.FramePool
}

var errStop = errors.New("stop")

func newFakeGame() *fakeGame {
	return &fakeGame{
		cmds: make(chan func(func(*game.Frame)) error), inputs: make(chan input.Event, 64),
		started: make(chan struct{}), done: make(chan struct{}),
	}
}

func (f *fakeGame) factory(cfg game.Config) (game.Game, error) {
	f.cfg, f.pool = cfg, game.NewFramePool(cfg.Width, cfg.Height)
	return f, nil
}

func (f *fakeGame) Run(ctx context.Context, sink func(*game.Frame)) error {
	defer close(f.done)
	close(f.started)
	for {
		select {
		case <-ctx.Done():
			if f.stuck != nil {
				<-f.stuck
			}
			return nil
		case c := <-f.cmds:
			if err := c(sink); errors.Is(err, errStop) {
				return nil
			} else if err != nil {
				return err
			}
		}
	}
}

func (f *fakeGame) Input(ev input.Event) {
	select {
	case f.inputs <- ev:
	default:
	}
}

func (f *fakeGame) SetAudioSink(sink func(game.AudioChunk)) { f.audio = sink }
func (f *fakeGame) PlayerAway()                             { f.away.Add(1) }
func (f *fakeGame) PlayerBack()                             { f.back.Add(1) }

// do runs c on Run's goroutine and waits until it has run.
func (f *fakeGame) do(tb testing.TB, c func(sink func(*game.Frame)) error) {
	tb.Helper()
	ran := make(chan struct{})
	cmd := func(sink func(*game.Frame)) error {
		defer close(ran)
		return c(sink)
	}
	select {
	case f.cmds <- cmd:
	case <-time.After(5 * time.Second):
		tb.Fatal("the game's Run does not take commands")
	}
	waitClosed(tb, ran, "the game's command has run")
}

// frame makes the game render a frame: every pixel (v, v+1, v+2, 0xff), the given input seq.
func (f *fakeGame) frame(tb testing.TB, v byte, inputSeq uint32) {
	tb.Helper()
	f.do(tb, func(sink func(*game.Frame)) error {
		fr := f.pool.Get()
		for i := 0; i < len(fr.Pix); i += 4 {
			fr.Pix[i], fr.Pix[i+1], fr.Pix[i+2], fr.Pix[i+3] = v, v+1, v+2, 0xff
		}
		fr.Ready, fr.InputSeq = time.Now(), inputSeq
		sink(fr)
		return nil
	})
}

// sync returns once Serve's loop has handled everything the host sent before: it sends an
// input event and waits for the game to get it.
func (h *fakeHost) sync(f *fakeGame) {
	h.tb.Helper()
	const seq = 0xfeed
	in := &gameproto.Input{Player: 0}
	in.Add(input.Event{Type: input.KeyUp, Seq: seq, Code: input.KeyEnter})
	h.send(in)
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-f.inputs:
			if ev.Seq == seq {
				return
			}
		case <-deadline:
			h.tb.Fatal("the game did not get the sync input")
		}
	}
}

// waitEmpty waits until the loop has taken what c held, at most 5 s.
func waitEmpty[T any](tb testing.TB, c chan T, what string) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(c) > 0 {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitClosed waits for c to close, at most 5 s.
func waitClosed(tb testing.TB, c <-chan struct{}, what string) {
	tb.Helper()
	select {
	case <-c:
	case <-time.After(5 * time.Second):
		tb.Fatalf("timed out waiting until %s", what)
	}
}

// serving is one Serve running on a goroutine the test owns.
type serving struct {
	errc   chan error
	cancel context.CancelFunc
}

func serveGame(tb testing.TB, g *Game, newGame game.Factory, cfg ServeConfig) *serving {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{errc: make(chan error, 1), cancel: cancel}
	go func() { s.errc <- Serve(ctx, g, newGame, cfg) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case <-s.errc:
		case <-time.After(10 * time.Second):
			tb.Error("Serve did not return")
		}
	})
	return s
}

// wait returns Serve's error; it fails the test when Serve does not return within 5 s.
func (s *serving) wait(tb testing.TB) error {
	tb.Helper()
	select {
	case err := <-s.errc:
		s.errc <- err // for the cleanup
		return err
	case <-time.After(5 * time.Second):
		tb.Fatal("Serve did not return")
		return nil
	}
}

// next reads the game's next message that is not a ping, a log or one of skip's types.
func (h *fakeHost) next(skip ...gameproto.Type) gameproto.Message {
	h.tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if time.Now().After(deadline) {
			h.tb.Fatal("only pings and logs for 5 s")
		}
		m := h.recv()
		t := m.Type()
		if t != gameproto.TypePing && t != gameproto.TypeLog && !contains(skip, t) {
			return m
		}
	}
}

func contains(ts []gameproto.Type, t gameproto.Type) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// expect reads the next message (as next) and checks its type.
func (h *fakeHost) expect(t gameproto.Type) gameproto.Message {
	h.tb.Helper()
	m := h.next()
	if m.Type() != t {
		h.tb.Fatalf("got %#v, want %s", m, t)
	}
	return m
}

// rest reads everything until ending, fatal or the link's end and returns it, logs included.
func (h *fakeHost) rest() []gameproto.Message {
	h.tb.Helper()
	var got []gameproto.Message
	for {
		if err := h.conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			h.tb.Fatal(err)
		}
		m, _, err := h.conn.Recv()
		if err != nil {
			h.tb.Fatalf("after %d messages: %v", len(got), err)
		}
		got = append(got, m)
		if t := m.Type(); t == gameproto.TypeEnding || t == gameproto.TypeFatal {
			return got
		}
	}
}

// assignAndJoin takes a served game from ready to started.
func assignAndJoin(h *fakeHost) {
	h.tb.Helper()
	h.expect(gameproto.TypeReady)
	h.send(gameproto.Assign{Session: "s1"})
	h.send(gameproto.PlayerJoined{Player: 0, ID: "alice"})
	h.expect(gameproto.TypeStarted)
}

// TestServe plays a session through Serve: the game is created at the welcome's size, started
// at the first join; its frames reach the slots (with the pool's stride, the marker flag, the
// input seq and their Ready time as pts) and free slots are reused; input and presence reach
// the game; its sound goes out in slot-sized pieces with exact pts; the player's leave stops
// Run and sends ending with the result.
func TestServe(t *testing.T) {
	defer test.CheckRoutines(t)()
	h, conn := newLink(t)
	w := testWelcome()
	w.Caps |= gameproto.CapAudio
	h.send(w)
	p, _ := gameproto.NewBufferPool(gameproto.RGBA, 64, 32, 3)
	p.Planes[0].Stride, p.SlotSize = 320, 4096*3 // rows with padding: the copy must use the stride
	h.sendPoolLayout(p)
	h.sendAudioPool(audioPool(t, gameproto.S16, 480, 4))
	g, err := New(conn, Config{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	h.expect(gameproto.TypeHello)
	f := newFakeGame()
	s := serveGame(t, g, f.factory, ServeConfig{Marker: true, Result: func(gm game.Game) string {
		if gm != f {
			return `{"wrong":"game"}`
		}
		return `{"score":7}`
	}})
	assignAndJoin(h)
	waitClosed(t, f.started, "Run starts")
	if f.cfg != (game.Config{Width: 64, Height: 32, FPS: 60, Session: "s1", Player: "alice"}) {
		t.Fatalf("game config %+v", f.cfg)
	}
	if f.audio == nil {
		t.Fatal("no audio sink with audio agreed")
	}

	// Frames: five, with a release after each, so the three slots are reused.
	var lastPTS uint64
	for i := range 5 {
		before := MonotonicNS()
		f.frame(t, byte(10*i), uint32(100+i))
		fr := h.expect(gameproto.TypeFrameReady).(gameproto.FrameReady)
		after := MonotonicNS()
		if fr.Seq != uint64(i+1) || fr.InputSeq != uint32(100+i) || fr.Flags != gameproto.FrameMarker {
			t.Fatalf("frame_ready %#v", fr)
		}
		if fr.PTS < before || fr.PTS > after || fr.PTS < lastPTS {
			t.Fatalf("pts %d outside [%d, %d] or before %d", fr.PTS, before, after, lastPTS)
		}
		lastPTS = fr.PTS
		slot := h.pool.Slot(h.mem, int(fr.Slot))
		px := h.pool.Plane(slot, 0)
		for _, off := range []int{0, 4 * 63, 320, 320*31 + 4*63} {
			if px[off] != byte(10*i) || px[off+2] != byte(10*i+2) {
				t.Fatalf("frame %d: pixel at byte %d is %v", i, off, px[off:off+4])
			}
		}
		if px[256] != 0 {
			t.Fatalf("the stride's padding was written: %d", px[256])
		}
		h.send(gameproto.Release{Slot: fr.Slot})
	}

	// Input of the player reaches the game; presence too.
	in := &gameproto.Input{Player: 0}
	in.Add(input.Event{Type: input.KeyDown, Seq: 9, Code: input.KeyA, Down: true})
	h.send(in)
	select {
	case ev := <-f.inputs:
		if ev.Seq != 9 || ev.Code != input.KeyA {
			t.Fatalf("input %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no input reached the game")
	}
	h.send(gameproto.PlayerAway{Player: 0})
	h.send(gameproto.PlayerBack{Player: 0})

	// Sound: 1000 frames of one chunk go out as 480 + 480 + 40 with pts 10 ms apart.
	start := time.Now()
	f.do(t, func(func(*game.Frame)) error {
		pcm := make([]int16, 2000)
		for i := range pcm {
			pcm[i] = int16(i)
		}
		f.audio(game.AudioChunk{PCM: pcm, Start: start})
		return nil
	})
	var sample int16
	for i, want := range []uint32{480, 480, 40} {
		m := h.expect(gameproto.TypeAudioReady).(gameproto.AudioReady)
		if m.Frames != want {
			t.Fatalf("piece %d: %d frames, want %d", i, m.Frames, want)
		}
		if i == 0 {
			// The chunk's Start on CLOCK_MONOTONIC: between the clock read before and after.
			now := MonotonicNS()
			if m.PTS > now || m.PTS < now-uint64(time.Since(start))-uint64(time.Millisecond) {
				t.Fatalf("pts %d is not the chunk's start (now %d)", m.PTS, now)
			}
			lastPTS = m.PTS
		} else if m.PTS != lastPTS+10_000_000 {
			t.Fatalf("piece %d: pts %d, want %d", i, m.PTS, lastPTS+10_000_000)
		} else {
			lastPTS = m.PTS
		}
		for _, x := range h.hostSamples(m) {
			if int16(x*32768) != sample {
				t.Fatalf("piece %d: sample %v, want %d", i, x*32768, sample)
			}
			sample++
		}
		h.send(gameproto.AudioRelease{Slot: m.Slot})
	}
	// Serve's loop applies the notes in order, but on its own goroutine: the audio above does
	// not wait for it.
	for deadline := time.Now().Add(5 * time.Second); f.back.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if f.away.Load() != 1 || f.back.Load() != 1 {
		t.Errorf("presence: away %d, back %d", f.away.Load(), f.back.Load())
	}

	// The player leaves: Run is stopped and the result goes with ending.
	h.send(gameproto.PlayerLeft{Player: 0})
	msgs := h.rest()
	if end := msgs[len(msgs)-1]; end != (gameproto.Ending{Result: `{"score":7}`}) {
		t.Fatalf("got %#v, want ending with the result", end)
	}
	if err := s.wait(t); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, f.done, "Run returns")
}

// startServe brings a Serve with fake game f to started, with or without audio.
func startServe(tb testing.TB, f *fakeGame, cfg ServeConfig) (*fakeHost, *serving) {
	tb.Helper()
	h, g := start(tb, Config{})
	s := serveGame(tb, g, f.factory, cfg)
	assignAndJoin(h)
	waitClosed(tb, f.started, "Run starts")
	return h, s
}

// TestServeNoFreeSlot: while the host holds every slot the game's frames are skipped and the
// game never waits: it renders on, the loop answers, and the leave ends the session with
// just the frames that had a slot.
func TestServeNoFreeSlot(t *testing.T) {
	defer test.CheckRoutines(t)()
	f := newFakeGame()
	var srv *server
	h, s := startServe(t, f, ServeConfig{startedForTest: func(s *server) { srv = s }})
	if f.audio != nil {
		t.Error("an audio sink without audio agreed")
	}
	for i := range 3 {
		f.frame(t, byte(i), 0)
		h.expect(gameproto.TypeFrameReady)
	}
	const more = 20
	for i := range more {
		f.frame(t, byte(i), 0) // none blocks: f.do would time out
	}
	waitEmpty(t, srv.frames, "the loop takes the last frame")
	h.send(gameproto.PlayerLeft{Player: 0})
	var frames int
	var summary string
	for _, m := range h.rest() {
		switch m := m.(type) {
		case gameproto.FrameReady:
			frames++
		case gameproto.Log:
			summary = m.Text
		case gameproto.Ending:
			if m.Result != "" {
				t.Errorf("result %q without Result", m.Result)
			}
		}
	}
	if frames != 0 {
		t.Errorf("%d frames sent with no free slot", frames)
	}
	var sent, skipped, superseded int
	if _, err := fmt.Sscanf(summary, "gamesdk.Serve: %d frames sent, %d skipped (no free slot), %d superseded", &sent, &skipped, &superseded); err != nil {
		t.Fatalf("summary %q: %v", summary, err)
	}
	if sent != 3 || skipped+superseded != more || skipped == 0 {
		t.Errorf("summary %q: want 3 sent and %d skipped or superseded", summary, more)
	}
	if err := s.wait(t); err != nil {
		t.Fatal(err)
	}
}

// TestServeAudioNoFreeSlot: a chunk longer than the free audio slots hold is cut: the rest is
// dropped, and the next chunk goes out at its own pts once slots are back.
func TestServeAudioNoFreeSlot(t *testing.T) {
	defer test.CheckRoutines(t)()
	h, g := startAudio(t, audioPool(t, gameproto.F32, 480, 2))
	f := newFakeGame()
	var srv *server
	s := serveGame(t, g, f.factory, ServeConfig{startedForTest: func(s *server) { srv = s }})
	assignAndJoin(h)
	waitClosed(t, f.started, "Run starts")
	chunk := func(frames int, at time.Time) {
		f.do(t, func(func(*game.Frame)) error {
			pcm := make([]int16, 2*frames)
			for i := range pcm {
				pcm[i] = 16384 // 0.5
			}
			f.audio(game.AudioChunk{PCM: pcm, Start: at})
			return nil
		})
	}
	t0 := time.Now()
	chunk(1500, t0) // two slots: 960 frames go, 540 are dropped
	var held []uint8
	for range 2 {
		m := h.expect(gameproto.TypeAudioReady).(gameproto.AudioReady)
		if got := h.hostSamples(m); len(got) != 960 || got[0] != 0.5 || got[959] != 0.5 {
			t.Fatalf("%d samples, first %v", len(got), got[0])
		}
		held = append(held, m.Slot)
	}
	chunk(100, t0.Add(40*time.Millisecond)) // no free slot: dropped
	waitEmpty(t, srv.audio, "the loop takes the chunk")
	for _, k := range held {
		h.send(gameproto.AudioRelease{Slot: k})
	}
	h.sync(f) // the loop has taken the releases
	chunk(100, t0.Add(50*time.Millisecond))
	m := h.expect(gameproto.TypeAudioReady).(gameproto.AudioReady)
	if m.Frames != 100 {
		t.Fatalf("audio_ready %#v, want the 100 frames of the last chunk", m)
	}
	h.send(gameproto.Drain{DeadlineMS: 1})
	var summary string
	for _, m := range h.rest() {
		if l, ok := m.(gameproto.Log); ok {
			summary = l.Text
		}
	}
	if !strings.Contains(summary, "1060 audio frames sent, 640 lost") {
		t.Errorf("summary %q", summary)
	}
	if err := s.wait(t); err != nil {
		t.Fatal(err)
	}
}

// TestServeEnds: every way a served session ends stops Run, says what it should to the host
// and makes Serve return.
func TestServeEnds(t *testing.T) {
	cases := []struct {
		name string
		// end ends the session; it may use the game.
		end func(h *fakeHost, f *fakeGame, s *serving)
		// last is the last message the host gets (0: none, the link stays quiet).
		last    gameproto.Message
		wantErr error // Serve's error; nil: none
	}{
		{
			"drain", func(h *fakeHost, _ *fakeGame, _ *serving) { h.send(gameproto.Drain{DeadlineMS: 300}) },
			gameproto.Ending{Result: `{"r":1}`},
			nil,
		},
		{
			"player left", func(h *fakeHost, _ *fakeGame, _ *serving) { h.send(gameproto.PlayerLeft{Player: 0}) },
			gameproto.Ending{Result: `{"r":1}`},
			nil,
		},
		{"run ends", func(h *fakeHost, f *fakeGame, _ *serving) {
			f.do(h.tb, func(func(*game.Frame)) error { return errStop })
		}, gameproto.Ending{Result: `{"r":1}`}, nil},
		{"run ends with a result", func(h *fakeHost, f *fakeGame, _ *serving) {
			f.do(h.tb, func(func(*game.Frame)) error { return fmt.Errorf("over: %w", &game.Ended{Result: `{"own":3}`}) })
		}, gameproto.Ending{Result: `{"own":3}`}, nil},
		{"run fails", func(h *fakeHost, f *fakeGame, _ *serving) {
			f.do(h.tb, func(func(*game.Frame)) error { return errors.New("out of bananas") })
		}, gameproto.Fatal{Text: "gamesdk: the game's Run: out of bananas"}, errors.New("out of bananas")},
		{
			"shutdown", func(h *fakeHost, _ *fakeGame, _ *serving) { h.send(gameproto.Shutdown{GraceMS: 1000}) },
			nil, nil,
		},
		{"context", func(_ *fakeHost, _ *fakeGame, s *serving) { s.cancel() }, nil, nil},
		{
			"protocol error", func(h *fakeHost, _ *fakeGame, _ *serving) { h.send(gameproto.Release{Slot: 2}) },
			gameproto.Fatal{Text: "gamesdk: protocol error from host: release for slot 2, which the host does not hold"},
			ErrProtocol,
		},
		{"host gone", func(h *fakeHost, _ *fakeGame, _ *serving) { h.close() }, nil, ErrHostGone},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer test.CheckRoutines(t)()
			f := newFakeGame()
			h, s := startServe(t, f, ServeConfig{Result: func(game.Game) string { return `{"r":1}` }})
			f.frame(t, 1, 0)
			h.expect(gameproto.TypeFrameReady)
			c.end(h, f, s)
			err := s.wait(t)
			switch {
			case c.wantErr == nil && err != nil:
				t.Fatalf("Serve: %v", err)
			case c.wantErr != nil && !errors.Is(err, c.wantErr) && (err == nil || !strings.Contains(err.Error(), c.wantErr.Error())):
				t.Fatalf("Serve: %v, want %v", err, c.wantErr)
			}
			waitClosed(t, f.done, "Run returns")
			if c.name == "host gone" {
				return
			}
			if c.last == nil {
				if got := h.drain(); len(got) > 0 && got[len(got)-1].Type() != gameproto.TypePing && got[len(got)-1].Type() != gameproto.TypeLog {
					t.Fatalf("sent %#v at the end", got[len(got)-1])
				}
				return
			}
			msgs := h.rest()
			if got := msgs[len(msgs)-1]; got != c.last {
				t.Fatalf("last message %#v, want %#v", got, c.last)
			}
		})
	}
}

// TestServeDrainPlaysOn: after a drain the game plays on until shortly before the deadline.
func TestServeDrainPlaysOn(t *testing.T) {
	defer test.CheckRoutines(t)()
	f := newFakeGame()
	h, s := startServe(t, f, ServeConfig{})
	h.send(gameproto.Drain{DeadlineMS: 2000})
	for i := range 3 {
		f.frame(t, byte(i), 0)
		fr := h.expect(gameproto.TypeFrameReady).(gameproto.FrameReady)
		h.send(gameproto.Release{Slot: fr.Slot})
	}
	if m := h.next(gameproto.TypeFrameReady); m != (gameproto.Ending{}) {
		t.Fatalf("got %#v, want ending", m)
	}
	if err := s.wait(t); err != nil {
		t.Fatal(err)
	}
}

// TestServeBeforeStart: a drain, a shutdown or the context's end before the game started
// ends Serve without running the game.
func TestServeBeforeStart(t *testing.T) {
	cases := []struct {
		name string
		end  func(h *fakeHost, s *serving)
		last gameproto.Message
	}{
		{"drain", func(h *fakeHost, _ *serving) { h.send(gameproto.Drain{DeadlineMS: 5000}) }, gameproto.Ending{}},
		{"shutdown", func(h *fakeHost, _ *serving) { h.send(gameproto.Shutdown{GraceMS: 100}) }, nil},
		{"context", func(_ *fakeHost, s *serving) { s.cancel() }, nil},
		{
			"no join", func(h *fakeHost, _ *serving) { h.send(gameproto.Assign{Session: "s"}) },
			gameproto.Fatal{Text: "gamesdk: protocol error from host: no player_joined within 1s of assign"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer test.CheckRoutines(t)()
			h, conn := newLink(t)
			w := testWelcome()
			w.StartedTimeoutMS = 1000
			h.send(w)
			h.sendPool(gameproto.RGBA, 64, 32, 3)
			g, err := New(conn, Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			h.expect(gameproto.TypeHello)
			f := newFakeGame()
			s := serveGame(t, g, f.factory, ServeConfig{})
			h.expect(gameproto.TypeReady)
			c.end(h, s)
			err = s.wait(t)
			if (c.name == "no join") != errors.Is(err, ErrProtocol) {
				t.Fatalf("Serve: %v", err)
			}
			select {
			case <-f.started:
				t.Fatal("Run ran")
			default:
			}
			if c.last != nil {
				if m := h.next(); m != c.last {
					t.Fatalf("got %#v, want %#v", m, c.last)
				}
			}
		})
	}
}

// TestServeStuck: a Run that ignores its cancellation makes Serve give up after StopTimeout
// with ErrStuck and tell the host.
func TestServeStuck(t *testing.T) {
	defer test.CheckRoutines(t)()
	f := newFakeGame()
	f.stuck = make(chan struct{})
	h, s := startServe(t, f, ServeConfig{StopTimeout: 50 * time.Millisecond})
	h.send(gameproto.PlayerLeft{Player: 0})
	if err := s.wait(t); !errors.Is(err, ErrStuck) {
		t.Fatalf("Serve: %v, want ErrStuck", err)
	}
	if m := h.next(); m.Type() != gameproto.TypeFatal {
		t.Fatalf("got %#v, want fatal", m)
	}
	close(f.stuck)
	waitClosed(t, f.done, "the stuck Run returns")
}

// TestServeRefuses: Serve needs a Game fresh from its handshake, with an RGBA pool.
func TestServeRefuses(t *testing.T) {
	t.Run("after ready", func(t *testing.T) {
		_, g := start(t, Config{})
		if err := g.Ready(); err != nil {
			t.Fatal(err)
		}
		if err := Serve(context.Background(), g, newFakeGame().factory, ServeConfig{}); !errors.Is(err, ErrState) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("i420", func(t *testing.T) {
		h, conn := newLink(t)
		w := testWelcome()
		w.Caps |= gameproto.CapI420
		h.send(w)
		h.sendPool(gameproto.I420, 64, 32, 2)
		g, err := New(conn, Config{I420: true})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		if err := Serve(context.Background(), g, newFakeGame().factory, ServeConfig{}); !errors.Is(err, ErrArg) {
			t.Fatalf("got %v", err)
		}
	})
}

// TestServeBadGame: a game that cannot be created, or renders at another size than the
// host's stream, is told to the host with fatal, before started.
func TestServeBadGame(t *testing.T) {
	cases := []struct {
		name    string
		factory game.Factory
		want    string
	}{
		{"factory fails", func(game.Config) (game.Game, error) { return nil, errors.New("too small") }, "too small"},
		{"another size", func(cfg game.Config) (game.Game, error) {
			cfg.Width *= 2
			return sizedGame{newFakeGame(), cfg}, nil
		}, "the game renders 128x32, the host's stream is 64x32"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer test.CheckRoutines(t)()
			h, g := start(t, Config{})
			s := serveGame(t, g, c.factory, ServeConfig{})
			h.expect(gameproto.TypeReady)
			h.send(gameproto.Assign{Session: "s1"})
			h.send(gameproto.PlayerJoined{Player: 0, ID: "alice"})
			if m, ok := h.next().(gameproto.Fatal); !ok || !strings.Contains(m.Text, c.want) {
				t.Fatalf("got %#v, want fatal saying %q", m, c.want)
			}
			if err := s.wait(t); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Serve: %v", err)
			}
		})
	}
}

// sizedGame is a fake game that says it renders at c's size (game.Sized).
type sizedGame struct {
	*fakeGame
	c game.Config
}

func (g sizedGame) Config() game.Config { return g.c }

// drainGame is a fake game that hears drains (game.Drainer).
type drainGame struct {
	*fakeGame
	drains chan time.Time
}

func (g drainGame) Drain(deadline time.Time) { g.drains <- deadline }

// TestServeDrainer: a game.Drainer hears the drain, with a deadline before the host's, and
// may end the session itself with its own result.
func TestServeDrainer(t *testing.T) {
	defer test.CheckRoutines(t)()
	f := drainGame{newFakeGame(), make(chan time.Time, 1)}
	h, g := start(t, Config{})
	s := serveGame(t, g, func(cfg game.Config) (game.Game, error) {
		_, err := f.factory(cfg)
		return f, err
	}, ServeConfig{Result: func(game.Game) string { return `{"from":"config"}` }})
	assignAndJoin(h)
	waitClosed(t, f.started, "Run starts")
	h.send(gameproto.Drain{DeadlineMS: 60_000})
	select {
	case d := <-f.drains:
		if left := time.Until(d); left > 59*time.Second || left < 50*time.Second {
			t.Fatalf("the game must end %v from now, want a little under a minute", left)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the game did not hear the drain")
	}
	f.do(t, func(func(*game.Frame)) error { return &game.Ended{Result: `{"round":"finished"}`} })
	if m := h.next(); m != (gameproto.Ending{Result: `{"round":"finished"}`}) {
		t.Fatalf("got %#v, want ending with the game's result", m)
	}
	if err := s.wait(t); err != nil {
		t.Fatal(err)
	}
}

// TestWake: a wake from another goroutine ends a long Poll at once, with no event.
func TestWake(t *testing.T) {
	_, g := start(t, Config{})
	g.wake = newWaker(g.conn)
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(20 * time.Millisecond) // let Poll block first (the other order is tested below)
		g.wake.wake()
	}()
	ev, err := g.Poll(time.Hour) // the test's own timeout catches a Poll that is not woken
	<-done
	if ev != nil || err != nil {
		t.Fatalf("woken Poll: %#v, %v", ev, err)
	}
	g.wake.wake() // before the Poll
	if ev, err := g.Poll(time.Hour); ev != nil || err != nil {
		t.Fatalf("Poll after a wake: %#v, %v", ev, err)
	}
}

// TestMonoClock: the conversion of time.Time to CLOCK_MONOTONIC keeps differences exactly.
func TestMonoClock(t *testing.T) {
	c := newMonoClock()
	for _, d := range []time.Duration{0, time.Nanosecond, 10 * time.Millisecond, -3 * time.Second, time.Hour} {
		if got := c.ns(c.t0.Add(d)); int64(got-c.m0) != int64(d) {
			t.Errorf("%v after t0: %d ns after m0", d, int64(got-c.m0))
		}
	}
	if before, got, after := MonotonicNS(), c.ns(time.Now()), MonotonicNS(); got+uint64(time.Millisecond) < before || got > after+uint64(time.Millisecond) {
		t.Errorf("now converts to %d, CLOCK_MONOTONIC reads %d … %d", got, before, after)
	}
}

// A game.Game that renders YUV is refused: Serve's pool is RGBA; it says so with fatal.
func TestServeRefusesYUVFrames(t *testing.T) {
	defer test.CheckRoutines(t)()
	h, g := start(t, Config{})
	f := newFakeGame()
	s := serveGame(t, g, f.factory, ServeConfig{})
	assignAndJoin(h)
	waitClosed(t, f.started, "Run starts")
	y, uv := make([]byte, 64*32), make([]byte, 64*16)
	f.do(t, func(sink func(*game.Frame)) error {
		sink(game.BorrowedYUVFrame(game.NV12, 64, 32, [3][]byte{y, uv}, [3]int{64, 64}, func() {}))
		return nil
	})
	if m, ok := h.next().(gameproto.Fatal); !ok || !strings.Contains(m.Text, "RGBA") {
		t.Fatalf("got %#v, want fatal saying Serve takes RGBA", m)
	}
	if err := s.wait(t); !errors.Is(err, ErrArg) {
		t.Fatalf("Serve: %v, want %v", err, ErrArg)
	}
}

// sourceGame is a fake game that renders into frames the host lends it (game.FrameSource).
// Its PlayerAway holds Serve's loop until the test lets it go, so that the test can act while
// the loop is busy.
type sourceGame struct {
	*fakeGame
	get    func() *game.Frame // set by SetFrameSource, before Run; called on Run's goroutine
	held   chan struct{}      // PlayerAway says it holds the loop
	resume chan struct{}      // ... until this is sent on
}

func newSourceGame() *sourceGame {
	return &sourceGame{fakeGame: newFakeGame(), held: make(chan struct{}), resume: make(chan struct{})}
}

func (g *sourceGame) factory(cfg game.Config) (game.Game, error) {
	_, err := g.fakeGame.factory(cfg)
	return g, err
}

func (g *sourceGame) SetFrameSource(get func() *game.Frame) { g.get = get }

func (g *sourceGame) PlayerAway() {
	g.held <- struct{}{}
	<-g.resume
}

// take calls get on Run's goroutine and returns what it gave.
func (g *sourceGame) take(tb testing.TB) *game.Frame {
	tb.Helper()
	var f *game.Frame
	g.do(tb, func(func(*game.Frame)) error {
		f = g.get()
		return nil
	})
	return f
}

// paint draws every pixel of f (v, v+1, v+2, 0xff), row by row with f's stride.
func paint(f *game.Frame, v byte) {
	for y := range f.Height {
		row := f.Pix[y*f.Stride : y*f.Stride+4*f.Width]
		for i := 0; i < len(row); i += 4 {
			row[i], row[i+1], row[i+2], row[i+3] = v, v+1, v+2, 0xff
		}
	}
}

// lentSlotOf returns the slot whose pixels, in g's own mapping, f's are (f aliases the shared
// memory: no copy), or -1 when they are none's.
func lentSlotOf(g *Game, f *game.Frame) int {
	for k := range int(g.pool.NSlots) {
		if pl := g.pool.Plane(g.pool.Slot(g.mem, k), 0); &pl[0] == &f.Pix[0] && len(f.Pix) >= f.Stride*f.Height {
			return k
		}
	}
	return -1
}

// hostSees checks that the host's own mapping of slot k holds the picture paint(v) drew, and
// that the padding past each row is untouched.
func (h *fakeHost) hostSees(k int, v byte) {
	h.tb.Helper()
	px := h.pool.Plane(h.pool.Slot(h.mem, k), 0)
	stride := int(h.pool.Planes[0].Stride)
	for y := range int(h.pool.Height) {
		for x := range int(h.pool.Width) {
			if p := px[y*stride+4*x:]; p[0] != v || p[1] != v+1 || p[2] != v+2 || p[3] != 0xff {
				h.tb.Fatalf("slot %d: pixel (%d,%d) is %v, want %d", k, x, y, p[:4], v)
			}
		}
		if pad := px[y*stride+4*int(h.pool.Width)]; pad != 0 {
			h.tb.Fatalf("slot %d: the padding of row %d was written: %d", k, y, pad)
		}
	}
}

// startSource brings a Serve of a sourceGame to started over a 3-slot pool whose rows are
// padded (stride 320 for 64 pixels).
func startSource(tb testing.TB, f *sourceGame, cfg ServeConfig) (*fakeHost, *Game, *serving) {
	tb.Helper()
	h, conn := newLink(tb)
	h.send(testWelcome())
	p, _ := gameproto.NewBufferPool(gameproto.RGBA, 64, 32, 3)
	p.Planes[0].Stride, p.SlotSize = 320, 4096*3
	h.sendPoolLayout(p)
	g, err := New(conn, Config{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = g.Close() })
	h.expect(gameproto.TypeHello)
	s := serveGame(tb, g, f.factory, cfg)
	assignAndJoin(h)
	waitClosed(tb, f.started, "Run starts")
	return h, g, s
}

// TestServeFrameSource: a game.FrameSource renders straight into the slots, which Serve
// submits as they are (no copy); a slot is lent to one frame at a time, a frame replaced in
// the mailbox or dropped by the game is lent again, get gives nil while the host holds every
// slot, a release makes the slot lendable again, and the slot the game holds at the end goes
// back to the Game.
func TestServeFrameSource(t *testing.T) {
	defer test.CheckRoutines(t)()
	f := newSourceGame()
	h, g, s := startSource(t, f, ServeConfig{Marker: true})
	if f.get == nil {
		t.Fatal("no frame source for a game.FrameSource")
	}

	// Every slot is lent, each once, over the shared memory with the pool's stride.
	var lent [3]*game.Frame
	var slot [3]int
	for i := range lent {
		fr := f.take(t)
		if fr == nil {
			t.Fatalf("get %d: nil with %d slots free", i, 3-i)
		}
		if fr.Width != 64 || fr.Height != 32 || fr.Stride != 320 || fr.Format != game.RGBA {
			t.Fatalf("lent frame %dx%d stride %d format %s", fr.Width, fr.Height, fr.Stride, fr.Format)
		}
		lent[i], slot[i] = fr, lentSlotOf(g, fr)
		if slot[i] < 0 {
			t.Fatalf("lent frame %d is not over a slot's memory", i)
		}
		for j := range i {
			if slot[j] == slot[i] {
				t.Fatalf("slot %d lent twice", slot[i])
			}
		}
	}
	if fr := f.take(t); fr != nil {
		t.Fatalf("a fourth frame lent, over slot %d", lentSlotOf(g, fr))
	}

	// A frame the game sends is submitted in its own slot: the host sees the game's pixels.
	a, b, c := lent[0], lent[1], lent[2]
	f.do(t, func(sink func(*game.Frame)) error {
		paint(a, 10)
		a.InputSeq, a.Ready = 7, time.Now()
		sink(a)
		return nil
	})
	fr := h.expect(gameproto.TypeFrameReady).(gameproto.FrameReady)
	if int(fr.Slot) != slot[0] || fr.Seq != 1 || fr.InputSeq != 7 || fr.Flags != gameproto.FrameMarker {
		t.Fatalf("frame_ready %#v, want slot %d", fr, slot[0])
	}
	h.hostSees(slot[0], 10)

	// While the loop is busy, b is replaced in the mailbox by c: c goes out, b is lent again.
	h.send(gameproto.PlayerAway{Player: 0})
	waitClosed(t, f.held, "the loop is held")
	f.do(t, func(sink func(*game.Frame)) error {
		paint(b, 20)
		paint(c, 30)
		sink(b)
		sink(c)
		return nil
	})
	f.resume <- struct{}{}
	if fr := h.expect(gameproto.TypeFrameReady).(gameproto.FrameReady); int(fr.Slot) != slot[2] || fr.Seq != 2 {
		t.Fatalf("frame_ready %#v, want c's slot %d", fr, slot[2])
	}
	h.hostSees(slot[2], 30)
	h.sync(f.fakeGame)
	if fr := f.take(t); fr == nil || lentSlotOf(g, fr) != slot[1] {
		t.Fatal("the superseded frame's slot is not lent again")
	}
	if fr := f.take(t); fr != nil {
		t.Fatalf("slot %d lent while the game holds b's and the host the others", lentSlotOf(g, fr))
	}

	// A frame the game drops is lent again, once.
	f.do(t, func(func(*game.Frame)) error {
		b.Release()
		return nil
	})
	h.sync(f.fakeGame)
	if b = f.take(t); b == nil || lentSlotOf(g, b) != slot[1] {
		t.Fatal("the dropped frame's slot is not lent again")
	}
	if fr := f.take(t); fr != nil {
		t.Fatalf("slot %d lent twice", lentSlotOf(g, fr))
	}

	// With every slot at the host, get gives nil; a release lends the slot again, which holds
	// its old picture.
	f.do(t, func(sink func(*game.Frame)) error {
		paint(b, 40)
		sink(b)
		return nil
	})
	if fr := h.expect(gameproto.TypeFrameReady).(gameproto.FrameReady); int(fr.Slot) != slot[1] || fr.Seq != 3 {
		t.Fatalf("frame_ready %#v, want slot %d", fr, slot[1])
	}
	h.hostSees(slot[1], 40)
	h.sync(f.fakeGame)
	if fr := f.take(t); fr != nil {
		t.Fatalf("slot %d lent while the host holds it", lentSlotOf(g, fr))
	}
	h.send(gameproto.Release{Slot: uint8(slot[0])})
	h.sync(f.fakeGame)
	a = f.take(t)
	if a == nil || lentSlotOf(g, a) != slot[0] {
		t.Fatal("the released slot is not lent again")
	}
	if a.Pix[0] != 10 || a.Seq != 0 || a.InputSeq != 0 {
		t.Fatalf("the lent again frame: pixel %d, seq %d, input seq %d; want the old picture in a fresh frame", a.Pix[0], a.Seq, a.InputSeq)
	}
	if fr := f.take(t); fr != nil {
		t.Fatal("a slot lent twice")
	}

	// The player leaves while the game holds a: the counts add up, and a is the Game's again.
	h.send(gameproto.PlayerLeft{Player: 0})
	var summary string
	for _, m := range h.rest() {
		switch m := m.(type) {
		case gameproto.FrameReady:
			t.Errorf("frame_ready %#v at the end", m)
		case gameproto.Log:
			summary = m.Text
		}
	}
	if want := "gamesdk.Serve: 3 frames sent, 5 skipped (no free slot), 1 superseded;"; !strings.HasPrefix(summary, want) {
		t.Errorf("summary %q, want %q…", summary, want)
	}
	if err := s.wait(t); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, f.done, "Run returns")
	for k, st := range g.slots[:3] {
		if want := map[bool]slotState{true: slotFree, false: slotHost}[k == slot[0]]; st != want {
			t.Errorf("slot %d is %s after Serve, want %s", k, st, want)
		}
	}
}

// TestServeFrameSourceStuck: when Run is stuck, the slots it was lent stay mapped after the
// Game's Close, for the stuck game may still render into them.
func TestServeFrameSourceStuck(t *testing.T) {
	defer test.CheckRoutines(t)()
	f := newSourceGame()
	f.stuck = make(chan struct{})
	h, g, s := startSource(t, f, ServeConfig{StopTimeout: 50 * time.Millisecond})
	fr := f.take(t)
	if fr == nil {
		t.Fatal("no frame lent")
	}
	h.send(gameproto.PlayerLeft{Player: 0})
	if err := s.wait(t); !errors.Is(err, ErrStuck) {
		t.Fatalf("Serve: %v, want ErrStuck", err)
	}
	if m := h.next(); m.Type() != gameproto.TypeFatal {
		t.Fatalf("got %#v, want fatal", m)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	paint(fr, 1) // the stuck game renders on: an unmapped slot would crash the process here
	close(f.stuck)
	waitClosed(t, f.done, "the stuck Run returns")
}
