package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/input"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestParseSizes(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []size
		wantErr bool
	}{
		{"one", "1280x720", []size{{1280, 720}}, false},
		{"two with spaces", "1280x720, 1920x1080", []size{{1280, 720}, {1920, 1080}}, false},
		{"no x", "1280", nil, true},
		{"not a number", "axb", nil, true},
		{"zero", "0x720", nil, true},
		{"empty", "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSizes(tt.in)
			if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
				t.Errorf("parseSizes(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"p50 of 100", d, 50, 50 * time.Millisecond},
		{"p99 of 100", d, 99, 99 * time.Millisecond},
		{"p100 of 100", d, 100, 100 * time.Millisecond},
		{"p99 of 3", d[:3], 99, 3 * time.Millisecond},
		{"empty", nil, 50, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(p%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestBenchLine(t *testing.T) {
	m := benchLine.FindStringSubmatch("[libx264 @ 0x1] kb/s:6000\nbench: utime=2.214s stime=0.160s rtime=2.876s\nbench: maxrss=1kB\n")
	if m == nil || seconds(m[1]) != 2214*time.Millisecond || seconds(m[2]) != 160*time.Millisecond || seconds(m[3]) != 2876*time.Millisecond {
		t.Errorf("benchLine match = %q", m)
	}
}

// The script must press keys and buttons (so the demo's picture changes) and number its
// events 1, 2, 3, … like a client does.
func TestInputScript(t *testing.T) {
	var s inputScript
	var seqs []uint32
	types := map[input.Type]int{}
	for frame := range 120 {
		for _, ev := range s.events(frame) {
			seqs = append(seqs, ev.Seq)
			types[ev.Type]++
		}
	}
	for i, seq := range seqs {
		if seq != uint32(i+1) {
			t.Fatalf("event %d has seq %d, want %d", i, seq, i+1)
		}
	}
	for _, typ := range []input.Type{input.KeyDown, input.KeyUp, input.MouseMove, input.MouseButton} {
		if types[typ] == 0 {
			t.Errorf("no %v events in 120 frames", typ)
		}
	}
}

func TestReportGolden(t *testing.T) {
	ms := time.Millisecond
	durs := make([]time.Duration, 100)
	for i := range durs {
		durs[i] = 3*ms + time.Duration(i)*50*time.Microsecond
	}
	results := []*encoderResult{
		{
			size: size{1280, 720}, requested: 100, frames: 100, backend: "libx264", threads: 2, kbps: 6000,
			durs: durs, total: 560 * ms, convert: 50 * ms, encode: 500 * ms, cpu: 900 * ms, bytes: 1_000_000,
			ffmpeg: []ffmpegResult{
				{variant: "as specified", wall: time.Second, rtime: 900 * ms, cpu: 1500 * ms},
				{variant: "same settings", err: errors.New("exit status 1: boom")},
			},
		},
		{
			size: size{1920, 1080}, requested: 100, frames: 50, backend: "libx264", threads: 2, kbps: 10000,
			durs: durs[:50], total: 500 * ms, convert: 50 * ms, encode: 440 * ms, cpu: 800 * ms, bytes: 2_000_000,
		},
	}
	m := machine{
		cpu: "Test CPU", cores: 2, goVersion: "go1.26 linux/amd64", libs: "libavcodec 59.37.100",
		ffmpeg: "ffmpeg version 5.1", loadBefore: "0.10 0.20 0.30", loadAfter: "1.00 0.50 0.40",
	}
	var buf bytes.Buffer
	writeEncoderReport(&buf, m, 60, results)
	golden := filepath.Join("testdata", "encoder_report.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got := buf.String(); got != string(want) {
		t.Errorf("report differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
}

func TestRunDispatch(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantErr    string // "" for no error
		wantStdout string
		wantStderr string
	}{
		{"no command", nil, flag.ErrHelp.Error(), "", "Usage:"},
		{"help", []string{"help"}, "", "edgebench encoder", ""},
		{"unknown", []string{"no-such-command"}, flag.ErrHelp.Error(), "", `unknown command "no-such-command"`},
		{"bad size", []string{"encoder", "-sizes", "big"}, `bad size "big"`, "", ""},
		{"bad frames", []string{"encoder", "-frames", "0"}, "must be positive", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("run = %v, want no error", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("run = %v, want an error containing %q", err, tt.wantErr)
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) || !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stdout %q, stderr %q; want them to contain %q and %q", stdout.String(), stderr.String(), tt.wantStdout, tt.wantStderr)
			}
		})
	}
}

// A short end-to-end run: two sizes, a few frames, no ffmpeg.
func TestEncoderCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"encoder", "-frames", "5", "-sizes", "320x240,640x360", "-ffmpeg", ""}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"| 320x240 | 5 |", "| 640x360 | 5 |", "ffmpeg: not run"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
