package matchmaker

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/internal/metrics"
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
			m.dropEvent()
		default:
		}
	}
}

// eventWindow is how many events may await their stream acknowledgement at once, and
// eventAckTimeout how long one may wait for it before it is published again.
const (
	eventWindow     = 512
	eventAckTimeout = 2 * time.Second
)

// sentEvent is an event published and awaiting its acknowledgement.
type sentEvent struct {
	pe  pendingEvent
	ack jetstream.PubAckFuture // nil: the publish itself failed
}

// eventLoop stores events in the stream with acknowledged publishes, up to eventWindow in
// flight, so it keeps up with placements. An event whose publish fails is retried on its own
// (with the same message id, so the stream drops duplicates) through a NATS reconnect or a
// stream leader change, until the matchmaker closes; the events behind it wait meanwhile.
func (m *Matchmaker) eventLoop() {
	defer close(m.eventsDone)
	var window []sentEvent // oldest first
	for {
		var ok <-chan *jetstream.PubAck
		var failed <-chan error
		in := m.events
		if len(window) > 0 {
			if window[0].ack == nil {
				if !m.retryEvent(window[0].pe) {
					<-m.done
					m.flushEvents(window)
					return
				}
				window = window[1:]
				continue
			}
			ok, failed = window[0].ack.Ok(), window[0].ack.Err()
		}
		if len(window) >= eventWindow {
			in = nil
		}
		select {
		case pe := <-in:
			ack, err := m.ejs.PublishAsync(pe.subject, pe.data, jetstream.WithMsgID(pe.id))
			if err != nil {
				ack = nil
			}
			window = append(window, sentEvent{pe: pe, ack: ack})
		case <-ok:
			window = window[1:]
		case err := <-failed:
			m.log.Debug("event not acknowledged; publishing it again", "subject", window[0].pe.subject, "err", err)
			window[0].ack = nil // retried on its own at the top of the loop
		case <-m.quit:
			// The leader's loop may still publish (placements whose reservations were in
			// flight); flush after it has ended. It ends within ReserveTimeout.
			<-m.done
			m.flushEvents(window)
			return
		}
	}
}

// retryEvent publishes one event until the stream acknowledges it, for at most eventRetry; it
// reports false when the matchmaker is closing.
func (m *Matchmaker) retryEvent(pe pendingEvent) bool {
	giveUp := time.Now().Add(eventRetry)
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), eventAckTimeout)
		_, err := m.js.Publish(ctx, pe.subject, pe.data, jetstream.WithMsgID(pe.id))
		cancel()
		if err == nil {
			return true
		}
		if attempt == 0 {
			m.log.Warn("event not stored yet; retrying", "subject", pe.subject, "err", err)
		}
		if time.Now().After(giveUp) {
			m.dropEvent()
			m.log.Error("event dropped: the events stream did not accept it", "subject", pe.subject, "for", eventRetry, "err", err)
			return true
		}
		select {
		case <-m.quit:
			return false
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// eventRetry is how long one event is retried (a stream leader election takes seconds).
const eventRetry = 30 * time.Second

// flushEvents tries, for at most 2 s in all, to store the events still unacknowledged or
// queued at close.
func (m *Matchmaker) flushEvents(window []sentEvent) {
	deadline := time.Now().Add(2 * time.Second)
	publish := func(pe pendingEvent) {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		_, err := m.js.Publish(ctx, pe.subject, pe.data, jetstream.WithMsgID(pe.id))
		cancel()
		if err != nil {
			m.dropEvent()
		}
	}
	for _, se := range window {
		if se.ack != nil {
			select {
			case <-se.ack.Ok():
				continue
			case err := <-se.ack.Err():
				m.log.Debug("event not acknowledged; publishing it again", "subject", se.pe.subject, "err", err)
			case <-time.After(time.Until(deadline)):
			}
		}
		publish(se.pe) // the stream drops it if it was stored after all
	}
	for {
		select {
		case pe := <-m.events:
			if time.Now().Before(deadline) {
				publish(pe)
			} else {
				m.dropEvent() // out of time
			}
		default:
			return
		}
	}
}

// EventsDropped is how many events this replica could not store (the queue overflowed, or
// the stream refused one for eventRetry).
func (m *Matchmaker) EventsDropped() uint64 { return m.eventsDropped.Load() }

func (m *Matchmaker) dropEvent() {
	m.eventsDropped.Add(1)
	metrics.EventsDropped.Inc()
}
