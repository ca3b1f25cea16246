package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgeplay/edgeplay/probe"
	"github.com/edgeplay/edgeplay/protocol"
)

// screenshot saves the page as name in $EDGEPLAY_SCREENSHOTS, when that is set (to look at the
// page; nothing is compared).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("EDGEPLAY_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Error(err)
	}
}

// statusLog records every text of the status line from now on, in window.statusLog, so a test
// can check states too short to poll for.
const statusLog = `window.statusLog = [];
new MutationObserver(() => statusLog.push(document.getElementById("status").textContent))
  .observe(document.getElementById("status"), { childList: true, characterData: true, subtree: true });
true`

// The welcome lists four data centers: two measured by a real probe endpoint with simulated
// delays (one by a relative URL, one by an absolute http URL), one the endpoint does not know,
// and one that never answers. The join must carry exactly the two signed results, after the
// probe deadline cut the silent one; then the page shows the queue and the placement.
func TestBrowserRegionsQueuePlaced(t *testing.T) {
	ctx := browser(t)
	key := []byte("browser-test-key-0123456789abcdef")
	delays := map[string]time.Duration{"dxb-1": 5 * time.Millisecond, "dxb-2": 30 * time.Millisecond}
	probes := probe.NewHandler(probe.HandlerConfig{
		Key: key, Regions: delays, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	release := make(chan struct{}) // ends the silent probe's request
	silent := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
		http.Error(w, "gone", http.StatusServiceUnavailable)
	})

	var base atomic.Pointer[string] // the server's http://host:port, once known
	joins := make(chan protocol.Message, 1)
	sends := make(chan protocol.Message)
	left := make(chan struct{})
	script := func(c *fakeConn) {
		c.send(protocol.Message{Type: protocol.TypeWelcome, Version: 1, Session: "s5", Regions: []protocol.RegionInfo{
			{ID: "dxb-1", Name: "Dubai 1", Probe: "/v1/probe?region=dxb-1"},
			{ID: "dxb-2", Name: "Dubai 2", Probe: *base.Load() + "/v1/probe?region=dxb-2"},
			{ID: "dxb-3", Name: "Dubai 3", Probe: "/v1/probe?region=dxb-3"},
			{ID: "far-1", Name: "Far away", Probe: "/v1/silent"},
		}})
		joins <- c.expect(protocol.TypeJoin)
		timeout := time.After(60 * time.Second)
		for {
			select {
			case m := <-sends:
				c.send(m)
			case m, ok := <-c.in:
				if !ok {
					return
				}
				if m.Type == protocol.TypeLeave {
					close(left)
					c.send(protocol.Message{Type: protocol.TypeEnded, Reason: protocol.ReasonPlayerLeft})
					return
				}
			case <-timeout:
				t.Error("gateway: the test did not finish within 60 s")
				return
			}
		}
	}
	srv := fakeGatewayWith(t, script, map[string]http.Handler{"GET /v1/probe": probes, "GET /v1/silent": silent})
	u := srv.URL
	base.Store(&u)
	// Cleanups run last-registered first: these end the probes before the server closes.
	t.Cleanup(func() { _ = probes.Close() })
	t.Cleanup(func() { close(release) })

	send := func(m protocol.Message) {
		t.Helper()
		select {
		case sends <- m:
		case <-time.After(10 * time.Second):
			t.Fatalf("gateway did not take %s", m.Type)
		}
	}
	text := func(sel string) string {
		t.Helper()
		return eval[string](t, ctx, `document.querySelector(`+"`"+sel+"`"+`).textContent`)
	}

	do(t, ctx, chromedp.Navigate(srv.URL+"/"))
	eval[bool](t, ctx, statusLog)
	do(t, ctx, chromedp.Click(chromedp.ID("play")))

	var join protocol.Message
	select {
	case join = <-joins:
	case <-time.After(15 * time.Second): // the silent probe holds on for 30 s: only the deadline ends it sooner
		t.Fatal("no join within 15 s")
	}
	var claimed []string
	var placedMs float64
	for _, c := range join.RTTs {
		claimed = append(claimed, c.Region)
		s, err := probe.Verify(key, c.Token, time.Now())
		if err != nil {
			t.Errorf("%s: token does not verify: %v", c.Region, err)
			continue
		}
		if s.Region != c.Region || s.Session != "s5" {
			t.Errorf("%s: token is for %s/%s", c.Region, s.Region, s.Session)
		}
		if s.RTT < delays[c.Region] {
			t.Errorf("%s: signed RTT %v, below the simulated %v", c.Region, s.RTT, delays[c.Region])
		}
		if c.Region == "dxb-1" {
			placedMs = probe.Millis(s.RTT)
		}
		t.Logf("%s: %v", c.Region, s.RTT)
	}
	if strings.Join(claimed, " ") != "dxb-1 dxb-2" {
		t.Fatalf("join claims %v, want dxb-1 dxb-2", claimed)
	}
	log := eval[[]string](t, ctx, `statusLog`)
	if len(log) < 2 || log[0] != "connecting to the server…" || log[1] != "measuring latency to 4 data centers…" {
		t.Errorf("status went %q", log)
	}
	rtts := eval[map[string]float64](t, ctx, `edgeplay.rtts`)
	if len(rtts) != 2 || rtts["dxb-1"] < 5 || rtts["dxb-2"] < 30 {
		t.Errorf("edgeplay.rtts %v, want dxb-1 ≥ 5 and dxb-2 ≥ 30", rtts)
	}

	// The queue: the status and the player's overlay follow each queued message.
	for _, q := range []struct{ pos, eta int }{{3, 20}, {1, 4}} {
		send(protocol.Message{Type: protocol.TypeQueued, Position: q.pos, ETA: q.eta})
		waitJS(t, ctx, fmt.Sprintf(`edgeplay.state === "queued" && edgeplay.queue.position === %d`, q.pos), 5*time.Second)
		want := fmt.Sprintf("in queue: position %d, about %d s", q.pos, q.eta)
		if got := text("#status"); got != want {
			t.Errorf("status %q, want %q", got, want)
		}
		if got := text(".ep-message"); got != want {
			t.Errorf("the player says %q, want %q", got, want)
		}
		if eval[int](t, ctx, `edgeplay.queue.eta`) != q.eta {
			t.Errorf("edgeplay.queue %s", eval[string](t, ctx, `JSON.stringify(edgeplay.queue)`))
		}
		if q.pos == 3 {
			screenshot(t, ctx, "queued.png")
		}
	}

	reason := "dxb-1: lowest RTT under the 40 ms cap; host h9 is partly used (pack)"
	send(protocol.Message{Type: protocol.TypePlaced, Session: "s5", Host: "h9", Region: "dxb-1", RTTMillis: placedMs, Why: reason})
	waitJS(t, ctx, `edgeplay.state === "placed"`, 5*time.Second)
	if want := fmt.Sprintf("placed on host h9 in dxb-1 (rtt %.1f ms)", placedMs); text("#status") != want {
		t.Errorf("status %q, want %q", text("#status"), want)
	}
	if got := eval[string](t, ctx, `JSON.stringify([edgeplay.queue, edgeplay.region, edgeplay.placedReason])`); got != `[null,"dxb-1","`+reason+`"]` {
		t.Errorf("queue, region, placedReason = %s", got)
	}
	if got := eval[float64](t, ctx, `edgeplay.placedRttMs`); got != placedMs {
		t.Errorf("placedRttMs %v, want %v", got, placedMs)
	}

	// F2: the stats overlay names the data center, the RTTs and the reason.
	do(t, ctx, chromedp.KeyEvent("\u0802"))
	stats := text(".ep-stats")
	for _, want := range []string{"dxb-1 (Dubai 1)", fmt.Sprintf("probe RTT%.1f ms", placedMs), "dxb-2", reason} {
		if !strings.Contains(stats, want) {
			t.Errorf("stats overlay %q lacks %q", stats, want)
		}
	}
	screenshot(t, ctx, "placed-stats.png")

	do(t, ctx, chromedp.Click(chromedp.ID("stop")))
	select {
	case <-left:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not send leave")
	}
	waitJS(t, ctx, `edgeplay.state === "ended"`, 5*time.Second)
}
