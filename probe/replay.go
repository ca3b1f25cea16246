package probe

import (
	"sync"
	"time"
)

// DefaultReplayCap is the most nonces a ReplayGuard holds unless Max says otherwise. At the
// default 30 s token lifetime that is about 35,000 joins per second.
const DefaultReplayCap = 1 << 20

// pruneEvery paces the removal of expired nonces.
const pruneEvery = time.Second

// ReplayGuard remembers the nonces of accepted tokens until they expire, so that each token is
// accepted once. Memory is bounded: expired nonces are dropped, and when Max unexpired nonces
// are held a new one is refused rather than stored. The zero value is ready to use; it is
// safe for concurrent use.
type ReplayGuard struct {
	// Max is the most nonces held; 0 means DefaultReplayCap. Set it before the first Seen.
	Max int

	mu sync.Mutex
	// seen maps nonce → expiry; guarded by mu.
	seen map[string]time.Time
	// bySecond lists the nonces expiring in each Unix second, so pruning touches only the
	// expired ones; guarded by mu.
	bySecond map[int64][]string
	// nextPrune is when expired nonces are next dropped; guarded by mu.
	nextPrune time.Time
}

// Seen records nonce, valid until exp, and reports whether it must be refused: true if it was
// seen before, if exp is not after now (an expired token is never accepted, so it is not
// stored), or if the guard is full.
func (g *ReplayGuard) Seen(nonce string, exp, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !now.Before(exp) {
		return true
	}
	if g.seen == nil {
		g.seen = make(map[string]time.Time)
		g.bySecond = make(map[int64][]string)
	}
	if _, ok := g.seen[nonce]; ok {
		return true
	}
	limit := g.Max
	if limit <= 0 {
		limit = DefaultReplayCap
	}
	if !now.Before(g.nextPrune) || len(g.seen) >= limit {
		g.pruneLocked(now)
	}
	if len(g.seen) >= limit {
		return true
	}
	g.seen[nonce] = exp
	sec := exp.Unix()
	g.bySecond[sec] = append(g.bySecond[sec], nonce)
	return false
}

// Len returns the number of nonces held.
func (g *ReplayGuard) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.seen)
}

// pruneLocked drops the nonces that have expired by now. Its cost is the number of distinct
// expiry seconds held plus the number of nonces dropped.
func (g *ReplayGuard) pruneLocked(now time.Time) {
	g.nextPrune = now.Add(pruneEvery)
	for sec, nonces := range g.bySecond {
		if sec > now.Unix() {
			continue // some of this second may be ahead of now: keep it whole
		}
		keep := nonces[:0]
		for _, n := range nonces {
			if now.Before(g.seen[n]) {
				keep = append(keep, n)
			} else {
				delete(g.seen, n)
			}
		}
		if len(keep) == 0 {
			delete(g.bySecond, sec)
		} else {
			g.bySecond[sec] = keep
		}
	}
}
