package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/transport/v5/test"

	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/internal/testplayer"
	"github.com/edgeplay/edgeplay/protocol"
)

func adminPost(t *testing.T, a *app.App, token, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestDrain: draining a host stops new placements on it at once, keeps its session streaming,
// tells the player the deadline, ends the session "drained" at the deadline, and leaves the
// host "drained"; undrain puts it back in service.
func TestDrain(t *testing.T) {
	defer test.CheckRoutines(t)()
	const token = "test-admin-token"
	a := startApp(t, appOpts{hosts: 2, slots: 2, mutate: func(c *app.Config) { c.Gateway.AdminToken = token }})
	defer func() { _ = a.Close(ctxFor(t, 10*time.Second)) }()

	first, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if err := first.Play(ctxFor(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}
	drained := first.Host

	for _, path := range []string{
		"/v1/admin/hosts/" + drained + "/drain", "/v1/admin/hosts/" + drained + "/undrain",
		"/v1/admin/regions/local/drain", "/v1/admin/sessions/" + first.Session + "/kick",
	} {
		for _, tok := range []string{"", "wrong"} {
			if code, body := adminPost(t, a, tok, path, `{}`); code != http.StatusUnauthorized || body["code"] != "unauthorized" {
				t.Fatalf("POST %s with token %q: %d %v, want 401 unauthorized", path, tok, code, body)
			}
		}
	}
	if code, _ := adminPost(t, a, token, "/v1/admin/hosts/nope/drain", `{}`); code != http.StatusNotFound {
		t.Fatalf("drain of an unknown host: %d, want 404", code)
	}
	if code, _ := adminPost(t, a, token, "/v1/admin/hosts/"+drained+"/drain", `{"deadline":"forever"}`); code != http.StatusBadRequest {
		t.Fatalf("drain with a bad deadline: %d, want 400", code)
	}
	sent := time.Now()
	code, body := adminPost(t, a, token, "/v1/admin/hosts/"+drained+"/drain", `{"deadline":"3s","reason":"maintenance"}`)
	if code != http.StatusOK || body["state"] != protocol.HostDraining {
		t.Fatalf("drain: %d %v, want 200 and state draining", code, body)
	}
	// Idempotent.
	if code, body := adminPost(t, a, token, "/v1/admin/hosts/"+drained+"/drain", `{"deadline":"3s","reason":"maintenance"}`); code != http.StatusOK || body["state"] != protocol.HostDraining {
		t.Fatalf("second drain: %d %v", code, body)
	}

	// New players go elsewhere at once.
	second, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if _, err := second.Join(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if second.Host == drained {
		t.Fatalf("a new session was placed on the draining host %s", drained)
	}
	t.Logf("drain command → next join placed elsewhere: %s", time.Since(sent).Round(time.Millisecond))

	// The playing player is told, keeps streaming, and is ended "drained" at the deadline.
	var draining protocol.Message
	for {
		m, err := first.Next(ctxFor(t, 5*time.Second))
		if err != nil {
			t.Fatalf("waiting for draining: %v", err)
		}
		if m.Type == protocol.TypeDraining {
			draining = m
			break
		}
	}
	if draining.Deadline.IsZero() || !strings.Contains(draining.Message, "maintenance") {
		t.Fatalf("draining message %+v, want the deadline and the reason", draining)
	}
	before := first.Received()
	waitFor(t, 2*time.Second, "video keeps flowing while draining", func() bool { return first.Received() > before+30 })
	for {
		m, err := first.Next(ctxFor(t, 10*time.Second))
		if err != nil {
			t.Fatalf("waiting for ended: %v", err)
		}
		if m.Type == protocol.TypeEnded {
			if m.Reason != protocol.ReasonDrained {
				t.Fatalf("ended %+v, want drained", m)
			}
			break
		}
	}
	waitFor(t, 5*time.Second, "the host reports drained", func() bool {
		for _, h := range a.Matchmaker().Hosts() {
			if h.Host == drained {
				return h.State == protocol.HostDrained
			}
		}
		return false
	})

	if code, body := adminPost(t, a, token, "/v1/admin/hosts/"+drained+"/undrain", ``); code != http.StatusOK || body["state"] != protocol.HostReady {
		t.Fatalf("undrain: %d %v, want 200 and state ready", code, body)
	}
	first.Close()
	second.Close()
	if err := a.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// TestKick: an operator ends a session; its player is told "kicked", and the slot frees.
func TestKick(t *testing.T) {
	defer test.CheckRoutines(t)()
	const token = "test-admin-token"
	a := startApp(t, appOpts{mutate: func(c *app.Config) { c.Gateway.AdminToken = token }})
	defer func() { _ = a.Close(ctxFor(t, 10*time.Second)) }()
	p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Play(ctxFor(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}
	if code, _ := adminPost(t, a, token, "/v1/admin/sessions/0000000000000000/kick", ``); code != http.StatusNotFound {
		t.Fatalf("kick of an unknown session: %d, want 404", code)
	}
	if code, body := adminPost(t, a, token, "/v1/admin/sessions/"+p.Session+"/kick", ``); code != http.StatusOK || body["id"] != p.Session {
		t.Fatalf("kick: %d %v", code, body)
	}
	for {
		m, err := p.Next(ctxFor(t, 5*time.Second))
		if err != nil {
			t.Fatalf("waiting for ended: %v", err)
		}
		if m.Type == protocol.TypeEnded {
			if m.Reason != protocol.ReasonKicked {
				t.Fatalf("ended %+v, want kicked", m)
			}
			break
		}
	}
	waitFor(t, 5*time.Second, "the slot is free", func() bool { return len(a.Hosts()[0].Sessions()) == 0 })
	p.Close()
	if err := a.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// TestRegionDrain: a data-center drain that would leave too little capacity elsewhere is
// refused unless forced; forced, new players go to the other data center although it is
// farther; undrain restores placements.
func TestRegionDrain(t *testing.T) {
	defer test.CheckRoutines(t)()
	const token = "test-admin-token"
	a := twoRegions(t, func(c *app.Config) { c.Gateway.AdminToken, c.Gateway.MinReadySlots = token, 2 })
	defer func() { _ = a.Close(ctxFor(t, 10*time.Second)) }()

	req, _ := http.NewRequest(http.MethodGet, a.URL()+"/v1/admin/regions", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var regions []map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&regions)
	resp.Body.Close()
	if len(regions) != 2 || regions[0]["id"] != "dxb-1" || regions[0]["ready_free"] != float64(1) {
		t.Fatalf("regions %v", regions)
	}

	if code, body := adminPost(t, a, token, "/v1/admin/regions/dxb-1/drain", `{"deadline":"1m"}`); code != http.StatusConflict {
		t.Fatalf("drain leaving 1 free slot elsewhere (minimum 2): %d %v, want 409", code, body)
	}
	if code, _ := adminPost(t, a, token, "/v1/admin/regions/mars-1/drain", `{"force":true}`); code != http.StatusNotFound {
		t.Fatalf("drain of an unknown data center: %d, want 404", code)
	}
	if code, _ := adminPost(t, a, token, "/v1/admin/regions/dxb-1/drain", `{"deadline":"1m","force":true}`); code != http.StatusOK {
		t.Fatalf("forced drain: %d, want 200", code)
	}
	p := dialProbe(t, a)
	defer p.Close()
	if err := p.Play(ctxFor(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}
	if p.Placed.Region != "dxb-2" {
		t.Fatalf("placed in %s while dxb-1 is drained, want dxb-2", p.Placed.Region)
	}
	if code, body := adminPost(t, a, token, "/v1/admin/hosts/dxb-1-host-1/undrain", ``); code != http.StatusOK || body["state"] != protocol.HostReady {
		t.Fatalf("undrain: %d %v", code, body)
	}
	// Undrain restores placements: the next player goes to the nearer dxb-1 again.
	next := dialProbe(t, a)
	defer next.Close()
	if err := next.Play(ctxFor(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}
	if next.Placed.Region != "dxb-1" {
		t.Fatalf("after undrain placed in %s, want dxb-1", next.Placed.Region)
	}
	next.Close()
	p.Close()
	if err := a.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// TestOpsEndpoints: a process without a gateway (here: all roles, with --metrics-addr) serves
// /metrics, /healthz and /readyz; a drained host makes it not ready (no longer accepting).
func TestOpsEndpoints(t *testing.T) {
	defer test.CheckRoutines(t)()
	a := startApp(t, appOpts{mutate: func(c *app.Config) { c.OpsAddr = "127.0.0.1:0" }})
	defer func() { _ = a.Close(ctxFor(t, 10*time.Second)) }()
	get := func(path string) int {
		resp, err := http.Get("http://" + a.OpsAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, p := range []string{"/metrics", "/healthz", "/readyz"} {
		if code := get(p); code != http.StatusOK {
			t.Fatalf("%s: %d", p, code)
		}
	}
	if err := a.Hosts()[0].Drain(time.Now().Add(time.Minute), "test"); err != nil {
		t.Fatal(err)
	}
	if code := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz of a drained host: %d, want 503", code)
	}
	if err := a.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}
