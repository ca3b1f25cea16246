package gameproto

import (
	"errors"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/pion/transport/v5/test"
)

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal("no /proc/self/fd (edgeplay runs on Linux):", err)
	}
	return len(ents)
}

func pair(t *testing.T) (host, game *Conn) {
	t.Helper()
	host, game, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = host.Close(); _ = game.Close() })
	return host, game
}

func TestConnMessages(t *testing.T) {
	defer test.CheckRoutines(t)()
	host, game := pair(t)
	if err := game.Send(Hello{Major: Major, Minor: Minor, Caps: CapInput, SDK: "go-test"}); err != nil {
		t.Fatal(err)
	}
	m, fds, err := host.Recv()
	if err != nil || len(fds) != 0 {
		t.Fatal(m, fds, err)
	}
	if h, ok := m.(Hello); !ok || h.SDK != "go-test" {
		t.Fatalf("got %#v", m)
	}
	in := testInput(t)
	if err := host.Send(in); err != nil {
		t.Fatal(err)
	}
	if m, _, err := game.Recv(); err != nil || m.(*Input).Len() != in.Len() {
		t.Fatal(m, err)
	}
	// Invalid messages and wrong fd counts are refused before they reach the socket.
	if err := host.Send(Release{Slot: 9}); !errors.Is(err, ErrField) {
		t.Errorf("send invalid: %v", err)
	}
	if err := host.Send(Release{Slot: 1}, 0); !errors.Is(err, ErrFDs) {
		t.Errorf("send with fd: %v", err)
	}
	if err := host.Send(mustPool(t, RGBA, 16, 16, 1)); !errors.Is(err, ErrFDs) {
		t.Errorf("send pool without fd: %v", err)
	}
	// Deadlines.
	if err := host.SetReadDeadline(time.Now().Add(10 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := host.Recv(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("recv past deadline: %v", err)
	}
	// The peer's close is io.EOF.
	_ = game.Close()
	if err := host.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := host.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("recv after close: %v", err)
	}
}

// TestConnBufferPool is the frame path: the host creates and seals a memfd, registers it, the
// game maps it and writes a frame, and the host reads the game's pixels through its own
// mapping. Then the other way round, to prove both map the same memory.
func TestConnBufferPool(t *testing.T) {
	defer test.CheckRoutines(t)()
	before := openFDs(t)
	func() {
		host, game, err := Pair()
		if err != nil {
			t.Fatal(err)
		}
		defer host.Close()
		defer game.Close()
		pool := mustPool(t, I420, 64, 32, 3)
		f, err := NewMemfd("edgeplay-test", pool.Size())
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		hostMem, err := Map(int(f.Fd()), pool.Size())
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = Unmap(hostMem) }()
		if err := host.Send(pool, int(f.Fd())); err != nil {
			t.Fatal(err)
		}

		m, fds, err := game.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if len(fds) != 1 || m != pool {
			t.Fatalf("got %v with %d fds", m, len(fds))
		}
		gp := m.(BufferPool)
		gameMem, err := Map(fds[0], gp.Size())
		_ = syscall.Close(fds[0]) // the mapping outlives the descriptor
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = Unmap(gameMem) }()
		// The game cannot resize what it was given.
		if err := syscall.Ftruncate(int(f.Fd()), 0); err == nil {
			t.Error("sealed memfd shrank")
		}

		y := gp.Plane(gp.Slot(gameMem, 2), 0)
		v := gp.Plane(gp.Slot(gameMem, 2), 2)
		y[0], y[len(y)-1], v[len(v)-1] = 0x10, 0xeb, 0x80
		if err := game.Send(FrameReady{Slot: 2, Seq: 1, InputSeq: 5, PTS: 1}); err != nil {
			t.Fatal(err)
		}
		m, _, err = host.Recv()
		if err != nil {
			t.Fatal(err)
		}
		fr := m.(FrameReady)
		if err := pool.Check(fr); err != nil {
			t.Fatal(err)
		}
		hy := pool.Plane(pool.Slot(hostMem, int(fr.Slot)), 0)
		hv := pool.Plane(pool.Slot(hostMem, int(fr.Slot)), 2)
		if hy[0] != 0x10 || hy[len(hy)-1] != 0xeb || hv[len(hv)-1] != 0x80 {
			t.Fatalf("host sees %x %x %x", hy[0], hy[len(hy)-1], hv[len(hv)-1])
		}
		if err := host.Send(Release{Slot: fr.Slot}); err != nil {
			t.Fatal(err)
		}
		if m, _, err := game.Recv(); err != nil || m != (Release{Slot: 2}) {
			t.Fatal(m, err)
		}
	}()
	if after := openFDs(t); after != before {
		t.Errorf("open fds %d → %d", before, after)
	}
}

func TestMapRefusesUnsealed(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "plain")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(4096); err != nil {
		t.Fatal(err)
	}
	if _, err := Map(int(f.Fd()), 4096); err == nil {
		t.Error("mapped a file without seals")
	}
	m, err := NewMemfd("small", 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := Map(int(m.Fd()), 8192); !errors.Is(err, ErrField) {
		t.Errorf("mapped past the end: %v", err)
	}
}

// rawSend writes b as one datagram with fds attached, bypassing Send's checks: a misbehaving
// peer.
func rawSend(t *testing.T, c *Conn, b []byte, fds ...int) {
	t.Helper()
	var oob []byte
	if len(fds) > 0 {
		oob = syscall.UnixRights(fds...)
	}
	if _, _, err := c.c.WriteMsgUnix(b, oob, nil); err != nil {
		t.Fatal(err)
	}
}

// TestConnClosesStrayFDs: descriptors that come with a malformed message, with a message that
// carries none, or beyond what a message carries are closed, not leaked.
func TestConnClosesStrayFDs(t *testing.T) {
	defer test.CheckRoutines(t)()
	host, game := pair(t)
	f, err := NewMemfd("stray", 4096)
	if err != nil {
		t.Fatal(err)
	}
	fd := int(f.Fd())
	pool := mustPool(t, RGBA, 16, 16, 1)
	tests := []struct {
		name string
		b    []byte
		fds  []int
		want error
	}{
		{"malformed", []byte{1, 2, 3}, []int{fd}, ErrShort},
		{"bad field", Release{Slot: 1}.Append(nil)[:8], []int{fd, fd}, ErrLength},
		{"fd on a message without", Ping{}.Append(nil), []int{fd}, ErrFDs},
		{"two fds on a pool", pool.Append(nil), []int{fd, fd}, ErrFDs},
		{"many fds", Ping{}.Append(nil), []int{fd, fd, fd, fd, fd, fd, fd, fd, fd, fd}, ErrFDs},
		{"too many fds", Ping{}.Append(nil), make([]int, maxRecvFDs+4), ErrFDs},
		{"oversized", make([]byte, MaxMessageSize+100), []int{fd}, ErrLong},
	}
	tests[5].fds = tests[5].fds[:0]
	for range maxRecvFDs + 4 {
		tests[5].fds = append(tests[5].fds, fd)
	}
	before := openFDs(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rawSend(t, host, tt.b, tt.fds...)
			m, fds, err := game.Recv()
			if !errors.Is(err, tt.want) || m != nil || fds != nil {
				t.Fatalf("Recv = %v, %v, %v; want %v", m, fds, err, tt.want)
			}
			if after := openFDs(t); after != before {
				t.Fatalf("open fds %d → %d", before, after)
			}
		})
	}
	// The link still works afterwards.
	if err := host.Send(pool, fd); err != nil {
		t.Fatal(err)
	}
	_, fds, err := game.Recv()
	if err != nil || len(fds) != 1 {
		t.Fatal(fds, err)
	}
	closeFDs(fds)
	_ = f.Close()
}

func TestFileConnRefusesStream(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[1])
	if _, err := FileConn(os.NewFile(uintptr(fds[0]), "stream")); err == nil {
		t.Error("accepted a stream socket")
	}
}
