package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const testToken = "t0ken"

// fakeAPI serves the admin API from the fixtures in testdata/api_*, the way docs/API.md says
// a gateway answers, and records what it was asked.
type fakeAPI struct {
	t        *testing.T
	disabled bool   // answer like a gateway without an admin token
	missing  string // X-Edgeplay-Missing-Hosts on session listings
	events   string // the NDJSON body of /v1/admin/events; default the fixture

	mu       sync.Mutex
	requests []string
}

func (f *fakeAPI) fixture(name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.t.Error(err)
	}
	return b
}

// element returns the object with the given id from a fixture array.
func (f *fakeAPI) element(name, id string) []byte {
	var all []json.RawMessage
	if err := json.Unmarshal(f.fixture(name), &all); err != nil {
		f.t.Error(err)
	}
	for _, raw := range all {
		var v struct{ ID string }
		_ = json.Unmarshal(raw, &v)
		if v.ID == id {
			return raw
		}
	}
	return nil
}

func apiErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.URL.RequestURI())
	f.mu.Unlock()
	if r.URL.Path == "/v1/games" { // public: no token
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(f.fixture("api_games.json"))
		return
	}
	switch {
	case f.disabled:
		apiErr(w, 403, "admin_disabled", "the admin API is disabled on this gateway (it has no admin token)")
		return
	case r.Header.Get("Authorization") != "Bearer "+testToken:
		apiErr(w, 401, "unauthorized", "the admin token is wrong")
		return
	}
	json200 := func(b []byte) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}
	path := r.URL.Path
	switch {
	case path == "/v1/admin/hosts":
		json200(f.fixture("api_hosts.json"))
	case path == "/v1/admin/sessions":
		if f.missing != "" {
			w.Header().Set("X-Edgeplay-Missing-Hosts", f.missing)
		}
		json200(f.fixture("api_sessions.json"))
	case path == "/v1/admin/events":
		w.Header().Set("Content-Type", "application/x-ndjson")
		if f.events != "" {
			_, _ = w.Write([]byte(f.events))
			return
		}
		_, _ = w.Write(f.fixture("api_events.ndjson"))
	case path == "/v1/admin/hosts/unavailable":
		apiErr(w, 503, "host_unavailable", "no matchmaker answers the hosts query (edgeplay.mm.hosts): none is running, or it is too old")
	case strings.HasPrefix(path, "/v1/admin/hosts/"):
		if b := f.element("api_hosts.json", strings.TrimPrefix(path, "/v1/admin/hosts/")); b != nil {
			json200(b)
			return
		}
		apiErr(w, 404, "not_found", fmt.Sprintf("no host %q: the matchmaker does not know it", strings.TrimPrefix(path, "/v1/admin/hosts/")))
	case strings.HasPrefix(path, "/v1/admin/sessions/"):
		if b := f.element("api_sessions.json", strings.TrimPrefix(path, "/v1/admin/sessions/")); b != nil {
			json200(b)
			return
		}
		apiErr(w, 404, "not_found", fmt.Sprintf("no session %q (it may have ended)", strings.TrimPrefix(path, "/v1/admin/sessions/")))
	default:
		apiErr(w, 404, "not_found", "no admin endpoint "+path)
	}
}

func (f *fakeAPI) lastRequest() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		return ""
	}
	return f.requests[len(f.requests)-1]
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestCommandsGolden(t *testing.T) {
	t.Setenv("EDGEPLAY_ADMIN_TOKEN", testToken)
	api := &fakeAPI{t: t}
	srv := httptest.NewServer(api)
	defer srv.Close()
	t.Setenv("EDGEPLAY_SERVER", srv.URL)

	tests := []struct {
		name    string
		args    []string
		golden  string // "" = output not checked
		request string
		code    int
	}{
		{"hosts", []string{"hosts"}, "hosts.golden", "/v1/admin/hosts", 0},
		{"hosts json", []string{"hosts", "-o", "json"}, "hosts_json.golden", "/v1/admin/hosts", 0},
		{"one host", []string{"hosts", "h3"}, "host_h3.golden", "/v1/admin/hosts/h3", 0},
		{"one host json is an array", []string{"-o", "json", "hosts", "h3"}, "host_h3_json.golden", "/v1/admin/hosts/h3", 0},
		{"hosts of a region", []string{"hosts", "--region", "dxb-2"}, "", "/v1/admin/hosts?region=dxb-2", 0},
		{"sessions", []string{"sessions"}, "sessions.golden", "/v1/admin/sessions", 0},
		{"games", []string{"games"}, "games.golden", "/v1/games", 0},
		{"games json", []string{"games", "-o", "json"}, "games_json.golden", "/v1/games", 0},
		{"sessions json", []string{"sessions", "--output", "json"}, "sessions_json.golden", "/v1/admin/sessions", 0},
		{"sessions filtered", []string{"sessions", "--host", "h1", "--region", "dxb-1"}, "", "/v1/admin/sessions?host=h1&region=dxb-1", 0},
		{"one session, flags after the id", []string{"sessions", "c0ffee0011223344", "-o", "json"}, "session_json.golden", "/v1/admin/sessions/c0ffee0011223344", 0},
		{"events", []string{"events"}, "events.golden", "/v1/admin/events?limit=100", 0},
		{"events json", []string{"events", "-o", "json"}, "events_json.golden", "/v1/admin/events?limit=100", 0},
		{"events filtered", []string{"events", "--type", "ended,placed", "--since", "1h", "--limit", "5"}, "", "/v1/admin/events?limit=5&since=1h&type=ended%2Cplaced", 0},
		// The fake ends the stream after the fixture: a real gateway does that only when it
		// shuts down, which edgectl reports (exit 1) after printing what it got.
		{"events follow json", []string{"events", "--follow", "-o", "json"}, "events_follow_json.golden", "/v1/admin/events?follow=1&limit=100", 1},
		{"events follow table", []string{"events", "-f", "--limit", "0"}, "events.golden", "/v1/admin/events?follow=1&limit=0", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code, err := run(t.Context(), tt.args, &out, &errOut)
			if code != tt.code {
				t.Fatalf("code %d err %v stderr %q, want %d", code, err, errOut.String(), tt.code)
			}
			if got := api.lastRequest(); got != tt.request {
				t.Fatalf("asked %q, want %q", got, tt.request)
			}
			if tt.golden != "" {
				checkGolden(t, tt.golden, out.Bytes())
			}
			if strings.HasSuffix(tt.golden, "_json.golden") && !strings.Contains(tt.golden, "follow") {
				var v []map[string]any
				if err := json.Unmarshal(out.Bytes(), &v); err != nil {
					t.Fatalf("-o json is not an array of objects: %v", err)
				}
			}
		})
	}
}

// TestJSONFields: the documented minimum of every -o json object.
func TestJSONFields(t *testing.T) {
	t.Setenv("EDGEPLAY_ADMIN_TOKEN", testToken)
	srv := httptest.NewServer(&fakeAPI{t: t})
	defer srv.Close()
	for cmd, fields := range map[string][]string{
		"hosts":    {"id", "region", "state"},
		"sessions": {"id", "region", "host", "state"},
	} {
		var out, errOut bytes.Buffer
		if code, err := run(t.Context(), []string{"--server", srv.URL, cmd, "-o", "json"}, &out, &errOut); code != 0 {
			t.Fatalf("%s: %d %v", cmd, code, err)
		}
		var objs []map[string]any
		if err := json.Unmarshal(out.Bytes(), &objs); err != nil || len(objs) == 0 {
			t.Fatalf("%s -o json: %v %q", cmd, err, out.String())
		}
		for _, o := range objs {
			for _, f := range fields {
				if s, _ := o[f].(string); s == "" {
					t.Fatalf("%s: object %v lacks %q", cmd, o, f)
				}
			}
		}
	}
}

func TestMissingHostsWarning(t *testing.T) {
	t.Setenv("EDGEPLAY_ADMIN_TOKEN", testToken)
	srv := httptest.NewServer(&fakeAPI{t: t, missing: "h4,h5"})
	defer srv.Close()
	var out, errOut bytes.Buffer
	code, err := run(t.Context(), []string{"--server", srv.URL, "sessions"}, &out, &errOut)
	if code != 0 || err != nil {
		t.Fatalf("code %d err %v", code, err)
	}
	if want := "edgectl: warning: host(s) h4, h5 did not answer; their sessions are not listed\n"; errOut.String() != want {
		t.Fatalf("stderr %q, want %q", errOut.String(), want)
	}
	if !strings.Contains(out.String(), "c0ffee0011223344") {
		t.Fatalf("the sessions that did answer are not listed: %q", out.String())
	}
}

func TestErrors(t *testing.T) {
	api := httptest.NewServer(&fakeAPI{t: t})
	defer api.Close()
	disabled := httptest.NewServer(&fakeAPI{t: t, disabled: true})
	defer disabled.Close()
	notAGateway := httptest.NewServer(http.NotFoundHandler())
	defer notAGateway.Close()
	broken := httptest.NewServer(&fakeAPI{t: t, events: `{"kind":"placed","session":"s1"}` + "\n" +
		`{"code":"events_unavailable","message":"the event stream cannot be read: nats: connection closed"}` + "\n"})
	defer broken.Close()

	tests := []struct {
		name   string
		server string
		token  string
		args   []string
		code   int
		want   string
	}{
		{"wrong token", api.URL, "wrong", []string{"hosts"}, 1, "the admin token was refused (check EDGEPLAY_ADMIN_TOKEN)"},
		{"wrong token on events", api.URL, "wrong", []string{"events", "--follow"}, 1, "the admin token was refused (check EDGEPLAY_ADMIN_TOKEN)"},
		{"no token", api.URL, "", []string{"sessions"}, 1, "no admin token: set EDGEPLAY_ADMIN_TOKEN"},
		{"unreachable", "http://127.0.0.1:1", testToken, []string{"hosts"}, 1, "cannot reach the gateway at http://127.0.0.1:1"},
		{"unknown host", api.URL, testToken, []string{"hosts", "h9"}, 1, `no host "h9": the matchmaker does not know it`},
		{"unknown host filter", api.URL, testToken, []string{"sessions", "h9"}, 1, `no session "h9" (it may have ended)`},
		{"admin API off", disabled.URL, testToken, []string{"hosts"}, 1, "the admin API is off on this gateway"},
		{"not a gateway", notAGateway.URL, testToken, []string{"sessions"}, 1, "has no admin API (HTTP 404)"},
		{"no matchmaker", api.URL, testToken, []string{"hosts", "unavailable"}, 1, "no matchmaker answers the hosts query (edgeplay.mm.hosts): none is running, or it is too old (HTTP 503, host_unavailable)"},
		{"stream breaks", broken.URL, testToken, []string{"events", "--follow"}, 1, "the event stream broke: the event stream cannot be read: nats: connection closed (events_unavailable)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("EDGEPLAY_ADMIN_TOKEN", tt.token)
			var out, errOut bytes.Buffer
			code, err := run(t.Context(), append([]string{"--server", tt.server}, tt.args...), &out, &errOut)
			if code != tt.code || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("code %d err %v, want %d and %q", code, err, tt.code, tt.want)
			}
		})
	}
}

// TestTokenFlag: --token overrides the environment.
func TestTokenFlag(t *testing.T) {
	t.Setenv("EDGEPLAY_ADMIN_TOKEN", "stale")
	srv := httptest.NewServer(&fakeAPI{t: t})
	defer srv.Close()
	var out, errOut bytes.Buffer
	if code, err := run(t.Context(), []string{"hosts", "--server", srv.URL, "--token", testToken}, &out, &errOut); code != 0 {
		t.Fatalf("code %d err %v", code, err)
	}
}
