// Package turn is edgeplay's TURN server (RFC 8656, on pion/turn) and the credentials the
// gateway hands to players for it.
//
// A player whose network blocks UDP to the session hosts (a corporate firewall, some hotel and
// mobile networks) cannot reach a host directly. Its browser then relays through TURN: it
// allocates a relay address on the TURN server over UDP, TCP or TLS (port 443 passes most
// firewalls), and the host sends to that relay address over UDP. The session host needs no
// change: the relay address reaches it as an ordinary remote candidate.
//
// # Credentials
//
// The TURN REST API scheme (draft-uberti-behave-turn-rest, coturn's use-auth-secret): gateways
// and TURN servers share a secret; a gateway mints, per placed session,
//
//	username = EXPIRY ":" SESSION         (EXPIRY in Unix seconds)
//	password = base64(HMAC-SHA1(secret, username))
//
// and sends them in the "placed" message's ice_servers. The TURN server checks them without
// asking anyone (Credentials, Validate): a new allocation needs credentials that have not
// expired; requests on an allocation that already exists (Refresh, CreatePermission,
// ChannelBind) accept them for Config.RefreshGrace longer, so a long session is not cut off
// when its credentials expire. Credentials name their session, so the limits count per session.
//
// # Server
//
// New listens on one port over UDP and TCP (default 3478) and, with a certificate, on a TLS
// port (default 443). Relays are UDP sockets on Config.RelayBind in the port range
// Config.MinPort–MaxPort, advertised at Config.RelayIP (the public address). Relays reach
// only the peers Config allows (never unspecified, multicast, broadcast or link-local
// addresses, nor loopback unless configured): a TURN server must not become a way into the
// network it stands in. Allocations are bounded in total and per session; metrics are in
// internal/metrics (edgeplay_turn_…). Close ends every connection and allocation and waits
// for pion's goroutines to let go of them.
package turn
