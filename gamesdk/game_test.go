package gamesdk

import (
	"encoding/binary"
	"errors"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/pion/transport/v5/test"

	"github.com/edgeplay/edgeplay/gameproto"
	"github.com/edgeplay/edgeplay/input"
)

// TestLifecycle plays a whole session against the fake host: hello → welcome → pool → ready →
// assign → started → frames submitted and released → input → shutdown → End with a result,
// and checks that nothing leaks.
func TestLifecycle(t *testing.T) {
	defer test.CheckRoutines(t)()
	before := openFDs(t)
	t.Run("session", func(t *testing.T) {
		h, g := start(t, Config{})
		if w := g.Welcome(); w.Width != 64 || w.FPS != 60 {
			t.Fatalf("welcome %#v", w)
		}
		if err := g.Loading(3 * time.Second); err != nil {
			t.Fatal(err)
		}
		if m := h.recvSkipPings(); m != (gameproto.Loading{UntilMS: 3000}) {
			t.Fatalf("got %#v", m)
		}
		if f, ok := g.AcquireFrame(); ok {
			t.Fatalf("acquired %v before started", f.Slot)
		}
		toStarted(t, h, g)
		if m := h.recvSkipPings(); m.Type() != gameproto.TypeReady {
			t.Fatalf("got %v", m.Type())
		}
		if m := h.recvSkipPings(); m.Type() != gameproto.TypeStarted {
			t.Fatalf("got %v", m.Type())
		}
		if g.Session() != "s1" {
			t.Errorf("session %q", g.Session())
		}

		// Input arrives decoded.
		in := &gameproto.Input{Player: 0}
		in.Add(input.Event{Type: input.KeyDown, Seq: 7, Code: 4, Down: true})
		in.Add(input.Event{Type: input.MouseMove, Seq: 8, DX: 3, DY: -2})
		h.send(in)
		ev := poll(t, g).(Input)
		if ev.Player != 0 || len(ev.Events) != 2 || ev.Events[0].Seq != 7 || ev.Events[1].DX != 3 {
			t.Fatalf("input %#v", ev)
		}

		// Two frames: the host sees the pixels in its own mapping, seq and pts increase.
		var last gameproto.FrameReady
		for i := range 2 {
			f, ok := g.AcquireFrame()
			if !ok {
				t.Fatal("no free slot")
			}
			if f.Format != gameproto.RGBA || f.Width != 64 || f.Height != 32 || f.Strides[0] < 4*64 || f.Planes[1] != nil {
				t.Fatalf("frame %#v", f)
			}
			f.Planes[0][0] = byte(0x40 + i)
			f.Planes[0][len(f.Planes[0])-1] = 0xee
			slot := f.Slot
			if err := g.SubmitFrame(f, 8); err != nil {
				t.Fatal(err)
			}
			fr, ok := h.recvSkipPings().(gameproto.FrameReady)
			if !ok || int(fr.Slot) != slot || fr.InputSeq != 8 || fr.Seq != uint64(i+1) || fr.PTS < last.PTS {
				t.Fatalf("frame_ready %#v after %#v", fr, last)
			}
			last = fr
			px := h.pool.Plane(h.pool.Slot(h.mem, slot), 0)
			if px[0] != byte(0x40+i) || px[len(px)-1] != 0xee {
				t.Fatalf("host sees %x … %x", px[0], px[len(px)-1])
			}
			h.send(gameproto.Release{Slot: fr.Slot})
			if ev := poll(t, g); ev != (Released{Slot: slot}) {
				t.Fatalf("got %#v", ev)
			}
		}

		h.send(gameproto.PlayerAway{Player: 0})
		h.send(gameproto.PlayerBack{Player: 0})
		h.send(gameproto.Drain{DeadlineMS: 5000})
		h.send(gameproto.Shutdown{GraceMS: 1000})
		for _, want := range []Event{PlayerAway{0}, PlayerBack{0}} {
			if ev := poll(t, g); ev != want {
				t.Fatalf("got %#v, want %#v", ev, want)
			}
		}
		if d, ok := poll(t, g).(Drain); !ok || time.Until(d.Deadline) > 5*time.Second || time.Until(d.Deadline) < 4*time.Second {
			t.Fatalf("drain %#v", d)
		}
		if _, ok := poll(t, g).(Shutdown); !ok {
			t.Fatal("no shutdown")
		}
		if err := g.End(`{"score":1200}`); err != nil {
			t.Fatal(err)
		}
		if m := h.recvSkipPings(); m != (gameproto.Ending{Result: `{"score":1200}`}) {
			t.Fatalf("got %#v", m)
		}
		if err := g.Started(); !errors.Is(err, ErrState) {
			t.Errorf("started after end: %v", err)
		}
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
		if err := g.Close(); err != nil {
			t.Fatal("second close:", err)
		}
		if _, err := g.Poll(0); !errors.Is(err, ErrClosed) {
			t.Errorf("poll after close: %v", err)
		}
	})
	if after := openFDs(t); after != before {
		t.Errorf("open fds %d → %d", before, after)
	}
}

// TestSlotOwnership: no slot is handed out twice, acquire fails while every slot is with the
// host or the game, a release frees exactly its slot, and frames cannot be submitted twice.
func TestSlotOwnership(t *testing.T) {
	h, g := start(t, Config{})
	toStarted(t, h, g)
	var frames []*Frame
	seen := map[int]bool{}
	for range 3 {
		f, ok := g.AcquireFrame()
		if !ok || seen[f.Slot] {
			t.Fatalf("acquire: %v %v", f, ok)
		}
		seen[f.Slot] = true
		frames = append(frames, f)
	}
	if f, ok := g.AcquireFrame(); ok {
		t.Fatalf("acquired slot %d with every slot taken", f.Slot)
	}
	if err := g.Discard(frames[2]); err != nil {
		t.Fatal(err)
	}
	for _, f := range frames[:2] {
		if err := g.SubmitFrame(f, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.SubmitFrame(frames[0], 0); !errors.Is(err, ErrState) {
		t.Errorf("second submit: %v", err)
	}
	if err := g.SubmitFrame(&Frame{Slot: 0}, 0); !errors.Is(err, ErrArg) {
		t.Errorf("foreign frame: %v", err)
	}
	if err := g.SubmitFrame(nil, 0); !errors.Is(err, ErrArg) {
		t.Errorf("nil frame: %v", err)
	}
	f, ok := g.AcquireFrame()
	if !ok || f.Slot != frames[2].Slot {
		t.Fatalf("acquire the discarded slot: %v %v", f, ok)
	}
	if _, ok := g.AcquireFrame(); ok {
		t.Fatal("acquired with two slots at the host and one at the game")
	}
	h.send(gameproto.Release{Slot: 1})
	if ev := poll(t, g); ev != (Released{Slot: 1}) {
		t.Fatalf("got %#v", ev)
	}
	if f, ok := g.AcquireFrame(); !ok || f.Slot != 1 {
		t.Fatalf("acquire after release: %v %v", f, ok)
	}
	if _, ok := g.AcquireFrame(); ok {
		t.Fatal("slot 0 is still the host's")
	}
	var seqs []uint64
	for _, m := range h.drain() {
		if fr, ok := m.(gameproto.FrameReady); ok {
			seqs = append(seqs, fr.Seq)
		}
	}
	if len(seqs) != 2 || seqs[0] != 1 || seqs[1] != 2 {
		t.Errorf("seqs %v", seqs)
	}
}

// TestI420Frame: a planar pool gives three planes with the host's offsets and strides.
func TestI420Frame(t *testing.T) {
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
	toStarted(t, h, g)
	f, ok := g.AcquireFrame()
	if !ok {
		t.Fatal("no slot")
	}
	for i, n := range []int{64 * 32, 32 * 16, 32 * 16} {
		if f.Planes[i] == nil || f.Strides[i] != int(h.pool.Planes[i].Stride) || len(f.Planes[i]) < n {
			t.Fatalf("plane %d: %d bytes, stride %d", i, len(f.Planes[i]), f.Strides[i])
		}
		f.Planes[i][0] = byte(i + 1)
	}
	slot := f.Slot
	if err := g.SubmitFrame(f, 0); err != nil {
		t.Fatal(err)
	}
	s := h.pool.Slot(h.mem, slot)
	for i := range 3 {
		if h.pool.Plane(s, i)[0] != byte(i+1) {
			t.Errorf("plane %d not shared", i)
		}
	}
}

func header(t gameproto.Type, flags uint16, payload ...byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, uint16(t))
	b = binary.LittleEndian.AppendUint16(b, flags)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

// TestHostErrors: whatever the host sends that the protocol forbids is an error wrapping
// ErrProtocol, and breaks the Game.
func TestHostErrors(t *testing.T) {
	cases := []struct {
		name    string
		started bool // bring the game to started first
		host    func(h *fakeHost)
	}{
		{"garbage", false, func(h *fakeHost) { h.sendRaw([]byte{1, 2, 3}) }},
		{"bad length", false, func(h *fakeHost) { h.sendRaw(append(header(gameproto.TypeRelease, 0, 0), 0)) }},
		{"unknown type", false, func(h *fakeHost) { h.sendRaw(header(200, 0)) }},
		{"game's type", false, func(h *fakeHost) { h.sendRaw(header(gameproto.TypePing, 0)) }},
		{"release of a slot past the pool", true, func(h *fakeHost) { h.send(gameproto.Release{Slot: 5}) }},
		{"release of a free slot", true, func(h *fakeHost) { h.send(gameproto.Release{Slot: 0}) }},
		{"audio release", true, func(h *fakeHost) { h.send(gameproto.AudioRelease{Slot: 0}) }},
		{"assign before ready", false, func(h *fakeHost) { h.send(gameproto.Assign{Session: "s"}) }},
		{"second assign", true, func(h *fakeHost) { h.send(gameproto.Assign{Session: "s2"}) }},
		{"second welcome", false, func(h *fakeHost) { h.send(testWelcome()) }},
		{"player before assign", false, func(h *fakeHost) { h.send(gameproto.PlayerJoined{Player: 1, ID: "x"}) }},
		{"joined twice", true, func(h *fakeHost) { h.send(gameproto.PlayerJoined{Player: 0, ID: "x"}) }},
		{"left unknown player", true, func(h *fakeHost) { h.send(gameproto.PlayerLeft{Player: 3}) }},
		{"back without away", true, func(h *fakeHost) { h.send(gameproto.PlayerBack{Player: 0}) }},
		{"input from unknown player", true, func(h *fakeHost) {
			in := &gameproto.Input{Player: 2}
			in.Add(input.Event{Type: input.KeyDown, Seq: 1, Code: 4, Down: true})
			h.send(in)
		}},
		{"bad input record", true, func(h *fakeHost) {
			h.sendRaw(header(gameproto.TypeInput, 0, 0, 1, 2, 0xff, 0xff))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, g := start(t, Config{})
			if c.started {
				toStarted(t, h, g)
			} else if c.name != "assign before ready" {
				if err := g.Ready(); err != nil {
					t.Fatal(err)
				}
			}
			c.host(h)
			ev, err := g.Poll(5 * time.Second)
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("got %#v, %v; want a protocol error", ev, err)
			}
			t.Log(err)
			if _, err2 := g.Poll(0); !errors.Is(err2, ErrProtocol) {
				t.Errorf("not sticky: %v", err2)
			}
			if err := g.Ping(); !errors.Is(err, ErrProtocol) {
				t.Errorf("ping after the error: %v", err)
			}
			if err := g.Fatal("host broke the protocol"); err != nil {
				t.Errorf("fatal after the error: %v", err)
			}
		})
	}
}

// TestIgnorable: an unknown message marked ignorable is skipped.
func TestIgnorable(t *testing.T) {
	h, g := start(t, Config{})
	h.sendRaw(header(200, gameproto.FlagIgnorable, 1, 2, 3))
	h.send(gameproto.Drain{DeadlineMS: 10})
	if _, ok := poll(t, g).(Drain); !ok {
		t.Fatal("no drain")
	}
}

// TestHostClosed: the host's close is ErrHostGone.
func TestHostClosed(t *testing.T) {
	h, g := start(t, Config{})
	h.close()
	if _, err := g.Poll(5 * time.Second); !errors.Is(err, ErrHostGone) {
		t.Fatalf("got %v", err)
	}
}

// TestHandshakeErrors: a handshake the game cannot accept fails New, which leaks nothing.
func TestHandshakeErrors(t *testing.T) {
	welcomeWith := func(f func(*gameproto.Welcome)) gameproto.Welcome {
		w := testWelcome()
		f(&w)
		return w
	}
	cases := []struct {
		name string
		want error
		host func(h *fakeHost)
	}{
		{"major 2", ErrVersion, func(h *fakeHost) {
			b := welcomeWith(func(*gameproto.Welcome) {}).Append(nil)
			binary.LittleEndian.PutUint16(b[gameproto.HeaderSize:], 2)
			h.sendRaw(b)
		}},
		{"pool before welcome", ErrProtocol, func(h *fakeHost) { h.sendPool(gameproto.RGBA, 64, 32, 3) }},
		{"caps not announced", ErrProtocol, func(h *fakeHost) {
			h.send(welcomeWith(func(w *gameproto.Welcome) { w.Caps |= gameproto.CapNV12 }))
		}},
		{"minor from the future", ErrProtocol, func(h *fakeHost) {
			h.send(welcomeWith(func(w *gameproto.Welcome) { w.Minor = 1 }))
		}},
		{"format not agreed", ErrProtocol, func(h *fakeHost) {
			h.send(testWelcome())
			h.sendPool(gameproto.I420, 64, 32, 3)
		}},
		{"pool size differs", ErrProtocol, func(h *fakeHost) {
			h.send(testWelcome())
			h.sendPool(gameproto.RGBA, 128, 32, 3)
		}},
		{"unsealed memfd", ErrProtocol, func(h *fakeHost) {
			h.send(testWelcome())
			p, _ := gameproto.NewBufferPool(gameproto.RGBA, 64, 32, 3)
			f, err := os.CreateTemp(h.tb.TempDir(), "pool")
			if err != nil {
				h.tb.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(p.Size()); err != nil {
				h.tb.Fatal(err)
			}
			if err := h.conn.Send(p, int(f.Fd())); err != nil {
				h.tb.Fatal(err)
			}
		}},
		{"host gone", ErrHostGone, func(h *fakeHost) { h.close() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := openFDs(t)
			func() {
				h, conn := newLink(t)
				defer h.close()
				c.host(h)
				g, err := New(conn, Config{HandshakeTimeout: 5 * time.Second})
				if !errors.Is(err, c.want) {
					t.Fatalf("got %v, %v; want %v", g, err, c.want)
				}
				t.Log(err)
			}()
			if after := openFDs(t); after != before {
				t.Errorf("open fds %d → %d", before, after)
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		_, conn := newLink(t)
		if _, err := New(conn, Config{HandshakeTimeout: 20 * time.Millisecond}); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("got %v", err)
		}
	})
}

// TestPingRateLimit: Poll and SubmitFrame ping at most once a second, on the game's clock.
func TestPingRateLimit(t *testing.T) {
	h, g := start(t, Config{})
	now := time.Unix(1000, 0)
	g.now = func() time.Time { return now }
	pings := func() int {
		t.Helper()
		n := 0
		for _, m := range h.drain() {
			if m.Type() == gameproto.TypePing {
				n++
			}
		}
		return n
	}
	for range 5 {
		if _, err := g.Poll(0); err != nil {
			t.Fatal(err)
		}
	}
	if n := pings(); n != 1 {
		t.Fatalf("%d pings from 5 polls at one instant", n)
	}
	now = now.Add(999 * time.Millisecond)
	if _, err := g.Poll(0); err != nil {
		t.Fatal(err)
	}
	if n := pings(); n != 0 {
		t.Fatalf("%d pings after 999 ms", n)
	}
	now = now.Add(time.Millisecond)
	if _, err := g.Poll(0); err != nil {
		t.Fatal(err)
	}
	if n := pings(); n != 1 {
		t.Fatalf("%d pings after 1 s", n)
	}

	toStarted(t, h, g)
	_ = pings()
	now = now.Add(time.Second)
	for range 3 {
		f, ok := g.AcquireFrame()
		if !ok {
			t.Fatal("no slot")
		}
		if err := g.SubmitFrame(f, 0); err != nil {
			t.Fatal(err)
		}
	}
	if n := pings(); n != 1 {
		t.Fatalf("%d pings from 3 frames", n)
	}
}

// TestPollWaitPings: a Poll that waits longer than the heartbeat pings while it waits.
func TestPollWaitPings(t *testing.T) {
	h, conn := newLink(t)
	w := testWelcome()
	w.HeartbeatMS = 100 // ping every 50 ms
	h.send(w)
	h.sendPool(gameproto.RGBA, 64, 32, 3)
	g, err := New(conn, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if ev, err := g.Poll(300 * time.Millisecond); ev != nil || err != nil {
		t.Fatal(ev, err)
	}
	n := 0
	for _, m := range h.drain() {
		if m.Type() == gameproto.TypePing {
			n++
		}
	}
	if n < 2 {
		t.Fatalf("%d pings during a 300 ms poll with a 100 ms heartbeat", n)
	}
}

// TestGameErrors: calls out of order or out of range are refused before they reach the host.
func TestGameErrors(t *testing.T) {
	h, g := start(t, Config{})
	checks := []struct {
		name string
		err  error
		want error
	}{
		{"started before assign", g.Started(), ErrState},
		{"loading 0", g.Loading(0), ErrArg},
		{"loading too long", g.Loading(11 * time.Minute), ErrArg},
		{"log level", g.Log(9, "x"), ErrArg},
		{"log not utf-8", g.Log(LevelInfo, "\xff"), ErrArg},
		{"end not an object", g.End(`[1]`), ErrArg},
		{"end not json", g.End(`{`), ErrArg},
	}
	for _, c := range checks {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.err, c.want)
		}
	}
	long := make([]byte, gameproto.MaxText+10)
	for i := range long {
		long[i] = 'a'
	}
	copy(long[gameproto.MaxText-1:], "é")
	if err := g.Log(LevelWarn, string(long)); err != nil {
		t.Fatal(err)
	}
	if m, ok := h.recvSkipPings().(gameproto.Log); !ok || len(m.Text) != gameproto.MaxText-1 {
		t.Fatalf("long log: %d bytes", len(m.Text))
	}
	if err := g.Ready(); err != nil {
		t.Fatal(err)
	}
	if err := g.Ready(); !errors.Is(err, ErrState) {
		t.Errorf("second ready: %v", err)
	}
	if err := g.Loading(time.Second); !errors.Is(err, ErrState) {
		t.Errorf("loading after ready: %v", err)
	}
	if err := g.Fatal("out of memory"); err != nil {
		t.Fatal(err)
	}
	if m := h.recvSkipPings(); m.Type() != gameproto.TypeReady {
		t.Fatalf("got %v", m.Type())
	}
	if m := h.recvSkipPings(); m != (gameproto.Fatal{Text: "out of memory"}) {
		t.Fatalf("got %#v", m)
	}
	if err := g.End(""); !errors.Is(err, ErrState) {
		t.Errorf("end after fatal: %v", err)
	}
}

// TestOpen: Open finds the link through EDGEPLAY_FD.
func TestOpen(t *testing.T) {
	host, f, err := gameproto.Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	fd, err := syscall.Dup(int(f.Fd()))
	_ = f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvFD, strconv.Itoa(fd))
	if err := host.Send(testWelcome()); err != nil {
		t.Fatal(err)
	}
	p, _ := gameproto.NewBufferPool(gameproto.RGBA, 64, 32, 3)
	mf, err := gameproto.NewMemfd("open-test", p.Size())
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	if err := host.Send(p, int(mf.Fd())); err != nil {
		t.Fatal(err)
	}
	g, err := Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.Pool() != p {
		t.Fatalf("pool %#v", g.Pool())
	}
	t.Setenv(EnvFD, "three")
	if _, err := Open(Config{}); !errors.Is(err, ErrArg) {
		t.Errorf("bad %s: %v", EnvFD, err)
	}
}

// TestPoolChange: the host may register a new pool while every slot is the game's, not while
// it holds one.
func TestPoolChange(t *testing.T) {
	h, g := start(t, Config{})
	toStarted(t, h, g)
	h.sendPool(gameproto.RGBA, 64, 32, 2)
	if ev, ok := poll(t, g).(PoolChanged); !ok || ev.Pool.NSlots != 2 || g.Pool().NSlots != 2 {
		t.Fatalf("got %#v", ev)
	}
	f, ok := g.AcquireFrame()
	if !ok {
		t.Fatal("no slot in the new pool")
	}
	f.Planes[0][0] = 0x5a
	slot := f.Slot
	if err := g.SubmitFrame(f, 0); err != nil {
		t.Fatal(err)
	}
	if px := h.pool.Plane(h.pool.Slot(h.mem, slot), 0); px[0] != 0x5a {
		t.Fatalf("new pool not shared: %x", px[0])
	}
	h.sendPool(gameproto.RGBA, 64, 32, 3)
	if _, err := g.Poll(5 * time.Second); !errors.Is(err, ErrProtocol) {
		t.Fatalf("pool while the host holds a slot: %v", err)
	}
}

// TestAudioPool: with audio agreed, the handshake maps the audio pool too.
func TestAudioPool(t *testing.T) {
	h, conn := newLink(t)
	w := testWelcome()
	w.Caps |= gameproto.CapAudio
	h.send(w)
	h.sendPool(gameproto.RGBA, 64, 32, 3)
	ap, err := gameproto.NewAudioPool(gameproto.S16, 480, 4)
	if err != nil {
		t.Fatal(err)
	}
	mf, err := gameproto.NewMemfd("audio-test", ap.Size())
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	if err := h.conn.Send(ap, int(mf.Fd())); err != nil {
		t.Fatal(err)
	}
	g, err := New(conn, Config{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if got, ok := g.AudioPool(); !ok || got != ap {
		t.Fatalf("audio pool %#v %v", got, ok)
	}
}
