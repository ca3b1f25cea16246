package matchmaker

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/edgeplay/edgeplay/protocol"
)

// HostView is what placement knows of one host: its last heartbeat (or reservation reply) plus
// the registry's own judgement (suspect).
type HostView struct {
	ID, Region string
	State      string // protocol.Host*
	Suspect    bool   // missed heartbeats: no new placements
	Slots      int
	Used       int
	Reserved   int
	Games      []string
}

// Free is the number of slots placement may still ask for.
func (h HostView) Free() int { return max(0, h.Slots-h.Used-h.Reserved) }

// Ticket is one player waiting for placement.
type Ticket struct {
	Session, Game string
	// RTT holds the verified round-trip time to each data center the player measured. A
	// region without a sample is never chosen, unless RTT is nil altogether (no probes: every
	// region counts as equally near).
	RTT    map[string]time.Duration
	Waited time.Duration // how long the ticket has been waiting
}

// CapStep says: once a ticket has waited After, data centers up to Cap away are acceptable.
type CapStep struct {
	After time.Duration
	Cap   time.Duration
}

// Policy is the placement policy. It is a pure function of a registry snapshot and a ticket.
type Policy struct {
	// Caps, ordered by After, relax the RTT cap as a ticket waits. Default: 40 ms, 80 ms
	// after 10 s, 120 ms after 20 s.
	Caps []CapStep
	// Tie: data centers whose RTTs differ by at most this are ordered by free capacity
	// instead. Default 5 ms.
	Tie time.Duration
	// Spread puts a session on the emptiest host of a data center; the default (pack) fills
	// partly used hosts first, keeping whole machines free for maintenance and scale-down.
	Spread bool
	// MaxCandidates bounds the hosts a decision lists (and so the reservations one placement
	// may try). Default 8.
	MaxCandidates int
}

// DefaultPolicy is the documented default.
func DefaultPolicy() Policy {
	return Policy{
		Caps:          []CapStep{{0, 40 * time.Millisecond}, {10 * time.Second, 80 * time.Millisecond}, {20 * time.Second, 120 * time.Millisecond}},
		Tie:           5 * time.Millisecond,
		MaxCandidates: 8,
	}
}

// Candidate is one host to ask, with the reason it was chosen.
type Candidate struct {
	Host, Region string
	RTT          time.Duration
	Reason       string
}

// Decision is the ordered list of hosts to ask for a reservation, best first. When it is
// empty, Code says why: unknown_game (no host offers the game at all) or no_free_host, and
// Reason says it in words.
type Decision struct {
	Candidates []Candidate
	Cap        time.Duration
	Code       protocol.Code
	Reason     string
}

// CapFor returns the RTT cap for a ticket that has waited w.
func (p Policy) CapFor(w time.Duration) time.Duration {
	c := time.Duration(0)
	for _, s := range p.Caps {
		if w >= s.After {
			c = s.Cap
		}
	}
	return c
}

type regionPlan struct {
	id    string
	rtt   time.Duration
	free  int
	hosts []HostView
	src   *regionIndex // DecideIndexed: where fill finds the hosts
}

// better orders two hosts of one data center: pack puts the fullest host with room first,
// spread the emptiest; ties by id.
func (p Policy) better(a, b HostView) int {
	c := cmp.Compare(a.Free(), b.Free())
	if p.Spread {
		c = -c
	}
	if c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// keep adds h to the region's best hosts, holding at most k (all when k is 0) in order. The
// insertion keeps a decision O(hosts × k) rather than sorting every host of the data center.
func (r *regionPlan) keep(h HostView, less func(a, b HostView) int, k int) {
	i := len(r.hosts)
	for i > 0 && less(h, r.hosts[i-1]) < 0 {
		i--
	}
	if k > 0 && i >= k {
		return
	}
	r.hosts = slices.Insert(r.hosts, i, h)
	if k > 0 && len(r.hosts) > k {
		r.hosts = r.hosts[:k]
	}
}

// Decide orders the hosts a ticket may be placed on.
func (p Policy) Decide(hosts []HostView, t Ticket) Decision {
	capRTT := p.CapFor(t.Waited)
	regions := map[string]*regionPlan{}
	offered, tooFar := false, false
	for _, h := range hosts {
		if !slices.Contains(h.Games, t.Game) {
			continue
		}
		offered = true
		if !h.eligible() {
			continue
		}
		rtt, ok := p.reach(t, h.Region, capRTT, &tooFar)
		if !ok {
			continue
		}
		r := regions[h.Region]
		if r == nil {
			r = &regionPlan{id: h.Region, rtt: rtt}
			regions[h.Region] = r
		}
		r.free += h.Free()
		r.keep(h, p.better, p.MaxCandidates)
	}
	plans := make([]*regionPlan, 0, len(regions))
	for _, r := range regions {
		plans = append(plans, r)
	}
	return p.finish(t, capRTT, offered, tooFar, plans, nil)
}

// eligible: the host may take a new session now.
func (h HostView) eligible() bool {
	return h.State == protocol.HostReady && !h.Suspect && h.Free() > 0
}

// reach says whether the ticket may go to region and at what RTT; it notes regions that are
// measured but beyond the cap.
func (p Policy) reach(t Ticket, region string, capRTT time.Duration, tooFar *bool) (time.Duration, bool) {
	if t.RTT == nil {
		return 0, true
	}
	rtt, measured := t.RTT[region]
	if !measured {
		return 0, false // the player did not measure this data center
	}
	if rtt > capRTT {
		*tooFar = true
		return 0, false
	}
	return rtt, true
}

// finish orders the data centers and writes the decision. Decide and DecideIndexed share it.
func (p Policy) finish(t Ticket, capRTT time.Duration, offered, tooFar bool, plans []*regionPlan, fill func(*regionPlan)) Decision {
	d := Decision{Cap: capRTT}
	if !offered {
		d.Code = protocol.CodeUnknownGame
		d.Reason = fmt.Sprintf("no host offers game %q", t.Game)
		return d
	}
	if len(plans) == 0 {
		d.Code = protocol.CodeNoFreeHost
		switch {
		case tooFar:
			d.Reason = fmt.Sprintf("no free host: free hosts only in data centers beyond the %s RTT cap", capRTT)
		default:
			d.Reason = "no free host: every host that offers the game is full, draining or not answering"
		}
		return d
	}

	// Nearest first; near-ties by free capacity; then by id for determinism. The tie test
	// compares each pair, so it is a proper ordering only as long as Tie is small against
	// the gaps between data centers, which is what it is for.
	// Sorting from a fixed order (by id, stable) makes the result independent of map order.
	slices.SortFunc(plans, func(a, b *regionPlan) int { return cmp.Compare(a.id, b.id) })
	slices.SortStableFunc(plans, func(a, b *regionPlan) int {
		if diff := a.rtt - b.rtt; diff > p.Tie || -diff > p.Tie {
			return cmp.Compare(a.rtt, b.rtt)
		}
		if c := cmp.Compare(b.free, a.free); c != 0 {
			return c
		}
		if c := cmp.Compare(a.rtt, b.rtt); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	for i, r := range plans {
		if p.MaxCandidates > 0 && len(d.Candidates) == p.MaxCandidates {
			break
		}
		why := "nearest data center"
		switch {
		case t.RTT == nil:
			why = "no RTT measured; data center with most free slots"
		case i > 0 && r.rtt-plans[0].rtt <= p.Tie:
			why = fmt.Sprintf("within %s of the nearest; fewer free slots", p.Tie)
		case i > 0:
			why = fmt.Sprintf("next nearest (%d nearer ones full or refused)", i)
		case i == 0 && len(plans) > 1 && plans[1].rtt-r.rtt <= p.Tie:
			why = fmt.Sprintf("within %s of another; most free slots", p.Tie)
		}
		if fill != nil {
			fill(r)
		}
		for _, h := range r.hosts {
			if p.MaxCandidates > 0 && len(d.Candidates) == p.MaxCandidates {
				break
			}
			mode := "pack: fullest host with room"
			if p.Spread {
				mode = "spread: emptiest host"
			}
			reason := fmt.Sprintf("%s: rtt %s ≤ cap %s, %s; %s (%d/%d used)",
				r.id, r.rtt.Round(time.Millisecond/10), capRTT, why, mode, h.Used+h.Reserved, h.Slots)
			if t.RTT == nil {
				reason = fmt.Sprintf("%s: %s; %s (%d/%d used)", r.id, why, mode, h.Used+h.Reserved, h.Slots)
			}
			d.Candidates = append(d.Candidates, Candidate{Host: h.ID, Region: r.id, RTT: r.rtt, Reason: reason})
		}
	}
	d.Reason = d.Candidates[0].Reason
	return d
}
