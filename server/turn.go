package server

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/edgeplay/edgeplay/protocol"
	"github.com/edgeplay/edgeplay/turn"
)

// DefaultTURNTTL is how long the TURN credentials in "placed" allow a new relay allocation.
// A session already relayed keeps its relay past it (the TURN server's refresh grace).
const DefaultTURNTTL = time.Hour

// TURNConfig is what the gateway tells players about TURN: where the servers are and the
// secret it shares with them. Each placed player gets credentials of its own (TURN REST API
// scheme: turn.Credentials), valid for TTL.
type TURNConfig struct {
	// URLs are the TURN URIs handed to players (RFC 7065), e.g.
	// "turn:turn.example:3478?transport=udp", "turn:turn.example:3478?transport=tcp",
	// "turns:turn.example:443?transport=tcp". Empty: no TURN.
	URLs []string
	// Secret is shared with the TURN servers (at least turn.MinSecretSize bytes). Never logged.
	Secret []byte
	// TTL of the credentials; default DefaultTURNTTL.
	TTL time.Duration
}

// Enabled reports whether players are given TURN servers.
func (c TURNConfig) Enabled() bool { return len(c.URLs) > 0 }

// Validate checks the URLs and the secret.
func (c TURNConfig) Validate() error {
	if !c.Enabled() {
		return nil
	}
	if len(c.Secret) < turn.MinSecretSize {
		return fmt.Errorf("turn: the shared secret must be at least %d bytes", turn.MinSecretSize)
	}
	if c.TTL < 0 {
		return errors.New("turn: negative credential TTL")
	}
	for _, u := range c.URLs {
		if err := validTURNURL(u); err != nil {
			return err
		}
	}
	return nil
}

// validTURNURL checks a TURN URI as RFC 7065 has it: turn: or turns:, a host, an optional
// port, an optional transport of udp or tcp.
func validTURNURL(s string) error {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || (scheme != "turn" && scheme != "turns") {
		return fmt.Errorf("turn URL %q: want turn:HOST[:PORT][?transport=udp|tcp] or turns:…", s)
	}
	hostPort, query, _ := strings.Cut(rest, "?")
	if hostPort == "" || strings.ContainsAny(hostPort, "/@ ") {
		return fmt.Errorf("turn URL %q: want turn:HOST[:PORT][?transport=udp|tcp]", s)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return fmt.Errorf("turn URL %q: %w", s, err)
	}
	for k, v := range q {
		if k != "transport" || len(v) != 1 || (v[0] != "udp" && v[0] != "tcp") || (scheme == "turns" && v[0] == "udp") {
			return fmt.Errorf("turn URL %q: the only parameter is transport=udp or transport=tcp (turns: tcp)", s)
		}
	}
	return nil
}

// iceServers mints TURN credentials for a session; nil when TURN is off or the session id
// cannot name credentials (the player then connects without a relay).
func (c TURNConfig) iceServers(session string, now time.Time) ([]protocol.ICEServer, error) {
	if !c.Enabled() {
		return nil, nil
	}
	ttl := c.TTL
	if ttl == 0 {
		ttl = DefaultTURNTTL
	}
	user, pass, err := turn.Credentials(c.Secret, session, ttl, now)
	if err != nil {
		return nil, err
	}
	return []protocol.ICEServer{{URLs: c.URLs, Username: user, Credential: pass}}, nil
}
