package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/game/demo"
	"github.com/edgeplay/edgeplay/gameproc"
	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/internal/testplayer"
	"github.com/edgeplay/edgeplay/session"
)

func init() {
	commands = append(commands, command{
		name: "games", summary: "the same game in-process and as its own process: latency, encode, CPU; warm pool first frame", run: runGames,
	})
}

// gameVariant is one way of running a game on the host.
type gameVariant struct {
	name    string
	factory game.Factory
}

// commandFactory is an out-of-process game running the program and arguments of cmd; its
// metrics carry the program's file name as the game's id.
func commandFactory(cmd string, env ...string) (game.Factory, error) {
	fields := strings.Fields(cmd)
	if len(fields) == 0 {
		return nil, errors.New("empty game command")
	}
	path, err := filepath.Abs(fields[0])
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("game command: %w (run make build examples first)", err)
	}
	return gameproc.Factory(gameproc.Command{
		Path: path, Args: fields[1:], Env: env, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}), nil
}

func runGames(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edgebench games", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dur := fs.Duration("duration", 10*time.Second, "measurement time per game after a 3 s warm-up")
	size := fs.String("size", "1280x720", "video size")
	fps := fs.Int("fps", 60, "frames per second")
	demoCmd := fs.String("demo-cmd", "bin/edgeplay demo-game", "the built-in demo as its own process")
	cCmd := fs.String("c-cmd", "bin/examples/paddle", "the C SDK's example game")
	slowCmd := fs.String("slow-cmd", "", "a game that loads slowly, for the warm pool (default: gameproc's test game, built now, loading for -load)")
	load := fs.Duration("load", 2*time.Second, "how long the slow game loads")
	plays := fs.Int("plays", 5, "plays of the slow game with and without the warm pool")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var w, h int
	if _, err := fmt.Sscanf(*size, "%dx%d", &w, &h); err != nil {
		return fmt.Errorf("size %q: want WxH", *size)
	}
	outDemo, err := commandFactory(*demoCmd)
	if err != nil {
		return err
	}
	cGame, err := commandFactory(*cCmd)
	if err != nil {
		return err
	}
	variants := []gameVariant{
		{"demo, in-process", silentFactory(demo.Factory)},
		{"demo, own process (`edgeplay demo-game`)", silentFactory(outDemo)},
		{"C example (`" + filepath.Base(strings.Fields(*cCmd)[0]) + "`), own process", silentFactory(cGame)},
	}
	fmt.Fprintf(stdout, "## Games in and out of process: %s@%d, one session, video only\n\n%s\n\n", *size, *fps, machineLine())
	fmt.Fprintf(stdout, "Server-added latency (the whole session, its warm-up included) is from the moment the game finished a frame (its pts: for a game process, before the hand-off) to the frame's last RTP packet handed to the socket. CPU is per second of wall time, in cores: the host process (the encoder, WebRTC and, in-process, the game) and the game's own process. The player is a pion peer in the host's process (it receives, it does not decode).\n\n")
	fmt.Fprintf(stdout, "The hand-off is the part of that latency from the game's pts to the host taking the frame off the link (`edgeplay_game_handoff_seconds`: its mean, and the histogram bucket that holds the 99th percentile).\n\n")
	fmt.Fprintf(stdout, "| game | frames | latency p50 | p99 | hand-off mean | p99 | mean encode | delivered fps | host CPU | game process CPU |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, v := range variants {
		h0 := handoffHistogram()
		r, err := measureGame(ctx, v.factory, w, h, *fps, *dur, stderr, v.name)
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		mean, p99 := "–", "–"
		if d := handoffHistogram().minus(h0); d.count > 0 {
			mean, p99 = ms3(time.Duration(d.sum/float64(d.count)*float64(time.Second)))+" ms", "≤ "+ms3(d.quantile(0.99))+" ms"
		}
		fmt.Fprintf(stdout, "| %s | %d | %s ms | %s ms | %s | %s | %s ms | %.1f | %.2f | %.2f |\n", v.name, r.frames,
			ms(r.p50), ms(r.p99), mean, p99, ms(r.encode), r.fps, r.hostCPU, r.gameCPU)
	}

	slow := *slowCmd
	if slow == "" {
		dir, err := os.MkdirTemp("", "edgebench-games")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		slow = filepath.Join(dir, "testgame")
		if out, err := goBuild(ctx, slow, "./gameproc/testdata/testgame"); err != nil {
			return fmt.Errorf("building the slow game: %w\n%s", err, out)
		}
	}
	fmt.Fprintf(stdout, "\n### Play → first frame of a game that loads for %v\n\n", *load)
	fmt.Fprintf(stdout, "A pion player on loopback: from sending join to the first video packet, %d plays each, one after the other.\n\n", *plays)
	fmt.Fprintf(stdout, "| warm pool | p50 | max |\n|---|---|---|\n")
	for _, warm := range []int{0, 1} {
		took, err := firstFrames(ctx, slow, *load, warm, w, h, *fps, *plays, stderr)
		if err != nil {
			return fmt.Errorf("first frame (warm %d): %w", warm, err)
		}
		slices.Sort(took)
		fmt.Fprintf(stdout, "| %d | %s ms | %s ms |\n", warm, ms(took[len(took)/2]), ms(took[len(took)-1]))
	}
	fmt.Fprintln(stdout)
	return nil
}

type gameFigures struct {
	frames           int
	p50, p99, encode time.Duration
	fps              float64
	hostCPU, gameCPU float64
}

// measureGame plays one session of the factory's game and measures it.
func measureGame(ctx context.Context, f game.Factory, w, h, fps int, dur time.Duration, stderr io.Writer, name string) (gameFigures, error) {
	var r gameFigures
	a, err := app.Start(ctx, app.Config{
		GatewayAddr: "127.0.0.1:0", Matchmaker: true, Gateway: benchGateway,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Hosts: []session.Config{{
			ID: "bench-host", Slots: 1, Games: map[string]game.Factory{"demo": f},
			Width: w, Height: h, FPS: fps, UDPAddr: "127.0.0.1:0", HeartbeatInterval: 200 * time.Millisecond,
		}},
	})
	if err != nil {
		return r, err
	}
	defer closeApp(ctx, a)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := waitHostsKnown(sctx, a); err != nil {
		return r, err
	}
	players, err := connect(sctx, a.URL(), 1)
	if err != nil {
		return r, err
	}
	defer closeAll(players)
	fmt.Fprintf(stderr, "%s: playing for %v (plus 3 s warm-up)…\n", name, dur)
	time.Sleep(3 * time.Second)
	host := a.Hosts()[0]
	st0 := host.Sessions()[0].Stats
	recv0 := players[0].Received()
	host0, game0 := cpuSelf(), cpuChildren()
	time.Sleep(dur)
	host1, game1 := cpuSelf(), cpuChildren()
	st1 := host.Sessions()[0].Stats
	lat := host.LatencySamples() // the whole session, warm-up included (as edgebench latency)
	r.frames = int(st1.FramesEncoded - st0.FramesEncoded)
	r.p50, r.p99 = session.Percentile(lat, 50), session.Percentile(lat, 99)
	r.encode = (st1.EncodeTimeSum - st0.EncodeTimeSum) / time.Duration(max(r.frames, 1))
	r.fps = float64(players[0].Received()-recv0) / dur.Seconds()
	r.hostCPU = (host1 - host0).Seconds() / dur.Seconds()
	r.gameCPU = (game1 - game0).Seconds() / dur.Seconds()
	return r, nil
}

// firstFrames plays the slow game plays times and returns each Play → first video packet.
func firstFrames(ctx context.Context, path string, load time.Duration, warm, w, h, fps, plays int, stderr io.Writer) ([]time.Duration, error) {
	l, err := gameproc.NewLauncher(gameproc.Command{
		Path: path, Env: []string{"TESTGAME_LOAD_MS=" + strconv.Itoa(int(load/time.Millisecond))},
		Warm: warm, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, game.Config{Width: w, Height: h, FPS: fps})
	if err != nil {
		return nil, err
	}
	defer l.Close()
	a, err := app.Start(ctx, app.Config{
		GatewayAddr: "127.0.0.1:0", Matchmaker: true, Gateway: benchGateway,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Hosts: []session.Config{{
			ID: "bench-host", Slots: 1, Games: map[string]game.Factory{"slow": l.Factory()},
			Width: w, Height: h, FPS: fps, UDPAddr: "127.0.0.1:0", HeartbeatInterval: 200 * time.Millisecond,
		}},
	})
	if err != nil {
		return nil, err
	}
	defer closeApp(ctx, a)
	sctx, cancel := context.WithTimeout(ctx, time.Duration(plays)*30*time.Second)
	defer cancel()
	if err := waitHostsKnown(sctx, a); err != nil {
		return nil, err
	}
	var took []time.Duration
	for i := range plays {
		if warm > 0 { // wait for the pool to refill, as a host between players would
			for l.Warm() < warm {
				select {
				case <-sctx.Done():
					return nil, fmt.Errorf("the warm pool did not fill: %w", sctx.Err())
				case <-time.After(20 * time.Millisecond):
				}
			}
		}
		d, err := playFirstFrame(sctx, a, "slow")
		if err != nil {
			return nil, fmt.Errorf("play %d: %w", i+1, err)
		}
		fmt.Fprintf(stderr, "slow game, warm pool %d, play %d: %v\n", warm, i+1, d)
		took = append(took, d)
		// The slot frees when the host has seen the leave.
		for len(a.Hosts()[0].Sessions()) > 0 {
			select {
			case <-sctx.Done():
				return nil, sctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return took, nil
}

func playFirstFrame(ctx context.Context, a *app.App, gameID string) (time.Duration, error) {
	p, err := testplayer.Dial(ctx, a.URL(), testplayer.Options{Game: gameID})
	if err != nil {
		return 0, err
	}
	defer p.Close()
	begin := time.Now()
	if err := p.Play(ctx); err != nil {
		return 0, err
	}
	for p.Received() == 0 {
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("no frame: %w", ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	d := time.Since(begin)
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, _ = p.Leave(lctx)
	return d, nil
}

// cpuSelf is this process's CPU time (user + system).
func cpuSelf() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuChildren is the CPU time of this process's running children (the game processes), from
// /proc: utime + stime in clock ticks (100 a second on Linux).
func cpuChildren() time.Duration {
	me := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	var ticks int64
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		_, rest, ok := strings.Cut(string(b), ") ")
		if !ok {
			continue
		}
		f := strings.Fields(rest) // state ppid … (field 3 of stat is rest[0])
		if len(f) < 13 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid != me {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// goBuild builds a package of this module into out.
func goBuild(ctx context.Context, out, pkg string) ([]byte, error) {
	return exec.CommandContext(ctx, "go", "build", "-o", out, pkg).CombinedOutput()
}

// histogram is edgeplay_game_handoff_seconds summed over its games.
type histogram struct {
	count  uint64
	sum    float64
	bounds []float64
	cum    []uint64 // cumulative counts per bound
}

func handoffHistogram() histogram {
	var h histogram
	mfs, _ := prometheus.DefaultGatherer.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "edgeplay_game_handoff_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			hg := m.GetHistogram()
			h.count += hg.GetSampleCount()
			h.sum += hg.GetSampleSum()
			for i, b := range hg.GetBucket() {
				if len(h.bounds) <= i {
					h.bounds = append(h.bounds, b.GetUpperBound())
					h.cum = append(h.cum, 0)
				}
				h.cum[i] += b.GetCumulativeCount()
			}
		}
	}
	return h
}

// minus is what h counted since old.
func (h histogram) minus(old histogram) histogram {
	d := histogram{count: h.count - old.count, sum: h.sum - old.sum, bounds: h.bounds, cum: slices.Clone(h.cum)}
	for i := range d.cum {
		if i < len(old.cum) {
			d.cum[i] -= old.cum[i]
		}
	}
	return d
}

// quantile is the upper bound of the bucket that holds quantile q (the largest bound when it
// is past every bucket).
func (h histogram) quantile(q float64) time.Duration {
	want := uint64(q * float64(h.count))
	for i, c := range h.cum {
		if c >= want {
			return time.Duration(h.bounds[i] * float64(time.Second))
		}
	}
	if len(h.bounds) == 0 {
		return 0
	}
	return time.Duration(h.bounds[len(h.bounds)-1] * float64(time.Second))
}
