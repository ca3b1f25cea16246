package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pion/transport/v5/test"

	"github.com/edgeplay/edgeplay/internal/app"
)

// TestOpsStudios drives the ops page's Studios panel in headless Chromium: a studio created
// through the form, its API key shown once and working, another key added, one revoked, a
// refused create shown in the message line, and the studio deleted (after a declined confirm).
func TestOpsStudios(t *testing.T) {
	chromePath(t)
	defer test.CheckRoutines(t)()
	const token = "ops-token"
	a := startApp(t, appOpts{mutate: func(c *app.Config) { c.Gateway.AdminToken = token }})
	defer func() { _ = a.Close(ctxFor(t, 10*time.Second)) }()

	ctx, closeBrowser := startBrowser(t)
	defer closeBrowser()
	run(t, ctx, "open the ops page", chromedp.Navigate(a.URL()+"/ops"))
	waitJS(t, ctx, `window.edgeplayOps !== undefined && !document.getElementById("login-form").hidden`, jsTimeout)
	run(t, ctx, "log in",
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("login")))
	waitJS(t, ctx, `edgeplayOps.loggedIn && edgeplayOps.error === null && edgeplayOps.studios.length === 0 &&
		!document.getElementById("studios-empty").hidden`, 5*time.Second)

	setInput := func(sel, v string) {
		t.Helper()
		if !evalJS[bool](t, ctx, fmt.Sprintf(`(el => !!el && (el.value = %q, true))(document.querySelector(%q))`, v, sel)) {
			t.Fatalf("no %s", sel)
		}
	}
	// mint has the studio's backend mint a join token with key; it returns the HTTP status.
	mint := func(key string) int {
		t.Helper()
		code, _ := adminPost(t, a, key, "/v1/studio/tokens", `{"game":"demo","player_id":"p1"}`)
		return code
	}
	shownKey := func(not string) string {
		t.Helper()
		waitJS(t, ctx, fmt.Sprintf(`!document.getElementById("new-key").hidden &&
			document.getElementById("new-key-value").textContent.startsWith("ep_live_") &&
			document.getElementById("new-key-value").textContent !== %q`, not), 5*time.Second)
		return evalJS[string](t, ctx, `document.getElementById("new-key-value").textContent`)
	}
	// answerConfirm makes the page's next confirm() answer ok, and records its question.
	answerConfirm := func(ok bool) {
		t.Helper()
		evalJS[bool](t, ctx, fmt.Sprintf(`(window.confirm = (q) => (window.asked = q, %t), true)`, ok))
	}
	row := `tr[data-studio]`

	// Create a studio through the form; its key is shown once and mints a join token.
	setInput("#studio-name", "Acme Games")
	setInput("#studio-games", "demo, paddle")
	setInput("#studio-origins", "https://play.acme.example")
	setInput("#studio-max-sessions", "5")
	run(t, ctx, "create a studio", chromedp.Click(chromedp.ID("studio-create")))
	waitJS(t, ctx, `edgeplayOps.studios.length === 1 && document.querySelectorAll("tr[data-studio]").length === 1`, 5*time.Second)
	key1 := shownKey("")
	id := evalJS[string](t, ctx, `edgeplayOps.studios[0].id`)
	text := evalJS[string](t, ctx, `document.querySelector("tr[data-studio]").textContent`)
	for _, want := range []string{id, "Acme Games", "demo, paddle", "5", "no limit", "https://play.acme.example"} {
		if !strings.Contains(text, want) {
			t.Errorf("studio row %q lacks %q", text, want)
		}
	}
	if name := evalJS[string](t, ctx, `document.getElementById("studio-name").value`); name != "" {
		t.Errorf("the form keeps name %q after the create", name)
	}
	if code := mint(key1); code != http.StatusOK {
		t.Fatalf("mint with the page's key: HTTP %d", code)
	}
	key1ID := evalJS[string](t, ctx, `edgeplayOps.studios[0].keys[0].id`)
	if !strings.HasPrefix(key1, "ep_live_"+key1ID+"_") {
		t.Errorf("shown key %.20s… is not key %s", key1, key1ID)
	}
	run(t, ctx, "dismiss the key", chromedp.Click(chromedp.ID("new-key-dismiss")))
	waitJS(t, ctx, `document.getElementById("new-key").hidden && document.getElementById("new-key-value").textContent === ""`, 5*time.Second)

	// Add a key: shown the same way, and it works too.
	run(t, ctx, "add a key", chromedp.Click(chromedp.CSS(row+` button[data-action="add-key"]`)))
	key2 := shownKey(key1)
	waitJS(t, ctx, `edgeplayOps.studios[0]?.keys.length === 2 && document.querySelectorAll("tr[data-studio] [data-key]").length === 2`, 5*time.Second)
	if code := mint(key2); code != http.StatusOK {
		t.Fatalf("mint with the added key: HTTP %d", code)
	}

	// Revoke the first key: it mints no more; the second still does.
	answerConfirm(true)
	run(t, ctx, "revoke the first key",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`%s [data-key=%q] button[data-action="revoke"]`, row, key1ID))))
	waitJS(t, ctx, fmt.Sprintf(`edgeplayOps.studios[0]?.keys.length === 1 && edgeplayOps.studios[0].keys[0].id !== %q &&
		document.querySelectorAll("tr[data-studio] [data-key]").length === 1`, key1ID), 5*time.Second)
	if q := evalJS[string](t, ctx, `window.asked`); !strings.Contains(q, key1ID) {
		t.Errorf("revoke asked %q", q)
	}
	if code := mint(key1); code != http.StatusUnauthorized {
		t.Errorf("mint with the revoked key: HTTP %d, want 401", code)
	}
	if code := mint(key2); code != http.StatusOK {
		t.Errorf("mint with the kept key: HTTP %d", code)
	}

	// A refused create shows the API's error, and adds nothing.
	setInput("#studio-name", "Bad Origins")
	setInput("#studio-origins", "https://a.example/path")
	run(t, ctx, "create a studio with a bad origin", chromedp.Click(chromedp.ID("studio-create")))
	waitJS(t, ctx, `(edgeplayOps.error ?? "").includes("bad_field") && !document.getElementById("message").hidden`, 5*time.Second)
	if n := evalJS[int](t, ctx, `edgeplayOps.studios.length`); n != 1 {
		t.Errorf("%d studios after a refused create", n)
	}

	// Delete: a declined confirm keeps the studio; an accepted one deletes it.
	answerConfirm(false)
	run(t, ctx, "decline the delete", chromedp.Click(chromedp.CSS(row+` button[data-action="delete"]`)))
	waitJS(t, ctx, fmt.Sprintf(`(window.asked ?? "").includes(%q) && (window.asked ?? "").startsWith("Delete")`, id), 5*time.Second)
	run(t, ctx, "refresh", chromedp.Click(chromedp.ID("studios-refresh")))
	time.Sleep(300 * time.Millisecond)
	if n := evalJS[int](t, ctx, `edgeplayOps.studios.length`); n != 1 {
		t.Fatalf("%d studios after a declined delete", n)
	}
	answerConfirm(true)
	run(t, ctx, "delete the studio", chromedp.Click(chromedp.CSS(row+` button[data-action="delete"]`)))
	waitJS(t, ctx, `edgeplayOps.studios.length === 0 && document.querySelectorAll("tr[data-studio]").length === 0 &&
		!document.getElementById("studios-empty").hidden && document.getElementById("studios-count").textContent === "0"`, 5*time.Second)
	if code := mint(key2); code != http.StatusUnauthorized {
		t.Errorf("mint with a deleted studio's key: HTTP %d, want 401", code)
	}
	if msg := evalJS[string](t, ctx, `document.getElementById("message").textContent`); !strings.Contains(msg, "deleted") {
		t.Errorf("message after the delete %q", msg)
	}

	closeBrowser()
	if err := a.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}
