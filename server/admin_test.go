package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/internal/natsd"
	"github.com/edgeplay/edgeplay/protocol"
)

const testToken = "s3cret-admin-token"

// adminEnv is a gateway with the admin API on embedded NATS, plus a second connection for the
// fake matchmaker and hosts that answer the admin queries.
type adminEnv struct {
	s    *Server
	hs   *httptest.Server
	nc   *nats.Conn // the fakes' connection
	js   jetstream.JetStream
	base string
}

func newAdminEnv(t *testing.T, token string) *adminEnv {
	t.Helper()
	ns, err := natsd.Start(natsd.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	gwNC, closeGW, err := natsd.Connect("", ns, "gw", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeGW)
	nc, closeNC, err := natsd.Connect("", ns, "fakes", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeNC)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Logger: log, AdminToken: token}, gwNC)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close) // runs first: waits for the handlers
	return &adminEnv{s: s, hs: hs, nc: nc, js: js, base: hs.URL}
}

// matchmaker answers the hosts query with hosts.
func (e *adminEnv) matchmaker(t *testing.T, hosts ...protocol.HostStatus) {
	t.Helper()
	e.respond(t, protocol.SubjectHosts, hosts)
}

// host answers its sessions query with sessions.
func (e *adminEnv) host(t *testing.T, id string, sessions ...protocol.SessionStatus) {
	t.Helper()
	if sessions == nil {
		sessions = []protocol.SessionStatus{}
	}
	e.respond(t, protocol.SubjectHostSessions(id), sessions)
}

func (e *adminEnv) respond(t *testing.T, subject string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := e.nc.Subscribe(subject, func(m *nats.Msg) { _ = m.Respond(b) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

func (e *adminEnv) events(t *testing.T, evs ...protocol.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ev := range evs {
		b, _ := json.Marshal(ev)
		if _, err := e.js.Publish(ctx, protocol.SubjectEvent(ev.Kind), b); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *adminEnv) ensureStream(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := natsd.EnsureStreams(ctx, e.nc, 1); err != nil {
		t.Fatal(err)
	}
}

type adminResp struct {
	status int
	header http.Header
	body   string
}

func (r adminResp) errorCode(t *testing.T) protocol.Code {
	t.Helper()
	var e adminError
	if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Code == "" || e.Message == "" {
		t.Fatalf("error body %q is not {code, message}: %v", r.body, err)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error content type %q", ct)
	}
	return e.Code
}

func (e *adminEnv) do(t *testing.T, method, path, auth string) adminResp {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return adminResp{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (e *adminEnv) get(t *testing.T, path string) adminResp {
	t.Helper()
	return e.do(t, http.MethodGet, path, "Bearer "+testToken)
}

func decode[T any](t *testing.T, r adminResp) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("status %d body %q: %v", r.status, r.body, err)
	}
	return v
}

func hostStatus(id, region string, used int) protocol.HostStatus {
	return protocol.HostStatus{
		Heartbeat: protocol.Heartbeat{
			Host: id, Region: region, State: protocol.HostReady, Slots: 4, Used: used,
			Games: []string{"demo"}, Encoders: []string{"libx264"}, Version: "test", Seq: 7,
		},
		Health: "ready", AgeMillis: 420,
	}
}

var adminPaths = []string{
	"/v1/admin/hosts", "/v1/admin/hosts/h1", "/v1/admin/sessions", "/v1/admin/sessions/s1",
	"/v1/admin/events", "/v1/admin/nope",
}

func TestAdminAuth(t *testing.T) {
	e := newAdminEnv(t, testToken)
	e.matchmaker(t, hostStatus("h1", "dxb-1", 1))
	e.host(t, "h1", protocol.SessionStatus{ID: "s1", Game: "demo", State: "playing"})
	e.ensureStream(t)
	e.events(t, protocol.Event{Kind: "placed", Session: "s1", Host: "h1"})

	tests := []struct {
		name string
		auth string
	}{
		{"no header", ""},
		{"wrong token", "Bearer wrong"},
		{"token prefix", "Bearer " + testToken[:5]},
		{"token with suffix", "Bearer " + testToken + "x"},
		{"basic scheme", "Basic " + testToken},
		{"bearer without token", "Bearer "},
	}
	for _, tt := range tests {
		for _, path := range adminPaths {
			t.Run(tt.name+" "+path, func(t *testing.T) {
				r := e.do(t, http.MethodGet, path, tt.auth)
				if r.status != http.StatusUnauthorized || r.errorCode(t) != protocol.CodeUnauthorized {
					t.Fatalf("status %d body %q, want 401 unauthorized", r.status, r.body)
				}
				if strings.Contains(r.body, "h1") || strings.Contains(r.body, "s1") || strings.Contains(r.body, "placed") {
					t.Fatalf("401 leaks data: %q", r.body)
				}
				if r.header.Get("WWW-Authenticate") == "" {
					t.Fatal("401 without WWW-Authenticate")
				}
			})
		}
	}
	// The right token, any case of the scheme, opens every endpoint.
	for _, path := range adminPaths[:5] {
		if r := e.do(t, http.MethodGet, path, "bearer "+testToken); r.status != http.StatusOK {
			t.Fatalf("%s with the token: %d %q", path, r.status, r.body)
		}
	}
}

func TestAdminDisabled(t *testing.T) {
	e := newAdminEnv(t, "")
	e.matchmaker(t, hostStatus("h1", "dxb-1", 1))
	for _, path := range adminPaths {
		for _, auth := range []string{"", "Bearer ", "Bearer anything"} {
			r := e.do(t, http.MethodGet, path, auth)
			if r.status != http.StatusForbidden || r.errorCode(t) != protocol.CodeAdminDisabled {
				t.Fatalf("%s %q: status %d body %q, want 403 admin_disabled", path, auth, r.status, r.body)
			}
		}
	}
}

func TestAdminRouting(t *testing.T) {
	e := newAdminEnv(t, testToken)
	tests := []struct {
		name, method, path string
		status             int
		code               protocol.Code
		allow              string
	}{
		{"unknown path", http.MethodGet, "/v1/admin/nope", 404, protocol.CodeNotFound, ""},
		{"unknown nested path", http.MethodGet, "/v1/admin/hosts/h1/nope", 404, protocol.CodeNotFound, ""},
		{"wrong method", http.MethodPost, "/v1/admin/hosts", 405, protocol.CodeMethodNotAllowed, "GET, HEAD"},
		{"wrong method on an id", http.MethodDelete, "/v1/admin/sessions/s1", 405, protocol.CodeMethodNotAllowed, "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, tt.method, tt.path, "Bearer "+testToken)
			if r.status != tt.status || r.errorCode(t) != tt.code {
				t.Fatalf("status %d body %q", r.status, r.body)
			}
			if got := r.header.Get("Allow"); got != tt.allow {
				t.Fatalf("Allow %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestAdminHosts(t *testing.T) {
	e := newAdminEnv(t, testToken)
	e.matchmaker(t, hostStatus("h2", "dxb-2", 0), hostStatus("h1b", "dxb-1", 2), hostStatus("h1a", "dxb-1", 1))

	r := e.get(t, "/v1/admin/hosts")
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d headers %v", r.status, r.header)
	}
	hosts := decode[[]map[string]any](t, r)
	var ids []string
	for _, h := range hosts {
		ids = append(ids, fmt.Sprint(h["id"], "/", h["region"], "/", h["state"], "/", h["health"], "/", h["heartbeat_age_ms"]))
	}
	if want := "h1a/dxb-1/ready/ready/420 h1b/dxb-1/ready/ready/420 h2/dxb-2/ready/ready/420"; strings.Join(ids, " ") != want {
		t.Fatalf("hosts %v, want %s", ids, want)
	}

	if hosts := decode[[]adminHost](t, e.get(t, "/v1/admin/hosts?region=dxb-2")); len(hosts) != 1 || hosts[0].ID != "h2" {
		t.Fatalf("region filter: %+v", hosts)
	}
	if r := e.get(t, "/v1/admin/hosts?region=nowhere"); r.status != 200 || strings.TrimSpace(r.body) != "[]" {
		t.Fatalf("empty region: %d %q", r.status, r.body)
	}
	if h := decode[adminHost](t, e.get(t, "/v1/admin/hosts/h1b")); h.ID != "h1b" || h.Host != "h1b" || h.Used != 2 {
		t.Fatalf("one host: %+v", h)
	}

	bad := []struct {
		name, path string
		status     int
		code       protocol.Code
	}{
		{"unknown host", "/v1/admin/hosts/h9", 404, protocol.CodeNotFound},
		{"unknown parameter", "/v1/admin/hosts?regoin=dxb-1", 400, protocol.CodeBadField},
		{"bad region", "/v1/admin/hosts?region=DXB!", 400, protocol.CodeBadField},
		{"repeated parameter", "/v1/admin/hosts?region=a&region=b", 400, protocol.CodeBadField},
		{"parameter on one host", "/v1/admin/hosts/h1b?x=1", 400, protocol.CodeBadField},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get(t, tt.path)
			if r.status != tt.status || r.errorCode(t) != tt.code {
				t.Fatalf("status %d body %q", r.status, r.body)
			}
		})
	}
}

func TestAdminNoMatchmaker(t *testing.T) {
	e := newAdminEnv(t, testToken)
	for _, path := range []string{"/v1/admin/hosts", "/v1/admin/hosts/h1", "/v1/admin/sessions", "/v1/admin/sessions/s1"} {
		r := e.get(t, path)
		if r.status != http.StatusServiceUnavailable || r.errorCode(t) != protocol.CodeHostUnavailable {
			t.Fatalf("%s: status %d body %q, want 503 host_unavailable", path, r.status, r.body)
		}
		if !strings.Contains(r.body, "matchmaker") {
			t.Fatalf("%s: message does not say what is missing: %q", path, r.body)
		}
	}

	// A matchmaker that refuses with a Reply: its code reaches the client.
	e.respond(t, protocol.SubjectHosts, protocol.FailReply(protocol.Errorf(protocol.CodeShuttingDown, "leaving")))
	if r := e.get(t, "/v1/admin/hosts"); r.status != http.StatusServiceUnavailable || r.errorCode(t) != protocol.CodeShuttingDown {
		t.Fatalf("refusal: %d %q", r.status, r.body)
	}
}

func TestAdminMalformedMatchmakerReply(t *testing.T) {
	e := newAdminEnv(t, testToken)
	e.respond(t, protocol.SubjectHosts, "not hosts")
	r := e.get(t, "/v1/admin/hosts")
	if r.status != http.StatusInternalServerError || r.errorCode(t) != protocol.CodeInternal || strings.Contains(r.body, "unmarshal") {
		t.Fatalf("status %d body %q, want a bare 500 internal", r.status, r.body)
	}
}

func TestAdminSessions(t *testing.T) {
	e := newAdminEnv(t, testToken)
	e.matchmaker(t,
		hostStatus("h1", "dxb-1", 2), hostStatus("h2", "dxb-2", 1),
		hostStatus("h3", "dxb-2", 0), // not running: no responders
		hostStatus("h4", "dxb-2", 0), // hangs: times out
	)
	started := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	e.host(t, "h1",
		protocol.SessionStatus{ID: "s1b", Game: "demo", State: "playing", StartedAt: started, DurationSeconds: 61, FPS: 59.9, BitrateKbps: 4100},
		protocol.SessionStatus{ID: "s1a", Game: "demo", State: "reserved"},
	)
	e.host(t, "h2", protocol.SessionStatus{ID: "s2", Game: "demo", Host: "liar", Region: "liar", State: "connecting"})
	hang, err := e.nc.Subscribe(protocol.SubjectHostSessions("h4"), func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Unsubscribe()

	ids := func(ss []protocol.SessionStatus) string {
		var out []string
		for _, s := range ss {
			out = append(out, s.ID+"@"+s.Host+"/"+s.Region+":"+s.State)
		}
		return strings.Join(out, " ")
	}
	tests := []struct {
		name, query string
		want        string
		missing     string
	}{
		{"all", "", "s1a@h1/dxb-1:reserved s1b@h1/dxb-1:playing s2@h2/dxb-2:connecting", "h3,h4"},
		{"by host", "?host=h1", "s1a@h1/dxb-1:reserved s1b@h1/dxb-1:playing", ""},
		{"by region", "?region=dxb-2", "s2@h2/dxb-2:connecting", "h3,h4"},
		{"host and region disagree", "?host=h1&region=dxb-2", "", ""},
		{"a silent host", "?host=h3", "", "h3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get(t, "/v1/admin/sessions"+tt.query)
			if r.status != 200 {
				t.Fatalf("status %d body %q", r.status, r.body)
			}
			if !strings.HasPrefix(r.body, "[") {
				t.Fatalf("body is not an array: %q", r.body)
			}
			if got := ids(decode[[]protocol.SessionStatus](t, r)); got != tt.want {
				t.Fatalf("sessions %q, want %q", got, tt.want)
			}
			if got := r.header.Get(adminMissingHostsHeader); got != tt.missing {
				t.Fatalf("missing hosts %q, want %q", got, tt.missing)
			}
		})
	}

	s := decode[protocol.SessionStatus](t, e.get(t, "/v1/admin/sessions/s1b"))
	if s.ID != "s1b" || s.Host != "h1" || !s.StartedAt.Equal(started) || s.FPS != 59.9 || s.DurationSeconds != 61 {
		t.Fatalf("one session: %+v", s)
	}
	bad := []struct {
		name, path string
		status     int
		code       protocol.Code
		msg        string
	}{
		{"unknown session", "/v1/admin/sessions/nope", 404, protocol.CodeNotFound, "h3, h4 did not"},
		{"unknown host", "/v1/admin/sessions?host=h9", 404, protocol.CodeNotFound, `no host \"h9\"`},
		{"bad host", "/v1/admin/sessions?host=../x", 400, protocol.CodeBadField, "host must be"},
		{"unknown parameter", "/v1/admin/sessions?game=demo", 400, protocol.CodeBadField, "host, region"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get(t, tt.path)
			if r.status != tt.status || r.errorCode(t) != tt.code || !strings.Contains(r.body, tt.msg) {
				t.Fatalf("status %d body %q", r.status, r.body)
			}
		})
	}
}

// readLines reads an NDJSON body.
func readLines(t *testing.T, r adminResp) []protocol.Event {
	t.Helper()
	if r.status != 200 || r.header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("status %d type %q body %q", r.status, r.header.Get("Content-Type"), r.body)
	}
	var out []protocol.Event
	for line := range strings.Lines(r.body) {
		var ev protocol.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.Kind == "" {
			t.Fatalf("line %q: %v", line, err)
		}
		out = append(out, ev)
	}
	return out
}

func sessionsOf(evs []protocol.Event) string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Session)
	}
	return strings.Join(out, " ")
}

func TestAdminEvents(t *testing.T) {
	e := newAdminEnv(t, testToken)
	if r := e.get(t, "/v1/admin/events"); r.status != 503 || r.errorCode(t) != protocol.CodeEventsUnavailable ||
		!strings.Contains(r.body, protocol.StreamEvents) {
		t.Fatalf("without a stream: %d %q", r.status, r.body)
	}
	e.ensureStream(t)
	if evs := readLines(t, e.get(t, "/v1/admin/events")); len(evs) != 0 {
		t.Fatalf("empty stream gave %d events", len(evs))
	}

	// One rare event early, then 150 alternating placed/ended events, then a garbage payload.
	e.events(t, protocol.Event{Kind: "host_lost", Host: "h9", Session: "lost"})
	var evs []protocol.Event
	for i := range 150 {
		kind := "placed"
		if i%2 == 1 {
			kind = "ended"
		}
		evs = append(evs, protocol.Event{Kind: kind, Session: fmt.Sprintf("s%d", i), Time: time.Now().UTC()})
	}
	e.events(t, evs...)
	if err := e.nc.Publish(protocol.SubjectEvent("placed"), []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, query string
		n           int
		first, last string
	}{
		{"default: the last 100", "", 100, "s50", "s149"},
		{"limit", "?limit=3", 3, "s147", "s149"},
		{"limit 0", "?limit=0", 0, "", ""},
		{"by type", "?type=ended&limit=2", 2, "s147", "s149"},
		{"two types", "?type=placed,host_lost&limit=2", 2, "s146", "s148"},
		{"a rare type far back", "?type=host_lost", 1, "lost", "lost"},
		{"a type never seen", "?type=drained", 0, "", ""},
		{"since, last limit of them", "?since=1h&limit=5", 5, "s145", "s149"},
		{"since a time to come", "?since=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339), 0, "", ""},
		{"follow=0", "?follow=0&limit=1", 1, "s149", "s149"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readLines(t, e.get(t, "/v1/admin/events"+tt.query))
			if len(got) != tt.n {
				t.Fatalf("%d events, want %d: %s", len(got), tt.n, sessionsOf(got))
			}
			if tt.n > 0 && (got[0].Session != tt.first || got[len(got)-1].Session != tt.last) {
				t.Fatalf("events %s, want %s … %s", sessionsOf(got), tt.first, tt.last)
			}
		})
	}

	bad := []string{
		"?limit=-1", "?limit=10001", "?limit=x", "?type=a*", "?type=a..b", "?type=" + strings.Repeat("a,", 17) + "a",
		"?since=-5m", "?since=yesterday", "?follow=maybe", "?kind=placed",
	}
	for _, q := range bad {
		if r := e.get(t, "/v1/admin/events"+q); r.status != 400 || r.errorCode(t) != protocol.CodeBadField {
			t.Errorf("%s: status %d body %q, want 400 bad_field", q, r.status, r.body)
		}
	}
	waitNoConsumers(t, e)
}

// waitNoConsumers checks that finished event requests leave no consumer behind.
func waitNoConsumers(t *testing.T, e *adminEnv) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := e.js.Stream(t.Context(), protocol.StreamEvents)
		if err != nil {
			t.Fatal(err)
		}
		n := st.CachedInfo().State.Consumers
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d consumers left on the events stream", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAdminEventsFollow(t *testing.T) {
	defer func(d time.Duration) { eventsKeepAlive = d }(eventsKeepAlive)
	eventsKeepAlive = 200 * time.Millisecond
	e := newAdminEnv(t, testToken)
	e.ensureStream(t)
	e.events(t,
		protocol.Event{Kind: "placed", Session: "old1"},
		protocol.Event{Kind: "placed", Session: "old2"},
		protocol.Event{Kind: "ended", Session: "old3"},
	)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/v1/admin/events?follow=1&type=placed&limit=1", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("status %d type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := bufio.NewScanner(resp.Body)
	next := func() string {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("stream ended: %v", lines.Err())
		}
		return lines.Text()
	}
	nextEvent := func() protocol.Event {
		t.Helper()
		for {
			l := next()
			if l == "" {
				continue // keep-alive
			}
			var ev protocol.Event
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			return ev
		}
	}
	if ev := nextEvent(); ev.Session != "old2" {
		t.Fatalf("backlog %+v, want old2", ev)
	}
	e.events(t, protocol.Event{Kind: "ended", Session: "filtered-out"}, protocol.Event{Kind: "placed", Session: "new1"})
	if ev := nextEvent(); ev.Session != "new1" {
		t.Fatalf("live event %+v, want new1", ev)
	}
	if l := next(); l != "" {
		t.Fatalf("got %q while quiet, want a keep-alive empty line", l)
	}
	e.events(t, protocol.Event{Kind: "placed", Session: "new2"})
	if ev := nextEvent(); ev.Session != "new2" {
		t.Fatalf("live event %+v, want new2", ev)
	}

	cancel() // the client leaves: the handler ends and removes its consumer
	waitNoConsumers(t, e)
}

// TestAdminShutdownEndsFollow: a followed stream must not hold up the gateway's Shutdown.
func TestAdminShutdownEndsFollow(t *testing.T) {
	e := newAdminEnv(t, testToken)
	e.ensureStream(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- e.s.Serve(ln) }()

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+ln.Addr().String()+"/v1/admin/events?follow=1", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := e.s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with a followed stream open: %v", err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatalf("stream did not end cleanly: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}
