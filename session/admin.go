package session

import (
	"encoding/json"
	"math"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/edgeplay/edgeplay/protocol"
)

// handleSessions answers the gateway's admin query for this host's sessions
// (protocol.SubjectHostSessions, request-reply): a JSON array of protocol.SessionStatus. The
// request body is ignored. It runs on the NATS subscription's goroutine and only reads
// counters, so it never waits on a session.
func (h *Host) handleSessions(msg *nats.Msg) {
	if msg.Reply == "" {
		return
	}
	b, err := json.Marshal(h.SessionStatuses(time.Now()))
	if err != nil { // cannot happen: the types marshal; keep the gateway from waiting anyway
		h.log.Error("marshal session statuses", "err", err)
		b = []byte("[]")
	}
	if err := msg.Respond(b); err != nil {
		h.log.Warn("admin sessions reply failed", "err", err)
	}
}

// SessionStatuses describes the host's sessions, sorted by id, as the admin API shows them;
// now is the time rates and durations are measured at.
func (h *Host) SessionStatuses(now time.Time) []protocol.SessionStatus {
	infos := h.Sessions()
	out := make([]protocol.SessionStatus, 0, len(infos))
	for _, si := range infos {
		out = append(out, sessionStatus(h.cfg.ID, h.cfg.Region, si, now))
	}
	return out
}

// sessionStatus turns a session's counters into rates. FPS and bitrate are averages since the
// player connected: simple, and close to the current rate for sessions longer than a few
// seconds. A session that has not connected yet has no start time and zero rates.
func sessionStatus(host, region string, si SessionInfo, now time.Time) protocol.SessionStatus {
	st := protocol.SessionStatus{
		ID: si.ID, Game: si.Game, Host: host, Region: region, State: si.State, RTTMillis: si.RTTMillis, Reason: si.Reason,
		Codec: si.Stats.Codec, Width: si.Stats.Width, Height: si.Stats.Height, TargetKbps: si.Stats.TargetKbps,
		Studio: si.Studio, Player: si.Player,
	}
	if si.Stats.ConnectedSince.IsZero() {
		return st
	}
	st.StartedAt = si.Stats.ConnectedSince.UTC()
	elapsed := now.Sub(si.Stats.ConnectedSince).Seconds()
	if elapsed <= 0 {
		return st
	}
	st.DurationSeconds = round(elapsed, 1)
	st.FPS = round(float64(si.Stats.FramesEncoded)/elapsed, 1)
	st.BitrateKbps = round(float64(si.Stats.BytesSent)*8/elapsed/1000, 1)
	return st
}

// round rounds x to the given number of decimals: the admin API reports rates, not counters,
// and more digits would only be noise.
func round(x float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(x*p) / p
}
