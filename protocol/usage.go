package protocol

import (
	"encoding/json"
	"fmt"
	"time"
)

// Usage records (issue 11; docs/STUDIO.md, "Usage"): what each session played, exact enough
// to bill from. The host that runs a session publishes its record to JetStream with an
// acknowledgement, when the player connects (kind start), once a minute while it plays (tick)
// and when it ends (end), on
//
//	edgeplay.usage.<studio>.<host>.<session>.<kind>
//
// (studio "_" for a session joined without a join token). The stream StreamUsage keeps one
// message per subject, so a session has at most its start, its latest tick and its end: a
// retried publish (same Nats-Msg-Id) or a repeated tick changes nothing, and a session whose
// host died is known up to its last tick. Each record is complete: the latest one of a session
// says everything about it.
const (
	StreamUsage     = "EDGEPLAY_USAGE"
	SubjectUsageAll = "edgeplay.usage.>"
	// NoStudio is the studio token of sessions joined without a join token.
	NoStudio = "_"
	// UsageRetention is how long usage records are kept: a billing period and its disputes.
	UsageRetention = 400 * 24 * time.Hour
	// UsageTickInterval is how often a playing session's record is refreshed.
	UsageTickInterval = time.Minute
)

// Usage record kinds.
const (
	UsageKindStart = "start"
	UsageKindTick  = "tick"
	UsageKindEnd   = "end"
)

// SubjectUsage is where host publishes a usage record of session.
func SubjectUsage(studio, host, session, kind string) string {
	if studio == "" {
		studio = NoStudio
	}
	return fmt.Sprintf("edgeplay.usage.%s.%s.%s.%s", studio, host, session, kind)
}

// UsageRecord is one session's usage as of its latest record.
type UsageRecord struct {
	Kind    string    `json:"kind"` // start, tick, end
	Session string    `json:"session"`
	Studio  string    `json:"studio,omitempty"` // empty without a join token
	Player  string    `json:"player,omitempty"` // the studio's player id
	Game    string    `json:"game"`
	Region  string    `json:"region"`
	Host    string    `json:"host"`
	Start   time.Time `json:"start"`            // when the player connected (host clock)
	End     time.Time `json:"end,omitzero"`     // end records: when the session ended
	Seconds float64   `json:"played_s"`         // seconds played: Start to End, or to this record
	Reason  Reason    `json:"reason,omitempty"` // end records: why it ended
	// Result: end records of a game that ended the session with a result (JSON object).
	Result json.RawMessage `json:"result,omitempty"`
	Time   time.Time       `json:"time"` // when the host wrote this record
}
