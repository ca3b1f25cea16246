package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/edgeplay/edgeplay/encoder"
	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/game/demo"
	"github.com/edgeplay/edgeplay/input"
)

var encoderCommand = command{
	name:    "encoder",
	summary: "H.264 encoding of demo-game frames, against ffmpeg",
	run:     runEncoder,
}

// size is a frame size from -sizes.
type size struct{ w, h int }

func (s size) String() string { return fmt.Sprintf("%dx%d", s.w, s.h) }

// parseSizes parses "1280x720,1920x1080".
func parseSizes(v string) ([]size, error) {
	var sizes []size
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		ws, hs, ok := strings.Cut(f, "x")
		w, werr := strconv.Atoi(ws)
		h, herr := strconv.Atoi(hs)
		if !ok || werr != nil || herr != nil || w <= 0 || h <= 0 {
			return nil, fmt.Errorf("bad size %q: want WIDTHxHEIGHT", f)
		}
		sizes = append(sizes, size{w, h})
	}
	return sizes, nil
}

// encoderResult is what one size measured.
type encoderResult struct {
	size      size
	requested int // frames asked for with -frames
	frames    int // frames pre-rendered and encoded (fewer than requested above -max-mem)
	backend   string
	threads   int
	kbps      int     // the configured bit rate, also given to ffmpeg
	vbvFrames float64 // the rate-control buffer in frames, also given to ffmpeg

	// Our encoder: one duration per Encode call, conversion included.
	durs    []time.Duration
	total   time.Duration // wall clock of the whole encoding loop
	convert time.Duration // sum of Packet.ConvertDur
	encode  time.Duration // sum of Packet.EncodeDur
	cpu     time.Duration // user + system CPU time of this process during the loop
	bytes   int64

	ffmpeg []ffmpegResult // one per variant; empty with -ffmpeg ""
}

// ffmpegResult is one ffmpeg run over the same frames.
type ffmpegResult struct {
	variant    string
	wall       time.Duration // from start to exit
	rtime, cpu time.Duration // wall and user + system time from its -benchmark line; 0 if missing
	err        error
}

// ffmpegVariant is a way of running ffmpeg; args gets the size, frame rate and bit rate.
type ffmpegVariant struct {
	name string
	args func(r *encoderResult, fps int) []string
}

var ffmpegVariants = []ffmpegVariant{
	{
		// The command in the task, except -loglevel: at "error" ffmpeg hides its own
		// -benchmark line. Given RGBA, ffmpeg picks yuv444p (High 4:4:4 profile) for libx264.
		name: "as specified",
		args: func(r *encoderResult, fps int) []string {
			return []string{
				"-hide_banner", "-loglevel", "info", "-nostats", "-benchmark",
				"-f", "rawvideo", "-pix_fmt", "rgba", "-s", r.size.String(), "-r", strconv.Itoa(fps), "-i", "-",
				"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-b:v", fmt.Sprintf("%dk", r.kbps),
				"-f", "null", "-",
			}
		},
	},
	{
		// The same output as ours: 4:2:0, constrained baseline, CBR with our VBV (three frames), one
		// IDR only. ffmpeg still converts with swscale (bicubic, its default).
		name: "same settings",
		args: func(r *encoderResult, fps int) []string {
			level := "3.2"
			if r.size.w*r.size.h > 1280*720 {
				level = "4.2"
			}
			vbv := max(int(float64(r.kbps)*r.vbvFrames/float64(fps)), 10)
			return []string{
				"-hide_banner", "-loglevel", "info", "-nostats", "-benchmark",
				"-f", "rawvideo", "-pix_fmt", "rgba", "-s", r.size.String(), "-r", strconv.Itoa(fps), "-i", "-",
				"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
				"-profile:v", "baseline", "-level", level, "-b:v", fmt.Sprintf("%dk", r.kbps),
				"-maxrate", fmt.Sprintf("%dk", r.kbps), "-bufsize", fmt.Sprintf("%dk", vbv),
				"-threads", strconv.Itoa(r.threads), "-x264-params", "keyint=infinite:scenecut=0",
				"-f", "null", "-",
			}
		},
	},
}

func runEncoder(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edgebench encoder", flag.ContinueOnError)
	fs.SetOutput(stderr)
	frames := fs.Int("frames", 300, "frames to encode per size")
	sizesFlag := fs.String("sizes", "1280x720,1920x1080", "frame sizes, comma-separated")
	fps := fs.Int("fps", 60, "frame rate: the game's step, the encoder's rate control and ffmpeg's -r")
	maxMiB := fs.Int("max-mem", 4096, "MiB of pre-rendered frames per size; a size that needs more gets fewer frames")
	ffmpegPath := fs.String("ffmpeg", "ffmpeg", "ffmpeg binary to compare against; empty skips the comparison")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sizes, err := parseSizes(*sizesFlag)
	if err != nil {
		return err
	}
	if *frames < 1 || *fps < 1 || *maxMiB < 1 {
		return errors.New("-frames, -fps and -max-mem must be positive")
	}

	env := describeMachine(ctx, *ffmpegPath)
	var results []*encoderResult
	for _, s := range sizes {
		n := min(*frames, max(1, *maxMiB<<20/(4*s.w*s.h)))
		fmt.Fprintf(stderr, "%s: rendering %d frames\n", s, n)
		pics, err := renderFrames(s, n, *fps)
		if err != nil {
			return err
		}
		r := &encoderResult{size: s, requested: *frames, frames: n}
		fmt.Fprintf(stderr, "%s: encoding with our encoder\n", s)
		if err := encodeOurs(ctx, r, pics, *fps); err != nil {
			return err
		}
		if *ffmpegPath != "" {
			for _, v := range ffmpegVariants {
				fmt.Fprintf(stderr, "%s: encoding with ffmpeg (%s)\n", s, v.name)
				r.ffmpeg = append(r.ffmpeg, runFFmpeg(ctx, *ffmpegPath, v.name, v.args(r, *fps), pics))
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
		results = append(results, r)
		for _, f := range pics {
			f.Release()
		}
	}
	env.loadAfter = loadAverage()
	writeEncoderReport(stdout, env, *fps, results)
	return nil
}

// renderFrames drives the demo game through n frames of scripted input and keeps every frame.
func renderFrames(s size, n, fps int) ([]*game.Frame, error) {
	g, err := demo.New(game.Config{Width: s.w, Height: s.h, FPS: fps})
	if err != nil {
		return nil, err
	}
	pool := game.NewFramePool(s.w, s.h)
	dt := time.Second / time.Duration(fps)
	var script inputScript
	frames := make([]*game.Frame, n)
	for i := range frames {
		for _, ev := range script.events(i) {
			// The demo applies queued input only inside Run; when a benchmark drives it with
			// Step and Render, this is the way in.
			g.ApplyForTest(ev)
		}
		g.Step(dt)
		f := pool.Get()
		g.Render(f)
		f.Seq = uint64(i + 1)
		frames[i] = f
	}
	return frames, nil
}

// inputScript plays a player: it moves around the arena in a square, sweeps the crosshair in
// a circle, fires in bursts and now and then fires a spread, so that most of the picture moves.
type inputScript struct {
	seq uint32
	buf []input.Event
}

func (s *inputScript) events(frame int) []input.Event {
	s.buf = s.buf[:0]
	add := func(ev input.Event) {
		s.seq++
		ev.Seq = s.seq
		s.buf = append(s.buf, ev)
	}
	moves := []uint16{input.KeyD, input.KeyS, input.KeyA, input.KeyW}
	if frame%45 == 0 {
		k := frame / 45
		if k > 0 {
			add(input.Event{Type: input.KeyUp, Code: moves[(k-1)%len(moves)]})
		}
		add(input.Event{Type: input.KeyDown, Code: moves[k%len(moves)]})
	}
	a := 2 * math.Pi * float64(frame) / 120
	add(input.Event{
		Type: input.MouseMove,
		X:    uint16(32768 + 24000*math.Cos(a)),
		Y:    uint16(32768 + 24000*math.Sin(a)),
		DX:   int16(-10 * math.Sin(a)),
		DY:   int16(10 * math.Cos(a)),
	})
	switch frame % 20 {
	case 0:
		add(input.Event{Type: input.MouseButton, Button: input.ButtonLeft, Down: true})
	case 10:
		add(input.Event{Type: input.MouseButton, Button: input.ButtonLeft, Down: false})
	}
	if frame%90 == 45 {
		add(input.Event{Type: input.MouseButton, Button: input.ButtonRight, Down: true})
		add(input.Event{Type: input.MouseButton, Button: input.ButtonRight, Down: false})
	}
	return s.buf
}

// encodeOurs encodes every frame with the default settings, back to back, timing each call.
func encodeOurs(ctx context.Context, r *encoderResult, frames []*game.Frame, fps int) error {
	enc, err := encoder.New(encoder.Config{Width: r.size.w, Height: r.size.h, FPS: fps})
	if err != nil {
		return err
	}
	defer enc.Close()
	cfg := enc.Config()
	r.backend, r.threads, r.kbps, r.vbvFrames = enc.Backend(), cfg.Threads, cfg.BitrateKbps, cfg.VBVFrames
	r.durs = make([]time.Duration, len(frames))
	cpu0 := cpuTime()
	start := time.Now()
	for i, f := range frames {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := time.Now()
		p, err := enc.Encode(f, false)
		r.durs[i] = time.Since(t)
		if err != nil {
			return fmt.Errorf("frame %d: %w", i, err)
		}
		r.convert += p.ConvertDur
		r.encode += p.EncodeDur
		r.bytes += int64(len(p.Data))
	}
	r.total = time.Since(start)
	r.cpu = cpuTime() - cpu0
	return nil
}

// cpuTime is the user + system CPU time this process has used so far, all threads together.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var benchLine = regexp.MustCompile(`bench: utime=([0-9.]+)s stime=([0-9.]+)s rtime=([0-9.]+)s`)

// runFFmpeg pipes the frames to ffmpeg and times it from start to exit.
func runFFmpeg(ctx context.Context, path, variant string, args []string, frames []*game.Frame) ffmpegResult {
	res := ffmpegResult{variant: variant}
	cmd := exec.CommandContext(ctx, path, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		res.err = err
		return res
	}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	start := time.Now()
	if err := cmd.Start(); err != nil {
		res.err = err
		return res
	}
	written := make(chan error, 1)
	go func() {
		written <- writeRaw(stdin, frames)
	}()
	waitErr := cmd.Wait()
	res.wall = time.Since(start)
	writeErr := <-written
	switch {
	case waitErr != nil:
		res.err = fmt.Errorf("%w: %s", waitErr, lastLine(errOut.String()))
	case writeErr != nil:
		res.err = writeErr
	}
	if m := benchLine.FindStringSubmatch(errOut.String()); m != nil {
		res.cpu = seconds(m[1]) + seconds(m[2])
		res.rtime = seconds(m[3])
	}
	return res
}

// writeRaw writes the frames as packed RGBA rows and closes w.
func writeRaw(w io.WriteCloser, frames []*game.Frame) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	for _, f := range frames {
		row := 4 * f.Width
		if f.Stride == row {
			if _, err := bw.Write(f.Pix[:row*f.Height]); err != nil {
				_ = w.Close()
				return err
			}
			continue
		}
		for y := range f.Height {
			if _, err := bw.Write(f.Pix[y*f.Stride : y*f.Stride+row]); err != nil {
				_ = w.Close()
				return err
			}
		}
	}
	if err := bw.Flush(); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}

func seconds(s string) time.Duration {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0
	}
	return time.Duration(v * float64(time.Second))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// machine describes where the benchmark ran.
type machine struct {
	cpu, goVersion, libs, ffmpeg string
	cores                        int
	loadBefore, loadAfter        string
}

func describeMachine(ctx context.Context, ffmpegPath string) machine {
	m := machine{
		cpu:        cpuModel(),
		cores:      runtime.NumCPU(),
		goVersion:  runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		libs:       encoder.LibraryVersions(),
		ffmpeg:     "not run",
		loadBefore: loadAverage(),
	}
	if ffmpegPath != "" {
		out, err := exec.CommandContext(ctx, ffmpegPath, "-version").Output()
		if err == nil {
			m.ffmpeg, _, _ = strings.Cut(string(out), "\n")
			m.ffmpeg, _, _ = strings.Cut(m.ffmpeg, " Copyright")
		} else {
			m.ffmpeg = "unavailable: " + err.Error()
		}
	}
	return m
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func fpsOf(frames int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(frames) / d.Seconds()
}

func writeEncoderReport(w io.Writer, m machine, fps int, results []*encoderResult) {
	fmt.Fprintf(w, "## edgebench encoder\n\n")
	fmt.Fprintf(w, "- CPU: %s, %d cores\n", m.cpu, m.cores)
	fmt.Fprintf(w, "- Go: %s\n", m.goVersion)
	fmt.Fprintf(w, "- libraries: %s\n", m.libs)
	fmt.Fprintf(w, "- ffmpeg: %s\n", m.ffmpeg)
	fmt.Fprintf(w, "- load average (1, 5, 15 min) before: %s; after: %s\n", m.loadBefore, m.loadAfter)
	if len(results) > 0 {
		r := results[0]
		fmt.Fprintf(w, "- our encoder: %s, default settings (ultrafast, zerolatency, constrained baseline, CBR, "+
			"three-frame VBV), %d threads, %d fps\n", r.backend, r.threads, fps)
	}
	fmt.Fprintf(w, "- frames: the demo game with scripted input, pre-rendered, then encoded back to back\n\n")

	fmt.Fprintf(w, "| size | frames | p50 ms | p99 ms | mean ms | fps | ffmpeg fps | ratio |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		sorted := slices.Clone(r.durs)
		slices.Sort(sorted)
		var sum time.Duration
		for _, d := range sorted {
			sum += d
		}
		ours := fpsOf(r.frames, r.total)
		ff, ratio := "–", "–"
		if len(r.ffmpeg) > 0 && r.ffmpeg[0].err == nil {
			f := fpsOf(r.frames, r.ffmpeg[0].wall)
			ff, ratio = fmt.Sprintf("%.1f", f), fmt.Sprintf("%.2f", ours/f)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %.1f | %s | %s |\n", r.size, r.frames,
			ms(percentile(sorted, 50)), ms(percentile(sorted, 99)), ms(sum/time.Duration(len(sorted))), ours, ff, ratio)
	}

	fmt.Fprintf(w, "\nOur time per frame is one Encode call: RGBA → YUV 4:2:0 conversion plus encoding. ")
	fmt.Fprintf(w, "fps = frames / wall time of the encoding loop. ffmpeg fps = frames / wall time from "+
		"starting ffmpeg to its exit while this process pipes it the same raw RGBA frames (ffmpeg "+
		"gives no per-frame times); ratio = our fps / ffmpeg fps. ffmpeg and ratio are for the "+
		"\"as specified\" run below.\n\n")

	fmt.Fprintf(w, "| size | ours: convert ms | encode ms | CPU ms | kbps | ffmpeg run | wall fps | rtime fps | CPU ms | ratio (wall) | ratio (rtime) |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		n := time.Duration(r.frames)
		kbps := float64(r.bytes) * 8 * float64(fps) / float64(r.frames) / 1000
		ours := fpsOf(r.frames, r.total)
		lead := fmt.Sprintf("| %s | %s | %s | %s | %.0f ", r.size, ms(r.convert/n), ms(r.encode/n), ms(r.cpu/n), kbps)
		if len(r.ffmpeg) == 0 {
			fmt.Fprintf(w, "%s| – | | | | | |\n", lead)
		}
		for i, f := range r.ffmpeg {
			if i > 0 {
				lead = "| | | | | "
			}
			if f.err != nil {
				fmt.Fprintf(w, "%s| %s | failed: %v | | | | |\n", lead, f.variant, f.err)
				continue
			}
			wall := fpsOf(r.frames, f.wall)
			rt, rtRatio, cpu := "–", "–", "–"
			if f.rtime > 0 {
				rf := fpsOf(r.frames, f.rtime)
				rt, rtRatio = fmt.Sprintf("%.1f", rf), fmt.Sprintf("%.2f", ours/rf)
				cpu = ms(f.cpu / n)
			}
			fmt.Fprintf(w, "%s| %s | %.1f | %s | %s | %.2f | %s |\n", lead, f.variant, wall, rt, cpu, ours/wall, rtRatio)
		}
	}
	fmt.Fprintf(w, "\nffmpeg runs: \"as specified\" is `ffmpeg -f rawvideo -pix_fmt rgba -s WxH -r FPS -i - "+
		"-c:v libx264 -preset ultrafast -tune zerolatency -b:v <our kbps>k -f null -` (with "+
		"`-loglevel info -nostats -benchmark` for its timing line); given RGBA it encodes 4:4:4 "+
		"(High 4:4:4). \"same settings\" adds `-pix_fmt yuv420p -profile:v baseline -level <ours> "+
		"-maxrate <kbps>k -bufsize <our VBV: three frames> -threads <ours> -x264-params keyint=infinite:scenecut=0`, "+
		"the output our encoder makes. rtime is ffmpeg's own -benchmark wall time, without process "+
		"start-up. CPU ms is user + system CPU time per frame, all threads: ours from getrusage "+
		"around the encoding loop, ffmpeg's from its -benchmark line (reading the pipe included). "+
		"Our kbps is the output size / frames × fps.\n")
	for _, r := range results {
		if r.frames < r.requested {
			fmt.Fprintf(w, "\n%s: %d of the %d requested frames, to keep pre-rendered frames under -max-mem.\n",
				r.size, r.frames, r.requested)
		}
	}
}
