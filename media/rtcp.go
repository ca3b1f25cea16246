package media

import (
	"time"

	"github.com/pion/rtcp"

	"github.com/edgeplay/edgeplay/internal/metrics"
)

// readRTCP watches the player's feedback: keyframe requests, NACKs and receiver reports. (The
// interceptors see the same packets first: NACKs are answered with retransmissions there, and
// transport-wide feedback feeds the estimator.) It returns when the sender stops.
func (v *VideoSender) readRTCP() {
	host := v.cfg.Host
	mNACK, mPLI := metrics.NACKs.WithLabelValues(host), metrics.KeyframeRequests.WithLabelValues(host)
	for {
		pkts, _, err := v.sender.ReadRTCP()
		if err != nil {
			return
		}
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
					v.fractionLost.Store(uint32(r.FractionLost))
				}
			}
		}
	}
}
