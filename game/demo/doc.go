// Package demo is the built-in demo game: a small top-down arena shooter that renders 8-bit
// RGBA frames in-process and implements game.Game.
//
// The player's ship moves with WASD or the arrow keys and aims at the crosshair, which follows
// the absolute mouse position or, under pointer lock, the relative mouse motion. The left mouse
// button or Space fires (hold to keep firing); the right button fires a three-way spread and
// the wheel nudges the crosshair. Bullseye targets drift around the arena and respawn when
// shot; hitting targets in a row raises a score multiplier, while a target that rams the ship
// costs a shield and the combo. Losing the last shield ends the round: the score goes to BEST
// and a new round starts. Enter restarts the round at once.
//
// The background scrolls (a grid over a dithered tile plus three layers of stars) so that the
// video has realistic motion for the encoder. Every key press and mouse-button press bumps the
// input counter and flashes the frame border, so each input visibly changes the picture. The
// latency marker (package game/marker) sits on top of everything in the top-left corner and
// carries the sequence number of the last input applied before the frame was rendered.
//
// Rendering is plain Go on byte slices: the background is cleared by copying prebuilt rows,
// rectangles are filled with row copies, nothing allocates per frame. Run, Input and Stats are
// safe for concurrent use; Step, Render and ApplyForTest belong to whoever drives the game and
// must not be called while Run is running.
package demo
