// Package probe measures a player's round-trip time to a data center and signs the result, so
// that the matchmaker can trust it.
//
// Before joining, the web client opens a websocket to the probe endpoint of every data center
// (GET /v1/probe?region=R&session=S, served by Handler). The endpoint, not the client, takes
// the timestamps: it sends a ping carrying an unpredictable seq, waits for the pong echoing it,
// and takes the time in between, several times. It then returns the median signed with an
// HMAC key shared by the gateways and the matchmakers (Sign). A client can delay its pongs and
// so make its latency look worse, never better: it cannot answer a ping before it arrives,
// because it cannot guess the seq, and it cannot alter the token, because it does not have the
// key.
//
// The matchmaker checks a token with Verify, then checks that its Session is the ticket's and
// its Region the one claimed, and records its nonce in a ReplayGuard so that each token is
// accepted once.
//
// Token format: base64url(JSON payload) "." base64url(HMAC-SHA256(key, JSON payload)), both
// without padding, at most MaxTokenSize bytes. The payload is
//
//	{"v":1,"region":"dxb-1","session":"…","rtt_us":8312,"exp_ms":1767225600000,"nonce":"…"}
//
// with the RTT in microseconds and the expiry in Unix milliseconds. A client must treat the
// token as opaque.
package probe
