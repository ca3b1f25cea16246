package server

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/protocol"
)

// The admin API: JSON over HTTP under /v1/admin/, behind a bearer token, for edgectl and the
// ops page. docs/API.md documents every endpoint, status and error code. The gateway keeps no
// state for it: hosts come from the matchmaker (protocol.SubjectHosts), sessions from each host
// (protocol.SubjectHostSessions), events from the JetStream stream protocol.StreamEvents.

const (
	// adminHostsTimeout bounds the matchmaker's answer to the hosts query.
	adminHostsTimeout = 2 * time.Second
	// adminHostTimeout bounds one host's answer to the sessions query; a host that misses it
	// is reported in the X-Edgeplay-Missing-Hosts header instead.
	adminHostTimeout = time.Second
	// adminFanout is how many hosts one sessions request queries at a time.
	adminFanout = 32
	// adminWriteTimeout bounds every write of an event stream: a stalled client is dropped.
	adminWriteTimeout = 10 * time.Second
	// adminMissingHostsHeader lists, comma-separated, the hosts that did not answer a
	// sessions query; their sessions are missing from the body.
	adminMissingHostsHeader = "X-Edgeplay-Missing-Hosts"

	eventsDefaultLimit = 100
	eventsMaxLimit     = 10000
	eventsMaxKinds     = 16
	// eventsBacklogTimeout bounds reading the backlog of an events request.
	eventsBacklogTimeout = 10 * time.Second
	// eventsConsumerIdle is the server-side backstop that removes an events request's
	// consumer if the gateway dies before deleting it.
	eventsConsumerIdle = 30 * time.Second
)

// Tunables of a followed event stream; variables so tests can shorten them.
var (
	// eventsKeepAlive: a followed stream with nothing to say writes an empty line this often,
	// so clients and proxies can tell a quiet stream from a dead one.
	eventsKeepAlive = 15 * time.Second
	// eventsPoll is how long a followed stream waits for an event before it checks whether
	// the client left or the gateway is shutting down: http.Server.Shutdown does not cancel
	// request contexts, it waits for the response to end (until its own deadline), so the
	// stream must notice shutdown itself.
	eventsPoll = 500 * time.Millisecond
)

// admin serves /v1/admin/. Every request is authenticated before it is routed, so a caller
// without the token learns nothing, not even which paths exist.
type admin struct {
	s       *Server
	log     *slog.Logger
	js      jetstream.JetStream
	enabled bool
	token   [sha256.Size]byte // SHA-256 of Config.AdminToken: compared in constant time
	routes  *http.ServeMux
}

// adminHandler is an admin endpoint. A returned error becomes the JSON error response (see
// adminStatus); a handler that has already written its response returns nil.
type adminHandler func(w http.ResponseWriter, r *http.Request) error

// mountAdmin registers the admin API on the gateway's mux.
func (s *Server) mountAdmin() {
	a := &admin{
		s:       s,
		log:     s.log.With("api", "admin"),
		enabled: s.cfg.AdminToken != "",
		token:   sha256.Sum256([]byte(s.cfg.AdminToken)),
		routes:  http.NewServeMux(),
	}
	js, err := jetstream.New(s.nc)
	if err != nil { // jetstream.New only fails on a nil connection
		a.log.Error("admin API: no JetStream context; /v1/admin/events will fail", "err", err)
	}
	a.js = js
	a.handle("GET /v1/admin/hosts", a.listHosts)
	a.handle("GET /v1/admin/hosts/{id}", a.getHost)
	a.handle("GET /v1/admin/sessions", a.listSessions)
	a.handle("GET /v1/admin/sessions/{id}", a.getSession)
	a.handle("GET /v1/admin/events", a.events)
	a.handle("POST /v1/admin/hosts/{id}/drain", a.drainHost)
	a.handle("POST /v1/admin/hosts/{id}/undrain", a.drainHost)
	a.handle("POST /v1/admin/sessions/{id}/kick", a.kickSession)
	a.handle("GET /v1/admin/regions", a.listRegions)
	a.handle("POST /v1/admin/regions/{id}/drain", a.drainRegion)
	a.mountStudios()
	a.handle("GET /v1/admin/usage", a.usage)
	s.mux.Handle("/v1/admin/", a)
}

// handle adds an endpoint. Patterns carry their method ("GET /v1/admin/…").
func (a *admin) handle(pattern string, h adminHandler) {
	a.routes.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.fail(w, r, err)
		}
	})
}

func (a *admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !a.enabled {
		a.fail(w, r, &protocol.Error{Code: protocol.CodeAdminDisabled})
		return
	}
	if err := a.authenticate(r); err != nil {
		a.log.Info("admin request refused", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path, "err", err)
		w.Header().Set("WWW-Authenticate", `Bearer realm="edgeplay admin"`)
		a.fail(w, r, err)
		return
	}
	if _, pattern := a.routes.Handler(r); pattern == "" {
		if allow := a.allowedMethods(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			a.fail(w, r, protocol.Errorf(protocol.CodeMethodNotAllowed, "%s is not allowed on %s (allowed: %s)",
				r.Method, r.URL.Path, strings.Join(allow, ", ")))
			return
		}
		a.fail(w, r, protocol.Errorf(protocol.CodeNotFound, "no admin endpoint %s", r.URL.Path))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	a.routes.ServeHTTP(w, r)
}

// authenticate checks the bearer token. Both sides are hashed first, so the comparison takes
// the same time whatever the token's length.
func (a *admin) authenticate(r *http.Request) error {
	h := r.Header.Get("Authorization")
	if h == "" {
		return protocol.Errorf(protocol.CodeUnauthorized, "missing header Authorization: Bearer <admin token>")
	}
	scheme, token, _ := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return protocol.Errorf(protocol.CodeUnauthorized, "the Authorization header must be: Bearer <admin token>")
	}
	sum := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(sum[:], a.token[:]) != 1 {
		return protocol.Errorf(protocol.CodeUnauthorized, "the admin token is wrong")
	}
	return nil
}

// allowedMethods lists the methods the path has endpoints for, for a 405's Allow header.
func (a *admin) allowedMethods(r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.WithContext(r.Context()) // a shallow copy with its own Method
		probe.Method = m
		if _, pattern := a.routes.Handler(probe); pattern != "" {
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
	}
	return allow
}

// adminError is the body of every admin error response.
type adminError struct {
	Code    protocol.Code `json:"code"`
	Message string        `json:"message"`
}

// fail writes err as a JSON error. Errors without a protocol code are internal: logged here
// with their detail, shown to the client only as "internal error".
func (a *admin) fail(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client is gone; nobody reads the answer
	}
	m := protocol.ErrorMessage(err)
	if m.Code == protocol.CodeInternal {
		a.log.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	adminJSON(w, adminStatus(m.Code), adminError{Code: m.Code, Message: m.Message})
}

// adminStatus is the HTTP status of each error code the admin API returns.
func adminStatus(c protocol.Code) int {
	switch c {
	case protocol.CodeBadField, protocol.CodeBadMessage:
		return http.StatusBadRequest
	case protocol.CodeUnauthorized:
		return http.StatusUnauthorized
	case protocol.CodeAdminDisabled:
		return http.StatusForbidden
	case protocol.CodeNotFound, protocol.CodeSessionNotFound:
		return http.StatusNotFound
	case protocol.CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case protocol.CodeBadState:
		return http.StatusConflict
	case protocol.CodeRateLimited:
		return http.StatusTooManyRequests
	case protocol.CodeHostUnavailable, protocol.CodeEventsUnavailable, protocol.CodeShuttingDown, protocol.CodeNoFreeHost:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func adminJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only our own types reach here, and they marshal
		status, b = http.StatusInternalServerError, []byte(`{"code":"internal","message":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// adminQuery returns the request's query, refusing parameters the endpoint does not take (a
// typo must not silently widen a listing) and repeated ones.
func adminQuery(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeBadField, "the query string is malformed")
	}
	for k, v := range q {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return nil, protocol.Errorf(protocol.CodeBadField, "unknown parameter %.64q: this endpoint takes none", k)
			}
			return nil, protocol.Errorf(protocol.CodeBadField, "unknown parameter %.64q (this endpoint takes: %s)", k, strings.Join(allowed, ", "))
		}
		if len(v) > 1 {
			return nil, protocol.Errorf(protocol.CodeBadField, "parameter %q is given %d times", k, len(v))
		}
	}
	return q, nil
}

// nameParam returns an optional host or region parameter, validated.
func nameParam(q url.Values, key string) (string, error) {
	v := q.Get(key)
	if v != "" && !protocol.ValidName(v) {
		return "", protocol.Errorf(protocol.CodeBadField, "%s must be 1-%d characters of a-z 0-9 - _", key, protocol.MaxNameSize)
	}
	return v, nil
}

// ---- hosts ----

// adminHost is a host in the admin API: the matchmaker's view of it, with the host id also
// under "id" as every admin object has one.
type adminHost struct {
	ID string `json:"id"`
	protocol.HostStatus
}

// hosts asks the matchmaker for its registry, sorted by region then id.
func (a *admin) hosts(ctx context.Context) ([]protocol.HostStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, adminHostsTimeout)
	defer cancel()
	msg, err := a.s.nc.RequestWithContext(ctx, protocol.SubjectHosts, nil)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, protocol.Errorf(protocol.CodeHostUnavailable,
			"no matchmaker answers the hosts query (%s): none is running, or it is too old", protocol.SubjectHosts)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return nil, protocol.Errorf(protocol.CodeHostUnavailable, "the matchmaker did not answer within %s", adminHostsTimeout)
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining):
		return nil, protocol.Errorf(protocol.CodeShuttingDown, "the gateway is shutting down")
	case err != nil:
		return nil, protocol.Errorf(protocol.CodeHostUnavailable, "cannot ask the matchmaker: %v", err)
	}
	data := bytes.TrimSpace(msg.Data)
	if len(data) > 0 && data[0] == '{' { // a Reply: the matchmaker refused
		var r protocol.Reply
		if err := json.Unmarshal(data, &r); err == nil && !r.OK {
			return nil, r.Err()
		}
	}
	var hosts []protocol.HostStatus
	if err := json.Unmarshal(data, &hosts); err != nil {
		return nil, fmt.Errorf("matchmaker hosts reply: %w", err)
	}
	slices.SortFunc(hosts, func(x, y protocol.HostStatus) int {
		return cmp.Or(cmp.Compare(x.Region, y.Region), cmp.Compare(x.Host, y.Host))
	})
	return hosts, nil
}

// GET /v1/admin/hosts[?region=R]
func (a *admin) listHosts(w http.ResponseWriter, r *http.Request) error {
	q, err := adminQuery(r, "region")
	if err != nil {
		return err
	}
	region, err := nameParam(q, "region")
	if err != nil {
		return err
	}
	hosts, err := a.hosts(r.Context())
	if err != nil {
		return err
	}
	out := make([]adminHost, 0, len(hosts))
	for _, h := range hosts {
		if region == "" || h.Region == region {
			out = append(out, adminHost{ID: h.Host, HostStatus: h})
		}
	}
	adminJSON(w, http.StatusOK, out)
	return nil
}

// GET /v1/admin/hosts/{id}
func (a *admin) getHost(w http.ResponseWriter, r *http.Request) error {
	if _, err := adminQuery(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	hosts, err := a.hosts(r.Context())
	if err != nil {
		return err
	}
	for _, h := range hosts {
		if h.Host == id {
			adminJSON(w, http.StatusOK, adminHost{ID: h.Host, HostStatus: h})
			return nil
		}
	}
	return errUnknownHost(id)
}

func errUnknownHost(id string) error {
	return protocol.Errorf(protocol.CodeNotFound, "no host %.64q: the matchmaker does not know it", id)
}

// ---- sessions ----

// sessionsOf asks each host for its sessions, in parallel, each within adminHostTimeout. It
// returns the sessions sorted by region, host and id, and the hosts that did not answer.
func (a *admin) sessionsOf(ctx context.Context, hosts []protocol.HostStatus) ([]protocol.SessionStatus, []string) {
	type result struct {
		sessions []protocol.SessionStatus
		err      error
	}
	results := make([]result, len(hosts))
	sem := make(chan struct{}, adminFanout)
	var wg sync.WaitGroup
	for i, h := range hosts {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			results[i].sessions, results[i].err = a.hostSessions(ctx, h)
		})
	}
	wg.Wait()

	var all []protocol.SessionStatus
	var missing []string
	for i, res := range results {
		if res.err != nil {
			missing = append(missing, hosts[i].Host)
			a.log.Debug("host did not answer the sessions query", "host", hosts[i].Host, "err", res.err)
			continue
		}
		all = append(all, res.sessions...)
	}
	slices.SortFunc(all, func(x, y protocol.SessionStatus) int {
		return cmp.Or(cmp.Compare(x.Region, y.Region), cmp.Compare(x.Host, y.Host), cmp.Compare(x.ID, y.ID))
	})
	return all, missing
}

func (a *admin) hostSessions(ctx context.Context, h protocol.HostStatus) ([]protocol.SessionStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, adminHostTimeout)
	defer cancel()
	msg, err := a.s.nc.RequestWithContext(ctx, protocol.SubjectHostSessions(h.Host), nil)
	if err != nil {
		return nil, err
	}
	var sessions []protocol.SessionStatus
	if err := json.Unmarshal(msg.Data, &sessions); err != nil {
		return nil, fmt.Errorf("sessions reply: %w", err)
	}
	for i := range sessions { // the host is the authority on where its sessions are
		sessions[i].Host, sessions[i].Region = h.Host, h.Region
	}
	return sessions, nil
}

// reportMissing tells the client and the log which hosts did not answer.
func (a *admin) reportMissing(w http.ResponseWriter, r *http.Request, missing []string) {
	if len(missing) == 0 {
		return
	}
	w.Header().Set(adminMissingHostsHeader, strings.Join(missing, ","))
	a.log.Warn("hosts did not answer the admin sessions query; their sessions are left out",
		"hosts", missing, "path", r.URL.Path, "timeout", adminHostTimeout)
}

// GET /v1/admin/sessions[?host=H][&region=R]
func (a *admin) listSessions(w http.ResponseWriter, r *http.Request) error {
	q, err := adminQuery(r, "host", "region")
	if err != nil {
		return err
	}
	host, err := nameParam(q, "host")
	if err != nil {
		return err
	}
	region, err := nameParam(q, "region")
	if err != nil {
		return err
	}
	hosts, err := a.hosts(r.Context())
	if err != nil {
		return err
	}
	if host != "" && !slices.ContainsFunc(hosts, func(h protocol.HostStatus) bool { return h.Host == host }) {
		return errUnknownHost(host)
	}
	hosts = slices.DeleteFunc(hosts, func(h protocol.HostStatus) bool {
		return (host != "" && h.Host != host) || (region != "" && h.Region != region)
	})
	sessions, missing := a.sessionsOf(r.Context(), hosts)
	if sessions == nil {
		sessions = []protocol.SessionStatus{}
	}
	a.reportMissing(w, r, missing)
	adminJSON(w, http.StatusOK, sessions)
	return nil
}

// GET /v1/admin/sessions/{id}
func (a *admin) getSession(w http.ResponseWriter, r *http.Request) error {
	if _, err := adminQuery(r); err != nil {
		return err
	}
	s, err := a.findSession(w, r, r.PathValue("id"))
	if err != nil {
		return err
	}
	adminJSON(w, http.StatusOK, s)
	return nil
}

// findSession asks every host for its sessions and returns the one with id, or not_found
// (naming the hosts that did not answer, if any).
func (a *admin) findSession(w http.ResponseWriter, r *http.Request, id string) (protocol.SessionStatus, error) {
	hosts, err := a.hosts(r.Context())
	if err != nil {
		return protocol.SessionStatus{}, err
	}
	sessions, missing := a.sessionsOf(r.Context(), hosts)
	a.reportMissing(w, r, missing)
	for _, s := range sessions {
		if s.ID == id {
			return s, nil
		}
	}
	if len(missing) > 0 {
		return protocol.SessionStatus{}, protocol.Errorf(protocol.CodeNotFound,
			"no session %.64q on the hosts that answered (%s did not)", id, strings.Join(missing, ", "))
	}
	return protocol.SessionStatus{}, protocol.Errorf(protocol.CodeNotFound, "no session %.64q (it may have ended)", id)
}

// ---- events ----

// eventsQuery is a parsed GET /v1/admin/events.
type eventsQuery struct {
	follow   bool
	subjects []string  // filter; empty = every event
	since    time.Time // zero: the backlog is the last limit events
	limit    int       // most events in the backlog
}

func parseEventsQuery(r *http.Request, now time.Time) (eventsQuery, error) {
	q, err := adminQuery(r, "follow", "type", "since", "limit")
	if err != nil {
		return eventsQuery{}, err
	}
	eq := eventsQuery{limit: eventsDefaultLimit}
	switch f := q.Get("follow"); f {
	case "", "0", "false", "no":
	case "1", "true", "yes":
		eq.follow = true
	default:
		return eq, protocol.Errorf(protocol.CodeBadField, "follow must be 1 or 0")
	}
	if t := q.Get("type"); t != "" {
		kinds := strings.Split(t, ",")
		if len(kinds) > eventsMaxKinds {
			return eq, protocol.Errorf(protocol.CodeBadField, "at most %d types", eventsMaxKinds)
		}
		for _, k := range kinds {
			if !validEventKind(k) {
				return eq, protocol.Errorf(protocol.CodeBadField,
					"type %.64q is not an event kind: dot-separated words of a-z 0-9 - _", k)
			}
			eq.subjects = append(eq.subjects, protocol.SubjectEvent(k))
		}
	}
	if s := q.Get("since"); s != "" {
		if d, err := time.ParseDuration(s); err == nil && d > 0 {
			eq.since = now.Add(-d)
		} else if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			eq.since = t
		} else {
			return eq, protocol.Errorf(protocol.CodeBadField,
				"since must be a positive duration (90s, 15m, 2h) or an RFC 3339 time")
		}
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 || n > eventsMaxLimit {
			return eq, protocol.Errorf(protocol.CodeBadField, "limit must be 0-%d", eventsMaxLimit)
		}
		eq.limit = n
	}
	return eq, nil
}

// validEventKind accepts what follows "edgeplay.events." in an event subject: one or more
// dot-separated names, so a kind is always a literal subject, never a wildcard.
func validEventKind(k string) bool {
	if len(k) == 0 || len(k) > 2*protocol.MaxNameSize {
		return false
	}
	for tok := range strings.SplitSeq(k, ".") {
		if !protocol.ValidName(tok) {
			return false
		}
	}
	return true
}

// GET /v1/admin/events[?follow=1][&type=T[,T…]][&since=D][&limit=N]
//
// The response is newline-delimited JSON, one protocol.Event per line: first the backlog (the
// last limit events, or the last limit since the given time), then, with follow, every new
// event until the client leaves or the gateway shuts down. The backlog ends at the stream's
// last sequence when the request arrived and the live part starts right after it, so nothing
// is printed twice or skipped.
func (a *admin) events(w http.ResponseWriter, r *http.Request) error {
	eq, err := parseEventsQuery(r, time.Now())
	if err != nil {
		return err
	}
	if a.js == nil {
		return protocol.Errorf(protocol.CodeEventsUnavailable, "the gateway has no JetStream context")
	}
	ctx, cancel := context.WithTimeout(r.Context(), eventsBacklogTimeout)
	backlog, last, err := a.eventBacklog(ctx, eq)
	cancel()
	if err != nil {
		return eventsError(err)
	}

	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	out := &eventWriter{w: w, rc: http.NewResponseController(w), last: time.Now()}
	for _, line := range backlog {
		if err := out.line(line); err != nil {
			return nil // the client is gone
		}
	}
	if err := out.flush(); err != nil || !eq.follow {
		return nil
	}
	if err := a.followEvents(r, out, eq, last+1); err != nil {
		// The status line is long gone: the error is the stream's last line.
		m := protocol.ErrorMessage(eventsError(err))
		b, _ := json.Marshal(adminError{Code: m.Code, Message: m.Message})
		_ = out.line(b)
		_ = out.flush()
		a.log.Warn("event stream ended by an error", "err", err)
	}
	return nil
}

// eventsError turns a JetStream failure into events_unavailable, with a hint for the usual
// causes.
func eventsError(err error) error {
	var pe *protocol.Error
	switch {
	case errors.As(err, &pe):
		return err
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return protocol.Errorf(protocol.CodeEventsUnavailable,
			"the event stream %s does not exist (a matchmaker creates it when it starts)", protocol.StreamEvents)
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return protocol.Errorf(protocol.CodeEventsUnavailable, "JetStream is not enabled on the NATS server")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return protocol.Errorf(protocol.CodeEventsUnavailable, "the event stream did not answer in time")
	}
	return protocol.Errorf(protocol.CodeEventsUnavailable, "the event stream cannot be read: %v", err)
}

// eventBacklog reads the events a request prints before it follows, and the stream sequence
// they end at. Without a start time it wants the last eq.limit matching events; with a type
// filter they may be anywhere in the stream, so it reads ever larger windows at the stream's
// end (limit, 8×limit, …) until it has enough or reaches the start. The server filters, so a
// window costs only the events that match.
func (a *admin) eventBacklog(ctx context.Context, eq eventsQuery) ([][]byte, uint64, error) {
	stream, err := a.js.Stream(ctx, protocol.StreamEvents)
	if err != nil {
		return nil, 0, err
	}
	st := stream.CachedInfo().State
	last := st.LastSeq
	if eq.limit == 0 || st.Msgs == 0 {
		return nil, last, nil
	}
	ring := newEventRing(eq.limit)
	if !eq.since.IsZero() {
		since := eq.since
		cfg := a.eventsConsumer(eq, jetstream.DeliverByStartTimePolicy)
		cfg.OptStartTime = &since
		err := a.readEvents(ctx, cfg, subjectFilter(eq.subjects), last, ring)
		return ring.lines(), last, err
	}
	first := st.FirstSeq
	for window := uint64(eq.limit); ; window *= 8 {
		start := first
		if last-first+1 > window {
			start = last - window + 1
		}
		ring.reset()
		cfg := a.eventsConsumer(eq, jetstream.DeliverByStartSequencePolicy)
		cfg.OptStartSeq = start
		if err := a.readEvents(ctx, cfg, subjectFilter(eq.subjects), last, ring); err != nil {
			return nil, 0, err
		}
		if ring.full() || start == first {
			return ring.lines(), last, nil
		}
	}
}

// subjectFilter matches the event subjects a request asked for. The server filters too, except
// for several types on a server before 2.10 (see eventsConsumer).
func subjectFilter(subjects []string) func(string) bool {
	return func(s string) bool { return len(subjects) == 0 || slices.Contains(subjects, s) }
}

// multiFilter reports whether the NATS server takes several filter subjects on one consumer
// (2.10 and later).
func multiFilter(nc *nats.Conn) bool {
	var major, minor int
	if _, err := fmt.Sscanf(nc.ConnectedServerVersion(), "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 2 || major == 2 && minor >= 10
}

func (a *admin) eventsConsumer(eq eventsQuery, policy jetstream.DeliverPolicy) jetstream.OrderedConsumerConfig {
	filter := eq.subjects
	if len(filter) > 1 && !multiFilter(a.s.nc) {
		filter = nil // every event; subjectFilter picks
	}
	return jetstream.OrderedConsumerConfig{
		FilterSubjects:    filter,
		DeliverPolicy:     policy,
		InactiveThreshold: eventsConsumerIdle,
		MaxResetAttempts:  3,
	}
}

// readEvents reads the matching events up to sequence last into ring.
func (a *admin) readEvents(ctx context.Context, cfg jetstream.OrderedConsumerConfig, wants func(string) bool, last uint64, ring *eventRing) error {
	cons, err := a.js.OrderedConsumer(ctx, protocol.StreamEvents, cfg)
	if err != nil {
		return err
	}
	defer a.deleteConsumer(ctx, cons)
	if info := cons.CachedInfo(); info == nil || info.NumPending == 0 {
		return nil
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return err
		}
		meta, err := msg.Metadata()
		if err != nil {
			return err
		}
		if meta.Sequence.Stream > last {
			return nil
		}
		if line, ok := eventLine(msg.Data()); ok && wants(msg.Subject()) {
			ring.add(line)
		}
		if meta.Sequence.Stream == last || meta.NumPending == 0 {
			return nil
		}
	}
}

// followEvents streams events from sequence from on until the client leaves or the gateway
// shuts down; an error means the stream broke.
func (a *admin) followEvents(r *http.Request, out *eventWriter, eq eventsQuery, from uint64) error {
	cfg := a.eventsConsumer(eq, jetstream.DeliverByStartSequencePolicy)
	cfg.OptStartSeq = from
	wants := subjectFilter(eq.subjects)
	cons, err := a.js.OrderedConsumer(r.Context(), protocol.StreamEvents, cfg)
	if err != nil {
		return err
	}
	defer a.deleteConsumer(r.Context(), cons)
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	defer it.Stop()
	for {
		if r.Context().Err() != nil || a.serverClosing() {
			return nil
		}
		msg, err := it.Next(jetstream.NextMaxWait(eventsPoll))
		switch {
		case errors.Is(err, nats.ErrTimeout):
			if time.Since(out.last) >= eventsKeepAlive {
				if out.keepAlive() != nil {
					return nil
				}
			}
			continue
		case err != nil:
			if r.Context().Err() != nil || a.serverClosing() {
				return nil
			}
			return err
		}
		if line, ok := eventLine(msg.Data()); ok && wants(msg.Subject()) {
			if out.line(line) != nil || out.flush() != nil {
				return nil
			}
		}
	}
}

// deleteConsumer removes a finished request's consumer now rather than after
// eventsConsumerIdle. It runs when the request may be over, so it does not inherit ctx's
// cancellation.
func (a *admin) deleteConsumer(ctx context.Context, cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := a.js.DeleteConsumer(ctx, protocol.StreamEvents, info.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		a.log.Debug("delete events consumer", "consumer", info.Name, "err", err)
	}
}

func (a *admin) serverClosing() bool {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	return a.s.closing
}

// eventLine returns an event payload as one line of JSON. It passes the stored object through
// (compacted) rather than re-encoding a protocol.Event, so fields newer than this gateway
// survive; payloads that are not a JSON object with a kind are skipped.
func eventLine(data []byte) ([]byte, bool) {
	var probe struct {
		Kind string `json:"kind"`
	}
	if json.Unmarshal(data, &probe) != nil || probe.Kind == "" {
		return nil, false
	}
	var buf bytes.Buffer
	if json.Compact(&buf, data) != nil {
		return nil, false
	}
	return buf.Bytes(), true
}

// eventRing keeps the last n lines added.
type eventRing struct {
	buf  [][]byte
	next int
	n    int
}

func newEventRing(n int) *eventRing { return &eventRing{buf: make([][]byte, 0, n), n: n} }

func (r *eventRing) add(line []byte) {
	if len(r.buf) < r.n {
		r.buf = append(r.buf, line)
		return
	}
	r.buf[r.next] = line
	r.next = (r.next + 1) % r.n
}

func (r *eventRing) full() bool { return len(r.buf) == r.n }

func (r *eventRing) reset() { r.buf, r.next = r.buf[:0], 0 }

// lines returns the kept lines, oldest first.
func (r *eventRing) lines() [][]byte {
	return append(slices.Clone(r.buf[r.next:]), r.buf[:r.next]...)
}

// eventWriter writes an NDJSON stream with a deadline on every write.
type eventWriter struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	last time.Time // last write
}

func (e *eventWriter) line(b []byte) error {
	_ = e.rc.SetWriteDeadline(time.Now().Add(adminWriteTimeout)) // unsupported only in tests' recorders
	if _, err := e.w.Write(b); err != nil {
		return err
	}
	_, err := e.w.Write([]byte{'\n'})
	e.last = time.Now()
	return err
}

func (e *eventWriter) keepAlive() error {
	if err := e.line(nil); err != nil {
		return err
	}
	return e.flush()
}

func (e *eventWriter) flush() error {
	err := e.rc.Flush()
	if errors.Is(err, http.ErrNotSupported) {
		return nil
	}
	return err
}

// ---- drain ----

// drainBody is the JSON body of POST /v1/admin/hosts/{id}/drain.
type drainBody struct {
	Deadline string `json:"deadline"` // a Go duration from now ("30m"); empty: the host's default grace
	Reason   string `json:"reason"`
}

// request validates the body and turns it into a drain request.
func (b drainBody) request() (protocol.DrainRequest, error) {
	req := protocol.DrainRequest{Drain: true, Reason: b.Reason}
	if b.Deadline != "" {
		d, err := time.ParseDuration(b.Deadline)
		if err != nil || d < 0 || d > 24*time.Hour {
			return req, protocol.Errorf(protocol.CodeBadField, "deadline %.32q: want a duration from 0s to 24h, e.g. 30m", b.Deadline)
		}
		req.Deadline = time.Now().Add(d)
	}
	if len(b.Reason) > 256 {
		return req, protocol.Errorf(protocol.CodeBadField, "reason is longer than 256 bytes")
	}
	return req, nil
}

// POST /v1/admin/hosts/{id}/drain and /undrain: sent to the host, which acknowledges with its
// new state. Both are idempotent.
func (a *admin) drainHost(w http.ResponseWriter, r *http.Request) error {
	if _, err := adminQuery(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	drain := strings.HasSuffix(r.URL.Path, "/drain")
	req := protocol.DrainRequest{Drain: false}
	if drain {
		var body drainBody
		if r.Body != nil {
			dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
			if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
				return protocol.Errorf(protocol.CodeBadField, "body must be JSON {\"deadline\": \"30m\", \"reason\": \"…\"}")
			}
		}
		var err error
		if req, err = body.request(); err != nil {
			return err
		}
	}
	hosts, err := a.hosts(r.Context())
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(hosts, func(h protocol.HostStatus) bool { return h.Host == id }) {
		return errUnknownHost(id)
	}
	b, _ := json.Marshal(req)
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	reply, err := request(ctx, a.s.nc, protocol.SubjectDrain(id), b)
	if err != nil {
		return err
	}
	if reply.Heartbeat == nil {
		return protocol.Errorf(protocol.CodeInternal, "")
	}
	a.log.Info("host drain changed", "host", id, "drain", drain, "state", reply.Heartbeat.State, "reason", req.Reason)
	adminJSON(w, http.StatusOK, adminHost{ID: id, HostStatus: protocol.HostStatus{Heartbeat: *reply.Heartbeat, Health: "ready"}})
	return nil
}

// POST /v1/admin/sessions/{id}/kick: the session's host ends it with reason "kicked"; its
// player is told. Answers the session as it was.
func (a *admin) kickSession(w http.ResponseWriter, r *http.Request) error {
	if _, err := adminQuery(r); err != nil {
		return err
	}
	s, err := a.findSession(w, r, r.PathValue("id"))
	if err != nil {
		return err
	}
	b, _ := json.Marshal(protocol.KickRequest{Session: s.ID})
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if _, err := request(ctx, a.s.nc, protocol.SubjectKick(s.Host), b); err != nil {
		return err
	}
	a.log.Info("session kicked", "session", s.ID, "host", s.Host)
	adminJSON(w, http.StatusOK, s)
	return nil
}

// ---- regions ----

// adminRegion summarises one data center.
type adminRegion struct {
	ID        string `json:"id"`
	Hosts     int    `json:"hosts"`
	Ready     int    `json:"ready"`    // hosts taking new sessions
	Draining  int    `json:"draining"` // draining or drained
	Slots     int    `json:"slots"`
	Used      int    `json:"used"`       // in use or reserved
	ReadyFree int    `json:"ready_free"` // free slots on ready, healthy hosts
}

func regionsOf(hosts []protocol.HostStatus) []adminRegion {
	by := map[string]*adminRegion{}
	for _, h := range hosts {
		r := by[h.Region]
		if r == nil {
			r = &adminRegion{ID: h.Region}
			by[h.Region] = r
		}
		r.Hosts++
		r.Slots += h.Slots
		r.Used += h.Used + h.Reserved
		switch h.State {
		case protocol.HostReady:
			r.Ready++
			if h.Health == "ready" {
				r.ReadyFree += max(0, h.Slots-h.Used-h.Reserved)
			}
		case protocol.HostDraining, protocol.HostDrained:
			r.Draining++
		}
	}
	out := make([]adminRegion, 0, len(by))
	for _, r := range by {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b adminRegion) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// GET /v1/admin/regions
func (a *admin) listRegions(w http.ResponseWriter, r *http.Request) error {
	if _, err := adminQuery(r); err != nil {
		return err
	}
	hosts, err := a.hosts(r.Context())
	if err != nil {
		return err
	}
	adminJSON(w, http.StatusOK, regionsOf(hosts))
	return nil
}

// POST /v1/admin/regions/{id}/drain {"deadline","reason","force"}: drains every host of a
// data center. Refused (409 bad_state) when the other data centers would keep fewer than the
// gateway's MinReadySlots free ready slots, unless force.
func (a *admin) drainRegion(w http.ResponseWriter, r *http.Request) error {
	if _, err := adminQuery(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	var body struct {
		drainBody
		Force bool `json:"force"`
	}
	if r.Body != nil {
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			return protocol.Errorf(protocol.CodeBadField, "body must be JSON {\"deadline\": \"30m\", \"reason\": \"…\", \"force\": false}")
		}
	}
	req, err := body.request()
	if err != nil {
		return err
	}
	hosts, err := a.hosts(r.Context())
	if err != nil {
		return err
	}
	var targets []string
	left := 0
	for _, reg := range regionsOf(hosts) {
		if reg.ID != id {
			left += reg.ReadyFree
		}
	}
	for _, h := range hosts {
		if h.Region == id {
			targets = append(targets, h.Host)
		}
	}
	if len(targets) == 0 {
		return protocol.Errorf(protocol.CodeNotFound, "no data center %.64q: no host reports it", id)
	}
	if left < a.s.cfg.MinReadySlots && !body.Force {
		return protocol.Errorf(protocol.CodeBadState,
			"draining %s would leave %d free ready slots elsewhere, below the minimum of %d; use force to drain anyway", id, left, a.s.cfg.MinReadySlots)
	}
	b, _ := json.Marshal(req)
	var out []adminHost
	var failed []string
	for _, host := range targets {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		reply, err := request(ctx, a.s.nc, protocol.SubjectDrain(host), b)
		cancel()
		if err != nil || reply.Heartbeat == nil {
			failed = append(failed, host)
			continue
		}
		out = append(out, adminHost{ID: host, HostStatus: protocol.HostStatus{Heartbeat: *reply.Heartbeat, Health: "ready"}})
	}
	a.reportMissing(w, r, failed)
	a.log.Info("region drained", "region", id, "hosts", len(out), "failed", failed, "force", body.Force, "reason", req.Reason)
	adminJSON(w, http.StatusOK, out)
	return nil
}
