package matchmaker

import (
	"strings"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/protocol"
)

func host(id, region string, slots, used int) HostView {
	return HostView{ID: id, Region: region, State: protocol.HostReady, Slots: slots, Used: used, Games: []string{"demo"}}
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestPolicyDecide(t *testing.T) {
	draining := host("d1", "dxb-1", 4, 0)
	draining.State = protocol.HostDraining
	suspect := host("s1", "dxb-1", 4, 0)
	suspect.Suspect = true
	otherGame := host("o1", "dxb-1", 4, 0)
	otherGame.Games = []string{"chess"}
	reserved := host("p1", "dxb-1", 2, 1)
	reserved.Reserved = 1

	tests := []struct {
		name     string
		policy   func(*Policy)
		hosts    []HostView
		ticket   Ticket
		want     []string // host ids in order
		wantCode protocol.Code
		reason   string // substring of the decision's reason
	}{
		{
			name:   "nearest data center wins",
			hosts:  []HostView{host("a1", "dxb-2", 4, 0), host("b1", "dxb-1", 4, 0)},
			ticket: Ticket{Game: "demo", RTT: map[string]time.Duration{"dxb-1": ms(8), "dxb-2": ms(30)}},
			want:   []string{"b1", "a1"}, reason: "dxb-1: rtt 8ms ≤ cap 40ms, nearest data center",
		},
		{
			name:   "beyond the cap is dropped",
			hosts:  []HostView{host("a1", "dxb-2", 4, 0), host("b1", "dxb-1", 4, 0)},
			ticket: Ticket{Game: "demo", RTT: map[string]time.Duration{"dxb-1": ms(8), "dxb-2": ms(60)}},
			want:   []string{"b1"},
		},
		{
			name:   "cap relaxes to 80 ms after 10 s",
			hosts:  []HostView{host("a1", "dxb-2", 4, 0)},
			ticket: Ticket{Game: "demo", RTT: map[string]time.Duration{"dxb-2": ms(60)}, Waited: 10 * time.Second},
			want:   []string{"a1"}, reason: "cap 80ms",
		},
		{
			name:   "cap relaxes to 120 ms after 20 s",
			hosts:  []HostView{host("a1", "dxb-2", 4, 0)},
			ticket: Ticket{Game: "demo", RTT: map[string]time.Duration{"dxb-2": ms(110)}, Waited: 25 * time.Second},
			want:   []string{"a1"},
		},
		{
			name:     "only far data centers free: no_free_host with the cap in the reason",
			hosts:    []HostView{host("a1", "dxb-2", 4, 0), host("b1", "dxb-1", 4, 4)},
			ticket:   Ticket{Game: "demo", RTT: map[string]time.Duration{"dxb-1": ms(8), "dxb-2": ms(60)}},
			wantCode: protocol.CodeNoFreeHost, reason: "beyond the 40ms RTT cap",
		},
		{
			name:   "within 5 ms: more free capacity first",
			hosts:  []HostView{host("a1", "dxb-1", 4, 3), host("b1", "dxb-2", 4, 0)},
			ticket: Ticket{Game: "demo", RTT: map[string]time.Duration{"dxb-1": ms(8), "dxb-2": ms(12)}},
			want:   []string{"b1", "a1"}, reason: "within 5ms of another; most free slots",
		},
		{
			name:   "more than 5 ms apart: RTT decides",
			hosts:  []HostView{host("a1", "dxb-1", 4, 3), host("b1", "dxb-2", 4, 0)},
			ticket: Ticket{Game: "demo", RTT: map[string]time.Duration{"dxb-1": ms(8), "dxb-2": ms(14)}},
			want:   []string{"a1", "b1"},
		},
		{
			name:   "pack: fullest host with room first",
			hosts:  []HostView{host("h1", "dxb-1", 4, 0), host("h2", "dxb-1", 4, 3), host("h3", "dxb-1", 4, 1)},
			ticket: Ticket{Game: "demo", RTT: map[string]time.Duration{"dxb-1": ms(8)}},
			want:   []string{"h2", "h3", "h1"}, reason: "pack",
		},
		{
			name:   "spread: emptiest host first",
			policy: func(p *Policy) { p.Spread = true },
			hosts:  []HostView{host("h1", "dxb-1", 4, 0), host("h2", "dxb-1", 4, 3), host("h3", "dxb-1", 4, 1)},
			ticket: Ticket{Game: "demo", RTT: map[string]time.Duration{"dxb-1": ms(8)}},
			want:   []string{"h1", "h3", "h2"}, reason: "spread",
		},
		{
			name:   "draining, suspect, full, reserved-full and other-game hosts are skipped",
			hosts:  []HostView{draining, suspect, otherGame, reserved, host("f1", "dxb-1", 2, 2), host("ok", "dxb-1", 4, 0)},
			ticket: Ticket{Game: "demo", RTT: map[string]time.Duration{"dxb-1": ms(8)}},
			want:   []string{"ok"},
		},
		{
			name:   "unmeasured data centers are never chosen",
			hosts:  []HostView{host("a1", "dxb-3", 4, 0), host("b1", "dxb-1", 4, 0)},
			ticket: Ticket{Game: "demo", RTT: map[string]time.Duration{"dxb-1": ms(30)}},
			want:   []string{"b1"},
		},
		{
			name:   "no RTTs at all: every data center counts, most free first",
			hosts:  []HostView{host("a1", "dxb-1", 4, 3), host("b1", "dxb-2", 4, 0)},
			ticket: Ticket{Game: "demo"},
			want:   []string{"b1", "a1"}, reason: "no RTT measured",
		},
		{
			name:     "unknown game",
			hosts:    []HostView{host("a1", "dxb-1", 4, 0)},
			ticket:   Ticket{Game: "chess", RTT: map[string]time.Duration{"dxb-1": ms(8)}},
			wantCode: protocol.CodeUnknownGame,
		},
		{
			name:     "everything full",
			hosts:    []HostView{host("a1", "dxb-1", 4, 4), draining},
			ticket:   Ticket{Game: "demo", RTT: map[string]time.Duration{"dxb-1": ms(8)}},
			wantCode: protocol.CodeNoFreeHost, reason: "full, draining or not answering",
		},
		{
			name:     "no hosts",
			ticket:   Ticket{Game: "demo"},
			wantCode: protocol.CodeUnknownGame,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultPolicy()
			if tt.policy != nil {
				tt.policy(&p)
			}
			d := p.Decide(tt.hosts, tt.ticket)
			var got []string
			for _, c := range d.Candidates {
				got = append(got, c.Host)
				if c.Reason == "" {
					t.Errorf("candidate %s has no reason", c.Host)
				}
			}
			if tt.wantCode != "" {
				if d.Code != tt.wantCode || len(got) != 0 {
					t.Fatalf("got %v code %q, want code %q", got, d.Code, tt.wantCode)
				}
			} else if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("order %v, want %v (reason %q)", got, tt.want, d.Reason)
			}
			if !strings.Contains(d.Reason, tt.reason) {
				t.Fatalf("reason %q lacks %q", d.Reason, tt.reason)
			}
		})
	}
}

func BenchmarkPolicyDecide(b *testing.B) {
	// 10,000 hosts × 8 slots across 20 data centers, half full.
	var hosts []HostView
	rtt := map[string]time.Duration{}
	for r := range 20 {
		region := "dc-" + string(rune('a'+r))
		rtt[region] = ms(5 + 3*r)
		for i := range 500 {
			hosts = append(hosts, host(region+"-"+string(rune('a'+i%26))+string(rune('a'+i/26)), region, 8, i%9))
		}
	}
	p := DefaultPolicy()
	t := Ticket{Game: "demo", RTT: rtt}
	b.ReportAllocs()
	for b.Loop() {
		if d := p.Decide(hosts, t); len(d.Candidates) == 0 {
			b.Fatal("no candidates")
		}
	}
}
