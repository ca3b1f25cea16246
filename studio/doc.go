// Package studio is the studio platform's state (issue 11): studios, their API keys, the
// gateways' token signing keys and the single-use claims of join tokens, all in NATS
// JetStream key-value buckets (replicated like the other buckets), so that any gateway or
// matchmaker replica serves any studio and none keeps state another could not rebuild.
//
// Buckets:
//
//	EDGEPLAY_STUDIOS       studio id → Studio (JSON)
//	EDGEPLAY_STUDIO_KEYS   API key id → its SHA-256, studio and last four characters; never the key
//	EDGEPLAY_SIGNING_KEYS  signing key id → an Ed25519 public key and until when it mints
//	EDGEPLAY_JOIN_CLAIMS   token jti → the redeemer (kept 11 min: longer than any token lives)
//
// API keys look like ep_live_<key id>_<secret><check>: the prefix makes a leaked key easy to
// find by scanners, the key id names the record, the secret is 190 random bits, and the
// check (CRC-32) refuses a mistyped key without a lookup. A key is shown once, when created.
//
// Join tokens (package jointoken) are minted by the gateway a studio's backend calls, with
// that gateway's own Ed25519 key: each gateway makes one at start, publishes its public half
// in EDGEPLAY_SIGNING_KEYS and never lets the private half leave the process. Every replica
// verifies with the public keys it has fetched (a lookup only for a key it has not seen), so
// signing keys rotate by themselves: a restarted gateway signs with a new key, and the old
// one verifies until its last token has expired. The first join claims the token's jti with
// a create-only write: no replica accepts it twice, and when the store cannot be reached the
// join is refused (fail closed), never let through.
package studio
