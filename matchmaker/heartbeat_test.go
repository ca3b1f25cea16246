package matchmaker

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/edgeplay/edgeplay/protocol"
)

// TestParseHeartbeatTitles: a heartbeat may name its games for players; a title for a game the
// host does not offer, or one unfit to show, drops the whole heartbeat.
func TestParseHeartbeatTitles(t *testing.T) {
	tests := []struct {
		name   string
		titles map[string]string
		ok     bool
	}{
		{"none", nil, true},
		{"one", map[string]string{"paddle": "Paddle"}, true},
		{"every game", map[string]string{"demo": "Demo", "paddle": "Paddle — 2 players"}, true},
		{"a game not offered", map[string]string{"chess": "Chess"}, false},
		{"empty", map[string]string{"paddle": ""}, false},
		{"control character", map[string]string{"paddle": "Pad\ndle"}, false},
		{"too long", map[string]string{"paddle": strings.Repeat("P", protocol.MaxTitleSize+1)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(protocol.Heartbeat{
				Host: "h1", Region: "dxb-1", State: protocol.HostReady, Slots: 2,
				Games: []string{"demo", "paddle"}, Titles: tt.titles, Seq: 1,
			})
			if err != nil {
				t.Fatal(err)
			}
			hb, ok := parseHeartbeat(protocol.SubjectHeartbeat("h1"), b)
			if ok != tt.ok {
				t.Fatalf("accepted %v, want %v", ok, tt.ok)
			}
			if ok && len(hb.Titles) != len(tt.titles) {
				t.Fatalf("titles %v, want %v", hb.Titles, tt.titles)
			}
		})
	}
}
