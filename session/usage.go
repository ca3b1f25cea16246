package session

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/internal/metrics"
	"github.com/edgeplay/edgeplay/protocol"
)

// usageQueue bounds the records waiting to be acknowledged: a minute of a full host's ticks
// many times over; past it a record is dropped and counted (the store is down for long).
const usageQueue = 4096

// usageFlush bounds how long a closing host tries to store its last usage records.
const usageFlush = 5 * time.Second

// usagePublisher publishes the host's usage records (protocol.UsageRecord) to JetStream, one
// goroutine, in order, each until the stream acknowledges it: a record is never lost to a
// NATS reconnect or a stream leader change, and a retry is harmless (the same Nats-Msg-Id,
// one message per subject). Close flushes what is queued, within its context.
type usagePublisher struct {
	js   jetstream.JetStream
	log  *slog.Logger
	host string
	ch   chan protocol.UsageRecord
	// ctx ends run (quit): cancelled by close, which then stores what is left itself.
	ctx  context.Context
	quit context.CancelFunc
	done chan struct{}
	once sync.Once
}

func newUsagePublisher(nc *nats.Conn, host string, log *slog.Logger) (*usagePublisher, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	u := &usagePublisher{
		js: js, log: log, host: host, ch: make(chan protocol.UsageRecord, usageQueue), done: make(chan struct{}),
	}
	u.ctx, u.quit = context.WithCancel(context.Background())
	go u.run()
	return u, nil
}

// put queues a record; it never blocks.
func (u *usagePublisher) put(r protocol.UsageRecord) {
	select {
	case u.ch <- r:
	default:
		metrics.UsageRecords.WithLabelValues("dropped").Inc()
		u.log.Error("usage record dropped: the queue is full (JetStream unreachable?)", "session", r.Session, "kind", r.Kind)
	}
}

func (u *usagePublisher) run() {
	defer close(u.done)
	for {
		select {
		case r := <-u.ch:
			u.publish(u.ctx, r)
		case <-u.ctx.Done():
			return
		}
	}
}

// publish sends r until it is acknowledged, or ctx ends.
func (u *usagePublisher) publish(ctx context.Context, r protocol.UsageRecord) bool {
	b, _ := json.Marshal(r)
	subject := protocol.SubjectUsage(r.Studio, u.host, r.Session, r.Kind)
	// The id makes a retried publish a duplicate the stream drops; ticks are told apart by the
	// second they cover.
	id := fmt.Sprintf("%s.%s.%d", r.Session, r.Kind, int64(r.Seconds))
	wait := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := u.js.Publish(actx, subject, b, jetstream.WithMsgID(id))
		cancel()
		if err == nil {
			metrics.UsageRecords.WithLabelValues("stored").Inc()
			return true
		}
		if attempt == 1 || attempt%20 == 0 {
			u.log.Warn("usage record not stored yet; retrying", "session", r.Session, "kind", r.Kind, "attempt", attempt, "err", err)
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// close stops taking records and publishes those queued until ctx ends; it reports how many
// were left unstored. Later calls do nothing.
func (u *usagePublisher) close(ctx context.Context) int {
	first := false
	u.once.Do(func() { u.quit(); first = true })
	<-u.done
	if !first {
		return 0
	}
	left := 0
	for {
		select {
		case r := <-u.ch:
			if left > 0 || !u.publish(ctx, r) {
				left++
			}
		default:
			if left > 0 {
				metrics.UsageRecords.WithLabelValues("dropped").Add(float64(left))
				u.log.Error("usage records not stored at shutdown", "count", left)
			}
			return left
		}
	}
}
