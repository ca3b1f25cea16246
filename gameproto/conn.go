package gameproto

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// maxRecvFDs sizes the receive buffer for ancillary data beyond what any message may carry,
// so that extra descriptors arrive (and are closed) instead of vanishing into MSG_CTRUNC.
const maxRecvFDs = 16

// Conn is one end of the host ↔ game link: a connected AF_UNIX SOCK_SEQPACKET socket, one
// message per datagram, each with its own file descriptors.
//
// Send may be called from several goroutines. Recv must be called from one goroutine at a
// time (the reader owns the link). Close unblocks both.
type Conn struct {
	c *net.UnixConn

	wmu  sync.Mutex
	wbuf []byte // guarded by wmu

	rbuf []byte // owned by the reader
	oob  []byte // owned by the reader
}

// NewConn wraps a connected SOCK_SEQPACKET Unix socket.
func NewConn(c *net.UnixConn) *Conn {
	return &Conn{
		c:    c,
		rbuf: make([]byte, MaxMessageSize),
		oob:  make([]byte, syscall.CmsgSpace(4*maxRecvFDs)),
	}
}

// FileConn makes a Conn from an inherited socket, such as the game's fd 3 (EDGEPLAY_FD). It
// takes over f: f is closed, the Conn holds its own descriptor.
func FileConn(f *os.File) (*Conn, error) {
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("gameproto: %w", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok || uc.LocalAddr().Network() != "unixpacket" {
		_ = c.Close()
		return nil, fmt.Errorf("gameproto: %s is not a SOCK_SEQPACKET Unix socket", f.Name())
	}
	return NewConn(uc), nil
}

// Socketpair makes the two ends of a new link, close-on-exec: the host keeps one as a Conn and
// hands the other, as a file, to the game process (exec.Cmd.ExtraFiles, which makes it fd 3
// in the child whatever close-on-exec says), then closes its copy of that file.
func Socketpair() (*Conn, *os.File, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("gameproto: socketpair: %w", err)
	}
	host, game := os.NewFile(uintptr(fds[0]), "edgeplay-host"), os.NewFile(uintptr(fds[1]), "edgeplay-game")
	c, err := FileConn(host)
	if err != nil {
		_ = game.Close()
		return nil, nil, err
	}
	return c, game, nil
}

// Pair makes both ends of a link in this process, for tests and in-process games.
func Pair() (host, game *Conn, err error) {
	host, f, err := Socketpair()
	if err != nil {
		return nil, nil, err
	}
	game, err = FileConn(f)
	if err != nil {
		_ = host.Close()
		return nil, nil, err
	}
	return host, game, nil
}

// Send writes m as one datagram with fds attached. fds must be exactly as many as m's type
// carries (Type.FDs), and m must be a valid message: Send decodes what it encoded and refuses
// what a receiver would refuse. The caller keeps ownership of fds (the peer gets duplicates).
func (c *Conn) Send(m Message, fds ...int) error {
	if len(fds) != m.Type().FDs() {
		return fmt.Errorf("%w: %s carries %d, got %d", ErrFDs, m.Type(), m.Type().FDs(), len(fds))
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = m.Append(c.wbuf[:0])
	if _, err := Decode(c.wbuf); err != nil {
		return fmt.Errorf("gameproto: refusing to send an invalid message: %w", err)
	}
	var oob []byte
	if len(fds) > 0 {
		oob = syscall.UnixRights(fds...)
	}
	if _, _, err := c.c.WriteMsgUnix(c.wbuf, oob, nil); err != nil {
		return fmt.Errorf("gameproto: send %s: %w", m.Type(), err)
	}
	return nil
}

// Recv reads one message and the descriptors that came with it, which the caller then owns.
// Descriptors are closed, never returned, when the message is invalid or carries a different
// number of them than its type allows; the error says why. At the peer's close Recv returns
// io.EOF.
func (c *Conn) Recv() (Message, []int, error) {
	n, oobn, flags, _, err := c.c.ReadMsgUnix(c.rbuf, c.oob)
	fds, ferr := parseRights(c.oob[:oobn])
	if err == nil {
		err = ferr
	}
	if err == nil && flags&syscall.MSG_CTRUNC != 0 {
		err = fmt.Errorf("%w: more than %d descriptors", ErrFDs, maxRecvFDs)
	}
	if err == nil && flags&syscall.MSG_TRUNC != 0 {
		err = fmt.Errorf("%w: datagram over %d bytes", ErrLong, MaxMessageSize)
	}
	var m Message
	if err == nil {
		m, err = Decode(c.rbuf[:n])
	}
	if err == nil && len(fds) != m.Type().FDs() {
		err = fmt.Errorf("%w: %s carries %d, got %d", ErrFDs, m.Type(), m.Type().FDs(), len(fds))
	}
	if err != nil {
		closeFDs(fds)
		return nil, nil, err
	}
	return m, fds, nil
}

func parseRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("gameproto: control message: %w", err)
	}
	var fds []int
	var errs []error
	for _, cm := range msgs {
		if cm.Header.Level != syscall.SOL_SOCKET || cm.Header.Type != syscall.SCM_RIGHTS {
			errs = append(errs, fmt.Errorf("%w: unexpected control message %d/%d", ErrFDs, cm.Header.Level, cm.Header.Type))
			continue
		}
		got, err := syscall.ParseUnixRights(&cm)
		fds = append(fds, got...)
		errs = append(errs, err)
	}
	return fds, errors.Join(errs...)
}

// closeFDs closes descriptors received but not handed to anyone.
func closeFDs(fds []int) {
	for _, fd := range fds {
		_ = syscall.Close(fd)
	}
}

// SetReadDeadline bounds the next Recv calls; see net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.c.SetReadDeadline(t) }

// SetWriteDeadline bounds the next Send calls; see net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.c.SetWriteDeadline(t) }

// Close closes the link; the peer's Recv sees io.EOF.
func (c *Conn) Close() error { return c.c.Close() }
