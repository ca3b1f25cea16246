package protocol

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on what the gateway accepts from a player. They are part of the documented protocol.
const (
	MaxMessageSize   = 64 << 10 // bytes per websocket message
	MaxSDPSize       = 32 << 10 // bytes of SDP in an answer
	MaxCandidateSize = 1024     // bytes of one ICE candidate line
	MaxNameSize      = 64       // bytes of a game name or id
	MaxTokenSize     = 3072     // bytes of a join token (jointoken.MaxTokenSize) or an RTT sample's token
)

// Message types on the player websocket.
const (
	// Client → server.
	TypeJoin       = "join"        // {game, token?, rtts?}
	TypeAnswer     = "answer"      // {sdp}
	TypeCandidate  = "candidate"   // {candidate}; both directions
	TypeLeave      = "leave"       // {}
	TypeResume     = "resume"      // {session, token}: on a new socket, take a session back
	TypeICERestart = "ice_restart" // {}: ask the host for an ICE-restart offer

	// Server → client.
	TypeWelcome  = "welcome"  // {version, session, regions}: sent once the socket is open
	TypeQueued   = "queued"   // {position, eta_s}: no slot yet; repeated at least every 2 s
	TypePlaced   = "placed"   // {session, host, region, rtt_ms, reason, ice_servers}
	TypeOffer    = "offer"    // {sdp}
	TypeEnded    = "ended"    // {reason, message}
	TypeDraining = "draining" // {deadline, message}: the host is being taken out of service
	TypeError    = "error"    // {code, message}
	TypeResumed  = "resumed"  // {session, resume_token}: a resume worked
)

// MaxResumeTokenSize bounds a resume token (see package resume).
const MaxResumeTokenSize = 512

// Reason says why a session ended. Stable, documented values.
type Reason string

// Messages on the "control" data channel (host → player, JSON text).
const (
	// TypeMedia (about once a second while playing): what the host is sending. See MediaStats.
	TypeMedia = "media"
	// TypeRumble: the game asks for a vibration of the player's gamepad. See Rumble.
	TypeRumble = "rumble"
)

// Rumble is the "rumble" message. The page plays it on the gamepad it last read input from,
// where the browser allows (a "dual-rumble" effect), and ignores it otherwise.
type Rumble struct {
	Type   string  `json:"type"`   // "rumble"
	Strong float64 `json:"strong"` // the low-frequency (strong) motor, 0..1
	Weak   float64 `json:"weak"`   // the high-frequency (weak) motor, 0..1
	Ms     int     `json:"ms"`     // duration, 1..5000
}

// MediaStats is the "media" message: the video the host is sending now and its repair
// counters since the session started.
type MediaStats struct {
	Type          string `json:"type"`           // "media"
	Codec         string `json:"codec"`          // "h264" or "vp8"
	Width         int    `json:"width"`          // encoded size: a rung of the resolution ladder
	Height        int    `json:"height"`         //
	TargetKbps    int    `json:"target_kbps"`    // the encoder's bit rate
	EstimateKbps  int    `json:"estimate_kbps"`  // the congestion controller's estimate of the link
	FramesSkipped uint64 `json:"frames_skipped"` // frames not sent because the link had a backlog
	Keyframes     uint64 `json:"keyframes"`      // keyframes sent
	PLIs          uint64 `json:"plis"`           // keyframe requests received
	NACKs         uint64 `json:"nacks"`          // packets reported lost
	RTXPackets    uint64 `json:"rtx_packets"`    // retransmissions sent
	Switches      uint64 `json:"switches"`       // resolution changes
	// InputMs is the latest input → frame latency the host measured: from an input reaching
	// the host to the first frame the game said reflects it (any game; no marker). Absent
	// until the game showed a frame for an input.
	InputMs float64 `json:"input_ms,omitempty"`
}

// End reasons.
const (
	ReasonPlayerLeft       Reason = "player_left"
	ReasonPlayerLost       Reason = "player_lost"
	ReasonIdle             Reason = "idle"
	ReasonConnectionFailed Reason = "connection_failed"
	ReasonTimeout          Reason = "timeout"
	ReasonHostLost         Reason = "host_lost"
	ReasonDrained          Reason = "drained"
	ReasonKicked           Reason = "kicked"
	ReasonShutdown         Reason = "shutdown"
	ReasonError            Reason = "error"
	// The game's own ends (a game that runs as its own process: package gameproc,
	// docs/SDK.md). A game that breaks the protocol (a malformed or unexpected message)
	// ends game_crashed too; the detail says which.
	ReasonGameEnded       Reason = "game_ended"        // the game ended the session itself (ending); detail: its result
	ReasonGameStartFailed Reason = "game_start_failed" // the game's process did not start or never became ready
	ReasonGameCrashed     Reason = "game_crashed"      // the game's process exited, sent fatal, or broke the protocol
	ReasonGameHung        Reason = "game_hung"         // the game stopped sending frames or taking messages
)

// Candidate is an ICE candidate as the browser's RTCIceCandidateInit has it.
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// Message is every websocket message, in either direction: a "type" and the fields that type
// uses. Unused fields are omitted on the wire.
type Message struct {
	Type      string     `json:"type"`
	Version   int        `json:"version,omitempty"`
	Game      string     `json:"game,omitempty"`
	Token     string     `json:"token,omitempty"`
	Session   string     `json:"session,omitempty"`
	Host      string     `json:"host,omitempty"`
	Region    string     `json:"region,omitempty"`
	SDP       string     `json:"sdp,omitempty"`
	Candidate *Candidate `json:"candidate,omitempty"`
	Reason    Reason     `json:"reason,omitempty"`
	Code      Code       `json:"code,omitempty"`
	Message   string     `json:"message,omitempty"`
	// join: the player's measured RTT to each data center (see RTTClaim).
	RTTs []RTTClaim `json:"rtts,omitempty"`
	// welcome: the data centers to measure.
	Regions []RegionInfo `json:"regions,omitempty"`
	// queued: place in the game's queue (1 = next) and the estimated wait in seconds.
	Position int `json:"position,omitempty"`
	ETA      int `json:"eta_s,omitempty"`
	// placed: the RTT to the chosen data center and why it was chosen.
	RTTMillis float64 `json:"rtt_ms,omitempty"`
	Why       string  `json:"reason_text,omitempty"`
	// placed: TURN servers with credentials for this session, for the player's
	// RTCPeerConnection (a relay when direct UDP to the host fails).
	ICEServers []ICEServer `json:"ice_servers,omitempty"`
	// placed, resumed: the token that lets the player take the session back after a drop.
	ResumeToken string `json:"resume_token,omitempty"`
	// Internal (gateway → host): the resume generation of the player's connection.
	Gen uint64 `json:"gen,omitempty"`
	// Internal (gateway → host, start): the player as the join token names it.
	Player *PlayerInfo `json:"player,omitempty"`
	// draining: when the session will end.
	Deadline time.Time `json:"deadline,omitzero"`
	// ended with reason game_ended: the game's result, a JSON object (e.g. {"score":1200}),
	// when it gave one.
	Result json.RawMessage `json:"result,omitempty"`
}

// PlayerInfo is the player of a session joined with a join token (issue 11): the studio
// whose token it was, the player's id and display name at the studio, and the opaque payload
// its backend attached for the game (player_joined). The gateway fills it from the verified
// token; the host checks it again with Validate.
type PlayerInfo struct {
	Studio  string `json:"studio"`
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	Payload []byte `json:"payload,omitempty"`
}

// Limits of PlayerInfo (the join token's: package jointoken).
const (
	MaxPlayerIDSize = 64
	MaxPayloadSize  = 1024
)

// Validate checks a PlayerInfo's bounds.
func (p *PlayerInfo) Validate() error {
	switch {
	case !validName(p.Studio):
		return Errorf(CodeBadField, "player.studio: not a valid id")
	case !validPlayerID(p.ID):
		return Errorf(CodeBadField, "player.id: 1-%d printable ASCII characters, no spaces", MaxPlayerIDSize)
	case p.Name != "" && !ValidTitle(p.Name):
		return Errorf(CodeBadField, "player.name: at most %d bytes of UTF-8, no control characters", MaxTitleSize)
	case len(p.Payload) > MaxPayloadSize:
		return Errorf(CodeBadField, "player.payload: at most %d bytes", MaxPayloadSize)
	}
	return nil
}

// validPlayerID: 1..MaxPlayerIDSize bytes of printable ASCII without spaces (the game
// protocol's rule for ids).
func validPlayerID(s string) bool {
	if len(s) == 0 || len(s) > MaxPlayerIDSize {
		return false
	}
	for i := range len(s) {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// ValidPlayerID reports whether s is acceptable as a player id.
func ValidPlayerID(s string) bool { return validPlayerID(s) }

// MaxRTTClaims bounds the RTT samples in a join.
const MaxRTTClaims = 32

// RTTClaim is one data center's RTT as the player reports it: Token is what that data
// center's probe endpoint returned (signed; the matchmaker verifies it). RTTMillis alone, with
// no token, is accepted only by a matchmaker started with the dev flag for unsigned RTTs.
type RTTClaim struct {
	Region    string  `json:"region"`
	Token     string  `json:"token,omitempty"`
	RTTMillis float64 `json:"rtt_ms,omitempty"`
}

// RegionInfo describes a data center to a client.
type RegionInfo struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Probe string `json:"probe"` // URL of the RTT probe: ws(s)://, http(s)://, or relative to the /v1/play URL
	// Gateway is the base URL of the data center's own gateway (its web client and
	// /v1/play); empty when it is this gateway.
	Gateway string `json:"gateway,omitempty"`
}

// ICEServer is a STUN or TURN server as the browser's RTCIceServer has it: TURN URIs
// (RFC 7065, e.g. "turn:turn.example:3478?transport=tcp") and time-limited credentials.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// ProtocolVersion is sent in "welcome".
const ProtocolVersion = 1

// ParseClient decodes and validates one message from a player. The error, if any, is an
// *Error whose code goes back to the player.
func ParseClient(data []byte) (Message, error) {
	var m Message
	if len(data) > MaxMessageSize {
		return m, Errorf(CodeMessageTooLarge, "message is %d bytes; the limit is %d", len(data), MaxMessageSize)
	}
	if !utf8.Valid(data) {
		return m, Errorf(CodeBadMessage, "message is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return Message{}, Errorf(CodeBadMessage, "message is not valid JSON of the expected shape")
	}
	if dec.More() {
		return Message{}, Errorf(CodeBadMessage, "trailing data after the JSON object")
	}
	if err := m.validateClient(); err != nil {
		return Message{}, err
	}
	return m, nil
}

func (m *Message) validateClient() error {
	switch m.Type {
	case TypeJoin:
		if m.Game == "" && m.Token == "" {
			return Errorf(CodeBadField, "join needs a game (or a join token, which names one)")
		}
		if m.Game != "" && !validName(m.Game) {
			return Errorf(CodeBadField, "game must be 1-%d characters of a-z, 0-9, '-', '_'", MaxNameSize)
		}
		if len(m.Token) > MaxTokenSize {
			return Errorf(CodeBadField, "token is longer than %d bytes", MaxTokenSize)
		}
		if len(m.RTTs) > MaxRTTClaims {
			return Errorf(CodeBadField, "at most %d rtts", MaxRTTClaims)
		}
		for _, r := range m.RTTs {
			if !validName(r.Region) || len(r.Token) > MaxTokenSize || r.RTTMillis < 0 || r.RTTMillis > 10000 {
				return Errorf(CodeBadField, "rtts: each needs a region id, a token of at most %d bytes, and rtt_ms in 0..10000", MaxTokenSize)
			}
		}
	case TypeAnswer:
		if m.SDP == "" {
			return Errorf(CodeBadField, "answer needs an sdp")
		}
		if len(m.SDP) > MaxSDPSize {
			return Errorf(CodeBadField, "sdp is longer than %d bytes", MaxSDPSize)
		}
		if !strings.HasPrefix(m.SDP, "v=0") {
			return Errorf(CodeBadSDP, "sdp must start with v=0")
		}
	case TypeCandidate:
		return ValidateCandidate(m.Candidate)
	case TypeLeave, TypeICERestart:
	case TypeResume:
		if !ValidSessionID(m.Session) {
			return Errorf(CodeBadField, "resume needs the session id (16 hex digits)")
		}
		if m.Token == "" || len(m.Token) > MaxResumeTokenSize {
			return Errorf(CodeBadField, "resume needs a token of at most %d bytes", MaxResumeTokenSize)
		}
	case "":
		return Errorf(CodeUnknownType, "message has no type")
	default:
		t := m.Type
		if len(t) > MaxNameSize {
			t = t[:MaxNameSize]
		}
		return Errorf(CodeUnknownType, "unknown message type %q", t)
	}
	return nil
}

// ValidateCandidate checks the shape of a trickled candidate. An empty candidate string means
// end of candidates and is valid.
func ValidateCandidate(c *Candidate) error {
	if c == nil {
		return Errorf(CodeBadField, "candidate message needs a candidate object")
	}
	if len(c.Candidate) > MaxCandidateSize {
		return Errorf(CodeBadCandidate, "candidate is longer than %d bytes", MaxCandidateSize)
	}
	if c.SDPMid != nil && len(*c.SDPMid) > MaxNameSize {
		return Errorf(CodeBadCandidate, "sdpMid is longer than %d bytes", MaxNameSize)
	}
	if c.UsernameFragment != nil && len(*c.UsernameFragment) > 256 {
		return Errorf(CodeBadCandidate, "usernameFragment is longer than 256 bytes")
	}
	if c.Candidate != "" && !strings.HasPrefix(c.Candidate, "candidate:") {
		return Errorf(CodeBadCandidate, "candidate must start with \"candidate:\"")
	}
	return nil
}

// validName reports whether s is a game or host name we accept: short, lower-case ASCII.
func validName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameSize {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		lower, digit := c >= 'a' && c <= 'z', c >= '0' && c <= '9'
		if !lower && !digit && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// ValidName reports whether s is acceptable as a game, host, region or session id: it is also
// a valid single NATS subject token.
func ValidName(s string) bool { return validName(s) }
