package e2e

import (
	"bufio"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// startStudio builds and runs the example studio (examples/studio) against gateway with the
// studio's API key, on localhost (another origin than the gateway's 127.0.0.1), and returns
// its page's URL.
func startStudio(t *testing.T, gateway, key string) string {
	t.Helper()
	bin := t.TempDir() + "/studio"
	build := exec.CommandContext(ctxFor(t, 2*time.Minute), "go", "build", "-o", bin, "./examples/studio")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/studio: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--gateway", gateway, "--game", "demo", "--addr", "localhost:0")
	cmd.Env = append(cmd.Environ(), "EDGEPLAY_STUDIO_KEY="+key)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "studio page: "); ok {
				line <- u
			}
		}
	}()
	select {
	case u := <-line:
		// It listens on 127.0.0.1 or [::1] as "localhost" resolves; the page's origin is
		// http://localhost:PORT either way.
		return "http://localhost:" + u[strings.LastIndexByte(u, ':')+1:]
	case <-time.After(30 * time.Second):
		t.Fatal("the example studio did not start")
		return ""
	}
}

// setOrigins sets a studio's allowed origins through the admin API.
func setOrigins(t *testing.T, base, admin, studioID string, origins ...string) {
	t.Helper()
	body := `{"origins":["` + strings.Join(origins, `","`) + `"]}`
	req, err := http.NewRequestWithContext(ctxFor(t, 10*time.Second), http.MethodPatch, base+"/v1/admin/studios/"+studioID, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("set origins: %d", resp.StatusCode)
	}
}

// What a studio sees (issue 11): the example studio's page, on its own origin, gets a token
// from its backend and plays in the <edgeplay-player> the gateway serves from another
// origin, the element's events in order; the same page on an origin the studio does not list
// is refused (origin_not_allowed).
func TestBrowserEmbeddedPlayer(t *testing.T) {
	chromePath(t)
	a, studioID, key := tokenApp(t, true)
	page := startStudio(t, a.URL(), key)
	setOrigins(t, a.URL(), "test-admin-token", studioID, page)
	other := startStudio(t, a.URL(), key) // same page, an origin not on the list
	ctx, closeBrowser := startBrowser(t)
	defer closeBrowser()

	player := `document.getElementById("player")`
	run(t, ctx, "open the studio's page", chromedp.Navigate(page))
	waitJS(t, ctx, player+`.info?.state === "idle"`, jsTimeout)
	run(t, ctx, "click Play", chromedp.Click(chromedp.ID("play")))
	waitJS(t, ctx, player+`.info.state === "playing" && `+player+`.info.framesDecoded >= 30`, 30*time.Second)
	waitJS(t, ctx, `window.events.includes("stats")`, 5*time.Second)
	run(t, ctx, "click Stop", chromedp.Click(chromedp.ID("stop")))
	waitJS(t, ctx, `window.events.includes("ended")`, 5*time.Second)
	events := evalJS[[]string](t, ctx, `window.events.filter((e, i, a) => e !== "stats" || a[i-1] !== "stats")`)
	if got := strings.Join(events, " "); got != "placed playing stats ended" {
		t.Errorf("the element's events: %q, want placed, playing, stats, ended", got)
	}
	// Play again: a new token from the backend, a new session.
	run(t, ctx, "click Play again", chromedp.Click(chromedp.ID("play")))
	waitJS(t, ctx, player+`.info.state === "playing" && `+player+`.info.framesDecoded >= 10`, 30*time.Second)
	run(t, ctx, "click Stop", chromedp.Click(chromedp.ID("stop")))

	run(t, ctx, "open the page on an origin the studio does not list", chromedp.Navigate(other))
	waitJS(t, ctx, player+`.info?.state === "idle"`, jsTimeout)
	run(t, ctx, "click Play", chromedp.Click(chromedp.ID("play")))
	waitJS(t, ctx, `window.events.includes("ended")`, 10*time.Second)
	if got := strings.Join(evalJS[[]string](t, ctx, `window.events`), " "); got != "error:origin_not_allowed ended" {
		t.Errorf("from an origin not on the list: events %q, want error:origin_not_allowed ended", got)
	}
}
