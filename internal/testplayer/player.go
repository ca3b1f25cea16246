// Package testplayer is a player made of pion and gorilla/websocket: it joins a game through
// the real /v1/play websocket, answers the host's offer, receives the H.264 track, optionally
// decodes it with libavcodec and reads the latency marker, and sends input on the data
// channels. End-to-end tests and the density benchmark use it in place of a browser.
package testplayer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"github.com/edgeplay/edgeplay/encoder"
	"github.com/edgeplay/edgeplay/game/marker"
	"github.com/edgeplay/edgeplay/input"
	"github.com/edgeplay/edgeplay/protocol"
)

// The game's frame size: the latency marker is defined in its pixels; lower rungs of the
// resolution ladder scale it.
const gameWidth, gameHeight = 1280, 720

// Options configure a player.
type Options struct {
	Game string // default "demo" (without a Token)
	// Token is the join token sent in join; with no Game the token's game is played.
	Token  string
	Decode bool // decode frames and read the marker (costs CPU)
	// RTTs are sent in the join as they are (signed tokens, or unsigned rtt_ms for a
	// matchmaker that allows them).
	RTTs []protocol.RTTClaim
	// Probe measures the RTT to every region in welcome before joining (as the browser does)
	// and sends the signed results; base is the gateway URL.
	Probe bool
	// BadAnswerFirst, when set, makes the player send BadAnswerFirst(its answer) before its
	// answer (a client with a bug, or an attacker).
	BadAnswerFirst func(sdp string) string
	// Codecs are the video codecs the player accepts, by MIME type (webrtc.MimeTypeVP8, …);
	// empty accepts pion's defaults (H.264, VP8, VP9, AV1, …), as a browser would.
	Codecs []string
}

// Frame is what the player learned from one received access unit.
type Frame struct {
	At       time.Time
	Width    int
	Height   int
	Marker   uint16
	MarkerOK bool
	Keyframe bool
}

// Player is one connected test player.
type Player struct {
	opts Options
	ws   *websocket.Conn
	base string
	pc   *webrtc.PeerConnection

	wsMu sync.Mutex // serialises websocket writes; guards ws, msgs and readDone

	msgs     chan protocol.Message // every server message except candidates, in order
	readDone chan struct{}         // closed when the reader of the current socket returns

	mu        sync.Mutex
	offers    int                       // offers read and not yet applied; guarded by mu
	heldCands []webrtc.ICECandidateInit // remote candidates waiting for an offer to be applied; guarded by mu
	frames    []Frame                   // guarded by mu
	codec     string                    // guarded by mu
	media     protocol.MediaStats       // guarded by mu
	inputDC   *webrtc.DataChannel
	motionDC  *webrtc.DataChannel
	dcOpen    chan struct{}
	dcOnce    sync.Once
	connected chan struct{}
	connOnce  sync.Once

	Session, Host string
	Regions       []protocol.RegionInfo // from welcome
	RTTs          []protocol.RTTClaim   // measured, when Options.Probe
	Placed        protocol.Message      // the "placed" message
	seq           atomic.Uint32
	received      atomic.Uint64 // access units
	audioPackets  atomic.Uint64
	bytes         atomic.Uint64

	wg sync.WaitGroup
}

// Dial opens the websocket at base (http://host:port) and waits for "welcome".
func Dial(ctx context.Context, base string, opts Options) (*Player, error) {
	if opts.Game == "" && opts.Token == "" {
		opts.Game = "demo"
	}
	u := "ws" + strings.TrimPrefix(base, "http") + "/v1/play"
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, u, http.Header{})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", u, err)
	}
	p := &Player{
		opts: opts, ws: ws, base: base, msgs: make(chan protocol.Message, 256), readDone: make(chan struct{}),
		dcOpen: make(chan struct{}), connected: make(chan struct{}),
	}
	p.wg.Go(p.readLoop)
	m, err := p.Next(ctx)
	if err != nil {
		p.Close()
		return nil, err
	}
	if m.Type != protocol.TypeWelcome {
		p.Close()
		return nil, fmt.Errorf("first message %q, want welcome", m.Type)
	}
	p.Session, p.Regions = m.Session, m.Regions
	return p, nil
}

// Play joins the game and completes the WebRTC handshake; it returns once the peer
// connection is connected and both data channels are open.
func (p *Player) Play(ctx context.Context) error {
	offer, err := p.Join(ctx)
	if err != nil {
		return err
	}
	return p.Accept(ctx, offer)
}

// Join sends "join" and returns the host's offer.
func (p *Player) Join(ctx context.Context) (string, error) {
	rtts := p.opts.RTTs
	if p.opts.Probe {
		var err error
		if rtts, err = p.MeasureRTTs(ctx, p.base); err != nil {
			return "", err
		}
		p.RTTs = rtts
	}
	if err := p.SendJSON(protocol.Message{Type: protocol.TypeJoin, Game: p.opts.Game, Token: p.opts.Token, RTTs: rtts}); err != nil {
		return "", err
	}
	return p.AwaitOffer(ctx)
}

// AwaitOffer reads messages (placed, queued, …) until the host's offer arrives.
func (p *Player) AwaitOffer(ctx context.Context) (string, error) {
	for {
		m, err := p.Next(ctx)
		if err != nil {
			return "", err
		}
		switch m.Type {
		case protocol.TypePlaced:
			p.Host, p.Placed = m.Host, m
		case protocol.TypeOffer:
			return m.SDP, nil
		case protocol.TypeError, protocol.TypeEnded:
			return "", &ServerError{Msg: m}
		}
	}
}

// Accept answers offer and waits until the peer connection is connected and both data
// channels are open.
func (p *Player) Accept(ctx context.Context, offer string) error {
	if err := p.answer(offer); err != nil {
		return err
	}
	return p.waitConnected(ctx)
}

// Answer answers offer without waiting for the connection (Accept waits).
func (p *Player) Answer(offer string) error { return p.answer(offer) }

// ServerError is an "error" or "ended" message received instead of what was expected.
type ServerError struct{ Msg protocol.Message }

func (e *ServerError) Error() string {
	return fmt.Sprintf("server: %s %s%s: %s", e.Msg.Type, e.Msg.Code, e.Msg.Reason, e.Msg.Message)
}

func (p *Player) waitConnected(ctx context.Context) error {
	for _, ch := range []chan struct{}{p.connected, p.dcOpen} {
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for connection: %w", ctx.Err())
		}
	}
	return nil
}

func (p *Player) answer(sdp string) error {
	// Loopback only: the test servers bind 127.0.0.1, and other interfaces only add
	// candidate pairs that may or may not route.
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))
	if len(p.opts.Codecs) > 0 {
		m, ir, err := restrictedCodecs(p.opts.Codecs)
		if err != nil {
			return err
		}
		api = webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir))
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.pc = pc
	p.mu.Unlock()
	// Candidates wait until the answer is sent, as a browser's do.
	answered := make(chan struct{})
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		<-answered
		cand := &protocol.Candidate{}
		if c != nil {
			init := c.ToJSON()
			cand = &protocol.Candidate{Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex}
		}
		_ = p.SendJSON(protocol.Message{Type: protocol.TypeCandidate, Candidate: cand})
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			p.connOnce.Do(func() { close(p.connected) })
		}
	})
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		if dc.Label() == "control" {
			dc.OnMessage(func(msg webrtc.DataChannelMessage) {
				var ms protocol.MediaStats
				if msg.IsString && json.Unmarshal(msg.Data, &ms) == nil && ms.Type == protocol.TypeMedia {
					p.mu.Lock()
					p.media = ms
					p.mu.Unlock()
				}
			})
			return
		}
		dc.OnOpen(func() {
			p.mu.Lock()
			switch dc.Label() {
			case "input":
				p.inputDC = dc
			case "motion":
				p.motionDC = dc
			}
			both := p.inputDC != nil && p.motionDC != nil
			p.mu.Unlock()
			if both {
				p.dcOnce.Do(func() { close(p.dcOpen) })
			}
		})
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		p.wg.Go(func() { p.readTrack(tr) })
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return fmt.Errorf("set offer: %w", err)
	}
	p.offerApplied(pc)
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	defer close(answered)
	if err := pc.SetLocalDescription(ans); err != nil {
		return err
	}
	if bad := p.opts.BadAnswerFirst; bad != nil {
		if err := p.SendJSON(protocol.Message{Type: protocol.TypeAnswer, SDP: bad(ans.SDP)}); err != nil {
			return err
		}
	}
	return p.SendJSON(protocol.Message{Type: protocol.TypeAnswer, SDP: ans.SDP})
}

func (p *Player) readTrack(tr *webrtc.TrackRemote) {
	codec := encoder.CodecH264
	if tr.Kind() == webrtc.RTPCodecTypeAudio {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			p.audioPackets.Add(1)
		}
	}
	var depacketizer rtp.Depacketizer = &codecs.H264Packet{}
	isKey := hasIDR
	if strings.EqualFold(tr.Codec().MimeType, webrtc.MimeTypeVP8) {
		codec, depacketizer, isKey = encoder.CodecVP8, &codecs.VP8Packet{}, isVP8Keyframe
	}
	p.mu.Lock()
	p.codec = codec
	p.mu.Unlock()
	var dec *encoder.Decoder
	if p.opts.Decode {
		var err error
		if dec, err = encoder.NewDecoderCodec(codec); err != nil {
			return
		}
		defer dec.Close()
	}
	sb := samplebuilder.New(256, depacketizer, 90000)
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		sb.Push(pkt)
		for s := sb.Pop(); s != nil; s = sb.Pop() {
			p.received.Add(1)
			p.bytes.Add(uint64(len(s.Data)))
			if dec == nil {
				continue
			}
			f := Frame{At: time.Now(), Keyframe: isKey(s.Data)}
			pic, err := dec.Decode(s.Data)
			if err != nil || pic == nil {
				continue
			}
			f.Width, f.Height = pic.Width, pic.Height
			f.Marker, f.MarkerOK = marker.ReadScaled(pic.Y, pic.YStride, pic.Width, pic.Height, gameWidth, gameHeight)
			p.mu.Lock()
			p.frames = append(p.frames, f)
			p.mu.Unlock()
		}
	}
}

func hasIDR(annexB []byte) bool {
	for i := 0; i+3 < len(annexB); i++ {
		if annexB[i] == 0 && annexB[i+1] == 0 && annexB[i+2] == 1 && annexB[i+3]&0x1f == 5 {
			return true
		}
	}
	return false
}

// isVP8Keyframe reports whether a VP8 frame is a key frame (RFC 6386 9.1: bit 0 of the
// frame tag is 0).
func isVP8Keyframe(frame []byte) bool { return len(frame) > 0 && frame[0]&1 == 0 }

// restrictedCodecs is a media engine that accepts only the given video codecs, with pion's
// default interceptors (NACK, reports, transport-wide congestion control feedback).
func restrictedCodecs(mimes []string) (*webrtc.MediaEngine, *interceptor.Registry, error) {
	m := &webrtc.MediaEngine{}
	for _, c := range defaultVideoCodecs() {
		for _, mime := range mimes {
			if strings.EqualFold(c.MimeType, mime) {
				if err := m.RegisterCodec(c, webrtc.RTPCodecTypeVideo); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		return nil, nil, err
	}
	return m, ir, nil
}

// defaultVideoCodecs are the video codecs a pion peer accepts by default.
func defaultVideoCodecs() []webrtc.RTPCodecParameters {
	fb := []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	return []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb}, PayloadType: 96},
		{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", RTCPFeedback: fb,
		}, PayloadType: 102},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0", RTCPFeedback: fb}, PayloadType: 98},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeAV1, ClockRate: 90000, RTCPFeedback: fb}, PayloadType: 45},
	}
}

// Codec is the video codec the host sends ("h264" or "vp8"), once the track arrived.
func (p *Player) Codec() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.codec
}

// Media is the last "media" message the host sent on the control channel.
func (p *Player) Media() protocol.MediaStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.media
}

// Frames returns the decoded frames so far (Decode option only).
func (p *Player) Frames() []Frame {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Frame(nil), p.frames...)
}

// Received is the number of H.264 access units received.
func (p *Player) Received() uint64 { return p.received.Load() }

// AudioPackets is the number of audio (Opus) RTP packets received.
func (p *Player) AudioPackets() uint64 { return p.audioPackets.Load() }

// SendInput sends ev with the next sequence number on the channel the protocol assigns to
// its type, and returns the sequence number used.
func (p *Player) SendInput(ev input.Event) (uint32, error) {
	ev.Seq = p.seq.Add(1)
	ev.Time = uint32(time.Now().UnixMilli())
	motion := ev.Type == input.MouseMove || ev.Type == input.Wheel || ev.Type == input.GamepadState
	return ev.Seq, p.SendRaw(motion, input.Append(nil, ev))
}

// SendRaw sends arbitrary bytes on the motion (true) or input (false) channel.
func (p *Player) SendRaw(motion bool, b []byte) error {
	p.mu.Lock()
	dc := p.inputDC
	if motion {
		dc = p.motionDC
	}
	p.mu.Unlock()
	if dc == nil {
		return errors.New("data channel not open")
	}
	return dc.Send(b)
}

// SendJSON writes one websocket message.
func (p *Player) SendJSON(m protocol.Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return p.SendText(b)
}

// SendText writes raw text to the websocket.
func (p *Player) SendText(b []byte) error { return p.write(websocket.TextMessage, b) }

// SendBinary writes a binary websocket message (which the protocol does not allow).
func (p *Player) SendBinary(b []byte) error { return p.write(websocket.BinaryMessage, b) }

func (p *Player) write(kind int, b []byte) error {
	p.wsMu.Lock()
	defer p.wsMu.Unlock()
	_ = p.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return p.ws.WriteMessage(kind, b)
}

// Next returns the next server message other than a candidate (candidates are applied).
func (p *Player) Next(ctx context.Context) (protocol.Message, error) {
	p.wsMu.Lock()
	msgs := p.msgs
	p.wsMu.Unlock()
	select {
	case m, ok := <-msgs:
		if !ok {
			return protocol.Message{}, errors.New("websocket closed")
		}
		return m, nil
	case <-ctx.Done():
		return protocol.Message{}, fmt.Errorf("waiting for a message: %w", ctx.Err())
	}
}

func (p *Player) readLoop() {
	p.wsMu.Lock()
	ws, msgs, done := p.ws, p.msgs, p.readDone
	p.wsMu.Unlock()
	defer close(done)
	defer close(msgs)
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var m protocol.Message
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		if m.Type == protocol.TypeOffer {
			p.mu.Lock()
			p.offers++
			p.mu.Unlock()
		}
		if m.Type == protocol.TypeCandidate && m.Candidate != nil {
			if m.Candidate.Candidate == "" {
				continue
			}
			c := webrtc.ICECandidateInit{
				Candidate: m.Candidate.Candidate, SDPMid: m.Candidate.SDPMid, SDPMLineIndex: m.Candidate.SDPMLineIndex,
				UsernameFragment: m.Candidate.UsernameFragment,
			}
			// A candidate of an offer not yet applied (the first, or an ICE restart's with its
			// new ufrag) waits for it, as the page's player does.
			p.mu.Lock()
			pc, hold := p.pc, p.pc == nil || p.offers > 0
			if hold {
				p.heldCands = append(p.heldCands, c)
			}
			p.mu.Unlock()
			if !hold {
				_ = pc.AddICECandidate(c)
			}
			continue
		}
		select {
		case msgs <- m:
		default: // nobody is listening; keep reading
		}
	}
}

// Leave sends "leave" and waits for "ended" (or ctx).
func (p *Player) Leave(ctx context.Context) (protocol.Message, error) {
	if err := p.SendJSON(protocol.Message{Type: protocol.TypeLeave}); err != nil {
		return protocol.Message{}, err
	}
	for {
		m, err := p.Next(ctx)
		if err != nil {
			return m, err
		}
		if m.Type == protocol.TypeEnded {
			return m, nil
		}
	}
}

// Close closes the peer connection and the websocket and waits for the player's goroutines.
func (p *Player) Close() {
	p.mu.Lock()
	pc := p.pc
	p.mu.Unlock()
	if pc != nil {
		_ = pc.GracefulClose()
	}
	p.wsMu.Lock()
	ws := p.ws
	p.wsMu.Unlock()
	_ = ws.Close()
	p.wg.Wait()
}

// UseGateway makes later Resume calls dial base (http://host:port) instead of the gateway the
// player first dialled: another replica.
func (p *Player) UseGateway(base string) { p.base = base }

// DropSocket closes the websocket without "leave", as a network failure would, and waits for
// the reader; the peer connection is left as it is.
func (p *Player) DropSocket() {
	p.wsMu.Lock()
	ws, done := p.ws, p.readDone
	p.wsMu.Unlock()
	_ = ws.Close()
	<-done
}

// Resume opens a new websocket to the same gateway and sends "resume" for session with token
// in place of a join. It returns the gateway's answer: "resumed" (the socket now carries the
// session) or an "error". Candidates and offers that follow arrive as usual (Next,
// AcceptRestart).
func (p *Player) Resume(ctx context.Context, session, token string) (protocol.Message, error) {
	u := "ws" + strings.TrimPrefix(p.base, "http") + "/v1/play"
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, u, http.Header{})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return protocol.Message{}, fmt.Errorf("dial %s: %w", u, err)
	}
	p.wsMu.Lock()
	old, done := p.ws, p.readDone
	p.wsMu.Unlock()
	_ = old.Close()
	<-done // the old reader
	p.wsMu.Lock()
	p.ws, p.msgs, p.readDone = ws, make(chan protocol.Message, 256), make(chan struct{})
	p.wsMu.Unlock()
	p.wg.Go(p.readLoop)
	if m, err := p.Next(ctx); err != nil {
		return m, fmt.Errorf("waiting for welcome: %w", err)
	} else if m.Type != protocol.TypeWelcome {
		return m, fmt.Errorf("first message %q, want welcome", m.Type)
	}
	if err := p.SendJSON(protocol.Message{Type: protocol.TypeResume, Session: session, Token: token}); err != nil {
		return protocol.Message{}, err
	}
	for {
		m, err := p.Next(ctx)
		if err != nil {
			return m, err
		}
		switch m.Type {
		case protocol.TypeResumed:
			p.Session = session
			return m, nil
		case protocol.TypeError, protocol.TypeEnded:
			return m, nil
		}
	}
}

// AcceptRestart applies an ICE-restart offer to the existing peer connection and sends the
// answer after all its new candidates; the connection keeps its tracks and data channels.
func (p *Player) AcceptRestart(offer string) error {
	p.mu.Lock()
	pc := p.pc
	p.mu.Unlock()
	if pc == nil {
		return errors.New("no peer connection to restart")
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fmt.Errorf("set restart offer: %w", err)
	}
	p.offerApplied(pc)
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return err
	}
	// The hardest order for the host: every candidate of the new generation (trickled by
	// OnICECandidate) arrives before the answer, which it must hold until the answer.
	select {
	case <-gathered:
	case <-time.After(5 * time.Second):
		return errors.New("restart: gathering did not complete in 5 s")
	}
	return p.SendJSON(protocol.Message{Type: protocol.TypeAnswer, SDP: ans.SDP})
}

// offerApplied adds the remote candidates held for an offer once the last offer read is applied.
func (p *Player) offerApplied(pc *webrtc.PeerConnection) {
	p.mu.Lock()
	if p.offers > 0 {
		p.offers--
	}
	var held []webrtc.ICECandidateInit
	if p.offers == 0 {
		held, p.heldCands = p.heldCands, nil
	}
	p.mu.Unlock()
	for _, c := range held {
		_ = pc.AddICECandidate(c)
	}
}

// Token is the join token the player was made with.
func (p *Player) Token() string { return p.opts.Token }

// ConnectionState is the peer connection's state ("new" before the offer).
func (p *Player) ConnectionState() webrtc.PeerConnectionState {
	p.mu.Lock()
	pc := p.pc
	p.mu.Unlock()
	if pc == nil {
		return webrtc.PeerConnectionStateNew
	}
	return pc.ConnectionState()
}
