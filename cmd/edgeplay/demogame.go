package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/game/demo"
	"github.com/edgeplay/edgeplay/gamesdk"
)

// demoGame is `edgeplay demo-game`: the built-in demo (game/demo) as a game that runs as its
// own process, through the Go SDK (gamesdk.Open, then gamesdk.Serve), so that
//
//	edgeplay up --game demo2="$(pwd)/bin/edgeplay demo-game"
//
// streams the demo across the process boundary (docs/SDK.md). The host starts it with the
// link on fd 3; it serves one session and exits: 0 when the session ended (the result is the
// demo's counters), non-zero when the host broke the link or the protocol.
func demoGame(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("edgeplay demo-game", flag.ContinueOnError)
	fs.SetOutput(stderr)
	noAudio := fs.Bool("no-audio", false, "do not offer sound (the demo then synthesises none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	g, err := gamesdk.Open(gamesdk.Config{Audio: !*noAudio})
	if err != nil {
		if !errors.Is(err, gamesdk.ErrHostGone) && !errors.Is(err, gamesdk.ErrProtocol) {
			err = fmt.Errorf("%w (demo-game is started by an edgeplay host, e.g. edgeplay up --game demo2=\"$(pwd)/bin/edgeplay demo-game\")", err)
		}
		return err
	}
	defer g.Close()
	// The demo draws the latency marker into every frame.
	return gamesdk.Serve(ctx, g, demo.Factory, gamesdk.ServeConfig{Marker: true, Result: demoResult})
}

// demoResult is the demo's result in the session's ended event: its counters.
func demoResult(gm game.Game) string {
	d, ok := gm.(*demo.Game)
	if !ok {
		return ""
	}
	st := d.Stats()
	return fmt.Sprintf(`{"frames":%d,"inputs":%d}`, st.FramesRendered, st.InputsApplied)
}
