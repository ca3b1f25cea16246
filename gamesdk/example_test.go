package gamesdk_test

import (
	"context"
	"errors"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/edgeplay/edgeplay/game/demo"
	"github.com/edgeplay/edgeplay/gamesdk"
)

// Example is a whole game's loop: it needs a host (the process must be started by edgeplay
// with the link on fd 3), so it is compiled but not run.
func Example() {
	g, err := gamesdk.Open(gamesdk.Config{}) // hello → welcome → buffer_pool
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()
	// … load assets; call g.Loading(d) first if that takes longer than the welcome allows …
	if err := g.Ready(); err != nil {
		log.Fatal(err)
	}

	frameEvery := time.Second / time.Duration(g.Welcome().FPS)
	var started bool
	var lastInput uint32
	var score int
	for {
		// Wait for host messages until the next frame is due (not at all before Started:
		// an idle warm game renders nothing).
		timeout := frameEvery
		if !started {
			timeout = time.Second
		}
		ev, err := g.Poll(timeout)
		if err != nil {
			_ = g.Fatal(err.Error())
			log.Fatal(err)
		}
		switch ev := ev.(type) {
		case gamesdk.Assign:
			// ev.Params: the studio's parameters from the join request.
			if err := g.Started(); err != nil {
				log.Fatal(err)
			}
			started = true
		case gamesdk.Input:
			for _, in := range ev.Events {
				score++ // apply the event to the game state
				lastInput = in.Seq
			}
		case gamesdk.Drain:
			_ = g.End(`{"score":1}`) // finish the round by ev.Deadline; here at once
			return
		case gamesdk.Shutdown:
			return
		}
		if !started {
			continue
		}
		f, ok := g.AcquireFrame()
		if !ok {
			continue // every slot is with the host: skip this frame, never wait
		}
		drawRGBA(f, score)
		if err := g.SubmitFrame(f, lastInput); err != nil && !errors.Is(err, gamesdk.ErrState) {
			log.Fatal(err)
		}
	}
}

// drawRGBA fills an RGBA frame with one colour, using the pool's stride.
func drawRGBA(f *gamesdk.Frame, score int) {
	pix, stride := f.Planes[0], f.Strides[0]
	for y := range f.Height {
		row := pix[y*stride : y*stride+4*f.Width]
		for x := 0; x < len(row); x += 4 {
			row[x], row[x+1], row[x+2], row[x+3] = byte(score), 0x80, 0xff, 0xff
		}
	}
}

// ExampleServe runs an in-process game (here the built-in demo) as a game process: what
// `edgeplay demo-game` does. Like Example, it needs a host, so it is compiled but not run.
func ExampleServe() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g, err := gamesdk.Open(gamesdk.Config{Audio: true}) // the demo makes sound, if the host takes it
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()
	// ready → assign → started → frames, sound and input until the session ends.
	if err := gamesdk.Serve(ctx, g, demo.Factory, gamesdk.ServeConfig{Marker: true}); err != nil {
		log.Print(err)
	}
}
