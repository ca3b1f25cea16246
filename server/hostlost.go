package server

import (
	"encoding/json"
	"fmt"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"

	"github.com/edgeplay/edgeplay/protocol"
)

// WatchHostLost ends the sessions of hosts the matchmaker declares lost: their players get
// "ended" with reason host_lost, since the host cannot tell them itself.
func (s *Server) WatchHostLost() error {
	sub, err := s.nc.Subscribe(protocol.SubjectEvent(protocol.EventHostLost), func(msg *nats.Msg) {
		var ev protocol.Event
		if json.Unmarshal(msg.Data, &ev) != nil || !protocol.ValidName(ev.Host) {
			return
		}
		s.mu.Lock()
		var hit []*playConn
		for c := range s.conns {
			if c.hostID() == ev.Host && !c.ended.Load() {
				hit = append(hit, c)
			}
		}
		s.mu.Unlock()
		for _, c := range hit {
			c.log.Warn("host lost; ending the session", "host", ev.Host)
			c.ended.Store(true)
			c.closing.Store(true)
			c.sendMsg(protocol.Message{
				Type: protocol.TypeEnded, Reason: protocol.ReasonHostLost,
				Message: "the game host stopped answering",
			}, websocket.CloseNormalClosure)
		}
	})
	if err != nil {
		return fmt.Errorf("subscribe host_lost: %w", err)
	}
	s.mu.Lock()
	s.hostLost = sub
	s.mu.Unlock()
	return nil
}
