package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestTURNFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"bad rate", []string{"turn", "-rates", "5,fast"}, `bad rate "fast"`},
		{"zero rate", []string{"turn", "-rates", "0"}, `bad rate "0"`},
		{"bad transport", []string{"turn", "-transports", "udp,tls"}, "bad -transports"},
		{"repeated transport", []string{"turn", "-transports", "udp,udp"}, "bad -transports"},
		{"bad direction", []string{"turn", "-directions", "sideways"}, "bad -directions"},
		{"zero seconds", []string{"turn", "-seconds", "0"}, "-seconds"},
		{"zero runs", []string{"turn", "-runs", "0"}, "-runs"},
		{"jumbo packets", []string{"turn", "-size", "9000"}, "-size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.wantErr)
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

func TestChannelData(t *testing.T) {
	tests := []struct {
		name    string
		payload int
		wantLen int
	}{
		{"multiple of four", 1200, 1204},
		{"padded", 5, 12},
		{"empty", 0, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := channelData(0x4001, bytes.Repeat([]byte{7}, tt.payload))
			if len(b) != tt.wantLen {
				t.Fatalf("%d bytes, want %d", len(b), tt.wantLen)
			}
			if b[0] != 0x40 || b[1] != 0x01 || int(b[2])<<8|int(b[3]) != tt.payload {
				t.Errorf("header % x, want channel 0x4001, length %d", b[:4], tt.payload)
			}
			if tt.payload > 0 && (b[4] != 7 || b[4+tt.payload-1] != 7) {
				t.Errorf("payload not copied: % x", b)
			}
		})
	}
}

func TestTURNCost(t *testing.T) {
	// at wall = 1 s, cpu in ms is ms/s
	f := func(cpuMS ...float64) []flowResult {
		var fs []flowResult
		for _, c := range cpuMS {
			fs = append(fs, flowResult{sent: 100, delivered: 99, cpu: time.Duration(c * float64(time.Millisecond)), wall: time.Second})
		}
		return fs
	}
	tests := []struct {
		name            string
		relayed, direct []flowResult
		wantDiff        float64
		wantSpread      float64 // NaN: unknown
		wantNoise       bool
	}{
		{"above the spread", f(150, 155), f(100, 104), 50, 5, false},
		{"within the spread", f(110, 140), f(100, 104), 10, 30, true},
		{"negative", f(95, 96), f(100, 100), -5, 1, true},
		{"one run", f(150), f(100), 50, math.NaN(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := turnRow{rate: 10, relayed: tt.relayed, direct: tt.direct}.cost(1200)
			if math.Abs(c.diff-tt.wantDiff) > 1e-9 {
				t.Errorf("difference %v ms/s, want %v", c.diff, tt.wantDiff)
			}
			if math.IsNaN(tt.wantSpread) != math.IsNaN(c.spread) || (!math.IsNaN(c.spread) && math.Abs(c.spread-tt.wantSpread) > 1e-9) {
				t.Errorf("spread %v ms/s, want %v", c.spread, tt.wantSpread)
			}
			if c.withinNoise() != tt.wantNoise {
				t.Errorf("withinNoise = %v, want %v", c.withinNoise(), tt.wantNoise)
			}
			// % of a core per Mbit/s = ms/s ÷ 10 ÷ rate; 10 Mbit/s of 1200-byte packets is 1041.67 packets/s.
			if want := tt.wantDiff / 100; math.Abs(c.pctPerMbit-want) > 1e-9 {
				t.Errorf("%% of a core per Mbit/s %v, want %v", c.pctPerMbit, want)
			}
			if want := tt.wantDiff * 1000 / (10e6 / 8 / 1200); math.Abs(c.usPerPacket-want) > 1e-9 {
				t.Errorf("µs per packet %v, want %v", c.usPerPacket, want)
			}
			if n := int64(len(tt.relayed)); c.sent != 100*n || c.delivered != 99*n {
				t.Errorf("packets %d/%d, want %d/%d", c.delivered, c.sent, 99*n, 100*n)
			}
		})
	}
}

func TestPace(t *testing.T) {
	var n int
	sent, err := pace(context.Background(), 50*time.Millisecond, 5*time.Millisecond, func() error { n++; return nil })
	if err != nil || sent != 10 || n != 10 {
		t.Errorf("pace = %d, %v with %d sends; want 10, nil, 10", sent, err, n)
	}

	boom := errors.New("boom")
	sent, err = pace(context.Background(), time.Second, time.Millisecond, func() error { return boom })
	if !errors.Is(err, boom) || sent != 0 {
		t.Errorf("pace with a failing send = %d, %v; want 0, boom", sent, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sent, err = pace(ctx, time.Hour, time.Second, func() error { return nil })
	if !errors.Is(err, context.Canceled) || sent != 1 {
		t.Errorf("pace after cancel = %d, %v; want 1, context.Canceled", sent, err)
	}
}

// A short run of every row: the relay delivers, the numbers are sane, the report has the rows,
// and every goroutine and socket is gone afterwards.
func TestTURNBench(t *testing.T) {
	g0 := runtime.NumGoroutine()
	o := turnOpts{
		rates: []float64{2}, dur: 500 * time.Millisecond, runs: 1, size: 1200,
		transports: []string{"udp", "tcp"}, directions: []string{"down", "up"},
	}
	rows, err := benchTURN(context.Background(), o, io.Discard)
	if err != nil {
		t.Fatalf("benchTURN: %v", err)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4 (2 directions × 2 transports)", len(rows))
	}
	wantSent := int64(o.dur / packetInterval(2, 1200)) // 104
	maxCPU := float64(runtime.NumCPU()) * 1000 * 1.2   // ms/s: all cores busy, and a margin for the rusage granularity
	for _, r := range rows {
		what := r.direction + " over " + r.transport
		if len(r.relayed) != 1 || len(r.direct) != 1 {
			t.Fatalf("%s: %d relayed and %d direct runs, want 1 each", what, len(r.relayed), len(r.direct))
		}
		for _, f := range append(r.relayed, r.direct...) {
			if f.sent != wantSent {
				t.Errorf("%s: sent %d, want %d", what, f.sent, wantSent)
			}
			if f.delivered > f.sent || f.delivered*2 < f.sent {
				t.Errorf("%s: %d of %d packets delivered", what, f.delivered, f.sent)
			}
			if f.wall < o.dur*9/10 {
				t.Errorf("%s: sent for %v, want about %v", what, f.wall, o.dur)
			}
			if c := f.cpuPerSec(); !(c > 0 && c <= maxCPU) {
				t.Errorf("%s: CPU %.1f ms/s, want between 0 and %.0f", what, c, maxCPU)
			}
		}
		if c := r.cost(o.size); math.IsNaN(c.pctPerMbit) || math.IsInf(c.pctPerMbit, 0) || math.IsInf(c.usPerPacket, 0) {
			t.Errorf("%s: cost %+v", what, c)
		}
	}

	var buf bytes.Buffer
	writeTURNReport(&buf, o, rows, "Machine: test.", "0.1 0.2 0.3", "0.4 0.5 0.6")
	out := buf.String()
	for _, want := range []string{
		"## TURN relay", "Machine: test.", "before: 0.1 0.2 0.3; after: 0.4 0.5 0.6",
		"| 2 | down | udp | ", "| 2 | down | tcp | ", "| 2 | up | udp | ", "| 2 | up | tcp | ",
		"- 2 Mbit/s down over udp: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > g0 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), g0, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
