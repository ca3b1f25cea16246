package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/internal/testplayer"
	"github.com/edgeplay/edgeplay/studio"
)

// webhookReceiver is a studio's webhook endpoint that is down (503) until up is closed.
type webhookReceiver struct {
	t      *testing.T
	secret string
	up     chan struct{}
	mu     sync.Mutex
	tried  int                            // requests while down
	got    map[string]int                 // accepted deliveries by webhook-id
	events map[string]studio.WebhookEvent // by webhook-id
	bad    []string                       // what was wrong with a delivery
}

func (rcv *webhookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	select {
	case <-rcv.up:
	default:
		rcv.tried++
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	id := r.Header.Get("webhook-id")
	ts, err := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
	want, serr := studio.SignWebhook(rcv.secret, id, time.Unix(ts, 0), body)
	var ev studio.WebhookEvent
	switch {
	case id == "" || err != nil || serr != nil:
		rcv.bad = append(rcv.bad, "missing headers")
	case r.Header.Get("webhook-signature") != want:
		rcv.bad = append(rcv.bad, "bad signature on "+id)
	case json.Unmarshal(body, &ev) != nil:
		rcv.bad = append(rcv.bad, "bad body on "+id)
	default:
		rcv.got[id]++
		rcv.events[id] = ev
	}
	w.WriteHeader(http.StatusNoContent)
}

// A studio's webhook endpoint that is down for 10 s still gets every session.started and
// session.ended once it is back, each exactly once, signed, with a stable webhook-id.
func TestWebhooksSurviveReceiverDowntime(t *testing.T) {
	const admin = "test-admin-token"
	rcv := &webhookReceiver{t: t, up: make(chan struct{}), got: map[string]int{}, events: map[string]studio.WebhookEvent{}}
	hs := httptest.NewServer(rcv)
	defer hs.Close()
	a := startApp(t, appOpts{slots: 4, mutate: func(c *app.Config) {
		c.Gateway.AdminToken = admin
		c.Webhooks.Schedule = []time.Duration{
			200 * time.Millisecond, 500 * time.Millisecond, time.Second,
			2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second,
		}
	}})
	code, out := adminPost(t, a, admin, "/v1/admin/studios", `{"name":"Acme","webhook_url":"`+hs.URL+`/hooks"}`)
	key, _ := out["api_key"].(string)
	st, _ := out["studio"].(map[string]any)
	if code != http.StatusCreated || key == "" || st == nil {
		t.Fatalf("create studio: %d %v", code, out)
	}
	rcv.secret, _ = st["webhook_secret"].(string)
	if rcv.secret == "" {
		t.Fatalf("no webhook secret in %v", st)
	}
	downSince := time.Now()

	var sessions []string
	for _, player := range []string{"ada", "bob"} {
		p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{Token: mintToken(t, a, key, `{"game":"demo","player_id":"`+player+`"}`)})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Play(ctxFor(t, 15*time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Leave(ctxFor(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
		p.Close()
		sessions = append(sessions, p.Session)
	}
	waitFor(t, 10*time.Second, "delivery attempts while the receiver is down", func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		return rcv.tried >= 4
	})
	time.Sleep(time.Until(downSince.Add(10 * time.Second)))
	close(rcv.up)
	waitFor(t, 20*time.Second, "every event delivered after the receiver came back", func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		return len(rcv.got) == 4
	})
	time.Sleep(time.Second) // room for a duplicate to show
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.bad) > 0 {
		t.Errorf("bad deliveries: %v", rcv.bad)
	}
	for _, s := range sessions {
		for kind, typ := range map[string]string{"start": "session.started", "end": "session.ended"} {
			id := s + "." + kind
			ev := rcv.events[id]
			if rcv.got[id] != 1 {
				t.Errorf("%s delivered %d times, want once", id, rcv.got[id])
			}
			if ev.Type != typ || ev.Data.Session != s || ev.Data.Studio != st["id"] || ev.Data.Player == "" {
				t.Errorf("%s: %+v", id, ev)
			}
		}
	}
}
