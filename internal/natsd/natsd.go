// Package natsd runs the embedded NATS server used by `edgeplay up` and by tests, and creates
// the JetStream stream edgeplay keeps its events in. Production deployments point every role at
// an external NATS cluster instead (--nats URL).
package natsd

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/protocol"
)

// Config configures the embedded server.
type Config struct {
	Host     string // listen address; default 127.0.0.1 (loopback only)
	Port     int    // default -1: a random free port
	StoreDir string // JetStream storage; "" makes a temporary directory removed on Shutdown
	// Auth gives every role its own generated user with only the permissions it needs (see
	// Permissions): a gateway cannot publish heartbeats, a host cannot place sessions. Each
	// host in HostIDs gets a user of its own (HostPermissions): it cannot speak for another
	// host. Credentials and HostCredentials return them.
	Auth    bool
	HostIDs []string
}

// Role is a kind of NATS client; each has its own user and permissions.
type Role string

// Roles.
const (
	RoleHost       Role = "host"
	RoleGateway    Role = "gateway"
	RoleMatchmaker Role = "matchmaker"
)

// Permissions returns what a role may publish and subscribe to. Replies to requests are
// allowed by the response permission, not by _INBOX publish rights. Deployments on an external
// NATS give each role's user the same permissions (docs/ARCHITECTURE.md).
func Permissions(r Role) *server.Permissions {
	js := []string{"$JS.API.>", "_INBOX.>"}
	p := &server.Permissions{Response: &server.ResponsePermission{MaxMsgs: 1, Expires: time.Minute}}
	switch r {
	case RoleHost:
		return HostPermissions("*")
	case RoleGateway:
		p.Publish = &server.SubjectPermission{Allow: append([]string{
			"edgeplay.mm.>", "edgeplay.host.*.session.*", "edgeplay.host.*.sessions", "edgeplay.host.*.drain", "edgeplay.host.*.kick",
			"$KV.EDGEPLAY_STUDIOS.>", "$KV.EDGEPLAY_STUDIO_KEYS.>", "$KV.EDGEPLAY_SIGNING_KEYS.>", "$KV.EDGEPLAY_JOIN_CLAIMS.>",
			"$JS.ACK." + protocol.StreamUsage + ".>", // the webhook consumer's acknowledgements
		}, js...)}
		p.Subscribe = &server.SubjectPermission{Allow: []string{"edgeplay.client.>", "edgeplay.player.>", "edgeplay.events.>", "_INBOX.>"}}
	case RoleMatchmaker:
		p.Publish = &server.SubjectPermission{Allow: append([]string{
			"edgeplay.host.*.reserve", "edgeplay.host.*.session.*", "edgeplay.events.>", "edgeplay.client.>", "$KV.>",
		}, js...)}
		p.Subscribe = &server.SubjectPermission{Allow: []string{
			protocol.SubjectHeartbeatAll, "edgeplay.mm.>", "edgeplay.events.>", "_INBOX.>",
		}}
	}
	return p
}

// HostEvents are the event kinds a host publishes. Others (host_lost above all, on which
// gateways end sessions) come from the matchmaker, and a host's user may not publish them.
var HostEvents = []string{"host_started", "host_stopped", "host_draining", "host_undrained", "host_drained", "connected", "player_away", "player_back", "ended"}

// HostPermissions is what the host id may publish and subscribe to: its own heartbeat and
// subjects, host events, and messages to players. id "*" is any host (the shared host role).
func HostPermissions(id string) *server.Permissions {
	pub := []string{protocol.SubjectHeartbeat(id), "edgeplay.player." + id + ".>", "edgeplay.usage.*." + id + ".>"}
	for _, k := range HostEvents {
		pub = append(pub, protocol.SubjectEvent(k))
	}
	// Its own inbox only (HostInbox): a host's requests are its JetStream publishes of usage
	// records, whose acknowledgements come there; it may not read the replies other users get.
	return &server.Permissions{
		Response:  &server.ResponsePermission{MaxMsgs: 1, Expires: time.Minute},
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: []string{"edgeplay.host." + id + ".>", HostInbox(id) + ".>"}},
	}
}

// HostInbox is the inbox prefix of host id's connection (nats.CustomInboxPrefix): the only
// replies it may read. Not under _INBOX, where other users' replies are: the shared host
// user ("*") may read every host's, and nobody else's.
func HostInbox(id string) string { return "_HOST_INBOX." + id }

// Server is a running embedded NATS server.
type Server struct {
	*server.Server
	tmpDir    string
	creds     map[Role][2]string   // user, password
	hostCreds map[string][2]string // by host id
}

// Credentials returns the user and password of a role, or empty strings without Auth.
func (s *Server) Credentials(r Role) (user, password string) {
	c := s.creds[r]
	return c[0], c[1]
}

// HostCredentials returns the user and password of host id (Config.HostIDs), or the shared
// host role's for another id, or empty strings without Auth.
func (s *Server) HostCredentials(id string) (user, password string) {
	if c, ok := s.hostCreds[id]; ok {
		return c[0], c[1]
	}
	return s.Credentials(RoleHost)
}

func newPassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Start starts the server and waits until it accepts connections.
func Start(cfg Config) (*Server, error) {
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Port == 0 {
		cfg.Port = -1
	}
	s := &Server{}
	if cfg.StoreDir == "" {
		dir, err := os.MkdirTemp("", "edgeplay-nats-")
		if err != nil {
			return nil, fmt.Errorf("nats store dir: %w", err)
		}
		cfg.StoreDir, s.tmpDir = dir, dir
	}
	opts := &server.Options{
		ServerName: "edgeplay-embedded",
		Host:       cfg.Host,
		Port:       cfg.Port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: 1 << 20,
	}
	if cfg.Auth {
		s.creds = map[Role][2]string{}
		for _, r := range []Role{RoleHost, RoleGateway, RoleMatchmaker} {
			pw := newPassword()
			s.creds[r] = [2]string{"edgeplay-" + string(r), pw}
			opts.Users = append(opts.Users, &server.User{Username: "edgeplay-" + string(r), Password: pw, Permissions: Permissions(r)})
		}
		s.hostCreds = map[string][2]string{}
		for _, id := range cfg.HostIDs {
			if !protocol.ValidName(id) {
				s.cleanup()
				return nil, fmt.Errorf("nats user for host %q: not a valid host id", id)
			}
			user, pw := "edgeplay-host-"+id, newPassword()
			s.hostCreds[id] = [2]string{user, pw}
			opts.Users = append(opts.Users, &server.User{Username: user, Password: pw, Permissions: HostPermissions(id)})
		}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		s.cleanup()
		return nil, fmt.Errorf("nats server: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		s.cleanup()
		return nil, errors.New("nats server: not ready within 10s")
	}
	s.Server = ns
	return s, nil
}

// Shutdown stops the server and removes a temporary store.
func (s *Server) Shutdown() {
	s.Server.Shutdown()
	s.WaitForShutdown()
	s.cleanup()
}

func (s *Server) cleanup() {
	if s.tmpDir != "" {
		_ = os.RemoveAll(s.tmpDir)
	}
}

// EnsureStreams creates or updates the events stream (protocol.StreamEvents) and the usage
// stream (protocol.StreamUsage).
func EnsureStreams(ctx context.Context, nc *nats.Conn, replicas int) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if replicas < 1 {
		replicas = 1
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        protocol.StreamEvents,
		Description: "edgeplay session and host events",
		Subjects:    []string{protocol.SubjectEventsAll},
		Storage:     jetstream.FileStorage,
		MaxAge:      24 * time.Hour,
		MaxBytes:    1 << 30,
		Replicas:    replicas,
	})
	if err != nil {
		return fmt.Errorf("create stream %s: %w", protocol.StreamEvents, err)
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              protocol.StreamUsage,
		Description:       "edgeplay usage: each session's start, latest tick and end record",
		Subjects:          []string{protocol.SubjectUsageAll},
		Storage:           jetstream.FileStorage,
		MaxAge:            protocol.UsageRetention,
		MaxMsgsPerSubject: 1,
		Duplicates:        2 * time.Minute,
		Replicas:          replicas,
	})
	if err != nil {
		return fmt.Errorf("create stream %s: %w", protocol.StreamUsage, err)
	}
	return nil
}

// Connect connects to url (or, when url is empty, to the embedded server s in-process) with
// reconnects forever and logging of connection changes. The returned close function drains the
// connection and waits until it is closed.
func Connect(url string, s *Server, name string, log *slog.Logger, extra ...nats.Option) (*nats.Conn, func(), error) {
	closed := make(chan struct{})
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "url", nc.ConnectedUrl()) }),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("nats error", "conn", name, "err", err)
		}),
	}
	if url == "" {
		if s == nil {
			return nil, nil, errors.New("nats: no url and no embedded server")
		}
		opts = append(opts, nats.InProcessServer(s.Server))
		url = s.ClientURL()
	}
	opts = append(opts, extra...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("nats connect %s: %w", url, err)
	}
	return nc, func() {
		if err := nc.Drain(); err != nil {
			nc.Close()
		}
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			nc.Close()
		}
	}, nil
}
