package e2e

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgeplay/edgeplay/internal/netlab"
)

// Benchmarks of issue 8 (docs/BENCHMARKS.md, "Real networks"): chromium playing edgeplay in
// the network lab over shaped links, and Play → first frame on loopback. The same link
// scenarios, run on a browser-to-browser call, are in reference_bench_test.go. Each scenario
// runs once; they need root (the lab) and chromium:
//
//	go test -run '^$' -bench '^BenchmarkPlayFirstFrame$' -benchtime 1x ./internal/e2e/
//	go test -run '^$' -bench '^BenchmarkLab(Edgeplay|Reference)$' -benchtime 1x -timeout 180m ./internal/e2e/
//
// Environment: EDGEPLAY_BENCH_SECONDS, the measured time of each link scenario after its first
// 5 s (default 30); EDGEPLAY_BENCH_MAXLOAD, the 1-minute load average to wait for (at most 3
// minutes) before each scenario (default 1.5); EDGEPLAY_BENCH_PLAYS, the plays of
// BenchmarkPlayFirstFrame (default 20); EDGEPLAY_BENCH_LOGDIR, a directory for the edgeplay
// host's log of each scenario; EDGEPLAY_BENCH_REFERENCE_CODEC, the reference's codec (H264 or
// VP8).

// benchWarmup is the start of a call that the link scenarios leave out of their figures.
const benchWarmup = 5 * time.Second

// linkScenario is a link between sender and receiver: a rate limit towards the receiver and the
// same random UDP loss both ways.
type linkScenario struct {
	kbit, lossPermille int
}

var linkScenarios = []linkScenario{
	{1500, 0}, {1500, 20}, {2500, 0}, {2500, 20}, {5000, 0}, {5000, 20}, {20000, 0}, {20000, 20},
}

func (s linkScenario) String() string {
	return fmt.Sprintf("%gMbit_%g%%loss", float64(s.kbit)/1000, float64(s.lossPermille)/10)
}

// call is a video call under measurement. Its receiving tab keeps the receiving
// RTCPeerConnection in window.__pcs[0], so readVideoStats reads it.
type call struct {
	rx     context.Context             // the receiving tab
	sender func(testing.TB) senderView // the sender's own view, read now
	// hostLog is the edgeplay host's output (nil for the reference): its "video rate" lines
	// give what the page does not see.
	hostLog func() string
}

// senderView is what the sender reports about itself.
type senderView struct {
	TargetKbps   float64 // the encoder's bit rate
	EstimateKbps float64 // the congestion controller's estimate of the link
	RTX          float64 // retransmissions sent, since the start
	Keyframes    float64 // keyframes sent, since the start
	// Reference only (zero for edgeplay): frames captured from the canvas and encoded, and what
	// held the encoder back (qualityLimitationDurations, seconds since the start; libwebrtc
	// counts its QP-based quality scaler as "bandwidth").
	SourceFrames       float64
	FramesEncoded      float64
	EncodeSeconds      float64 // totalEncodeTime
	LimitedBandwidth   float64
	LimitedCPU         float64
	EncoderDescription string
	At                 float64 // performance.now() of the sender, ms; 0 for edgeplay
}

// startCall starts a call over lab and returns once the receiver has decoded a frame.
type startCall func(tb testing.TB, lab *netlab.Lab) call

// startEdgeplayCall plays edgeplay: the host in the lab, chromium in the root namespace.
func startEdgeplayCall(tb testing.TB, lab *netlab.Lab) call {
	tb.Helper()
	s := startLabSystem(tb, lab, labHost{})
	ctx, _ := startBrowser(tb) // closed at cleanup, before the host and the lab
	playInLab(tb, ctx, s)
	return call{
		rx: ctx,
		sender: func(tb testing.TB) senderView {
			tb.Helper()
			m := evalJS[struct {
				Target    float64 `json:"target_kbps"`
				Estimate  float64 `json:"estimate_kbps"`
				RTX       float64 `json:"rtx_packets"`
				Keyframes float64 `json:"keyframes"`
			}](tb, ctx, `window.edgeplay.media ?? {}`)
			return senderView{TargetKbps: m.Target, EstimateKbps: m.Estimate, RTX: m.RTX, Keyframes: m.Keyframes}
		},
		hostLog: s.out.String,
	}
}

func BenchmarkLabEdgeplay(b *testing.B) { benchLab(b, "edgeplay", startEdgeplayCall) }

// benchLab runs every link scenario and step on calls that start, and prints the tables.
func benchLab(b *testing.B, system string, start startCall) {
	b.Helper()
	chromePath(b)
	var links []linkResult
	for _, sc := range linkScenarios {
		b.Run(sc.String(), func(b *testing.B) {
			load := waitQuiet(b)
			cpu := startCPUMeter()
			lab := netlab.New(b, netlab.Options{})
			shape(b, lab, netlab.ToPlayer, netlab.Shape{RateKbit: sc.kbit, LossPermille: sc.lossPermille})
			shape(b, lab, netlab.ToHost, netlab.Shape{LossPermille: sc.lossPermille})
			c := start(b, lab)
			r := measureLink(b, lab, c, benchDuration())
			r.scenario, r.load = sc, machineLoad(load, cpu)
			r.report(b)
			b.Logf("%s %v: %s", system, sc, r.series)
			saveHostLog(b, sc.String(), c)
			links = append(links, r)
		})
	}
	var steps []stepResult
	for _, st := range linkSteps {
		b.Run(st.name, func(b *testing.B) {
			load := waitQuiet(b)
			cpu := startCPUMeter()
			lab := netlab.New(b, netlab.Options{})
			shape(b, lab, netlab.ToPlayer, netlab.Shape{RateKbit: st.from})
			c := start(b, lab)
			r := measureStep(b, lab, c, st)
			r.load = machineLoad(load, cpu)
			r.report(b)
			b.Logf("%s %s: %s", system, st.name, r.series)
			saveHostLog(b, st.name, c)
			steps = append(steps, r)
		})
	}
	printLinkTable(system, links)
	printStepTable(system, steps)
}

// saveHostLog writes the edgeplay host's log of a scenario, without pion's lines, to
// $EDGEPLAY_BENCH_LOGDIR/edgeplay-NAME.log when that variable is set.
func saveHostLog(tb testing.TB, name string, c call) {
	tb.Helper()
	dir := os.Getenv("EDGEPLAY_BENCH_LOGDIR")
	if dir == "" || c.hostLog == nil {
		return
	}
	path := filepath.Join(dir, "edgeplay-"+name+".log")
	if err := os.WriteFile(path, []byte(withoutPion(c.hostLog())), 0o644); err != nil {
		tb.Errorf("save the host log: %v", err)
	}
}

// linkResult is what one link scenario measured after the warm-up.
type linkResult struct {
	scenario          linkScenario
	load              string      // machineLoad
	secs              float64     // measured time, by the receiver's clock
	fps               float64     // frames decoded per second
	freezes, frozen   float64     // chromium's freezeCount and totalFreezesDuration (s)
	heights           map[int]int // samples by decoded height
	rxKbps            float64     // median of the per-second received bit rate (RTP payload)
	linkKbps          float64     // everything that passed the link's rate limiter, per second
	queueDrops        uint64      // dropped by the full queue towards the receiver
	lost, nacks, plis float64
	keyframes         float64 // decoded
	rxDropped         float64 // frames the receiver dropped (framesDropped)
	decodeMs          float64 // the receiver's mean decode time per frame
	codec             string
	target, estimate  float64 // medians, kbit/s
	rtx               float64 // retransmissions sent
	sentFPS           float64 // frames the sender encoded per second
	senderNote        string
	series            string // per second from the first frame: height, received, target, estimate
}

// measureLink samples a call once a second for the warm-up and d, and computes the figures of
// the time after the warm-up.
func measureLink(tb testing.TB, lab *netlab.Lab, c call, d time.Duration) linkResult {
	tb.Helper()
	type sample struct {
		rx videoStats
		tx senderView
	}
	var (
		samples  []sample
		link0    netlab.LinkStats
		logFrom  int
		first    = time.Now()
		measured = 0 // index of the first sample after the warm-up
	)
	for next := first; ; next = next.Add(time.Second) {
		time.Sleep(time.Until(next))
		if measured == 0 && time.Since(first) >= benchWarmup {
			measured = len(samples)
			link0 = linkStats(tb, lab)
			if c.hostLog != nil {
				logFrom = len(c.hostLog())
			}
		}
		samples = append(samples, sample{readVideoStats(tb, c.rx), c.sender(tb)})
		if time.Since(first) >= benchWarmup+d {
			break
		}
	}
	link1 := linkStats(tb, lab)
	from, to := samples[measured], samples[len(samples)-1]
	w := window{from.rx, to.rx}
	r := linkResult{
		secs: (to.rx.At - from.rx.At) / 1000, fps: w.fps(), frozen: w.frozen(),
		freezes:    to.rx.FreezeCount - from.rx.FreezeCount,
		lost:       to.rx.PacketsLost - from.rx.PacketsLost,
		nacks:      to.rx.NackCount - from.rx.NackCount,
		plis:       to.rx.PliCount - from.rx.PliCount,
		keyframes:  to.rx.KeyFramesDecoded - from.rx.KeyFramesDecoded,
		rxDropped:  to.rx.FramesDropped - from.rx.FramesDropped,
		decodeMs:   1000 * (to.rx.TotalDecodeTime - from.rx.TotalDecodeTime) / (to.rx.FramesDecoded - from.rx.FramesDecoded),
		codec:      strings.TrimPrefix(to.rx.Codec, "video/"),
		rtx:        to.tx.RTX - from.tx.RTX,
		queueDrops: link1.QueueDrops - link0.QueueDrops,
		heights:    map[int]int{},
	}
	r.linkKbps = float64(link1.Bytes-link0.Bytes) * 8 / 1000 / r.secs
	var kbps, targets, estimates []float64
	var series strings.Builder
	for i, s := range samples {
		k := 0.0
		if i > 0 {
			k = rateKbps(samples[i-1].rx, s.rx)
		}
		fmt.Fprintf(&series, " %.0f/%.0f/%.0f/%.0f", s.rx.FrameHeight, k, s.tx.TargetKbps, s.tx.EstimateKbps)
		if i <= measured {
			continue
		}
		kbps = append(kbps, k)
		targets, estimates = append(targets, s.tx.TargetKbps), append(estimates, s.tx.EstimateKbps)
		r.heights[int(s.rx.FrameHeight)]++
	}
	r.series = "each second from the first frame, height/received/target/estimate kbit/s:" + series.String()
	r.rxKbps, r.target, r.estimate = percentile(kbps, 50), percentile(targets, 50), percentile(estimates, 50)
	if c.hostLog != nil {
		r.sentFPS, r.senderNote = hostLogSummary(c.hostLog()[logFrom:])
	} else {
		txSecs := (to.tx.At - from.tx.At) / 1000
		r.sentFPS = (to.tx.FramesEncoded - from.tx.FramesEncoded) / txSecs
		r.senderNote = fmt.Sprintf("canvas %.1f fps, encoding %.1f ms/frame; limited by bandwidth %.0f%%, CPU %.0f%% of the time; %s",
			(to.tx.SourceFrames-from.tx.SourceFrames)/txSecs,
			1000*(to.tx.EncodeSeconds-from.tx.EncodeSeconds)/(to.tx.FramesEncoded-from.tx.FramesEncoded),
			100*(to.tx.LimitedBandwidth-from.tx.LimitedBandwidth)/txSecs, 100*(to.tx.LimitedCPU-from.tx.LimitedCPU)/txSecs,
			to.tx.EncoderDescription)
	}
	return r
}

// rateKbps is the received bit rate (RTP payload) between two stats reads.
func rateKbps(from, to videoStats) float64 {
	if to.At <= from.At {
		return 0
	}
	return (to.BytesReceived - from.BytesReceived) * 8 / (to.At - from.At)
}

func (r linkResult) report(b *testing.B) {
	b.Helper()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(r.fps, "fps")
	b.ReportMetric(r.freezes, "freezes")
	b.ReportMetric(r.frozen, "frozen-s")
	b.ReportMetric(r.rxKbps, "rx-kbit/s")
	b.ReportMetric(r.linkKbps, "link-kbit/s")
	b.ReportMetric(float64(medianHeight(r.heights)), "height")
	b.ReportMetric(r.lost, "lost")
	b.ReportMetric(r.nacks, "nacks")
	b.ReportMetric(r.plis, "plis")
	b.ReportMetric(r.keyframes, "keyframes")
	b.ReportMetric(r.target, "target-kbit/s")
	b.ReportMetric(r.estimate, "estimate-kbit/s")
	b.ReportMetric(r.rtx, "rtx")
}

// medianHeight is the median frame height of a histogram of heights.
func medianHeight(h map[int]int) int {
	n := 0
	for _, c := range h {
		n += c
	}
	seen := 0
	for _, height := range slices.Sorted(maps.Keys(h)) {
		if seen += h[height]; 2*seen >= n {
			return height
		}
	}
	return 0
}

// heightShares is a histogram of heights as shares of the time, tallest first: "720p 80%, 540p 20%".
func heightShares(h map[int]int) string {
	n := 0
	for _, c := range h {
		n += c
	}
	var parts []string
	for _, height := range slices.Backward(slices.Sorted(maps.Keys(h))) {
		parts = append(parts, fmt.Sprintf("%dp %.0f%%", height, 100*float64(h[height])/float64(n)))
	}
	return strings.Join(parts, ", ")
}

func printLinkTable(system string, rs []linkResult) {
	if len(rs) == 0 {
		return
	}
	fmt.Printf("\n%s, link scenarios (%.0f s each after the first %.0f s):\n\n",
		system, rs[0].secs, benchWarmup.Seconds())
	fmt.Println("| link | loss | fps | freezes | frozen s | decoded height (share of time) | rx kbit/s (median) | link kbit/s | queue drops | lost | NACKs | PLIs | keyframes | receiver dropped / decode ms | target / estimate kbit/s | RTX sent | sent fps | codec | sender | machine |")
	fmt.Println("|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---|---|---|")
	for _, r := range rs {
		fmt.Printf("| %g Mbit/s | %g %% | %.1f | %.0f | %.2f | %s | %.0f | %.0f | %d | %.0f | %.0f | %.0f | %.0f | %.0f / %.1f | %.0f / %.0f | %.0f | %.1f | %s | %s | %s |\n",
			float64(r.scenario.kbit)/1000, float64(r.scenario.lossPermille)/10, r.fps, r.freezes, r.frozen,
			heightShares(r.heights), r.rxKbps, r.linkKbps, r.queueDrops, r.lost, r.nacks, r.plis, r.keyframes,
			r.rxDropped, r.decodeMs, r.target, r.estimate, r.rtx, r.sentFPS, r.codec, r.senderNote, r.load)
	}
}

// hostLogSummary reads the edgeplay host's "video rate" lines (one a second): the median of
// the frames encoded per second, and frames skipped, pacer drops and the largest pacer delay
// over those lines.
func hostLogSummary(log string) (fps float64, note string) {
	var (
		fpss        []float64
		first, last map[string]string
		maxPacer    time.Duration
	)
	for line := range strings.SplitSeq(log, "\n") {
		if !strings.Contains(line, `msg="video rate"`) {
			continue
		}
		kv := logFields(line)
		if first == nil {
			first = kv
		}
		last = kv
		if v, err := strconv.ParseFloat(kv["fps"], 64); err == nil {
			fpss = append(fpss, v)
		}
		if d, err := time.ParseDuration(kv["pacer_delay"]); err == nil {
			maxPacer = max(maxPacer, d)
		}
	}
	if first == nil {
		return 0, "no video rate lines"
	}
	num := func(kv map[string]string, k string) float64 { v, _ := strconv.ParseFloat(kv[k], 64); return v }
	skipped := num(last, "skipped") - num(first, "skipped")
	dropped := num(last, "pacer_dropped") - num(first, "pacer_dropped")
	return percentile(fpss, 50), fmt.Sprintf("skipped %.0f frames, pacer dropped %.0f, pacer delay ≤ %v",
		skipped, dropped, maxPacer.Round(time.Millisecond))
}

// logFields parses the key=value pairs of a slog text line (values may be quoted).
func logFields(line string) map[string]string {
	kv := map[string]string{}
	for line != "" {
		line = strings.TrimLeft(line, " ")
		k, rest, ok := strings.Cut(line, "=")
		if !ok {
			break
		}
		var v string
		if strings.HasPrefix(rest, `"`) {
			if q, err := strconv.QuotedPrefix(rest); err == nil {
				v, _ = strconv.Unquote(q)
				rest = rest[len(q):]
			}
		} else {
			v, rest, _ = strings.Cut(rest, " ")
		}
		kv[k], line = v, rest
	}
	return kv
}

// linkStep is a change of the link's rate towards the receiver in the middle of a call.
type linkStep struct {
	name     string
	from, to int // kbit/s
}

var linkSteps = []linkStep{{"step_20_to_2.5Mbit", 20000, 2500}, {"step_2.5_to_20Mbit", 2500, 20000}}

func (s linkStep) down() bool { return s.to < s.from }

// stepResult is what a step of the link rate did to a call.
type stepResult struct {
	step linkStep
	load string // machineLoad
	// When the video was smooth after the step (the start of the first 1 s with two halves
	// at ≥ 50 fps each and no freeze), in s; -1 if never within the measured time.
	smoothAgain float64
	// Step up: when the receiver decoded 1280×720 again, and when the received bit rate
	// (1 s windows) first reached 90 % of its final value; s after the step, -1 if never.
	to720, to90 float64
	// The received bit rate (kbit/s, 1 s windows): the median of the 5 s before the step, and
	// the final value, the median of the last 10 s.
	before, after             float64
	heightBefore, heightAfter float64
	freezes, frozen           float64 // from the step to the end of the measurement
	minFPS                    float64 // lowest fps of a 1 s window after the step
	secs                      float64 // measured after the step
	series                    string
	reached720                bool // step down: the call reached 1280×720 before the step
}

const (
	stepSample   = 250 * time.Millisecond
	smoothFPS    = 50
	stepDownTime = 15 * time.Second // measured after a step down
	stepUpTime   = 60 * time.Second // after a step up, or EDGEPLAY_BENCH_SECONDS if longer
)

// sampleEvery reads the receiver's stats every period for d.
func sampleEvery(tb testing.TB, ctx context.Context, period, d time.Duration) []videoStats {
	tb.Helper()
	var out []videoStats
	start := time.Now()
	for next := start; time.Since(start) <= d; next = next.Add(period) {
		time.Sleep(time.Until(next))
		out = append(out, readVideoStats(tb, ctx))
	}
	return out
}

// waitHeight waits up to d until the receiver decodes frames of height h, and says whether it did.
func waitHeight(tb testing.TB, ctx context.Context, h float64, d time.Duration) bool {
	tb.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(stepSample) {
		if readVideoStats(tb, ctx).FrameHeight >= h {
			return true
		}
	}
	return false
}

// measureStep lets a call that started at st.from settle, steps the link to st.to, and
// measures the 15 s (down) or 60 s (up) after. Before a step down the call first reaches
// 1280×720 (at most 30 s) and plays 10 s more; before a step up it plays 15 s.
func measureStep(tb testing.TB, lab *netlab.Lab, c call, st linkStep) stepResult {
	tb.Helper()
	r := stepResult{step: st}
	d := stepDownTime
	if st.down() {
		r.reached720 = waitHeight(tb, c.rx, 720, 30*time.Second)
		time.Sleep(10 * time.Second)
	} else {
		time.Sleep(15 * time.Second)
		d = max(stepUpTime, benchDuration())
	}
	pre := sampleEvery(tb, c.rx, stepSample, 5*time.Second)
	shape(tb, lab, netlab.ToPlayer, netlab.Shape{RateKbit: st.to})
	post := sampleEvery(tb, c.rx, stepSample, d)
	r.fill(pre, post)
	since := func(s videoStats) float64 { return (s.At - post[0].At) / 1000 }
	r.smoothAgain, r.to720, r.to90 = -1, -1, -1
	for i := 0; i+4 < len(post); i++ {
		a, b, both := window{post[i], post[i+2]}, window{post[i+2], post[i+4]}, window{post[i], post[i+4]}
		if a.fps() >= smoothFPS && b.fps() >= smoothFPS && both.frozen() == 0 {
			r.smoothAgain = since(post[i])
			break
		}
	}
	for _, s := range post {
		if s.FrameHeight >= 720 {
			r.to720 = since(s)
			break
		}
	}
	for i := 4; i < len(post); i++ {
		if rateKbps(post[i-4], post[i]) >= 0.9*r.after {
			r.to90 = since(post[i])
			break
		}
	}
	return r
}

// fill computes what both steps report from the samples before and after the step.
func (r *stepResult) fill(pre, post []videoStats) {
	var before []float64
	for i := 4; i < len(pre); i++ {
		before = append(before, rateKbps(pre[i-4], pre[i]))
	}
	r.before = percentile(before, 50)
	r.heightBefore = pre[len(pre)-1].FrameHeight
	first, last := post[0], post[len(post)-1]
	r.heightAfter = last.FrameHeight
	r.freezes = last.FreezeCount - first.FreezeCount
	r.frozen = window{first, last}.frozen()
	r.secs = (last.At - first.At) / 1000
	r.minFPS = -1
	var series strings.Builder
	for i := 4; i < len(post); i++ {
		w := window{post[i-4], post[i]}
		if r.minFPS < 0 || w.fps() < r.minFPS {
			r.minFPS = w.fps()
		}
		if i%4 == 0 {
			fmt.Fprintf(&series, " +%.0fs %.0fp %.0ffps %.0fkbit/s", (post[i].At-first.At)/1000, post[i].FrameHeight, w.fps(), rateKbps(post[i-4], post[i]))
			if f := w.frozen(); f > 0 {
				fmt.Fprintf(&series, " frozen %.2fs", f)
			}
			series.WriteString(";")
		}
	}
	r.series = "each second after the step:" + series.String()
	var final []float64
	for i := 4; i < len(post); i++ {
		if last.At-post[i].At < 10000 {
			final = append(final, rateKbps(post[i-4], post[i]))
		}
	}
	r.after = percentile(final, 50)
}

func (r stepResult) report(b *testing.B) {
	b.Helper()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(r.smoothAgain, "s-to-smooth")
	if !r.step.down() {
		b.ReportMetric(r.to720, "s-to-720p")
		b.ReportMetric(r.to90, "s-to-90%-rate")
	}
	b.ReportMetric(r.freezes, "freezes")
	b.ReportMetric(r.frozen, "frozen-s")
	b.ReportMetric(r.minFPS, "min-fps")
	b.ReportMetric(r.before, "kbit/s-before")
	b.ReportMetric(r.after, "kbit/s-after")
}

func printStepTable(system string, rs []stepResult) {
	if len(rs) == 0 {
		return
	}
	fmt.Printf("\n%s, link steps:\n\n", system)
	fmt.Println("| step | smooth again (s) | to 1280×720 (s) | to 90 % of final rate (s) | freezes | frozen s | lowest 1 s fps | rx kbit/s before → after | height before → after | measured s | machine |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---|---|---:|---|")
	na := func(v float64, isStep bool) string {
		if !isStep {
			return "–"
		}
		if v < 0 {
			return "never"
		}
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	for _, r := range rs {
		down, name := r.step.down(), r.step.name
		if down && !r.reached720 {
			name += " (no 720p before the step)"
		}
		fmt.Printf("| %s | %s | %s | %s | %.0f | %.2f | %.1f | %.0f → %.0f | %.0f → %.0f | %.0f | %s |\n",
			name, na(r.smoothAgain, true), na(r.to720, !down), na(r.to90, !down), r.freezes, r.frozen, r.minFPS,
			r.before, r.after, r.heightBefore, r.heightAfter, r.secs, r.load)
	}
}

// BenchmarkPlayFirstFrame plays EDGEPLAY_BENCH_PLAYS (20) fresh sessions in one chromium tab on
// loopback (the normal in-process system, not the lab) and reports the page's timeline of each:
// ms from the click on Play to each step, p50 and p95.
func BenchmarkPlayFirstFrame(b *testing.B) {
	chromePath(b)
	load := waitQuiet(b)
	a := startApp(b, appOpts{})
	ctx, _ := startBrowser(b)
	host := a.Hosts()[0]
	run(b, ctx, "open the page", chromedp.Navigate(a.URL()+"/"))
	steps := []string{"welcome", "probed", "placed", "offer", "answer", "iceConnected", "pcConnected", "firstFrame"}
	byStep := map[string][]float64{}
	var wall []float64
	plays := envInt("EDGEPLAY_BENCH_PLAYS", 20)
	for i := range plays {
		waitJS(b, ctx, `window.edgeplay?.state !== "playing" && !document.getElementById("play").disabled`, jsTimeout)
		run(b, ctx, "click Play", chromedp.Click(chromedp.ID("play")))
		start := time.Now()
		waitJS(b, ctx, `edgeplay.state === "playing" && edgeplay.timeline.firstFrame !== null`, 30*time.Second)
		wall = append(wall, float64(time.Since(start).Microseconds())/1000)
		tl := evalJS[map[string]*float64](b, ctx, `edgeplay.timeline`)
		var line strings.Builder
		for _, s := range steps {
			if tl[s] == nil {
				b.Fatalf("play %d: timeline has no %s: %v", i+1, s, tl)
			}
			byStep[s] = append(byStep[s], *tl[s])
			fmt.Fprintf(&line, " %s %.0f", s, *tl[s])
		}
		b.Logf("play %d (ms since the click):%s", i+1, line.String())
		run(b, ctx, "click Stop", chromedp.Click(chromedp.ID("stop")))
		waitJS(b, ctx, `edgeplay.state === "ended"`, 5*time.Second)
		waitFor(b, 5*time.Second, "the host frees the slot", func() bool { return len(host.Sessions()) == 0 })
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(percentile(byStep["firstFrame"], 50), "p50-ms")
	b.ReportMetric(percentile(byStep["firstFrame"], 95), "p95-ms")
	fmt.Printf("\nPlay → first frame, headless chromium on loopback, %d plays (load average %s before, %s after); ms since the click:\n\n",
		plays, load, loadAvg())
	fmt.Println("| step | p50 | p95 | min | max |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for _, s := range steps {
		v := byStep[s]
		fmt.Printf("| %s | %.0f | %.0f | %.0f | %.0f |\n", s, percentile(v, 50), percentile(v, 95), slices.Min(v), slices.Max(v))
	}
	fmt.Printf("| (test: click → first frame seen by polling) | %.0f | %.0f | %.0f | %.0f |\n",
		percentile(wall, 50), percentile(wall, 95), slices.Min(wall), slices.Max(wall))
}

// benchDuration is the measured time of each link scenario: EDGEPLAY_BENCH_SECONDS, default 30.
func benchDuration() time.Duration {
	return time.Duration(envInt("EDGEPLAY_BENCH_SECONDS", 30)) * time.Second
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// loadAvg is the 1-minute load average, as /proc/loadavg gives it.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// waitQuiet waits, for at most 3 minutes, until the 1-minute load average is below
// EDGEPLAY_BENCH_MAXLOAD (default 1.5) and the CPUs were idle for 2 s (less than half a core
// busy), and returns the load average it starts at. The machine is shared: a scenario measured
// while something else runs measures that too.
func waitQuiet(tb testing.TB) string {
	tb.Helper()
	limit := 1.5
	if v, err := strconv.ParseFloat(os.Getenv("EDGEPLAY_BENCH_MAXLOAD"), 64); err == nil && v > 0 {
		limit = v
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		load := loadAvg()
		v, err := strconv.ParseFloat(load, 64)
		if err != nil {
			return load
		}
		if v < limit {
			m := startCPUMeter()
			time.Sleep(2 * time.Second)
			if busy, _ := m.stop(); busy < 0.5 {
				return load
			}
		}
		if time.Now().After(deadline) {
			tb.Logf("load average still %s after 3 minutes; measuring anyway", load)
			return load + " (busy)"
		}
		time.Sleep(5 * time.Second)
	}
}

// machineLoad describes the machine during a scenario: the load average before → after, and
// the CPUs busy (of runtime.NumCPU), in all and with other processes than this benchmark's.
func machineLoad(before string, m cpuMeter) string {
	busy, others := m.stop()
	return fmt.Sprintf("%s → %s; %.2f CPUs busy, %.2f of them others", before, loadAvg(), busy, others)
}

// cpuMeter measures how busy the CPUs were over a span, and how much of that was neither this
// process nor its children (the browsers, the host): other work on a shared machine.
type cpuMeter struct {
	total, idle, ours float64 // clock ticks: all CPUs together, idle, this process tree
}

func startCPUMeter() cpuMeter {
	var m cpuMeter
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		for i, f := range strings.Fields(line)[1:] {
			v, _ := strconv.ParseFloat(f, 64)
			if i < 8 { // user nice system idle iowait irq softirq steal
				m.total += v
			}
			if i == 3 || i == 4 {
				m.idle += v
			}
		}
	}
	// This process and its descendants: utime, stime and the times of reaped children.
	parent, ticks := map[int]int{}, map[int]float64{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) < 15 {
			continue
		}
		parent[pid], _ = strconv.Atoi(f[1])
		for _, t := range f[11:15] {
			v, _ := strconv.ParseFloat(t, 64)
			ticks[pid] += v
		}
	}
	self := os.Getpid()
	for pid, t := range ticks {
		for p := pid; p > 1; p = parent[p] {
			if p == self {
				m.ours += t
				break
			}
		}
	}
	return m
}

// stop returns how many CPUs were busy since m started, on average, and how many of those
// were busy with other processes than this one and its children.
func (m cpuMeter) stop() (busy, others float64) {
	n := startCPUMeter()
	span := (n.total - m.total) / float64(runtime.NumCPU())
	if span <= 0 {
		return 0, 0
	}
	busy = ((n.total - m.total) - (n.idle - m.idle)) / span
	return busy, max(0, busy-(n.ours-m.ours)/span)
}

// linkStats reads the counters of the link towards the receiver.
func linkStats(tb testing.TB, lab *netlab.Lab) netlab.LinkStats {
	tb.Helper()
	st, err := lab.Stats(netlab.ToPlayer)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}
