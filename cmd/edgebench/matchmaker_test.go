package main

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/protocol"
)

func TestReserveHostID(t *testing.T) {
	tests := []struct {
		name    string
		subject string
		want    string
		wantOK  bool
	}{
		{"reserve subject", protocol.SubjectReserve("h00042"), "h00042", true},
		{"heartbeat subject", protocol.SubjectHeartbeat("h00042"), "", false},
		{"other prefix", "edgeplay.mm.place", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := reserveHostID(tt.subject)
			if ok != tt.wantOK || (ok && got != tt.want) {
				t.Errorf("reserveHostID(%q) = %q, %v; want %q, %v", tt.subject, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestHeartbeatTemplate(t *testing.T) {
	f := newBenchFleet(1, 8, 1)
	hb := f.hosts[0].heartbeat()
	prefix, suffix, err := heartbeatTemplate(hb)
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{0, 7, 1 << 40} {
		b := append(append(append([]byte(nil), prefix...), strconv.FormatUint(seq, 10)...), suffix...)
		var got protocol.Heartbeat
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("seq %d: %v in %s", seq, err, b)
		}
		want := hb
		want.Seq = seq
		if got.Seq != seq || got.Host != want.Host || got.Region != want.Region || got.Slots != want.Slots ||
			got.Used != want.Used || !got.Time.Equal(want.Time) {
			t.Errorf("seq %d: got %+v, want %+v", seq, got, want)
		}
	}
}

func TestBenchFleet(t *testing.T) {
	f := newBenchFleet(200, 8, 20)
	perRegion := map[string]int{}
	usedSeen := map[int]bool{}
	for _, v := range f.views() {
		if v.Free() < 1 {
			t.Errorf("host %s has no room: %+v", v.ID, v)
		}
		perRegion[v.Region]++
		usedSeen[v.Used] = true
	}
	if len(perRegion) != 20 {
		t.Errorf("hosts in %d regions, want 20", len(perRegion))
	}
	for r, n := range perRegion {
		if n != 10 {
			t.Errorf("region %s has %d hosts, want 10", r, n)
		}
	}
	if len(usedSeen) != 8 {
		t.Errorf("used slots take %d values, want 8 (0-7)", len(usedSeen))
	}
}

func TestRandomClaims(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	regions := []string{"a", "b", "c", "d"}
	for range 100 {
		claims := randomClaims(rng, regions, 3)
		seen := map[string]bool{}
		for _, c := range claims {
			if seen[c.Region] || c.RTTMillis < 2 || c.RTTMillis > 38 || c.Token != "" {
				t.Fatalf("bad claims %+v", claims)
			}
			seen[c.Region] = true
		}
		if len(claims) != 3 {
			t.Fatalf("%d claims, want 3", len(claims))
		}
	}
	if got := randomClaims(rng, regions[:2], 3); len(got) != 2 {
		t.Errorf("with 2 regions: %d claims, want 2", len(got))
	}
}

// The end-to-end benchmarks, tiny: every request is placed and every reservation granted; every
// heartbeat is applied. They assert behaviour, not speed.
func TestPlacementE2ESmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NATS")
	}
	f := newBenchFleet(40, 4, 5)
	res, err := benchPlacementE2E(t.Context(), f, placementOpts{
		hosts: 40, slots: 4, regions: 5, concurrency: 4,
		duration: 300 * time.Millisecond, beat: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.placed == 0 || res.placed != res.requests || int64(res.placed) != res.granted || len(res.errs) != 0 {
		t.Errorf("requests %d, placed %d, granted %d, errors %v", res.requests, res.placed, res.granted, res.errs)
	}
	if res.eventsPlaced != uint64(res.placed) || res.eventsDropped != 0 {
		t.Errorf("%d placed events stored for %d placements, %d dropped", res.eventsPlaced, res.placed, res.eventsDropped)
	}
}

// The per-host memory measurement runs on a follower replica (memoryPerHost fails if the
// replica took the lease), so it measures the registry and not the leader's events.
func TestMemoryPerHostSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NATS")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	res, err := memoryPerHost(ctx, 200)
	if err != nil {
		t.Fatal(err)
	}
	if res.heartbeatBytes == 0 {
		t.Error("no heartbeat size")
	}
}

func TestHeartbeatsSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NATS")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	res, err := benchHeartbeats(ctx, 50, 2, 1000, 300*time.Millisecond, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !res.caughtUp || res.dropped != 0 || res.sent == 0 || res.behind != 0 {
		t.Errorf("caught up %v, sent %d, dropped %d, behind %d", res.caughtUp, res.sent, res.dropped, res.behind)
	}
}
