package server

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/protocol"
)

func TestParseUsageQuery(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		query  string
		studio bool
		ok     bool
		since  time.Time
		by     string
	}{
		{"", true, true, now.Add(-24 * time.Hour), "session"},
		{"since=720h&by=game", true, true, now.Add(-720 * time.Hour), "game"},
		{"since=2026-11-01T00:00:00Z&by=day&studio=st-abc", true, true, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), "day"},
		{"studio=_", true, true, now.Add(-24 * time.Hour), "session"},
		{"studio=st-abc", false, false, time.Time{}, ""}, // the studio endpoint takes no studio
		{"since=-1h", true, false, time.Time{}, ""},
		{"since=10000h", true, false, time.Time{}, ""},
		{"since=2030-01-01T00:00:00Z", true, false, time.Time{}, ""},
		{"by=week", true, false, time.Time{}, ""},
		{"limit=0", true, false, time.Time{}, ""},
		{"limit=100001", true, false, time.Time{}, ""},
		{"studio=Bad*", true, false, time.Time{}, ""},
		{"typo=1", true, false, time.Time{}, ""},
	} {
		q, err := parseUsageQuery(httptest.NewRequest("GET", "/v1/admin/usage?"+tc.query, nil), now, tc.studio)
		if tc.ok != (err == nil) {
			t.Errorf("%q: %v, want ok %v", tc.query, err, tc.ok)
			continue
		}
		if err != nil {
			if protocol.CodeOf(err) != protocol.CodeBadField {
				t.Errorf("%q: %v, want bad_field", tc.query, err)
			}
			continue
		}
		if !q.since.Equal(tc.since) || q.by != tc.by {
			t.Errorf("%q: since %v by %q", tc.query, q.since, q.by)
		}
	}
}

func TestSummarize(t *testing.T) {
	day1 := time.Date(2026, 11, 28, 23, 0, 0, 0, time.UTC)
	day2 := day1.Add(2 * time.Hour)
	sessions := map[string]usageSession{
		"a": {UsageRecord: protocol.UsageRecord{Session: "a", Studio: "st-1", Player: "p1", Game: "paddle", Region: "r1", Start: day1, Seconds: 10.25}},
		"b": {UsageRecord: protocol.UsageRecord{Session: "b", Studio: "st-1", Player: "p1", Game: "demo", Region: "r2", Start: day2, Seconds: 5}, Open: true},
		"c": {UsageRecord: protocol.UsageRecord{Session: "c", Game: "demo", Region: "r1", Start: day2, Seconds: 1}},
	}
	for by, want := range map[string][]usageGroup{
		"game":   {{"demo", 2, 6}, {"paddle", 1, 10.25}},
		"day":    {{"2026-11-28", 1, 10.25}, {"2026-11-29", 2, 6}},
		"region": {{"r1", 2, 11.25}, {"r2", 1, 5}},
		"studio": {{"_", 1, 1}, {"st-1", 2, 15.25}},
		"player": {{"_/-", 1, 1}, {"st-1/p1", 2, 15.25}},
	} {
		a := summarize(usageQuery{by: by, limit: 10}, sessions)
		if a.Sessions != 3 || a.Seconds != 16.25 || len(a.Groups) != len(want) {
			t.Errorf("by %s: %+v", by, a)
			continue
		}
		for i, g := range a.Groups {
			if g != want[i] {
				t.Errorf("by %s: group %d %+v, want %+v", by, i, g, want[i])
			}
		}
	}
	a := summarize(usageQuery{by: "session", limit: 2}, sessions)
	if len(a.List) != 2 || !a.Truncated || a.List[0].Session != "b" || a.List[1].Session != "c" || a.Sessions != 3 {
		t.Errorf("by session, limit 2: %+v", a)
	}
}
