package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/internal/netlab"
)

// The network lab tests: a session host runs as the real edgeplay binary in a network
// namespace (internal/netlab) behind a shaped link, NATS, the matchmaker and the gateway run in
// this process, and headless Chromium plays over the link.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// edgeplayBinary builds cmd/edgeplay once per test process, as it is built for production
// (without -race: the race detector slows the game and the encoder's Go side several times,
// which the lab's frame-rate checks would measure instead of the network). TestMain removes it.
func edgeplayBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "edgeplay-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "edgeplay")
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/edgeplay")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/edgeplay: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}

// TestMain removes the binary edgeplayBinary built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// labSystem is the system of a lab test: NATS, matchmaker and gateway here, one host in the
// lab's namespace.
type labSystem struct {
	lab  *netlab.Lab
	app  *app.App
	host *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
}

// labHost says how the host process runs.
type labHost struct {
	udp      string   // --udp; default ":19443"
	publicIP string   // --public-ip; empty: none
	extra    []string // more flags
}

// startLabSystem starts the roles: NATS on the lab link's player-side address (the host
// reaches it there), the gateway on loopback (the browser's page), the host in the lab.
func startLabSystem(tb testing.TB, lab *netlab.Lab, h labHost) *labSystem {
	tb.Helper()
	bin := edgeplayBinary(tb)
	cfg := app.Config{
		GatewayAddr: "127.0.0.1:0", Matchmaker: true, Logger: testLogger(),
		NATSHost: lab.PlayerIP.String(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := app.Start(ctx, cfg)
	if err != nil {
		tb.Fatalf("start: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Close(ctx)
	})
	_, port, err := net.SplitHostPort(strings.TrimPrefix(a.NATSURL(), "nats://"))
	if err != nil {
		tb.Fatalf("nats url %q: %v", a.NATSURL(), err)
	}
	if h.udp == "" {
		h.udp = ":19443"
	}
	args := []string{
		"host", "--nats-no-auth", "--nats", "nats://" + net.JoinHostPort(lab.PlayerIP.String(), port),
		"--id", "lab-host", "--region", "local", "--slots", "1", "--udp", h.udp, "--log-level", "debug",
	}
	if h.publicIP != "" {
		args = append(args, "--public-ip", h.publicIP)
	}
	args = append(args, h.extra...)
	s := &labSystem{lab: lab, app: a, out: &lockedBuffer{}, done: make(chan struct{})}
	s.host = lab.Command(context.Background(), bin, args...)
	s.host.Stdout, s.host.Stderr = s.out, s.out
	if err := s.host.Start(); err != nil {
		tb.Fatalf("start host: %v", err)
	}
	go func() { _ = s.host.Wait(); close(s.done) }()
	tb.Cleanup(func() {
		_ = s.host.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			_ = s.host.Process.Kill()
			<-s.done
		}
		if tb.Failed() || os.Getenv("EDGEPLAY_TEST_LOG") == "debug" {
			tb.Logf("host output (without pion's own lines):\n%s", tail(withoutPion(s.out.String()), 300))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for len(a.Matchmaker().Hosts()) == 0 {
		select {
		case <-s.done:
			tb.Fatalf("the host exited: %v\n%s", s.host.ProcessState, s.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the host did not register within 30 s\n%s", s.out.String())
		}
	}
	return s
}

// withoutPion drops pion's debug lines from a host's log.
func withoutPion(s string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(s, "\n") {
		if !strings.Contains(line, " pion=") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// hookPeerConnections makes the page keep its RTCPeerConnections in window.__pcs, so that a
// test can read getStats() without the player exposing its internals.
func hookPeerConnections(tb testing.TB, ctx context.Context) {
	tb.Helper()
	const js = `(() => {
		const Orig = window.RTCPeerConnection;
		window.__pcs = [];
		window.RTCPeerConnection = function (...args) { const pc = new Orig(...args); window.__pcs.push(pc); return pc; };
		window.RTCPeerConnection.prototype = Orig.prototype;
		Object.setPrototypeOf(window.RTCPeerConnection, Orig);
	})();`
	run(tb, ctx, "hook RTCPeerConnection", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: js})
		return chromedp.Void{}, err
	})
}

// videoStats is the browser's inbound-rtp report of the video (getStats), with the selected
// candidate pair's remote address.
type videoStats struct {
	FramesDecoded        float64 `json:"framesDecoded"`
	FramesPerSecond      float64 `json:"framesPerSecond"`
	FreezeCount          float64 `json:"freezeCount"`
	TotalFreezesDuration float64 `json:"totalFreezesDuration"`
	FrameWidth           float64 `json:"frameWidth"`
	FrameHeight          float64 `json:"frameHeight"`
	PacketsLost          float64 `json:"packetsLost"`
	PacketsReceived      float64 `json:"packetsReceived"`
	NackCount            float64 `json:"nackCount"`
	PliCount             float64 `json:"pliCount"`
	KeyFramesDecoded     float64 `json:"keyFramesDecoded"`
	BytesReceived        float64 `json:"bytesReceived"`
	Retransmitted        float64 `json:"retransmittedPacketsReceived"`
	FramesDropped        float64 `json:"framesDropped"`
	TotalDecodeTime      float64 `json:"totalDecodeTime"` // s
	Codec                string  `json:"codec"`
	Remote               string  `json:"remote"`
	At                   float64 `json:"at"` // performance.now(), ms
}

func (v videoStats) String() string {
	return fmt.Sprintf("%.0fx%.0f %s fps=%.0f decoded=%.0f freezes=%.0f (%.2fs) lost=%.0f nack=%.0f pli=%.0f keyframes=%.0f rtx=%.0f",
		v.FrameWidth, v.FrameHeight, v.Codec, v.FramesPerSecond, v.FramesDecoded, v.FreezeCount, v.TotalFreezesDuration,
		v.PacketsLost, v.NackCount, v.PliCount, v.KeyFramesDecoded, v.Retransmitted)
}

// readVideoStats reads the first peer connection's video stats.
func readVideoStats(tb testing.TB, ctx context.Context) videoStats {
	tb.Helper()
	const js = `(async () => {
		const pc = (window.__pcs || [])[0];
		if (!pc) return "{}";
		const r = await pc.getStats();
		let v = {}, codecs = {}, pair = null, remotes = {};
		r.forEach(s => {
			if (s.type === "inbound-rtp" && s.kind === "video") v = s;
			if (s.type === "codec") codecs[s.id] = s.mimeType;
			if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pair = s;
			if (s.type === "remote-candidate") remotes[s.id] = s.address + ":" + s.port;
		});
		return JSON.stringify({...v, codec: codecs[v.codecId] || "", remote: pair ? remotes[pair.remoteCandidateId] : "",
			at: performance.now()});
	})()`
	ctx2, cancel := context.WithTimeout(ctx, jsTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx2, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.Fatalf("getStats: %v", err)
	}
	var v videoStats
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		tb.Fatalf("getStats: %v: %s", err, s)
	}
	return v
}

// playInLab opens the page, clicks Play and waits for the first frame.
func playInLab(tb testing.TB, ctx context.Context, s *labSystem) time.Duration {
	tb.Helper()
	hookPeerConnections(tb, ctx)
	run(tb, ctx, "open the page", chromedp.Navigate(s.app.URL()+"/"))
	waitJS(tb, ctx, `window.edgeplay?.state === "idle" && !document.getElementById("play").disabled`, jsTimeout)
	run(tb, ctx, "click Play", chromedp.Click(chromedp.ID("play")))
	start := time.Now()
	waitJS(tb, ctx, `edgeplay.state === "playing" && edgeplay.framesDecoded > 0`, 30*time.Second)
	return time.Since(start)
}

// window is what the browser decoded between two stats reads.
type window struct {
	from, to videoStats
}

func (w window) fps() float64 {
	return (w.to.FramesDecoded - w.from.FramesDecoded) / ((w.to.At - w.from.At) / 1000)
}

func (w window) frozen() float64 { return w.to.TotalFreezesDuration - w.from.TotalFreezesDuration }

// sampleFor reads the stats every second for d and returns the samples.
func sampleFor(tb testing.TB, ctx context.Context, d time.Duration) []videoStats {
	tb.Helper()
	var out []videoStats
	end := time.Now().Add(d)
	for {
		out = append(out, readVideoStats(tb, ctx))
		if time.Now().After(end) {
			return out
		}
		time.Sleep(time.Second)
	}
}
