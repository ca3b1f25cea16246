package media

import "time"

// VideoStats are a video sender's counters and current settings.
type VideoStats struct {
	Codec         string // "" until negotiated
	Width, Height int    // the size being encoded
	TargetKbps    int    // the encoder's bit rate
	EstimateKbps  int    // the congestion controller's estimate of the link
	FramesEncoded uint64
	FramesDropped uint64 // replaced in the mailbox before the encoder took them
	FramesSkipped uint64 // not encoded because the pacer had a backlog
	Keyframes     uint64
	BytesSent     uint64 // encoded payload bytes
	PLIs          uint64 // keyframe requests (PLI, FIR) received
	NACKs         uint64 // packets the player reported lost
	RTXPackets    uint64 // retransmissions sent
	PacketsPaced  uint64 // packets the pacer sent, retransmissions included
	PacerDropped  uint64 // packets the pacer refused (queue over MaxQueueDelay)
	PacerDelay    time.Duration
	Switches      uint64  // resolution changes
	LossPct       float64 // from the player's last receiver report
	EncodeTimeSum time.Duration
}

// Stats returns the sender's counters; safe at any time.
func (v *VideoSender) Stats() VideoStats {
	ps := v.peer.Pacer.Stats()
	return VideoStats{
		Codec: v.codecName.Load().(string), Width: int(v.width.Load()), Height: int(v.height.Load()),
		TargetKbps: int(v.targetKbps.Load()), EstimateKbps: int(v.estimateKbps.Load()),
		FramesEncoded: v.framesEncoded.Load(), FramesDropped: v.box.dropped.Load(),
		FramesSkipped: v.framesSkipped.Load(), Keyframes: v.keyframes.Load(), BytesSent: v.bytesSent.Load(),
		PLIs: v.plis.Load(), NACKs: v.nacks.Load(), RTXPackets: ps.RTXPackets, PacketsPaced: ps.SentPackets,
		PacerDropped: ps.Dropped, PacerDelay: v.peer.Pacer.QueueDelay(), Switches: v.switches.Load(),
		LossPct:       float64(v.fractionLost.Load()) * 100 / 256,
		EncodeTimeSum: time.Duration(v.encodeNanos.Load()),
	}
}
