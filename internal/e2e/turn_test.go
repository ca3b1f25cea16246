package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgeplay/edgeplay/internal/app"
	"github.com/edgeplay/edgeplay/internal/netlab"
	"github.com/edgeplay/edgeplay/server"
)

// A player whose UDP is blocked plays through TURN over TCP.
//
// The lab's host namespace stands for the data center: the session host and a TURN server
// (`edgeplay turn`, the real binary) run there, side by side. A firewall rule in that
// namespace drops every UDP packet arriving over the lab link, so nothing the player (Chromium
// in the root namespace) sends over UDP gets in: not its ICE checks to the host, not its TURN
// requests over UDP. Each direct candidate pair needs a check answered in that direction, so
// none can succeed. TCP passes, so Chromium reaches the TURN server over TCP (the gateway hands
// out both turn:…?transport=udp and …?transport=tcp, as in production) and relays; the relay
// and the session host exchange UDP inside the data center. The test asserts that the browser's
// selected candidate pair is local relay over TCP to the host, that frames decode, that the
// firewall did drop UDP, and the TURN server's metrics for the relayed session.
func TestTURNRelayOverTCP(t *testing.T) {
	chromePath(t)
	lab := netlab.New(t, netlab.Options{})
	s := startLabSystem(t, lab, labHost{})
	const secret = "edgeplay-turn-lab-secret-0123456789"
	tr := startLabTURN(t, lab, secret)
	hp := net.JoinHostPort(lab.HostIP.String(), "3478")
	gw := startTURNGateway(t, s.app, server.TURNConfig{
		URLs:   []string{"turn:" + hp + "?transport=udp", "turn:" + hp + "?transport=tcp"},
		Secret: []byte(secret),
	})
	dropped := blockUDPIntoHost(t, lab)

	ctx, closeBrowser := startBrowser(t)
	defer closeBrowser()
	player := *s
	player.app = gw
	first := playInLab(t, ctx, &player)
	t.Logf("first frame %v after Play", first.Round(time.Millisecond))
	// Reported, not asserted: the host's pion agent (controlling) nominates no pair with a
	// relay candidate until 2 s after it started (pion's default RelayAcceptanceMinWait); it
	// shows between iceConnected and pcConnected.
	tctx, cancel := context.WithTimeout(ctx, jsTimeout)
	timeline, _ := chromedp.Run(tctx, chromedp.Evaluate[string](`JSON.stringify(edgeplay.timeline)`))
	cancel()
	t.Logf("timeline (ms after Play): %s", timeline)
	waitJS(t, ctx, `edgeplay.framesDecoded >= 120`, 30*time.Second)

	p := readSelectedPair(t, ctx)
	t.Logf("selected pair: %+v", p)
	if p.LocalType != "relay" || p.RelayProtocol != "tcp" {
		t.Errorf("the selected pair's local candidate is %q over %q, want relay over tcp", p.LocalType, p.RelayProtocol)
	}
	if p.RemoteAddress != lab.HostIP.String() {
		t.Errorf("the selected pair's remote candidate is %s, want the host %s", p.RemoteAddress, lab.HostIP)
	}
	if n := dropped(); n == 0 {
		t.Error("the firewall dropped no UDP: the player's direct path was never tried, the block proves nothing")
	} else {
		t.Logf("the firewall dropped %d UDP packets from the player's side", n)
	}
	m := tr.metrics(t)
	for _, want := range []string{
		`edgeplay_turn_allocations_total{transport="tcp"}`,
		`edgeplay_turn_relayed_sessions_total`,
		`edgeplay_turn_relayed_bytes_total{direction="from_peer"}`,
	} {
		if m[want] < 1 {
			t.Errorf("TURN metric %s = %v, want ≥ 1", want, m[want])
		}
	}
	if m[`edgeplay_turn_allocations_total{transport="udp"}`] != 0 {
		t.Errorf("the TURN server made %v allocations over UDP, which the firewall blocks", m[`edgeplay_turn_allocations_total{transport="udp"}`])
	}
	t.Logf("TURN relayed %.0f bytes to the player and %.0f to the host",
		m[`edgeplay_turn_relayed_bytes_total{direction="from_peer"}`], m[`edgeplay_turn_relayed_bytes_total{direction="to_peer"}`])
}

// labTURN is `edgeplay turn` running in the lab's host namespace.
type labTURN struct {
	metricsURL string
}

// startLabTURN runs `edgeplay turn` in the host namespace on HostIP:3478 (UDP and TCP), its
// relays on HostIP too (where the session host reaches them), and waits until it listens.
func startLabTURN(tb testing.TB, lab *netlab.Lab, secret string) *labTURN {
	tb.Helper()
	host := lab.HostIP.String()
	metricsAddr := net.JoinHostPort(host, "9464")
	cmd := lab.Command(context.Background(), edgeplayBinary(tb), "turn",
		"--turn-addr", net.JoinHostPort(host, "3478"), "--turn-public-ip", host,
		"--metrics-addr", metricsAddr, "--log-level", "debug")
	cmd.Env = append(os.Environ(), "EDGEPLAY_TURN_SECRET="+secret)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start edgeplay turn: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if tb.Failed() || os.Getenv("EDGEPLAY_TEST_LOG") == "debug" {
			tb.Logf("edgeplay turn output (without pion's own lines):\n%s", tail(withoutPion(out.String()), 200))
		}
		if strings.Contains(out.String(), secret) {
			tb.Error("edgeplay turn logged its secret")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(host, "3478"), time.Second)
		if err == nil {
			_ = c.Close()
			break
		}
		select {
		case <-done:
			tb.Fatalf("edgeplay turn exited: %v\n%s", cmd.ProcessState, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("edgeplay turn did not listen within 30 s\n%s", out.String())
		}
	}
	return &labTURN{metricsURL: "http://" + metricsAddr + "/metrics"}
}

var metricLine = regexp.MustCompile(`^(edgeplay_turn_[a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$`)

// metrics reads the TURN server's edgeplay_turn_… samples, by name with labels.
func (l *labTURN) metrics(tb testing.TB) map[string]float64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.metricsURL, nil)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("TURN metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("TURN metrics: %v", err)
	}
	out := map[string]float64{}
	for line := range strings.SplitSeq(string(body), "\n") {
		if m := metricLine.FindStringSubmatch(line); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			out[m[1]] = v
		}
	}
	return out
}

// startTURNGateway starts a second gateway on the lab system's NATS (a replica, as a data
// center runs several) that hands placed players the TURN servers in tc.
func startTURNGateway(tb testing.TB, sys *app.App, tc server.TURNConfig) *app.App {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	gw, err := app.Start(ctx, app.Config{
		NATSURL: sys.NATSURL(), GatewayAddr: "127.0.0.1:0", Logger: testLogger(),
		Gateway: server.Config{TURN: tc},
	})
	if err != nil {
		tb.Fatalf("start the TURN gateway: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = gw.Close(ctx)
	})
	return gw
}

// blockUDPIntoHost installs the firewall: every UDP packet that enters the host namespace over
// the lab link is dropped (and counted) before anything else sees it. The rule lives in the
// lab's namespace and goes with it. It returns a function that reads the drop counter.
func blockUDPIntoHost(tb testing.TB, lab *netlab.Lab) func() int {
	tb.Helper()
	const rules = `table inet edgeplay_turn_test {
	counter udp_dropped {}
	chain in { type filter hook prerouting priority raw; policy accept;
		iifname "` + netlab.HostInterface + `" meta l4proto udp counter name "udp_dropped" drop; }
}
`
	nft := func(stdin string, args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := lab.Command(ctx, "nft", args...)
		cmd.Stdin = strings.NewReader(stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			tb.Fatalf("nft %s: %v: %s", strings.Join(args, " "), err, stderr.String())
		}
		return stdout.String()
	}
	nft(rules, "-f", "-")
	return func() int {
		var out struct {
			Nftables []struct {
				Counter *struct {
					Packets int `json:"packets"`
				} `json:"counter"`
			} `json:"nftables"`
		}
		s := nft("", "-j", "list", "counter", "inet", "edgeplay_turn_test", "udp_dropped")
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			tb.Fatalf("nft counter: %v: %s", err, s)
		}
		for _, o := range out.Nftables {
			if o.Counter != nil {
				return o.Counter.Packets
			}
		}
		tb.Fatalf("nft counter: none in %s", s)
		return 0
	}
}

// selectedPair is the browser's selected ICE candidate pair (getStats).
type selectedPair struct {
	State         string `json:"state"`
	LocalType     string `json:"localType"`
	RelayProtocol string `json:"relayProtocol"`
	LocalAddress  string `json:"localAddress"`
	RemoteType    string `json:"remoteType"`
	RemoteAddress string `json:"remoteAddress"`
	RemotePort    int    `json:"remotePort"`
	URL           string `json:"url"`
}

// readSelectedPair reads the first peer connection's selected candidate pair: the transport's
// selectedCandidatePairId, or else the nominated pair that succeeded.
func readSelectedPair(tb testing.TB, ctx context.Context) selectedPair {
	tb.Helper()
	const js = `(async () => {
		const pc = (window.__pcs || [])[0];
		if (!pc) return "{}";
		const r = await pc.getStats();
		const byId = {};
		let pairId = null, nominated = null;
		r.forEach(s => {
			byId[s.id] = s;
			if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
			if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") nominated = s.id;
		});
		const pair = byId[pairId || nominated];
		if (!pair) return "{}";
		const l = byId[pair.localCandidateId] || {}, rm = byId[pair.remoteCandidateId] || {};
		return JSON.stringify({state: pair.state, localType: l.candidateType, relayProtocol: l.relayProtocol || "",
			localAddress: l.address, remoteType: rm.candidateType, remoteAddress: rm.address, remotePort: rm.port,
			url: l.url || ""});
	})()`
	ctx2, cancel := context.WithTimeout(ctx, jsTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx2, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.Fatalf("getStats: %v", err)
	}
	var p selectedPair
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		tb.Fatalf("getStats: %v: %s", err, s)
	}
	return p
}
