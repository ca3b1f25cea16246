// Package gameproc is the host's side of a game that runs as its own process (docs/SDK.md,
// protocol 1.0): Factory turns a Command into a game.Factory whose games start the program,
// speak gameproto with it over a SOCK_SEQPACKET link on the child's fd 3, copy its frames out
// of the shared frame pool and hand them to the session, pass the player's input on, and stop
// it, with its whole process group, when the session ends.
//
// First slice (issue 10). What it does not do yet:
//   - zero copy: each frame_ready is copied out of the slot into a game.FramePool frame and the
//     slot is released at once, so the game always has a free slot; the encoder does not read
//     the shared memory directly yet;
//   - RGBA only (no I420/NV12), no sound (no audio pool), one player (input goes to player 0);
//   - heartbeats are not enforced (the stall timeout covers a started game);
//   - no warm pool (the process starts in Run), no cgroup (kill is by process group).
//
// The end reasons are errors of this package (ErrStartFailed, ErrCrashed, ErrHung,
// ErrProtocol, ErrEnded); the session maps them to the client-visible reasons game_*
// (session/gameend.go, docs/PROTOCOL.md).
package gameproc
