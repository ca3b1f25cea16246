package session

import (
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/edgeplay/edgeplay/input"
)

func (s *Session) addInputChannel(label string, init *webrtc.DataChannelInit) (*webrtc.DataChannel, error) {
	dc, err := s.peer.CreateDataChannel(label, init)
	if err != nil {
		return nil, fmt.Errorf("create data channel %s: %w", label, err)
	}
	dc.OnMessage(func(msg webrtc.DataChannelMessage) { s.contain("input", func() { s.onInput(msg) }) })
	return dc, nil
}

// onInput runs on pion's SCTP goroutine: decode, rate-limit, hand to the game; never blocks.
func (s *Session) onInput(msg webrtc.DataChannelMessage) {
	// Validate first (cheap, allocation-free), then rate-limit what is valid, so the counters
	// say what was wrong with the input regardless of arrival order across the channels.
	if !msg.IsString {
		if ev, err := input.Decode(msg.Data); err == nil {
			if !s.limiter.Allow() {
				s.inputsLimited.Add(1)
				return
			}
			now := time.Now()
			s.lastInput.Store(now.UnixNano())
			s.lastInputSeq.Store(ev.Seq)
			s.inputClock.input(ev.Seq, now)
			s.inputsApplied.Add(1)
			s.g.Input(ev)
			return
		}
	}
	if n := s.inputsInvalid.Add(1); n == 1 || n%1000 == 0 {
		s.log.Info("invalid input dropped", "count", n)
	}
}
