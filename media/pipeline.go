package media

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgeplay/edgeplay/encoder"
	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/internal/metrics"
)

// pipeline is Run's state once the codec is known.
type pipeline struct {
	v      *VideoSender
	b      binding
	pk     rtp.Packetizer
	rc     *RateController
	ladder []Rung
	enc    videoEncoder
	first  time.Time // Ready of the first frame sent: RTP time 0

	mEncoded, mBytes, mHeight, mSkipped prometheus.Counter
	mSwitchUp, mSwitchDown, mRTX        prometheus.Counter
	mPacerDropped                       prometheus.Counter
	mEncode, mLatency, mTarget, mEstim  prometheus.Observer
	mPacerDelay                         prometheus.Observer
	lastSample                          time.Time
	lastFrames                          uint64     // framesEncoded at lastSample
	lastPacer                           PacerStats // at lastSample
}

func newPipeline(v *VideoSender, b binding) *pipeline {
	cfg := v.cfg
	p := &pipeline{
		v: v, b: b,
		pk:     rtp.NewPacketizer(rtpMTU, b.pt, b.ssrc, b.codec.newPayloader(), rtp.NewRandomSequencer(), b.codec.ClockRate),
		ladder: Ladder(cfg.Width, cfg.Height),
	}
	start := cfg.StartKbps * 1000
	if cfg.FixedKbps > 0 {
		p.ladder = p.ladder[:1]
		start = cfg.FixedKbps * 1000
	}
	rc := RateConfig{FPS: cfg.FPS, MinKbps: cfg.MinKbps, MaxKbps: cfg.MaxKbps}
	if cfg.FixedKbps > 0 {
		rc.MinKbps, rc.MaxKbps, rc.Headroom = cfg.FixedKbps, cfg.FixedKbps, 1
	}
	p.rc = NewRateController(rc, p.ladder, start)
	h := cfg.Host
	p.mEncoded, p.mBytes = metrics.FramesEncoded.WithLabelValues(h), metrics.VideoBytes.WithLabelValues(h)
	p.mEncode, p.mLatency = metrics.EncodeSeconds.WithLabelValues(h), metrics.SendLatencySeconds.WithLabelValues(h)
	p.mTarget, p.mEstim = metrics.VideoTargetKbps.WithLabelValues(h), metrics.VideoEstimateKbps.WithLabelValues(h)
	p.mSkipped = metrics.FramesSkipped.WithLabelValues(h)
	p.mSwitchUp = metrics.ResolutionSwitches.WithLabelValues(h, "up")
	p.mSwitchDown = metrics.ResolutionSwitches.WithLabelValues(h, "down")
	p.mRTX, p.mPacerDropped = metrics.RTXPackets.WithLabelValues(h), metrics.PacerDropped.WithLabelValues(h)
	p.mPacerDelay = metrics.PacerDelaySeconds.WithLabelValues(h)
	return p
}

// rtpTime is d on an RTP clock of rate Hz, wrapping at 2³² as RTP timestamps do. (Converting
// a float beyond 2³² to uint32 is implementation-defined in Go: arm64 saturates it, which
// would freeze the video after 13 hours at 90 kHz.)
func rtpTime(d time.Duration, rate uint32) uint32 {
	return uint32(uint64(d/time.Microsecond) * uint64(rate) / 1_000_000)
}

func (p *pipeline) close() {
	p.flushMetrics()
	if p.enc != nil {
		_ = p.enc.Close()
		p.enc = nil
	}
}

// flushMetrics adds the pacer's counts since the last flush to the host's metrics.
func (p *pipeline) flushMetrics() {
	ps := p.v.peer.Pacer.Stats()
	p.mRTX.Add(float64(ps.RTXPackets - p.lastPacer.RTXPackets))
	p.mPacerDropped.Add(float64(ps.Dropped - p.lastPacer.Dropped))
	p.lastPacer = ps
}

// open (re)opens the encoder for the current rung; its first frame is a keyframe.
func (p *pipeline) open() error {
	p.close()
	r := p.rc.Rung()
	cfg := p.v.cfg
	ec := encoder.Config{
		Codec: p.b.codec.Name, Width: r.Width, Height: r.Height, SrcWidth: cfg.Width, SrcHeight: cfg.Height,
		FPS: cfg.FPS, BitrateKbps: p.rc.Kbps(),
	}
	if p.b.codec.Name == H264.Name {
		ec.Backend = cfg.EncoderBackend
	}
	enc, err := p.v.openEncoder(ec)
	if err != nil {
		return fmt.Errorf("open %s encoder at %s: %w", p.b.codec.Name, r, err)
	}
	p.enc = enc
	if enc.Backend() == encoder.BackendNVENC {
		// FFmpeg's NVENC wrapper resets the encoder with an IDR on every bit-rate change.
		p.rc.cfg = p.rc.cfg.CostlyChanges()
	}
	p.v.peer.Pacer.SetFloor(p.rc.Kbps() * 1000)
	p.v.width.Store(int64(r.Width))
	p.v.height.Store(int64(r.Height))
	p.mHeight = metrics.FramesByHeight.WithLabelValues(cfg.Host, strconv.Itoa(r.Height))
	return nil
}

func (p *pipeline) run(ctx context.Context) error {
	v := p.v
	if err := p.open(); err != nil {
		return err
	}
	v.log.Info("video started", "codec", p.b.codec.Name, "size", p.rc.Rung().String(), "kbps", p.rc.Kbps())
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-v.box.ready:
		}
		f := v.box.take()
		if f == nil {
			continue
		}
		err := p.frame(f)
		f.Release()
		if err != nil {
			return err
		}
	}
}

// frame adapts the rate, then encodes and sends one frame (or skips it under a backlog).
func (p *pipeline) frame(f *game.Frame) error {
	v := p.v
	now := time.Now()
	est := v.peer.Estimator.GetTargetBitrate()
	d := p.rc.Update(now, est)
	v.targetKbps.Store(int64(d.Kbps))
	v.estimateKbps.Store(int64(est / 1000))
	if now.Sub(p.lastSample) >= time.Second {
		fps := float64(v.framesEncoded.Load()-p.lastFrames) / now.Sub(p.lastSample).Seconds()
		p.lastSample, p.lastFrames = now, v.framesEncoded.Load()
		p.mTarget.Observe(float64(d.Kbps))
		p.mEstim.Observe(float64(est / 1000))
		ps := v.peer.Pacer.Stats()
		v.log.Debug("video rate", "fps", int(fps), "estimate_kbps", est/1000, "target_kbps", d.Kbps, "size", p.rc.Rung().String(),
			"pacer_delay", v.peer.Pacer.QueueDelay(), "skipped", v.framesSkipped.Load(), "rtx", ps.RTXPackets,
			"pacer_dropped", ps.Dropped, "nacks", v.nacks.Load(), "plis", v.plis.Load())
		p.flushMetrics()
	}
	switch {
	case d.Switch:
		old := Rung{int(v.width.Load()), int(v.height.Load())}
		if err := p.open(); err != nil {
			return err
		}
		v.switches.Add(1)
		if p.rc.Rung().Height > old.Height {
			p.mSwitchUp.Inc()
		} else {
			p.mSwitchDown.Inc()
		}
		v.log.Info("video resolution changed", "from", old.String(), "to", p.rc.Rung().String(),
			"kbps", d.Kbps, "estimate_kbps", est/1000)
	case d.SetBitrate:
		if err := p.enc.SetBitrate(d.Kbps); err != nil && !errors.Is(err, encoder.ErrNotSupported) {
			return fmt.Errorf("set bitrate %d kbps: %w", d.Kbps, err)
		}
	}
	if d.Switch || d.SetBitrate {
		v.peer.Pacer.SetFloor(d.Kbps * 1000)
	}

	force := v.forceIDR.Load()
	backlog := v.peer.Pacer.QueueDelay()
	p.mPacerDelay.Observe(backlog.Seconds())
	if !force && !d.Switch && backlog > skipQueueDelay {
		v.framesSkipped.Add(1)
		p.mSkipped.Inc()
		return nil
	}
	if force {
		v.forceIDR.Store(false)
	}
	pkt, err := p.enc.Encode(f, force)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	if p.first.IsZero() {
		p.first = f.Ready
	}
	// RTP timestamps follow the frame's render time, so dropped or skipped frames leave a gap
	// in time rather than slowing the video down.
	ts := rtpTime(f.Ready.Sub(p.first), p.b.codec.ClockRate)
	var sent int
	for _, rp := range p.pk.Packetize(pkt.Data, 0) {
		rp.Timestamp += ts
		if p.b.playoutID != 0 {
			_ = rp.SetExtension(p.b.playoutID, playoutDelayZero)
		}
		if _, err := p.b.w.WriteRTP(&rp.Header, rp.Payload); err != nil && !errors.Is(err, context.Canceled) {
			v.log.Debug("write rtp", "err", err)
		}
		sent += len(rp.Payload)
	}
	lat := time.Since(f.Ready)
	if v.cfg.OnFrameSent != nil {
		v.cfg.OnFrameSent(lat)
	}
	p.mLatency.Observe(lat.Seconds())
	p.mEncode.Observe((pkt.ConvertDur + pkt.EncodeDur).Seconds())
	p.mEncoded.Inc()
	p.mHeight.Inc()
	p.mBytes.Add(float64(sent))
	v.framesEncoded.Add(1)
	if pkt.Keyframe {
		v.keyframes.Add(1)
	}
	v.bytesSent.Add(uint64(sent))
	v.encodeNanos.Add(int64(pkt.ConvertDur + pkt.EncodeDur))
	return nil
}
