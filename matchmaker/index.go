package matchmaker

import "slices"

// Index is the registry arranged for placement: per game and data center, the hosts that can
// take a session now, grouped by their free slots. Heartbeats update it (Upsert, Remove,
// SetSuspect); a decision (DecideIndexed) then touches only the data centers and the few hosts
// it can choose, instead of every host. It gives exactly the decision Decide gives on the
// same hosts (TestIndexMatchesDecide). Not safe for concurrent use: the registry's lock guards
// it.
type Index struct {
	hosts map[string]HostView
	games map[string]*gameIndex
}

type gameIndex struct {
	hosts   int // hosts offering the game, in any state
	regions map[string]*regionIndex
}

type regionIndex struct {
	free    int              // free slots of the eligible hosts
	buckets map[int][]string // free slots → eligible host ids, sorted
	frees   []int            // the keys of buckets, ascending
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{hosts: map[string]HostView{}, games: map[string]*gameIndex{}}
}

// Len is the number of hosts indexed.
func (x *Index) Len() int { return len(x.hosts) }

// Upsert adds or replaces a host.
func (x *Index) Upsert(h HostView) {
	x.Remove(h.ID)
	x.hosts[h.ID] = h
	for _, g := range h.Games {
		gi := x.games[g]
		if gi == nil {
			gi = &gameIndex{regions: map[string]*regionIndex{}}
			x.games[g] = gi
		}
		gi.hosts++
		if !h.eligible() {
			continue
		}
		ri := gi.regions[h.Region]
		if ri == nil {
			ri = &regionIndex{buckets: map[int][]string{}}
			gi.regions[h.Region] = ri
		}
		f := h.Free()
		ri.free += f
		b := ri.buckets[f]
		if len(b) == 0 {
			i, _ := slices.BinarySearch(ri.frees, f)
			ri.frees = slices.Insert(ri.frees, i, f)
		}
		i, _ := slices.BinarySearch(b, h.ID)
		ri.buckets[f] = slices.Insert(b, i, h.ID)
	}
}

// Remove forgets a host.
func (x *Index) Remove(id string) {
	h, ok := x.hosts[id]
	if !ok {
		return
	}
	delete(x.hosts, id)
	for _, g := range h.Games {
		gi := x.games[g]
		if gi == nil {
			continue
		}
		gi.hosts--
		if h.eligible() {
			if ri := gi.regions[h.Region]; ri != nil {
				f := h.Free()
				ri.free -= f
				b := ri.buckets[f]
				if i, found := slices.BinarySearch(b, id); found {
					b = slices.Delete(b, i, i+1)
				}
				if len(b) == 0 {
					delete(ri.buckets, f)
					if i, found := slices.BinarySearch(ri.frees, f); found {
						ri.frees = slices.Delete(ri.frees, i, i+1)
					}
				} else {
					ri.buckets[f] = b
				}
				if len(ri.frees) == 0 {
					delete(gi.regions, h.Region)
				}
			}
		}
		if gi.hosts == 0 {
			delete(x.games, g)
		}
	}
}

// SetSuspect marks a host suspect (no new placements) or not.
func (x *Index) SetSuspect(id string, suspect bool) {
	if h, ok := x.hosts[id]; ok && h.Suspect != suspect {
		h.Suspect = suspect
		x.Upsert(h)
	}
}

// DecideIndexed is Decide over an Index.
func (p Policy) DecideIndexed(x *Index, t Ticket) Decision {
	capRTT := p.CapFor(t.Waited)
	gi := x.games[t.Game]
	if gi == nil {
		return p.finish(t, capRTT, false, false, nil, nil)
	}
	tooFar := false
	plans := make([]*regionPlan, 0, len(gi.regions))
	for region, ri := range gi.regions {
		rtt, ok := p.reach(t, region, capRTT, &tooFar)
		if !ok {
			continue
		}
		plans = append(plans, &regionPlan{id: region, rtt: rtt, free: ri.free, src: ri})
	}
	return p.finish(t, capRTT, true, tooFar, plans, func(r *regionPlan) { r.fill(x, p.Spread, p.MaxCandidates) })
}

// fill lists a data center's best hosts (pack: fewest free slots first; spread: most), at most
// k, in the order Policy.better gives.
func (r *regionPlan) fill(x *Index, spread bool, k int) {
	if r.src == nil || r.hosts != nil {
		return
	}
	n := len(r.src.frees)
	for j := range n {
		f := r.src.frees[j]
		if spread {
			f = r.src.frees[n-1-j]
		}
		for _, id := range r.src.buckets[f] {
			if k > 0 && len(r.hosts) == k {
				return
			}
			r.hosts = append(r.hosts, x.hosts[id])
		}
	}
}
