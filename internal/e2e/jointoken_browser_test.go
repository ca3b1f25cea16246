package e2e

import (
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The built-in page on a gateway that requires join tokens: without one, Play ends at once
// with token_required; with ?token= (minted by the studio's backend), the page plays the
// token's game without naming it.
func TestBrowserJoinToken(t *testing.T) {
	chromePath(t)
	a, _, key := tokenApp(t, true)
	ctx, closeBrowser := startBrowser(t)
	defer closeBrowser()

	run(t, ctx, "open the page", chromedp.Navigate(a.URL()+"/"))
	waitJS(t, ctx, `window.edgeplay?.state === "idle" && !document.getElementById("play").disabled`, jsTimeout)
	run(t, ctx, "click Play", chromedp.Click(chromedp.ID("play")))
	waitJS(t, ctx, `edgeplay.state === "ended"`, 10*time.Second)
	if got := evalJS[string](t, ctx, `edgeplay.endReason`); got != "token_required" {
		t.Errorf("without a token: endReason %q, want token_required", got)
	}

	tok := mintToken(t, a, key, `{"game":"demo","player_id":"browser-1"}`)
	run(t, ctx, "open the page with the token", chromedp.Navigate(a.URL()+"/?token="+url.QueryEscape(tok)))
	waitJS(t, ctx, `window.edgeplay?.state === "idle" && !document.getElementById("play").disabled`, jsTimeout)
	run(t, ctx, "click Play", chromedp.Click(chromedp.ID("play")))
	waitJS(t, ctx, `edgeplay.state === "playing" && edgeplay.framesDecoded >= 30`, 30*time.Second)
	run(t, ctx, "click Stop", chromedp.Click(chromedp.ID("stop")))
	waitJS(t, ctx, `edgeplay.state === "ended"`, 5*time.Second)

	// The same token again (a reload and Play): used.
	run(t, ctx, "Play again", chromedp.Click(chromedp.ID("play")))
	waitJS(t, ctx, `edgeplay.state === "ended" && edgeplay.endReason !== "player_left"`, 10*time.Second)
	if got := evalJS[string](t, ctx, `edgeplay.endReason`); got != "token_used" {
		t.Errorf("the token twice: endReason %q, want token_used", got)
	}
}
