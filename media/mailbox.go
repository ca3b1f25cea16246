package media

import (
	"sync"
	"sync/atomic"

	"github.com/edgeplay/edgeplay/game"
)

// mailbox hands frames from the game to the encoder. It holds at most one frame: a new frame
// replaces an unsent one (which is released and counted as dropped), so the encoder always
// works on the newest picture and never queues behind (house style 9).
type mailbox struct {
	mu      sync.Mutex
	f       *game.Frame // guarded by mu
	ready   chan struct{}
	dropped atomic.Uint64
}

func newMailbox() *mailbox { return &mailbox{ready: make(chan struct{}, 1)} }

// put never blocks.
func (m *mailbox) put(f *game.Frame) {
	m.mu.Lock()
	old := m.f
	m.f = f
	m.mu.Unlock()
	if old != nil {
		old.Release()
		m.dropped.Add(1)
	}
	select {
	case m.ready <- struct{}{}:
	default:
	}
}

// take returns the newest frame, or nil.
func (m *mailbox) take() *game.Frame {
	m.mu.Lock()
	f := m.f
	m.f = nil
	m.mu.Unlock()
	return f
}

// drain releases a frame left behind when the pipeline stops.
func (m *mailbox) drain() {
	if f := m.take(); f != nil {
		f.Release()
	}
}
