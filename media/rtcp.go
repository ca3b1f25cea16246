package media

import (
	"errors"
	"io"
	"time"

	"github.com/pion/rtcp"

	"github.com/edgeplay/edgeplay/internal/metrics"
)

// maxRTCPFailures is how many RTCP read errors in a row end the reader (about 1.3 s of
// retries with its back-off).
const maxRTCPFailures = 50

// readRTCP watches the player's feedback: keyframe requests, NACKs and receiver reports. (The
// interceptors see the same packets first: NACKs are answered with retransmissions there, and
// transport-wide feedback feeds the estimator, and this loop's reads are what pull the
// packets through them.) It returns when the sender stops. Any other error (a packet that does
// not parse) is skipped: ending the loop would leave the session without congestion control,
// retransmissions or keyframe requests. Only a long run of errors ends it.
func (v *VideoSender) readRTCP() {
	host := v.cfg.Host
	mNACK, mPLI := metrics.NACKs.WithLabelValues(host), metrics.KeyframeRequests.WithLabelValues(host)
	failures := 0
	for {
		pkts, _, err := v.sender.ReadRTCP()
		if err != nil {
			if v.stopping.Load() || errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) {
				return
			}
			if failures++; failures >= maxRTCPFailures {
				v.log.Warn("RTCP reader stopped after repeated errors", "err", err)
				return
			}
			v.log.Debug("bad RTCP skipped", "err", err)
			time.Sleep(time.Duration(failures) * time.Millisecond)
			continue
		}
		failures = 0
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.TransportLayerNack:
				var n uint64
				for _, pair := range p.Nacks {
					n += uint64(len(pair.PacketList()))
				}
				v.nacks.Add(n)
				mNACK.Add(float64(n))
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				v.plis.Add(1)
				mPLI.Inc()
				now := time.Now().UnixNano()
				if last := v.lastIDR.Load(); now-last >= int64(minIDRInterval) && v.lastIDR.CompareAndSwap(last, now) {
					v.forceIDR.Store(true)
				}
			case *rtcp.ReceiverReport:
				for _, r := range p.Reports {
					if r.SSRC == v.ssrc.Load() { // not the RTX stream's report
						v.fractionLost.Store(uint32(r.FractionLost))
					}
				}
			}
		}
	}
}
