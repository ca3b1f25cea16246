// Package metrics holds edgeplay's Prometheus collectors, registered once in the default
// registry and served at /metrics by the gateway (and by any role with --metrics-addr).
// docs/ARCHITECTURE.md ("Metrics") lists them.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var kbpsBuckets = []float64{250, 500, 750, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 8000, 10000, 15000}

var latencyBuckets = []float64{.001, .002, .003, .004, .005, .0075, .01, .015, .02, .03, .05, .1}

// Session host.
var (
	SessionsActive = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "edgeplay_sessions_active", Help: "Sessions on the host (reserved, connecting or playing).",
	}, []string{"host"})
	SessionsStarted = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_sessions_started_total", Help: "Sessions whose player connected.",
	}, []string{"host"})
	SessionsEnded = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_sessions_ended_total", Help: "Sessions ended, by reason.",
	}, []string{"host", "reason"})
	FramesEncoded = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_frames_encoded_total", Help: "Video frames encoded and sent.",
	}, []string{"host"})
	FramesDropped = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_frames_dropped_total", Help: "Frames replaced by a newer one before the encoder took them.",
	}, []string{"host"})
	KeyframeRequests = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_keyframe_requests_total", Help: "PLI and FIR messages received from players.",
	}, []string{"host"})
	NACKs = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_nacks_total", Help: "Packets players reported lost and asked for again (RTCP NACK).",
	}, []string{"host"})
	RTXPackets = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_rtx_packets_total", Help: "Retransmissions sent (RTX, answering NACKs).",
	}, []string{"host"})
	PacerDelaySeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "edgeplay_pacer_delay_seconds",
		Help:    "How long the pacer's queue takes to drain when a frame is ready: what the frame's packets will wait.",
		Buckets: latencyBuckets,
	}, []string{"host"})
	PacerDropped = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_pacer_dropped_packets_total", Help: "RTP packets the pacer refused because its queue was full.",
	}, []string{"host"})
	FramesSkipped = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_frames_skipped_total", Help: "Frames not encoded because the pacer still held a backlog.",
	}, []string{"host"})
	AudioFrames = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_audio_frames_total", Help: "Opus frames encoded (sent or, in silence, left out by DTX).",
	}, []string{"host"})
	AudioDTXFrames = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_audio_dtx_frames_total", Help: "Opus frames not sent because they were silence (DTX).",
	}, []string{"host"})
	AudioBytes = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_audio_bytes_total", Help: "Opus payload bytes sent.",
	}, []string{"host"})
	AudioLatencySeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "edgeplay_audio_latency_seconds",
		Help:    "Time from where an Opus frame's first sample belongs on the game's clock to its packet handed to the pacer.",
		Buckets: []float64{.005, .01, .015, .02, .03, .04, .06, .1},
	}, []string{"host"})
	InputToFrameSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "edgeplay_input_to_frame_seconds",
		Help:    "Time from a player's input reaching the host to the first frame the game says reflects it (any game: frames carry the input seq they applied).",
		Buckets: []float64{.002, .005, .01, .017, .025, .033, .05, .075, .1, .15, .25},
	}, []string{"host"})
	GameHandoffSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "edgeplay_game_handoff_seconds",
		Help:    "A game process's frame from its pts (the game finished it) to the host taking it off the link: the process boundary's cost.",
		Buckets: []float64{.00005, .0001, .0002, .0003, .0005, .001, .002, .005, .01, .02},
	}, []string{"game"})
	FramesByHeight = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_video_frames_total", Help: "Video frames sent, by encoded height (the resolution ladder's rung).",
	}, []string{"host", "height"})
	ResolutionSwitches = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_video_resolution_switches_total", Help: "Resolution ladder steps, by direction (up, down).",
	}, []string{"host", "direction"})
	VideoTargetKbps = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name: "edgeplay_video_target_kbps", Help: "The encoder's bit rate, sampled once a second per session.",
		Buckets: kbpsBuckets,
	}, []string{"host"})
	VideoEstimateKbps = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name: "edgeplay_video_estimate_kbps", Help: "The congestion controller's link estimate, sampled once a second per session.",
		Buckets: kbpsBuckets,
	}, []string{"host"})
	EncodeSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name: "edgeplay_encode_seconds", Help: "Time to convert and encode one frame.", Buckets: latencyBuckets,
	}, []string{"host"})
	SendLatencySeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "edgeplay_frame_latency_seconds",
		Help:    "Server-side added latency: frame ready to its last RTP packet handed to the pacer.",
		Buckets: latencyBuckets,
	}, []string{"host"})
	VideoBytes = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_video_bytes_total", Help: "Video payload bytes sent.",
	}, []string{"host"})
	InputMessages = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_input_messages_total", Help: "Input messages from players, by result (applied, invalid, limited).",
	}, []string{"host", "result"})
)

// Gateway.
var (
	PlayersConnected = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "edgeplay_player_connections", Help: "Open player websockets.",
	})
	ClientErrors = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_client_errors_total", Help: "Error messages sent to players, by code.",
	}, []string{"code"})
	PlacementSeconds = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "edgeplay_placement_seconds", Help: "Join to placed (matchmaker round trip with reservation).",
		Buckets: latencyBuckets,
	})
)

// Matchmaker.
var (
	Rejected = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_matchmaker_rejected_total",
		Help: "Input the matchmaker refused, by kind (heartbeat, placement, rtt).",
	}, []string{"kind"})
	Placements = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_placements_total", Help: "Placements by outcome (placed, queued, error).",
	}, []string{"outcome"})
	QueueWait = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "edgeplay_queue_wait_seconds", Help: "How long queued players waited before they were placed.",
		Buckets: []float64{1, 2, 5, 10, 20, 30, 60, 120, 300, 600},
	})
	EventsDropped = promauto.NewCounter(prometheus.CounterOpts{
		Name: "edgeplay_events_dropped_total", Help: "Session events the matchmaker could not store in the events stream.",
	})
	QueueLength = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "edgeplay_queue_length", Help: "Tickets waiting, by game (leader only).",
	}, []string{"game"})
)

// Host lifecycle and registry.
var (
	HostDraining = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "edgeplay_host_draining",
		Help: "1 while the host is draining or drained (its edgeplay_sessions_active is the drain's progress), else 0.",
	}, []string{"host"})
	HeartbeatAge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "edgeplay_host_heartbeat_age_seconds", Help: "Time since the matchmaker last heard from each host.",
	}, []string{"host"})
	PlayerRTT = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "edgeplay_player_rtt_seconds", Help: "Players' measured RTT to the data center they were placed in.",
		Buckets: []float64{.005, .01, .02, .03, .04, .06, .08, .12, .2},
	})
)

// TURN server (edgeplay turn, and the one inside up).
var (
	TURNAllocationsActive = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "edgeplay_turn_allocations_active",
		Help: "TURN relay allocations open now, by the client's transport to the server (udp, tcp, tls).",
	}, []string{"transport"})
	TURNAllocations = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_turn_allocations_total",
		Help: "TURN relay allocations made, by the client's transport to the server (udp, tcp, tls).",
	}, []string{"transport"})
	TURNRelayedSessionsActive = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "edgeplay_turn_relayed_sessions_active",
		Help: "Open TURN allocations that carry a session's media (more than 64 KiB relayed; ICE checks alone stay far below).",
	})
	TURNRelayedSessions = promauto.NewCounter(prometheus.CounterOpts{
		Name: "edgeplay_turn_relayed_sessions_total",
		Help: "TURN allocations that carried a session's media (more than 64 KiB relayed).",
	})
	TURNRelayedBytes = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_turn_relayed_bytes_total",
		Help: "Payload bytes the TURN server's relays sent to peers (to_peer: player to host) and received from them (from_peer).",
	}, []string{"direction"})
	TURNRejected = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_turn_rejected_total",
		Help: "TURN requests refused, by reason (malformed, expired, realm, bad_password, quota, capacity, peer).",
	}, []string{"reason"})
)

// Studios (issue 11): usage and join tokens.
var (
	UsageRecords = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_usage_records_total", Help: "Usage records the hosts published: stored (acknowledged by JetStream) or dropped (queue full, or unstored at shutdown).",
	}, []string{"result"})
	StudioSessions = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_studio_sessions_total", Help: "Sessions whose player connected, by studio (\"_\": without a join token).",
	}, []string{"studio"})
	StudioPlayedSeconds = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_studio_played_seconds_total", Help: "Seconds played in sessions that ended, by studio (\"_\": without a join token).",
	}, []string{"studio"})
	JoinTokens = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_join_tokens_total", Help: "Join tokens minted and joins with a token, by result (minted, redeemed, or the refusal's code), by studio where known.",
	}, []string{"result", "studio"})
	WebhookDeliveries = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "edgeplay_webhook_deliveries_total", Help: "Webhook delivery attempts, by result (delivered, failed).",
	}, []string{"result"})
	WebhookLagSeconds = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "edgeplay_webhook_lag_seconds", Help: "From a usage record's time to its webhook's successful delivery.",
		Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800},
	})
)

// Panics counts panics recovered (a session, a connection, a handler): the process carried on.
var Panics = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "edgeplay_panics_total", Help: "Panics recovered, by where (session, game, video, audio, input, a NATS subject, connection, …): the process carried on.",
}, []string{"where"})
