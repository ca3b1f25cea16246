package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Headless Firefox ESR for the browser end-to-end tests, driven over WebDriver BiDi
// (https://w3c.github.io/webdriver-bidi/) by the small client below: no geckodriver, no npm.
// Only the commands the tests need: session.new, browsingContext.getTree,
// browsingContext.navigate, script.evaluate and browser.close. Values come back as JSON text
// (the page evaluates JSON.stringify), so BiDi's own value serialisation is read only for a
// string and undefined.

const (
	firefoxStartTimeout = 60 * time.Second // a fresh profile's cold start on a busy 2-core machine
	firefoxStopTimeout  = 10 * time.Second // browser.close until the process exits
	bidiTimeout         = 10 * time.Second // one BiDi command (evaluate, navigate)
	bidiPollInterval    = 25 * time.Millisecond
	firefoxMarkerEnv    = "EDGEPLAY_FIREFOX_PROFILE" // set for Firefox; every process it starts inherits it
)

// firefoxPath returns the Firefox to run. Like chromePath, it skips in -short mode and fails
// when there is none, so that `make test` (which installs firefox-esr) cannot pass without having
// played through Firefox. EDGEPLAY_FIREFOX overrides the search.
func firefoxPath(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("browser test: skipped in -short mode")
	}
	if p := os.Getenv("EDGEPLAY_FIREFOX"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/firefox-esr"); err == nil {
		return "/usr/bin/firefox-esr"
	}
	for _, name := range []string{"firefox-esr", "firefox"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	tb.Fatal("browser test: no Firefox found (apt-get install firefox-esr, which `make test` does, " +
		"or set EDGEPLAY_FIREFOX; -short skips the browser tests)")
	return ""
}

// firefoxPrefs is the fresh profile's user.js: a quiet, offline, fast start (the machines that
// run the tests have no internet; nothing may wait for Mozilla's services), BiDi only, and
// WebRTC that plays at once over loopback. The remote agent also applies its own recommended
// preferences (remote.prefs.recommended), which turn off most background traffic; these are the
// ones that matter here, stated so that they do not depend on that list.
const firefoxPrefs = `
user_pref("remote.active-protocols", 1);
user_pref("remote.prefs.recommended", true);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("browser.startup.page", 0);
user_pref("browser.aboutwelcome.enabled", false);
user_pref("browser.newtabpage.enabled", false);
user_pref("browser.tabs.warnOnClose", false);
user_pref("browser.sessionstore.resume_from_crash", false);
user_pref("toolkit.startup.max_resumed_crashes", -1);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("toolkit.telemetry.reporting", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("app.update.disabledForTesting", true);
user_pref("app.update.auto", false);
user_pref("app.normandy.enabled", false);
user_pref("app.shield.optoutstudies.enabled", false);
user_pref("messaging-system.rsexperimentloader.enabled", false);
user_pref("extensions.update.enabled", false);
user_pref("extensions.getAddons.cache.enabled", false);
user_pref("extensions.systemAddon.update.enabled", false);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("browser.safebrowsing.downloads.enabled", false);
user_pref("browser.safebrowsing.update.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("network.dns.disablePrefetch", true);
user_pref("network.prefetch-next", false);
user_pref("network.predictor.enabled", false);
user_pref("browser.region.network.url", "");
user_pref("geo.provider.network.url", "");
user_pref("media.gmp-manager.updateEnabled", false);
user_pref("media.gmp-manager.url", "");
user_pref("media.autoplay.default", 0);
user_pref("media.autoplay.blocking_policy", 0);
user_pref("media.navigator.permission.disabled", true);
user_pref("media.peerconnection.ice.loopback", true);
user_pref("media.peerconnection.ice.obfuscate_host_addresses", false);
`

// bidiListening is the line Firefox writes to stderr once the remote agent listens.
var bidiListening = regexp.MustCompile(`WebDriver BiDi listening on (ws://[^\s]+)`)

// firefox is one headless Firefox with one tab, driven over BiDi.
type firefox struct {
	t       testing.TB
	profile string        // the profile directory; also the value of firefoxMarkerEnv
	output  string        // file with Firefox's stdout and stderr
	cmd     *exec.Cmd     // the Firefox process, leader of its own process group
	exited  chan struct{} // closed once cmd.Wait returned
	bidi    *bidiConn     // nil until connected
	context string        // the tab's top-level browsing context id
	once    sync.Once
}

// startFirefox starts headless Firefox with a fresh profile, opens a BiDi session and finds the
// tab. Close the browser with ff.close (idempotent, also run at cleanup); defer it after a
// goroutine leak check, so that the client's reader is gone by the time the check runs.
func startFirefox(tb testing.TB) *firefox {
	tb.Helper()
	path := firefoxPath(tb)
	dir := tb.TempDir() // removed after ff.close, which is registered later (cleanups run LIFO)
	ff := &firefox{
		t:       tb,
		profile: filepath.Join(dir, "profile"),
		output:  filepath.Join(dir, "firefox.log"),
		exited:  make(chan struct{}),
	}
	home := filepath.Join(dir, "home") // Firefox also writes under $HOME (caches, crash reports)
	for _, d := range []string{ff.profile, home} {
		if err := os.Mkdir(d, 0o700); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(ff.profile, "user.js"), []byte(firefoxPrefs), 0o600); err != nil {
		tb.Fatal(err)
	}
	out, err := os.Create(ff.output)
	if err != nil {
		tb.Fatal(err)
	}
	defer out.Close() // Firefox has its own descriptor once started

	// A file rather than a pipe for the output: Firefox's children inherit it, and a pipe would
	// keep exec's copying goroutine (and cmd.Wait) alive for as long as any of them lives.
	ff.cmd = exec.Command(path, "--headless", "--no-remote", "--remote-debugging-port=0",
		"--window-size=1280,800", "-profile", ff.profile, "about:blank")
	ff.cmd.Stdout, ff.cmd.Stderr = out, out
	ff.cmd.Env = append(os.Environ(),
		"HOME="+home, "XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"MOZ_CRASHREPORTER_DISABLE=1", "MOZ_HEADLESS=1",
		firefoxMarkerEnv+"="+ff.profile)
	// Its own process group, so that close can kill Firefox and its children together; and
	// killed with the test binary should that die first.
	ff.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := ff.cmd.Start(); err != nil {
		tb.Fatalf("start firefox: %v", err)
	}
	go func() {
		_ = ff.cmd.Wait() // the exit status does not matter: close has killed it, or it failed
		close(ff.exited)
	}()
	tb.Cleanup(ff.close)

	fail := func(format string, args ...any) {
		tb.Helper()
		ff.close()
		tb.Fatalf(format+"; firefox output:\n%s", append(args, ff.outputText())...)
	}
	url, err := ff.waitListening(firefoxStartTimeout)
	if err != nil {
		fail("start firefox: %v", err)
	}
	// session.new waits for the first window: seconds on a busy machine.
	ctx, cancel := context.WithTimeout(context.Background(), firefoxStartTimeout)
	defer cancel()
	ff.bidi, err = dialBiDi(ctx, url+"/session")
	if err != nil {
		fail("connect to firefox: %v", err)
	}
	if _, err := ff.bidi.call(ctx, "session.new", map[string]any{"capabilities": map[string]any{}}); err != nil {
		fail("session.new: %v", err)
	}
	raw, err := ff.bidi.call(ctx, "browsingContext.getTree", map[string]any{"maxDepth": 0})
	if err != nil {
		fail("browsingContext.getTree: %v", err)
	}
	var tree struct {
		Contexts []struct {
			Context string `json:"context"`
		} `json:"contexts"`
	}
	if err := json.Unmarshal(raw, &tree); err != nil || len(tree.Contexts) == 0 {
		fail("browsingContext.getTree: no top-level context in %s (%v)", raw, err)
	}
	ff.context = tree.Contexts[0].Context
	return ff
}

// waitListening waits until Firefox says where BiDi listens, and returns that URL.
func (ff *firefox) waitListening(d time.Duration) (string, error) {
	deadline := time.Now().Add(d)
	for {
		if m := bidiListening.FindStringSubmatch(ff.outputText()); m != nil {
			return m[1], nil
		}
		select {
		case <-ff.exited:
			return "", fmt.Errorf("firefox exited before BiDi listened (%v)", ff.cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("BiDi not listening after %s", d)
		}
		time.Sleep(bidiPollInterval)
	}
}

// outputText is what Firefox has written so far.
func (ff *firefox) outputText() string {
	b, err := os.ReadFile(ff.output)
	if err != nil {
		return "(unavailable: " + err.Error() + ")"
	}
	return string(b)
}

// close closes the browser (browser.close), waits for it to exit, kills whatever is left of it,
// and checks that no process of it outlives the test.
func (ff *firefox) close() {
	ff.once.Do(func() {
		t := ff.t
		if ff.bidi != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			// Firefox answers and then drops the connection; either may come first.
			if _, err := ff.bidi.call(ctx, "browser.close", map[string]any{}); err != nil && !errors.Is(err, errBiDiClosed) {
				t.Logf("browser.close: %v", err)
			}
			cancel()
			ff.bidi.close()
		}
		select {
		case <-ff.exited:
		case <-time.After(firefoxStopTimeout):
			t.Errorf("firefox still running %s after browser.close (killed now)", firefoxStopTimeout)
			_ = syscall.Kill(-ff.cmd.Process.Pid, syscall.SIGKILL)
			<-ff.exited // SIGKILL: prompt; no output pipes to drain
		}
		// Children that left the process group (Firefox's crash helper does) are found by the
		// marker in their environment.
		if left := waitFirefoxGone(ff.profile, 5*time.Second); left > 0 {
			t.Errorf("%d firefox processes outlived the browser (killed now)", left)
		}
		if t.Failed() {
			if out := strings.TrimSpace(ff.outputText()); out != "" {
				t.Logf("firefox output:\n%s", out)
			}
		}
	})
}

// waitFirefoxGone waits until no process carries the marker of this profile, and kills the
// ones still there after d. It returns how many it had to kill.
func waitFirefoxGone(profile string, d time.Duration) int {
	deadline := time.Now().Add(d)
	for {
		pids := firefoxPIDs(profile)
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

// firefoxPIDs lists the processes whose environment has firefoxMarkerEnv=profile: the browser
// and every process it started, whatever their command line or process group. (Firefox's
// content processes do not name the profile on their command line, as Chromium's do.)
func firefoxPIDs(profile string) []int {
	want := []byte(firefoxMarkerEnv + "=" + profile)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		for kv := range bytes.SplitSeq(env, []byte{0}) {
			if bytes.Equal(kv, want) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// navigate opens url in the tab and waits until it has loaded.
func (ff *firefox) navigate(url string) {
	ff.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*bidiTimeout) // a first load on a busy machine
	defer cancel()
	if _, err := ff.bidi.call(ctx, "browsingContext.navigate", map[string]any{
		"context": ff.context, "url": url, "wait": "complete",
	}); err != nil {
		ff.t.Fatalf("navigate to %s: %v", url, err)
	}
}

// evalJSON evaluates the JavaScript expression expr in the tab, awaits it if it is a promise,
// and returns its value as JSON ("null" for undefined).
func (ff *firefox) evalJSON(ctx context.Context, expr string) (string, error) {
	raw, err := ff.bidi.call(ctx, "script.evaluate", map[string]any{
		"expression":      "(async () => JSON.stringify(await (" + expr + "\n)))()",
		"target":          map[string]any{"context": ff.context},
		"awaitPromise":    true,
		"resultOwnership": "none",
	})
	if err != nil {
		return "", err
	}
	var res struct {
		Type   string `json:"type"` // "success" or "exception"
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return "", fmt.Errorf("script.evaluate result %s: %w", raw, err)
	}
	switch {
	case res.Type == "exception":
		return "", fmt.Errorf("script exception: %s", res.ExceptionDetails.Text)
	case res.Result.Type == "undefined": // JSON.stringify(undefined)
		return "null", nil
	case res.Result.Type != "string":
		return "", fmt.Errorf("script.evaluate returned a %s, want the JSON string", res.Result.Type)
	}
	var s string
	if err := json.Unmarshal(res.Result.Value, &s); err != nil {
		return "", fmt.Errorf("script.evaluate value %s: %w", res.Result.Value, err)
	}
	return s, nil
}

// ffEval evaluates expr in Firefox's tab and decodes its value (as JSON) into T.
func ffEval[T any](ff *firefox, expr string) T {
	ff.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bidiTimeout)
	defer cancel()
	var v T
	s, err := ff.evalJSON(ctx, expr)
	if err == nil {
		err = json.Unmarshal([]byte(s), &v)
	}
	if err != nil {
		ff.t.Fatalf("evaluate %s: %v; edgeplay: %s", expr, err, ff.playerState())
	}
	return v
}

// wait polls expr in the tab until it is truthy. An expression that throws counts as false
// (e.g. edgeplay.stats.codec.toLowerCase() before the first stats); the last error is reported
// if the wait fails.
func (ff *firefox) wait(expr string, d time.Duration) {
	ff.t.Helper()
	deadline := time.Now().Add(d)
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), bidiTimeout)
		s, err := ff.evalJSON(ctx, "!!("+expr+"\n)")
		cancel()
		if err == nil && s == "true" {
			return
		}
		if err != nil {
			lastErr = err
			if errors.Is(err, errBiDiClosed) {
				break // Firefox is gone: no point waiting
			}
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(bidiPollInterval)
	}
	msg := fmt.Sprintf("waiting %s until %s", d, expr)
	if lastErr != nil {
		msg += fmt.Sprintf(" (last error: %v)", lastErr)
	}
	ff.t.Fatalf("%s; edgeplay: %s", msg, ff.playerState())
}

// playerState is window.edgeplay as JSON (without the samples), for failure messages.
func (ff *firefox) playerState() string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := ff.evalJSON(ctx, `{...window.edgeplay, samples: (window.edgeplay?.samples ?? []).length, sendKey: undefined}`)
	if err != nil {
		return "(unavailable: " + err.Error() + ")"
	}
	return s
}

// errBiDiClosed: the BiDi connection is closed (Firefox closed it or exited, or we did).
var errBiDiClosed = errors.New("bidi: connection closed")

// bidiMessage is any message from the remote end: a command's success or error (with the
// command's id), or an event (no id; none are subscribed to, so none are expected).
type bidiMessage struct {
	Type    string          `json:"type"` // "success", "error" or "event"
	ID      *int64          `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
}

// bidiConn is a WebDriver BiDi client connection. Its reader goroutine owns the connection's
// lifetime and hands each reply to the waiting call; writes are serialised by wmu.
type bidiConn struct {
	ws   *websocket.Conn
	done chan struct{} // closed when the reader has ended

	wmu sync.Mutex // serialises writes (gorilla/websocket allows one writer)

	mu      sync.Mutex
	nextID  int64                        // guarded by mu
	pending map[int64]chan<- bidiMessage // guarded by mu; calls waiting for their reply
	err     error                        // guarded by mu; why the reader ended
}

func dialBiDi(ctx context.Context, url string) (*bidiConn, error) {
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	c := &bidiConn{ws: ws, done: make(chan struct{}), pending: make(map[int64]chan<- bidiMessage)}
	go c.read()
	return c, nil
}

func (c *bidiConn) read() {
	defer close(c.done)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		var m bidiMessage
		if json.Unmarshal(data, &m) != nil || m.ID == nil {
			continue // an event, or an error about a message that had no id
		}
		c.mu.Lock()
		ch := c.pending[*m.ID]
		delete(c.pending, *m.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- m // buffered: never blocks
		}
	}
}

// call sends a command and waits for its reply; it returns the result, or the remote end's
// error as an error.
func (c *bidiConn) call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	ch := make(chan bidiMessage, 1)
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()

	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return nil, err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(bidiTimeout)
	}
	c.wmu.Lock()
	_ = c.ws.SetWriteDeadline(deadline)
	err = c.ws.WriteMessage(websocket.TextMessage, msg)
	c.wmu.Unlock()
	if err != nil {
		select {
		case <-c.done:
			return nil, fmt.Errorf("%s: %w (%w)", method, errBiDiClosed, err)
		default:
			return nil, fmt.Errorf("%s: %w", method, err)
		}
	}

	select {
	case m := <-ch:
		if m.Type == "error" {
			return nil, fmt.Errorf("%s: %s: %s", method, m.Error, m.Message)
		}
		return m.Result, nil
	case <-c.done:
		c.mu.Lock()
		err := c.err
		c.mu.Unlock()
		return nil, fmt.Errorf("%s: %w (%w)", method, errBiDiClosed, err)
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// close closes the connection and waits for the reader to end.
func (c *bidiConn) close() {
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	_ = c.ws.Close()
	<-c.done
}
