package matchmaker

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/protocol"
)

func randomHost(r *rand.Rand, id string) HostView {
	states := []string{protocol.HostReady, protocol.HostReady, protocol.HostReady, protocol.HostDraining}
	games := [][]string{{"demo"}, {"demo", "chess"}, {"chess"}}
	slots := 1 + r.IntN(8)
	used := r.IntN(slots + 1)
	return HostView{
		ID: id, Region: fmt.Sprintf("dc-%d", r.IntN(5)), State: states[r.IntN(len(states))],
		Suspect: r.IntN(10) == 0, Slots: slots, Used: used, Reserved: r.IntN(slots - used + 1),
		Games: games[r.IntN(len(games))],
	}
}

// TestIndexMatchesDecide: over random registries, updates and tickets, the indexed decision is
// exactly the scanning one.
func TestIndexMatchesDecide(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		x := NewIndex()
		hosts := map[string]HostView{}
		for i := range 1 + r.IntN(60) {
			h := randomHost(r, fmt.Sprintf("h%02d", i))
			hosts[h.ID] = h
			x.Upsert(h)
		}
		// Churn: heartbeats change hosts, some leave, some turn suspect.
		for range r.IntN(40) {
			id := fmt.Sprintf("h%02d", r.IntN(60))
			switch r.IntN(3) {
			case 0:
				h := randomHost(r, id)
				hosts[id] = h
				x.Upsert(h)
			case 1:
				delete(hosts, id)
				x.Remove(id)
			case 2:
				if h, ok := hosts[id]; ok {
					h.Suspect = !h.Suspect
					hosts[id] = h
					x.SetSuspect(id, h.Suspect)
				}
			}
		}
		var list []HostView
		for _, h := range hosts {
			list = append(list, h)
		}
		for _, p := range []Policy{DefaultPolicy(), func() Policy { p := DefaultPolicy(); p.Spread = true; return p }()} {
			for range 10 {
				tk := Ticket{Game: []string{"demo", "chess", "go"}[r.IntN(3)], Waited: time.Duration(r.IntN(30)) * time.Second}
				if r.IntN(4) > 0 {
					tk.RTT = map[string]time.Duration{}
					for dc := range 5 {
						if r.IntN(3) > 0 {
							tk.RTT[fmt.Sprintf("dc-%d", dc)] = time.Duration(r.IntN(130)) * time.Millisecond
						}
					}
				}
				want, got := p.Decide(list, tk), p.DecideIndexed(x, tk)
				if !reflect.DeepEqual(want, got) {
					t.Fatalf("round %d, spread %v, ticket %+v:\nscan  %+v\nindex %+v", round, p.Spread, tk, want, got)
				}
			}
		}
	}
}

func BenchmarkPolicyDecideIndexed(b *testing.B) {
	x := NewIndex()
	rtt := map[string]time.Duration{}
	for reg := range 20 {
		region := fmt.Sprintf("dc-%02d", reg)
		rtt[region] = ms(5 + 3*reg)
		for i := range 500 {
			x.Upsert(host(fmt.Sprintf("%s-%03d", region, i), region, 8, i%9))
		}
	}
	p := DefaultPolicy()
	t := Ticket{Game: "demo", RTT: rtt}
	b.ReportAllocs()
	for b.Loop() {
		if d := p.DecideIndexed(x, t); len(d.Candidates) == 0 {
			b.Fatal("no candidates")
		}
	}
}
