package server

import (
	"context"
	"encoding/json"
	"time"

	"github.com/edgeplay/edgeplay/protocol"
	"github.com/edgeplay/edgeplay/resume"
)

// resumeToken mints the token that lets this connection's player take the session (on host,
// at resume generation gen) back after a drop.
func (c *playConn) resumeToken(host string, gen uint64) string {
	return c.s.resume.Mint(resume.Token{
		Session: c.id, Host: host, Generation: gen, Expires: time.Now().Add(c.s.cfg.ResumeTTL), Origin: c.origin,
	})
}

// resumeSession takes a session back for a player whose token the reader has checked: this
// connection replaces the player's old one on this gateway (if that is still open), listens
// to the session's host, and asks the host, which checks the token's generation. The player
// gets "resumed" with the next token; the host sends an ICE-restart offer when its side of the
// peer connection is not connected. Runs on its own goroutine (the connection's wg).
func (c *playConn) resumeSession(tok resume.Token) {
	hostSub, err := c.s.nc.ChanSubscribe(protocol.SubjectFromAnyHost(c.id), c.s.clientMsgs)
	if err != nil {
		c.log.Error("subscribe failed", "resumed_session", c.id, "err", err)
		c.sendErr(protocol.Errorf(protocol.CodeInternal, ""), 0)
		return
	}
	c.mu.Lock()
	c.hostSub = hostSub
	c.mu.Unlock()
	c.starting.Store(true) // no placement will ever start this connection

	body, _ := json.Marshal(protocol.Message{Type: protocol.TypeResume, Gen: tok.Generation})
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.StartTimeout)
	reply, err := request(ctx, c.s.nc, protocol.SubjectToHost(tok.Host, c.id), body)
	cancel()
	if err != nil {
		// Not this socket's session after all (the token was used, or the session is over):
		// its close must not touch the host, nor the player's current connection.
		c.log.Info("resume failed", "resumed_session", c.id, "host", tok.Host, "err", err)
		c.superseded.Store(true)
		c.sendErr(err, 0)
		return
	}
	// The host took this connection: from now on the session's messages come here, and the
	// player's old connection on this gateway, if it is still open, retires.
	c.gen.Store(reply.Gen)
	c.mu.Lock()
	c.host = tok.Host
	c.mu.Unlock()
	c.s.mu.Lock()
	old := c.s.bySession[c.id]
	c.s.bySession[c.id] = c
	c.s.mu.Unlock()
	if old != nil && old != c {
		old.supersede()
	}
	c.log.Info("session resumed", "resumed_session", c.id, "host", tok.Host, "gen", reply.Gen, "ice_restart", reply.Restart)
	c.sendMsg(protocol.Message{
		Type: protocol.TypeResumed, Session: c.id, ResumeToken: c.resumeToken(tok.Host, reply.Gen),
	}, 0)
	if reply.Restart {
		// The host's side of the peer connection is not connected: ask for the ICE restart
		// now that its offer reaches this connection.
		c.toHost(tok.Host, protocol.Message{Type: protocol.TypeICERestart})
	}
}

// supersede retires a connection whose player resumed on a newer one: it closes without
// telling the host anything and without touching the session's routing.
func (c *playConn) supersede() {
	c.superseded.Store(true)
	c.mu.Lock()
	subs := []interface{ Unsubscribe() error }{}
	if c.sub != nil {
		subs = append(subs, c.sub)
	}
	if c.hostSub != nil {
		subs = append(subs, c.hostSub)
	}
	c.sub, c.hostSub = nil, nil
	c.mu.Unlock()
	for _, s := range subs {
		_ = s.Unsubscribe()
	}
	c.log.Info("connection replaced by the player's resumed one")
	c.finish()
}
