package matchmaker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/edgeplay/edgeplay/internal/metrics"
	"github.com/edgeplay/edgeplay/probe"
	"github.com/edgeplay/edgeplay/protocol"
)

// ticket is one player waiting to be placed.
type ticket struct {
	req   protocol.PlaceRequest
	since time.Time
	rtt   map[string]time.Duration // verified; nil when the player measured nothing
}

// leaderState is the leader's placement state: the queues. Only the run goroutine touches it.
type leaderState struct {
	m         *Matchmaker
	queues    map[string][]*ticket // by game, oldest first
	bySession map[string]*ticket
	// interval is, per game, a moving average of the time between placements out of the
	// queue: the basis of the ETA.
	interval   map[string]time.Duration
	lastPlaced map[string]time.Time
}

func newLeaderState(m *Matchmaker) *leaderState {
	return &leaderState{
		m: m, queues: map[string][]*ticket{}, bySession: map[string]*ticket{},
		interval: map[string]time.Duration{}, lastPlaced: map[string]time.Time{},
	}
}

// abandon drops the queue when leadership is lost; the gateways re-submit their tickets to the
// next leader (keeping their place by their Since time).
func (l *leaderState) abandon() {
	l.queues, l.bySession = nil, nil
}

// defaultInterval is the ETA's time per queue position before any placement was observed.
const defaultInterval = 20 * time.Second

// handlePlace answers one placement request: placed now, queued, or an error.
func (l *leaderState) handlePlace(msg *nats.Msg) {
	var req protocol.PlaceRequest
	if len(msg.Data) > 64<<10 || json.Unmarshal(msg.Data, &req) != nil ||
		!protocol.ValidName(req.Session) || !protocol.ValidName(req.Game) || len(req.RTTs) > protocol.MaxRTTClaims {
		metrics.Rejected.WithLabelValues("placement").Inc()
		respondReply(msg, protocol.FailReply(protocol.Errorf(protocol.CodeBadField, "malformed placement request")))
		return
	}
	m := l.m
	now := m.cfg.Now()
	if t := l.bySession[req.Session]; t != nil { // a re-submission: still queued
		respondReply(msg, l.queuedReply(t))
		return
	}
	verifyAt := now
	if req.Resubmit && !req.Since.IsZero() && req.Since.Before(now) && now.Sub(req.Since) < time.Hour {
		verifyAt = req.Since // the tokens were valid when the ticket was first submitted
	}
	rtt, err := m.verifyRTTs(req, verifyAt)
	if err != nil {
		metrics.Rejected.WithLabelValues("rtt").Inc()
		m.log.Info("join refused: bad RTT sample", "session", req.Session, "err", err)
		respondReply(msg, protocol.FailReply(err))
		return
	}
	t := &ticket{req: req, since: now, rtt: rtt}
	if req.Resubmit && verifyAt != now {
		t.since = req.Since // re-submitted after a failover: keep its age
	} else {
		m.publishEvent(protocol.Event{Kind: "ticket_created", Session: req.Session, Game: req.Game})
	}
	if len(l.queues[req.Game]) == 0 {
		r, err := l.tryPlace(t)
		if err == nil {
			metrics.Placements.WithLabelValues("placed").Inc()
			respondReply(msg, r)
			return
		}
		if protocol.CodeOf(err) != protocol.CodeNoFreeHost {
			metrics.Placements.WithLabelValues("error").Inc()
			respondReply(msg, protocol.FailReply(err))
			return
		}
	}
	if len(l.queues[req.Game]) >= m.cfg.MaxQueue {
		respondReply(msg, protocol.FailReply(protocol.Errorf(protocol.CodeNoFreeHost, "no free host, and the queue is full")))
		return
	}
	l.enqueue(t)
	metrics.Placements.WithLabelValues("queued").Inc()
	metrics.QueueLength.WithLabelValues(t.req.Game).Set(float64(len(l.queues[t.req.Game])))
	r := l.queuedReply(t)
	m.log.Info("ticket queued", "session", req.Session, "game", req.Game, "position", r.Position, "eta_s", r.ETA)
	m.publishEvent(protocol.Event{
		Kind: "queued", Session: req.Session, Game: req.Game,
		Detail: fmt.Sprintf("position %d, eta %d s", r.Position, r.ETA),
	})
	respondReply(msg, r)
}

// enqueue inserts t in Since order (a re-submitted ticket goes back where it was).
func (l *leaderState) enqueue(t *ticket) {
	q := l.queues[t.req.Game]
	i := len(q)
	for i > 0 && q[i-1].since.After(t.since) {
		i--
	}
	q = append(q, nil)
	copy(q[i+1:], q[i:])
	q[i] = t
	l.queues[t.req.Game] = q
	l.bySession[t.req.Session] = t
}

func (l *leaderState) position(t *ticket) int {
	for i, o := range l.queues[t.req.Game] {
		if o == t {
			return i + 1
		}
	}
	return 0
}

func (l *leaderState) queuedReply(t *ticket) protocol.Reply {
	pos := l.position(t)
	iv := l.interval[t.req.Game]
	if iv == 0 {
		iv = defaultInterval
	}
	return protocol.Reply{
		OK: true, Queued: true, Position: pos,
		ETA:     int((time.Duration(pos) * iv).Round(time.Second) / time.Second),
		Message: fmt.Sprintf("all hosts are busy: position %d in the queue", pos),
	}
}

func (l *leaderState) cancel(session string) {
	t := l.bySession[session]
	if t == nil {
		return
	}
	l.remove(t)
	l.m.log.Info("ticket cancelled", "session", session)
}

func (l *leaderState) remove(t *ticket) {
	delete(l.bySession, t.req.Session)
	q := l.queues[t.req.Game]
	for i, o := range q {
		if o == t {
			l.queues[t.req.Game] = append(q[:i], q[i+1:]...)
			break
		}
	}
	metrics.QueueLength.WithLabelValues(t.req.Game).Set(float64(len(l.queues[t.req.Game])))
}

// process places queued tickets, first come first served per game, while slots allow.
func (l *leaderState) process() {
	for game, q := range l.queues {
		for len(q) > 0 {
			t := q[0]
			r, err := l.tryPlace(t)
			if err != nil {
				if protocol.CodeOf(err) == protocol.CodeNoFreeHost {
					break // the head waits; the ones behind it wait longer
				}
				l.m.publishTo(t.req.Session, protocol.ErrorMessage(err))
				l.remove(t)
				q = l.queues[game]
				continue
			}
			metrics.Placements.WithLabelValues("placed").Inc()
			now := l.m.cfg.Now()
			metrics.QueueWait.Observe(now.Sub(t.since).Seconds())
			if last, ok := l.lastPlaced[game]; ok {
				gap := now.Sub(last)
				if iv := l.interval[game]; iv == 0 {
					l.interval[game] = gap
				} else {
					l.interval[game] = (3*iv + gap) / 4
				}
			}
			l.lastPlaced[game] = now
			l.remove(t)
			q = l.queues[game]
			l.m.publishTo(t.req.Session, protocol.Message{
				Type: protocol.TypePlaced, Session: t.req.Session, Host: r.Host, Region: r.Region,
				RTTMillis: r.RTTMillis, Why: r.Why,
			})
		}
	}
}

// notify tells every queued player its position and ETA.
func (l *leaderState) notify() {
	for _, q := range l.queues {
		for _, t := range q {
			r := l.queuedReply(t)
			l.m.publishTo(t.req.Session, protocol.Message{Type: protocol.TypeQueued, Position: r.Position, ETA: r.ETA})
		}
	}
}

// tryPlace decides and reserves; a nil error means the ticket is placed.
func (l *leaderState) tryPlace(t *ticket) (protocol.Reply, error) {
	m := l.m
	d := m.decide(Ticket{Session: t.req.Session, Game: t.req.Game, RTT: t.rtt, Waited: m.cfg.Now().Sub(t.since)})
	if len(d.Candidates) == 0 {
		return protocol.Reply{}, protocol.Errorf(d.Code, "%s", d.Reason)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*m.cfg.ReserveTimeout)
	defer cancel()
	for _, c := range d.Candidates {
		r, err := m.reserve(ctx, c.Host, t, c)
		if err != nil {
			m.log.Info("reservation refused", "host", c.Host, "session", t.req.Session, "err", err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		r.RTTMillis = float64(c.RTT) / float64(time.Millisecond)
		if t.rtt != nil {
			metrics.PlayerRTT.Observe(c.RTT.Seconds())
		}
		r.Why = c.Reason
		m.log.Info("session placed", "session", t.req.Session, "game", t.req.Game, "host", c.Host,
			"region", c.Region, "rtt", c.RTT, "waited", m.cfg.Now().Sub(t.since).Round(time.Millisecond), "reason", c.Reason)
		m.publishEvent(protocol.Event{
			Kind: "placed", Session: t.req.Session, Game: t.req.Game, Host: c.Host,
			Region: c.Region, RTTMillis: r.RTTMillis, Detail: c.Reason,
		})
		return r, nil
	}
	return protocol.Reply{}, protocol.Errorf(protocol.CodeNoFreeHost, "no free host: every candidate refused the reservation")
}

// verifyRTTs turns the player's RTT claims into verified RTTs per region.
func (m *Matchmaker) verifyRTTs(req protocol.PlaceRequest, now time.Time) (map[string]time.Duration, error) {
	if len(req.RTTs) == 0 {
		return nil, nil
	}
	out := make(map[string]time.Duration, len(req.RTTs))
	for _, c := range req.RTTs {
		if c.Token == "" {
			if len(m.cfg.ProbeKey) > 0 && !m.cfg.AllowUnsignedRTT {
				return nil, protocol.Errorf(protocol.CodeBadRTT, "the RTT for %s is not signed (measure it with the probe endpoint)", c.Region)
			}
			if c.RTTMillis < 0 || c.RTTMillis > 2000 {
				return nil, protocol.Errorf(protocol.CodeBadRTT, "the RTT for %s is out of range", c.Region)
			}
			out[c.Region] = time.Duration(c.RTTMillis * float64(time.Millisecond))
			continue
		}
		if len(m.cfg.ProbeKey) == 0 {
			return nil, protocol.Errorf(protocol.CodeBadRTT, "this matchmaker has no probe key to verify RTT tokens")
		}
		s, err := probe.Verify(m.cfg.ProbeKey, c.Token, now)
		switch {
		case errors.Is(err, probe.ErrExpired):
			return nil, protocol.Errorf(protocol.CodeBadRTT, "the RTT sample for %s has expired; measure again", c.Region)
		case err != nil:
			return nil, protocol.Errorf(protocol.CodeBadRTT, "the RTT sample for %s is not valid", c.Region)
		case s.Region != c.Region:
			return nil, protocol.Errorf(protocol.CodeBadRTT, "the RTT sample for %s was measured for another data center", c.Region)
		case s.Session != req.Session:
			return nil, protocol.Errorf(protocol.CodeBadRTT, "the RTT sample for %s belongs to another session", c.Region)
		case !req.Resubmit && m.replay.Seen(s.Nonce, s.Expires, now):
			return nil, protocol.Errorf(protocol.CodeBadRTT, "the RTT sample for %s was already used", c.Region)
		}
		out[c.Region] = s.RTT
	}
	return out, nil
}

// publishTo sends a message to the player of session (through its gateway).
func (m *Matchmaker) publishTo(session string, msg protocol.Message) {
	b, _ := json.Marshal(msg)
	if err := m.nc.Publish(protocol.SubjectToClient(session), b); err != nil {
		m.log.Warn("publish to client failed", "session", session, "err", err)
	}
}
