// Package app assembles edgeplay's roles (embedded NATS, matchmaker, session hosts, gateway,
// TURN server) into one running process and shuts them down in order. cmd/edgeplay's
// subcommands and the end-to-end tests both build on it. Roles talk to each other only over
// NATS, even in one process, so the same code runs split across machines.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/internal/certs"
	"github.com/edgeplay/edgeplay/internal/natsd"
	"github.com/edgeplay/edgeplay/matchmaker"
	"github.com/edgeplay/edgeplay/probe"
	"github.com/edgeplay/edgeplay/protocol"
	"github.com/edgeplay/edgeplay/server"
	"github.com/edgeplay/edgeplay/session"
	"github.com/edgeplay/edgeplay/studio"
	"github.com/edgeplay/edgeplay/turn"
	"github.com/edgeplay/edgeplay/web"
)

// Config says which roles run in this process.
type Config struct {
	// NATSURL is the NATS server list (comma-separated). Empty starts an embedded server.
	NATSURL string
	// Embedded NATS (NATSURL empty): listen address and JetStream storage ("" = temporary).
	NATSHost string
	NATSPort int
	DataDir  string
	// NATSAuth (embedded NATS) gives each role its own user and permissions, so that only
	// hosts can publish heartbeats.
	NATSAuth bool
	// NATSCreds is a NATS credentials file for an external NATS (NATSURL).
	NATSCreds string
	// NATSCA (PEM) verifies an external NATS server's TLS certificate (tls:// URLs, or a
	// server that requires TLS); NATSCert and NATSKey are this process's client certificate
	// for a server that verifies clients (mutual TLS).
	NATSCA, NATSCert, NATSKey string

	// Gateway listens on GatewayAddr (e.g. ":8080"); empty runs no gateway.
	GatewayAddr string
	Gateway     server.Config
	// GatewayTLSCert and GatewayTLSKey (PEM files) serve the gateway over TLS (https, wss),
	// the files read again when they change (a renewed certificate needs no restart).
	GatewayTLSCert, GatewayTLSKey string

	// Regions are the data centers this process's gateway measures RTT for (its probe
	// endpoint), with the simulated extra delay of each (--simulate-rtt; 0 = none), and that it
	// lists to players. Empty: no RTT measurement.
	Regions []Region
	// ProbeKey signs (gateway) and verifies (matchmaker) RTT samples.
	ProbeKey []byte

	// Matchmaker runs a matchmaker replica.
	Matchmaker       bool
	MatchmakerConfig matchmaker.Config

	// Hosts are the session hosts to run.
	Hosts []session.Config

	// OpsAddr, when set, serves /metrics, /healthz and /readyz there; a gateway in the
	// process then keeps /metrics off its player port (production: metrics are not public).
	OpsAddr string

	// Webhooks tunes the gateway's webhook deliveries (the retry schedule); zero: defaults.
	Webhooks studio.WebhookConfig

	// TURN runs a TURN server in this process (edgeplay turn, up); nil: none. A gateway in
	// the same process whose Gateway.TURN names no URLs hands out this server's
	// (turn:RELAYIP:PORT over UDP and TCP, and turns: with TLS), with its secret.
	TURN *turn.Config

	Logger *slog.Logger
}

// Region is a data center as this process knows it.
type Region struct {
	ID, Name     string
	SimulatedRTT time.Duration
	// ProbeURL and GatewayURL locate the data center's own gateway when it is not this
	// process's; empty: this gateway serves its probe.
	ProbeURL, GatewayURL string
}

// App is a running set of roles.
type App struct {
	log      *slog.Logger
	nats     *natsd.Server
	conns    []func() // NATS connection closers, in start order
	mm       *matchmaker.Matchmaker
	hosts    []*session.Host
	gw       *server.Server
	tokens   *studio.Tokens
	webhooks *studio.Webhooks
	ln       net.Listener
	tls      bool // the gateway's listener is TLS
	serveErr chan error
	ops      *opsServer
	turn     *turn.Server
	ncs      []*nats.Conn
	once     sync.Once
}

// Start starts the configured roles. On error everything started so far is stopped.
func Start(ctx context.Context, cfg Config) (a *App, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a = &App{log: cfg.Logger, serveErr: make(chan error, 1)}
	defer func() {
		if err != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = a.Close(sctx)
			a = nil
		}
	}()

	needsNATS := cfg.Matchmaker || len(cfg.Hosts) > 0 || cfg.GatewayAddr != ""
	if cfg.NATSURL == "" && needsNATS {
		ncfg := natsd.Config{Host: cfg.NATSHost, Port: cfg.NATSPort, StoreDir: cfg.DataDir, Auth: cfg.NATSAuth}
		for _, hc := range cfg.Hosts {
			ncfg.HostIDs = append(ncfg.HostIDs, hc.ID)
		}
		a.nats, err = natsd.Start(ncfg)
		if err != nil {
			return a, err
		}
		a.log.Info("embedded NATS started", "url", a.nats.ClientURL(), "jetstream", true)
	}
	connect := func(name string, role natsd.Role, hostID string) (*nats.Conn, error) {
		var opts []nats.Option
		switch {
		case a.nats == nil || !cfg.NATSAuth:
		case role == natsd.RoleHost:
			opts = append(opts, nats.UserInfo(a.nats.HostCredentials(hostID)))
		default:
			opts = append(opts, nats.UserInfo(a.nats.Credentials(role)))
		}
		if role == natsd.RoleHost {
			opts = append(opts, nats.CustomInboxPrefix(natsd.HostInbox(hostID)))
		}
		if cfg.NATSCreds != "" {
			opts = append(opts, nats.UserCredentials(cfg.NATSCreds))
		}
		if cfg.NATSCA != "" {
			opts = append(opts, nats.RootCAs(cfg.NATSCA))
		}
		if cfg.NATSCert != "" || cfg.NATSKey != "" {
			opts = append(opts, nats.ClientCert(cfg.NATSCert, cfg.NATSKey))
		}
		nc, closeFn, err := natsd.Connect(cfg.NATSURL, a.nats, name, a.log, opts...)
		if err != nil {
			return nil, err
		}
		a.conns = append(a.conns, closeFn)
		a.ncs = append(a.ncs, nc)
		return nc, nil
	}

	if cfg.Matchmaker {
		nc, err := connect("edgeplay-matchmaker", natsd.RoleMatchmaker, "")
		if err != nil {
			return a, err
		}
		mc := cfg.MatchmakerConfig
		if mc.Logger == nil {
			mc.Logger = a.log
		}
		if mc.ProbeKey == nil {
			mc.ProbeKey = cfg.ProbeKey
		}
		if a.mm, err = matchmaker.New(mc, nc); err != nil { //nolint:contextcheck // the matchmaker outlives start-up; Close stops it
			return a, err
		}
	}
	for _, hc := range cfg.Hosts {
		nc, err := connect("edgeplay-host-"+hc.ID, natsd.RoleHost, hc.ID)
		if err != nil {
			return a, err
		}
		if hc.Logger == nil {
			hc.Logger = a.log
		}
		h, err := session.New(hc, nc) //nolint:contextcheck // the host outlives start-up; Close stops it
		if err != nil {
			return a, fmt.Errorf("host %s: %w", hc.ID, err)
		}
		a.hosts = append(a.hosts, h)
	}
	if cfg.TURN != nil {
		tc := *cfg.TURN
		if tc.Logger == nil {
			tc.Logger = a.log
		}
		if a.turn, err = turn.New(tc); err != nil { //nolint:contextcheck // the TURN server outlives start-up; Close stops it
			return a, err
		}
	}
	if cfg.GatewayAddr != "" {
		nc, err := connect("edgeplay-gateway", natsd.RoleGateway, "")
		if err != nil {
			return a, err
		}
		gc := cfg.Gateway
		if gc.Logger == nil {
			gc.Logger = a.log
		}
		if cfg.OpsAddr != "" {
			gc.PrivateMetrics = true
		}
		if gc.Studios == nil {
			if gc.Studios, gc.Tokens, err = a.openStudios(ctx, nc, cfg.MatchmakerConfig.Replicas, cfg.Webhooks, gc.Logger); err != nil {
				return a, fmt.Errorf("gateway: %w", err)
			}
		}
		if gc.Web == nil {
			gc.Web = web.Handler()
		}
		if a.turn != nil && !gc.TURN.Enabled() {
			gc.TURN.URLs, gc.TURN.Secret = turnURLs(a.turn), cfg.TURN.Secret
		}
		if err := gc.TURN.Validate(); err != nil {
			return a, fmt.Errorf("gateway: %w", err)
		}
		if len(cfg.Regions) > 0 {
			delays := map[string]time.Duration{}
			for _, r := range cfg.Regions {
				info := protocol.RegionInfo{ID: r.ID, Name: r.Name, Probe: r.ProbeURL, Gateway: r.GatewayURL}
				if info.Probe == "" { // measured here
					delays[r.ID] = r.SimulatedRTT
					info.Probe = "/v1/probe?region=" + r.ID
				}
				gc.Regions = append(gc.Regions, info)
			}
			pc := probe.HandlerConfig{Key: cfg.ProbeKey, Regions: delays, Logger: a.log}
			if err := pc.Validate(); err != nil {
				return a, fmt.Errorf("probe endpoint: %w", err)
			}
			gc.Probe = probe.NewHandler(pc)
		}
		if a.gw, err = server.New(gc, nc); err != nil {
			return a, fmt.Errorf("gateway: %w", err)
		}
		if err := a.gw.WatchHostLost(); err != nil {
			return a, err
		}
		var reloader *certs.Reloader
		if cfg.GatewayTLSCert != "" || cfg.GatewayTLSKey != "" {
			if cfg.GatewayTLSCert == "" || cfg.GatewayTLSKey == "" {
				return a, errors.New("gateway TLS: give both the certificate and the key")
			}
			if reloader, err = certs.NewReloader(cfg.GatewayTLSCert, cfg.GatewayTLSKey); err != nil {
				return a, fmt.Errorf("gateway: %w", err)
			}
		}
		var lc net.ListenConfig
		a.ln, err = lc.Listen(ctx, "tcp", cfg.GatewayAddr)
		if err != nil {
			return a, fmt.Errorf("gateway listen %s: %w", cfg.GatewayAddr, err)
		}
		if reloader != nil {
			a.ln, a.tls = tls.NewListener(a.ln, reloader.ServerConfig()), true
		}
		go func() { a.serveErr <- a.gw.Serve(a.ln) }()
	}
	if cfg.OpsAddr != "" {
		if err := a.startOps(ctx, cfg.OpsAddr, a.ncs); err != nil {
			return a, err
		}
	}
	return a, nil
}

// openStudios opens the studio store (its buckets made with replicas copies), this
// gateway's join token signer, and its share of the webhook deliveries.
func (a *App) openStudios(ctx context.Context, nc *nats.Conn, replicas int, wc studio.WebhookConfig, log *slog.Logger) (*studio.Store, *studio.Tokens, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, nil, fmt.Errorf("studio store: %w", err)
	}
	st, err := studio.Open(ctx, js, replicas)
	if err != nil {
		return nil, nil, err
	}
	tk, err := studio.NewTokens(ctx, st, log) //nolint:contextcheck // the signer outlives start-up; Close stops it
	if err != nil {
		return nil, nil, err
	}
	a.tokens = tk
	// The usage stream the webhooks read (a matchmaker makes it too; whoever starts first).
	if err := natsd.EnsureStreams(ctx, nc, replicas); err != nil {
		return nil, nil, err
	}
	if wc.Logger == nil {
		wc.Logger = log
	}
	if a.webhooks, err = studio.StartWebhooks(ctx, js, st, wc); err != nil {
		return nil, nil, err
	}
	return st, tk, nil
}

// URL is the gateway's base URL (http://host:port), or "" when no gateway runs.
func (a *App) URL() string {
	if a.ln == nil {
		return ""
	}
	addr := a.ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "localhost"
	}
	scheme := "http"
	if a.tls {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s", scheme, net.JoinHostPort(host, fmt.Sprint(addr.Port)))
}

// turnURLs are the TURN URIs of a server running in this process, at its relay address (the
// address players reach it at as well).
func turnURLs(s *turn.Server) []string {
	host := s.RelayIP().String()
	hp := net.JoinHostPort(host, strconv.Itoa(s.Addr().(*net.UDPAddr).Port))
	urls := []string{"turn:" + hp + "?transport=udp", "turn:" + hp + "?transport=tcp"}
	if ta, ok := s.TLSAddr().(*net.TCPAddr); ok {
		urls = append(urls, "turns:"+net.JoinHostPort(host, strconv.Itoa(ta.Port))+"?transport=tcp")
	}
	return urls
}

// TURN returns the TURN server running in this process, or nil.
func (a *App) TURN() *turn.Server { return a.turn }

// Hosts returns the session hosts running in this process.
func (a *App) Hosts() []*session.Host { return a.hosts }

// Matchmaker returns the matchmaker replica, or nil.
func (a *App) Matchmaker() *matchmaker.Matchmaker { return a.mm }

// NATSURL is the embedded server's client URL, or "".
func (a *App) NATSURL() string {
	if a.nats == nil {
		return ""
	}
	return a.nats.ClientURL()
}

// ServeErr reports a gateway that stopped serving on its own.
func (a *App) ServeErr() <-chan error { return a.serveErr }

// Close shuts down in the reverse order of start: hosts end their sessions (players are told
// why), the gateway closes the websockets, the TURN server closes its relays, the matchmaker
// leaves, NATS connections drain, and the embedded NATS server stops. It is idempotent.
func (a *App) Close(ctx context.Context) error {
	var errs []error
	a.once.Do(func() {
		if a.ops != nil {
			_ = a.ops.srv.Shutdown(ctx)
			<-a.ops.done
		}
		for _, h := range a.hosts {
			if err := h.Close(ctx); err != nil {
				errs = append(errs, fmt.Errorf("host %s: %w", h.ID(), err))
			}
		}
		if a.gw != nil {
			if err := a.gw.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs = append(errs, err)
			}
		}
		if a.webhooks != nil {
			a.webhooks.Close()
		}
		if a.tokens != nil {
			a.tokens.Close()
		}
		if a.turn != nil { // after the hosts: their sessions' relays end with them
			if err := a.turn.Close(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if a.mm != nil {
			a.mm.Close()
		}
		for i := len(a.conns) - 1; i >= 0; i-- {
			a.conns[i]()
		}
		if a.nats != nil {
			a.nats.Shutdown()
		}
	})
	return errors.Join(errs...)
}
