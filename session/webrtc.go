package session

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/edgeplay/edgeplay/internal/pionlog"
)

// h264Fmtp is what the host offers: constrained baseline, packetization mode 1. Browsers decode
// any level of the profile they negotiate; level-asymmetry-allowed lets the stream itself carry
// level 3.2 (720p60).
const h264Fmtp = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"

// playoutDelayURI is the RTP header extension that carries the playout delay bounds.
const playoutDelayURI = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"

// playoutDelayZero is the extension's payload: 12-bit minimum and maximum delay in 10 ms
// units, both 0.
var playoutDelayZero = []byte{0, 0, 0}

// h264PayloadType is the RTP payload type offered for H.264.
const h264PayloadType = 102

// mediaStack is the per-host WebRTC machinery shared by all its sessions: one API (codecs,
// interceptors, settings) and one UDP mux, so every session of a host uses one UDP port.
type mediaStack struct {
	api *webrtc.API
	mux ice.UDPMux
	// port is the UDP port actually bound (useful when the config asked for port 0).
	port int
}

func newMediaStack(cfg Config, log *slog.Logger) (*mediaStack, error) {
	m := &webrtc.MediaEngine{}
	feedback := []webrtc.RTCPFeedback{
		{Type: "goog-remb"},
		{Type: "ccm", Parameter: "fir"},
		{Type: "nack"},
		{Type: "nack", Parameter: "pli"},
		{Type: "transport-cc"},
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: h264Fmtp, RTCPFeedback: feedback,
		},
		PayloadType: h264PayloadType,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("register H.264: %w", err)
	}
	// playout-delay (min = max = 0) asks the browser to render each frame as soon as it is
	// decoded instead of smoothing playout through its jitter buffer: the low-latency
	// rendering path cloud-gaming services use.
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: playoutDelayURI}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("register playout-delay: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		return nil, fmt.Errorf("register interceptors: %w", err)
	}

	host, portStr, err := net.SplitHostPort(cfg.UDPAddr)
	if err != nil {
		return nil, fmt.Errorf("%w: udp address %q: %w", ErrConfig, cfg.UDPAddr, err)
	}
	ip := net.ParseIP(host)
	if host != "" && ip == nil {
		return nil, fmt.Errorf("%w: udp address %q: host must be an IP address", ErrConfig, cfg.UDPAddr)
	}
	pionLog := pionlog.Factory{Logger: log}

	se := webrtc.SettingEngine{LoggerFactory: pionLog}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	if len(cfg.PublicIPs) > 0 {
		// NAT 1:1: host candidates carry the public address instead of the interface's.
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External: cfg.PublicIPs, AsCandidateType: webrtc.ICECandidateTypeHost,
		}); err != nil {
			return nil, fmt.Errorf("%w: public ips %v: %w", ErrConfig, cfg.PublicIPs, err)
		}
	}

	ms := &mediaStack{}
	if ip == nil || ip.IsUnspecified() {
		// One socket per interface address, all on the same port.
		var port int
		if _, err := fmt.Sscan(portStr, &port); err != nil {
			return nil, fmt.Errorf("%w: udp port %q", ErrConfig, portStr)
		}
		mm, err := ice.NewMultiUDPMuxFromPort(port, ice.UDPMuxFromPortWithLoopback(),
			ice.UDPMuxFromPortWithLogger(pionLog.NewLogger("udpmux")))
		if err != nil {
			return nil, fmt.Errorf("listen udp %s: %w", cfg.UDPAddr, err)
		}
		ms.mux = mm
		if addrs := mm.GetListenAddresses(); len(addrs) > 0 {
			if ua, ok := addrs[0].(*net.UDPAddr); ok {
				ms.port = ua.Port
			}
		}
	} else {
		ua, err := net.ResolveUDPAddr("udp", cfg.UDPAddr)
		if err != nil {
			return nil, fmt.Errorf("%w: udp address %q: %w", ErrConfig, cfg.UDPAddr, err)
		}
		conn, err := net.ListenUDP("udp", ua)
		if err != nil {
			return nil, fmt.Errorf("listen udp %s: %w", cfg.UDPAddr, err)
		}
		ms.mux = webrtc.NewICEUDPMux(pionLog.NewLogger("udpmux"), conn)
		ms.port = conn.LocalAddr().(*net.UDPAddr).Port
	}
	se.SetICEUDPMux(ms.mux)

	ms.api = webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	return ms, nil
}

func (ms *mediaStack) close() error { return ms.mux.Close() }
