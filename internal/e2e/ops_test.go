package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pion/transport/v5/test"

	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/internal/testplayer"
)

// TestBrowserOps drives the ops page (web/ops.html) in headless Chromium against the real
// system: a refused token, the login, the hosts and sessions tables, drain and undrain from the
// page, a kick, and the live event feed. With EDGEPLAY_OPS_SCREENSHOT=file.png it writes a
// screenshot of the page with data.
func TestBrowserOps(t *testing.T) {
	chromePath(t)
	defer test.CheckRoutines(t)()
	const token = "ops-token"
	a := startApp(t, appOpts{hosts: 2, mutate: func(c *app.Config) { c.Gateway.AdminToken = token }})
	defer func() { _ = a.Close(ctxFor(t, 10*time.Second)) }()

	ctx, closeBrowser := startBrowser(t)
	defer closeBrowser()
	run(t, ctx, "open the ops page", chromedp.Navigate(a.URL()+"/ops"))
	waitJS(t, ctx, `window.edgeplayOps !== undefined && !document.getElementById("login-form").hidden`, jsTimeout)

	// setInput sets an input's value, as typing would (the page reads it at the click).
	setInput := func(sel, v string) {
		t.Helper()
		if !evalJS[bool](t, ctx, fmt.Sprintf(`(el => !!el && (el.value = %q, true))(document.querySelector(%q))`, v, sel)) {
			t.Fatalf("no %s", sel)
		}
	}
	login := func(tok string) {
		t.Helper()
		setInput("#token", "")
		run(t, ctx, "log in",
			chromedp.SendKeys(chromedp.ID("token"), tok),
			chromedp.Click(chromedp.ID("login")))
	}

	// A wrong token is refused, and the login stays.
	login("not-the-token")
	waitJS(t, ctx, `edgeplayOps.error === "the admin token was refused" && !edgeplayOps.loggedIn`, 5*time.Second)
	if msg := evalJS[string](t, ctx, `document.getElementById("message").textContent`); !strings.Contains(msg, "the admin token was refused") {
		t.Errorf("message after a wrong token %q", msg)
	}
	if evalJS[bool](t, ctx, `document.getElementById("login-form").hidden`) {
		t.Error("the login form is hidden after a wrong token")
	}

	login(token)
	waitJS(t, ctx, `edgeplayOps.loggedIn && edgeplayOps.hosts.length === 2 && edgeplayOps.error === null`, 5*time.Second)
	waitJS(t, ctx, `document.querySelectorAll("tr[data-host]").length === 2 && edgeplayOps.streaming`, 5*time.Second)
	if got := evalJS[string](t, ctx, `sessionStorage.getItem("edgeplay.adminToken")`); got != token {
		t.Errorf("sessionStorage token %q", got)
	}

	// Drain host-1 from the page: it has no session, so it is drained at once.
	host1 := `tr[data-host="host-1"]`
	setInput(host1+` input[data-field="deadline"]`, "1m")
	setInput(host1+` input[data-field="reason"]`, "ops test")
	run(t, ctx, "drain host-1",
		chromedp.Click(chromedp.CSS(host1+` button[data-action="drain"]`)))
	waitJS(t, ctx, `edgeplayOps.hosts.find(h => h.id === "host-1")?.state === "drained" &&
		document.querySelector('tr[data-host="host-1"]').textContent.includes("drained")`, 5*time.Second)

	// A player now goes to host-2; the page lists the session and kicks it.
	p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Play(ctxFor(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}
	if p.Host != "host-2" {
		t.Errorf("player placed on %s while host-1 is drained", p.Host)
	}
	waitJS(t, ctx, `edgeplayOps.sessions.some(s => s.host === "host-2" && s.state === "playing") &&
		document.querySelectorAll("tr[data-session]").length === 1`, 5*time.Second)
	waitJS(t, ctx, `edgeplayOps.events.some(e => e.kind === "placed")`, 5*time.Second)
	if path := os.Getenv("EDGEPLAY_OPS_SCREENSHOT"); path != "" {
		time.Sleep(2500 * time.Millisecond) // a poll with the session's rates
		if err := os.WriteFile(path, screenshot(t, ctx), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, ctx, "kick the session", chromedp.Click(chromedp.CSS(`tr[data-session] button[data-action="kick"]`)))
	waitJS(t, ctx, `edgeplayOps.sessions.length === 0 && document.querySelectorAll("tr[data-session]").length === 0`, 5*time.Second)
	waitJS(t, ctx, `edgeplayOps.events.some(e => e.kind === "ended" && e.reason === "kicked")`, 5*time.Second)

	// Undrain: back in service.
	run(t, ctx, "undrain host-1", chromedp.Click(chromedp.CSS(host1+` button[data-action="undrain"]`)))
	waitJS(t, ctx, `edgeplayOps.hosts.find(h => h.id === "host-1")?.state === "ready" &&
		document.querySelector('tr[data-host="host-1"]').textContent.includes("ready")`, 5*time.Second)

	// The feed saw the drain, newest first.
	waitJS(t, ctx, `edgeplayOps.events.some(e => e.kind === "host_draining" && e.host === "host-1")`, 5*time.Second)
	if n := evalJS[int](t, ctx, `edgeplayOps.events.length`); n > 100 {
		t.Errorf("%d events kept, want at most 100", n)
	}
	if msg := evalJS[string](t, ctx, `edgeplayOps.error ?? ""`); msg != "" {
		t.Errorf("error line %q at the end", msg)
	}

	// An API error shows in the message line: a bad deadline.
	setInput(host1+` input[data-field="deadline"]`, "forever")
	run(t, ctx, "drain with a bad deadline",
		chromedp.Click(chromedp.CSS(host1+` button[data-action="drain"]`)))
	waitJS(t, ctx, `(edgeplayOps.error ?? "").includes("bad_field") && !document.getElementById("message").hidden`, 5*time.Second)
	if st := evalJS[string](t, ctx, `edgeplayOps.hosts.find(h => h.id === "host-1").state`); st != "ready" {
		t.Errorf("host-1 %s after a refused drain", st)
	}

	// The token is kept for the tab: a reload logs in again; Log out forgets it.
	run(t, ctx, "reload", chromedp.Reload())
	waitJS(t, ctx, `window.edgeplayOps?.loggedIn && edgeplayOps.hosts.length === 2`, 5*time.Second)
	run(t, ctx, "log out", chromedp.Click(chromedp.ID("logout")))
	waitJS(t, ctx, `!edgeplayOps.loggedIn && !document.getElementById("login-form").hidden &&
		sessionStorage.getItem("edgeplay.adminToken") === null`, 5*time.Second)

	p.Close()
	closeBrowser()
	if err := a.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserOpsAdminDisabled: on a gateway without an admin token the page says that the admin
// API is off.
func TestBrowserOpsAdminDisabled(t *testing.T) {
	chromePath(t)
	defer test.CheckRoutines(t)()
	a := startApp(t, appOpts{})
	defer func() { _ = a.Close(ctxFor(t, 10*time.Second)) }()

	ctx, closeBrowser := startBrowser(t)
	defer closeBrowser()
	run(t, ctx, "open the ops page", chromedp.Navigate(a.URL()+"/ops"))
	waitJS(t, ctx, `window.edgeplayOps !== undefined && !document.getElementById("login-form").hidden`, jsTimeout)
	run(t, ctx, "log in",
		chromedp.SendKeys(chromedp.ID("token"), "any-token"),
		chromedp.Click(chromedp.ID("login")))
	waitJS(t, ctx, `(edgeplayOps.error ?? "").includes("admin API is off") && !edgeplayOps.loggedIn &&
		!document.getElementById("message").hidden`, 5*time.Second)

	closeBrowser()
	if err := a.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}
