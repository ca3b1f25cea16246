package media

import (
	"slices"
	"testing"
	"time"
)

func TestLadder(t *testing.T) {
	tests := []struct {
		w, h int
		want []Rung
	}{
		{1280, 720, []Rung{{1280, 720}, {960, 540}, {640, 360}}},
		{1920, 1080, []Rung{{1920, 1080}, {1440, 810}, {960, 540}}},
		{320, 180, []Rung{{320, 180}, {240, 134}, {160, 90}}},
		{200, 120, []Rung{{200, 120}}}, // 150×90 and 100×60 are too small
	}
	for _, tt := range tests {
		if got := Ladder(tt.w, tt.h); !slices.Equal(got, tt.want) {
			t.Errorf("Ladder(%d, %d) = %v, want %v", tt.w, tt.h, got, tt.want)
		}
	}
}

// step is one Update call: at offset from the start, with an estimate, and what it should decide.
type step struct {
	at         time.Duration
	kbps       int // estimate, kbit/s
	wantRung   int
	wantKbps   int  // 0: don't check
	wantSet    bool // SetBitrate
	wantSwitch bool
}

func TestRateControllerCostlyChanges(t *testing.T) {
	c := NewRateController(RateConfig{FPS: 60}.CostlyChanges(), Ladder(1280, 720), 5000*1000)
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at      time.Duration
		kbps    int
		wantSet bool
	}{
		{0, 4000, true},                        // 4500 → 3600: −20 %
		{100 * time.Millisecond, 3420, false},  // 3078: −14.5 %
		{200 * time.Millisecond, 3300, true},   // 2970: −17.5 %
		{1 * time.Second, 4500, false},         // +36 %, but under 2 s since the last change
		{2300 * time.Millisecond, 4500, true},  // +36 % after 2 s
		{4500 * time.Millisecond, 4900, false}, // +9 %: too small
	}
	for i, s := range steps {
		if d := c.Update(t0.Add(s.at), s.kbps*1000); d.SetBitrate != s.wantSet {
			t.Fatalf("step %d (%v, %d kbit/s): %+v, want SetBitrate %v", i, s.at, s.kbps, d, s.wantSet)
		}
	}
}

func TestRateController(t *testing.T) {
	ladder := Ladder(1280, 720)
	// At 60 fps: 720p stays from 2211 kbit/s and is entered from 2764; 540p stays from 1244
	// and is entered from 1555.
	tests := []struct {
		name  string
		start int // kbit/s
		steps []step
	}{
		{"starts on the rung the start estimate keeps", 3000, []step{
			{0, 3000, 0, 2700, false, false},
		}},
		{"a low start begins lower", 1500, []step{
			{0, 1500, 1, 1350, false, false},
		}},
		{"tiny start: lowest rung, floored bit rate", 50, []step{
			{0, 50, 2, 150, false, false},
		}},
		{"small changes are ignored, big falls apply at once", 3000, []step{
			{0, 3000, 0, 2700, false, false},
			{10 * time.Millisecond, 3080, 0, 2700, false, false}, // +2.7 %
			{20 * time.Millisecond, 2800, 0, 2520, true, false},  // −6.7 %: at once
		}},
		{"rises wait 100 ms between changes", 3000, []step{
			{0, 3500, 0, 3150, true, false},
			{50 * time.Millisecond, 4000, 0, 3150, false, false},
			{150 * time.Millisecond, 4000, 0, 3600, true, false},
		}},
		{"a dip shorter than DownAfter keeps the rung", 3000, []step{
			{0, 2000, 0, 1800, true, false},
			{200 * time.Millisecond, 2000, 0, 1800, false, false},
			{250 * time.Millisecond, 3000, 0, 2700, true, false},
			{600 * time.Millisecond, 3000, 0, 2700, false, false},
		}},
		{"a sustained fall steps down, skipping rungs when needed", 3000, []step{
			{0, 1000, 0, 900, true, false},
			{300 * time.Millisecond, 1000, 2, 900, true, true}, // 900 < 540p's floor: straight to 360p
		}},
		{"a fall to between floors steps down one rung", 3000, []step{
			{0, 2000, 0, 1800, true, false},
			{300 * time.Millisecond, 2000, 1, 1800, true, true},
		}},
		{"climbs one rung after UpAfter above the next entry", 1000, []step{
			{0, 1000, 2, 900, false, false},
			{time.Second, 2000, 2, 1800, true, false}, // above 540p's entry (1555) from now
			{2900 * time.Millisecond, 2000, 2, 0, false, false},
			{3 * time.Second, 2000, 1, 1800, true, true},
			{3500 * time.Millisecond, 3500, 1, 3150, true, false}, // above 720p's entry (2764) from now
			{5 * time.Second, 3500, 1, 0, false, false},           // for 1.5 s only
			{5500 * time.Millisecond, 3500, 0, 3150, true, true},
		}},
		{"an entry broken by a dip starts over", 1000, []step{
			{0, 2000, 2, 1800, true, false},
			{time.Second, 1500, 2, 1350, true, false},
			{1100 * time.Millisecond, 2000, 2, 1800, true, false},
			{3 * time.Second, 2000, 2, 0, false, false},
			{3100 * time.Millisecond, 2000, 1, 1800, true, true},
		}},
		{"the ceiling bounds the bit rate", 3000, []step{
			{0, 20000, 0, 6000, true, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewRateController(RateConfig{FPS: 60}, ladder, tt.start*1000)
			t0 := time.Unix(1000, 0)
			for i, s := range tt.steps {
				d := c.Update(t0.Add(s.at), s.kbps*1000)
				if d.Rung != s.wantRung || d.SetBitrate != s.wantSet || d.Switch != s.wantSwitch ||
					(s.wantKbps != 0 && d.Kbps != s.wantKbps) {
					t.Fatalf("step %d (%v, %d kbit/s): got %+v, want rung %d kbps %d set %v switch %v",
						i, s.at, s.kbps, d, s.wantRung, s.wantKbps, s.wantSet, s.wantSwitch)
				}
				if c.Rung() != ladder[d.Rung] || (d.SetBitrate && c.Kbps() != d.Kbps) {
					t.Fatalf("step %d: controller state %v/%d disagrees with decision %+v", i, c.Rung(), c.Kbps(), d)
				}
			}
		})
	}
}
