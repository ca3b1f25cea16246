package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Headless Chromium for the browser end-to-end tests. web/browser_test.go drives the same page
// against a fake gateway; these tests drive it against the real system.

const (
	chromeStartTimeout = 30 * time.Second // cold start on a busy 2-core machine
	chromeStopTimeout  = 10 * time.Second
	jsTimeout          = 10 * time.Second // one evaluate, click or key press
)

// chromePath returns the Chromium to run. The browser tests are skipped in -short mode; without
// -short a missing Chromium fails them, so that `make test` (which installs it) cannot pass
// without having played through a real browser. EDGEPLAY_CHROME overrides the search.
func chromePath(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("browser test: skipped in -short mode")
	}
	if p := os.Getenv("EDGEPLAY_CHROME"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	tb.Fatal("browser test: no Chromium found (apt-get install chromium, which `make test` does, " +
		"or set EDGEPLAY_CHROME; -short skips the browser tests)")
	return ""
}

// lockedBuffer collects Chromium's output; the browser's output goroutine writes while the test
// may read.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer // guarded by mu
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startBrowser starts headless Chromium with one tab (1280×800) and returns the tab's context
// and a function that closes the browser and waits until every Chromium process is gone. The
// close function is idempotent and also runs at cleanup; call it with defer before a goroutine
// leak check so that chromedp's goroutines are gone by then.
func startBrowser(tb testing.TB) (context.Context, func()) {
	tb.Helper()
	dataDir := tb.TempDir() // a fresh profile; cleanups run last-in first-out, so it outlives the browser
	var output lockedBuffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromePath(tb)),
		chromedp.UserDataDir(dataDir),
		chromedp.NoSandbox, // we run as root in CI containers
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-component-update", true),
		// WebRTC over loopback with plain host candidates (no mDNS names), as the session host
		// offers them on 127.0.0.1.
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,WebRtcHideLocalIpsWithMdns"),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.CombinedOutput(&output),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)

	var (
		once sync.Once
		up   atomic.Bool // the browser started
	)
	closeBrowser := func() {
		once.Do(func() {
			// Close gracefully (Browser.close), so that Chromium ends its own children; then
			// cancel, which kills what is left and waits for the process and chromedp.
			// Only a started browser: when the start failed, chromedp.Cancel and cancelTab
			// would each wait for chromedp's one-token allocation semaphore, and the second
			// would block forever (chromedp v0.23.0).
			if up.Load() {
				cctx, cancel := context.WithTimeout(ctx, chromeStopTimeout)
				if err := chromedp.Cancel(cctx); err != nil && !errors.Is(err, context.Canceled) {
					tb.Logf("closing chromium: %v", err)
				}
				cancel()
			}
			cancelTab()
			cancelAlloc()
			if left := waitChromeGone(dataDir, 5*time.Second); left > 0 {
				tb.Errorf("%d chromium processes outlived the browser (killed now)", left)
			}
			if tb.Failed() {
				if out := strings.TrimSpace(output.String()); out != "" {
					tb.Logf("chromium output:\n%s", out)
				}
			}
		})
	}
	tb.Cleanup(closeBrowser)

	// The first action starts the browser. It must not run under a timeout context (chromedp
	// would kill the browser when that ends), so the deadline is kept here.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			closeBrowser()
			tb.Fatalf("start chromium: %v", err)
		}
		up.Store(true)
	case <-time.After(chromeStartTimeout):
		closeBrowser()
		<-started
		tb.Fatalf("chromium did not start within %s", chromeStartTimeout)
	}
	// New headless mode takes part of the window for (invisible) browser UI; fix the viewport
	// itself, so that the page and its screenshot are 1280×800.
	run(tb, ctx, "set the viewport", chromedp.EmulateViewport(1280, 800))
	return ctx, closeBrowser
}

// waitChromeGone waits until no process runs with dataDir as its profile, and kills the ones
// still there after d. It returns how many it had to kill.
func waitChromeGone(dataDir string, d time.Duration) int {
	deadline := time.Now().Add(d)
	for {
		pids := chromePIDs(dataDir)
		if len(pids) == 0 {
			return 0
		}
		if time.Now().After(deadline) {
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			return len(pids)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// chromePIDs lists the processes started with --user-data-dir=dataDir (Chromium passes it to
// every child it starts).
func chromePIDs(dataDir string) []int {
	want := []byte("--user-data-dir=" + dataDir)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		for arg := range bytes.SplitSeq(cmdline, []byte{0}) {
			if bytes.Equal(arg, want) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// run runs browser actions with a deadline.
func run(tb testing.TB, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(ctx, jsTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.Fatalf("%s: %v; edgeplay: %s", what, err, playerState(ctx))
	}
}

// evalJS evaluates expr in the page and decodes its value (JSON) into T.
func evalJS[T any](tb testing.TB, ctx context.Context, expr string) T {
	tb.Helper()
	ctx, cancel := context.WithTimeout(ctx, jsTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS polls expr in the page (once per animation frame) until it is truthy.
func waitJS(tb testing.TB, ctx context.Context, expr string, d time.Duration) {
	tb.Helper()
	pctx, cancel := context.WithTimeout(ctx, d+time.Second)
	defer cancel()
	if _, err := chromedp.Run(pctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(d))); err != nil {
		tb.Fatalf("waiting %s until %s: %v; edgeplay: %s", d, expr, err, playerState(ctx))
	}
}

// playerState is window.edgeplay as JSON (without the samples), for failure messages.
func playerState(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`JSON.stringify({...window.edgeplay, samples: (window.edgeplay?.samples ?? []).length, sendKey: undefined})`))
	if err != nil {
		return "(unavailable: " + err.Error() + ")"
	}
	return s
}

// bannerText is the page's banner, or "" when it is hidden.
func bannerText(tb testing.TB, ctx context.Context) string {
	tb.Helper()
	return evalJS[string](tb, ctx, `(b => b.hidden ? "" : b.textContent)(document.getElementById("banner"))`)
}
