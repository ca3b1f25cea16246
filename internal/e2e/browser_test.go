package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"math"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pion/transport/v5/test"

	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/internal/testplayer"
)

// The web client in headless Chromium against the real system: the page from the gateway, the
// websocket, the matchmaker, a session host running the demo game with the real encoder, WebRTC
// over loopback, and Chromium's own H.264 decoder. window.edgeplay (web/player.js) is what the
// tests read; input goes in as real key events.

const (
	c2pPresses = 30                     // key presses for the click-to-photon measurement
	c2pSpacing = 100 * time.Millisecond // between presses, so that each is measured alone
)

// playerStats is the part of window.edgeplay.stats that the test prints.
type playerStats struct {
	FPS            *float64 `json:"fps"`
	BitrateKbps    *float64 `json:"bitrateKbps"`
	DecodeMs       *float64 `json:"decodeMs"`
	JitterBufferMs *float64 `json:"jitterBufferMs"`
	RTTMs          *float64 `json:"rttMs"`
	PacketLossPct  *float64 `json:"packetLossPct"`
	FramesDropped  *float64 `json:"framesDropped"`
	Codec          *string  `json:"codec"`
	Decoder        *string  `json:"decoder"`
}

func (s playerStats) String() string {
	f := func(v *float64, digits int, unit string) string {
		if v == nil {
			return "n/a"
		}
		return fmt.Sprintf("%.*f%s", digits, *v, unit)
	}
	str := func(v *string) string {
		if v == nil {
			return "n/a"
		}
		return *v
	}
	return fmt.Sprintf("fps=%s bitrate=%s decode=%s jitterBuffer=%s rtt=%s loss=%s dropped=%s codec=%s decoder=%s",
		f(s.FPS, 1, ""), f(s.BitrateKbps, 0, "kbit/s"), f(s.DecodeMs, 2, "ms"), f(s.JitterBufferMs, 1, "ms"),
		f(s.RTTMs, 2, "ms"), f(s.PacketLossPct, 2, "%"), f(s.FramesDropped, 0, ""), str(s.Codec), str(s.Decoder))
}

// percentile is the p-th percentile by the nearest-rank method, as web/stats.js computes it.
func percentile(values []float64, p float64) float64 {
	if len(values) == 0 {
		return math.NaN()
	}
	sorted := slices.Sorted(slices.Values(values))
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(len(sorted), max(1, rank))-1]
}

// TestBrowserPlay plays the demo game in Chromium: Play, decoded 1280×720 video carrying the
// latency marker, real key presses that the marker follows, a click-to-photon measurement
// (reported, not asserted), the stats, a screenshot, and Stop, after which the host frees the slot.
//
// EDGEPLAY_SCREENSHOT=path writes the screenshot there (PNG), e.g. for the README:
//
//	EDGEPLAY_SCREENSHOT=$PWD/docs/screenshot.png go test -run TestBrowserPlay ./internal/e2e/
func TestBrowserPlay(t *testing.T) {
	chromePath(t) // skip in -short mode before starting anything
	defer test.CheckRoutines(t)()
	a := startApp(t, appOpts{})
	defer func() { _ = a.Close(ctxFor(t, 10*time.Second)) }()
	ctx, closeBrowser := startBrowser(t)
	defer closeBrowser()
	host := a.Hosts()[0]

	// Play.
	run(t, ctx, "open the page", chromedp.Navigate(a.URL()+"/"))
	waitJS(t, ctx, `window.edgeplay?.state === "idle" && !document.getElementById("play").disabled`, jsTimeout)
	run(t, ctx, "click Play", chromedp.Click(chromedp.ID("play")))
	start := time.Now()
	waitJS(t, ctx, `edgeplay.state === "playing" && edgeplay.framesDecoded > 0`, 30*time.Second)
	t.Logf("first frame %v after Play", time.Since(start).Round(time.Millisecond))
	waitJS(t, ctx, `edgeplay.framesDecoded >= 60`, 20*time.Second)
	t.Logf("60 frames %v after Play", time.Since(start).Round(time.Millisecond))
	// The marker is readable (-1 means it is not) and 0: no input yet. Polled rather than read
	// once, so that one lossy frame does not fail the test; the later waits need it readable.
	waitJS(t, ctx, `edgeplay.lastMarker === 0`, 5*time.Second)

	type playing struct {
		State, Status, Host, SessionID string
		Frames, Width, Height          int
		PageStatus, PageState          string
		Stop, Play                     bool // disabled
	}
	info := evalJS[playing](t, ctx, `(e => ({State: e.state, Status: e.status, Host: e.host, SessionID: e.sessionId,
		Frames: e.framesDecoded, Width: e.videoWidth, Height: e.videoHeight,
		PageStatus: document.getElementById("status").textContent,
		PageState: document.getElementById("status").dataset.state,
		Stop: document.getElementById("stop").disabled, Play: document.getElementById("play").disabled,
	}))(window.edgeplay)`)
	t.Logf("playing: %+v", info)
	if info.Frames < 60 {
		t.Errorf("%d frames decoded, want at least 60", info.Frames)
	}
	if info.Width != 1280 || info.Height != 720 {
		// Loopback has no link to adapt to, but a busy machine delays packets enough for
		// the congestion controller to step down a rung for a while: wait for it to return.
		t.Logf("video %d×%d: waiting for 1280×720", info.Width, info.Height)
		waitJS(t, ctx, `edgeplay.videoWidth === 1280 && edgeplay.videoHeight === 720`, 20*time.Second)
	}
	if info.Host != "host-1" || info.SessionID == "" {
		t.Errorf("host %q, session %q: want host-1 and a session id", info.Host, info.SessionID)
	}
	if info.PageStatus != "playing" || info.PageState != "playing" || !info.Play || info.Stop {
		t.Errorf("page: status %q (%s), Play disabled %v, Stop disabled %v; want playing, Play off, Stop on",
			info.PageStatus, info.PageState, info.Play, info.Stop)
	}
	if ss := host.Sessions(); len(ss) != 1 || ss[0].ID != info.SessionID {
		t.Errorf("host sessions %+v, want the browser's %s", ss, info.SessionID)
	}

	// A real key press (Input.dispatchKeyEvent: key down, char, key up) reaches the page's
	// keydown/keyup listeners, goes out as two input messages, and the marker follows it.
	press := func(key, what string) int {
		t.Helper()
		before := evalJS[int](t, ctx, `edgeplay.lastSeq`)
		run(t, ctx, what, chromedp.KeyEvent(key))
		// The marker carries the low 16 bits of the last applied seq, here the key-up's.
		waitJS(t, ctx, fmt.Sprintf(`edgeplay.lastSeq === %d && edgeplay.lastMarker === (edgeplay.lastSeq & 0xffff)`, before+2), 5*time.Second)
		return before + 2
	}
	if seq := press(" ", "press Space"); seq != 2 {
		t.Errorf("after the first key press lastSeq = %d, want 2 (key down 1, key up 2)", seq)
	}
	waitJS(t, ctx, `edgeplay.samples.length === 1`, 2*time.Second)

	// A real click on the picture: the position (motion), then button down and up; the marker
	// follows, and the click captures the pointer.
	rect := evalJS[[]float64](t, ctx, `(r => [r.left, r.top, r.width, r.height])(document.querySelector("#player video").getBoundingClientRect())`)
	before := evalJS[int](t, ctx, `edgeplay.lastSeq`)
	run(t, ctx, "click the picture", chromedp.MouseClickXY(rect[0]+rect[2]/2, rect[1]+rect[3]/2))
	waitJS(t, ctx, fmt.Sprintf(`edgeplay.lastSeq === %d && edgeplay.lastMarker === (edgeplay.lastSeq & 0xffff) && edgeplay.samples.length === 2`, before+3), 5*time.Second)
	t.Logf("pointer locked after the click: %v", evalJS[bool](t, ctx, `document.pointerLockElement === document.querySelector("#player video")`))

	// Click-to-photon: key down → the first presented frame whose marker covers it.
	first := evalJS[int](t, ctx, `edgeplay.samples.length`)
	// The presses are spaced by c2pSpacing plus a step of 1/c2pPresses of a 60 fps frame, so
	// that together they sample every phase of the game's tick and of the display's refresh
	// (a spacing that is a multiple of the frame time would measure one phase 30 times).
	frame := time.Second / 60
	for i := range c2pPresses {
		pause := time.NewTimer(c2pSpacing + frame*time.Duration(i%c2pPresses)/c2pPresses)
		<-pause.C
		press(" ", fmt.Sprintf("key press %d", i+1))
	}
	samples := evalJS[[]float64](t, ctx, fmt.Sprintf(`edgeplay.samples.slice(%d)`, first))
	if len(samples) < 10 {
		t.Fatalf("%d click-to-photon samples from %d key presses, want at least 10", len(samples), c2pPresses)
	}
	p50, p95 := percentile(samples, 50), percentile(samples, 95)
	t.Logf("click→photon of %d key presses: p50=%.1fms p95=%.1fms min=%.1fms max=%.1fms n=%d", c2pPresses,
		p50, p95, slices.Min(samples), slices.Max(samples), len(samples))
	fmt.Printf("click-to-photon (headless chromium, loopback): p50=%.1fms p95=%.1fms n=%d\n", p50, p95, len(samples))

	// Stats: rates need two getStats samples, a second apart.
	waitJS(t, ctx, `edgeplay.stats.fps != null && edgeplay.stats.bitrateKbps != null`, 5*time.Second)
	st := evalJS[playerStats](t, ctx, `edgeplay.stats`)
	t.Logf("stats: %s", st)
	fmt.Printf("stats (headless chromium, loopback): %s\n", st)

	// Screenshot while playing, with the stats overlay (F2, which is not sent to the game).
	seq := evalJS[int](t, ctx, `edgeplay.lastSeq`)
	run(t, ctx, "press F2", chromedp.KeyEvent("\u0802"))
	waitJS(t, ctx, `!document.querySelector(".ep-stats").hidden && edgeplay.stats.c2pCount > 0`, 5*time.Second)
	if got := evalJS[int](t, ctx, `edgeplay.lastSeq`); got != seq {
		t.Errorf("F2 was sent to the game: lastSeq %d → %d", seq, got)
	}
	shot := screenshot(t, ctx)
	if path := os.Getenv("EDGEPLAY_SCREENSHOT"); path != "" {
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Errorf("write screenshot: %v", err)
		} else {
			t.Logf("screenshot written to %s", path)
		}
	}

	// Stop. The click above captured the pointer; a user presses Esc to free it, and only then
	// can click Stop.
	evalJS[any](t, ctx, `document.exitPointerLock()`)
	run(t, ctx, "click Stop", chromedp.Click(chromedp.ID("stop")))
	waitJS(t, ctx, `edgeplay.state === "ended"`, 5*time.Second)
	if got := evalJS[string](t, ctx, `edgeplay.endReason`); got != "player_left" {
		t.Errorf("endReason %q, want player_left", got)
	}
	if got := bannerText(t, ctx); got != "" {
		t.Errorf("banner %q after Stop, want none", got)
	}
	if evalJS[bool](t, ctx, `document.getElementById("play").disabled`) {
		t.Error("Play is disabled after Stop")
	}
	waitFor(t, 5*time.Second, "the host frees the slot", func() bool { return len(host.Sessions()) == 0 })

	closeBrowser()
	if err := a.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// screenshot captures the page as PNG and checks that it decodes.
func screenshot(t *testing.T, ctx context.Context) []byte {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, jsTimeout)
	defer cancel()
	shot, err := chromedp.Run(sctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	t.Logf("screenshot %d×%d, %d bytes", cfg.Width, cfg.Height, len(shot))
	return shot
}

// TestBrowserNoFreeHost fills the only slot with a Go player; the browser's Play then ends with
// the no_free_host error in the banner, and Play can be pressed again.
// TestBrowserQueue: with the only slot taken, the page shows the player's queue position, and
// when the slot frees the browser is placed and plays.
func TestBrowserQueue(t *testing.T) {
	chromePath(t)
	defer test.CheckRoutines(t)()
	a := startApp(t, appOpts{slots: 1})
	defer func() { _ = a.Close(ctxFor(t, 10*time.Second)) }()

	p, err := testplayer.Dial(ctxFor(t, 5*time.Second), a.URL(), testplayer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Play(ctxFor(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}

	ctx, closeBrowser := startBrowser(t)
	defer closeBrowser()
	run(t, ctx, "open the page", chromedp.Navigate(a.URL()+"/"))
	waitJS(t, ctx, `window.edgeplay?.state === "idle" && !document.getElementById("play").disabled`, jsTimeout)
	run(t, ctx, "click Play", chromedp.Click(chromedp.ID("play")))
	waitJS(t, ctx, `edgeplay.state === "queued" && edgeplay.queue?.position === 1`, 10*time.Second)
	if got := evalJS[string](t, ctx, `document.getElementById("status").textContent`); !strings.Contains(strings.ToLower(got), "queue") {
		t.Errorf("status %q, want it to show the queue", got)
	}
	if ss := a.Hosts()[0].Sessions(); len(ss) != 1 || ss[0].ID != p.Session {
		t.Errorf("host sessions %+v, want only the Go player's %s", ss, p.Session)
	}

	// The slot frees: the browser is placed and plays.
	if _, err := p.Leave(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	p.Close()
	waitJS(t, ctx, `edgeplay.state === "playing" && edgeplay.framesDecoded > 10`, 20*time.Second)

	closeBrowser()
	if err := a.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserDrain: a drained host's player sees a countdown banner while still playing, and
// a clear message when the deadline ends the session.
func TestBrowserDrain(t *testing.T) {
	chromePath(t)
	defer test.CheckRoutines(t)()
	const token = "test-admin-token"
	a := startApp(t, appOpts{mutate: func(c *app.Config) { c.Gateway.AdminToken = token }})
	defer func() { _ = a.Close(ctxFor(t, 10*time.Second)) }()

	ctx, closeBrowser := startBrowser(t)
	defer closeBrowser()
	run(t, ctx, "open the page", chromedp.Navigate(a.URL()+"/"))
	waitJS(t, ctx, `window.edgeplay?.state === "idle" && !document.getElementById("play").disabled`, jsTimeout)
	run(t, ctx, "click Play", chromedp.Click(chromedp.ID("play")))
	waitJS(t, ctx, `edgeplay.state === "playing" && edgeplay.framesDecoded > 10`, 20*time.Second)

	host := evalJS[string](t, ctx, `edgeplay.host`)
	if code, _ := adminPost(t, a, token, "/v1/admin/hosts/"+host+"/drain", `{"deadline":"4s","reason":"maintenance"}`); code != http.StatusOK {
		t.Fatalf("drain: %d", code)
	}
	waitJS(t, ctx, `edgeplay.drainDeadline !== null && document.getElementById("banner").textContent.includes("ends in 0:0")`, 5*time.Second)
	frames := evalJS[int](t, ctx, `edgeplay.framesDecoded`)
	waitJS(t, ctx, fmt.Sprintf(`edgeplay.framesDecoded > %d`, frames+30), 3*time.Second) // still playing
	waitJS(t, ctx, `edgeplay.state === "ended" && edgeplay.endReason === "drained"`, 10*time.Second)
	if got := bannerText(t, ctx); !strings.Contains(got, "taken out of service") {
		t.Errorf("banner after the deadline %q, want it to say the host was taken out of service", got)
	}
	closeBrowser()
	if err := a.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}
