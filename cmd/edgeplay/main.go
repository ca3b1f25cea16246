// Command edgeplay runs the edgeplay roles: `up` runs everything in one process (embedded NATS,
// matchmaker, a session host with the demo game, the gateway and a TURN server); `gateway`,
// `matchmaker` and `host` run one role each against an external NATS; `turn` runs a TURN
// server, which needs no NATS.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/media"
	"github.com/edgeplay/edgeplay/probe"
	"github.com/edgeplay/edgeplay/protocol"
	"github.com/edgeplay/edgeplay/resume"
	"github.com/edgeplay/edgeplay/server"
	"github.com/edgeplay/edgeplay/session"
	"github.com/edgeplay/edgeplay/turn"
)

var version = "dev"

const usage = `edgeplay — cloud-gaming session server

Usage:
  edgeplay up         [flags]   run everything in one process (embedded NATS)
  edgeplay gateway    [flags]   run a gateway (web client, player websocket)
  edgeplay matchmaker [flags]   run a matchmaker replica
  edgeplay host       [flags]   run a session host
  edgeplay turn       [flags]   run a TURN server (relays for players whose UDP is blocked)
  edgeplay demo-game  [flags]   the demo as a game process, for --game ID="edgeplay demo-game" (docs/SDK.md)
  edgeplay version

Run "edgeplay <command> -h" for the flags of a command.
`

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "edgeplay:", err)
		}
		os.Exit(2)
	}
}

func run(args []string, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("edgeplay "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		natsURL     = fs.String("nats", "", "NATS server URLs, comma-separated (gateway, matchmaker, host); `up` embeds one when empty")
		addr        = fs.String("addr", ":8080", "gateway HTTP listen address (up, gateway)")
		dataDir     = fs.String("data", "", "embedded NATS JetStream directory (up); empty = temporary")
		natsPort    = fs.Int("nats-port", -1, "embedded NATS client port on 127.0.0.1 (up); -1 = random")
		hostID      = fs.String("id", "", "host id (host); default: the machine's hostname")
		region      = fs.String("region", "local", "data center id of the host (host) or of the gateway's probe endpoint (gateway)")
		slots       = fs.Int("slots", 0, "concurrent sessions per host (up: 2 per simulated host; host: 4)")
		regions     = fs.String("regions", "dxb-1,dxb-2", "simulated data centers (up): two hosts each")
		simRTT      = fs.String("simulate-rtt", "", "SIMULATION for demos and tests: extra RTT per data center's probe endpoint, e.g. dxb-1=8ms,dxb-2=30ms (up, gateway)")
		probeKey    = fs.String("probe-key", os.Getenv("EDGEPLAY_PROBE_KEY"), "HMAC key (≥ 32 bytes) shared by gateways and matchmakers for signed RTT samples; $EDGEPLAY_PROBE_KEY; up generates one; a matchmaker refuses to start without one unless --allow-unsigned-rtt")
		probeKeyF   = fs.String("probe-key-file", "", "file holding the probe key, in place of --probe-key")
		adminTokenF = fs.String("admin-token-file", "", "file holding the admin API token (≥ 16 bytes), in place of $EDGEPLAY_ADMIN_TOKEN (gateway, up)")
		peers       = fs.String("peers", "", "other data centers a gateway lists for RTT probes: ID=GATEWAY-URL pairs, e.g. dxb-2=https://gw.dxb-2.example (gateway)")
		exitDrained = fs.Bool("exit-when-drained", false, "exit 0 once a drain has emptied the host (host)")
		grace       = fs.Duration("drain-grace", 30*time.Minute, "drain deadline for SIGTERM and for drains that name none (host, up)")
		opsAddr     = fs.String("metrics-addr", "", "serve /metrics, /healthz and /readyz here, e.g. :9090; a gateway then serves no /metrics on --addr, where players connect (host, matchmaker, turn, gateway)")
		jsRepl      = fs.Int("jetstream-replicas", 1, "replicas of the JetStream streams and KV buckets the matchmaker and the gateway create: 3 on a NATS cluster (matchmaker, gateway, up)")
		natsNoAuth  = fs.Bool("nats-no-auth", false, "DEV ONLY: connect to an external NATS without credentials (roles refuse to otherwise: any client of that NATS could then act as any role) (all but turn)")
		natsCA      = fs.String("nats-ca", "", "CA certificate (PEM) that signs the NATS servers' TLS certificates, for tls:// URLs in --nats (all but up)")
		natsCert    = fs.String("nats-cert", "", "client certificate (PEM) for NATS servers that verify clients (mutual TLS), with --nats-key (all but up)")
		natsKey     = fs.String("nats-key", "", "key (PEM) of --nats-cert (all but up)")
		natsCreds   = fs.String("nats-creds", "", "NATS credentials file for --nats (each role its own user, each host its own; see docs/ARCHITECTURE.md)")
		unsigned    = fs.Bool("allow-unsigned-rtt", false, "DEV ONLY: the matchmaker accepts RTTs the client did not have signed (matchmaker, up)")
		udpAddr     = fs.String("udp", ":8443", "ICE UDP address shared by all sessions of the host (up, host)")
		publicIP    = fs.String("public-ip", "", "behind a 1:1 NAT: the public address players reach the host at, PUBLIC or PUBLIC/LOCAL (the local address it maps to; default: the one facing it); comma-separated (up, host)")
		encName     = fs.String("encoder", "auto", "H.264 encoder: auto, libx264, h264_nvenc, h264_vaapi (up, host)")
		bitrate     = fs.Int("bitrate", 0, "most video bitrate in kbit/s: congestion control adapts below it (up, host); 0 = 6000 up to 1280x720, 10000 above")
		codecs      = fs.String("codecs", media.DefaultCodecs, "video codecs offered, in order of preference: h264, vp8 (up, host)")
		size        = fs.String("size", "1280x720", "video size (up, host)")
		fps         = fs.Int("fps", 60, "frames per second (up, host)")
		idle        = fs.Duration("idle-timeout", 10*time.Minute, "end sessions without input for this long (up, host)")
		graceResume = fs.Duration("resume-grace", 20*time.Second, "how long a session waits for its player to come back after a network drop before it ends player_lost (up, host)")
		resumeKey   = fs.String("resume-secret-file", "", "file holding the secret (≥ 32 bytes) that signs players' resume tokens, shared by every gateway of the deployment; $EDGEPLAY_RESUME_SECRET; default: a random one, so only this gateway resumes its players (gateway)")
		turnAddr    = fs.String("turn-addr", turn.DefaultAddr, "TURN listen address, UDP and TCP on one port (turn, up); up: empty runs no TURN server")
		turnTLSAddr = fs.String("turn-tls-addr", turn.DefaultTLSAddr, "TURN over TLS (turns:) listen address, used with --turn-cert and --turn-key (turn)")
		turnCert    = fs.String("turn-cert", "", "TLS certificate chain (PEM) for TURN over TLS; reread when it changes (turn)")
		turnKey     = fs.String("turn-key", "", "TLS key (PEM) of --turn-cert (turn)")
		turnPublic  = fs.String("turn-public-ip", "", "address relays are advertised at, PUBLIC or PUBLIC/LOCAL (LOCAL: the address relays bind, behind a 1:1 NAT); default: the --turn-addr IP (turn, up: 127.0.0.1)")
		turnRealm   = fs.String("turn-realm", turn.DefaultRealm, "TURN realm (turn, up)")
		turnSecret  = fs.String("turn-secret", os.Getenv("EDGEPLAY_TURN_SECRET"), "TURN REST API secret shared by gateways and TURN servers (≥ 16 bytes); $EDGEPLAY_TURN_SECRET; up generates one (turn, gateway)")
		turnSecretF = fs.String("turn-secret-file", "", "file holding the TURN secret, in place of --turn-secret (turn, gateway)")
		turnPorts   = fs.String("turn-relay-ports", fmt.Sprintf("%d-%d", turn.DefaultMinPort, turn.DefaultMaxPort), "TURN relay UDP port range, MIN-MAX (turn, up)")
		turnPeers   = fs.String("turn-peers", "", "networks TURN relays may reach (the session hosts'), CIDRs comma-separated; empty: any but loopback, link-local and multicast (turn)")
		turnMax     = fs.Int("turn-max-allocations", turn.DefaultMaxAllocations, "most TURN relay allocations at once (turn)")
		turnURLs    = fs.String("turn-url", "", "TURN URLs handed to players with credentials, comma-separated, e.g. turn:turn.example:3478?transport=udp,turn:turn.example:3478?transport=tcp,turns:turn.example:443?transport=tcp (gateway)")
		turnTTL     = fs.Duration("turn-ttl", server.DefaultTURNTTL, "how long a player's TURN credentials allow a new relay (gateway, up)")
		logLevel    = fs.String("log-level", "info", "debug, info, warn or error")
		logFormat   = fs.String("log-format", "text", "text or json")
		gamesFile   = fs.String("games", "", "catalog file of games that run as their own process (JSON; docs/SDK.md, \"Catalog file\"), beside --game (up, host)")
		proxies     = fs.String("trusted-proxies", "", "CIDRs of the proxies in front of the gateway (load balancer, ingress), comma-separated: behind them a player's address, for the per-network connection limits, is the X-Forwarded-For entry they add (gateway, up)")
		tlsCert     = fs.String("tls-cert", "", "TLS certificate chain (PEM) of the gateway: it serves https and wss; reread when it changes (gateway, up)")
		tlsKey      = fs.String("tls-key", "", "TLS key (PEM) of --tls-cert (gateway, up)")
		joinTokens  = fs.String("join-tokens", "optional", "required: a join needs a join token from a studio's backend (production, docs/STUDIO.md); optional: a join without one plays too, as from the built-in page (gateway, up)")
		gameArgs    gameFlags
	)
	fs.Var(&gameArgs, "game", "a game that runs as its own process, beside the built-in demo: ID=COMMAND, COMMAND a program's path and its arguments separated by spaces (no quoting); repeatable (up, host; docs/SDK.md)")
	switch cmd {
	case "version", "-v", "--version":
		fmt.Println("edgeplay", version)
		return nil
	case "-h", "--help", "help":
		fmt.Fprint(stderr, usage)
		return nil
	case "demo-game":
		return demoGame(args, stderr)
	case "up", "gateway", "matchmaker", "host", "turn":
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	log, err := newLogger(*logLevel, *logFormat, stderr)
	if err != nil {
		return err
	}
	slog.SetDefault(log)

	pk, err := secret("the probe key", "--probe-key-file", *probeKeyF, *probeKey, probe.MinKeySize)
	if err != nil {
		return err
	}
	adminToken, err := secret("the admin token", "--admin-token-file", *adminTokenF, os.Getenv("EDGEPLAY_ADMIN_TOKEN"), minAdminToken)
	if err != nil {
		return err
	}
	cfg := app.Config{NATSURL: *natsURL, NATSPort: *natsPort, DataDir: *dataDir, Logger: log, ProbeKey: pk}
	cfg.MatchmakerConfig.AllowUnsignedRTT = *unsigned
	cfg.NATSCreds = *natsCreds
	if (*natsCert == "") != (*natsKey == "") {
		return errors.New("--nats-cert and --nats-key go together")
	}
	cfg.NATSCA, cfg.NATSCert, cfg.NATSKey = *natsCA, *natsCert, *natsKey
	if *natsURL != "" && cmd != "turn" && *natsCreds == "" && *natsCert == "" && !urlHasUser(*natsURL) && !*natsNoAuth {
		return errors.New("connecting to NATS without credentials: give --nats-creds (a user per role, docs/ARCHITECTURE.md " +
			"\"Users and permissions\"), user:password in the URL or a client certificate, or --nats-no-auth for a development cluster")
	}
	cfg.OpsAddr = *opsAddr
	cfg.GatewayTLSCert, cfg.GatewayTLSKey = *tlsCert, *tlsKey
	cfg.MatchmakerConfig.Replicas = *jsRepl
	cfg.Gateway.AdminToken = string(adminToken)
	for _, c := range strings.Split(*proxies, ",") {
		if c = strings.TrimSpace(c); c == "" {
			continue
		}
		p, err := netip.ParsePrefix(c)
		if err != nil {
			if a, aerr := netip.ParseAddr(c); aerr == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				return fmt.Errorf("--trusted-proxies: %q is not a CIDR or an address", c)
			}
		}
		cfg.Gateway.TrustedProxies = append(cfg.Gateway.TrustedProxies, p.Masked())
	}
	switch *joinTokens {
	case "required":
		cfg.Gateway.RequireJoinTokens = true
	case "optional":
	default:
		return fmt.Errorf("--join-tokens %q: want required or optional", *joinTokens)
	}
	tf := turnFlags{
		addr: *turnAddr, tlsAddr: *turnTLSAddr, cert: *turnCert, key: *turnKey, publicIP: *turnPublic,
		realm: *turnRealm, secret: *turnSecret, secretFile: *turnSecretF, ports: *turnPorts, peers: *turnPeers,
		maxAllocs: *turnMax, urls: *turnURLs, ttl: *turnTTL,
	}
	delays, err := parseRTTs(*simRTT)
	if err != nil {
		return err
	}
	if *graceResume <= 0 {
		return errors.New("--resume-grace must be positive")
	}
	if len(gameArgs) > 0 && cmd != "up" && cmd != "host" {
		return errors.New("--game is for up and host")
	}
	if *gamesFile != "" && cmd != "up" && cmd != "host" {
		return errors.New("--games is for up and host")
	}
	games, err := parseGames(gameArgs, *gamesFile)
	if err != nil {
		return err
	}
	if *slots == 0 {
		*slots = 4
		if cmd == "up" {
			*slots = 2
		}
	}
	var catalogs []*hostGames // every host's: their warm pools stop when run returns
	defer func() {
		for _, hg := range catalogs {
			hg.Close()
		}
	}()
	hostCfg := func(id string) (session.Config, error) {
		w, h, err := parseSize(*size)
		if err != nil {
			return session.Config{}, err
		}
		stream := game.Config{Width: w, Height: h, FPS: *fps}
		if stream.FPS == 0 {
			stream.FPS = 60 // the host's default (session.Config)
		}
		hg, err := gameCatalog(games, log, stream)
		if err != nil {
			return session.Config{}, err
		}
		catalogs = append(catalogs, hg)
		var ips []string
		if *publicIP != "" {
			ips = strings.Split(*publicIP, ",")
		}
		cs, err := media.ParseCodecs(*codecs)
		if err != nil {
			return session.Config{}, fmt.Errorf("--codecs: %w", err)
		}
		return session.Config{
			ID: id, Region: *region, Slots: *slots,
			Games: hg.games, Titles: hg.titles,
			Width: w, Height: h, FPS: *fps, BitrateKbps: *bitrate, EncoderBackend: *encName, Codecs: cs,
			UDPAddr: *udpAddr, PublicIPs: ips, IdleTimeout: *idle, ResumeGrace: *graceResume, DrainGrace: *grace,
			Version: version,
		}, nil
	}
	switch cmd {
	case "up":
		cfg.GatewayAddr, cfg.Matchmaker = *addr, true
		cfg.NATSAuth = cfg.NATSURL == "" // embedded NATS: a user per role
		if len(cfg.ProbeKey) == 0 {
			cfg.ProbeKey = randomKey()
		}
		if cfg.Gateway.AdminToken == "" {
			cfg.Gateway.AdminToken = hex.EncodeToString(randomKey()[:16])
		}
		basePort, err := udpPort(*udpAddr)
		if err != nil {
			return err
		}
		udpHost := (*udpAddr)[:strings.LastIndexByte(*udpAddr, ':')]
		for ri, r := range strings.Split(*regions, ",") {
			if !protocol.ValidName(r) {
				return fmt.Errorf("--regions: %q is not a valid data center id", r)
			}
			cfg.Regions = append(cfg.Regions, app.Region{ID: r, Name: regionName(r), SimulatedRTT: delays[r]})
			for h := range 2 {
				hc, err := hostCfg(fmt.Sprintf("%s-host-%d", r, h+1))
				if err != nil {
					return err
				}
				hc.Region = r
				port := 0
				if basePort != 0 {
					port = basePort + 2*ri + h
				}
				hc.UDPAddr = net.JoinHostPort(udpHost, strconv.Itoa(port))
				cfg.Hosts = append(cfg.Hosts, hc)
			}
		}
		for r := range delays {
			if !slices.ContainsFunc(cfg.Regions, func(x app.Region) bool { return x.ID == r }) {
				return fmt.Errorf("--simulate-rtt names %q, which is not in --regions", r)
			}
		}
		if cfg.TURN, err = tf.upConfig(); err != nil {
			return err
		}
		cfg.Gateway.TURN.TTL = tf.ttl
	case "gateway":
		cfg.GatewayAddr = *addr
		if len(cfg.ProbeKey) > 0 && protocol.ValidName(*region) {
			cfg.Regions = []app.Region{{ID: *region, Name: regionName(*region), SimulatedRTT: delays[*region]}}
			for _, kv := range strings.Split(*peers, ",") {
				if kv == "" {
					continue
				}
				id, u, ok := strings.Cut(kv, "=")
				if !ok || !protocol.ValidName(id) || !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
					return fmt.Errorf("--peers %q: want ID=http(s)://gateway pairs", kv)
				}
				u = strings.TrimSuffix(u, "/")
				cfg.Regions = append(cfg.Regions, app.Region{
					ID: id, Name: regionName(id),
					ProbeURL: u + "/v1/probe?region=" + id, GatewayURL: u,
				})
			}
		}
		if cfg.Gateway.TURN, err = tf.gatewayConfig(); err != nil {
			return err
		}
		if cfg.Gateway.ResumeSecret, err = resumeSecret(*resumeKey); err != nil {
			return err
		}
	case "matchmaker":
		if len(pk) == 0 && !*unsigned {
			return fmt.Errorf("a matchmaker without a probe key would trust the RTTs players report: set --probe-key, " +
				"--probe-key-file or $EDGEPLAY_PROBE_KEY (the gateways' key, ≥ 32 bytes), or --allow-unsigned-rtt for development")
		}
		cfg.Matchmaker = true
	case "host":
		id := *hostID
		if id == "" {
			hn, _ := os.Hostname()
			id = strings.ToLower(strings.ReplaceAll(hn, ".", "-"))
		}
		hc, err := hostCfg(id)
		if err != nil {
			return err
		}
		cfg.Hosts = []session.Config{hc}
	case "turn":
		if cfg.TURN, err = tf.serverConfig(); err != nil {
			return err
		}
	}
	if cmd != "up" && cmd != "turn" && cfg.NATSURL == "" {
		return errors.New("--nats is required (e.g. --nats nats://127.0.0.1:4222)")
	}
	hm := hostMode{exitWhenDrained: *exitDrained, grace: *grace, drainOnTerm: cmd == "host", printToken: len(adminToken) == 0}
	return serve(cfg, log, hm)
}

// hostMode says how a session host process ends (the host command).
type hostMode struct {
	// drainOnTerm: SIGTERM drains the host (grace) and exits when it is empty or at the
	// deadline, the Kubernetes preStop path; SIGINT still stops at once.
	drainOnTerm bool
	grace       time.Duration
	// exitWhenDrained: exit 0 once an operator's drain has emptied the host.
	exitWhenDrained bool
	// printToken: the admin token was made here (up), so the banner shows it.
	printToken bool
}

func serve(cfg app.Config, log *slog.Logger, hm hostMode) error {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.Start(ctx, cfg)
	if err != nil {
		return err
	}
	if u := a.URL(); u != "" {
		log.Info("edgeplay is running", "url", u)
		fmt.Fprintf(os.Stdout, "\n  edgeplay is running: open %s and press Play (Ctrl-C to stop)\n", u)
		if tok := cfg.Gateway.AdminToken; tok != "" && hm.printToken {
			fmt.Fprintf(os.Stdout, "  admin API token (for edgectl): export EDGEPLAY_ADMIN_TOKEN=%s\n", tok)
		}
		if cfg.Gateway.RequireJoinTokens {
			fmt.Fprintln(os.Stdout, "  join tokens: required (players come from studios' sites; the built-in page cannot play)")
		} else {
			fmt.Fprintln(os.Stdout, "  join tokens: optional. Studios: edgectl studios create NAME; to require tokens, add --join-tokens required (docs/STUDIO.md)")
		}
		fmt.Fprintln(os.Stdout)
	}
	poll := time.NewTicker(200 * time.Millisecond)
	defer poll.Stop()
	var serveErr error
	var drainUntil time.Time // set once SIGTERM started a drain
loop:
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGTERM && hm.drainOnTerm && drainUntil.IsZero() {
				drainUntil = time.Now().Add(hm.grace)
				log.Info("SIGTERM: draining before exit", "grace", hm.grace)
				for _, h := range a.Hosts() {
					if err := h.Drain(drainUntil, "the host is being updated"); err != nil {
						log.Warn("drain failed", "host", h.ID(), "err", err)
					}
				}
				continue
			}
			log.Info("shutting down", "signal", sig.String())
			break loop
		case serveErr = <-a.ServeErr():
			break loop
		case <-poll.C:
			if !drainUntil.IsZero() && time.Now().After(drainUntil.Add(2*time.Second)) {
				log.Warn("drain deadline passed; stopping")
				break loop
			}
			if (hm.exitWhenDrained || !drainUntil.IsZero()) && allDrained(a) {
				log.Info("drained: exiting")
				break loop
			}
		}
	}
	signal.Stop(sigs) // a second Ctrl-C kills the process the default way
	sctx, cancelClose := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancelClose()
	if err := a.Close(sctx); err != nil {
		return errors.Join(serveErr, err)
	}
	log.Info("stopped")
	return serveErr
}

// allDrained reports whether the process runs hosts and every one is drained (empty).
func allDrained(a *app.App) bool {
	hosts := a.Hosts()
	for _, h := range hosts {
		if h.Heartbeat().State != protocol.HostDrained {
			return false
		}
	}
	return len(hosts) > 0
}

// parseRTTs parses --simulate-rtt: "dxb-1=8ms,dxb-2=30ms".
func parseRTTs(s string) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	if s == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		id, d, ok := strings.Cut(kv, "=")
		dur, err := time.ParseDuration(d)
		if !ok || err != nil || dur < 0 || dur > probe.MaxSimulatedDelay || !protocol.ValidName(id) {
			return nil, fmt.Errorf("--simulate-rtt %q: want REGION=DURATION pairs, e.g. dxb-1=8ms,dxb-2=30ms (each 0-%s)", kv, probe.MaxSimulatedDelay)
		}
		out[id] = dur
	}
	return out, nil
}

func udpPort(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("--udp %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535-8 {
		return 0, fmt.Errorf("--udp %q: bad port", addr)
	}
	return port, nil
}

// regionName turns "dxb-1" into "DXB-1" for display.
func regionName(id string) string { return strings.ToUpper(id) }

// urlHasUser reports whether a NATS URL list carries credentials (nats://user:pass@host).
func urlHasUser(list string) bool {
	for _, u := range strings.Split(list, ",") {
		if scheme := strings.Index(u, "://"); scheme >= 0 && strings.LastIndexByte(u, '@') > scheme {
			return true
		}
	}
	return false
}

// minAdminToken is the shortest admin token a gateway accepts, in bytes.
const minAdminToken = 16

func randomKey() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

func parseSize(s string) (int, int, error) {
	var w, h int
	if _, err := fmt.Sscanf(s, "%dx%d", &w, &h); err != nil {
		return 0, 0, fmt.Errorf("--size %q: want WIDTHxHEIGHT, e.g. 1280x720", s)
	}
	return w, h, nil
}

func newLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// resumeSecret is the gateway's resume-token secret: the file's content (without surrounding
// white space), else $EDGEPLAY_RESUME_SECRET, else none (the gateway makes a random one).
func resumeSecret(file string) ([]byte, error) {
	return secret("the resume secret", "--resume-secret-file", file, os.Getenv("EDGEPLAY_RESUME_SECRET"), resume.MinSecret)
}
