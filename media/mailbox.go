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
	closed  bool        // guarded by mu: drained; frames put now are released at once
	ready   chan struct{}
	dropped atomic.Uint64
}

func newMailbox() *mailbox { return &mailbox{ready: make(chan struct{}, 1)} }

// put never blocks.
func (m *mailbox) put(f *game.Frame) {
	m.mu.Lock()
	if m.closed { // the pipeline stopped: nobody will take it (a frame may lend memory)
		m.mu.Unlock()
		f.Release()
		return
	}
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

// drain releases a frame left behind when the pipeline stops, and every frame put later.
func (m *mailbox) drain() {
	m.mu.Lock()
	f := m.f
	m.f, m.closed = nil, true
	m.mu.Unlock()
	if f != nil {
		f.Release()
	}
}
