package media

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
)

// Codec describes one video codec the host can send: how it appears in SDP, how its frames
// become RTP payloads, and which encoder makes them. Codecs are values; the set a host offers
// is a []Codec in order of preference (--codecs).
type Codec struct {
	// Name is the codec's token in --codecs and in stats: "h264" or "vp8". It is also the
	// encoder package's codec name.
	Name string
	// MimeType, ClockRate and Fmtp are what the SDP offer carries.
	MimeType  string
	ClockRate uint32
	Fmtp      string
	// PayloadType is the RTP payload type offered; RTXPayloadType carries its retransmissions
	// (RFC 4588, on their own SSRC).
	PayloadType, RTXPayloadType webrtc.PayloadType
	// newPayloader splits one encoded frame into RTP payloads.
	newPayloader func() rtp.Payloader
}

// H264 is constrained baseline H.264, packetization mode 1, which almost every browser decodes
// (Firefox needs its OpenH264 plugin, which it may not have). The offer
// says level 3.1 with level-asymmetry-allowed, so the stream itself may carry a higher level
// (3.2 for 720p60, 4.2 above).
var H264 = Codec{
	Name: "h264", MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
	Fmtp:        "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
	PayloadType: 102, RTXPayloadType: 103,
	newPayloader: func() rtp.Payloader { return &codecs.H264Payloader{} },
}

// VP8 is the fallback for browsers without an H.264 decoder (Firefox without the OpenH264
// plugin, for one).
var VP8 = Codec{
	Name: "vp8", MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
	PayloadType: 96, RTXPayloadType: 97,
	newPayloader: func() rtp.Payloader { return &codecs.VP8Payloader{EnablePictureID: true} },
}

// Known lists every codec this package can send, in the default order of preference.
var Known = []Codec{H264, VP8}

// DefaultCodecs is the default --codecs value.
const DefaultCodecs = "h264,vp8"

// ParseCodecs parses a comma-separated list of codec names ("h264,vp8") into codecs in that
// order of preference. Names are case-insensitive; each may appear once.
func ParseCodecs(s string) ([]Codec, error) {
	var out []Codec
	for name := range strings.SplitSeq(s, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		i := slices.IndexFunc(Known, func(c Codec) bool { return c.Name == name })
		switch {
		case i < 0:
			return nil, fmt.Errorf("%w: unknown codec %q (known: %s)", ErrConfig, name, codecNames(Known))
		case slices.ContainsFunc(out, func(c Codec) bool { return c.Name == name }):
			return nil, fmt.Errorf("%w: codec %q listed twice", ErrConfig, name)
		}
		out = append(out, Known[i])
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no codecs", ErrConfig)
	}
	return out, nil
}

// codecNames joins the codecs' names with commas.
func codecNames(cs []Codec) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	return strings.Join(names, ",")
}

// match returns the codec of cs that negotiated parameters p describe, or false.
func match(cs []Codec, p webrtc.RTPCodecParameters) (Codec, bool) {
	for _, c := range cs {
		if strings.EqualFold(c.MimeType, p.MimeType) && c.ClockRate == p.ClockRate {
			return c, true
		}
	}
	return Codec{}, false
}
