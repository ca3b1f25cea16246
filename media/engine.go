package media

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/webrtc/v4"

	"github.com/edgeplay/edgeplay/internal/pionlog"
)

// playoutDelayURI is the RTP header extension that carries the playout delay bounds.
const playoutDelayURI = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"

// EngineConfig configures a host's WebRTC machinery.
type EngineConfig struct {
	// Codecs are the video codecs offered, in order of preference; default H264, VP8.
	Codecs []Codec
	// UDPAddr is the one UDP address every session's ICE traffic shares: "IP:port" binds one
	// address; ":port" (default ":8443") binds that port on every usable interface address,
	// skipping (with a warning) addresses that cannot be bound.
	UDPAddr string
	// PublicIPs are the addresses players reach the host at behind a 1:1 NAT (--public-ip).
	// Each is "PUBLIC" or "PUBLIC/LOCAL"; see natRules.
	PublicIPs []string
	// StartKbps is the congestion controller's first estimate; MinKbps and MaxKbps bound it.
	// Defaults 3000 (the top rung at 720p60), 150 and 6000.
	StartKbps, MinKbps, MaxKbps int
	// ICEFailedTimeout is how long ICE stays disconnected before it fails; default 25 s
	// (pion's). A disconnected connection recovers by itself when the path comes back.
	ICEFailedTimeout time.Duration
	Logger           *slog.Logger // default slog.Default()
}

func (c *EngineConfig) setDefaults() {
	if len(c.Codecs) == 0 {
		c.Codecs = Known
	}
	if c.UDPAddr == "" {
		c.UDPAddr = ":8443"
	}
	if c.MaxKbps == 0 {
		c.MaxKbps = 6000
	}
	if c.MinKbps == 0 {
		c.MinKbps = 150
	}
	if c.StartKbps == 0 {
		c.StartKbps = min(3000, c.MaxKbps)
	}
	if c.ICEFailedTimeout == 0 {
		c.ICEFailedTimeout = 25 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Engine is the WebRTC machinery a host shares between its sessions: settings, codecs and the
// one UDP port. Each session gets its own PeerConnection from NewPeer, with its own congestion
// controller and pacer.
type Engine struct {
	cfg  EngineConfig
	se   webrtc.SettingEngine
	udp  *udpMux
	plog pionlog.Factory
}

// NewEngine binds the UDP port and prepares the settings. Close releases the port.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	cfg.setDefaults()
	switch {
	case cfg.MinKbps < 100 || cfg.MaxKbps < cfg.MinKbps: // 100: the encoders' least rate
		return nil, fmt.Errorf("%w: bitrate bounds %d..%d kbps", ErrConfig, cfg.MinKbps, cfg.MaxKbps)
	case cfg.StartKbps < cfg.MinKbps || cfg.StartKbps > cfg.MaxKbps:
		return nil, fmt.Errorf("%w: start bitrate %d kbps outside %d..%d", ErrConfig, cfg.StartKbps, cfg.MinKbps, cfg.MaxKbps)
	}
	plog := pionlog.Factory{Logger: cfg.Logger}
	udp, err := listenUDP(cfg.UDPAddr, cfg.Logger, plog)
	if err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{LoggerFactory: plog}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	// Nominate a peer-reflexive pair as soon as it works. The host offers, so it is the
	// controlling agent, and every remote candidate it sees from a browser is peer-reflexive:
	// a browser's host candidates are mDNS names (.local), which the host does not resolve,
	// and its checks arrive before any trickled candidate. pion waits 1 s by default before
	// nominating such a pair, and until then neither ICE on this side nor the DTLS handshake
	// (the browser's ClientHello waits in pion's buffer) can finish. In headless chromium on
	// loopback, Play → first frame p50 went from 1.42 s to 0.36 s.
	se.SetPrflxAcceptanceMinWait(0)
	// A pair with the player's TURN relay is nominated after 500 ms instead of pion's 2 s: a
	// direct pair, when there is one, has had its chance by then (its checks succeed within a
	// few round trips), and a player who can only relay sees the first frame 1.5 s sooner.
	se.SetRelayAcceptanceMinWait(500 * time.Millisecond)
	// pion's defaults for disconnected (5 s without an answer to a check) and keepalives (2 s);
	// the failed timeout is the host's (a player may resume within its grace).
	se.SetICETimeouts(5*time.Second, cfg.ICEFailedTimeout, 2*time.Second)
	se.SetICEUDPMux(udp.mux)
	if len(cfg.PublicIPs) > 0 {
		rules, err := natRules(cfg.PublicIPs, udp.local)
		if err != nil {
			_ = udp.close()
			return nil, err
		}
		if err := se.SetICEAddressRewriteRules(rules...); err != nil {
			_ = udp.close()
			return nil, fmt.Errorf("%w: public ips %v: %w", ErrConfig, cfg.PublicIPs, err)
		}
		for _, r := range rules {
			cfg.Logger.Info("NAT 1:1: advertising public address", "public", r.External[0], "local", r.Local)
		}
	}
	return &Engine{cfg: cfg, se: se, udp: udp, plog: plog}, nil
}

// Port is the UDP port bound (useful when the config asked for port 0).
func (e *Engine) Port() int { return e.udp.port }

// Codecs are the codecs offered, in order of preference.
func (e *Engine) Codecs() []Codec { return e.cfg.Codecs }

// Close releases the UDP port. PeerConnections still open stop working.
func (e *Engine) Close() error { return e.udp.close() }

// Peer is one session's PeerConnection with its congestion controller.
type Peer struct {
	*webrtc.PeerConnection
	// Estimator is the send-side bandwidth estimate (GCC over transport-wide congestion
	// control feedback); Pacer paces the PeerConnection's packets at the estimate.
	Estimator cc.BandwidthEstimator
	Pacer     *Pacer
	engine    *Engine
}

// NewPeer creates a PeerConnection for one session. Every PeerConnection gets its own media
// engine and interceptor chain (pion builds one interceptor per PeerConnection anyway), so the
// estimator is this session's without any bookkeeping.
func (e *Engine) NewPeer() (*Peer, error) {
	m := &webrtc.MediaEngine{}
	feedback := []webrtc.RTCPFeedback{
		{Type: "ccm", Parameter: "fir"},
		{Type: "nack"},
		{Type: "nack", Parameter: "pli"},
		{Type: webrtc.TypeRTCPFBTransportCC},
	}
	for _, c := range e.cfg.Codecs {
		if err := m.RegisterCodec(webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: c.MimeType, ClockRate: c.ClockRate, SDPFmtpLine: c.Fmtp, RTCPFeedback: feedback,
			},
			PayloadType: c.PayloadType,
		}, webrtc.RTPCodecTypeVideo); err != nil {
			return nil, fmt.Errorf("register %s: %w", c.Name, err)
		}
		if err := m.RegisterCodec(webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeRTX, ClockRate: c.ClockRate, SDPFmtpLine: fmt.Sprintf("apt=%d", c.PayloadType),
			},
			PayloadType: c.RTXPayloadType,
		}, webrtc.RTPCodecTypeVideo); err != nil {
			return nil, fmt.Errorf("register %s rtx: %w", c.Name, err)
		}
	}
	// Opus for the game's sound (AudioSender), whenever the game makes any.
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: opusFmtp,
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: webrtc.TypeRTCPFBTransportCC}},
		},
		PayloadType: opusPayloadType,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("register opus: %w", err)
	}
	// playout-delay (min = max = 0) asks the browser to render each frame as soon as it is
	// decoded instead of smoothing playout through its jitter buffer: the low-latency
	// rendering path cloud-gaming services use.
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: playoutDelayURI}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("register playout-delay: %w", err)
	}

	ir := &interceptor.Registry{}
	// Order matters: pion chains interceptors in registration order, the first registered
	// innermost (nearest the socket). The congestion controller and its pacer come first so
	// that they see every packet, retransmissions included, as it is really sent; then the
	// transport-wide sequence numbers the feedback refers to; then the NACK responder, whose
	// retransmissions thus pass through both.
	pacer := NewPacer(e.cfg.StartKbps * 1000)
	var est cc.BandwidthEstimator
	ccf, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
		return gcc.NewSendSideBWE(
			gcc.SendSideBWEInitialBitrate(e.cfg.StartKbps*1000),
			gcc.SendSideBWEMinBitrate(e.cfg.MinKbps*1000),
			// Above the encoder's ceiling, so that retransmissions fit beside it.
			gcc.SendSideBWEMaxBitrate(e.cfg.MaxKbps*1000*5/4),
			gcc.SendSideBWEPacer(pacer),
			gcc.WithLoggerFactory(e.plog),
		)
	})
	if err != nil {
		_ = pacer.Close()
		return nil, fmt.Errorf("congestion control: %w", err)
	}
	ccf.OnNewPeerConnection(func(_ string, b cc.BandwidthEstimator) { est = b })
	ir.Add(ccf)
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(m, ir); err != nil {
		_ = pacer.Close()
		return nil, fmt.Errorf("transport-cc: %w", err)
	}
	responder, err := nack.NewResponderInterceptor(nack.WithResponderLoggerFactory(e.plog))
	if err != nil {
		_ = pacer.Close()
		return nil, fmt.Errorf("nack responder: %w", err)
	}
	ir.Add(responder)
	sr, err := report.NewSenderInterceptor(report.WithSenderLoggerFactory(e.plog))
	if err != nil {
		_ = pacer.Close()
		return nil, fmt.Errorf("sender reports: %w", err)
	}
	ir.Add(sr)

	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(e.se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		_ = pacer.Close()
		return nil, fmt.Errorf("new peer connection: %w", err)
	}
	if est == nil { // the interceptor is built inside NewPeerConnection; this cannot happen
		_ = pc.Close()
		_ = pacer.Close()
		return nil, fmt.Errorf("congestion control: no estimator for the peer connection")
	}
	return &Peer{PeerConnection: pc, Estimator: est, Pacer: pacer, engine: e}, nil
}
