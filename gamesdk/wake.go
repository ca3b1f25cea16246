package gamesdk

import (
	"sync/atomic"
	"time"

	"github.com/edgeplay/edgeplay/gameproto"
)

// waker lets another goroutine cut the owner loop's Poll short, so that the loop can pick up
// what that goroutine left for it (Serve: a finished frame, a piece of sound, Run's end) with
// no delay and without touching the Game. wake is the only thing it may call, and is safe for
// concurrent use; everything else stays on the loop.
//
// wake sets the flag, then moves the link's read deadline to now, which ends a read in
// progress. Poll sets its own deadline, then looks at the flag, then reads: a wake whose
// deadline came before Poll's is seen by the look, one after it ends the read. Either way Poll
// returns nil at once. A wake while the loop is busy elsewhere makes its next Poll return at
// once (the loop then finds nothing new, at worst).
type waker struct {
	conn *gameproto.Conn
	flag atomic.Bool
}

func newWaker(conn *gameproto.Conn) *waker { return &waker{conn: conn} }

// wake makes the loop's current or next Poll return nil at once.
func (w *waker) wake() {
	w.flag.Store(true)
	_ = w.conn.SetReadDeadline(time.Now()) // fails only once the link is closed: nothing waits then
}

// woken reports, once, whether wake was called since the last time it said so. A nil waker
// (no Serve) is never woken.
func (w *waker) woken() bool { return w != nil && w.flag.Swap(false) }
