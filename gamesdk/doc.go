// Package gamesdk is the game's side of the edgeplay game protocol (docs/SDK.md, version 1.0)
// for games written in Go: it opens the link the host gave the process (EDGEPLAY_FD, fd 3),
// says hello, maps the frame buffers the host registers, and gives the game a small poll-style
// API over gameproto.
//
// A game's loop, in one goroutine:
//
//	g, err := gamesdk.Open(gamesdk.Config{})  // hello → welcome → buffer_pool [→ audio_pool]
//	… load …                                  // g.Loading(d) if it takes long
//	g.Ready()
//	for {
//		ev, err := g.Poll(timeout)            // Assign, PlayerJoined, Input, Drain, Shutdown, …
//		… after Assign: g.Started(), then per frame:
//		f, ok := g.AcquireFrame()             // a free slot's planes, in shared memory
//		… draw into f.Planes …
//		g.SubmitFrame(f, lastInputSeq)        // frame_ready; the slot is the host's until release
//		a, ok := g.AcquireAudio()             // with audio agreed: a free audio slot
//		… fill a.S16 (or a.F32) …
//		g.SubmitAudio(a, frames, ptsNS)       // audio_ready; the slot is the host's until audio_release
//	}
//	g.End(`{"score":1200}`); g.Close()
//
// Serve runs an in-process game (a game.Factory, such as the built-in demo's) over an opened
// Game instead: `edgeplay demo-game` is Open, then Serve.
//
// Contracts:
//   - A Game starts no goroutine. Every call runs on the caller's goroutine and a Game is not
//     safe for concurrent use: one loop owns it, as the protocol asks ("no SDK thread").
//     Serve is that loop for an in-process game; it owns two goroutines (the game's Run and a
//     watch on its context) and waits for both before it returns.
//   - Heartbeats ride on the loop: Poll, SubmitFrame and SubmitAudio send a ping when one is
//     due (at most once a second, sooner only when the host's heartbeat is under 2 s). A Poll
//     with a long timeout wakes up to ping while it waits.
//   - Everything the host sends is checked against the link's state (slot numbers and
//     ownership, player numbers, message order, pool layout); a violation is an error wrapping
//     ErrProtocol, and the Game is then broken: every later call returns the same error. The
//     game should then exit (Fatal is still allowed, to say why).
//   - A Frame's planes and an Audio's samples are views of shared memory, valid from
//     AcquireFrame (AcquireAudio) until SubmitFrame or Discard (SubmitAudio or DiscardAudio),
//     and never after Close.
package gamesdk
