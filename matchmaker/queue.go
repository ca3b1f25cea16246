package matchmaker

import (
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
	// placing: a reservation for it is in flight; cancelled: its player left meanwhile.
	placing, cancelled bool
}

// leaderState is the leader's placement state: the queues. Only the run goroutine touches it.
type leaderState struct {
	m         *Matchmaker
	abandoned bool                 // leadership was lost; reservations still in flight finish
	queues    map[string][]*ticket // by game, oldest first
	bySession map[string]*ticket   // the queued tickets
	direct    map[string]*ticket   // new tickets whose first reservation is in flight
	// interval is, per game, a moving average of the time between placements out of the
	// queue: the basis of the ETA.
	interval   map[string]time.Duration
	lastPlaced map[string]time.Time
	// studioQueued counts the queued tickets of each studio (join tokens' studios).
	studioQueued map[string]int
}

func newLeaderState(m *Matchmaker) *leaderState {
	return &leaderState{
		m: m, queues: map[string][]*ticket{}, bySession: map[string]*ticket{}, direct: map[string]*ticket{},
		interval: map[string]time.Duration{}, lastPlaced: map[string]time.Time{}, studioQueued: map[string]int{},
	}
}

// waiting reports whether a queued ticket of game could take a slot before a new one: any
// but those waiting for their studio's quota.
func (l *leaderState) waiting(game string) bool {
	for _, t := range l.queues[game] {
		if t.placing || !l.studioFull(t) {
			return true
		}
	}
	return false
}

// studioFull reports whether t's studio has its maximum of sessions (reserved, playing, or
// being reserved): t waits in the queue until one ends.
func (l *leaderState) studioFull(t *ticket) bool {
	return t.req.Studio != "" && t.req.StudioMaxSessions > 0 && l.m.studioSessions(t.req.Studio) >= t.req.StudioMaxSessions
}

// abandon drops the queue when leadership is lost; the gateways re-submit their tickets to the
// next leader (keeping their place by their Since time).
func (l *leaderState) abandon() {
	l.abandoned = true
	l.queues, l.bySession, l.direct = nil, nil, nil
}

// defaultInterval is the ETA's time per queue position before any placement was observed.
const defaultInterval = 20 * time.Second

// handlePlace answers one placement request: placed (once a host has reserved a slot, which
// happens off the run goroutine), queued, or an error.
func (l *leaderState) handlePlace(msg *nats.Msg) {
	var req protocol.PlaceRequest
	if len(msg.Data) > 64<<10 || json.Unmarshal(msg.Data, &req) != nil ||
		!protocol.ValidName(req.Session) || !protocol.ValidName(req.Game) || len(req.RTTs) > protocol.MaxRTTClaims ||
		(req.Studio != "" && !protocol.ValidName(req.Studio)) || req.StudioMaxSessions < 0 || req.StudioMaxQueued < 0 {
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
	if l.direct[req.Session] != nil {
		respondReply(msg, protocol.FailReply(protocol.Errorf(protocol.CodeBadState, "this session is being placed already")))
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
	resubmitted := req.Resubmit && !verifyAt.Equal(now)
	created := func() { // once the ticket is real: placed, or queued
		if !resubmitted {
			m.publishEvent(protocol.Event{Kind: "ticket_created", Session: req.Session, Game: req.Game, Studio: req.Studio})
		}
	}
	if resubmitted {
		t.since = req.Since // re-submitted after a failover: keep its age
	}
	if !l.waiting(req.Game) && !l.studioFull(t) {
		err := l.place(t, msg)
		if err == nil {
			created()
			l.direct[req.Session] = t
			return // answered when the reservation settles
		}
		if protocol.CodeOf(err) != protocol.CodeNoFreeHost {
			// A join that can never be placed (no host has the game): refused, and no event.
			metrics.Placements.WithLabelValues("error").Inc()
			respondReply(msg, protocol.FailReply(err))
			return
		}
	}
	if l.queueTicket(t, msg) {
		created()
	}
}

// queueTicket puts a new ticket in its game's queue and answers its request with the
// position; false when it was refused (the queue or the studio's quota is full).
func (l *leaderState) queueTicket(t *ticket, msg *nats.Msg) bool {
	m, req := l.m, t.req
	if len(l.queues[req.Game]) >= m.cfg.MaxQueue {
		respondReply(msg, protocol.FailReply(protocol.Errorf(protocol.CodeNoFreeHost, "no free host, and the queue is full")))
		return false
	}
	if req.Studio != "" && req.StudioMaxQueued > 0 && l.studioQueued[req.Studio] >= req.StudioMaxQueued {
		metrics.Rejected.WithLabelValues("studio_quota").Inc()
		m.log.Info("ticket refused: the studio's queue quota", "session", req.Session, "studio", req.Studio, "max_queued", req.StudioMaxQueued)
		respondReply(msg, protocol.FailReply(protocol.Errorf(protocol.CodeQuotaExceeded,
			"the game's publisher has its maximum of %d players waiting; try again later", req.StudioMaxQueued)))
		return false
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
	return true
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
	if t.req.Studio != "" {
		l.studioQueued[t.req.Studio]++
	}
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

// cancel drops the ticket of a player who left: from the queue, or, when its reservation is in
// flight, once that settles (a granted slot is freed at once).
func (l *leaderState) cancel(session string) {
	t := l.bySession[session]
	if t == nil {
		t = l.direct[session]
	}
	if t == nil {
		return
	}
	t.cancelled = true
	l.remove(t)
	l.m.log.Info("ticket cancelled", "session", session)
}

func (l *leaderState) remove(t *ticket) {
	delete(l.bySession, t.req.Session)
	q := l.queues[t.req.Game]
	for i, o := range q {
		if o == t {
			l.queues[t.req.Game] = append(q[:i], q[i+1:]...)
			if st := t.req.Studio; st != "" {
				if l.studioQueued[st]--; l.studioQueued[st] <= 0 {
					delete(l.studioQueued, st)
				}
			}
			break
		}
	}
	metrics.QueueLength.WithLabelValues(t.req.Game).Set(float64(len(l.queues[t.req.Game])))
}

// process places queued tickets, first come first served per game, while slots allow: it
// starts a reservation for each ticket from the head of the queue that has none in flight,
// and stops at the first that nothing fits.
func (l *leaderState) process() {
	for game, q := range l.queues {
		for i := 0; i < len(q) && l.m.inflight < maxInflight; {
			t := q[i]
			if t.placing || l.studioFull(t) { // a studio at its quota does not hold up others
				i++
				continue
			}
			err := l.place(t, nil)
			if err == nil {
				i++
				continue
			}
			if protocol.CodeOf(err) == protocol.CodeNoFreeHost {
				break // the head waits; the ones behind it wait longer
			}
			l.m.publishTo(t.req.Session, protocol.ErrorMessage(err))
			l.remove(t)
			q = l.queues[game]
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

// place decides where t goes and starts reserving a slot for it there; a nil error means a
// reservation is in flight (settle finishes the placement). msg is the request to answer, or
// nil for a ticket from the queue (its player hears through its gateway).
func (l *leaderState) place(t *ticket, msg *nats.Msg) error {
	m := l.m
	now := m.cfg.Now()
	d := m.decide(Ticket{Session: t.req.Session, Game: t.req.Game, RTT: t.rtt, Waited: now.Sub(t.since)})
	if len(d.Candidates) == 0 {
		return protocol.Errorf(d.Code, "%s", d.Reason)
	}
	t.placing = true
	m.reserveNext(&attempt{l: l, t: t, msg: msg, cands: d.Candidates, deadline: time.Now().Add(4 * m.cfg.ReserveTimeout)})
	return nil
}

// placed finishes an attempt whose host reserved a slot.
func (l *leaderState) placed(a *attempt, c Candidate, r protocol.Reply) {
	m, t := l.m, a.t
	t.placing = false
	r.Host, r.Region = c.Host, c.Region // what was asked, whatever the host's reply says
	r.RTTMillis = float64(c.RTT) / float64(time.Millisecond)
	r.Why = c.Reason
	if t.rtt != nil {
		metrics.PlayerRTT.Observe(c.RTT.Seconds())
	}
	now := m.cfg.Now()
	m.log.Info("session placed", "session", t.req.Session, "game", t.req.Game, "host", c.Host,
		"region", c.Region, "rtt", c.RTT, "waited", now.Sub(t.since).Round(time.Millisecond), "reason", c.Reason)
	m.publishEvent(protocol.Event{
		Kind: "placed", Session: t.req.Session, Game: t.req.Game, Host: c.Host,
		Region: c.Region, RTTMillis: r.RTTMillis, Detail: c.Reason,
	})
	metrics.Placements.WithLabelValues("placed").Inc()
	if t.cancelled { // the player left while the reservation was in flight: free the slot
		b, _ := json.Marshal(protocol.Message{Type: protocol.TypeLeave})
		if err := m.nc.Publish(protocol.SubjectToHost(c.Host, t.req.Session), b); err != nil {
			m.log.Warn("releasing a cancelled ticket's reservation failed", "session", t.req.Session, "err", err)
		}
	}
	if a.msg != nil {
		if !l.abandoned {
			delete(l.direct, t.req.Session)
		}
		respondReply(a.msg, r)
		return
	}
	if t.cancelled {
		return
	}
	game := t.req.Game
	metrics.QueueWait.Observe(now.Sub(t.since).Seconds())
	if !l.abandoned {
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
	}
	m.publishTo(t.req.Session, protocol.Message{
		Type: protocol.TypePlaced, Session: t.req.Session, Host: r.Host, Region: r.Region,
		RTTMillis: r.RTTMillis, Why: r.Why,
	})
}

// unplaced finishes an attempt that every candidate refused: a new ticket is queued, a queued
// one stays where it is.
func (l *leaderState) unplaced(a *attempt) {
	a.t.placing = false
	if a.msg != nil && !l.abandoned {
		delete(l.direct, a.t.req.Session)
	}
	switch {
	case a.msg == nil:
	case a.t.cancelled:
		respondReply(a.msg, protocol.FailReply(protocol.Errorf(protocol.CodeNoFreeHost, "cancelled")))
	case l.abandoned:
		respondReply(a.msg, protocol.FailReply(protocol.Errorf(protocol.CodeHostUnavailable, "matchmaker leadership is changing; try again")))
	default:
		l.queueTicket(a.t, a.msg)
	}
}

// maxInflight bounds the reservations in flight at once; beyond it, placement requests wait
// in their channel.
const maxInflight = 256

// attempt is one ticket being placed. Its reservation requests go to one candidate at a time,
// each on its own goroutine, so the leader decides the next tickets meanwhile; the hosts'
// pending reservations count as reserved in the index, so no decision counts a slot twice.
type attempt struct {
	l        *leaderState // the leadership it started under
	t        *ticket
	msg      *nats.Msg
	cands    []Candidate // not tried yet
	deadline time.Time   // wall clock (not Config.Now): it bounds real requests
}

type reserveResult struct {
	a     *attempt
	c     Candidate
	reply protocol.Reply
	err   error
}

// reserveNext asks the attempt's next candidate to reserve a slot. Run goroutine only.
func (m *Matchmaker) reserveNext(a *attempt) {
	c := a.cands[0]
	a.cands = a.cands[1:]
	m.addPending(c.Host, 1)
	m.inflight++
	if st := a.t.req.Studio; st != "" {
		m.inflightStudio[st]++
	}
	m.reserveWG.Go(func() {
		r, err := m.reserve(c.Host, a.t, c, a.deadline)
		m.results <- reserveResult{a: a, c: c, reply: r, err: err} // room for maxInflight: never blocks
	})
}

// settle takes a reservation's answer: placed, the next candidate, or unplaced. Run
// goroutine only.
func (m *Matchmaker) settle(res reserveResult) {
	m.inflight--
	if st := res.a.t.req.Studio; st != "" {
		if m.inflightStudio[st]--; m.inflightStudio[st] <= 0 {
			delete(m.inflightStudio, st)
		}
	}
	m.addPending(res.c.Host, -1)
	a := res.a
	if res.err == nil {
		if hb := res.reply.Heartbeat; hb != nil && hb.Host == res.c.Host {
			m.apply(*hb)
		}
		a.l.placed(a, res.c, res.reply)
		return
	}
	m.log.Info("reservation refused", "host", res.c.Host, "session", a.t.req.Session, "err", res.err)
	if len(a.cands) > 0 && !a.t.cancelled && !a.l.abandoned && !m.closing && time.Now().Before(a.deadline) {
		m.reserveNext(a)
		return
	}
	a.l.unplaced(a)
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
