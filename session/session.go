package session

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/internal/metrics"
	"github.com/edgeplay/edgeplay/media"
	"github.com/edgeplay/edgeplay/protocol"
)

// Session states.
const (
	StateReserved   = "reserved"   // slot held, waiting for the gateway's start
	StateConnecting = "connecting" // offer sent, waiting for ICE + DTLS
	StatePlaying    = "playing"
	StateEnded      = "ended"
)

// Stats are a session's counters, readable at any time: the video sender's, the audio
// sender's (zero when the game makes no sound), and the input's.
type Stats struct {
	media.VideoStats
	Audio         media.AudioStats
	InputsApplied uint64
	InputsInvalid uint64
	InputsLimited uint64
	LastInputSeq  uint32
	// InputToFrame is the latest input → frame latency (see inputClock), InputSamples how
	// many were taken; 0 before the game showed a frame for an input.
	InputToFrame   time.Duration
	InputSamples   uint64
	ConnectedSince time.Time
}

type inboxMsg struct {
	m   protocol.Message
	msg *nats.Msg // for replying to requests (start)
}

// Session is one player's game on this host: a game instance, the video sender that encodes
// and streams its frames (package media), the PeerConnection and the input data channels. The
// session does signalling, lifecycle and input routing. All state changes happen on the run
// goroutine; pion callbacks and NATS handlers only post to its channels (house style 7).
type Session struct {
	id, game  string
	h         *Host
	rttMillis float64 // the player's RTT to this data center when placed; 0 = unknown
	reason    string  // why the matchmaker placed the session here
	log       *slog.Logger
	factory   game.Factory

	inbox   chan inboxMsg
	pcState chan webrtc.PeerConnectionState
	stopReq chan stopMsg // capacity 1: the host (or the pipeline) asks the session to end

	state atomic.Value // string

	// Owned by run.
	peer     *media.Peer
	video    *media.VideoSender
	control  *webrtc.DataChannel // host → player JSON messages (media stats)
	cancel   context.CancelFunc
	pipeline sync.WaitGroup
	g        game.Game

	// Local ICE candidates gathered before the offer went out wait here, so the player never
	// gets a candidate before the offer.
	candMu    sync.Mutex
	offerSent bool               // guarded by candMu
	candQueue []protocol.Message // guarded by candMu
	// Remote candidates that arrive before the answer (owned by run).
	earlyCands []webrtc.ICECandidateInit
	player     atomic.Pointer[protocol.PlayerInfo] // from start: the join token's player; nil without one
	runGame    func()                              // set by start, called once at the first connection; run loop only
	studio     string                              // the join token's studio, from the reservation; set before run
	// usageStart is when the player first connected (zero before), usageLast when the last
	// usage record was written; run loop only.
	usageStart, usageLast time.Time

	// Resume (owned by run). gen is the resume generation the player's current connection
	// carries; awayWhy is set while the player is away, and graceC fires when the grace is
	// over; lastRestart limits ICE restarts.
	gen         uint64
	awayWhy     string
	graceTimer  *time.Timer
	graceC      <-chan time.Time
	lastRestart time.Time
	resumes     atomic.Uint64
	isAway      atomic.Bool // mirrors awayWhy != "", for SessionInfo

	// Touched by pion's callbacks.
	lastInput atomic.Int64 // unix nanos
	limiter   *rate.Limiter
	connected atomic.Int64 // unix nanos
	videoPtr  atomic.Pointer[media.VideoSender]
	audioPtr  atomic.Pointer[media.AudioSender]
	// The last rumble sent (unix nanos), to rate-limit the game's requests.
	lastRumble atomic.Int64

	inputsApplied, inputsInvalid, inputsLimited atomic.Uint64
	lastInputSeq                                atomic.Uint32
	inputClock                                  inputClock
	gamePtr                                     atomic.Pointer[game.Game] // set once the game exists
	// result is the game's, when it ended the session itself with one (set by the
	// pipeline's game goroutine before it asks the session to stop).
	result atomic.Pointer[json.RawMessage]
}

func newSession(h *Host, id, gameName string, factory game.Factory) *Session {
	s := &Session{
		id: id, game: gameName, h: h, factory: factory,
		log:     h.log.With("session", id),
		inbox:   make(chan inboxMsg, 64),
		pcState: make(chan webrtc.PeerConnectionState, 16),
		stopReq: make(chan stopMsg, 1),
		limiter: rate.NewLimiter(rate.Limit(h.cfg.InputRate), h.cfg.InputBurst),
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
		InputsApplied: s.inputsApplied.Load(), InputsInvalid: s.inputsInvalid.Load(),
		InputsLimited: s.inputsLimited.Load(), LastInputSeq: s.lastInputSeq.Load(),
	}
	st.InputToFrame, st.InputSamples = s.inputClock.latest()
	if v := s.videoPtr.Load(); v != nil {
		st.VideoStats = v.Stats()
	}
	if a := s.audioPtr.Load(); a != nil {
		st.Audio = a.Stats()
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

// stopMsg is a request to end the session: the reason and its detail (for the log and the
// "ended" event).
type stopMsg struct {
	reason protocol.Reason
	detail string
}

// stop asks the session to end with reason; it returns at once.
func (s *Session) stop(reason protocol.Reason) { s.stopWith(reason, "") }

// stopWith asks the session to end with reason and detail; it returns at once. The first
// request wins.
func (s *Session) stopWith(reason protocol.Reason, detail string) {
	select {
	case s.stopReq <- stopMsg{reason, detail}:
	default: // a stop is already pending
	}
}

// mediaStatsInterval is how often a playing session tells its player about the video.
const mediaStatsInterval = time.Second

// run is the session's loop; it owns every resource of the session and releases all of them
// before it returns.
func (s *Session) run() {
	defer func() {
		if v := recover(); v != nil { // a bug in this session's loop ends it, not the host
			s.afterPanic(v)
		}
	}()
	cfg := s.h.cfg
	reserve := time.NewTimer(cfg.ReserveTimeout)
	defer reserve.Stop()
	idleCheck := time.NewTicker(min(cfg.IdleTimeout/4, 10*time.Second) + time.Millisecond)
	defer idleCheck.Stop()
	mediaTick := time.NewTicker(mediaStatsInterval)
	defer mediaTick.Stop()
	defer s.stopGrace()

	reason, detail := func() (protocol.Reason, string) {
		for {
			select {
			case r := <-s.stopReq:
				return r.reason, r.detail
			case <-reserve.C:
				if s.State() != StatePlaying {
					return protocol.ReasonTimeout, fmt.Sprintf("player did not connect within %s", cfg.ReserveTimeout)
				}
			case <-s.graceC:
				if s.peer != nil && s.peer.ConnectionState() == webrtc.PeerConnectionStateConnected {
					// The media path works (its "connected" may have come before the
					// away, around an ICE restart): the player is there.
					s.back("the peer connection is connected at the end of the grace")
					continue
				}
				return protocol.ReasonPlayerLost, fmt.Sprintf("away for %s (%s)", cfg.ResumeGrace, s.awayWhy)
			case <-idleCheck.C:
				if s.State() == StatePlaying && s.awayWhy == "" && time.Since(time.Unix(0, s.lastInput.Load())) > cfg.IdleTimeout {
					return protocol.ReasonIdle, fmt.Sprintf("no input for %s", cfg.IdleTimeout)
				}
			case <-mediaTick.C:
				if s.State() == StatePlaying {
					s.sendMediaStats()
				}
				if now := time.Now(); !s.usageStart.IsZero() && now.Sub(s.usageLast) >= protocol.UsageTickInterval {
					s.usageLast = now
					s.h.usage.put(s.usageRecord(protocol.UsageKindTick, now))
				}
			case st := <-s.pcState:
				switch st {
				case webrtc.PeerConnectionStateConnected:
					if s.State() != StatePlaying {
						if s.runGame != nil {
							s.runGame()
							s.runGame = nil
						}
						now := time.Now()
						s.connected.Store(now.UnixNano())
						s.lastInput.Store(now.UnixNano())
						s.state.Store(StatePlaying)
						s.video.RequestKeyframe()
						s.log.Info("player connected")
						metrics.SessionsStarted.WithLabelValues(cfg.ID).Inc()
						s.h.publishEvent(s.event(protocol.Event{Kind: "connected"}))
						if s.usageStart.IsZero() {
							s.usageStart, s.usageLast = now, now
							metrics.StudioSessions.WithLabelValues(studioLabel(s.studio)).Inc()
							s.h.usage.put(s.usageRecord(protocol.UsageKindStart, now))
						}
					} else {
						s.back("the peer connection is connected again")
					}
				case webrtc.PeerConnectionStateDisconnected:
					if s.State() == StatePlaying {
						s.away("the peer connection is disconnected")
					}
				case webrtc.PeerConnectionStateFailed:
					if s.State() != StatePlaying {
						return protocol.ReasonConnectionFailed, "ICE or DTLS failed"
					}
					s.away("the peer connection failed")
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
	s.end(reason, detail)
}

// end tears the session down in order: stop the pipeline, close the PeerConnection, close the
// encoder, free the slot, and tell the player and the event stream.
func (s *Session) end(reason protocol.Reason, detail string) {
	prev := s.State()
	s.state.Store(StateEnded)
	if s.cancel != nil {
		s.cancel()
	}
	if s.peer != nil {
		if err := s.peer.GracefulClose(); err != nil {
			s.log.Debug("close peer connection", "err", err)
		}
	}
	// Tell the player now: the pipeline may take a while (a game process gets a grace to
	// exit after shutdown).
	var result json.RawMessage
	if r := s.result.Load(); r != nil {
		result = *r
	}
	s.h.sendToClient(s.id, protocol.Message{Type: protocol.TypeEnded, Reason: reason, Message: endText(reason), Result: result})
	s.pipeline.Wait()
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
	st := s.Stats()
	host := s.h.cfg.ID
	metrics.SessionsEnded.WithLabelValues(host, string(reason)).Inc()
	metrics.FramesDropped.WithLabelValues(host).Add(float64(st.FramesDropped))
	metrics.InputMessages.WithLabelValues(host, "applied").Add(float64(st.InputsApplied))
	metrics.InputMessages.WithLabelValues(host, "invalid").Add(float64(st.InputsInvalid))
	metrics.InputMessages.WithLabelValues(host, "limited").Add(float64(st.InputsLimited))
	s.log.Info("session ended", "reason", reason, "detail", detail, "was", prev,
		"codec", st.Codec, "frames", st.FramesEncoded, "dropped", st.FramesDropped, "skipped", st.FramesSkipped,
		"keyframes", st.Keyframes, "plis", st.PLIs, "nacks", st.NACKs, "rtx", st.RTXPackets, "switches", st.Switches,
		"inputs", st.InputsApplied, "inputs_invalid", st.InputsInvalid, "inputs_limited", st.InputsLimited,
		"audio_frames", st.Audio.Frames, "audio_dtx", st.Audio.DTX, "audio_dropped", st.Audio.Dropped,
		"audio_latency", st.Audio.Latency.Round(10*time.Microsecond))
	s.h.publishEvent(s.event(protocol.Event{Kind: "ended", Reason: reason, Detail: detail, Result: result}))
	if !s.usageStart.IsZero() {
		now := time.Now()
		r := s.usageRecord(protocol.UsageKindEnd, now)
		r.End, r.Reason, r.Result = now.UTC(), reason, result
		metrics.StudioPlayedSeconds.WithLabelValues(studioLabel(s.studio)).Add(r.Seconds)
		s.h.usage.put(r)
	}
	s.h.heartbeat()
}

// event fills in a session event's session, game, studio and player.
func (s *Session) event(ev protocol.Event) protocol.Event {
	ev.Session, ev.Game, ev.Studio = s.id, s.game, s.studio
	if p := s.player.Load(); p != nil {
		ev.Player = p.ID
	}
	return ev
}

// usageRecord is the session's usage as of now (kind start, tick or end).
func (s *Session) usageRecord(kind string, now time.Time) protocol.UsageRecord {
	r := protocol.UsageRecord{
		Kind: kind, Session: s.id, Studio: s.studio, Game: s.game, Region: s.h.cfg.Region, Host: s.h.cfg.ID,
		Start: s.usageStart.UTC(), Seconds: round(now.Sub(s.usageStart).Seconds(), 3), Time: now.UTC(),
	}
	if p := s.player.Load(); p != nil {
		r.Player = p.ID
	}
	return r
}

// studioLabel is a studio's metric label: "_" for sessions without a join token.
func studioLabel(studio string) string {
	if studio == "" {
		return protocol.NoStudio
	}
	return studio
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
	case protocol.ReasonGameEnded:
		return "the game ended"
	case protocol.ReasonGameStartFailed:
		return "the game could not be started"
	case protocol.ReasonGameCrashed:
		return "the game crashed"
	case protocol.ReasonGameHung:
		return "the game stopped responding"
	}
	return "the session ended because of an error on the host"
}
