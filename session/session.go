package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"github.com/edgeplay/edgeplay/encoder"
	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/input"
	"github.com/edgeplay/edgeplay/internal/metrics"
	"github.com/edgeplay/edgeplay/protocol"
)

// Session states.
const (
	StateReserved   = "reserved"   // slot held, waiting for the gateway's start
	StateConnecting = "connecting" // offer sent, waiting for ICE + DTLS
	StatePlaying    = "playing"
	StateEnded      = "ended"
)

// rtpMTU is the largest RTP packet the host sends; it leaves room for SRTP, UDP and IP headers
// and for tunnels under a 1500-byte link MTU.
const rtpMTU = 1200

// minIDRInterval limits how often PLI/FIR can force a keyframe.
const minIDRInterval = 500 * time.Millisecond

// Stats are a session's counters, readable at any time.
type Stats struct {
	FramesEncoded  uint64
	FramesDropped  uint64 // replaced in the mailbox before the encoder took them
	Keyframes      uint64
	BytesSent      uint64
	PLIs           uint64
	InputsApplied  uint64
	InputsInvalid  uint64
	InputsLimited  uint64
	EncodeTimeSum  time.Duration
	LastInputSeq   uint32
	ConnectedSince time.Time
}

type inboxMsg struct {
	m   protocol.Message
	msg *nats.Msg // for replying to requests (start)
}

// Session is one player's game on this host: a game instance, its encoder and video track, the
// PeerConnection and the input data channels. All state changes happen on the run goroutine;
// pion callbacks and NATS handlers only post to its channels (house style 7).
type Session struct {
	id, game  string
	h         *Host
	rttMillis float64 // the player's RTT to this data center when placed; 0 = unknown
	reason    string  // why the matchmaker placed the session here
	log       *slog.Logger
	factory   game.Factory

	inbox   chan inboxMsg
	pcState chan webrtc.PeerConnectionState
	stopReq chan protocol.Reason // capacity 1: the host asks the session to end

	state atomic.Value // string

	// Owned by run.
	pc       *webrtc.PeerConnection
	cancel   context.CancelFunc
	pipeline sync.WaitGroup
	enc      *encoder.Encoder
	sender   *webrtc.RTPSender
	g        game.Game
	box      *mailbox

	// Local ICE candidates gathered before the offer went out wait here, so the player never
	// gets a candidate before the offer.
	candMu    sync.Mutex
	offerSent bool               // guarded by candMu
	candQueue []protocol.Message // guarded by candMu
	// Remote candidates that arrive before the answer (owned by run).
	earlyCands []webrtc.ICECandidateInit

	// Touched by the pipeline and pion callbacks.
	forceIDR  atomic.Bool
	lastIDR   atomic.Int64 // unix nanos
	lastInput atomic.Int64 // unix nanos
	limiter   *rate.Limiter
	connected atomic.Int64 // unix nanos

	framesEncoded, keyframes, bytesSent, plis   atomic.Uint64
	inputsApplied, inputsInvalid, inputsLimited atomic.Uint64
	encodeNanos                                 atomic.Int64
	lastInputSeq                                atomic.Uint32
	playoutExtID                                atomic.Uint32 // negotiated playout-delay extension id; 0 = none
}

func newSession(h *Host, id, gameName string, factory game.Factory) *Session {
	s := &Session{
		id: id, game: gameName, h: h, factory: factory,
		log:     h.log.With("session", id),
		inbox:   make(chan inboxMsg, 64),
		pcState: make(chan webrtc.PeerConnectionState, 16),
		stopReq: make(chan protocol.Reason, 1),
		limiter: rate.NewLimiter(rate.Limit(h.cfg.InputRate), h.cfg.InputBurst),
		box:     newMailbox(),
	}
	s.state.Store(StateReserved)
	return s
}

// State is the session's current state.
func (s *Session) State() string { return s.state.Load().(string) }

func (s *Session) isReserved() bool { return s.State() == StateReserved }

// Stats returns the session's counters.
func (s *Session) Stats() Stats {
	st := Stats{
		FramesEncoded: s.framesEncoded.Load(), FramesDropped: s.box.dropped.Load(),
		Keyframes: s.keyframes.Load(), BytesSent: s.bytesSent.Load(), PLIs: s.plis.Load(),
		InputsApplied: s.inputsApplied.Load(), InputsInvalid: s.inputsInvalid.Load(),
		InputsLimited: s.inputsLimited.Load(), EncodeTimeSum: time.Duration(s.encodeNanos.Load()),
		LastInputSeq: s.lastInputSeq.Load(),
	}
	if c := s.connected.Load(); c != 0 {
		st.ConnectedSince = time.Unix(0, c)
	}
	return st
}

// deliver hands a signalling message to the session loop without blocking the NATS handler.
func (s *Session) deliver(m protocol.Message, msg *nats.Msg) {
	select {
	case s.inbox <- inboxMsg{m: m, msg: msg}:
	default:
		s.log.Warn("signalling inbox full; message dropped", "type", m.Type)
		respond(msg, protocol.FailReply(protocol.Errorf(protocol.CodeRateLimited, "too many signalling messages")))
	}
}

// stop asks the session to end with reason; it returns at once.
func (s *Session) stop(reason protocol.Reason) {
	select {
	case s.stopReq <- reason:
	default: // a stop is already pending
	}
}

// run is the session's loop; it owns every resource of the session and releases all of them
// before it returns.
func (s *Session) run() {
	cfg := s.h.cfg
	reserve := time.NewTimer(cfg.ReserveTimeout)
	defer reserve.Stop()
	var disconnected <-chan time.Time
	var disconnectTimer *time.Timer
	idleCheck := time.NewTicker(min(cfg.IdleTimeout/4, 10*time.Second) + time.Millisecond)
	defer idleCheck.Stop()

	reason, detail := func() (protocol.Reason, string) {
		for {
			select {
			case r := <-s.stopReq:
				return r, ""
			case <-reserve.C:
				if s.State() != StatePlaying {
					return protocol.ReasonTimeout, fmt.Sprintf("player did not connect within %s", cfg.ReserveTimeout)
				}
			case <-disconnected:
				return protocol.ReasonConnectionFailed, fmt.Sprintf("disconnected for %s", cfg.DisconnectTimeout)
			case <-idleCheck.C:
				if s.State() == StatePlaying && time.Since(time.Unix(0, s.lastInput.Load())) > cfg.IdleTimeout {
					return protocol.ReasonIdle, fmt.Sprintf("no input for %s", cfg.IdleTimeout)
				}
			case st := <-s.pcState:
				switch st {
				case webrtc.PeerConnectionStateConnected:
					if disconnectTimer != nil {
						disconnectTimer.Stop()
						disconnected = nil
					}
					if s.State() != StatePlaying {
						now := time.Now()
						s.connected.Store(now.UnixNano())
						s.lastInput.Store(now.UnixNano())
						s.state.Store(StatePlaying)
						s.forceIDR.Store(true)
						s.log.Info("player connected")
						metrics.SessionsStarted.WithLabelValues(cfg.ID).Inc()
						s.h.publishEvent(protocol.Event{Kind: "connected", Session: s.id, Game: s.game})
					}
				case webrtc.PeerConnectionStateDisconnected:
					if disconnected == nil {
						disconnectTimer = time.NewTimer(cfg.DisconnectTimeout)
						disconnected = disconnectTimer.C
					}
				case webrtc.PeerConnectionStateFailed:
					return protocol.ReasonConnectionFailed, "ICE or DTLS failed"
				case webrtc.PeerConnectionStateClosed:
					// Only the player's side closes it while the session runs (a DTLS
					// close_notify): an intentional hang-up, e.g. a closed tab.
					return protocol.ReasonPlayerLeft, "the player closed the peer connection"
				}
			case in := <-s.inbox:
				if r, d, end := s.handle(in); end {
					return r, d
				}
			}
		}
	}()
	if disconnectTimer != nil {
		disconnectTimer.Stop()
	}
	s.end(reason, detail)
}

// handle processes one signalling message; it reports whether the session must end.
func (s *Session) handle(in inboxMsg) (protocol.Reason, string, bool) {
	m := in.m
	switch m.Type {
	case protocol.TypeStart:
		if s.State() != StateReserved {
			respond(in.msg, protocol.FailReply(protocol.Errorf(protocol.CodeBadState, "session already started")))
			return "", "", false
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
		if s.pc == nil || s.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
			s.sendError(protocol.Errorf(protocol.CodeBadState, "no offer is waiting for an answer"))
			return "", "", false
		}
		if len(m.SDP) > protocol.MaxSDPSize {
			s.sendError(protocol.Errorf(protocol.CodeBadField, "sdp too large"))
			return "", "", false
		}
		err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP})
		if err != nil {
			s.log.Info("bad answer", "err", err)
			s.sendError(protocol.Errorf(protocol.CodeBadSDP, "the answer could not be applied"))
			return "", "", false
		}
		for _, ext := range s.sender.GetParameters().HeaderExtensions {
			if ext.URI == playoutDelayURI {
				s.playoutExtID.Store(uint32(ext.ID))
			}
		}
		for _, c := range s.earlyCands {
			s.addCandidate(c)
		}
		s.earlyCands = nil
	case protocol.TypeCandidate:
		if err := protocol.ValidateCandidate(m.Candidate); err != nil {
			s.sendError(err)
			return "", "", false
		}
		c := m.Candidate
		if s.pc == nil {
			s.sendError(protocol.Errorf(protocol.CodeBadState, "candidate before offer"))
			return "", "", false
		}
		if c.Candidate == "" {
			return "", "", false // end of candidates
		}
		init := webrtc.ICECandidateInit{
			Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment,
		}
		if s.pc.RemoteDescription() == nil {
			// Trickled ahead of the answer: keep a few until it arrives.
			if len(s.earlyCands) >= maxEarlyCandidates {
				s.sendError(protocol.Errorf(protocol.CodeBadState, "too many candidates before the answer"))
				return "", "", false
			}
			s.earlyCands = append(s.earlyCands, init)
			return "", "", false
		}
		s.addCandidate(init)
	case protocol.TypeLeave:
		return protocol.ReasonPlayerLeft, "", true
	default:
		s.sendError(protocol.Errorf(protocol.CodeUnknownType, "unknown message type"))
	}
	return "", "", false
}

// maxEarlyCandidates bounds the remote candidates held before the answer.
const maxEarlyCandidates = 32

func (s *Session) addCandidate(c webrtc.ICECandidateInit) {
	if err := s.pc.AddICECandidate(c); err != nil {
		s.log.Debug("bad candidate", "err", err)
		s.sendError(protocol.Errorf(protocol.CodeBadCandidate, "the candidate could not be added"))
	}
}

func (s *Session) sendError(err error) { s.h.sendToClient(s.id, protocol.ErrorMessage(err)) }

// start creates the game, the encoder and the PeerConnection and starts the media pipeline.
func (s *Session) start() error {
	cfg := s.h.cfg
	g, err := s.factory(game.Config{Width: cfg.Width, Height: cfg.Height, FPS: cfg.FPS})
	if err != nil {
		return fmt.Errorf("create game %s: %w", s.game, err)
	}
	s.g = g
	enc, err := encoder.New(encoder.Config{
		Width: cfg.Width, Height: cfg.Height, FPS: cfg.FPS, BitrateKbps: cfg.BitrateKbps, Backend: cfg.EncoderBackend,
	})
	if err != nil {
		return fmt.Errorf("create encoder: %w", err)
	}
	s.enc = enc

	pc, err := s.h.media.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return fmt.Errorf("new peer connection: %w", err)
	}
	s.pc = pc
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: h264Fmtp,
	}, "video", "edgeplay-"+s.id)
	if err != nil {
		return fmt.Errorf("new track: %w", err)
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		return fmt.Errorf("add track: %w", err)
	}
	s.sender = sender
	ordered := true
	if _, err := s.addInputChannel("input", &webrtc.DataChannelInit{Ordered: &ordered}); err != nil {
		return err
	}
	unordered, zero := false, uint16(0)
	if _, err := s.addInputChannel("motion", &webrtc.DataChannelInit{Ordered: &unordered, MaxRetransmits: &zero}); err != nil {
		return err
	}

	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		select {
		case s.pcState <- st:
		default: // the loop is far behind; a later state will follow
		}
	})
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
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
	s.pipeline.Go(func() {
		if err := g.Run(ctx, s.box.put); err != nil {
			s.log.Error("game stopped", "err", err)
			s.stop(protocol.ReasonError)
		}
	})
	s.pipeline.Go(func() { s.encodeLoop(ctx, track) })
	s.pipeline.Go(func() { s.readRTCP(sender) })
	s.state.Store(StateConnecting)
	return nil
}

func (s *Session) addInputChannel(label string, init *webrtc.DataChannelInit) (*webrtc.DataChannel, error) {
	dc, err := s.pc.CreateDataChannel(label, init)
	if err != nil {
		return nil, fmt.Errorf("create data channel %s: %w", label, err)
	}
	dc.OnMessage(func(msg webrtc.DataChannelMessage) { s.onInput(msg) })
	return dc, nil
}

// onInput runs on pion's SCTP goroutine: decode, rate-limit, hand to the game; never blocks.
func (s *Session) onInput(msg webrtc.DataChannelMessage) {
	// Validate first (cheap, allocation-free), then rate-limit what is valid, so the counters
	// say what was wrong with the input regardless of arrival order across the channels.
	if !msg.IsString {
		if ev, err := input.Decode(msg.Data); err == nil {
			if !s.limiter.Allow() {
				s.inputsLimited.Add(1)
				return
			}
			s.lastInput.Store(time.Now().UnixNano())
			s.lastInputSeq.Store(ev.Seq)
			s.inputsApplied.Add(1)
			s.g.Input(ev)
			return
		}
	}
	if n := s.inputsInvalid.Add(1); n == 1 || n%1000 == 0 {
		s.log.Info("invalid input dropped", "count", n)
	}
}

func (s *Session) offer() error {
	offer, err := s.pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	if err := s.pc.SetLocalDescription(offer); err != nil {
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

// encodeLoop takes the newest frame, encodes it and sends it as RTP. It never waits for the
// game, and the game never waits for it.
func (s *Session) encodeLoop(ctx context.Context, track *webrtc.TrackLocalStaticRTP) {
	defer s.box.drain()
	packetizer := rtp.NewPacketizer(rtpMTU, 0, 0, &codecs.H264Payloader{}, rtp.NewRandomSequencer(), 90000)
	host := s.h.cfg.ID
	mEncoded, mBytes := metrics.FramesEncoded.WithLabelValues(host), metrics.VideoBytes.WithLabelValues(host)
	mEncode, mLatency := metrics.EncodeSeconds.WithLabelValues(host), metrics.SendLatencySeconds.WithLabelValues(host)
	var first time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.box.ready:
		}
		f := s.box.take()
		if f == nil {
			continue
		}
		force := s.forceIDR.Swap(false)
		pkt, err := s.enc.Encode(f, force)
		if err != nil {
			f.Release()
			s.log.Error("encode failed", "err", err)
			s.stop(protocol.ReasonError)
			return
		}
		if first.IsZero() {
			first = f.Ready
		}
		// RTP timestamps follow the frame's render time on the 90 kHz clock, so dropped frames
		// leave a gap in time rather than slowing the video down.
		ts := uint32(f.Ready.Sub(first).Seconds() * 90000)
		packets := packetizer.Packetize(pkt.Data, 0)
		extID := uint8(s.playoutExtID.Load())
		var sent int
		for _, p := range packets {
			p.Timestamp += ts
			if extID != 0 {
				_ = p.SetExtension(extID, playoutDelayZero)
			}
			if err := track.WriteRTP(p); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Debug("write rtp", "err", err)
			}
			sent += len(p.Payload)
		}
		lat := time.Since(f.Ready)
		s.h.latency.add(lat)
		mLatency.Observe(lat.Seconds())
		mEncode.Observe((pkt.ConvertDur + pkt.EncodeDur).Seconds())
		mEncoded.Inc()
		mBytes.Add(float64(sent))
		f.Release()
		s.framesEncoded.Add(1)
		if pkt.Keyframe {
			s.keyframes.Add(1)
		}
		s.bytesSent.Add(uint64(sent))
		s.encodeNanos.Add(int64(pkt.ConvertDur + pkt.EncodeDur))
	}
}

// readRTCP watches the receiver's feedback for keyframe requests. It returns when the
// PeerConnection closes.
func (s *Session) readRTCP(sender *webrtc.RTPSender) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.TransportLayerNack:
				metrics.NACKs.WithLabelValues(s.h.cfg.ID).Inc()
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				s.plis.Add(1)
				metrics.KeyframeRequests.WithLabelValues(s.h.cfg.ID).Inc()
				now := time.Now().UnixNano()
				if last := s.lastIDR.Load(); now-last >= int64(minIDRInterval) && s.lastIDR.CompareAndSwap(last, now) {
					s.forceIDR.Store(true)
				}
			}
		}
	}
}

// end tears the session down in order: stop the pipeline, close the PeerConnection, close the
// encoder, free the slot, and tell the player and the event stream.
func (s *Session) end(reason protocol.Reason, detail string) {
	prev := s.State()
	s.state.Store(StateEnded)
	if s.cancel != nil {
		s.cancel()
	}
	if s.pc != nil {
		if err := s.pc.GracefulClose(); err != nil {
			s.log.Debug("close peer connection", "err", err)
		}
	}
	s.pipeline.Wait()
	if s.enc != nil {
		_ = s.enc.Close()
	}
	s.h.remove(s)
	// Answer anything still queued so no gateway waits on a request until its timeout.
	for {
		select {
		case in := <-s.inbox:
			respond(in.msg, protocol.FailReply(protocol.Errorf(protocol.CodeSessionNotFound, "session ended")))
			continue
		default:
		}
		break
	}
	s.h.sendToClient(s.id, protocol.Message{Type: protocol.TypeEnded, Reason: reason, Message: endText(reason)})
	st := s.Stats()
	host := s.h.cfg.ID
	metrics.SessionsEnded.WithLabelValues(host, string(reason)).Inc()
	metrics.FramesDropped.WithLabelValues(host).Add(float64(st.FramesDropped))
	metrics.InputMessages.WithLabelValues(host, "applied").Add(float64(st.InputsApplied))
	metrics.InputMessages.WithLabelValues(host, "invalid").Add(float64(st.InputsInvalid))
	metrics.InputMessages.WithLabelValues(host, "limited").Add(float64(st.InputsLimited))
	s.log.Info("session ended", "reason", reason, "detail", detail, "was", prev,
		"frames", st.FramesEncoded, "dropped", st.FramesDropped, "inputs", st.InputsApplied,
		"inputs_invalid", st.InputsInvalid, "inputs_limited", st.InputsLimited)
	s.h.publishEvent(protocol.Event{Kind: "ended", Session: s.id, Game: s.game, Reason: reason, Detail: detail})
	s.h.heartbeat()
}

func endText(r protocol.Reason) string {
	switch r {
	case protocol.ReasonPlayerLeft:
		return "you left the game"
	case protocol.ReasonIdle:
		return "the session ended after a long time without input"
	case protocol.ReasonConnectionFailed:
		return "connection failed — check that UDP traffic can reach the host"
	case protocol.ReasonTimeout:
		return "the connection to the game host was not established in time"
	case protocol.ReasonHostLost:
		return "the game host stopped answering"
	case protocol.ReasonDrained:
		return "the game host was taken out of service"
	case protocol.ReasonKicked:
		return "an operator ended the session"
	case protocol.ReasonShutdown:
		return "the game host is shutting down"
	}
	return "the session ended because of an error on the host"
}
