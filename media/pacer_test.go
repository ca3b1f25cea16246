package media

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// sink records what the pacer sends, with the (bubble's) time of each write.
type sink struct {
	mu    sync.Mutex
	times []time.Time
	seqs  []uint16
	ssrcs []uint32
}

func (s *sink) Write(h *rtp.Header, _ []byte, _ interceptor.Attributes) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.times = append(s.times, time.Now())
	s.seqs = append(s.seqs, h.SequenceNumber)
	s.ssrcs = append(s.ssrcs, h.SSRC)
	return 0, nil
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seqs)
}

// fakeResend stands in for pion's internal retransmission tracker.
type fakeResend struct {
	mu       sync.Mutex
	retained int
	released []bool
}

func (r *fakeResend) Retain() { r.mu.Lock(); r.retained++; r.mu.Unlock() }
func (r *fakeResend) Release(sent bool) {
	r.mu.Lock()
	r.released = append(r.released, sent)
	r.mu.Unlock()
}

type resendKey struct{}

func TestPacerSendsAtOnceWithinTheBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer(1_000_000)
		defer p.Close()
		var s sink
		p.AddStream(1, &s)
		if _, err := p.Write(&rtp.Header{SSRC: 1, SequenceNumber: 7}, make([]byte, 1000), nil); err != nil {
			t.Fatal(err)
		}
		if s.count() != 1 {
			t.Fatalf("a packet within the burst was not sent at once (%d sent)", s.count())
		}
	})
}

func TestPacerSpreadsABurstAtPacingRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const target = 800_000 // bit/s; paced at 1.2 Mbit/s = 150 kB/s
		p := NewPacer(target)
		defer p.Close()
		var s sink
		p.AddStream(1, &s)
		start := time.Now()
		const n, size = 60, 1000 // 60 kB: about 0.4 s at the pacing rate
		for i := range n {
			if _, err := p.Write(&rtp.Header{SSRC: 1, SequenceNumber: uint16(i)}, make([]byte, size-12), nil); err != nil {
				t.Fatal(err)
			}
		}
		if d := p.QueueDelay(); d < 300*time.Millisecond || d > 450*time.Millisecond {
			t.Errorf("queue delay after the burst %v, want about 0.4 s", d)
		}
		for s.count() < n {
			time.Sleep(10 * time.Millisecond)
		}
		want := time.Duration(float64(n*size-minBurstBytes) * 8 / (target * PacingFactor) * float64(time.Second))
		if took := s.times[n-1].Sub(start); took < want-20*time.Millisecond || took > want+20*time.Millisecond {
			t.Errorf("the burst took %v to leave, want about %v", took, want)
		}
		for i, seq := range s.seqs {
			if seq != uint16(i) {
				t.Fatalf("packet %d sent as %d: order changed", i, seq)
			}
		}
		if st := p.Stats(); st.SentPackets != n || st.Dropped != 0 || st.RTXPackets != 0 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestPacerFollowsTheTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer(4_000_000)
		defer p.Close()
		var s sink
		p.AddStream(1, &s)
		p.SetTargetBitrate(400_000) // 60 kB/s
		start := time.Now()
		for i := range 30 {
			_, _ = p.Write(&rtp.Header{SSRC: 1, SequenceNumber: uint16(i)}, make([]byte, 988), nil)
		}
		for s.count() < 30 {
			time.Sleep(10 * time.Millisecond)
		}
		if took := s.times[29].Sub(start); took < 340*time.Millisecond { // 27 kB after the 3 kB burst
			t.Errorf("30 kB left in %v at 600 kbit/s pacing", took)
		}
	})
}

func TestPacerBoundsItsQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer(100_000) // paced at 150 kbit/s: MaxQueueDelay holds about 9 kB
		defer p.Close()
		var s sink
		p.AddStream(1, &s)
		for i := range 30 {
			_, _ = p.Write(&rtp.Header{SSRC: 1, SequenceNumber: uint16(i)}, make([]byte, 988), nil)
		}
		st := p.Stats()
		if st.Dropped < 15 || st.Dropped > 25 {
			t.Fatalf("dropped %d of 30 kB at 150 kbit/s with a %v queue, want about 20", st.Dropped, MaxQueueDelay)
		}
		if d := p.QueueDelay(); d > MaxQueueDelay {
			t.Fatalf("queue delay %v over the bound", d)
		}
	})
}

func TestPacerSendsRetransmissionsThroughTheStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer(100_000)
		var s sink
		p.AddStream(1, &s)
		// Fill the bucket so that the retransmission has to wait in the queue.
		_, _ = p.Write(&rtp.Header{SSRC: 1, SequenceNumber: 1}, make([]byte, 3000), nil)
		r := &fakeResend{}
		_, _ = p.Write(&rtp.Header{SSRC: 2, SequenceNumber: 9}, make([]byte, 500), interceptor.Attributes{resendKey{}: r})
		r.mu.Lock()
		retained := r.retained
		r.mu.Unlock()
		if retained != 1 {
			t.Fatalf("a queued retransmission was retained %d times, want 1", retained)
		}
		for s.count() < 2 {
			time.Sleep(10 * time.Millisecond)
		}
		if s.ssrcs[1] != 2 {
			t.Fatalf("sent ssrcs %v", s.ssrcs)
		}
		if st := p.Stats(); st.RTXPackets != 1 {
			t.Errorf("rtx packets %d, want 1", st.RTXPackets)
		}
		r.mu.Lock()
		released := r.released
		r.mu.Unlock()
		if len(released) != 1 || !released[0] {
			t.Errorf("released %v, want [true]", released)
		}
		// Close drops what is queued and tells the tracker it was not sent.
		_, _ = p.Write(&rtp.Header{SSRC: 1, SequenceNumber: 2}, make([]byte, 3000), nil)
		r2 := &fakeResend{}
		_, _ = p.Write(&rtp.Header{SSRC: 2, SequenceNumber: 10}, make([]byte, 500), interceptor.Attributes{resendKey{}: r2})
		_ = p.Close()
		if len(r2.released) != 1 || r2.released[0] {
			t.Errorf("after close released %v, want [false]", r2.released)
		}
		if _, err := p.Write(&rtp.Header{SSRC: 1}, nil, nil); err == nil {
			t.Error("write after close succeeded")
		}
	})
}
