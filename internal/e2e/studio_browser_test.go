package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/pion/transport/v5/test"

	"github.com/edgeplay/edgeplay/gameproc"
	"github.com/edgeplay/edgeplay/internal/app"
)

// TestBrowserPlaysStudioGame is what a studio sees (issue 10): its own game — the C SDK's
// example, built here with gcc — played in Chromium from the normal page with ?game=paddle,
// its sound negotiated, keys reaching it, the host's input → frame latency in the stats overlay
// (the game draws no marker), and Stop freeing the slot.
//
// EDGEPLAY_SCREENSHOT_STUDIO=path writes a screenshot while playing (PNG).
func TestBrowserPlaysStudioGame(t *testing.T) {
	chromePath(t)
	defer test.CheckRoutines(t)()
	bin := buildPaddle(t)
	a := startApp(t, appOpts{mutate: func(c *app.Config) {
		for i := range c.Hosts {
			c.Hosts[i].Games["paddle"] = gameproc.Factory(gameproc.Command{ID: "paddle", Path: bin, Logger: testLogger()})
		}
	}})
	defer func() { _ = a.Close(ctxFor(t, 10*time.Second)) }()
	ctx, closeBrowser := startBrowser(t)
	defer closeBrowser()

	run(t, ctx, "open the page", chromedp.Navigate(a.URL()+"/?game=paddle"))
	waitJS(t, ctx, `window.edgeplay?.state === "idle" && !document.getElementById("play").disabled`, jsTimeout)
	if got := evalJS[string](t, ctx, `document.getElementById("game").textContent`); got != "paddle" {
		t.Errorf("the page names game %q, want paddle", got)
	}
	if !evalJS[bool](t, ctx, `document.getElementById("demo-hint").hidden`) {
		t.Error("the page shows the demo's controls for paddle")
	}
	run(t, ctx, "click Play", chromedp.Click(chromedp.ID("play")))
	start := time.Now()
	waitJS(t, ctx, `edgeplay.state === "playing" && edgeplay.framesDecoded >= 30`, 30*time.Second)
	t.Logf("30 frames of paddle %v after Play", time.Since(start).Round(time.Millisecond))
	if w, h := evalJS[int](t, ctx, `edgeplay.videoWidth`), evalJS[int](t, ctx, `edgeplay.videoHeight`); w == 0 || h == 0 {
		t.Fatalf("video %d×%d", w, h)
	}
	// The game asked for sound and the host agreed: the page has an audio track.
	waitJS(t, ctx, `edgeplay.audio?.track === true && edgeplay.audio.playing === true`, 5*time.Second)

	// Keys reach the game: the host's measure of input → frame (from the input seq the game
	// echoes) arrives in the media message and the overlay shows it.
	for range 5 {
		run(t, ctx, "press ArrowUp", chromedp.KeyEvent(kb.ArrowUp))
		time.Sleep(100 * time.Millisecond)
	}
	waitJS(t, ctx, `edgeplay.media?.input_ms > 0`, 10*time.Second)
	t.Logf("host input → frame: %.1f ms", evalJS[float64](t, ctx, `edgeplay.media.input_ms`))
	run(t, ctx, "press F2", chromedp.KeyEvent(kb.F2))
	waitJS(t, ctx, `!document.querySelector(".ep-stats").hidden`, 5*time.Second)
	waitJS(t, ctx, `/input→frame \(host\)\s*[0-9.]+ ms/.test(document.querySelector(".ep-stats").textContent)`, 5*time.Second)
	shot := screenshot(t, ctx)
	if path := os.Getenv("EDGEPLAY_SCREENSHOT_STUDIO"); path != "" {
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Errorf("write screenshot: %v", err)
		}
	}

	run(t, ctx, "click Stop", chromedp.Click(chromedp.ID("stop")))
	waitJS(t, ctx, `edgeplay.state === "ended"`, 5*time.Second)
	if got := evalJS[string](t, ctx, `edgeplay.endReason`); got != "player_left" {
		t.Errorf("endReason %q, want player_left", got)
	}
	waitFor(t, 10*time.Second, "the hosts free the slot", func() bool {
		for _, h := range a.Hosts() {
			if len(h.Sessions()) > 0 {
				return false
			}
		}
		return true
	})
	if text := bannerText(t, ctx); strings.Contains(text, "error") {
		t.Errorf("banner %q after Stop", text)
	}
}
