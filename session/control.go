package session

import (
	"encoding/json"

	"github.com/pion/webrtc/v4"

	"github.com/edgeplay/edgeplay/protocol"
)

// sendMediaStats tells the player, on the control data channel, what the host is sending:
// the codec, size and bit rate the congestion controller chose, and the repair counters. The
// player's stats overlay shows them beside what the browser measures.
func (s *Session) sendMediaStats() {
	if s.control == nil || s.control.ReadyState() != webrtc.DataChannelStateOpen {
		return
	}
	st := s.video.Stats()
	b, err := json.Marshal(protocol.MediaStats{
		Type: protocol.TypeMedia, Codec: st.Codec, Width: st.Width, Height: st.Height,
		TargetKbps: st.TargetKbps, EstimateKbps: st.EstimateKbps, FramesSkipped: st.FramesSkipped,
		Keyframes: st.Keyframes, PLIs: st.PLIs, NACKs: st.NACKs, RTXPackets: st.RTXPackets, Switches: st.Switches,
	})
	if err != nil {
		return
	}
	if err := s.control.SendText(string(b)); err != nil {
		s.log.Debug("media stats not sent", "err", err)
	}
}
