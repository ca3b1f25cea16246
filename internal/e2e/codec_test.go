package e2e

import (
	"testing"
	"time"

	"github.com/pion/transport/v5/test"
	"github.com/pion/webrtc/v4"

	"github.com/edgeplay/edgeplay/input"
	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/internal/testplayer"
	"github.com/edgeplay/edgeplay/media"
	"github.com/edgeplay/edgeplay/protocol"
)

// The host sends the first codec of its --codecs list that the player accepts: H.264 by
// default, VP8 to a player without H.264 (Firefox without its plugin), VP8 first when the
// host prefers it. The video decodes, input reaches the game, and the host reports what it
// sends on the control channel. A player that accepts none of the codecs is told so.
func TestCodecNegotiation(t *testing.T) {
	tests := []struct {
		name   string
		host   string   // --codecs
		player []string // what the player accepts; nil: pion's defaults (H.264, VP8, VP9, AV1)
		want   string   // codec sent; "" = no_common_codec
	}{
		{"default: h264", "h264,vp8", nil, "h264"},
		{"player without h264 gets vp8", "h264,vp8", []string{webrtc.MimeTypeVP8}, "vp8"},
		{"host preference vp8 first", "vp8,h264", nil, "vp8"},
		{"player with vp9 only", "h264,vp8", []string{webrtc.MimeTypeVP9}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer test.CheckRoutines(t)()
			codecs, err := media.ParseCodecs(tt.host)
			if err != nil {
				t.Fatal(err)
			}
			a := startApp(t, appOpts{mutate: func(c *app.Config) { c.Hosts[0].Codecs = codecs }})
			defer func() { _ = a.Close(ctxFor(t, 10*time.Second)) }()
			p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{Decode: true, Codecs: tt.player})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if tt.want == "" {
				offer, err := p.Join(ctxFor(t, 10*time.Second))
				if err != nil {
					t.Fatal(err)
				}
				_ = p.Accept(ctxFor(t, 2*time.Second), offer) // never connects
				for {
					m, err := p.Next(ctxFor(t, 5*time.Second))
					if err != nil {
						t.Fatalf("waiting for %s: %v", protocol.CodeNoCommonCodec, err)
					}
					if m.Type == protocol.TypeError && m.Code == protocol.CodeNoCommonCodec {
						t.Logf("told: %s", m.Message)
						break
					}
				}
				waitFor(t, 5*time.Second, "the host frees the slot", func() bool { return len(a.Hosts()[0].Sessions()) == 0 })
				return
			}
			err = p.Play(ctxFor(t, 15*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "decoded frames arrive", func() bool { return len(p.Frames()) >= 10 })
			if got := p.Codec(); got != tt.want {
				t.Fatalf("codec %q, want %q", got, tt.want)
			}
			if f := p.Frames()[0]; !f.Keyframe || f.Width == 0 {
				t.Errorf("first frame %+v: want a decodable keyframe", f)
			}
			seq, err := p.SendInput(input.Event{Type: input.KeyDown, Code: input.KeyW})
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, 5*time.Second, "the marker shows the input", func() bool {
				fs := p.Frames()
				last := fs[len(fs)-1]
				return last.MarkerOK && last.Marker == uint16(seq)
			})
			waitFor(t, 5*time.Second, "the host reports what it sends", func() bool {
				m := p.Media()
				return m.Codec == tt.want && m.Width > 0 && m.TargetKbps > 0 && m.EstimateKbps > 0
			})
			st := a.Hosts()[0].SessionStatuses(time.Now())
			if len(st) != 1 || st[0].Codec != tt.want || st[0].Width == 0 || st[0].TargetKbps == 0 {
				t.Errorf("admin status %+v, want codec %s with its size and bit rate", st, tt.want)
			}
		})
	}
}
