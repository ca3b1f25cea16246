package csdk

import (
	"encoding/binary"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgeplay/edgeplay/gameproto"
)

// fakeHost is the host's end of a link, written with gameproto (as gamesdk's tests do): it
// registers real sealed memfds and reads the game's pixels and samples through its own
// mappings.
type fakeHost struct {
	tb    testing.TB
	conn  *gameproto.Conn
	raw   *net.UnixConn // the same socket, for datagrams gameproto would refuse to send
	pool  gameproto.BufferPool
	mem   []byte
	apool gameproto.AudioPool
	amem  []byte
}

func testWelcome() gameproto.Welcome {
	return gameproto.Welcome{
		Major: gameproto.Major, Minor: gameproto.Minor, Caps: gameproto.CapInput,
		Width: 64, Height: 32, FPS: 60, Formats: 1<<gameproto.RGBA | 1<<gameproto.I420 | 1<<gameproto.NV12,
		HeartbeatMS: 2000, ReadyTimeoutMS: 60_000, ReadyCapMS: 600_000,
		StartedTimeoutMS: 10_000, StallTimeoutMS: 3000,
	}
}

// newLink makes a link: the host's end as a fakeHost, the game's as a file for the child's
// fd 3 (close it once the child started).
func newLink(tb testing.TB) (*fakeHost, *os.File) {
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
	raw := c.(*net.UnixConn)
	h := &fakeHost{tb: tb, conn: gameproto.NewConn(raw), raw: raw}
	tb.Cleanup(h.close)
	return h, os.NewFile(uintptr(fds[1]), "game")
}

func (h *fakeHost) close() {
	_ = h.conn.Close()
	if h.mem != nil {
		_ = gameproto.Unmap(h.mem)
		h.mem = nil
	}
	if h.amem != nil {
		_ = gameproto.Unmap(h.amem)
		h.amem = nil
	}
}

func (h *fakeHost) send(m gameproto.Message) {
	h.tb.Helper()
	if err := h.conn.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
		h.tb.Fatal(err)
	}
	if err := h.conn.Send(m); err != nil {
		h.tb.Fatal(err)
	}
}

// sendRaw sends one datagram as it is, with fds attached.
func (h *fakeHost) sendRaw(b []byte, fds ...int) {
	h.tb.Helper()
	var oob []byte
	if len(fds) > 0 {
		oob = syscall.UnixRights(fds...)
	}
	if err := h.raw.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
		h.tb.Fatal(err)
	}
	if _, _, err := h.raw.WriteMsgUnix(b, oob, nil); err != nil {
		h.tb.Fatal(err)
	}
}

// memfd makes a sealed memfd of size bytes; the test closes it at its end.
func (h *fakeHost) memfd(size int64) *os.File {
	h.tb.Helper()
	f, err := gameproto.NewMemfd("csdk-test", size)
	if err != nil {
		h.tb.Fatal(err)
	}
	h.tb.Cleanup(func() { _ = f.Close() })
	return f
}

// sendPool creates, seals, maps and registers a pool of n slots in format f.
func (h *fakeHost) sendPool(f gameproto.PixelFormat, w, ht, n int) {
	h.tb.Helper()
	p, err := gameproto.NewBufferPool(f, w, ht, n)
	if err != nil {
		h.tb.Fatal(err)
	}
	mf := h.memfd(p.Size())
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

// sendAudioPool creates, maps and registers an audio pool of n slots of frames frames.
func (h *fakeHost) sendAudioPool(f gameproto.SampleFormat, frames, n int) {
	h.tb.Helper()
	a, err := gameproto.NewAudioPool(f, frames, n)
	if err != nil {
		h.tb.Fatal(err)
	}
	mf := h.memfd(a.Size())
	mem, err := gameproto.Map(int(mf.Fd()), a.Size())
	if err != nil {
		h.tb.Fatal(err)
	}
	if h.amem != nil {
		_ = gameproto.Unmap(h.amem)
	}
	h.apool, h.amem = a, mem
	if err := h.conn.Send(a, int(mf.Fd())); err != nil {
		h.tb.Fatal(err)
	}
}

// recv reads the game's next message.
func (h *fakeHost) recv() gameproto.Message {
	h.tb.Helper()
	m, err := h.recvWithin(10 * time.Second)
	if err != nil {
		h.tb.Fatal(err)
	}
	return m
}

func (h *fakeHost) recvWithin(d time.Duration) (gameproto.Message, error) {
	if err := h.conn.SetReadDeadline(time.Now().Add(d)); err != nil {
		return nil, err
	}
	m, _, err := h.conn.Recv()
	return m, err
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

// recvType reads the game's messages until one of type t.
func (h *fakeHost) recvType(t gameproto.Type) gameproto.Message {
	h.tb.Helper()
	for {
		if m := h.recv(); m.Type() == t {
			return m
		}
	}
}

// drain reads what the game has sent until nothing more comes for 50 ms.
func (h *fakeHost) drain() []gameproto.Message {
	h.tb.Helper()
	var got []gameproto.Message
	for {
		m, err := h.recvWithin(50 * time.Millisecond)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return got
		}
		if err != nil {
			h.tb.Fatal(err)
		}
		got = append(got, m)
	}
}

func countPings(ms []gameproto.Message) int {
	n := 0
	for _, m := range ms {
		if m.Type() == gameproto.TypePing {
			n++
		}
	}
	return n
}

// header builds a datagram's header and payload as they are.
func header(t gameproto.Type, flags uint16, payload ...byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, uint16(t))
	b = binary.LittleEndian.AppendUint16(b, flags)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

// game starts the REPL on a new link with the host's welcome w and a pool of 3 slots in
// format f queued, opens the SDK with opts, and checks the hello.
func game(tb testing.TB, w gameproto.Welcome, f gameproto.PixelFormat, opts string) (*fakeHost, *proc) {
	tb.Helper()
	h, link := newLink(tb)
	h.send(w)
	h.sendPool(f, int(w.Width), int(w.Height), 3)
	if w.Caps&gameproto.CapAudio != 0 {
		h.sendAudioPool(gameproto.S16, 480, 4)
	}
	p := start(tb, replBin(tb), link, nil)
	_ = link.Close()
	p.ok("open %s", opts)
	hello, ok := h.recv().(gameproto.Hello)
	if !ok || hello.Major != 1 || hello.Minor != 0 || hello.SDK != "edgeplay-c/1.0.0" {
		tb.Fatalf("hello %#v", hello)
	}
	return h, p
}

// toStarted brings the game from loading to started with player 0.
func toStarted(tb testing.TB, h *fakeHost, p *proc) {
	tb.Helper()
	p.ok("ready")
	h.send(gameproto.Assign{Session: "s1", Params: []byte("p")})
	h.send(gameproto.PlayerJoined{Player: 0, ID: "alice"})
	if got := p.ok("poll 5000"); got != "assign id=s1 data=70" {
		tb.Fatalf("got %q", got)
	}
	if got := p.ok("poll 5000"); got != "joined player=0 id=alice data=" {
		tb.Fatalf("got %q", got)
	}
	p.ok("started")
}

// monotonic is CLOCK_MONOTONIC in ns, the clock of the pts.
func monotonic(tb testing.TB) uint64 {
	tb.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		tb.Fatal(err)
	}
	return uint64(ts.Nano())
}
