package protocol

import (
	"errors"
	"fmt"
)

// Code is a stable, documented error code that clients may branch on. The table below is the
// only place codes are defined; docs/PROTOCOL.md lists the same rows (a test keeps them equal).
type Code string

// Error codes.
const (
	CodeBadMessage      Code = "bad_message"       // not valid JSON, or a field of the wrong type
	CodeMessageTooLarge Code = "message_too_large" // over MaxMessageSize; the socket is closed
	CodeUnknownType     Code = "unknown_type"      // "type" is missing or not one this server knows
	CodeBadField        Code = "bad_field"         // a field is missing, too long or out of range
	CodeBadState        Code = "bad_state"         // the message is not valid now (e.g. answer before join)
	CodeRateLimited     Code = "rate_limited"      // too many messages; the message was dropped
	CodeUnknownGame     Code = "unknown_game"      // no host offers the requested game
	CodeNoFreeHost      Code = "no_free_host"      // every host is full or none is up
	CodeBadRTT          Code = "bad_rtt"           // an RTT sample is unsigned, forged, expired, replayed or absurd
	CodeBadSDP          Code = "bad_sdp"           // the answer SDP could not be applied
	CodeBadCandidate    Code = "bad_candidate"     // an ICE candidate could not be parsed or added
	CodeNoCommonCodec   Code = "no_common_codec"   // the answer accepts none of the offered video codecs; the session ends
	CodeResumeInvalid   Code = "resume_invalid"    // a resume token that is malformed, expired, for another session or already used
	CodeSessionNotFound Code = "session_not_found" // the host does not know the session
	CodeHostUnavailable Code = "host_unavailable"  // the host did not answer in time
	CodeShuttingDown    Code = "shutting_down"     // the server is stopping; try again elsewhere
	CodeInternal        Code = "internal"          // a bug or an unexpected failure; logged server-side

	// Join tokens (docs/STUDIO.md).
	CodeTokenRequired     Code = "token_required"      // this gateway requires a join token and the join has none
	CodeTokenInvalid      Code = "token_invalid"       // malformed, not signed by edgeplay, or its studio, API key or game is gone
	CodeTokenExpired      Code = "token_expired"       // past its expiry: mint a new one
	CodeTokenUsed         Code = "token_used"          // a token joins once; this one already has
	CodeTokenGameMismatch Code = "token_game_mismatch" // the join asks for another game than the token's
	CodeStudioUnavailable Code = "studio_unavailable"  // the studio store cannot be reached: nothing is let through; try again (503)
	CodeQuotaExceeded     Code = "quota_exceeded"      // the studio's sessions and queue, or this address's queued tickets, are at their limit

	// Fairness on the player websocket.
	CodeTooManyConnections Code = "too_many_connections" // this address (or the gateway) has its maximum of open player connections
	CodeJoinTimeout        Code = "join_timeout"         // no join (or resume) soon enough after the socket opened
	CodeOriginNotAllowed   Code = "origin_not_allowed"   // a page of another site without a join token of a studio that lists its origin

	// Admin API (docs/API.md); each maps to one HTTP status there.
	CodeUnauthorized      Code = "unauthorized"       // no or a wrong admin token (401)
	CodeAdminDisabled     Code = "admin_disabled"     // the gateway has no admin token: its admin API is off (403)
	CodeNotFound          Code = "not_found"          // no such host, session or endpoint (404)
	CodeMethodNotAllowed  Code = "method_not_allowed" // the endpoint exists but not with this method (405)
	CodeEventsUnavailable Code = "events_unavailable" // the JetStream event stream cannot be read (503)

	// Studio API (docs/STUDIO.md, docs/API.md).
	CodeBadAPIKey      Code = "bad_api_key"      // no, a malformed, unknown or revoked studio API key (401)
	CodeGameNotAllowed Code = "game_not_allowed" // the game is not one of the studio's (403)
	CodeTooManyKeys    Code = "too_many_keys"    // the studio has its maximum of API keys: revoke one first (409)
)

// codeText is the human-readable default message for each code, shown to players as is.
var codeText = map[Code]string{
	CodeBadMessage:      "the message is not valid JSON of the expected shape",
	CodeMessageTooLarge: "the message is larger than the server accepts",
	CodeUnknownType:     "unknown message type",
	CodeBadField:        "a field is missing or invalid",
	CodeBadState:        "this message is not valid at this point of the session",
	CodeRateLimited:     "too many messages; slow down",
	CodeUnknownGame:     "no host offers this game",
	CodeNoFreeHost:      "no free host: every session slot is in use, try again shortly",
	CodeBadRTT:          "an RTT measurement was not accepted; measure again",
	CodeBadSDP:          "the session description could not be applied",
	CodeBadCandidate:    "the ICE candidate could not be used",
	CodeNoCommonCodec:   "this browser cannot decode any of the video formats the host sends",
	CodeResumeInvalid:   "the resume token is not valid (malformed, expired, for another session, or already used)",
	CodeSessionNotFound: "the session does not exist (it may have ended)",
	CodeHostUnavailable: "the game host did not answer in time",
	CodeShuttingDown:    "the server is shutting down",
	CodeInternal:        "internal error",

	CodeTokenRequired:     "this server requires a join token from the game's website",
	CodeTokenInvalid:      "the join token is not valid",
	CodeTokenExpired:      "the join token has expired; get a new one",
	CodeTokenUsed:         "the join token has already been used; get a new one",
	CodeTokenGameMismatch: "the join token is for another game",
	CodeStudioUnavailable: "the join could not be checked right now; try again shortly",
	CodeQuotaExceeded:     "too many players are playing or waiting for this; try again later",

	CodeTooManyConnections: "too many open connections from your network; close some and try again",
	CodeJoinTimeout:        "no join arrived in time after the connection opened",
	CodeOriginNotAllowed:   "this website may not embed the player for this game",

	CodeUnauthorized:      "the admin token is missing or wrong",
	CodeAdminDisabled:     "the admin API is disabled on this gateway (it has no admin token)",
	CodeNotFound:          "not found",
	CodeMethodNotAllowed:  "method not allowed",
	CodeEventsUnavailable: "the event stream is not available",

	CodeBadAPIKey:      "the studio API key is missing, malformed, unknown or revoked",
	CodeGameNotAllowed: "the game is not one of the studio's games",
	CodeTooManyKeys:    "the studio has its maximum number of API keys; revoke one first",
}

// Codes returns every defined code, for documentation checks.
func Codes() []Code {
	out := make([]Code, 0, len(codeText))
	for c := range codeText {
		out = append(out, c)
	}
	return out
}

// Text returns the default message for c.
func (c Code) Text() string { return codeText[c] }

// Error is an error with a client-visible code. Detail is safe to show to the client.
type Error struct {
	Code   Code
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return string(e.Code) + ": " + e.Code.Text()
	}
	return string(e.Code) + ": " + e.Detail
}

// Errorf builds an *Error with a formatted detail.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code carried by err, or CodeInternal.
func CodeOf(err error) Code {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return CodeInternal
}

// ErrorMessage turns err into an "error" message for the client. Errors without a code become
// "internal" with the generic text, so no internal detail leaks.
func ErrorMessage(err error) Message {
	var pe *Error
	if errors.As(err, &pe) {
		text := pe.Detail
		if text == "" {
			text = pe.Code.Text()
		}
		return Message{Type: TypeError, Code: pe.Code, Message: text}
	}
	return Message{Type: TypeError, Code: CodeInternal, Message: CodeInternal.Text()}
}
