// Package matchmaker places new sessions on session hosts. It learns the hosts from their NATS
// heartbeats and answers placement requests from gateways in a NATS queue group, so any number
// of replicas can run. A host is only ever booked by asking it to reserve a slot (request-reply):
// the host is the authority on its own slots, so two replicas can never double-book it.
//
// Where to place is decided by Policy (policy.go), a pure function of a registry snapshot and
// the ticket: nearest data center within the ticket's RTT cap, then pack or spread inside it.
package matchmaker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/edgeplay/edgeplay/protocol"
)

// Config configures a matchmaker. Zero values take the defaults.
type Config struct {
	HostTTL        time.Duration // forget a host after this long without a heartbeat; default 3 s
	SuspectAfter   time.Duration // place nothing on a host silent this long; default 2 s (2 missed beats)
	Policy         Policy        // default DefaultPolicy()
	ReserveTimeout time.Duration // per reservation request; default 2 s
	Logger         *slog.Logger
	Now            func() time.Time // injectable clock; default time.Now
}

// Matchmaker is one replica.
type Matchmaker struct {
	cfg Config
	nc  *nats.Conn
	log *slog.Logger

	mu    sync.Mutex
	hosts map[string]*hostEntry // guarded by mu
	subs  []*nats.Subscription
}

type hostEntry struct {
	hb   protocol.Heartbeat
	seen time.Time
}

// New subscribes to heartbeats and placement requests.
func New(cfg Config, nc *nats.Conn) (*Matchmaker, error) {
	if cfg.HostTTL == 0 {
		cfg.HostTTL = 3 * time.Second
	}
	if cfg.SuspectAfter == 0 {
		cfg.SuspectAfter = 2 * time.Second
	}
	if cfg.Policy.Caps == nil {
		cfg.Policy = DefaultPolicy()
	}
	if cfg.ReserveTimeout == 0 {
		cfg.ReserveTimeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Matchmaker{cfg: cfg, nc: nc, log: cfg.Logger.With("role", "matchmaker"), hosts: map[string]*hostEntry{}}
	sub, err := nc.Subscribe(protocol.SubjectHeartbeatAll, m.handleHeartbeat)
	if err != nil {
		return nil, fmt.Errorf("subscribe heartbeats: %w", err)
	}
	m.subs = append(m.subs, sub)
	sub, err = nc.QueueSubscribe(protocol.SubjectPlace, protocol.QueueMatchmaker, m.handlePlace)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("subscribe placements: %w", err)
	}
	m.subs = append(m.subs, sub)
	if err := nc.Flush(); err != nil {
		m.Close()
		return nil, fmt.Errorf("nats flush: %w", err)
	}
	return m, nil
}

// Close unsubscribes; in-flight placements finish on their own.
func (m *Matchmaker) Close() {
	for _, s := range m.subs {
		_ = s.Drain()
	}
}

func (m *Matchmaker) handleHeartbeat(msg *nats.Msg) {
	var hb protocol.Heartbeat
	if len(msg.Data) > 64<<10 || json.Unmarshal(msg.Data, &hb) != nil || !protocol.ValidName(hb.Host) ||
		protocol.SubjectHeartbeat(hb.Host) != msg.Subject || hb.Slots < 0 || hb.Used < 0 || hb.Reserved < 0 {
		m.log.Warn("malformed heartbeat ignored", "subject", msg.Subject)
		return
	}
	m.apply(hb)
}

// apply updates the registry with a host's state, from a heartbeat or a reservation reply.
func (m *Matchmaker) apply(hb protocol.Heartbeat) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if hb.State == protocol.HostStopped {
		delete(m.hosts, hb.Host)
		return
	}
	e := m.hosts[hb.Host]
	if e == nil {
		e = &hostEntry{}
		m.hosts[hb.Host] = e
		m.log.Info("host registered", "host", hb.Host, "region", hb.Region, "slots", hb.Slots)
	} else if hb.Seq <= e.hb.Seq && hb.Seq != 1 {
		return // out of order; a restarted host starts again at 1
	}
	e.hb, e.seen = hb, m.cfg.Now()
}

// snapshot returns the registry as placement sees it, forgetting hosts past their TTL.
func (m *Matchmaker) snapshot() []HostView {
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]HostView, 0, len(m.hosts))
	for id, e := range m.hosts {
		age := now.Sub(e.seen)
		if age > m.cfg.HostTTL {
			delete(m.hosts, id)
			m.log.Warn("host lost", "host", id, "silent_for", age.Round(time.Millisecond))
			continue
		}
		out = append(out, HostView{
			ID: id, Region: e.hb.Region, State: e.hb.State, Suspect: age > m.cfg.SuspectAfter,
			Slots: e.hb.Slots, Used: e.hb.Used, Reserved: e.hb.Reserved, Games: e.hb.Games,
		})
	}
	return out
}

func (m *Matchmaker) handlePlace(msg *nats.Msg) {
	var req protocol.PlaceRequest
	var reply protocol.Reply
	if len(msg.Data) > 64<<10 || json.Unmarshal(msg.Data, &req) != nil ||
		!protocol.ValidName(req.Session) || !protocol.ValidName(req.Game) {
		reply = protocol.FailReply(protocol.Errorf(protocol.CodeBadField, "malformed placement request"))
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r, err := m.Place(ctx, req)
		cancel()
		if err != nil {
			reply = protocol.FailReply(err)
		} else {
			reply = r
		}
	}
	b, _ := json.Marshal(reply)
	if err := msg.Respond(b); err != nil {
		m.log.Warn("placement reply failed", "err", err)
	}
}

// Place finds a host for req and has it reserve a slot.
func (m *Matchmaker) Place(ctx context.Context, req protocol.PlaceRequest) (protocol.Reply, error) {
	d := m.cfg.Policy.Decide(m.snapshot(), Ticket{Session: req.Session, Game: req.Game})
	if len(d.Candidates) == 0 {
		return protocol.Reply{}, protocol.Errorf(d.Code, "%s", d.Reason)
	}
	body, _ := json.Marshal(protocol.ReserveRequest{Session: req.Session, Game: req.Game})
	for _, c := range d.Candidates {
		host := c.Host
		rctx, cancel := context.WithTimeout(ctx, m.cfg.ReserveTimeout)
		resp, err := m.nc.RequestWithContext(rctx, protocol.SubjectReserve(host), body)
		cancel()
		if err != nil {
			m.log.Warn("reservation request failed", "host", host, "session", req.Session, "err", err)
			if errors.Is(err, context.Canceled) || ctx.Err() != nil {
				return protocol.Reply{}, protocol.Errorf(protocol.CodeHostUnavailable, "placement timed out")
			}
			continue
		}
		var r protocol.Reply
		if json.Unmarshal(resp.Data, &r) != nil {
			continue
		}
		if !r.OK {
			m.log.Info("reservation refused", "host", host, "session", req.Session, "code", r.Code, "msg", r.Message)
			continue
		}
		if hb := r.Heartbeat; hb != nil && hb.Host == host {
			m.apply(*hb)
		}
		m.log.Info("session placed", "session", req.Session, "game", req.Game, "host", host, "region", r.Region,
			"reason", c.Reason)
		return r, nil
	}
	return protocol.Reply{}, protocol.Errorf(protocol.CodeNoFreeHost, "")
}

// Hosts returns the heartbeats of the hosts this replica knows, by id.
func (m *Matchmaker) Hosts() []protocol.Heartbeat {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]protocol.Heartbeat, 0, len(m.hosts))
	for _, e := range m.hosts {
		out = append(out, e.hb)
	}
	slices.SortFunc(out, func(a, b protocol.Heartbeat) int { return cmp.Compare(a.Host, b.Host) })
	return out
}
