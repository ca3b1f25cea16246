package matchmaker

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/edgeplay/edgeplay/protocol"
)

// FuzzParseHeartbeat: no heartbeat crashes the registry's parser, and one it accepts keeps the
// placement index consistent: decided on without a host listed twice, and gone without a
// trace once removed.
func FuzzParseHeartbeat(f *testing.F) {
	good, _ := json.Marshal(protocol.Heartbeat{
		Host: "h1", Region: "dxb-1", State: protocol.HostReady, Slots: 4, Used: 1, Reserved: 1,
		Games: []string{"demo", "chess"}, Titles: map[string]string{"chess": "Chess"}, Seq: 7,
	})
	f.Add(protocol.SubjectHeartbeat("h1"), good)
	f.Add(protocol.SubjectHeartbeat("h1"), []byte(`{"host":"h1","region":"r","state":"ready","slots":2,"used":5,"games":["demo","demo"]}`))
	f.Add(protocol.SubjectHeartbeat("h2"), good)
	f.Add("edgeplay.host.h1.heartbeat", []byte(`{"host":"h1","region":"r","slots":-1}`))
	f.Add("x", []byte(`not json`))
	f.Add(protocol.SubjectHeartbeat("h1"), []byte(`{"host":"h1","region":"r","games":["demo"],"titles":{"chess":"Chess","demo":"\n"}}`))
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		hb, ok := parseHeartbeat(subject, data)
		if !ok {
			return
		}
		if !protocol.ValidName(hb.Host) || !protocol.ValidName(hb.Region) || subject != protocol.SubjectHeartbeat(hb.Host) ||
			hb.Slots < 0 || hb.Slots > 4096 || hb.Used < 0 || hb.Reserved < 0 || len(hb.Games) > 256 {
			t.Fatalf("accepted %+v on %q", hb, subject)
		}
		for g, title := range hb.Titles {
			if !slices.Contains(hb.Games, g) || !protocol.ValidTitle(title) {
				t.Fatalf("accepted the title %q of %q in %+v", title, g, hb)
			}
		}
		x := NewIndex()
		v := HostView{
			ID: hb.Host, Region: hb.Region, State: hb.State, Slots: hb.Slots, Used: hb.Used,
			Reserved: hb.Reserved, Games: hb.Games,
		}
		x.Upsert(v)
		x.Upsert(v) // a repeated heartbeat replaces, never adds
		for _, g := range hb.Games {
			d := DefaultPolicy().DecideIndexed(x, Ticket{Session: "s", Game: g})
			if len(d.Candidates) > 1 {
				t.Fatalf("one host, %d candidates: %+v", len(d.Candidates), d.Candidates)
			}
			if len(d.Candidates) == 1 && (d.Candidates[0].Host != hb.Host || v.Free() == 0) {
				t.Fatalf("candidate %+v for %+v", d.Candidates[0], v)
			}
		}
		x.Remove(hb.Host)
		if x.Len() != 0 || len(x.games) != 0 {
			t.Fatalf("after Remove: %d hosts, games %v", x.Len(), slices.Collect(maps.Keys(x.games)))
		}
	})
}
