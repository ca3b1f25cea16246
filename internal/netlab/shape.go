package netlab

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Direction names one way of the lab link.
type Direction int

const (
	// ToPlayer is host → player: video, downstream.
	ToPlayer Direction = iota
	// ToHost is player → host: input and RTCP, upstream.
	ToHost
)

func (d Direction) valid() error {
	if d != ToPlayer && d != ToHost {
		return fmt.Errorf("netlab: unknown direction %d", int(d))
	}
	return nil
}

func (d Direction) String() string {
	if d == ToHost {
		return "to-host"
	}
	return "to-player"
}

// DefaultQueue is the tbf queue limit, as the delay the queue may add, when Shape.Queue is 0.
const DefaultQueue = 80 * time.Millisecond

// Shape is what one direction of the link does to packets. The zero Shape passes everything.
type Shape struct {
	// RateKbit limits the rate (token bucket filter); 0 is unlimited.
	RateKbit int
	// Burst is the bucket size in bytes; 0 picks 10 ms at RateKbit, at least 3200 bytes.
	Burst int
	// Queue bounds the queue in front of the limit by the delay it may add; packets beyond
	// are dropped. 0 is DefaultQueue.
	Queue time.Duration
	// LossPermille drops this many UDP packets in 1000, at random (0…1000). TCP is never
	// dropped, so NATS and HTTP between host and test are not disturbed.
	LossPermille int
}

// Shape sets how direction d treats packets from now on, replacing its previous Shape. The
// rate limit sits on the egress of the lab link's sending end (the host, or in NAT mode the
// router, towards the player; the root namespace towards the host); the loss on the ingress
// of its receiving end.
func (l *Lab) Shape(d Direction, s Shape) error {
	if err := d.valid(); err != nil {
		return err
	}
	if s.RateKbit < 0 || s.Burst < 0 || s.Queue < 0 || s.LossPermille < 0 || s.LossPermille > 1000 {
		return fmt.Errorf("netlab: invalid shape %+v", s)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ns, ifname := l.qdiscEnd(d)
	switch {
	case s.RateKbit > 0:
		burst := s.Burst
		if burst == 0 {
			burst = max(s.RateKbit*1000/8/100, 3200)
		}
		queue := s.Queue
		if queue == 0 {
			queue = DefaultQueue
		}
		if _, err := run(ctx, ns, "", "tc", "qdisc", "replace", "dev", ifname, "root", "tbf",
			"rate", strconv.Itoa(s.RateKbit)+"kbit", "burst", strconv.Itoa(burst),
			"latency", strconv.FormatInt(queue.Microseconds(), 10)+"us"); err != nil {
			return err
		}
		l.shaped[d] = true
	case l.shaped[d]:
		if _, err := run(ctx, ns, "", "tc", "qdisc", "del", "dev", ifname, "root"); err != nil {
			return err
		}
		l.shaped[d] = false
	}
	ns, ifname, table := l.lossEnd(d)
	_, err := run(ctx, ns, lossRule(table, ifname, s.LossPermille), "nft", "-f", "-")
	return err
}

// Clear removes all shaping in both directions.
func (l *Lab) Clear() error {
	if err := l.Shape(ToPlayer, Shape{}); err != nil {
		return err
	}
	return l.Shape(ToHost, Shape{})
}

// qdiscEnd is the sending end of the lab link for d.
func (l *Lab) qdiscEnd(d Direction) (ns, ifname string) {
	if d == ToPlayer {
		return l.farNS, l.farIf
	}
	return "", l.rootIf
}

// lossEnd is the receiving end of the lab link for d, and its loss table.
func (l *Lab) lossEnd(d Direction) (ns, ifname, table string) {
	if d == ToPlayer {
		return "", l.rootIf, l.rootTable
	}
	return l.farNS, l.farIf, farTable
}

// LinkStats counts what one direction of the link did.
type LinkStats struct {
	// Packets and Bytes went through the rate limiter; QueueDrops were dropped by it because
	// its queue was full. All three count from the Shape that installed the limiter and are
	// zero while the direction has no rate limit.
	Packets, Bytes, QueueDrops uint64
	// LossDrops counts UDP packets dropped at random since Open.
	LossDrops uint64
}

// Stats reads the counters of direction d.
func (l *Lab) Stats(d Direction) (LinkStats, error) {
	var st LinkStats
	if err := d.valid(); err != nil {
		return st, err
	}
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return st, ErrClosed
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ns, ifname := l.qdiscEnd(d)
	out, err := run(ctx, ns, "", "tc", "-s", "-j", "qdisc", "show", "dev", ifname)
	if err != nil {
		return st, err
	}
	var qdiscs []struct {
		Kind                  string
		Root                  bool
		Bytes, Packets, Drops uint64
	}
	if err := json.Unmarshal(out, &qdiscs); err != nil {
		return st, fmt.Errorf("netlab: parse tc output: %w", err)
	}
	for _, q := range qdiscs {
		if q.Kind == "tbf" && q.Root {
			st.Packets, st.Bytes, st.QueueDrops = q.Packets, q.Bytes, q.Drops
		}
	}
	ns, _, table := l.lossEnd(d)
	out, err = run(ctx, ns, "", "nft", "-j", "list", "counter", "inet", table, "drops")
	if err != nil {
		return st, err
	}
	var list struct {
		Nftables []struct {
			Counter *struct{ Packets uint64 }
		}
	}
	if err := json.Unmarshal(out, &list); err != nil {
		return st, fmt.Errorf("netlab: parse nft output: %w", err)
	}
	for _, o := range list.Nftables {
		if o.Counter != nil {
			st.LossDrops = o.Counter.Packets
		}
	}
	return st, nil
}
