// Package server is the gateway: the public edge of a data center. It serves the web client,
// the player websocket (/v1/play), health endpoints and metrics, and relays each player's
// signalling to its session host over NATS. It keeps no state that another replica could not
// rebuild: a player's session lives on the host.
package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/edgeplay/edgeplay/probe"
	"github.com/edgeplay/edgeplay/protocol"
	"github.com/edgeplay/edgeplay/resume"
	"github.com/edgeplay/edgeplay/studio"
)

// Config configures a gateway. Zero values take the defaults.
type Config struct {
	// Web serves the browser client at "/"; nil serves nothing there.
	Web http.Handler
	// PlaceTimeout bounds a placement request to the matchmaker; default 5 s.
	PlaceTimeout time.Duration
	// StartTimeout bounds the host's answer to "start"; default 5 s.
	StartTimeout time.Duration
	// PingInterval is how often the websocket is pinged; a connection without a pong for
	// 3 intervals is closed. Default 10 s.
	PingInterval time.Duration
	// MessageTimeout bounds the reading of one websocket message, from its first frame to its
	// last, whatever pings and pongs come between; default 10 s.
	MessageTimeout time.Duration
	// MessageRate and MessageBurst bound each player's websocket messages; default 20/s, 40.
	MessageRate  float64
	MessageBurst int
	// CheckOrigin decides whether a websocket from another origin is accepted; default: same
	// host only (the browser's Origin must match the Host header), or no Origin at all.
	CheckOrigin func(r *http.Request) bool
	Logger      *slog.Logger

	// AdminToken is the bearer token of the admin API under /v1/admin/ (docs/API.md). Empty
	// turns the API off: every admin request gets 403 admin_disabled.
	AdminToken string
	// MinReadySlots: a data-center drain is refused (unless forced) when the other data
	// centers would keep fewer free ready slots than this. Default 1.
	MinReadySlots int

	// Regions are the data centers a player measures before joining (sent in "welcome").
	Regions []protocol.RegionInfo
	// Probe serves GET /v1/probe (RTT measurement) for this gateway's data centers; nil
	// serves none.
	Probe *probe.Handler

	// TURN: the TURN servers each placed player is given, with credentials for its session
	// (in "placed"); zero: none. See TURNConfig.
	TURN TURNConfig

	// ResumeSecret signs the resume tokens players get in "placed" (package resume): every
	// gateway of a deployment must share it, so that a player can resume through any of them.
	// Empty: a random secret, so that only this gateway accepts its tokens (logged).
	ResumeSecret []byte
	// ResumeTTL is how long a resume token stays valid; default 24 h.
	ResumeTTL time.Duration

	// Studios and Tokens are the studio platform (docs/STUDIO.md): the store of studios and
	// API keys (the admin API's /v1/admin/studios) and the join tokens this gateway mints
	// (POST /v1/studio/tokens) and redeems at join. nil: no studio API, and a join with a
	// token is refused.
	Studios *studio.Store
	Tokens  *studio.Tokens
	// RequireJoinTokens refuses a join without a join token (token_required): production
	// gateways in front of studios' sites. Off, a join without one plays as today (the
	// built-in page), and one with a token is checked all the same.
	RequireJoinTokens bool

	// Fairness (issue 11; server/limits.go). JoinTimeout: a player socket that sends neither
	// join nor resume within it is closed (join_timeout); default 10 s. MaxConnsPerClient
	// bounds the open player sockets of one client (an IPv4 address or an IPv6 /64) that carry
	// no redeemed join token (too_many_connections), default 8; MaxQueuedPerClient their
	// queued tickets (quota_exceeded), default 4; MaxConns every open player socket of the
	// gateway, default 10,000. 0 takes the default, a negative value means no limit.
	JoinTimeout        time.Duration
	MaxConnsPerClient  int
	MaxQueuedPerClient int
	MaxConns           int
	// PrivateMetrics keeps /metrics off the gateway's port (they are served elsewhere: the
	// process's --metrics-addr); default: served here too.
	PrivateMetrics bool

	// TrustedProxies are the proxies (load balancers, ingresses) in front of the gateway: for
	// a connection from one of them the client's address is the rightmost X-Forwarded-For
	// entry that is not itself a trusted proxy. Empty: the connection's peer address.
	TrustedProxies []netip.Prefix
}

// Server is one gateway.
type Server struct {
	cfg Config
	nc  *nats.Conn
	log *slog.Logger
	mux *http.ServeMux

	resume *resume.Signer
	limits *clientLimits
	probes *clientLimits       // the RTT probes' sockets, counted apart from the players'
	js     jetstream.JetStream // the usage stream (studio API)

	mu       sync.Mutex
	conns    map[*playConn]struct{} // guarded by mu
	closing  bool                   // guarded by mu
	connWG   sync.WaitGroup
	httpSrv  *http.Server
	shutOnce sync.Once
	hostLost *nats.Subscription

	// Messages for players (edgeplay.client.<session> from the matchmaker,
	// edgeplay.player.<host>.<session> from the host) arrive on per-session channel
	// subscriptions that all feed clientMsgs; one dispatcher goroutine routes them.
	clientMsgs chan *nats.Msg
	bySession  map[string]*playConn // guarded by mu
	quit       chan struct{}
	dispatchWG sync.WaitGroup
}

// New builds a gateway that talks to the rest of the system over nc. It fails only on a bad
// ResumeSecret.
func New(cfg Config, nc *nats.Conn) (*Server, error) {
	if cfg.PlaceTimeout == 0 {
		cfg.PlaceTimeout = 5 * time.Second
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 5 * time.Second
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = 10 * time.Second
	}
	if cfg.MessageRate == 0 {
		cfg.MessageRate = 20
	}
	if cfg.MinReadySlots == 0 {
		cfg.MinReadySlots = 1
	}
	if cfg.MessageBurst == 0 {
		cfg.MessageBurst = 40
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ResumeTTL == 0 {
		cfg.ResumeTTL = 24 * time.Hour
	}
	if cfg.MessageTimeout == 0 {
		cfg.MessageTimeout = 10 * time.Second
	}
	if cfg.JoinTimeout == 0 {
		cfg.JoinTimeout = DefaultJoinTimeout
	}
	if cfg.MaxConnsPerClient == 0 {
		cfg.MaxConnsPerClient = DefaultMaxConnsPerClient
	}
	if cfg.MaxQueuedPerClient == 0 {
		cfg.MaxQueuedPerClient = DefaultMaxQueuedPerClient
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	s := &Server{
		cfg: cfg, nc: nc, log: cfg.Logger.With("role", "gateway"), conns: map[*playConn]struct{}{},
		limits: newClientLimits(), probes: newClientLimits(),
	}
	secret := cfg.ResumeSecret
	if len(secret) == 0 {
		secret = make([]byte, resume.MinSecret)
		_, _ = rand.Read(secret)
		s.log.Info("no resume secret: players can resume their sessions only through this gateway")
	}
	var err error
	if s.resume, err = resume.NewSigner(secret); err != nil {
		return nil, err
	}
	if s.js, err = jetstream.New(nc); err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	s.clientMsgs = make(chan *nats.Msg, 8192)
	s.bySession = map[string]*playConn{}
	s.quit = make(chan struct{})
	s.dispatchWG.Go(s.dispatch)
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /v1/play", s.handlePlay)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	s.mux.HandleFunc("GET /readyz", s.handleReady)
	if cfg.Probe != nil {
		s.mux.Handle("GET /v1/probe", s.limitProbes(cfg.Probe))
	}
	if !cfg.PrivateMetrics {
		s.mux.Handle("GET /metrics", promhttp.Handler())
	}
	s.mountAdmin()
	s.mountGames()
	s.mux.HandleFunc("POST /v1/studio/tokens", s.mintToken)
	s.mux.HandleFunc("GET /v1/studio/usage", s.studioUsage)
	if cfg.Web != nil {
		s.mux.Handle("/", cfg.Web)
	}
	return s, nil
}

// Handler is the gateway's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

func (s *Server) handleReady(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	switch {
	case closing:
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("shutting down\n"))
	case !s.nc.IsConnected():
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not connected to NATS\n"))
	default:
		_, _ = w.Write([]byte("ready\n"))
	}
}

// Serve accepts HTTP connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	s.httpSrv = srv
	s.mu.Unlock()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("gateway serve: %w", err)
	}
	return nil
}

// Shutdown stops accepting connections, tells every player the server is going away, ends
// their sessions, closes the websockets with a Close frame and waits for their goroutines.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.shutOnce.Do(func() {
		s.mu.Lock()
		s.closing = true
		srv := s.httpSrv
		conns := make([]*playConn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		if srv != nil {
			// Hijacked websockets are not closed by Shutdown; we close them below.
			if e := srv.Shutdown(ctx); e != nil {
				err = fmt.Errorf("http shutdown: %w", e)
			}
		}
		for _, c := range conns {
			c.shutdown()
		}
		if s.cfg.Probe != nil {
			_ = s.cfg.Probe.Close()
		}
		s.mu.Lock()
		hostLost := s.hostLost
		s.mu.Unlock()
		if hostLost != nil {
			_ = hostLost.Unsubscribe()
		}
		done := make(chan struct{})
		go func() { s.connWG.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			err = errors.Join(err, fmt.Errorf("gateway shutdown: %w", ctx.Err()))
		}
		close(s.quit)
		s.dispatchWG.Wait()
	})
	return err
}

// track registers a connection; it fails once shutdown has begun.
func (s *Server) track(c *playConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	s.connWG.Add(1)
	return true
}

func (s *Server) untrack(c *playConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.connWG.Done()
}

// dispatch routes host and matchmaker messages to the player connections until Shutdown.
func (s *Server) dispatch() {
	queueCheck := time.NewTicker(time.Second)
	defer queueCheck.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-queueCheck.C:
			s.mu.Lock()
			conns := make([]*playConn, 0, len(s.bySession))
			for _, c := range s.bySession {
				conns = append(conns, c)
			}
			s.mu.Unlock()
			for _, c := range conns {
				c.contain("queue check", c.checkQueue)
			}
		case msg := <-s.clientMsgs:
			session := msg.Subject[strings.LastIndexByte(msg.Subject, '.')+1:]
			s.mu.Lock()
			c := s.bySession[session]
			s.mu.Unlock()
			if c != nil {
				c.contain("host message", func() { c.fromHost(msg) })
			}
		}
	}
}
