// Package gameproc is the host's side of a game that runs as its own process (docs/SDK.md,
// protocol 1.0): Factory turns a Command into a game.Factory, and a Launcher does the same
// with a warm pool of started, ready processes. Each game starts the program (or takes a warm
// one), speaks gameproto with it over a SOCK_SEQPACKET link on the child's fd 3, lends its
// frames to the session straight from the shared frame pool (no copy; the slot goes back to
// the game when the encoder releases the frame), copies its sound out of the audio pool,
// passes the player's input, presence and the host's drain on, and stops it, with its whole
// process group (and its cgroup where there is one), when the session ends.
//
// The deadlines of docs/SDK.md are enforced: hello, ready (extended by loading), started, a
// frame every stall timeout, and any message at least every three heartbeats once ready.
//
// Frames come in the format the game announced: I420, else NV12, else RGBA.
//
// Not done yet: more than one player (input goes to player 0); the join's payload and params
// are passed on (game.Config) but nothing fills them before join tokens exist.
//
// The end reasons are errors of this package (ErrStartFailed, ErrCrashed, ErrHung,
// ErrProtocol, ErrEnded); the session maps them to the client-visible reasons game_*
// (session/gameend.go, docs/PROTOCOL.md).
package gameproc
