package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	"golang.org/x/time/rate"

	"github.com/edgeplay/edgeplay/internal/metrics"
	"github.com/edgeplay/edgeplay/protocol"
)

const (
	// hardReadLimit closes a connection outright; messages between MaxMessageSize and this get
	// a message_too_large error first.
	hardReadLimit = 1 << 20
	writeTimeout  = 10 * time.Second
	sendQueue     = 32
	// maxDropped rate-limited messages before the socket is closed.
	maxDropped = 100
	// leaveGrace is how long after "leave" the gateway waits for the host's "ended".
	leaveGrace = 2 * time.Second
)

// outMsg is one queued websocket write: data, or a ping. A non-zero closeCode closes the
// socket after data.
type outMsg struct {
	data      []byte
	closeCode int
	ping      bool
}

// playConn is one player's websocket. Its reader goroutine (started by handlePlay, which then
// returns so that net/http's buffers and request are freed) owns its lifetime. A writer
// goroutine owns all writes (house style 6), but it runs only while there is something to
// send: most players are idle between messages (a queued one for minutes), and a parked
// goroutine costs a stack. Pings come from a timer through the same queue.
type playConn struct {
	s       *Server
	ws      *websocket.Conn
	log     *slog.Logger
	id      string // session id
	send    chan outMsg
	done    chan struct{} // closed when the connection is being torn down
	doneOne sync.Once
	limiter *rate.Limiter
	dropped int
	wg      sync.WaitGroup // writer and join goroutines
	// closing is set when a message that closes the socket has been queued. writing is set
	// while a writer goroutine runs, and for good once writing has ended (Close frame sent,
	// write failed or teardown), when writerDone closes.
	closing    atomic.Bool
	wmu        sync.Mutex
	writing    bool // guarded by wmu
	writerDone chan struct{}
	writerOnce sync.Once
	pingTimer  *time.Timer // guarded by mu
	// queued is set while the ticket waits in the matchmaker's queue; placedCh receives its
	// placement; lastQueued is when the last queue update arrived (unix nanos).
	queued     atomic.Bool
	lastQueued atomic.Int64
	placedCh   chan protocol.Reply
	// While queued no goroutine waits: the dispatcher starts the session when "placed"
	// arrives (starting makes sure only one does), and its ticker re-submits a ticket whose
	// queue fell silent (resubmitting: one at a time).
	starting     atomic.Bool
	resubmitting atomic.Bool
	queuedReq    protocol.PlaceRequest // guarded by mu
	player       *protocol.PlayerInfo  // guarded by mu; set by join before placement
	// Fairness (limits.go): the client the socket counts against; whether it is counted in
	// the gateway's total, against its client's sockets, and against its client's queued
	// tickets (all guarded by mu); the timer that closes a socket without a join.
	client                       netip.Prefix
	inTotal, counted, queueCount bool
	joinTimer                    *time.Timer
	// origin is the normalised web origin of a page of another site (a studio's page that
	// embeds the player); empty for this gateway's own page or a client that sends none.
	// badOrigin: another site's Origin that is not a valid web origin.
	origin    string
	badOrigin bool
	tornDown  bool // guarded by mu; no more goroutines may be spawned

	ctx    context.Context // cancelled when the connection ends
	cancel context.CancelFunc

	mu      sync.Mutex
	joined  bool               // guarded by mu
	host    string             // guarded by mu; set once the host has the session
	sub     *nats.Subscription // guarded by mu; the matchmaker's messages
	hostSub *nats.Subscription // guarded by mu; the host's messages (any host; fromHost picks)
	ended   atomic.Bool        // the host said "ended"; no leave needed
	// Resume: gen is the resume generation this connection carries (0 from join; the host's
	// next one after a resume), left is set by the player's leave, superseded when a newer
	// connection of the same player took the session over on this gateway.
	gen        atomic.Uint64
	left       atomic.Bool
	superseded atomic.Bool
	// awayOnClose: the gateway is shutting down under a placed session, which the player
	// takes back through another gateway; the host is told "away", not "leave".
	awayOnClose atomic.Bool
}

// Write buffers come from a pool and are held only while a message is written: most players
// are idle between messages (a queued one for minutes), so this saves 4 KiB per connection.
var upgraderBuffers = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 4096, WriteBufferPool: &sync.Pool{}}

func (s *Server) handlePlay(w http.ResponseWriter, r *http.Request) {
	up := upgraderBuffers
	up.CheckOrigin = s.cfg.CheckOrigin
	if up.CheckOrigin == nil {
		// Any page may open the socket (no cookies: it carries no authority); a page of
		// another site may only join with a token of a studio that lists its origin, and
		// resume a session it joined (join, dispatch). It gets a code rather than a refused
		// handshake it could not tell from a network failure.
		up.CheckOrigin = func(*http.Request) bool { return true }
	}
	up.Error = func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
		http.Error(w, reason.Error(), status)
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		s.log.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	c := &playConn{
		s: s, ws: ws, id: protocol.NewSessionID(),
		send:       make(chan outMsg, sendQueue),
		done:       make(chan struct{}),
		writerDone: make(chan struct{}),
		placedCh:   make(chan protocol.Reply, 1),
		limiter:    rate.NewLimiter(rate.Limit(s.cfg.MessageRate), s.cfg.MessageBurst),
	}
	addr := s.clientAddr(r)
	if addr.IsValid() {
		c.client = clientKey(addr)
	}
	c.origin, c.badOrigin = pageOrigin(r)
	c.log = s.log.With("session", c.id, "remote", r.RemoteAddr)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if !s.track(c) {
		_ = ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "shutting down"), time.Now().Add(time.Second))
		_ = ws.Close()
		c.cancel()
		return
	}
	metrics.PlayersConnected.Inc()
	ok, full := s.limits.admit(c.client, s.cfg.MaxConnsPerClient, s.cfg.MaxConns)
	c.mu.Lock()
	c.pingTimer = time.AfterFunc(s.cfg.PingInterval, c.ping)
	c.inTotal, c.counted = ok, ok
	if ok {
		c.joinTimer = time.AfterFunc(s.cfg.JoinTimeout, c.joinExpired)
	}
	c.mu.Unlock()
	switch {
	case full:
		c.log.Warn("player socket refused: the gateway has its maximum of connections", "max", s.cfg.MaxConns)
		metrics.Rejected.WithLabelValues("connections").Inc()
		c.sendErr(protocol.Errorf(protocol.CodeTooManyConnections, "this server has its maximum of %d connections; try again shortly", s.cfg.MaxConns),
			websocket.CloseTryAgainLater)
	case !ok:
		c.log.Info("player socket refused: too many from one client", "client", c.client, "max", s.cfg.MaxConnsPerClient)
		metrics.Rejected.WithLabelValues("connections").Inc()
		c.sendErr(protocol.Errorf(protocol.CodeTooManyConnections, "at most %d connections without a join token from one network", s.cfg.MaxConnsPerClient),
			websocket.ClosePolicyViolation)
	default:
		c.sendMsg(protocol.Message{
			Type: protocol.TypeWelcome, Version: protocol.ProtocolVersion, Session: c.id,
			Regions: s.cfg.Regions,
		}, 0)
	}
	// The connection outlives the HTTP request (and its context: c.ctx is its own). Returning
	// frees net/http's per-connection buffers and the request, which the hijacked socket no
	// longer needs.
	go func() { //nolint:contextcheck // see above
		defer s.untrack(c)
		defer metrics.PlayersConnected.Dec()
		c.contain("connection", c.readLoop)
		c.contain("connection teardown", c.teardown)
	}()
}

// isTimeout reports whether err is a read deadline passing.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// joinExpired closes a socket that has sent neither join nor resume; it runs on the timer's
// goroutine.
func (c *playConn) joinExpired() {
	c.mu.Lock()
	joined := c.joined || c.tornDown
	c.mu.Unlock()
	if !joined {
		c.log.Info("no join in time; closing", "timeout", c.s.cfg.JoinTimeout)
		c.sendErr(protocol.Errorf(protocol.CodeJoinTimeout, "send join (or resume) within %s of opening the connection", c.s.cfg.JoinTimeout),
			websocket.ClosePolicyViolation)
	}
}

// uncount stops counting the socket against its client: a redeemed join token (the
// studio's quotas govern it from now), or the socket's end.
func (c *playConn) uncount() {
	c.mu.Lock()
	counted := c.counted
	c.counted = false
	c.mu.Unlock()
	if counted {
		c.s.limits.uncount(c.client)
	}
}

// unqueue forgets the socket's queued ticket in its client's count.
func (c *playConn) unqueue() {
	c.mu.Lock()
	counted := c.queueCount
	c.queueCount = false
	c.mu.Unlock()
	if counted {
		c.s.limits.unqueue(c.client)
	}
}

// ping queues a websocket ping and re-arms the timer; it runs on the timer's goroutine.
func (c *playConn) ping() {
	c.enqueue(outMsg{ping: true})
	c.mu.Lock()
	if !c.tornDown {
		c.pingTimer.Reset(c.s.cfg.PingInterval)
	}
	c.mu.Unlock()
}

func (c *playConn) readLoop() {
	deadline := 3 * c.s.cfg.PingInterval
	c.ws.SetReadLimit(hardReadLimit)
	_ = c.ws.SetReadDeadline(time.Now().Add(deadline))
	// A pong moves the deadline on, but never past the end of the message being read: a
	// message must arrive whole within MessageTimeout, pongs or not (a client sending one
	// byte of a large message at a time while answering pings would hold its reader forever).
	var msgEnd time.Time // zero between messages; the reader's only
	c.ws.SetPongHandler(func(string) error {
		d := time.Now().Add(deadline)
		if !msgEnd.IsZero() && msgEnd.Before(d) {
			d = msgEnd
		}
		return c.ws.SetReadDeadline(d)
	})
	for {
		msgEnd = time.Time{}
		kind, rd, err := c.ws.NextReader()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
				c.log.Debug("websocket read ended", "err", err)
			}
			return
		}
		if c.isDone() {
			return // closing: a client that ignores our Close frame does not keep the reader
		}
		msgEnd = time.Now().Add(c.s.cfg.MessageTimeout)
		_ = c.ws.SetReadDeadline(msgEnd)
		data, err := io.ReadAll(io.LimitReader(rd, protocol.MaxMessageSize+1))
		if err != nil {
			if isTimeout(err) {
				c.log.Info("a message did not arrive whole in time; closing", "timeout", c.s.cfg.MessageTimeout)
				metrics.Rejected.WithLabelValues("slow_message").Inc()
			}
			return
		}
		msgEnd = time.Time{}
		_ = c.ws.SetReadDeadline(time.Now().Add(deadline))
		if len(data) > protocol.MaxMessageSize {
			c.log.Info("oversized message; closing", "limit", protocol.MaxMessageSize)
			c.sendErr(protocol.Errorf(protocol.CodeMessageTooLarge, "message is larger than %d bytes", protocol.MaxMessageSize),
				websocket.CloseMessageTooBig)
			return
		}
		if !c.limiter.Allow() {
			c.dropped++
			if c.dropped >= maxDropped {
				c.log.Info("too many messages; closing")
				c.sendErr(protocol.Errorf(protocol.CodeRateLimited, "too many messages; closing"), websocket.ClosePolicyViolation)
				return
			}
			c.sendErr(protocol.Errorf(protocol.CodeRateLimited, ""), 0)
			continue
		}
		if kind != websocket.TextMessage {
			c.sendErr(protocol.Errorf(protocol.CodeBadMessage, "binary messages are not accepted"), 0)
			continue
		}
		m, err := protocol.ParseClient(data)
		if err != nil {
			c.sendErr(err, 0)
			continue
		}
		if stop := c.dispatch(m); stop {
			return
		}
	}
}

// dispatch acts on one valid message; it reports whether reading should stop.
func (c *playConn) dispatch(m protocol.Message) bool {
	if hook := dispatchHookForTest; hook != nil {
		hook(m)
	}
	switch m.Type {
	case protocol.TypeJoin:
		c.mu.Lock()
		already := c.joined
		c.joined = true
		c.mu.Unlock()
		if already {
			c.sendErr(protocol.Errorf(protocol.CodeBadState, "already joined"), 0)
			return false
		}
		c.wg.Go(func() { c.contain("join", func() { c.join(m) }) })
	case protocol.TypeResume:
		c.mu.Lock()
		already := c.joined
		c.mu.Unlock()
		if already {
			c.sendErr(protocol.Errorf(protocol.CodeBadState, "this socket already carries a session"), 0)
			return false
		}
		tok, err := c.s.resume.Check(m.Token, m.Session, time.Now())
		if err != nil {
			c.log.Info("resume refused", "session", m.Session, "err", err)
			c.sendErr(protocol.Errorf(protocol.CodeResumeInvalid, ""), 0)
			return false
		}
		if c.origin != tok.Origin || c.badOrigin {
			c.log.Info("resume refused: from another page's origin", "session", m.Session, "origin", c.origin, "joined_from", tok.Origin)
			c.sendErr(protocol.Errorf(protocol.CodeOriginNotAllowed, "the session can only be taken back from the page it was joined on"), 0)
			return false
		}
		c.mu.Lock()
		c.joined = true
		c.mu.Unlock()
		// From here on this connection is the session's: nothing else has used its own id
		// (no subscription, no map entry), and no other goroutine reads c.id yet. (c.log keeps
		// the welcome's id: the writer may be using it; resume's lines name the session.)
		c.id = tok.Session
		c.wg.Go(func() { c.contain("resume", func() { c.resumeSession(tok) }) })
	case protocol.TypeICERestart:
		host := c.hostID()
		if host == "" {
			c.sendErr(protocol.Errorf(protocol.CodeBadState, "ice_restart before the session has a host"), 0)
			return false
		}
		c.toHost(host, m)
	case protocol.TypeAnswer, protocol.TypeCandidate:
		host := c.hostID()
		if host == "" {
			c.sendErr(protocol.Errorf(protocol.CodeBadState, "%s before the session has an offer", m.Type), 0)
			return false
		}
		c.toHost(host, m)
	case protocol.TypeLeave:
		c.left.Store(true)
		if host := c.hostID(); host != "" && !c.ended.Load() {
			c.toHost(host, m)
			// Wait briefly for the host's "ended", which the writer forwards and then closes.
			select {
			case <-c.done:
			case <-time.After(leaveGrace):
			}
		}
		return true
	}
	return false
}

func (c *playConn) hostID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.host
}

func (c *playConn) toHost(host string, m protocol.Message) {
	m.Gen = c.gen.Load() // never the client's: the host checks it against the session's
	b, _ := json.Marshal(m)
	if err := c.s.nc.Publish(protocol.SubjectToHost(host, c.id), b); err != nil {
		c.log.Warn("publish to host failed", "err", err)
		c.sendErr(protocol.Errorf(protocol.CodeHostUnavailable, "could not reach the game host"), 0)
	}
}

// join places the session and starts it on the host. It runs on its own goroutine so the reader
// keeps serving (and noticing a closed socket) meanwhile.
func (c *playConn) join(m protocol.Message) {
	g, err := c.s.redeem(c.ctx, m, c.id)
	player, game := g.player, g.game
	if err == nil && (c.origin != "" || c.badOrigin) {
		err = originAllowed(c.origin, c.badOrigin, g)
	}
	if err != nil {
		c.log.Info("join refused", "game", m.Game, "origin", c.origin, "err", err)
		c.sendErr(err, websocket.CloseNormalClosure)
		return
	}
	m.Game = game
	c.mu.Lock()
	c.player = player
	c.mu.Unlock()
	if player != nil {
		c.log.Info("join token redeemed", "studio", player.Studio, "player", player.ID, "game", game)
		c.uncount()
	}
	// A channel subscription: no goroutine per player; the server's dispatcher routes.
	c.s.mu.Lock()
	c.s.bySession[c.id] = c
	c.s.mu.Unlock()
	sub, err := c.s.nc.ChanSubscribe(protocol.SubjectToClient(c.id), c.s.clientMsgs)
	if err != nil {
		c.log.Error("subscribe failed", "err", err)
		c.sendErr(protocol.Errorf(protocol.CodeInternal, ""), websocket.CloseInternalServerErr)
		return
	}
	c.mu.Lock()
	c.sub = sub
	c.mu.Unlock()
	// The host's messages come on a subject only that host may publish to; subscribed now,
	// long before the host is asked to start, so its offer never outruns the interest.
	hostSub, err := c.s.nc.ChanSubscribe(protocol.SubjectFromAnyHost(c.id), c.s.clientMsgs)
	if err != nil {
		c.log.Error("subscribe failed", "err", err)
		c.sendErr(protocol.Errorf(protocol.CodeInternal, ""), websocket.CloseInternalServerErr)
		return
	}
	c.mu.Lock()
	c.hostSub = hostSub
	c.mu.Unlock()

	started := time.Now()
	req := protocol.PlaceRequest{Session: c.id, Game: m.Game, RTTs: m.RTTs, Since: started}
	if player != nil {
		req.Studio, req.StudioMaxSessions, req.StudioMaxQueued = player.Studio, g.studio.MaxSessions, g.studio.MaxQueued
	}
	reply, err := c.place(req)
	if err != nil {
		c.log.Info("placement failed", "game", m.Game, "err", err)
		c.sendErr(err, websocket.CloseNormalClosure)
		return
	}
	if reply.Queued {
		if player == nil {
			if !c.s.limits.queue(c.client, c.s.cfg.MaxQueuedPerClient) {
				c.log.Info("ticket refused: too many queued from one client", "client", c.client, "max", c.s.cfg.MaxQueuedPerClient)
				metrics.Rejected.WithLabelValues("queued").Inc()
				c.sendErr(protocol.Errorf(protocol.CodeQuotaExceeded, "at most %d players from one network may wait in the queue without a join token",
					c.s.cfg.MaxQueuedPerClient), websocket.CloseNormalClosure)
				return // the teardown cancels the ticket
			}
			c.mu.Lock()
			c.queueCount = true
			c.mu.Unlock()
		}
		c.mu.Lock()
		c.queuedReq = req
		c.mu.Unlock()
		c.lastQueued.Store(time.Now().UnixNano())
		c.sendMsg(protocol.Message{Type: protocol.TypeQueued, Position: reply.Position, ETA: reply.ETA}, 0)
		c.queued.Store(true)
		c.claimPlacement() // the placement may have raced the reply
		return             // the dispatcher takes it from here
	}
	if c.claimStart(reply.Host) {
		c.start(reply, started)
	}
}

// claimStart makes a placement the session's: the first of them wins (a second one, around a
// matchmaker failover, is released). It records the host at once, so that a second placement
// arriving meanwhile, or a teardown, knows which host holds the session.
func (c *playConn) claimStart(host string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.starting.CompareAndSwap(false, true) {
		return false
	}
	c.host = host
	return true
}

// claimPlacement starts the session if a placement is waiting and nobody started it yet.
func (c *playConn) claimPlacement() {
	select {
	case r := <-c.placedCh:
		if c.claimStart(r.Host) {
			c.spawn(func() { c.start(r, c.placeStarted()) })
		}
	default:
	}
}

func (c *playConn) placeStarted() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queuedReq.Since
}

// spawn runs fn on a goroutine the connection waits for, unless teardown has begun.
func (c *playConn) spawn(fn func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tornDown {
		return false
	}
	c.wg.Go(fn)
	return true
}

// resubmit submits a queued ticket again after its queue fell silent (a matchmaker
// failover), keeping its age. Run by the server's dispatcher through spawn.
func (c *playConn) resubmit() {
	defer c.resubmitting.Store(false)
	c.mu.Lock()
	req := c.queuedReq
	c.mu.Unlock()
	req.Resubmit = true
	c.log.Info("queue updates stopped; submitting the ticket again")
	r, err := c.place(req)
	switch {
	case err != nil:
		if c.ctx.Err() == nil {
			c.sendErr(err, websocket.CloseNormalClosure)
		}
	case !r.Queued:
		if c.claimStart(r.Host) {
			c.start(r, req.Since)
		} else {
			c.releaseDuplicate(r.Host)
		}
	default:
		c.lastQueued.Store(time.Now().UnixNano())
		c.sendMsg(protocol.Message{Type: protocol.TypeQueued, Position: r.Position, ETA: r.ETA}, 0)
	}
}

// checkQueue is called by the dispatcher every second: a ticket whose queue updates stopped
// is submitted again.
func (c *playConn) checkQueue() {
	if !c.queued.Load() || c.starting.Load() || time.Since(time.Unix(0, c.lastQueued.Load())) < queueSilence {
		return
	}
	if c.resubmitting.CompareAndSwap(false, true) && !c.spawn(c.resubmit) {
		c.resubmitting.Store(false)
	}
}

// place asks the matchmaker, retrying while no matchmaker answers (a leader failover takes up
// to the lease TTL) until PlaceTimeout.
func (c *playConn) place(req protocol.PlaceRequest) (protocol.Reply, error) {
	body, _ := json.Marshal(req)
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.PlaceTimeout)
	defer cancel()
	for {
		reply, err := request(ctx, c.s.nc, protocol.SubjectPlace, body)
		if !errors.Is(err, errNoResponders) {
			return reply, err
		}
		select {
		case <-ctx.Done():
			return reply, err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// start tells the player where it was placed and has the host start the session. claimStart
// has recorded the host.
func (c *playConn) start(reply protocol.Reply, started time.Time) {
	c.queued.Store(false)
	c.unqueue()
	if c.ctx.Err() != nil { // the player left while we were placing: free the reservation
		c.toHost(reply.Host, protocol.Message{Type: protocol.TypeLeave})
		return
	}
	metrics.PlacementSeconds.Observe(time.Since(started).Seconds())
	c.log.Info("session placed", "host", reply.Host, "region", reply.Region, "rtt_ms", reply.RTTMillis,
		"took", time.Since(started).Round(time.Microsecond), "reason", reply.Why)
	ice, iceErr := c.s.cfg.TURN.iceServers(c.id, time.Now())
	if iceErr != nil { // the player plays without a relay
		c.log.Warn("no TURN credentials for the session", "err", iceErr)
	}
	c.sendMsg(protocol.Message{
		Type: protocol.TypePlaced, Session: c.id, Host: reply.Host, Region: reply.Region,
		RTTMillis: reply.RTTMillis, Why: reply.Why, ICEServers: ice, ResumeToken: c.resumeToken(reply.Host, 0),
	}, 0)

	c.mu.Lock()
	player := c.player
	c.mu.Unlock()
	body, _ := json.Marshal(protocol.Message{Type: protocol.TypeStart, Player: player})
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.StartTimeout)
	_, err := request(ctx, c.s.nc, protocol.SubjectToHost(reply.Host, c.id), body)
	cancel()
	if err != nil {
		c.log.Warn("start failed", "host", reply.Host, "err", err)
		c.sendErr(err, websocket.CloseNormalClosure)
	}
}

// releaseDuplicate frees a second reservation for this session (two leaders placed it, around
// a failover), unless it is on the host the session started on.
func (c *playConn) releaseDuplicate(host string) {
	if cur := c.hostID(); cur != "" && host != "" && host != cur {
		c.log.Info("releasing a second placement", "host", host, "playing_on", cur)
		c.toHost(host, protocol.Message{Type: protocol.TypeLeave})
	}
}

// queueSilence is how long a queued ticket waits for news before it is submitted again.
const queueSilence = 5 * time.Second

var errNoResponders = protocol.Errorf(protocol.CodeHostUnavailable, "no matchmaker is available")

// request sends a NATS request and decodes its protocol.Reply; failures become *protocol.Error.
func request(ctx context.Context, nc *nats.Conn, subject string, body []byte) (protocol.Reply, error) {
	resp, err := nc.RequestWithContext(ctx, subject, body)
	switch {
	case errors.Is(err, nats.ErrNoResponders) && subject == protocol.SubjectPlace:
		return protocol.Reply{}, errNoResponders
	case errors.Is(err, nats.ErrNoResponders):
		return protocol.Reply{}, protocol.Errorf(protocol.CodeHostUnavailable, "no %s is available", responderName(subject))
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return protocol.Reply{}, protocol.Errorf(protocol.CodeHostUnavailable, "the %s did not answer in time", responderName(subject))
	case err != nil:
		return protocol.Reply{}, protocol.Errorf(protocol.CodeHostUnavailable, "the %s could not be reached", responderName(subject))
	}
	var r protocol.Reply
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return protocol.Reply{}, protocol.Errorf(protocol.CodeInternal, "")
	}
	return r, r.Err()
}

func responderName(subject string) string {
	if subject == protocol.SubjectPlace {
		return "matchmaker"
	}
	return "game host"
}

// fromHost forwards a message from the matchmaker (SubjectToClient: queued, placed, error) or
// from the session's host (SubjectFromHost: offer, candidate, draining, ended, error) to the
// player. It runs on the dispatcher's goroutine and never blocks.
func (c *playConn) fromHost(msg *nats.Msg) {
	var m protocol.Message
	if json.Unmarshal(msg.Data, &m) != nil {
		c.log.Warn("malformed message from host dropped")
		return
	}
	fromMatchmaker := msg.Subject == protocol.SubjectToClient(c.id)
	if !fromMatchmaker {
		if host := c.hostID(); host == "" || msg.Subject != protocol.SubjectFromHost(host, c.id) {
			c.log.Info("message from another host dropped", "type", m.Type, "subject", msg.Subject)
			return // e.g. a second placement's host ending it
		}
	}
	switch {
	case fromMatchmaker && m.Type != protocol.TypeQueued && m.Type != protocol.TypePlaced && m.Type != protocol.TypeError,
		!fromMatchmaker && (m.Type == protocol.TypeQueued || m.Type == protocol.TypePlaced):
		c.log.Warn("message from the wrong sender dropped", "type", m.Type, "subject", msg.Subject)
		return
	}
	closeCode := 0
	switch m.Type {
	case protocol.TypeQueued: // from the matchmaker leader
		c.lastQueued.Store(time.Now().UnixNano())
		if c.hostID() != "" {
			return
		}
	case protocol.TypePlaced: // from the matchmaker leader, for a queued ticket (it may
		// arrive before join has seen the "queued" reply, so it is always kept)
		if c.starting.Load() {
			c.releaseDuplicate(m.Host)
			return
		}
		select {
		case c.placedCh <- protocol.Reply{OK: true, Host: m.Host, Region: m.Region, RTTMillis: m.RTTMillis, Why: m.Why}:
		default:
		}
		if c.queued.Load() {
			c.claimPlacement()
		}
		return // start sends "placed" to the player itself
	case protocol.TypeOffer, protocol.TypeCandidate, protocol.TypeError, protocol.TypeDraining:
	case protocol.TypeEnded:
		c.ended.Store(true)
		closeCode = websocket.CloseNormalClosure
	default:
		c.log.Warn("unexpected message type from host dropped", "type", m.Type)
		return
	}
	if closeCode != 0 {
		c.closing.Store(true)
	}
	c.enqueue(outMsg{data: msg.Data, closeCode: closeCode})
}

func (c *playConn) sendMsg(m protocol.Message, closeCode int) {
	if closeCode != 0 {
		c.closing.Store(true)
	}
	b, _ := json.Marshal(m)
	c.enqueue(outMsg{data: b, closeCode: closeCode})
}

func (c *playConn) sendErr(err error, closeCode int) {
	c.sendMsg(protocol.ErrorMessage(err), closeCode)
}

// enqueue never blocks: a player whose queue is full is too slow and is dropped.
func (c *playConn) enqueue(m outMsg) {
	select {
	case <-c.done:
		return
	default:
	}
	select {
	case c.send <- m:
		c.startWriter()
	default:
		c.log.Warn("player too slow; closing")
		c.finish()
	}
}

// finish starts the teardown: the writer sends a Close frame and closes the socket, and the
// reader returns.
func (c *playConn) finish() {
	c.doneOne.Do(func() {
		close(c.done)
		c.cancel()
		c.startWriter()
	})
}

// startWriter starts a writer goroutine unless one runs (or writing has ended). It is called
// after a message was queued (or done closed): either the running writer sees it when it
// looks before stopping (under wmu), or it has stopped and this starts another.
func (c *playConn) startWriter() {
	c.wmu.Lock()
	start := !c.writing
	c.writing = true
	c.wmu.Unlock()
	if start && !c.spawn(c.writeLoop) {
		c.endWriting()
	}
}

// endWriting ends writing for good: writing stays set, so no writer starts again.
func (c *playConn) endWriting() {
	c.wmu.Lock()
	c.writing = true
	c.wmu.Unlock()
	c.writerOnce.Do(func() { close(c.writerDone) })
}

// idle stops the writer if there is nothing to do; it reports whether it did.
func (c *playConn) idle() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(c.send) > 0 || c.isDone() {
		return false
	}
	c.writing = false
	return true
}

func (c *playConn) isDone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// writeLoop writes queued messages until the queue is empty, then returns; enqueue and
// finish start it again.
func (c *playConn) writeLoop() {
	for {
		if c.isDone() {
			_ = c.ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseGoingAway, ""), time.Now().Add(time.Second))
			_ = c.ws.Close() // unblocks the reader
			c.endWriting()
			return
		}
		select {
		case <-c.done:
		case m := <-c.send:
			if !c.write(m) {
				c.endWriting()
				c.finish()
				return
			}
		default:
			if c.idle() {
				return
			}
		}
	}
}

// write sends one queued message; false means writing has ended (a Close frame was sent, or
// the write failed and the socket is closed).
func (c *playConn) write(m outMsg) bool {
	if m.ping {
		if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
			_ = c.ws.Close()
			return false
		}
		return true
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, m.data); err != nil {
		c.log.Debug("websocket write failed", "err", err)
		_ = c.ws.Close()
		return false
	}
	if m.closeCode != 0 {
		// Close politely: send the Close frame and let the reader wait (briefly) for the
		// client's answer, so the last message is not lost to a reset.
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(m.closeCode, ""),
			time.Now().Add(time.Second))
		_ = c.ws.SetReadDeadline(time.Now().Add(time.Second))
		return false
	}
	return true
}

// teardown runs once the reader has returned: it ends the session on the host if it is still
// running, and waits for the connection's goroutines.
func (c *playConn) teardown() {
	if c.closing.Load() {
		// A last message (an error or "ended") is queued: let the writer send it and the
		// Close frame before the socket goes.
		select {
		case <-c.writerDone:
		case <-time.After(2 * time.Second):
		}
	}
	c.finish()
	_ = c.ws.Close()
	c.mu.Lock()
	c.tornDown = true // from here spawn refuses, so Wait sees every goroutine
	if c.pingTimer != nil {
		c.pingTimer.Stop()
	}
	if c.joinTimer != nil {
		c.joinTimer.Stop()
	}
	inTotal := c.inTotal
	c.inTotal = false
	c.mu.Unlock()
	c.uncount()
	c.unqueue()
	if inTotal {
		c.s.limits.closed()
	}
	c.wg.Wait()
	c.endWriting()
	c.mu.Lock()
	host, sub, hostSub, joined := c.host, c.sub, c.hostSub, c.joined
	c.mu.Unlock()
	switch {
	case c.superseded.Load():
		// A newer connection of the player carries the session now.
	case host != "" && !c.ended.Load() && !c.left.Load() && (!c.closing.Load() || c.awayOnClose.Load()):
		// The socket went without a leave: the player may come back (resume). The host
		// waits for its grace.
		c.toHost(host, protocol.Message{Type: protocol.TypeAway})
	case host != "" && !c.ended.Load():
		c.toHost(host, protocol.Message{Type: protocol.TypeLeave})
	}
	if host == "" && joined && !c.superseded.Load() {
		// Queued, or being placed: the matchmaker drops the ticket (and frees a reservation
		// that lands after this).
		b, _ := json.Marshal(protocol.CancelRequest{Session: c.id})
		if err := c.s.nc.Publish(protocol.SubjectCancel, b); err != nil {
			c.log.Warn("cancel publish failed", "err", err)
		}
	}
	for _, s := range []*nats.Subscription{sub, hostSub} {
		if s != nil {
			_ = s.Unsubscribe()
		}
	}
	c.s.mu.Lock()
	if c.s.bySession[c.id] == c {
		delete(c.s.bySession, c.id)
	}
	c.s.mu.Unlock()
	c.log.Debug("player disconnected")
}

// shutdown is called by Server.Shutdown: tell the player, then close.
func (c *playConn) shutdown() {
	if c.hostID() != "" && !c.ended.Load() {
		c.awayOnClose.Store(true) // the player resumes through another gateway
	}
	c.sendErr(protocol.Errorf(protocol.CodeShuttingDown, ""), websocket.CloseGoingAway)
	// The writer closes the socket after the message; if it is stuck, force it.
	time.AfterFunc(time.Second, c.finish)
}
