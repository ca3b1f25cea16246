package session

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/internal/metrics"
	"github.com/edgeplay/edgeplay/protocol"
)

// maxDrainDeadline bounds how far away a drain deadline may be.
const maxDrainDeadline = 24 * time.Hour

// handleDrain drains or undrains the host (ops → host, request-reply).
func (h *Host) handleDrain(msg *nats.Msg) {
	var req protocol.DrainRequest
	if len(msg.Data) > 4096 || json.Unmarshal(msg.Data, &req) != nil || len(req.Reason) > 256 {
		respond(msg, protocol.FailReply(protocol.Errorf(protocol.CodeBadField, "malformed drain request")))
		return
	}
	var err error
	if req.Drain {
		err = h.Drain(req.Deadline, req.Reason)
	} else {
		err = h.Undrain()
	}
	if err != nil {
		respond(msg, protocol.FailReply(err))
		return
	}
	hb := h.Heartbeat()
	respond(msg, protocol.Reply{OK: true, Host: h.cfg.ID, Region: h.cfg.Region, Heartbeat: &hb})
}

// Drain stops new sessions at once, tells every player the deadline, and ends the sessions
// still running at the deadline with reason "drained". Draining a draining host moves its
// deadline. An empty draining host is "drained".
func (h *Host) Drain(deadline time.Time, reason string) error {
	now := time.Now()
	switch {
	case deadline.IsZero():
		deadline = now.Add(h.cfg.DrainGrace)
	case deadline.Before(now):
		deadline = now
	case deadline.Sub(now) > maxDrainDeadline:
		return protocol.Errorf(protocol.CodeBadField, "drain deadline more than %s away", maxDrainDeadline)
	}
	h.mu.Lock()
	if h.state == protocol.HostStopped {
		h.mu.Unlock()
		return protocol.Errorf(protocol.CodeBadState, "host is stopping")
	}
	h.state = protocol.HostDraining
	if len(h.sessions) == 0 {
		h.state = protocol.HostDrained
	}
	h.drain.deadline, h.drain.reason = deadline, reason
	metrics.HostDraining.WithLabelValues(h.cfg.ID).Set(1)
	if h.drain.timer != nil {
		h.drain.timer.Stop()
	}
	h.drain.timer = time.AfterFunc(time.Until(deadline), h.drainExpired)
	sessions := h.sessionsLocked()
	h.mu.Unlock()

	text := fmt.Sprintf("this game host is being taken out of service; your session ends at %s", deadline.UTC().Format(time.RFC3339))
	if reason != "" {
		text += " (" + reason + ")"
	}
	for _, s := range sessions {
		h.sendToClient(s.id, protocol.Message{Type: protocol.TypeDraining, Deadline: deadline.UTC(), Message: text})
		if gp := s.gamePtr.Load(); gp != nil {
			if d, ok := (*gp).(game.Drainer); ok {
				d.Drain(deadline) // the game may finish its round and end the session itself
			}
		}
	}
	h.heartbeat() // the matchmaker stops placing here now, not at the next beat
	h.log.Info("draining", "deadline", deadline.UTC(), "reason", reason, "sessions", len(sessions))
	h.publishEvent(protocol.Event{Kind: "host_draining", Detail: fmt.Sprintf("deadline %s; %s", deadline.UTC().Format(time.RFC3339), reason)})
	return nil
}

// Undrain puts a draining or drained host back in service; running sessions continue.
func (h *Host) Undrain() error {
	h.mu.Lock()
	if h.state == protocol.HostStopped {
		h.mu.Unlock()
		return protocol.Errorf(protocol.CodeBadState, "host is stopping")
	}
	was := h.state
	h.state = protocol.HostReady
	metrics.HostDraining.WithLabelValues(h.cfg.ID).Set(0)
	if h.drain.timer != nil {
		h.drain.timer.Stop()
		h.drain.timer = nil
	}
	h.mu.Unlock()
	h.heartbeat()
	if was != protocol.HostReady {
		h.log.Info("back in service", "was", was)
		h.publishEvent(protocol.Event{Kind: "host_undrained"})
	}
	return nil
}

// drainExpired ends the sessions still running at the drain deadline.
func (h *Host) drainExpired() {
	h.mu.Lock()
	if h.state != protocol.HostDraining {
		h.mu.Unlock()
		return
	}
	sessions := h.sessionsLocked()
	h.mu.Unlock()
	for _, s := range sessions {
		s.stop(protocol.ReasonDrained)
	}
}

func (h *Host) sessionsLocked() []*Session {
	out := make([]*Session, 0, len(h.sessions))
	for _, s := range h.sessions {
		out = append(out, s)
	}
	return out
}

// handleKick ends one session with reason "kicked" (ops → host, request-reply).
func (h *Host) handleKick(msg *nats.Msg) {
	var req protocol.KickRequest
	if len(msg.Data) > 1024 || json.Unmarshal(msg.Data, &req) != nil || !protocol.ValidName(req.Session) {
		respond(msg, protocol.FailReply(protocol.Errorf(protocol.CodeBadField, "malformed kick request")))
		return
	}
	h.mu.Lock()
	s := h.sessions[req.Session]
	h.mu.Unlock()
	if s == nil {
		respond(msg, protocol.FailReply(protocol.Errorf(protocol.CodeNotFound, "no session %s on this host", req.Session)))
		return
	}
	s.log.Info("kicked by an operator")
	s.stop(protocol.ReasonKicked)
	respond(msg, protocol.Reply{OK: true, Host: h.cfg.ID, Region: h.cfg.Region})
}
