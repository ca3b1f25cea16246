package matchmaker

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/protocol"
)

// The leader lease: a key in a KV bucket whose entries expire after LeaseTTL, holding the
// leader's replica id. The leader renews it every LeaseTTL/3 with a compare-and-set on its
// revision; any replica creates it once it has expired or was deleted by a leader that left.
const (
	LeaseBucket = "edgeplay_matchmaker"
	LeaseKey    = "leader"
)

// run is the replica's loop. It owns the lease and, while leader, all placement state (the
// queue, the reservations in flight): NATS handlers and reservation goroutines only post to
// its channels.
func (m *Matchmaker) run(kv jetstream.KeyValue) {
	defer close(m.done)
	defer m.reserveWG.Wait()
	var (
		rev        uint64
		leaderSubs []*nats.Subscription
	)
	renew := time.NewTicker(m.cfg.LeaseTTL / 3)
	defer renew.Stop()
	sweep := time.NewTicker(250 * time.Millisecond)
	defer sweep.Stop()
	notify := time.NewTicker(m.cfg.QueueRefresh)
	defer notify.Stop()

	step := func(fn func(ctx context.Context) error) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return fn(ctx)
	}
	lose := func(why string, err error) {
		for _, s := range leaderSubs {
			_ = s.Unsubscribe()
		}
		leaderSubs = nil
		m.leader.Store(false)
		if m.lq != nil {
			m.lq.abandon()
		}
		m.lq = nil
		if err == nil {
			m.log.Info("leadership given up", "why", why)
		} else {
			m.log.Warn("leadership lost", "why", why, "err", err)
		}
	}
	become := func() {
		m.leader.Store(true)
		m.lq = newLeaderState(m)
		for subj, fn := range map[string]nats.MsgHandler{
			protocol.SubjectPlace: func(msg *nats.Msg) {
				select {
				case m.placeCh <- msg:
				default:
					respondReply(msg, protocol.FailReply(protocol.Errorf(protocol.CodeHostUnavailable, "the matchmaker is overloaded; try again")))
				}
			},
			protocol.SubjectCancel: func(msg *nats.Msg) {
				var c protocol.CancelRequest
				if json.Unmarshal(msg.Data, &c) == nil && protocol.ValidName(c.Session) {
					select {
					case m.cancelCh <- c.Session:
					default:
					}
				}
			},
		} {
			sub, err := m.nc.QueueSubscribe(subj, protocol.QueueMatchmaker, fn)
			if err != nil {
				lose("subscribe "+subj, err)
				return
			}
			leaderSubs = append(leaderSubs, sub)
		}
		_ = m.nc.Flush()
		m.log.Info("leader now: placing sessions and keeping the queue")
	}
	tryLease := func() {
		if m.leader.Load() {
			err := step(func(ctx context.Context) error {
				r, err := kv.Update(ctx, LeaseKey, []byte(m.cfg.ID), rev)
				if err == nil {
					rev = r
				}
				return err
			})
			if err != nil {
				lose("lease renewal failed", err)
			}
			return
		}
		err := step(func(ctx context.Context) error {
			r, err := kv.Create(ctx, LeaseKey, []byte(m.cfg.ID))
			if err == nil {
				rev = r
			}
			return err
		})
		switch {
		case err == nil:
			become()
		case errors.Is(err, jetstream.ErrKeyExists):
		default:
			m.log.Debug("lease attempt failed", "err", err)
		}
	}

	tryLease()
	for {
		select {
		case <-m.quit:
			if m.leader.Load() {
				// Hand over at once instead of after the TTL.
				_ = step(func(ctx context.Context) error {
					return kv.Delete(ctx, LeaseKey, jetstream.LastRevision(rev))
				})
				lose("closing", nil)
			}
			// Let the reservations in flight finish (each within ReserveTimeout), so their
			// players get an answer; none is retried.
			m.closing = true
			for m.inflight > 0 {
				m.settle(<-m.results)
			}
			for {
				select {
				case msg := <-m.placeCh: // arrived before the subscription ended
					respondReply(msg, protocol.FailReply(protocol.Errorf(protocol.CodeHostUnavailable, "matchmaker leadership is changing; try again")))
				default:
					return
				}
			}
		case <-renew.C:
			tryLease()
		case <-sweep.C:
			m.sweep()
			if m.lq != nil {
				m.lq.process()
			}
		case <-notify.C:
			if m.lq != nil {
				m.lq.notify()
			}
		case res := <-m.results:
			m.settle(res)
		case msg := <-placeCh(m):
			if m.lq == nil {
				respondReply(msg, protocol.FailReply(protocol.Errorf(protocol.CodeHostUnavailable, "matchmaker leadership is changing; try again")))
				continue
			}
			m.lq.handlePlace(msg)
		case s := <-m.cancelCh:
			if m.lq != nil {
				m.lq.cancel(s)
			}
		}
	}
}

// placeCh is m.placeCh, or nil (never ready) while maxInflight reservations are in flight:
// placement requests then wait in the channel's buffer.
func placeCh(m *Matchmaker) chan *nats.Msg {
	if m.inflight >= maxInflight {
		return nil
	}
	return m.placeCh
}

func respondReply(msg *nats.Msg, r protocol.Reply) {
	if msg.Reply == "" {
		return
	}
	b, _ := json.Marshal(r)
	_ = msg.Respond(b)
}
