package session

import (
	"fmt"
	"runtime/debug"

	"github.com/nats-io/nats.go"

	"github.com/edgeplay/edgeplay/internal/metrics"
	"github.com/edgeplay/edgeplay/protocol"
)

// Containment (issue 12): a panic in one session's code — its loop, its pipeline, a game's
// Run or Input, a NATS handler — ends that session (reason "error", detail "internal error")
// and is logged with its stack and counted (edgeplay_panics_total{where}); the host and its
// other sessions carry on.

// recovered logs and counts a recovered panic v.
func (h *Host) recovered(where, session string, v any) {
	metrics.Panics.WithLabelValues(where).Inc()
	h.log.Error("panic recovered: the host carries on", "where", where, "session", session,
		"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
}

// contain runs fn; a panic in it ends the session.
func (s *Session) contain(where string, fn func()) {
	defer func() {
		if v := recover(); v != nil {
			s.h.recovered(where, s.id, v)
			s.stopWith(protocol.ReasonError, fmt.Sprintf("internal error (%s)", where))
		}
	}()
	fn()
}

// goPipeline runs fn as one of the session's pipeline goroutines, contained.
func (s *Session) goPipeline(where string, fn func()) {
	s.pipeline.Go(func() { s.contain(where, fn) })
}

// afterPanic ends a session whose loop panicked: in order if it can, and at least freeing its
// slot and telling the player if ending panics too.
func (s *Session) afterPanic(v any) {
	s.h.recovered("session", s.id, v)
	defer func() {
		if v := recover(); v != nil {
			s.h.recovered("session end", s.id, v)
			s.h.sendToClient(s.id, protocol.Message{Type: protocol.TypeEnded, Reason: protocol.ReasonError, Message: endText(protocol.ReasonError)})
			s.h.remove(s)
		}
	}()
	if s.State() == StateEnded { // end itself panicked, part way: free the slot
		s.h.remove(s)
		return
	}
	s.end(protocol.ReasonError, "internal error (session)")
}

// containHandler wraps a NATS handler: a panic is logged and counted, and the message's
// request (if any) gets an internal error.
func (h *Host) containHandler(where string, fn nats.MsgHandler) nats.MsgHandler {
	return func(msg *nats.Msg) {
		defer func() {
			if v := recover(); v != nil {
				h.recovered(where, "", v)
				respond(msg, protocol.FailReply(protocol.Errorf(protocol.CodeInternal, "")))
			}
		}()
		fn(msg)
	}
}
