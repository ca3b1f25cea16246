package matchmaker

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/protocol"
)

// eventQueue bounds the events waiting to be stored; beyond it the oldest are dropped (and
// counted) rather than letting a JetStream outage grow memory without limit.
const eventQueue = 10000

type pendingEvent struct {
	subject, id string
	data        []byte
}

// publishEvent queues an event for the events stream. It never blocks the caller.
func (m *Matchmaker) publishEvent(ev protocol.Event) {
	ev.Time = m.cfg.Now().UTC()
	b, _ := json.Marshal(ev)
	pe := pendingEvent{subject: protocol.SubjectEvent(ev.Kind), id: protocol.NewSessionID(), data: b}
	for {
		select {
		case m.events <- pe:
			return
		default:
		}
		select { // full: drop the oldest
		case <-m.events:
			m.eventsDropped.Add(1)
		default:
		}
	}
}

// eventLoop stores events in the stream with an acknowledged publish, retrying (with the same
// message id, so the stream drops duplicates) through a NATS reconnect or a stream leader
// change, until the matchmaker closes.
func (m *Matchmaker) eventLoop() {
	defer close(m.eventsDone)
	for {
		var pe pendingEvent
		select {
		case pe = <-m.events:
		case <-m.quit:
			m.flushEvents()
			return
		}
		giveUp := time.Now().Add(eventRetry)
		for attempt := 0; ; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := m.js.Publish(ctx, pe.subject, pe.data, jetstream.WithMsgID(pe.id))
			cancel()
			if err == nil {
				break
			}
			if attempt == 0 {
				m.log.Warn("event not stored yet; retrying", "subject", pe.subject, "err", err)
			}
			if time.Now().After(giveUp) {
				m.eventsDropped.Add(1)
				m.log.Error("event dropped: the events stream did not accept it", "subject", pe.subject, "for", eventRetry, "err", err)
				break
			}
			select {
			case <-m.quit:
				m.flushEvents()
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
}

// eventRetry is how long one event is retried (a stream leader election takes seconds).
const eventRetry = 30 * time.Second

// flushEvents tries, for at most 2 s in all, to store the events still queued at close.
func (m *Matchmaker) flushEvents() {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case pe := <-m.events:
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			_, err := m.js.Publish(ctx, pe.subject, pe.data, jetstream.WithMsgID(pe.id))
			cancel()
			if err != nil {
				m.eventsDropped.Add(1)
			}
		default:
			return
		}
	}
}
