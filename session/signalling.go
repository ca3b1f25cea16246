package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/pion/webrtc/v4"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/internal/metrics"
	"github.com/edgeplay/edgeplay/media"
	"github.com/edgeplay/edgeplay/protocol"
)

// maxEarlyCandidates bounds the remote candidates held before the answer.
const maxEarlyCandidates = 32

// handle processes one signalling message; it reports whether the session must end.
func (s *Session) handle(in inboxMsg) (protocol.Reason, string, bool) {
	m := in.m
	switch m.Type {
	case protocol.TypeStart:
		if s.State() != StateReserved {
			respond(in.msg, protocol.FailReply(protocol.Errorf(protocol.CodeBadState, "session already started")))
			return "", "", false
		}
		if m.Player != nil {
			if err := m.Player.Validate(); err != nil {
				respond(in.msg, protocol.FailReply(err))
				return protocol.ReasonError, "bad player in start: " + err.Error(), true
			}
			s.player.Store(m.Player)
		}
		if err := s.start(); err != nil {
			s.log.Error("session start failed", "err", err)
			respond(in.msg, protocol.FailReply(protocol.Errorf(protocol.CodeInternal, "the host could not start the session")))
			return protocol.ReasonError, err.Error(), true
		}
		respond(in.msg, protocol.Reply{OK: true, Host: s.h.cfg.ID, Region: s.h.cfg.Region})
		if err := s.offer(); err != nil {
			s.log.Error("offer failed", "err", err)
			return protocol.ReasonError, err.Error(), true
		}
	case protocol.TypeAnswer:
		return s.answer(m)
	case protocol.TypeCandidate:
		if err := protocol.ValidateCandidate(m.Candidate); err != nil {
			s.sendError(err)
			return "", "", false
		}
		c := m.Candidate
		if s.peer == nil {
			s.sendError(protocol.Errorf(protocol.CodeBadState, "candidate before offer"))
			return "", "", false
		}
		if c.Candidate == "" {
			return "", "", false // end of candidates
		}
		init := webrtc.ICECandidateInit{
			Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment,
		}
		if s.peer.RemoteDescription() == nil || s.peer.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
			// Trickled ahead of the answer (to the first offer or to a restart offer, whose
			// candidates carry the new ufrag): keep a few until it arrives.
			if len(s.earlyCands) >= maxEarlyCandidates {
				s.sendError(protocol.Errorf(protocol.CodeBadState, "too many candidates before the answer"))
				return "", "", false
			}
			s.earlyCands = append(s.earlyCands, init)
			return "", "", false
		}
		s.addCandidate(init)
	case protocol.TypeLeave:
		if m.Gen != s.gen {
			s.log.Debug("stale leave ignored", "gen", m.Gen, "current", s.gen)
			return "", "", false
		}
		return protocol.ReasonPlayerLeft, "", true
	case protocol.TypeAway:
		s.onAway(m)
	case protocol.TypeResume:
		s.onResume(in)
	case protocol.TypeICERestart:
		s.onICERestart()
	default:
		s.sendError(protocol.Errorf(protocol.CodeUnknownType, "unknown message type"))
	}
	return "", "", false
}

// answer applies the player's answer. A bad answer is refused and the offer stays open for
// another; an answer that accepts none of the offered video codecs ends the session, because
// nothing can be shown.
func (s *Session) answer(m protocol.Message) (protocol.Reason, string, bool) {
	if s.peer == nil || s.peer.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		s.sendError(protocol.Errorf(protocol.CodeBadState, "no offer is waiting for an answer"))
		return "", "", false
	}
	if len(m.SDP) > protocol.MaxSDPSize {
		s.sendError(protocol.Errorf(protocol.CodeBadField, "sdp too large"))
		return "", "", false
	}
	if a := s.audioPtr.Load(); a != nil && !a.Declined() && !media.AnswerAcceptsOpus(m.SDP) {
		if err := a.Decline(); err != nil {
			s.log.Warn("audio track not removed", "err", err)
		}
	}
	err := s.peer.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP})
	if _, ok := s.video.Codec(); errors.Is(err, media.ErrNoCommonCodec) || (err == nil && !ok) {
		codecs := s.h.media.Codecs()
		names := make([]string, len(codecs))
		for i, c := range codecs {
			names[i] = c.MimeType
		}
		s.log.Info("the player decodes none of the offered codecs", "offered", names)
		s.sendError(protocol.Errorf(protocol.CodeNoCommonCodec,
			"your browser cannot decode any of the video formats this host sends (%v)", names))
		return protocol.ReasonError, "no video codec in common with the player", true
	}
	if err != nil {
		s.log.Info("bad answer", "err", err)
		if s.peer.SignalingState() != webrtc.SignalingStateHaveLocalOffer || s.peer.RemoteDescription() != nil {
			// Applied in part: this peer connection takes no other answer. End now rather
			// than hold the slot until the reservation times out.
			s.sendError(protocol.Errorf(protocol.CodeBadSDP, "the answer could not be applied; the session ends"))
			return protocol.ReasonError, "bad answer: " + err.Error(), true
		}
		s.sendError(protocol.Errorf(protocol.CodeBadSDP, "the answer could not be applied"))
		return "", "", false // nothing changed: the offer still waits for an answer
	}
	c, _ := s.video.Codec()
	s.log.Debug("answer applied", "codec", c.Name)
	for _, c := range s.earlyCands {
		s.addCandidate(c)
	}
	s.earlyCands = nil
	return "", "", false
}

func (s *Session) addCandidate(c webrtc.ICECandidateInit) {
	if err := s.peer.AddICECandidate(c); err != nil {
		s.log.Debug("bad candidate", "err", err)
		s.sendError(protocol.Errorf(protocol.CodeBadCandidate, "the candidate could not be added"))
	}
}

func (s *Session) sendError(err error) { s.h.sendToClient(s.id, protocol.ErrorMessage(err)) }

// start creates the game, the PeerConnection with its video sender and data channels, and
// starts the game and the video pipeline.
func (s *Session) start() error {
	cfg := s.h.cfg
	gcfg := game.Config{Width: cfg.Width, Height: cfg.Height, FPS: cfg.FPS, Session: s.id}
	if p := s.player.Load(); p != nil {
		gcfg.Player, gcfg.Payload = p.ID, string(p.Payload)
	}
	g, err := s.factory(gcfg)
	if err != nil {
		return fmt.Errorf("create game %s: %w", s.game, err)
	}
	if sized, ok := g.(game.Sized); ok {
		gcfg = sized.Config() // the catalog's size and rate for this game
	}
	s.g = g
	s.gamePtr.Store(&g)
	peer, err := s.h.media.NewPeer()
	if err != nil {
		return err
	}
	s.peer = peer
	video, err := media.NewVideoSender(media.VideoConfig{
		Width: gcfg.Width, Height: gcfg.Height, FPS: gcfg.FPS, EncoderBackend: cfg.EncoderBackend,
		Host: cfg.ID, Logger: s.log, OnFrameSent: s.h.latency.add,
	}, peer, s.id)
	if err != nil {
		return err
	}
	s.video = video
	s.videoPtr.Store(video)
	var audio *media.AudioSender
	if src, ok := g.(game.AudioSource); ok {
		if audio, err = media.NewAudioSender(media.AudioConfig{Host: cfg.ID, Logger: s.log}, peer, s.id); err != nil {
			return err
		}
		src.SetAudioSink(audio.Put)
		s.audioPtr.Store(audio)
	}
	ordered := true
	if _, err := s.addInputChannel("input", &webrtc.DataChannelInit{Ordered: &ordered}); err != nil {
		return err
	}
	unordered, zero := false, uint16(0)
	if _, err := s.addInputChannel("motion", &webrtc.DataChannelInit{Ordered: &unordered, MaxRetransmits: &zero}); err != nil {
		return err
	}
	if s.control, err = peer.CreateDataChannel("control", &webrtc.DataChannelInit{Ordered: &ordered}); err != nil {
		return fmt.Errorf("create data channel control: %w", err)
	}
	if hs, ok := g.(game.HapticSource); ok {
		hs.SetRumbleSink(s.rumble)
	}

	peer.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		select {
		case s.pcState <- st:
		default: // the loop is far behind; a later state will follow
		}
	})
	peer.OnICECandidate(func(c *webrtc.ICECandidate) {
		msg := protocol.Message{Type: protocol.TypeCandidate, Candidate: &protocol.Candidate{}}
		if c != nil {
			init := c.ToJSON()
			msg.Candidate = &protocol.Candidate{
				Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex,
				UsernameFragment: init.UsernameFragment,
			}
		}
		s.candMu.Lock()
		if !s.offerSent {
			s.candQueue = append(s.candQueue, msg)
			s.candMu.Unlock()
			return
		}
		s.candMu.Unlock()
		s.h.sendToClient(s.id, msg)
	})

	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	// The game runs once the player's peer connection is up (run calls runGame): until then a
	// reservation holds only the PeerConnection, so a player who never connects costs next
	// to nothing (issue 11), and the game's first frame is the one the player sees.
	s.runGame = func() {
		s.goPipeline("game", func() { s.playGame(ctx, g, video, cfg.ID) })
	}
	s.goPipeline("video", func() {
		if err := video.Run(ctx); err != nil {
			s.log.Error("video stopped", "err", err)
			s.stop(protocol.ReasonError)
		}
	})
	if audio != nil {
		s.goPipeline("audio", func() {
			if err := audio.Run(ctx); err != nil {
				s.log.Error("audio stopped", "err", err)
				s.stop(protocol.ReasonError)
			}
		})
	}
	s.state.Store(StateConnecting)
	return nil
}

// playGame runs the game into the video sender until ctx ends or the game stops; a game that
// stops on its own ends the session with its reason. A pipeline goroutine.
func (s *Session) playGame(ctx context.Context, g game.Game, video *media.VideoSender, host string) {
	sink := func(f *game.Frame) {
		if d, ok := s.inputClock.frame(f); ok {
			s.h.inputLatency.add(d)
			metrics.InputToFrameSeconds.WithLabelValues(host).Observe(d.Seconds())
		}
		video.Put(f)
	}
	err := g.Run(ctx, sink)
	if err == nil {
		return
	}
	reason, detail := gameEnd(err)
	var ended *game.Ended
	if errors.As(err, &ended) && ended.Result != "" {
		r := json.RawMessage(ended.Result)
		s.result.Store(&r)
	}
	if reason == protocol.ReasonGameEnded {
		s.log.Info("the game ended the session", "detail", detail)
	} else {
		s.log.Error("game stopped", "reason", reason, "err", err)
	}
	s.stopWith(reason, detail)
}

func (s *Session) offer() error {
	offer, err := s.peer.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	if err := s.peer.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("set local description: %w", err)
	}
	s.h.sendToClient(s.id, protocol.Message{Type: protocol.TypeOffer, SDP: offer.SDP})
	s.candMu.Lock()
	s.offerSent = true
	queued := s.candQueue
	s.candQueue = nil
	s.candMu.Unlock()
	for _, m := range queued {
		s.h.sendToClient(s.id, m)
	}
	return nil
}
