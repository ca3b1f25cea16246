// Package media is a session's WebRTC media: what the host offers, how a game's frames become
// RTP packets, and how the stream adapts to the player's link.
//
//   - Engine is a host's machinery, shared by its sessions: the codecs offered (Codec values:
//     H264, VP8, in --codecs order), the ICE settings, and the one UDP port every session uses
//     (a socket per interface address behind one mux; NAT 1:1 rewrites the candidate of the
//     local address the public one maps to). NewPeer gives each session a PeerConnection with
//     its own congestion controller (pion's GCC over transport-cc) and Pacer.
//   - VideoSender is a session's video track. It owns mailbox → encoder → packetizer → RTP,
//     the RTCP loop (keyframe requests, NACK and loss counts) and the rate loop: per frame,
//     RateController turns the estimate into the encoder's bit rate and a rung of the
//     resolution ladder. It learns the negotiated codec when the answer is applied (Bind) and
//     reports failure by returning from Run.
//   - Pacer spreads packets at 1.5× the estimate, bounded, with its queue delay reported so
//     that the sender skips a frame rather than queue behind a backlog.
//
// An audio sender will sit beside VideoSender on the same PeerConnection and share its pacer
// and estimator. docs/ARCHITECTURE.md ("Rate control") says why each number is what it is.
package media
