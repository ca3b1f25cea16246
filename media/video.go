package media

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/edgeplay/edgeplay/encoder"
	"github.com/edgeplay/edgeplay/game"
)

// rtpMTU is the largest RTP packet the host sends; it leaves room for SRTP, UDP and IP headers
// and for tunnels under a 1500-byte link MTU.
const rtpMTU = 1200

// minIDRInterval limits how often PLI/FIR can force a keyframe.
const minIDRInterval = 500 * time.Millisecond

// skipQueueDelay: when the pacer still holds this much, the next frame is not encoded (it
// would only wait behind the backlog); the game keeps running and the frame after is fresh.
const skipQueueDelay = 40 * time.Millisecond

// playoutDelayZero is the playout-delay extension's payload: 12-bit minimum and maximum delay
// in 10 ms units, both 0.
var playoutDelayZero = []byte{0, 0, 0}

// VideoConfig configures a video sender.
type VideoConfig struct {
	Width, Height, FPS int    // the game's frames; the top rung of the ladder
	EncoderBackend     string // H.264 backend: "auto", "libx264", "h264_nvenc", "h264_vaapi"
	// MinKbps and MaxKbps bound the encoder's bit rate; StartKbps is where it starts (the
	// congestion controller's first estimate). Defaults as EngineConfig.
	MinKbps, MaxKbps, StartKbps int
	// FixedKbps, when set, turns rate adaptation off: the encoder runs at this rate on the
	// top rung whatever the estimate says (benchmarks, and hosts that must not adapt).
	FixedKbps int
	Host      string       // metrics label
	Logger    *slog.Logger // default slog.Default()
	// OnFrameSent, if set, is called with each frame's server-side latency (frame ready →
	// its last RTP packet handed to the pacer).
	OnFrameSent func(time.Duration)
}

// VideoSender streams a game's frames to one player: mailbox → encoder → packetizer → RTP,
// with the RTCP loop (keyframe requests, loss reports) and the rate loop (bandwidth estimate →
// encoder bit rate and resolution) around it. It is the PeerConnection's video track (a
// webrtc.TrackLocal): the codec is the one negotiated with the player, known once the answer
// is applied (Bind).
//
// Put may be called from any goroutine and never blocks. Run owns everything else; it returns
// when ctx is done (nil) or on a failure (the error), and stops the RTP sender as it returns.
type VideoSender struct {
	cfg    VideoConfig
	peer   *Peer
	sender *webrtc.RTPSender
	box    *mailbox
	log    *slog.Logger
	id     string

	bound   chan struct{} // closed by the first Bind
	bindMu  sync.Mutex
	binding binding // guarded by bindMu; set once, before bound is closed

	stopping atomic.Bool   // Run is stopping the sender: readRTCP's errors are the end
	ssrc     atomic.Uint32 // the video's SSRC, once bound
	forceIDR atomic.Bool
	lastIDR  atomic.Int64 // unix nanos of the last keyframe request acted on

	// Counters, readable at any time (Stats).
	framesEncoded, framesSkipped, keyframes, bytesSent atomic.Uint64
	plis, nacks, switches                              atomic.Uint64
	encodeNanos                                        atomic.Int64
	targetKbps, estimateKbps                           atomic.Int64
	width, height                                      atomic.Int64
	fractionLost                                       atomic.Uint32 // last receiver report, /256
	codecName                                          atomic.Value  // string

	// openEncoder opens the encoder; SetEncoderForTest replaces it.
	openEncoder func(encoder.Config) (videoEncoder, error)
}

// binding is what negotiation decided for the track.
type binding struct {
	codec     Codec
	pt        uint8
	ssrc      uint32
	playoutID uint8
	w         webrtc.TrackLocalWriter
}

// videoEncoder is what the sender needs of an encoder.
type videoEncoder interface {
	Encode(f *game.Frame, forceKeyframe bool) (encoder.Packet, error)
	SetBitrate(kbps int) error
	Backend() string
	Close() error
}

// NewVideoSender adds a send-only video track to the peer's PeerConnection; the codecs it
// offers are the engine's. id names the track and stream (the session id).
func NewVideoSender(cfg VideoConfig, peer *Peer, id string) (*VideoSender, error) {
	ec := peer.engine.cfg
	if cfg.MinKbps == 0 {
		cfg.MinKbps = ec.MinKbps
	}
	if cfg.MaxKbps == 0 {
		cfg.MaxKbps = ec.MaxKbps
	}
	if cfg.StartKbps == 0 {
		cfg.StartKbps = ec.StartKbps
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.FPS <= 0 {
		return nil, fmt.Errorf("%w: video %dx%d@%d", ErrConfig, cfg.Width, cfg.Height, cfg.FPS)
	}
	v := &VideoSender{
		cfg: cfg, peer: peer, box: newMailbox(), log: cfg.Logger, id: id,
		bound: make(chan struct{}),
		openEncoder: func(c encoder.Config) (videoEncoder, error) {
			return encoder.New(c)
		},
	}
	v.codecName.Store("")
	tr, err := peer.AddTransceiverFromTrack(v, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return nil, fmt.Errorf("add video track: %w", err)
	}
	v.sender = tr.Sender()
	return v, nil
}

// Put hands the encoder the game's newest frame; an older one not yet taken is dropped. It
// never blocks. The sender releases the frame.
func (v *VideoSender) Put(f *game.Frame) { v.box.put(f) }

// RequestKeyframe makes the next encoded frame a keyframe (e.g. when the player connects).
func (v *VideoSender) RequestKeyframe() { v.forceIDR.Store(true) }

// Codec returns the negotiated codec, once the answer has been applied.
func (v *VideoSender) Codec() (Codec, bool) {
	select {
	case <-v.bound:
	default:
		return Codec{}, false
	}
	v.bindMu.Lock()
	defer v.bindMu.Unlock()
	return v.binding.codec, true
}

// ---- webrtc.TrackLocal ----

// Bind picks the codec to send: the first of the engine's codecs, in its order of preference,
// that the player accepted.
func (v *VideoSender) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	v.bindMu.Lock()
	defer v.bindMu.Unlock()
	select {
	case <-v.bound:
		return webrtc.RTPCodecParameters{}, fmt.Errorf("media: video track %s bound twice", v.id)
	default:
	}
	params := ctx.CodecParameters()
	for _, c := range v.peer.engine.cfg.Codecs {
		for _, p := range params {
			if got, ok := match([]Codec{c}, p); ok {
				b := binding{codec: got, pt: uint8(p.PayloadType), ssrc: uint32(ctx.SSRC()), w: ctx.WriteStream()}
				for _, ext := range ctx.HeaderExtensions() {
					if ext.URI == playoutDelayURI {
						b.playoutID = uint8(ext.ID)
					}
				}
				v.binding = b
				v.ssrc.Store(b.ssrc)
				v.codecName.Store(got.Name)
				close(v.bound)
				return p, nil
			}
		}
	}
	return webrtc.RTPCodecParameters{}, fmt.Errorf("%w (offered %s)", ErrNoCommonCodec, codecNames(v.peer.engine.cfg.Codecs))
}

// Unbind is called when the sender stops; Run notices through its context or a write error.
func (v *VideoSender) Unbind(webrtc.TrackLocalContext) error { return nil }

// ID is the track id.
func (v *VideoSender) ID() string { return "video" }

// RID is empty: one encoding, no simulcast.
func (v *VideoSender) RID() string { return "" }

// StreamID is the media stream id.
func (v *VideoSender) StreamID() string { return "edgeplay-" + v.id }

// Kind is video.
func (v *VideoSender) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeVideo }

// ---- the pipeline ----

// Run waits for negotiation, then encodes and sends every frame Put hands it until ctx is
// done. It returns nil when ctx ends it, or the error that stopped the video.
func (v *VideoSender) Run(ctx context.Context) error {
	defer v.box.drain()
	var rtcpDone sync.WaitGroup
	rtcpDone.Go(v.readRTCP)
	defer func() {
		// Stopping the sender ends readRTCP (its ReadRTCP fails); the PeerConnection's own
		// close would too, but Run must not outlive what it started.
		v.stopping.Store(true)
		_ = v.sender.Stop()
		rtcpDone.Wait()
	}()
	select {
	case <-ctx.Done():
		return nil
	case <-v.bound:
	}
	v.bindMu.Lock()
	b := v.binding
	v.bindMu.Unlock()
	p := newPipeline(v, b)
	defer p.close()
	return p.run(ctx)
}
