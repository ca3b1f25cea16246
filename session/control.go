package session

import (
	"encoding/json"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/protocol"
)

// minRumbleInterval limits how often the game's rumble requests reach the player.
const minRumbleInterval = 50 * time.Millisecond

// rumble sends the game's rumble request to the player on the control data channel. It is the
// game's HapticSource sink: called from the game's loop, it never blocks (pion queues the
// message), and requests closer together than minRumbleInterval are dropped.
func (s *Session) rumble(r game.Rumble) {
	if s.control == nil || s.control.ReadyState() != webrtc.DataChannelStateOpen {
		return
	}
	now := time.Now().UnixNano()
	if last := s.lastRumble.Load(); now-last < int64(minRumbleInterval) || !s.lastRumble.CompareAndSwap(last, now) {
		return
	}
	ms := int(min(max(r.Duration, time.Millisecond), 5*time.Second) / time.Millisecond)
	b, err := json.Marshal(protocol.Rumble{
		Type: protocol.TypeRumble, Strong: min(max(r.Strong, 0), 1), Weak: min(max(r.Weak, 0), 1), Ms: ms,
	})
	if err != nil {
		return
	}
	if err := s.control.SendText(string(b)); err != nil {
		s.log.Debug("rumble not sent", "err", err)
	}
}

// sendMediaStats tells the player, on the control data channel, what the host is sending:
// the codec, size and bit rate the congestion controller chose, and the repair counters. The
// player's stats overlay shows them beside what the browser measures.
func (s *Session) sendMediaStats() {
	if s.control == nil || s.control.ReadyState() != webrtc.DataChannelStateOpen {
		return
	}
	st := s.video.Stats()
	inputLatency, _ := s.inputClock.latest()
	b, err := json.Marshal(protocol.MediaStats{
		InputMs: float64(inputLatency.Microseconds()) / 1000,
		Type:    protocol.TypeMedia, Codec: st.Codec, Width: st.Width, Height: st.Height,
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
