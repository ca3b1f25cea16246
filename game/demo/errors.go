package demo

import "errors"

// Errors returned by New and Run.
var (
	// ErrConfig means the game.Config is outside what the demo game supports.
	ErrConfig = errors.New("demo: invalid config")
	// ErrRunning means Run was called while another Run of the same game was still running.
	ErrRunning = errors.New("demo: already running")
)
