package gamesdk

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/gameproto"
)

// fakeHost is the host's end of a link, written from gameproto: it registers a real sealed
// memfd and reads the game's pixels through its own mapping.
type fakeHost struct {
	tb   testing.TB
	conn *gameproto.Conn
	raw  *net.UnixConn // the same socket, for datagrams gameproto would refuse to send
	pool gameproto.BufferPool
	mem  []byte

	audio    gameproto.AudioPool
	audioMem []byte
}

func testWelcome() gameproto.Welcome {
	return gameproto.Welcome{
		Major: gameproto.Major, Minor: gameproto.Minor, Caps: gameproto.CapInput,
		Width: 64, Height: 32, FPS: 60, Formats: 1<<gameproto.RGBA | 1<<gameproto.I420,
		HeartbeatMS: 2000, ReadyTimeoutMS: 60_000, ReadyCapMS: 600_000,
		StartedTimeoutMS: 10_000, StallTimeoutMS: 3000,
	}
}

// newLink makes a link: the host's end as a fakeHost, the game's as a Conn.
func newLink(tb testing.TB) (*fakeHost, *gameproto.Conn) {
	tb.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	hf := os.NewFile(uintptr(fds[0]), "host")
	c, err := net.FileConn(hf)
	_ = hf.Close()
	if err != nil {
		tb.Fatal(err)
	}
	game, err := gameproto.FileConn(os.NewFile(uintptr(fds[1]), "game"))
	if err != nil {
		tb.Fatal(err)
	}
	raw := c.(*net.UnixConn)
	h := &fakeHost{tb: tb, conn: gameproto.NewConn(raw), raw: raw}
	tb.Cleanup(h.close)
	return h, game
}

func (h *fakeHost) close() {
	_ = h.conn.Close()
	if h.mem != nil {
		_ = gameproto.Unmap(h.mem)
		h.mem = nil
	}
	if h.audioMem != nil {
		_ = gameproto.Unmap(h.audioMem)
		h.audioMem = nil
	}
}

func (h *fakeHost) send(m gameproto.Message) {
	h.tb.Helper()
	if err := h.conn.Send(m); err != nil {
		h.tb.Fatal(err)
	}
}

// sendRaw sends one datagram as it is.
func (h *fakeHost) sendRaw(b []byte) {
	h.tb.Helper()
	if _, err := h.raw.Write(b); err != nil {
		h.tb.Fatal(err)
	}
}

// sendPool creates, seals, maps and registers a pool of n slots in format f.
func (h *fakeHost) sendPool(f gameproto.PixelFormat, w, ht, n int) {
	h.tb.Helper()
	p, err := gameproto.NewBufferPool(f, w, ht, n)
	if err != nil {
		h.tb.Fatal(err)
	}
	h.sendPoolLayout(p)
}

// sendPoolLayout creates, seals, maps and registers the pool p, laid out as it says.
func (h *fakeHost) sendPoolLayout(p gameproto.BufferPool) {
	h.tb.Helper()
	mf, err := gameproto.NewMemfd("gamesdk-test", p.Size())
	if err != nil {
		h.tb.Fatal(err)
	}
	defer mf.Close()
	mem, err := gameproto.Map(int(mf.Fd()), p.Size())
	if err != nil {
		h.tb.Fatal(err)
	}
	if h.mem != nil {
		_ = gameproto.Unmap(h.mem)
	}
	h.pool, h.mem = p, mem
	if err := h.conn.Send(p, int(mf.Fd())); err != nil {
		h.tb.Fatal(err)
	}
}

// sendAudioPool creates, seals, maps and registers the audio pool p.
func (h *fakeHost) sendAudioPool(p gameproto.AudioPool) {
	h.tb.Helper()
	mf, err := gameproto.NewMemfd("gamesdk-audio-test", p.Size())
	if err != nil {
		h.tb.Fatal(err)
	}
	defer mf.Close()
	mem, err := gameproto.Map(int(mf.Fd()), p.Size())
	if err != nil {
		h.tb.Fatal(err)
	}
	if h.audioMem != nil {
		_ = gameproto.Unmap(h.audioMem)
	}
	h.audio, h.audioMem = p, mem
	if err := h.conn.Send(p, int(mf.Fd())); err != nil {
		h.tb.Fatal(err)
	}
}

// startAudio is start with audio agreed: the host's welcome has the audio cap, and the audio
// pool ap follows the RGBA pool of 3 slots.
func startAudio(tb testing.TB, ap gameproto.AudioPool) (*fakeHost, *Game) {
	tb.Helper()
	h, conn := newLink(tb)
	w := testWelcome()
	w.Caps |= gameproto.CapAudio
	h.send(w)
	h.sendPool(gameproto.RGBA, 64, 32, 3)
	h.sendAudioPool(ap)
	g, err := New(conn, Config{Audio: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = g.Close() })
	if hello, ok := h.recv().(gameproto.Hello); !ok || hello.Caps&gameproto.CapAudio == 0 {
		tb.Fatalf("hello %#v", hello)
	}
	return h, g
}

// recv reads the game's next message.
func (h *fakeHost) recv() gameproto.Message {
	h.tb.Helper()
	if err := h.conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		h.tb.Fatal(err)
	}
	m, _, err := h.conn.Recv()
	if err != nil {
		h.tb.Fatal(err)
	}
	return m
}

// recvSkipPings reads the game's next message that is not a ping.
func (h *fakeHost) recvSkipPings() gameproto.Message {
	h.tb.Helper()
	for {
		if m := h.recv(); m.Type() != gameproto.TypePing {
			return m
		}
	}
}

// drain reads what the game has sent until nothing more comes, and returns it.
func (h *fakeHost) drain() []gameproto.Message {
	h.tb.Helper()
	var got []gameproto.Message
	for {
		if err := h.conn.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
			h.tb.Fatal(err)
		}
		m, _, err := h.conn.Recv()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return got
		}
		if err != nil {
			h.tb.Fatal(err)
		}
		got = append(got, m)
	}
}

// start runs the handshake against New with the host's welcome and an RGBA pool of 3 slots
// queued, and checks the hello.
func start(tb testing.TB, cfg Config) (*fakeHost, *Game) {
	tb.Helper()
	h, conn := newLink(tb)
	h.send(testWelcome())
	h.sendPool(gameproto.RGBA, 64, 32, 3)
	g, err := New(conn, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = g.Close() })
	hello, ok := h.recv().(gameproto.Hello)
	if !ok || hello.Major != gameproto.Major || hello.SDK != SDKName || hello.Caps != cfg.caps() {
		tb.Fatalf("hello %#v", hello)
	}
	return h, g
}

// poll polls until an event comes, failing on an error.
func poll(tb testing.TB, g *Game) Event {
	tb.Helper()
	ev, err := g.Poll(5 * time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	if ev == nil {
		tb.Fatal("no event")
	}
	return ev
}

// toStarted brings g from loading to started with one player.
func toStarted(tb testing.TB, h *fakeHost, g *Game) {
	tb.Helper()
	if err := g.Ready(); err != nil {
		tb.Fatal(err)
	}
	h.send(gameproto.Assign{Session: "s1", Params: []byte("p")})
	h.send(gameproto.PlayerJoined{Player: 0, ID: "alice"})
	if ev := poll(tb, g); ev.(Assign).Session != "s1" {
		tb.Fatalf("got %#v", ev)
	}
	if ev := poll(tb, g); ev.(PlayerJoined).ID != "alice" {
		tb.Fatalf("got %#v", ev)
	}
	if err := g.Started(); err != nil {
		tb.Fatal(err)
	}
}

func openFDs(tb testing.TB) int {
	tb.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Skip("no /proc/self/fd:", err)
	}
	return len(ents)
}
