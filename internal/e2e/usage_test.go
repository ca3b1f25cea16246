package e2e

import (
	"encoding/json"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/internal/testplayer"
	"github.com/edgeplay/edgeplay/protocol"
)

// usageAnswer is GET …/usage's answer as the tests read it.
type usageAnswer struct {
	Sessions int     `json:"sessions"`
	Seconds  float64 `json:"played_s"`
	List     []struct {
		protocol.UsageRecord
		Open bool `json:"open"`
	} `json:"list"`
	Groups []struct {
		Key      string  `json:"key"`
		Sessions int     `json:"sessions"`
		Seconds  float64 `json:"played_s"`
	} `json:"groups"`
}

func getUsage(t *testing.T, base, auth, path string) usageAnswer {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxFor(t, 30*time.Second), http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d", path, resp.StatusCode)
	}
	var a usageAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	return a
}

// Usage adds up: sessions played with a studio's tokens and without, ended in different
// ways (the player left, an operator kicked it), appear once each in the usage records with
// their studio, player, reason and played seconds; the admin API sums them by studio, and the
// studio's own endpoint shows it its sessions and nobody else's.
func TestUsageAddsUp(t *testing.T) {
	const admin = "test-admin-token"
	a := startApp(t, appOpts{slots: 4, mutate: func(c *app.Config) { c.Gateway.AdminToken = admin }})
	code, out := adminPost(t, a, admin, "/v1/admin/studios", `{"name":"Acme","games":["demo"]}`)
	key, _ := out["api_key"].(string)
	if code != http.StatusCreated || key == "" {
		t.Fatalf("create studio: %d %v", code, out)
	}
	studioID := out["studio"].(map[string]any)["id"].(string)
	_, out = adminPost(t, a, admin, "/v1/admin/studios", `{"name":"Other"}`)
	otherKey, _ := out["api_key"].(string)

	play := func(token string) (*testplayer.Player, time.Time) {
		t.Helper()
		p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{Token: token})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		if err := p.Play(ctxFor(t, 15*time.Second)); err != nil {
			t.Fatal(err)
		}
		return p, time.Now()
	}
	left, t1 := play(mintToken(t, a, key, `{"game":"demo","player_id":"ada"}`))
	kicked, t2 := play(mintToken(t, a, key, `{"game":"demo","player_id":"bob"}`))
	anon, t3 := play("")
	time.Sleep(1500 * time.Millisecond)
	if _, err := left.Leave(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	d1 := time.Since(t1)
	if code, _ := adminPost(t, a, admin, "/v1/admin/sessions/"+kicked.Session+"/kick", ``); code != http.StatusOK {
		t.Fatalf("kick: %d", code)
	}
	d2 := time.Since(t2)
	if _, err := anon.Leave(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	d3 := time.Since(t3)

	var all usageAnswer
	waitFor(t, 10*time.Second, "three ended sessions in the usage records", func() bool {
		all = getUsage(t, a.URL(), admin, "/v1/admin/usage?since=1h")
		ended := 0
		for _, s := range all.List {
			if !s.Open {
				ended++
			}
		}
		return all.Sessions == 3 && ended == 3
	})
	want := map[string]struct {
		studio, player string
		reason         protocol.Reason
		played         time.Duration
	}{
		left.Session:   {studioID, "ada", protocol.ReasonPlayerLeft, d1},
		kicked.Session: {studioID, "bob", protocol.ReasonKicked, d2},
		anon.Session:   {"", "", protocol.ReasonPlayerLeft, d3},
	}
	for _, s := range all.List {
		w, ok := want[s.Session]
		if !ok {
			t.Errorf("an unexpected session %+v", s)
			continue
		}
		// Played: from the connection to the end as the host saw them; the test's clock
		// starts a little later (Play returns after the connection) and stops a little later.
		if s.Studio != w.studio || s.Player != w.player || s.Reason != w.reason || s.Game != "demo" || s.Host != "host-1" ||
			s.Seconds <= 0 || s.Seconds > w.played.Seconds()+0.5 || s.Seconds < w.played.Seconds()-1 {
			t.Errorf("session %s: %+v, want studio %q player %q reason %s, about %.1f s played", s.Session, s.UsageRecord,
				w.studio, w.player, w.reason, w.played.Seconds())
		}
	}
	byStudio := getUsage(t, a.URL(), admin, "/v1/admin/usage?since=1h&by=studio")
	sums := map[string]float64{}
	for _, g := range byStudio.Groups {
		sums[g.Key] = g.Seconds
		if want := map[string]int{studioID: 2, protocol.NoStudio: 1}[g.Key]; g.Sessions != want {
			t.Errorf("by studio, %s: %d sessions, want %d", g.Key, g.Sessions, want)
		}
	}
	var listed float64
	for _, s := range all.List {
		if s.Studio == studioID {
			listed += s.Seconds
		}
	}
	if math.Abs(sums[studioID]-listed) > 0.01 || math.Abs(byStudio.Seconds-all.Seconds) > 0.01 {
		t.Errorf("sums by studio %v (total %.3f), the list's %.3f (total %.3f)", sums, byStudio.Seconds, listed, all.Seconds)
	}

	own := getUsage(t, a.URL(), key, "/v1/studio/usage?since=1h")
	if own.Sessions != 2 || math.Abs(own.Seconds-sums[studioID]) > 0.01 {
		t.Errorf("the studio's own usage: %d sessions, %.3f s; want 2 and %.3f", own.Sessions, own.Seconds, sums[studioID])
	}
	for _, s := range own.List {
		if s.Studio != studioID {
			t.Errorf("the studio sees another's session %+v", s)
		}
	}
	if other := getUsage(t, a.URL(), otherKey, "/v1/studio/usage?since=1h"); other.Sessions != 0 {
		t.Errorf("another studio sees %d sessions, want 0", other.Sessions)
	}
}
