package media

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// Pacer spreads a PeerConnection's RTP packets out over time at PacingFactor × the congestion
// controller's target, so that a frame (a keyframe above all) never leaves as one burst that
// a shallow router queue would drop. It implements gcc.Pacer: the send-side bandwidth
// estimator hands it every packet and every new target.
//
// It replaces pion's LeakyBucketPacer, which ticks every 5 ms even when idle, has no bound on
// its queue and drops retransmissions (their SSRC has no writer of its own). This one
//   - sends a packet at once, on the caller's goroutine, when the token bucket allows (the
//     common case for small frames: no goroutine hop, no added latency);
//   - otherwise queues it and lets one goroutine send it when the tokens are there, sleeping
//     while the queue is empty;
//   - bounds the queue by time (MaxQueueDelay at the current rate) and counts what it refuses;
//   - reports its queue delay, which the video sender reads to skip encoding a frame rather
//     than add to a backlog;
//   - sends packets of an SSRC it does not know (RTX) through any stream's writer: all of a
//     PeerConnection's writers end in the same SRTP session, which keys on the packet's SSRC.
type Pacer struct {
	mu      sync.Mutex
	writers map[uint32]interceptor.RTPWriter // guarded by mu
	any     interceptor.RTPWriter            // guarded by mu; the first writer added
	queue   []pacedPacket                    // guarded by mu; FIFO
	queued  int                              // guarded by mu; payload+header bytes in queue
	rateBps float64                          // guarded by mu; pacing rate
	target  float64                          // guarded by mu; the estimator's target, bit/s
	floor   float64                          // guarded by mu; the encoder's rate, bit/s
	tokens  float64                          // guarded by mu; bytes that may leave now
	last    time.Time                        // guarded by mu; when tokens were last refilled
	closed  bool                             // guarded by mu
	sending bool                             // guarded by mu; run is writing a dequeued packet

	wake chan struct{} // capacity 1: a packet was queued or the rate changed
	done chan struct{}
	wg   sync.WaitGroup

	now func() time.Time

	sentPackets, sentBytes, dropped, rtxPackets atomic.Uint64
	mainSSRC                                    atomic.Uint32
}

// Pacing parameters.
const (
	// PacingFactor is how much faster than the target the pacer may send: bursts above the
	// average (a keyframe) drain quickly, and the link is never offered more than this.
	PacingFactor = 1.5
	// burstWindow is how much sending time the token bucket may save up: packets within it
	// leave at once.
	burstWindow = 4 * time.Millisecond
	// MaxQueueDelay bounds the queue: a packet that would wait longer is dropped (and counted).
	MaxQueueDelay = 500 * time.Millisecond
	minBurstBytes = 2 * 1500
	// minPacingBps is the least rate the pacer assumes, whatever it is told.
	minPacingBps = 10_000
)

type pacedPacket struct {
	header  rtp.Header
	payload []byte
	attrs   interceptor.Attributes
	release func(sent bool)
}

// NewPacer returns a pacer that starts at initialBps (bits per second) and runs until Close.
func NewPacer(initialBps int) *Pacer {
	p := &Pacer{
		writers: make(map[uint32]interceptor.RTPWriter),
		target:  float64(initialBps),
		rateBps: max(float64(initialBps), minPacingBps) * PacingFactor,
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		now:     time.Now,
	}
	p.last = p.now()
	p.tokens = p.burstLocked()
	p.wg.Go(p.run)
	return p
}

// AddStream registers the writer for one SSRC (gcc.Pacer).
func (p *Pacer) AddStream(ssrc uint32, w interceptor.RTPWriter) {
	p.mu.Lock()
	p.writers[ssrc] = w
	if p.any == nil {
		p.any = w
		p.mainSSRC.Store(ssrc)
	}
	p.mu.Unlock()
}

// SetTargetBitrate sets the target in bits per second (gcc.Pacer); the pacer sends at
// PacingFactor times it, or times the encoder's rate if that is higher (SetFloor).
func (p *Pacer) SetTargetBitrate(bps int) {
	p.mu.Lock()
	p.target = float64(bps)
	p.setRateLocked()
	p.mu.Unlock()
}

// SetFloor tells the pacer the encoder's bit rate. The estimate can fall below the least rate
// the encoder is allowed; pacing slower than the encoder produces would only grow the queue.
func (p *Pacer) SetFloor(bps int) {
	p.mu.Lock()
	p.floor = float64(bps)
	p.setRateLocked()
	p.mu.Unlock()
}

func (p *Pacer) setRateLocked() {
	p.refillLocked(p.now())
	p.rateBps = max(p.target, p.floor, minPacingBps) * PacingFactor
	select { // a run loop sleeping until tokens suffice recomputes its wait
	case p.wake <- struct{}{}:
	default:
	}
}

// QueueDelay is how long the packets queued now will take to leave.
func (p *Pacer) QueueDelay() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.delayLocked(p.queued)
}

// PacerStats are the pacer's counters since it started.
type PacerStats struct {
	SentPackets, SentBytes uint64
	RTXPackets             uint64 // packets sent on an SSRC other than the first stream's
	Dropped                uint64 // refused because the queue was full or the pacer closed
}

// Stats returns the pacer's counters.
func (p *Pacer) Stats() PacerStats {
	return PacerStats{
		SentPackets: p.sentPackets.Load(), SentBytes: p.sentBytes.Load(),
		RTXPackets: p.rtxPackets.Load(), Dropped: p.dropped.Load(),
	}
}

func (p *Pacer) delayLocked(bytes int) time.Duration {
	return time.Duration(float64(bytes) * 8 / p.rateBps * float64(time.Second))
}

func (p *Pacer) burstLocked() float64 {
	return max(p.rateBps/8*burstWindow.Seconds(), minBurstBytes)
}

func (p *Pacer) refillLocked(now time.Time) {
	p.tokens = min(p.tokens+now.Sub(p.last).Seconds()*p.rateBps/8, p.burstLocked())
	p.last = now
}

// Write sends or queues one packet (interceptor.RTPWriter). It never blocks on the network's
// pace. The header and payload are copied when the packet has to wait.
func (p *Pacer) Write(h *rtp.Header, payload []byte, attrs interceptor.Attributes) (int, error) {
	size := h.MarshalSize() + len(payload)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.dropped.Add(1)
		return 0, errPacerClosed
	}
	p.refillLocked(p.now())
	if len(p.queue) == 0 && !p.sending && p.tokens >= float64(size) {
		p.tokens -= float64(size)
		w := p.writerLocked(h.SSRC)
		p.mu.Unlock()
		return p.send(w, h, payload, attrs, size)
	}
	if p.delayLocked(p.queued+size) > MaxQueueDelay {
		p.mu.Unlock()
		p.dropped.Add(1)
		// A lost packet: the receiver's NACK or PLI repairs it. The error tells the NACK
		// responder that a retransmission did not leave, so it may be asked for again.
		return 0, errPacerFull
	}
	pk := pacedPacket{header: h.Clone(), payload: append([]byte(nil), payload...), attrs: attrs}
	if r, ok := resendOf(attrs); ok {
		// A retransmission: the NACK responder learns whether it went out once we send it.
		r.Retain()
		pk.release = r.Release
	}
	p.queue = append(p.queue, pk)
	p.queued += size
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return size, nil
}

// resender is pion's retransmission tracker (its type is internal to pion/interceptor): the
// NACK responder attaches one to each retransmission and learns through Release whether the
// packet left.
type resender interface {
	Retain()
	Release(sent bool)
}

func resendOf(attrs interceptor.Attributes) (resender, bool) {
	for _, v := range attrs {
		if r, ok := v.(resender); ok {
			return r, true
		}
	}
	return nil, false
}

func (p *Pacer) writerLocked(ssrc uint32) interceptor.RTPWriter {
	if w, ok := p.writers[ssrc]; ok {
		return w
	}
	return p.any
}

func (p *Pacer) send(w interceptor.RTPWriter, h *rtp.Header, payload []byte, attrs interceptor.Attributes, size int) (int, error) {
	if w == nil {
		p.dropped.Add(1)
		return 0, errNoStream
	}
	n, err := w.Write(h, payload, attrs)
	if err == nil {
		p.sentPackets.Add(1)
		p.sentBytes.Add(uint64(size))
		if h.SSRC != p.mainSSRC.Load() {
			p.rtxPackets.Add(1)
		}
	}
	return n, err
}

// run sends queued packets as tokens allow; it sleeps while the queue is empty.
func (p *Pacer) run() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		p.mu.Lock()
		for len(p.queue) > 0 && !p.closed {
			p.refillLocked(p.now())
			pk := p.queue[0]
			size := pk.header.MarshalSize() + len(pk.payload)
			if p.tokens < float64(size) && p.tokens < p.burstLocked() {
				break // wait for tokens (a packet larger than the burst goes once it is full)
			}
			p.tokens -= float64(size)
			p.queue[0] = pacedPacket{}
			p.queue = p.queue[1:]
			p.queued -= size
			w := p.writerLocked(pk.header.SSRC)
			p.sending = true // Write must not overtake this packet while it is written
			p.mu.Unlock()
			_, err := p.send(w, &pk.header, pk.payload, pk.attrs, size)
			if pk.release != nil {
				pk.release(err == nil)
			}
			p.mu.Lock()
			p.sending = false
		}
		var wait time.Duration
		if len(p.queue) > 0 {
			size := p.queue[0].header.MarshalSize() + len(p.queue[0].payload)
			need := min(float64(size), p.burstLocked()) - p.tokens
			wait = max(time.Duration(need*8/p.rateBps*float64(time.Second)), 100*time.Microsecond)
		}
		p.mu.Unlock()
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-p.done:
				return
			case <-timer.C:
			case <-p.wake: // a new packet or a new rate: look again
				timer.Stop()
			}
			continue
		}
		select {
		case <-p.done:
			return
		case <-p.wake:
		}
	}
}

// Close stops the pacer; queued packets are dropped. It is idempotent.
func (p *Pacer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	queue := p.queue
	p.queue, p.queued = nil, 0
	p.mu.Unlock()
	close(p.done)
	p.wg.Wait()
	for _, pk := range queue {
		if pk.release != nil {
			pk.release(false)
		}
		p.dropped.Add(1)
	}
	return nil
}
