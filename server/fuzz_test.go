package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/protocol"
)

// FuzzParseEventsQuery: no query string crashes the events API's parser; a rejected one is a
// bad_field error, and an accepted one stays in bounds and cannot widen the subject filter
// with NATS wildcards.
func FuzzParseEventsQuery(f *testing.F) {
	for _, s := range []string{
		"", "follow=1&type=placed,ended&limit=2", "since=15m", "since=2026-11-25T20:00:00Z",
		"type=host.lost", "limit=-1", "limit=10001", "type=", "%zz", "type=*", "type=>", "type=a..b",
		"follow=1&follow=0", "nope=1", "type=" + strings.Repeat("a,", 20) + "a",
	} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		r := &http.Request{URL: &url.URL{RawQuery: raw}}
		eq, err := parseEventsQuery(r, now)
		if err != nil {
			if protocol.CodeOf(err) != protocol.CodeBadField {
				t.Fatalf("%q: %v, want bad_field", raw, err)
			}
			return
		}
		if eq.limit < 0 || eq.limit > eventsMaxLimit || len(eq.subjects) > eventsMaxKinds {
			t.Fatalf("%q: limit %d, %d types", raw, eq.limit, len(eq.subjects))
		}
		for _, s := range eq.subjects {
			kind, ok := strings.CutPrefix(s, "edgeplay.events.")
			if !ok || !validEventKind(kind) || strings.ContainsAny(s, "*> \t\r\n") {
				t.Fatalf("%q: subject %q", raw, s)
			}
		}
	})
}
