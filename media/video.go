package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgeplay/edgeplay/encoder"
	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/internal/metrics"
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

	// openEncoder opens the encoder; tests replace it.
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

// pipeline is Run's state once the codec is known.
type pipeline struct {
	v      *VideoSender
	b      binding
	pk     rtp.Packetizer
	rc     *RateController
	ladder []Rung
	enc    videoEncoder
	first  time.Time // Ready of the first frame sent: RTP time 0

	mEncoded, mBytes, mHeight, mSkipped prometheus.Counter
	mSwitchUp, mSwitchDown, mRTX        prometheus.Counter
	mPacerDropped                       prometheus.Counter
	mEncode, mLatency, mTarget, mEstim  prometheus.Observer
	lastSample                          time.Time
	lastFrames                          uint64     // framesEncoded at lastSample
	lastPacer                           PacerStats // at lastSample
}

func newPipeline(v *VideoSender, b binding) *pipeline {
	cfg := v.cfg
	p := &pipeline{
		v: v, b: b,
		pk:     rtp.NewPacketizer(rtpMTU, b.pt, b.ssrc, b.codec.newPayloader(), rtp.NewRandomSequencer(), b.codec.ClockRate),
		ladder: Ladder(cfg.Width, cfg.Height),
	}
	start := cfg.StartKbps * 1000
	if cfg.FixedKbps > 0 {
		p.ladder = p.ladder[:1]
		start = cfg.FixedKbps * 1000
	}
	rc := RateConfig{FPS: cfg.FPS, MinKbps: cfg.MinKbps, MaxKbps: cfg.MaxKbps}
	if cfg.FixedKbps > 0 {
		rc.MinKbps, rc.MaxKbps, rc.Headroom = cfg.FixedKbps, cfg.FixedKbps, 1
	}
	p.rc = NewRateController(rc, p.ladder, start)
	h := cfg.Host
	p.mEncoded, p.mBytes = metrics.FramesEncoded.WithLabelValues(h), metrics.VideoBytes.WithLabelValues(h)
	p.mEncode, p.mLatency = metrics.EncodeSeconds.WithLabelValues(h), metrics.SendLatencySeconds.WithLabelValues(h)
	p.mTarget, p.mEstim = metrics.VideoTargetKbps.WithLabelValues(h), metrics.VideoEstimateKbps.WithLabelValues(h)
	p.mSkipped = metrics.FramesSkipped.WithLabelValues(h)
	p.mSwitchUp = metrics.ResolutionSwitches.WithLabelValues(h, "up")
	p.mSwitchDown = metrics.ResolutionSwitches.WithLabelValues(h, "down")
	p.mRTX, p.mPacerDropped = metrics.RTXPackets.WithLabelValues(h), metrics.PacerDropped.WithLabelValues(h)
	return p
}

func (p *pipeline) close() {
	if p.enc != nil {
		_ = p.enc.Close()
		p.enc = nil
	}
}

// open (re)opens the encoder for the current rung; its first frame is a keyframe.
func (p *pipeline) open() error {
	p.close()
	r := p.rc.Rung()
	cfg := p.v.cfg
	ec := encoder.Config{
		Codec: p.b.codec.Name, Width: r.Width, Height: r.Height, SrcWidth: cfg.Width, SrcHeight: cfg.Height,
		FPS: cfg.FPS, BitrateKbps: p.rc.Kbps(),
	}
	if p.b.codec.Name == H264.Name {
		ec.Backend = cfg.EncoderBackend
	}
	enc, err := p.v.openEncoder(ec)
	if err != nil {
		return fmt.Errorf("open %s encoder at %s: %w", p.b.codec.Name, r, err)
	}
	p.enc = enc
	if enc.Backend() == encoder.BackendNVENC {
		// FFmpeg's NVENC wrapper resets the encoder with an IDR on every bit-rate change.
		p.rc.cfg = p.rc.cfg.CostlyChanges()
	}
	p.v.peer.Pacer.SetFloor(p.rc.Kbps() * 1000)
	p.v.width.Store(int64(r.Width))
	p.v.height.Store(int64(r.Height))
	p.mHeight = metrics.FramesByHeight.WithLabelValues(cfg.Host, strconv.Itoa(r.Height))
	return nil
}

func (p *pipeline) run(ctx context.Context) error {
	v := p.v
	if err := p.open(); err != nil {
		return err
	}
	v.log.Info("video started", "codec", p.b.codec.Name, "size", p.rc.Rung().String(), "kbps", p.rc.Kbps())
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-v.box.ready:
		}
		f := v.box.take()
		if f == nil {
			continue
		}
		err := p.frame(f)
		f.Release()
		if err != nil {
			return err
		}
	}
}

// frame adapts the rate, then encodes and sends one frame (or skips it under a backlog).
func (p *pipeline) frame(f *game.Frame) error {
	v := p.v
	now := time.Now()
	est := v.peer.Estimator.GetTargetBitrate()
	d := p.rc.Update(now, est)
	v.targetKbps.Store(int64(d.Kbps))
	v.estimateKbps.Store(int64(est / 1000))
	if now.Sub(p.lastSample) >= time.Second {
		fps := float64(v.framesEncoded.Load()-p.lastFrames) / now.Sub(p.lastSample).Seconds()
		p.lastSample, p.lastFrames = now, v.framesEncoded.Load()
		p.mTarget.Observe(float64(d.Kbps))
		p.mEstim.Observe(float64(est / 1000))
		ps := v.peer.Pacer.Stats()
		v.log.Debug("video rate", "fps", int(fps), "estimate_kbps", est/1000, "target_kbps", d.Kbps, "size", p.rc.Rung().String(),
			"pacer_delay", v.peer.Pacer.QueueDelay(), "skipped", v.framesSkipped.Load(), "rtx", ps.RTXPackets,
			"pacer_dropped", ps.Dropped, "nacks", v.nacks.Load(), "plis", v.plis.Load())
		p.mRTX.Add(float64(ps.RTXPackets - p.lastPacer.RTXPackets))
		p.mPacerDropped.Add(float64(ps.Dropped - p.lastPacer.Dropped))
		p.lastPacer = ps
	}
	switch {
	case d.Switch:
		old := Rung{int(v.width.Load()), int(v.height.Load())}
		if err := p.open(); err != nil {
			return err
		}
		v.switches.Add(1)
		if p.rc.Rung().Height > old.Height {
			p.mSwitchUp.Inc()
		} else {
			p.mSwitchDown.Inc()
		}
		v.log.Info("video resolution changed", "from", old.String(), "to", p.rc.Rung().String(),
			"kbps", d.Kbps, "estimate_kbps", est/1000)
	case d.SetBitrate:
		if err := p.enc.SetBitrate(d.Kbps); err != nil && !errors.Is(err, encoder.ErrNotSupported) {
			return fmt.Errorf("set bitrate %d kbps: %w", d.Kbps, err)
		}
	}
	if d.Switch || d.SetBitrate {
		v.peer.Pacer.SetFloor(d.Kbps * 1000)
	}

	force := v.forceIDR.Load()
	if !force && !d.Switch && v.peer.Pacer.QueueDelay() > skipQueueDelay {
		v.framesSkipped.Add(1)
		p.mSkipped.Inc()
		return nil
	}
	if force {
		v.forceIDR.Store(false)
	}
	pkt, err := p.enc.Encode(f, force)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	if p.first.IsZero() {
		p.first = f.Ready
	}
	// RTP timestamps follow the frame's render time, so dropped or skipped frames leave a gap
	// in time rather than slowing the video down.
	ts := uint32(f.Ready.Sub(p.first).Seconds() * float64(p.b.codec.ClockRate))
	var sent int
	for _, rp := range p.pk.Packetize(pkt.Data, 0) {
		rp.Timestamp += ts
		if p.b.playoutID != 0 {
			_ = rp.SetExtension(p.b.playoutID, playoutDelayZero)
		}
		if _, err := p.b.w.WriteRTP(&rp.Header, rp.Payload); err != nil && !errors.Is(err, context.Canceled) {
			v.log.Debug("write rtp", "err", err)
		}
		sent += len(rp.Payload)
	}
	lat := time.Since(f.Ready)
	if v.cfg.OnFrameSent != nil {
		v.cfg.OnFrameSent(lat)
	}
	p.mLatency.Observe(lat.Seconds())
	p.mEncode.Observe((pkt.ConvertDur + pkt.EncodeDur).Seconds())
	p.mEncoded.Inc()
	p.mHeight.Inc()
	p.mBytes.Add(float64(sent))
	v.framesEncoded.Add(1)
	if pkt.Keyframe {
		v.keyframes.Add(1)
	}
	v.bytesSent.Add(uint64(sent))
	v.encodeNanos.Add(int64(pkt.ConvertDur + pkt.EncodeDur))
	return nil
}

// readRTCP watches the player's feedback: keyframe requests, NACKs and receiver reports. (The
// interceptors see the same packets first: NACKs are answered with retransmissions there, and
// transport-wide feedback feeds the estimator.) It returns when the sender stops.
func (v *VideoSender) readRTCP() {
	host := v.cfg.Host
	mNACK, mPLI := metrics.NACKs.WithLabelValues(host), metrics.KeyframeRequests.WithLabelValues(host)
	for {
		pkts, _, err := v.sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.TransportLayerNack:
				var n uint64
				for _, pair := range p.Nacks {
					n += uint64(len(pair.PacketList()))
				}
				v.nacks.Add(n)
				mNACK.Add(float64(n))
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				v.plis.Add(1)
				mPLI.Inc()
				now := time.Now().UnixNano()
				if last := v.lastIDR.Load(); now-last >= int64(minIDRInterval) && v.lastIDR.CompareAndSwap(last, now) {
					v.forceIDR.Store(true)
				}
			case *rtcp.ReceiverReport:
				for _, r := range p.Reports {
					v.fractionLost.Store(uint32(r.FractionLost))
				}
			}
		}
	}
}

// VideoStats are a video sender's counters and current settings.
type VideoStats struct {
	Codec         string // "" until negotiated
	Width, Height int    // the size being encoded
	TargetKbps    int    // the encoder's bit rate
	EstimateKbps  int    // the congestion controller's estimate of the link
	FramesEncoded uint64
	FramesDropped uint64 // replaced in the mailbox before the encoder took them
	FramesSkipped uint64 // not encoded because the pacer had a backlog
	Keyframes     uint64
	BytesSent     uint64 // encoded payload bytes
	PLIs          uint64 // keyframe requests (PLI, FIR) received
	NACKs         uint64 // packets the player reported lost
	RTXPackets    uint64 // retransmissions sent
	PacketsPaced  uint64 // packets the pacer sent, retransmissions included
	PacerDropped  uint64 // packets the pacer refused (queue over MaxQueueDelay)
	PacerDelay    time.Duration
	Switches      uint64  // resolution changes
	LossPct       float64 // from the player's last receiver report
	EncodeTimeSum time.Duration
}

// Stats returns the sender's counters; safe at any time.
func (v *VideoSender) Stats() VideoStats {
	ps := v.peer.Pacer.Stats()
	return VideoStats{
		Codec: v.codecName.Load().(string), Width: int(v.width.Load()), Height: int(v.height.Load()),
		TargetKbps: int(v.targetKbps.Load()), EstimateKbps: int(v.estimateKbps.Load()),
		FramesEncoded: v.framesEncoded.Load(), FramesDropped: v.box.dropped.Load(),
		FramesSkipped: v.framesSkipped.Load(), Keyframes: v.keyframes.Load(), BytesSent: v.bytesSent.Load(),
		PLIs: v.plis.Load(), NACKs: v.nacks.Load(), RTXPackets: ps.RTXPackets, PacketsPaced: ps.SentPackets,
		PacerDropped: ps.Dropped, PacerDelay: v.peer.Pacer.QueueDelay(), Switches: v.switches.Load(),
		LossPct:       float64(v.fractionLost.Load()) * 100 / 256,
		EncodeTimeSum: time.Duration(v.encodeNanos.Load()),
	}
}
