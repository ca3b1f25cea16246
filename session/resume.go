package session

import (
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/protocol"
)

// minRestartInterval limits how often a player's ice_restart is acted on.
const minRestartInterval = time.Second

// away marks the player away (its websocket closed, or its peer connection disconnected or
// failed): the game runs on and is told, and the session ends player_lost unless the player
// is back within the grace. Called on the run goroutine.
func (s *Session) away(why string) {
	if s.awayWhy != "" {
		return
	}
	s.awayWhy = why
	s.isAway.Store(true)
	s.graceTimer = time.NewTimer(s.h.cfg.ResumeGrace)
	s.graceC = s.graceTimer.C
	s.log.Info("player away", "why", why, "grace", s.h.cfg.ResumeGrace)
	if p, ok := s.g.(game.Presence); ok {
		p.PlayerAway()
	}
	s.h.publishEvent(s.event(protocol.Event{Kind: "player_away", Detail: why}))
}

// back ends an absence: the player's peer connection is connected again. The next frame is a
// keyframe, so the picture is back at once.
func (s *Session) back(why string) {
	if s.awayWhy == "" {
		return
	}
	s.log.Info("player back", "why", why, "was", s.awayWhy)
	s.awayWhy = ""
	s.isAway.Store(false)
	s.stopGrace()
	s.video.RequestKeyframe()
	s.lastInput.Store(time.Now().UnixNano())
	if p, ok := s.g.(game.Presence); ok {
		p.PlayerBack()
	}
	s.h.publishEvent(s.event(protocol.Event{Kind: "player_back"}))
}

func (s *Session) stopGrace() {
	if s.graceTimer != nil {
		s.graceTimer.Stop()
		s.graceTimer, s.graceC = nil, nil
	}
}

// onAway handles the gateway's note that the player's websocket closed without leave. A note
// from a connection the player has since replaced (an older generation) is stale.
func (s *Session) onAway(m protocol.Message) {
	if m.Gen != s.gen {
		s.log.Debug("stale away ignored", "gen", m.Gen, "current", s.gen)
		return
	}
	if s.State() == StatePlaying {
		s.away("the websocket closed")
	}
}

// onResume handles a resume request from a gateway that has checked the player's token: the
// token's generation must be the current one (a token works once). The reply carries the
// next generation. When the peer connection is not connected, an ICE-restart offer follows.
func (s *Session) onResume(in inboxMsg) {
	m := in.m
	switch st := s.State(); {
	case m.Gen != s.gen:
		s.log.Info("resume refused: the token was already used", "gen", m.Gen, "current", s.gen)
		respond(in.msg, protocol.FailReply(protocol.Errorf(protocol.CodeResumeInvalid, "the resume token was already used")))
		return
	case st != StatePlaying && st != StateConnecting:
		respond(in.msg, protocol.FailReply(protocol.Errorf(protocol.CodeBadState, "the session is %s", st)))
		return
	}
	s.gen++
	s.resumes.Add(1)
	up := s.peer.ConnectionState() == webrtc.PeerConnectionStateConnected
	respond(in.msg, protocol.Reply{OK: true, Host: s.h.cfg.ID, Region: s.h.cfg.Region, Gen: s.gen, Restart: !up})
	s.log.Info("player resumed", "gen", s.gen, "peer", s.peer.ConnectionState().String())
	if up {
		s.back("resumed with the peer connection still up")
	}
	// Otherwise the gateway asks for the ICE restart once the player's new connection gets
	// the session's messages.
}

// onICERestart handles the player's ice_restart: a new offer with fresh ICE credentials, at
// most one a second. An offer still waiting for its answer is sent again instead (the player
// may have missed it).
func (s *Session) onICERestart() {
	if s.peer == nil {
		s.sendError(protocol.Errorf(protocol.CodeBadState, "ice_restart before the offer"))
		return
	}
	if time.Since(s.lastRestart) < minRestartInterval {
		s.sendError(protocol.Errorf(protocol.CodeRateLimited, "ice_restart at most once a second"))
		return
	}
	s.iceRestart()
}

func (s *Session) iceRestart() {
	s.lastRestart = time.Now()
	if s.State() == StatePlaying {
		// A player who asks for a new path has no working one: away until the peer
		// connection is connected again. (The restart resets ICE to checking, so the
		// disconnected state that would say so may never come.)
		s.away("the player asked for an ICE restart")
	}
	if s.peer.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
		if ld := s.peer.LocalDescription(); ld != nil {
			s.h.sendToClient(s.id, protocol.Message{Type: protocol.TypeOffer, SDP: ld.SDP})
		}
		return
	}
	if err := s.restartOffer(); err != nil {
		s.log.Warn("ICE restart failed", "err", err)
		s.sendError(protocol.Errorf(protocol.CodeInternal, ""))
	}
}

func (s *Session) restartOffer() error {
	offer, err := s.peer.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	if err := s.peer.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("set local description: %w", err)
	}
	s.log.Info("ICE restart offered")
	s.h.sendToClient(s.id, protocol.Message{Type: protocol.TypeOffer, SDP: offer.SDP})
	return nil
}
