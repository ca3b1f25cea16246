package protocol

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// NATS subjects. Every payload is JSON. docs/PROTOCOL.md ("NATS subjects") documents them.
const (
	// SubjectPlace: gateway → matchmaker request (queue group QueueMatchmaker), PlaceRequest → Reply.
	SubjectPlace = "edgeplay.mm.place"
	// QueueMatchmaker is the queue group every matchmaker replica joins.
	QueueMatchmaker = "edgeplay-matchmaker"
	// SubjectHeartbeatAll matches every host's heartbeat (Heartbeat).
	SubjectHeartbeatAll = "edgeplay.host.*.heartbeat"
	// SubjectEventsAll matches every session and host event (Event).
	SubjectEventsAll = "edgeplay.events.>"
	// StreamEvents is the JetStream stream that keeps events.
	StreamEvents = "EDGEPLAY_EVENTS"
)

// SubjectHeartbeat is where host id publishes its heartbeat.
func SubjectHeartbeat(host string) string { return "edgeplay.host." + host + ".heartbeat" }

// SubjectReserve is the matchmaker → host request to hold a slot (ReserveRequest → Reply).
func SubjectReserve(host string) string { return "edgeplay.host." + host + ".reserve" }

// SubjectToHost carries a session's signalling from the gateway to its host (Message). A
// "start" message is a request (→ Reply); the rest are plain publishes.
func SubjectToHost(host, session string) string {
	return "edgeplay.host." + host + ".session." + session
}

// SubjectToHostAll is what a host subscribes to for all its sessions.
func SubjectToHostAll(host string) string { return "edgeplay.host." + host + ".session.*" }

// SubjectToClient carries the matchmaker leader's messages for a session (queued, placed,
// error) to the gateway that holds the player's websocket (Message).
func SubjectToClient(session string) string { return "edgeplay.client." + session }

// SubjectFromHost carries a session's messages from its host (offer, candidate, draining,
// ended, error) to the gateway, which forwards them verbatim. Only that host's NATS user may
// publish there, so no host can speak to another host's players.
func SubjectFromHost(host, session string) string { return "edgeplay.player." + host + "." + session }

// SubjectFromAnyHost is what a gateway subscribes to for a session's host messages, before it
// knows the host (from the join on, so that no message can outrun the subscription's
// interest across NATS clusters); it keeps only those of the session's host.
func SubjectFromAnyHost(session string) string { return "edgeplay.player.*." + session }

// SubjectEvent is where events of a kind are published.
func SubjectEvent(kind string) string { return "edgeplay.events." + kind }

// TypeStart is the gateway → host request that makes the host create the PeerConnection and
// send its offer. Internal: players cannot send it.
const TypeStart = "start"

// Internal gateway → host session messages about the player's presence. Players cannot send
// them (ParseClient refuses them).
const (
	// TypeAway: the player's websocket closed without leave. Published; Gen is the resume
	// generation the connection carried, and a stale one is ignored.
	TypeAway = "away"
	// TypeResume (a request, Gen = the token's generation): a new connection takes the session
	// back. The reply's Gen is the next generation. Same string as the client's message,
	// which the gateway turns into this one after checking the token.
)

// ValidSessionID reports whether s has the form of a session id (NewSessionID).
func ValidSessionID(s string) bool {
	if len(s) != 16 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Heartbeat is what a host publishes every HeartbeatInterval.
type Heartbeat struct {
	Host     string    `json:"host"`
	Region   string    `json:"region"`
	State    string    `json:"state"` // ready, draining, stopped
	Slots    int       `json:"slots"`
	Used     int       `json:"used"`
	Reserved int       `json:"reserved"`
	Games    []string  `json:"games"`
	Encoders []string  `json:"encoders"`
	Version  string    `json:"version"`
	CPULoad  float64   `json:"cpu_load"`       // 1-minute load average divided by the CPU count
	GPUs     []GPU     `json:"gpus,omitempty"` // none when the host has no GPU
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`

	// Titles names games for players, by game id ("paddle": "Paddle"); a game without a
	// title has none here. Each key is one of Games, each title passes ValidTitle.
	Titles map[string]string `json:"titles,omitempty"`
	// Studios counts the host's sessions (reserved or playing) by the studio of their join
	// token; sessions without one are not counted here.
	Studios map[string]int `json:"studios,omitempty"`
}

// MaxTitleSize bounds a game's title, in bytes: a line in a game picker.
const MaxTitleSize = 64

// ValidTitle reports whether s is acceptable as a game's title, shown to players: 1 to
// MaxTitleSize bytes of UTF-8, not only white space, with no control character.
func ValidTitle(s string) bool {
	if len(s) == 0 || len(s) > MaxTitleSize || !utf8.ValidString(s) || strings.TrimSpace(s) == "" {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}

// GPU describes one GPU of a host.
type GPU struct {
	Model       string  `json:"model"`
	Utilization float64 `json:"utilization"` // percent
}

// Host states carried in heartbeats: registering → ready ⇄ draining → drained (empty) →
// stopped.
const (
	HostRegistering = "registering"
	HostReady       = "ready"
	HostDraining    = "draining"
	HostDrained     = "drained"
	HostStopped     = "stopped"
)

// SubjectKick: ops (gateway) → host request, KickRequest → Reply: end a session with reason
// "kicked".
func SubjectKick(host string) string { return "edgeplay.host." + host + ".kick" }

// KickRequest names the session to end.
type KickRequest struct {
	Session string `json:"session"`
}

// SubjectDrain: ops (gateway) → host request, DrainRequest → Reply{ok, heartbeat}.
func SubjectDrain(host string) string { return "edgeplay.host." + host + ".drain" }

// DrainRequest drains a host (no new sessions; running ones end at Deadline; players are
// told) or, with Drain false, puts it back in service. Both are idempotent.
type DrainRequest struct {
	Drain    bool      `json:"drain"`
	Deadline time.Time `json:"deadline,omitzero"` // drain: when the remaining sessions end
	Reason   string    `json:"reason,omitempty"`  // shown to the players, at most 256 bytes
}

// PlaceRequest asks the matchmaker for a host for a new session. The matchmaker answers with a
// Reply: placed (OK), queued (OK false, Code queued) or an error; a queued ticket is placed
// later and the result published on SubjectToClient(session) as a "placed" or "queued"
// Message.
type PlaceRequest struct {
	Session string     `json:"session"`
	Game    string     `json:"game"`
	RTTs    []RTTClaim `json:"rtts,omitempty"`
	// Since is when the ticket was first created (a gateway re-submitting a ticket after a
	// matchmaker failover keeps its place in the queue).
	Since time.Time `json:"since,omitzero"`
	// Resubmit marks a ticket the gateway submits again after the queue fell silent (a
	// matchmaker failover): its RTT tokens are checked as of Since, and not against replay.
	Resubmit bool `json:"resubmit,omitempty"`
	// Studio is the studio whose join token the player joined with; empty without one.
	// StudioMaxSessions and StudioMaxQueued are its limits as the gateway read them with
	// the token (0: none): a ticket waits while its studio has StudioMaxSessions sessions,
	// and is refused quota_exceeded when the studio has StudioMaxQueued tickets waiting.
	Studio            string `json:"studio,omitempty"`
	StudioMaxSessions int    `json:"studio_max_sessions,omitempty"`
	StudioMaxQueued   int    `json:"studio_max_queued,omitempty"`
}

// SubjectCancel: gateway → matchmaker, CancelRequest: the player left; drop the ticket.
const SubjectCancel = "edgeplay.mm.cancel"

// CancelRequest removes a queued ticket.
type CancelRequest struct {
	Session string `json:"session"`
}

// ReserveRequest asks a host to hold a slot for a session until the player connects.
type ReserveRequest struct {
	Session string `json:"session"`
	Game    string `json:"game"`
	// RTTMillis is the player's measured RTT to the host's data center (0 = not measured),
	// kept with the session for operators.
	RTTMillis float64 `json:"rtt_ms,omitempty"`
	// Reason is why the matchmaker chose this host, kept with the session for operators.
	Reason string `json:"reason,omitempty"`
	// Studio is the studio of the player's join token (empty without one): the host counts
	// its sessions per studio in heartbeats, for the studio's quota.
	Studio string `json:"studio,omitempty"`
}

// Reply answers every NATS request in the protocol. OK false comes with a Code.
type Reply struct {
	OK      bool   `json:"ok"`
	Code    Code   `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Host    string `json:"host,omitempty"`
	Region  string `json:"region,omitempty"`
	// Placement: the RTT to the chosen data center and the policy's reason; or, when queued
	// (OK and Queued, no Host), the position and ETA.
	RTTMillis float64 `json:"rtt_ms,omitempty"`
	Why       string  `json:"reason_text,omitempty"`
	Queued    bool    `json:"queued,omitempty"`
	Position  int     `json:"position,omitempty"`
	ETA       int     `json:"eta_s,omitempty"`
	// Gen: a resume's next generation; Restart: the host's side of the peer connection is
	// not connected, so the player needs an ICE restart.
	Gen     uint64 `json:"gen,omitempty"`
	Restart bool   `json:"restart,omitempty"`
	// Heartbeat is the host's state right after a successful reservation.
	Heartbeat *Heartbeat `json:"heartbeat,omitempty"`
}

// Err returns the reply's failure as an *Error, or nil when OK.
func (r Reply) Err() error {
	if r.OK {
		return nil
	}
	code := r.Code
	if code == "" {
		code = CodeInternal
	}
	return &Error{Code: code, Detail: r.Message}
}

// FailReply builds a failed Reply from err.
func FailReply(err error) Reply {
	m := ErrorMessage(err)
	return Reply{Code: m.Code, Message: m.Message}
}

// Event is a session or host event.
type Event struct {
	Kind    string    `json:"kind"` // placed, connected, ended, host_started, host_stopped
	Time    time.Time `json:"time"`
	Session string    `json:"session,omitempty"`
	Host    string    `json:"host,omitempty"`
	Region  string    `json:"region,omitempty"`
	Game    string    `json:"game,omitempty"`
	Reason  Reason    `json:"reason,omitempty"`
	Detail  string    `json:"detail,omitempty"`
	// RTTMillis: placed events carry the player's RTT to the chosen data center.
	RTTMillis float64 `json:"rtt_ms,omitempty"`
	// Result: ended events of reason game_ended carry the game's result (a JSON object).
	Result json.RawMessage `json:"result,omitempty"`
	// Studio and Player: session events of a session joined with a join token carry the
	// token's studio and player id.
	Studio string `json:"studio,omitempty"`
	Player string `json:"player,omitempty"`
}

// EventHostLost is published by the matchmaker leader when a host's heartbeats stop for the
// TTL; gateways end that host's sessions with reason host_lost.
const EventHostLost = "host_lost"

// NewSessionID returns a random 16-character hex id.
func NewSessionID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux (Go ≥ 1.24 panics instead)
	return hex.EncodeToString(b[:])
}

// Admin queries: what the gateway's admin API (docs/API.md) asks the other roles.

// SubjectHosts: gateway → matchmaker request (queue group QueueMatchmaker; any replica
// answers), empty body → a JSON array of HostStatus: every host in the replica's registry. A
// replica that cannot answer replies a Reply with OK false instead.
const SubjectHosts = "edgeplay.mm.hosts"

// HostStatus is one host as the matchmaker's registry sees it: its last heartbeat plus the
// registry's judgement.
type HostStatus struct {
	Heartbeat
	// Health is "ready" (heartbeats on time) or "suspect" (missed beats: no new placements).
	Health string `json:"health"`
	// AgeMillis is how long ago the registry last heard from the host.
	AgeMillis int64 `json:"heartbeat_age_ms"`
}

// SubjectHostSessions: gateway → host request, empty body → a JSON array of SessionStatus,
// every session the host holds (reserved, connecting or playing).
func SubjectHostSessions(host string) string { return "edgeplay.host." + host + ".sessions" }

// SessionStatus describes one session for operators.
type SessionStatus struct {
	ID     string `json:"id"`
	Game   string `json:"game"`
	Host   string `json:"host"`
	Region string `json:"region"`
	State  string `json:"state"` // reserved, connecting, playing, ended
	// StartedAt is when the player's WebRTC connection came up; absent before that.
	StartedAt       time.Time `json:"started_at,omitzero"`
	DurationSeconds float64   `json:"duration_s"`       // since StartedAt
	FPS             float64   `json:"fps"`              // frames encoded / DurationSeconds
	BitrateKbps     float64   `json:"bitrate_kbps"`     // video payload bits sent / DurationSeconds / 1000
	RTTMillis       float64   `json:"rtt_ms"`           // the player's RTT; 0 = not measured
	Reason          string    `json:"reason,omitempty"` // why the matchmaker placed it here
	// The video now: negotiated codec, encoded size (the rung of the resolution ladder) and
	// the bit rate the congestion controller gives the encoder; absent before negotiation.
	Codec      string `json:"codec,omitempty"`
	Width      int    `json:"width,omitempty"`
	Height     int    `json:"height,omitempty"`
	TargetKbps int    `json:"target_kbps,omitempty"`
	// Studio and Player: the studio whose join token started the session and the player's
	// id at that studio; absent for a session joined without a token.
	Studio string `json:"studio,omitempty"`
	Player string `json:"player,omitempty"`
}
