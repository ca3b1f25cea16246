package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"time"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/game/demo"
	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/internal/testplayer"
	"github.com/edgeplay/edgeplay/server"
	"github.com/edgeplay/edgeplay/session"
)

func init() {
	commands = append(commands,
		command{name: "latency", summary: "server-side added latency: frame ready → last RTP packet written", run: runLatency},
		command{name: "density", summary: "concurrent 720p60 sessions one host sustains at ≥ 58 fps", run: runDensity},
	)
}

// startSystem runs the whole system in-process on loopback with one host of slots slots.
// The game is the demo, or factory when not nil.
func startSystem(ctx context.Context, slots int, size string, fps int, audio bool, factory game.Factory) (*app.App, error) {
	var w, h int
	if _, err := fmt.Sscanf(size, "%dx%d", &w, &h); err != nil {
		return nil, fmt.Errorf("size %q: want WxH", size)
	}
	if factory == nil {
		factory = demo.Factory
	}
	if !audio {
		factory = silentFactory(factory)
	}
	return app.Start(ctx, app.Config{
		GatewayAddr: "127.0.0.1:0", Matchmaker: true, Gateway: benchGateway,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Hosts: []session.Config{{
			ID: "bench-host", Slots: slots, Games: map[string]game.Factory{"demo": factory},
			Width: w, Height: h, FPS: fps, UDPAddr: "127.0.0.1:0", HeartbeatInterval: 200 * time.Millisecond,
		}},
	})
}

// silent hides a game's sound (and rumble): the host then sends video only.
type silent struct{ game.Game }

func silentFactory(f game.Factory) game.Factory {
	return func(c game.Config) (game.Game, error) {
		g, err := f(c)
		if err != nil {
			return nil, err
		}
		return silent{g}, nil
	}
}

// connect starts n players and waits until all of them are playing.
func connect(ctx context.Context, base string, n int) ([]*testplayer.Player, error) {
	var players []*testplayer.Player
	for range n {
		p, err := testplayer.Dial(ctx, base, testplayer.Options{})
		if err != nil {
			closeAll(players)
			return nil, err
		}
		players = append(players, p)
		if err := p.Play(ctx); err != nil {
			closeAll(players)
			return nil, err
		}
	}
	return players, nil
}

// closeApp shuts the system down even when ctx was cancelled (Ctrl-C).
func closeApp(ctx context.Context, a *app.App) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = a.Close(cctx)
}

func closeAll(ps []*testplayer.Player) {
	for _, p := range ps {
		p.Close()
	}
}

func waitHostsKnown(ctx context.Context, a *app.App) error {
	for len(a.Matchmaker().Hosts()) == 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("host never registered: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

func runLatency(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edgebench latency", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dur := fs.Duration("duration", 10*time.Second, "measurement time after warm-up")
	size := fs.String("size", "1280x720", "video size")
	fps := fs.Int("fps", 60, "frames per second")
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := startSystem(ctx, 1, *size, *fps, true, nil)
	if err != nil {
		return err
	}
	defer closeApp(ctx, a)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := waitHostsKnown(sctx, a); err != nil {
		return err
	}
	players, err := connect(sctx, a.URL(), 1)
	if err != nil {
		return err
	}
	defer closeAll(players)
	fmt.Fprintf(stderr, "playing one %s@%d session for %s (plus 2 s warm-up)…\n", *size, *fps, *dur)
	time.Sleep(2 * time.Second)
	host := a.Hosts()[0]
	start := players[0].Received()
	time.Sleep(*dur)
	all := host.LatencySamples()
	got := players[0].Received() - start
	st := host.Sessions()[0].Stats
	fmt.Fprintf(stdout, "## Server-side added latency (frame ready → last RTP packet handed to the socket)\n\n")
	fmt.Fprintf(stdout, "%s\n\n", machineLine())
	fmt.Fprintf(stdout, "| size | frames | p50 | p99 | max | mean encode (conversion included) | delivered fps |\n|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(stdout, "| %s@%d | %d | %s ms | %s ms | %s ms | %s ms | %.1f |\n\n", *size, *fps, len(all),
		ms(session.Percentile(all, 50)), ms(session.Percentile(all, 99)), ms(all[len(all)-1]),
		ms(st.EncodeTimeSum/time.Duration(max(st.FramesEncoded, 1))), float64(got)/dur.Seconds())
	return nil
}

func runDensity(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edgebench density", flag.ContinueOnError)
	fs.SetOutput(stderr)
	maxN := fs.Int("max", 10, "largest number of sessions to try")
	dur := fs.Duration("duration", 8*time.Second, "measurement time per step after warm-up")
	size := fs.String("size", "1280x720", "video size")
	fps := fs.Int("fps", 60, "frames per second")
	minFPS := fs.Float64("min-fps", 58, "every session must deliver at least this")
	audio := fs.Bool("audio", true, "the demo's sound on (an Opus track per session); false: video only")
	gameCmd := fs.String("game-cmd", "", "play this program as an out-of-process game instead of the in-process demo (e.g. \"bin/edgeplay demo-game\")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	what := "with the demo's sound (Opus, 96 kbit/s, 10 ms frames)"
	if !*audio {
		what = "video only (-audio=false)"
	}
	var factory game.Factory
	if *gameCmd != "" {
		var err error
		if factory, err = commandFactory(*gameCmd); err != nil {
			return err
		}
		what += ", the game as its own process: `" + *gameCmd + "`"
	}
	fmt.Fprintf(stdout, "## Density: concurrent %s@%d sessions on one host, %s\n\n%s\n\n", *size, *fps, what, machineLine())
	fmt.Fprintf(stdout, "Players are pion peers in the same process (they receive and depacketize, they do not decode), so they share the CPU with the host.\n\n")
	fmt.Fprintf(stdout, "| sessions | min fps | mean fps | frames dropped by the host | server latency p50 | p99 |\n|---|---|---|---|---|---|\n")
	best := 0
	for n := 1; n <= *maxN; n++ {
		minF, meanF, dropped, p50, p99, err := densityStep(ctx, n, *size, *fps, *dur, *audio, factory)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "| %d | %.1f | %.1f | %.1f%% | %s ms | %s ms |\n", n, minF, meanF, dropped*100, ms(p50), ms(p99))
		if minF < *minFPS {
			break
		}
		best = n
	}
	fmt.Fprintf(stdout, "\nSustained with every session ≥ %.0f fps: **%d**\n\n", *minFPS, best)
	return nil
}

func densityStep(ctx context.Context, n int, size string, fps int, dur time.Duration, audio bool, factory game.Factory) (minF, meanF, dropped float64, p50, p99 time.Duration, err error) {
	a, err := startSystem(ctx, n, size, fps, audio, factory)
	if err != nil {
		return 0, 0, 0, 0, 0, err
	}
	defer closeApp(ctx, a)
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := waitHostsKnown(sctx, a); err != nil {
		return 0, 0, 0, 0, 0, err
	}
	players, err := connect(sctx, a.URL(), n)
	if err != nil {
		return 0, 0, 0, 0, 0, err
	}
	defer closeAll(players)
	time.Sleep(3 * time.Second) // warm-up
	host := a.Hosts()[0]
	start := make([]uint64, n)
	for i, p := range players {
		start[i] = p.Received()
	}
	var enc0, drop0 uint64
	for _, s := range host.Sessions() {
		enc0 += s.Stats.FramesEncoded
		drop0 += s.Stats.FramesDropped
	}
	time.Sleep(dur)
	var fpsAll []float64
	for i, p := range players {
		fpsAll = append(fpsAll, float64(p.Received()-start[i])/dur.Seconds())
	}
	var enc1, drop1 uint64
	for _, s := range host.Sessions() {
		enc1 += s.Stats.FramesEncoded
		drop1 += s.Stats.FramesDropped
	}
	lat := host.LatencySamples()
	sum := 0.0
	for _, f := range fpsAll {
		sum += f
	}
	if total := (enc1 - enc0) + (drop1 - drop0); total > 0 {
		dropped = float64(drop1-drop0) / float64(total)
	}
	return slices.Min(fpsAll), sum / float64(n), dropped, session.Percentile(lat, 50), session.Percentile(lat, 99), nil
}

func machineLine() string {
	return fmt.Sprintf("Machine: %s, %d cores, %s/%s, %s.", cpuModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// benchGateway is the gateway of the in-process systems the benchmarks run: every player
// comes from loopback, so the per-client fairness limits are off.
var benchGateway = server.Config{MaxConnsPerClient: -1, MaxQueuedPerClient: -1}
