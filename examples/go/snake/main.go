// Command snake is an example game for edgeplay, written straight against the Go SDK (package
// gamesdk, docs/SDK.md): the loop a studio's own engine would run, with no framework between.
//
// The snake moves with the arrow keys or WASD, or a gamepad's d-pad or left stick (the web
// client's touch controls are a gamepad too); Enter or the pad's Start begins a new round.
// Food makes it longer and scores a point, with a short beep when the host takes sound;
// running into a wall or into itself ends the round. Escape or the pad's Back ends the game.
// The game's result, sent when it ends, at a drain or when the player leaves, is
// {"score":…,"best":…,"rounds":…}.
//
// What it shows of the SDK: the handshake (Open), ready, the event loop paced at the host's
// fps with Poll's timeout, the player's input applied and its seq echoed in every frame,
// rendering into the host's RGBA slot with the slot's stride (skipping a frame when no slot is
// free), sound streamed into audio slots with CLOCK_MONOTONIC pts when audio was agreed, and
// every way a session ends.
//
// Run it under a host: make examples, then
//
//	edgeplay up --game snake="$(pwd)/bin/examples/snake"
//
// and open http://localhost:8080/?game=snake.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/edgeplay/edgeplay/gamesdk"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "snake:", err) // stderr goes to the host's log
		os.Exit(1)
	}
}

func run() error {
	// hello → welcome → buffer_pool [→ audio_pool]. Audio is offered; the host may say no.
	g, err := gamesdk.Open(gamesdk.Config{Audio: true})
	if err != nil {
		return err
	}
	defer g.Close()

	w := g.Welcome()
	s := newSnake(time.Now().UnixNano())
	var snd *sound // nil when the host takes no sound
	if _, ok := g.AudioPool(); ok {
		snd = &sound{}
	}
	// Loading is quick here; a game that needs longer calls g.Loading(d) first.
	if err := g.Ready(); err != nil {
		return err
	}

	frameEvery := time.Second / time.Duration(w.FPS)
	var (
		started  bool
		player   = -1         // the player whose input steers the snake
		lastSeq  uint32       // the seq of the last input applied: every frame echoes it
		nextTick time.Time    // when the next frame is due
		lastStep = time.Now() // the simulation's clock
	)
	for {
		// Wait for the host until the next frame is due; an idle game (before assign) waits
		// without rendering anything. Poll sends the heartbeats while it waits.
		timeout := time.Second
		if started {
			timeout = max(time.Until(nextTick), 0)
		}
		ev, err := g.Poll(timeout)
		if err != nil {
			_ = g.Fatal(err.Error())
			return err
		}
		switch ev := ev.(type) {
		case gamesdk.Assign:
			if err := g.Started(); err != nil {
				return err
			}
			started, nextTick, lastStep = true, time.Now(), time.Now()
			if snd != nil {
				snd.start(gamesdk.MonotonicNS())
			}
		case gamesdk.PlayerJoined:
			if player < 0 {
				player = ev.Player
			}
		case gamesdk.Input:
			if ev.Player != player {
				break
			}
			for _, in := range ev.Events { // valid until the next Poll
				s.input(in)
				lastSeq = in.Seq
			}
		case gamesdk.PlayerAway:
			s.paused = true // the player's connection dropped: wait for them
		case gamesdk.PlayerBack:
			s.paused = false
		case gamesdk.PlayerLeft:
			if ev.Player == player {
				return end(g, s)
			}
		case gamesdk.Drain:
			// The host is going away: a round of snake can stop at any moment, so end now
			// (well within ev.Deadline).
			return end(g, s)
		case gamesdk.Shutdown:
			return nil // exit at once; nothing more to say
		}

		if s.quit {
			return end(g, s)
		}
		now := time.Now()
		if !started || now.Before(nextTick) {
			continue
		}
		// One frame: advance the simulation to now, draw, hand the frame over, then the
		// sound up to a frame ahead.
		nextTick = nextTick.Add(frameEvery)
		if now.Sub(nextTick) > frameEvery {
			nextTick = now.Add(frameEvery) // fell behind: skip frames rather than queue them
		}
		ate, died := s.advance(now.Sub(lastStep))
		lastStep = now
		if f, ok := g.AcquireFrame(); ok { // no free slot: skip this frame, never wait
			f.Marker = draw(f, s, lastSeq)
			if err := g.SubmitFrame(f, lastSeq); err != nil {
				return err
			}
		}
		if snd != nil {
			switch {
			case died:
				snd.beep(220, 150*time.Millisecond)
			case ate:
				snd.beep(880, 60*time.Millisecond)
			}
			if err := snd.send(g, frameEvery); err != nil {
				return err
			}
		}
	}
}

// end sends ending with the result; the process then exits 0.
func end(g *gamesdk.Game, s *snake) error {
	result, err := json.Marshal(struct {
		Score  int `json:"score"`
		Best   int `json:"best"`
		Rounds int `json:"rounds"`
	}{s.score, max(s.best, s.score), s.rounds + 1})
	if err != nil {
		return err
	}
	return g.End(string(result))
}
