package gamesdk

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/edgeplay/edgeplay/gameproto"
	"github.com/edgeplay/edgeplay/input"
)

// Event is what Poll returns: one of the types below.
type Event interface{ event() }

// Assign gives the ready game its session; the game answers with Started.
type Assign struct {
	Session string
	Params  []byte // opaque, the studio's, from the join request
}

// PlayerJoined says player Player (0..7) has joined; the first comes right after Assign.
type PlayerJoined struct {
	Player  int
	ID      string
	Payload []byte // opaque, attached to the join by the studio's backend
}

// PlayerLeft says a player has gone for good.
type PlayerLeft struct{ Player int }

// PlayerAway says a player's connection dropped; the host waits for a resume.
type PlayerAway struct{ Player int }

// PlayerBack says an away player has resumed.
type PlayerBack struct{ Player int }

// Input is a batch of one player's input events, in the order the host received them.
// Events is valid until the next Poll. A frame rendered after applying them reports the last
// one's Seq to SubmitFrame.
type Input struct {
	Player int
	Events []input.Event
}

// Drain asks the game to end by Deadline: finish the round, End, exit.
type Drain struct{ Deadline time.Time }

// Shutdown tells the game to exit by Deadline; after it the host kills the process.
type Shutdown struct{ Deadline time.Time }

// Released says the host gave frame slot Slot back: AcquireFrame may hand it out again.
type Released struct{ Slot int }

// AudioReleased says the host gave audio slot Slot back: AcquireAudio may hand it out again.
type AudioReleased struct{ Slot int }

// PoolChanged says the host registered new frame buffers; Frames acquired before are gone.
type PoolChanged struct{ Pool gameproto.BufferPool }

// AudioPoolChanged says the host registered new audio buffers.
type AudioPoolChanged struct{ Pool gameproto.AudioPool }

func (Assign) event()           {}
func (PlayerJoined) event()     {}
func (PlayerLeft) event()       {}
func (PlayerAway) event()       {}
func (PlayerBack) event()       {}
func (Input) event()            {}
func (Drain) event()            {}
func (Shutdown) event()         {}
func (Released) event()         {}
func (AudioReleased) event()    {}
func (PoolChanged) event()      {}
func (AudioPoolChanged) event() {}

// Poll waits up to timeout for the host's next message and returns it as an Event, or nil
// and no error when none came in time. Poll(0) only looks. While it waits it sends the
// heartbeats that fall due. An error wrapping ErrProtocol, ErrVersion or ErrHostGone breaks
// the Game.
func (g *Game) Poll(timeout time.Duration) (Event, error) {
	if g.err != nil {
		return nil, g.err
	}
	end := time.Now().Add(timeout)
	for {
		if err := g.pingIfDue(); err != nil {
			return nil, err
		}
		wait := time.Until(end)
		if g.state != stateEnded {
			wait = min(wait, g.untilPing())
		}
		wait = max(wait, minWait)
		if err := g.conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
			return nil, fmt.Errorf("gamesdk: %w", err)
		}
		// A wake-up that came before the deadline above was set is seen here; one after it
		// cuts the read short (see waker).
		if g.wake.woken() {
			return nil, nil
		}
		m, fds, err := g.recv()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if time.Now().Before(end) && !g.wake.woken() {
				continue
			}
			return nil, nil
		}
		if err != nil {
			return nil, g.fail(err)
		}
		ev, err := g.handle(m, fds)
		if err != nil {
			return nil, g.fail(err)
		}
		return ev, nil
	}
}

// handle checks m against the link's state, applies it and turns it into an Event. It owns
// fds.
func (g *Game) handle(m gameproto.Message, fds []int) (Event, error) {
	switch m := m.(type) {
	case gameproto.BufferPool:
		if err := g.poolIdle(); err != nil {
			closeFDs(fds)
			return nil, err
		}
		if err := g.mapPool(m, fds[0]); err != nil {
			return nil, err
		}
		for i := range g.frames {
			g.frames[i] = Frame{}
		}
		return PoolChanged{Pool: m}, nil
	case gameproto.AudioPool:
		if err := g.audioIdle(); err != nil {
			closeFDs(fds)
			return nil, err
		}
		if err := g.mapAudio(m, fds[0]); err != nil {
			return nil, err
		}
		return AudioPoolChanged{Pool: m}, nil
	case gameproto.Release:
		k := int(m.Slot)
		if k >= int(g.pool.NSlots) || g.slots[k] != slotHost {
			return nil, fmt.Errorf("%w: release for slot %d, which the host does not hold", ErrProtocol, k)
		}
		g.slots[k] = slotFree
		return Released{Slot: k}, nil
	case gameproto.AudioRelease:
		k := int(m.Slot)
		if g.audioMem == nil || k >= int(g.audio.NSlots) || g.audioSlots.state[k] != slotHost {
			return nil, fmt.Errorf("%w: audio_release for slot %d, which the host does not hold", ErrProtocol, k)
		}
		g.audioSlots.state[k] = slotFree
		return AudioReleased{Slot: k}, nil
	case *gameproto.Input:
		if g.welcome.Caps&gameproto.CapInput == 0 {
			return nil, fmt.Errorf("%w: input without the input capability", ErrProtocol)
		}
		if err := g.checkPlayer(m.Type(), m.Player, true); err != nil {
			return nil, err
		}
		g.inputBuf = g.inputBuf[:0]
		for ev := range m.Events() {
			g.inputBuf = append(g.inputBuf, ev)
		}
		return Input{Player: int(m.Player), Events: g.inputBuf}, nil
	case gameproto.Assign:
		if g.state != stateReady || g.session != "" {
			return nil, fmt.Errorf("%w: assign while %s", ErrProtocol, g.state)
		}
		g.state, g.session = stateAssigned, m.Session
		return Assign{Session: m.Session, Params: m.Params}, nil
	case gameproto.PlayerJoined:
		if err := g.checkPlayer(m.Type(), m.Player, false); err != nil {
			return nil, err
		}
		g.players[m.Player] = player{joined: true}
		return PlayerJoined{Player: int(m.Player), ID: m.ID, Payload: m.Payload}, nil
	case gameproto.PlayerLeft:
		if err := g.checkPlayer(m.Type(), m.Player, true); err != nil {
			return nil, err
		}
		g.players[m.Player] = player{}
		return PlayerLeft{Player: int(m.Player)}, nil
	case gameproto.PlayerAway:
		if err := g.checkPlayer(m.Type(), m.Player, true); err != nil {
			return nil, err
		}
		if g.players[m.Player].away {
			return nil, fmt.Errorf("%w: player_away for player %d, already away", ErrProtocol, m.Player)
		}
		g.players[m.Player].away = true
		return PlayerAway{Player: int(m.Player)}, nil
	case gameproto.PlayerBack:
		if err := g.checkPlayer(m.Type(), m.Player, true); err != nil {
			return nil, err
		}
		if !g.players[m.Player].away {
			return nil, fmt.Errorf("%w: player_back for player %d, who is not away", ErrProtocol, m.Player)
		}
		g.players[m.Player].away = false
		return PlayerBack{Player: int(m.Player)}, nil
	case gameproto.Drain:
		g.drain = true
		return Drain{Deadline: time.Now().Add(time.Duration(m.DeadlineMS) * time.Millisecond)}, nil
	case gameproto.Shutdown:
		g.down = true
		return Shutdown{Deadline: time.Now().Add(time.Duration(m.GraceMS) * time.Millisecond)}, nil
	}
	closeFDs(fds)
	if m.Type().FromGame() {
		return nil, fmt.Errorf("%w: %s travels from the game to the host", ErrProtocol, m.Type())
	}
	return nil, fmt.Errorf("%w: unexpected %s", ErrProtocol, m.Type())
}

// checkPlayer checks that a player message comes after assign and names a player that has
// joined (mustJoined) or has not (a join).
func (g *Game) checkPlayer(t gameproto.Type, p uint8, mustJoined bool) error {
	if g.session == "" {
		return fmt.Errorf("%w: %s before assign", ErrProtocol, t)
	}
	if g.players[p].joined != mustJoined {
		if mustJoined {
			return fmt.Errorf("%w: %s for player %d, who has not joined", ErrProtocol, t, p)
		}
		return fmt.Errorf("%w: %s for player %d, who has already joined", ErrProtocol, t, p)
	}
	return nil
}

// poolIdle checks that the frame pool may be replaced: no slot is with the host or being
// rendered into.
func (g *Game) poolIdle() error {
	for k, s := range g.slots {
		if s != slotFree {
			return fmt.Errorf("%w: buffer_pool while slot %d is %s", ErrProtocol, k, s)
		}
	}
	return nil
}
