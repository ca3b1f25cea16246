package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgeplay/edgeplay/protocol"
)

// gameHost is a ready host of region with slots, used and reserved, offering games.
func gameHost(id, region string, slots, used, reserved int, games ...string) protocol.HostStatus {
	return protocol.HostStatus{
		Heartbeat: protocol.Heartbeat{
			Host: id, Region: region, State: protocol.HostReady, Slots: slots, Used: used, Reserved: reserved,
			Games: games, Encoders: []string{"libx264"}, Version: "test", Seq: 3,
		},
		Health: "ready", AgeMillis: 300,
	}
}

func TestGamesOf(t *testing.T) {
	draining := gameHost("h-draining", "dxb-1", 4, 0, 0, "demo", "racer")
	draining.State = protocol.HostDraining
	suspect := gameHost("h-suspect", "dxb-1", 4, 0, 0, "demo", "ghost")
	suspect.Health = "suspect"
	registering := gameHost("h-new", "dxb-2", 4, 0, 0, "ghost")
	registering.State = protocol.HostRegistering
	titled := gameHost("h2", "dxb-2", 4, 1, 0, "demo", "paddle")
	titled.Titles = map[string]string{"paddle": "Paddle"}
	retitled := gameHost("h3", "dxb-2", 2, 0, 0, "paddle")
	retitled.Titles = map[string]string{"paddle": "Paddle II"}

	tests := []struct {
		name  string
		hosts []protocol.HostStatus
		want  []gameInfo
	}{
		{"no hosts", nil, []gameInfo{}},
		{
			"one host",
			[]protocol.HostStatus{gameHost("h1", "dxb-1", 4, 1, 1, "demo")},
			[]gameInfo{{ID: "demo", Free: 2, Regions: []gameRegion{{ID: "dxb-1", Hosts: 1, Free: 2}}}},
		},
		{
			"regions and games",
			[]protocol.HostStatus{
				gameHost("h1", "dxb-1", 4, 1, 1, "demo"), titled, retitled,
				gameHost("h4", "dxb-1", 2, 2, 0, "demo", "chess"),
			},
			[]gameInfo{
				{ID: "chess", Free: 0, Regions: []gameRegion{{ID: "dxb-1", Hosts: 1, Free: 0}}},
				{ID: "demo", Free: 5, Regions: []gameRegion{{ID: "dxb-1", Hosts: 2, Free: 2}, {ID: "dxb-2", Hosts: 1, Free: 3}}},
				{ID: "paddle", Title: "Paddle", Free: 5, Regions: []gameRegion{{ID: "dxb-2", Hosts: 2, Free: 5}}},
			},
		},
		{
			"hosts that take no session",
			[]protocol.HostStatus{draining, suspect, registering, gameHost("h1", "dxb-1", 2, 0, 0, "demo")},
			[]gameInfo{{ID: "demo", Free: 2, Regions: []gameRegion{{ID: "dxb-1", Hosts: 1, Free: 2}}}},
		},
		{
			"overbooked host",
			[]protocol.HostStatus{gameHost("h1", "dxb-1", 2, 2, 1, "demo")},
			[]gameInfo{{ID: "demo", Free: 0, Regions: []gameRegion{{ID: "dxb-1", Hosts: 1, Free: 0}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := gamesOf(tt.hosts); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("games\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// TestGamesEndpoint: /v1/games is public (no token, even with the admin API off), read-only,
// and names no host.
func TestGamesEndpoint(t *testing.T) {
	for _, token := range []string{testToken, ""} {
		e := newAdminEnv(t, token)
		paddle := gameHost("secret-host-2", "dxb-2", 4, 1, 0, "demo", "paddle")
		paddle.Titles = map[string]string{"paddle": "Paddle"}
		e.matchmaker(t, gameHost("secret-host-1", "dxb-1", 2, 0, 1, "demo"), paddle)

		r := e.do(t, http.MethodGet, "/v1/games", "")
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("token %q: status %d headers %v body %q", token, r.status, r.header, r.body)
		}
		if strings.Contains(r.body, "secret-host") || strings.Contains(r.body, "libx264") {
			t.Fatalf("the game list leaks hosts: %s", r.body)
		}
		want := `[{"id":"demo","free":4,"regions":[{"id":"dxb-1","hosts":1,"free":1},{"id":"dxb-2","hosts":1,"free":3}]},` +
			`{"id":"paddle","title":"Paddle","free":3,"regions":[{"id":"dxb-2","hosts":1,"free":3}]}]`
		if got := strings.TrimSpace(r.body); got != want {
			t.Fatalf("body\n%s\nwant\n%s", got, want)
		}
		if r := e.do(t, http.MethodHead, "/v1/games", ""); r.status != http.StatusOK || r.body != "" {
			t.Fatalf("HEAD: %d %q", r.status, r.body)
		}
		if r := e.do(t, http.MethodPost, "/v1/games", ""); r.status != http.StatusMethodNotAllowed {
			t.Fatalf("POST: %d %q", r.status, r.body)
		}
		r = e.do(t, http.MethodGet, "/v1/games?gmae=demo", "")
		if r.status != http.StatusBadRequest || r.errorCode(t) != protocol.CodeBadField {
			t.Fatalf("unknown parameter: %d %q", r.status, r.body)
		}
	}
}

func TestGamesEndpointNoHosts(t *testing.T) {
	e := newAdminEnv(t, testToken)
	e.matchmaker(t)
	if r := e.do(t, http.MethodGet, "/v1/games", ""); r.status != http.StatusOK || strings.TrimSpace(r.body) != "[]" {
		t.Fatalf("no hosts: %d %q, want 200 []", r.status, r.body)
	}
}

func TestGamesEndpointNoMatchmaker(t *testing.T) {
	e := newAdminEnv(t, testToken)
	r := e.do(t, http.MethodGet, "/v1/games", "")
	if r.status != http.StatusServiceUnavailable || r.errorCode(t) != protocol.CodeHostUnavailable {
		t.Fatalf("status %d body %q, want 503 host_unavailable", r.status, r.body)
	}

	e = newAdminEnv(t, testToken)
	e.respond(t, protocol.SubjectHosts, "not hosts")
	r = e.do(t, http.MethodGet, "/v1/games", "")
	if r.status != http.StatusInternalServerError || r.errorCode(t) != protocol.CodeInternal || strings.Contains(r.body, "unmarshal") {
		t.Fatalf("malformed reply: status %d body %q, want a bare 500 internal", r.status, r.body)
	}
}

// gamesMatchmaker is a fake hosts query: it counts the questions, answers reply or fail, and
// when gate is set waits for it to close first.
type gamesMatchmaker struct {
	asked atomic.Int32
	mu    sync.Mutex
	reply []protocol.HostStatus // guarded by mu
	fail  error                 // guarded by mu
	gate  chan struct{}         // guarded by mu
}

func (m *gamesMatchmaker) hosts(ctx context.Context) ([]protocol.HostStatus, error) {
	m.asked.Add(1)
	m.mu.Lock()
	r, err, g := m.reply, m.fail, m.gate
	m.mu.Unlock()
	if g != nil {
		select {
		case <-g:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return r, err
}

func (m *gamesMatchmaker) set(reply []protocol.HostStatus, fail error, gate chan struct{}) {
	m.mu.Lock()
	m.reply, m.fail, m.gate = reply, fail, gate
	m.mu.Unlock()
}

// TestGamesCache: one answer of the matchmaker serves every request for gamesCacheTTL,
// failures included; concurrent requests share one question; a request whose client left
// leaves nothing in the cache. In a synctest bubble: time.Sleep moves the clock, and
// synctest.Wait returns once every request is blocked.
func TestGamesCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mm := &gamesMatchmaker{}
		h := newGamesHandler(mm.hosts, time.Now, slog.New(slog.DiscardHandler))
		get := func(ctx context.Context) (int, []gameInfo) {
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/v1/games", nil)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			var games []gameInfo
			if w.Code == http.StatusOK && w.Body.Len() > 0 {
				if err := json.Unmarshal(w.Body.Bytes(), &games); err != nil {
					t.Error(err)
				}
			}
			return w.Code, games
		}
		check := func(what string, wantCode, wantGames int, wantAsked int32) {
			t.Helper()
			code, games := get(t.Context())
			if code != wantCode || len(games) != wantGames || mm.asked.Load() != wantAsked {
				t.Fatalf("%s: status %d, %d games, asked %d times; want %d, %d, %d",
					what, code, len(games), mm.asked.Load(), wantCode, wantGames, wantAsked)
			}
		}
		one := []protocol.HostStatus{gameHost("h1", "dxb-1", 2, 0, 0, "demo")}
		two := []protocol.HostStatus{gameHost("h1", "dxb-1", 2, 0, 0, "demo", "chess")}

		mm.set(one, nil, nil)
		check("first", 200, 1, 1)
		mm.set(two, nil, nil)
		time.Sleep(gamesCacheTTL - time.Millisecond)
		check("within the TTL", 200, 1, 1)
		time.Sleep(time.Millisecond)
		check("after the TTL", 200, 2, 2)

		// A failure is kept as long.
		mm.set(nil, protocol.Errorf(protocol.CodeHostUnavailable, "no matchmaker"), nil)
		time.Sleep(gamesCacheTTL)
		for range 3 {
			check("failing", http.StatusServiceUnavailable, 0, 3)
		}

		// Concurrent requests wait for the one question in flight, then share its answer.
		gate := make(chan struct{})
		mm.set(one, nil, gate)
		time.Sleep(gamesCacheTTL)
		var wg sync.WaitGroup
		codes := make([]int, 8)
		for i := range codes {
			wg.Go(func() { codes[i], _ = get(t.Context()) })
		}
		synctest.Wait() // one request asks, seven wait for it
		if n := mm.asked.Load(); n != 4 {
			t.Fatalf("8 concurrent requests asked %d times, want once", n-3)
		}
		close(gate)
		wg.Wait()
		for i, c := range codes {
			if c != 200 {
				t.Fatalf("request %d: %d", i, c)
			}
		}
		check("after the concurrent ones", 200, 1, 4)

		// A client that leaves while the matchmaker is being asked: nothing is cached.
		mm.set(two, nil, make(chan struct{})) // never opened
		time.Sleep(gamesCacheTTL)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan int)
		go func() { code, _ := get(ctx); done <- code }()
		synctest.Wait()
		cancel()
		if code := <-done; code != 200 || mm.asked.Load() != 5 { // nothing written: the recorder's default 200
			t.Fatalf("the request that left: %d, asked %d times", code, mm.asked.Load())
		}
		mm.set(two, nil, nil)
		check("after a client left", 200, 2, 6)
		if _, err := h.list(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("a cancelled request: %v", err)
		}
	})
}
