package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgeplay/edgeplay/internal/netlab"
)

// The reference for the lab benchmarks: a browser-to-browser WebRTC call over the same shaped
// link, with libwebrtc's own congestion control, measured with the same code as edgeplay
// (benchLab). The sender is a second headless chromium inside the lab's host namespace; it
// sends a 1280×720 canvas at 60 fps that imitates the demo game (the same scrolling grid over
// a dithered tile, 180 parallax stars, 7 drifting bullseyes, a ship and a frame counter), in
// H.264 (constrained baseline, as edgeplay sends; EDGEPLAY_BENCH_REFERENCE_CODEC=VP8 picks
// VP8), with degradationPreference
// "maintain-framerate", contentHint "motion" and a 6 Mbit/s ceiling (edgeplay's). The
// receiver is the usual chromium in the root namespace. Offer and answer go through the test,
// each after ICE gathering is complete.

func BenchmarkLabReference(b *testing.B) {
	benchLab(b, "reference (chromium → chromium)", startReferenceCall)
}

// startReferenceCall starts the call: sender in the lab's host namespace, receiver here.
func startReferenceCall(tb testing.TB, lab *netlab.Lab) call {
	tb.Helper()
	tx := startLabBrowser(tb, lab)
	rx, _ := startBrowser(tb) // closed at cleanup, before the sender and the lab
	offer := evalAwait[string](tb, tx, referenceSenderJS+"("+jsString(referenceCodec())+")")
	answer := evalAwait[string](tb, rx, referenceReceiverJS+"("+jsString(offer)+")")
	evalAwait[any](tb, tx, "window.txAccept("+jsString(answer)+")")
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := readVideoStats(tb, rx)
		if st.FramesDecoded > 0 && st.Remote != "" {
			if !strings.HasPrefix(st.Remote, lab.HostIP.String()+":") {
				tb.Fatalf("the receiver gets the video from %s, not over the lab link from %s", st.Remote, lab.HostIP)
			}
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no frame decoded 30 s after the answer: %v via %q", st, st.Remote)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return call{rx: rx, sender: func(tb testing.TB) senderView {
		tb.Helper()
		return evalAwait[senderView](tb, tx, referenceSenderStatsJS)
	}}
}

// referenceCodec is the sender's codec: EDGEPLAY_BENCH_REFERENCE_CODEC, "H264" (the default)
// or "VP8".
func referenceCodec() string {
	if c := strings.ToUpper(os.Getenv("EDGEPLAY_BENCH_REFERENCE_CODEC")); c != "" {
		return c
	}
	return "H264"
}

// startLabBrowser starts headless chromium in the lab's host namespace and returns its tab.
// Chromium 156's headless mode ignores --remote-debugging-address (it listens on 127.0.0.1 of
// the namespace only), so chromedp drives it over its pipe (--remote-debugging-pipe, file
// descriptors 3 and 4), which `ip netns exec` passes on. It is closed at cleanup.
func startLabBrowser(tb testing.TB, lab *netlab.Lab) context.Context {
	tb.Helper()
	dataDir := tb.TempDir()
	var output lockedBuffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromePath(tb)),
		chromedp.UserDataDir(dataDir),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,WebRtcHideLocalIpsWithMdns"),
		chromedp.CombinedOutput(&output),
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			ns := lab.Command(context.Background(), cmd.Path, cmd.Args[1:]...)
			cmd.Path, cmd.Args = ns.Path, ns.Args
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // as chromedp does
		}),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	tb.Cleanup(func() {
		cctx, cancel := context.WithTimeout(ctx, chromeStopTimeout)
		if err := chromedp.Cancel(cctx); err != nil && !errors.Is(err, context.Canceled) {
			tb.Logf("closing the lab's chromium: %v", err)
		}
		cancel()
		cancelTab()
		cancelAlloc()
		if left := waitChromeGone(dataDir, 5*time.Second); left > 0 {
			tb.Errorf("%d chromium processes outlived the lab's browser (killed now)", left)
		}
		if tb.Failed() {
			tb.Logf("lab chromium output:\n%s", tail(output.String(), 50))
		}
	})
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			tb.Fatalf("start chromium in the lab: %v\n%s", err, output.String())
		}
	case <-time.After(chromeStartTimeout):
		tb.Fatalf("chromium in the lab did not start within %s", chromeStartTimeout)
	}
	return ctx
}

// evalAwait evaluates expr, awaiting a promise, and decodes its value (JSON) into T.
func evalAwait[T any](tb testing.TB, ctx context.Context, expr string) T {
	tb.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*jsTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.Fatalf("evaluate %.80s…: %v", expr, err)
	}
	return v
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// referenceSenderJS is a function of the codec ("H264": constrained baseline, or "VP8") that
// draws the canvas, offers its stream with that codec first, and defines
// window.txAccept(answer). Its result is the offer, with every candidate in it.
const referenceSenderJS = `(async (CODEC) => {
	const W = 1280, H = 720, TILE = 64;
	document.body.style.margin = "0";
	const canvas = document.createElement("canvas");
	canvas.width = W; canvas.height = H;
	document.body.appendChild(canvas);
	const g = canvas.getContext("2d", { alpha: false });

	// The demo game's background tile (game/demo/render.go): grid lines, a sub-grid, and a
	// faint fixed dither so that the encoder sees texture.
	const tileCanvas = document.createElement("canvas");
	tileCanvas.width = tileCanvas.height = TILE;
	const tg = tileCanvas.getContext("2d");
	const img = tg.createImageData(TILE, TILE);
	const hash = (x, y) => {
		let h = (Math.imul(x, 0x9e3779b1) ^ Math.imul(y, 0x85ebca77)) >>> 0;
		h ^= h >>> 15; h = Math.imul(h, 0xc2b2ae3d) >>> 0;
		return (h ^ (h >>> 13)) >>> 0;
	};
	const clamp = (v) => Math.max(0, Math.min(255, v));
	for (let y = 0; y < TILE; y++) for (let x = 0; x < TILE; x++) {
		let c;
		if (x < 2 || y < 2) c = [34, 64, 96];
		else if (x === TILE / 2 || y === TILE / 2) c = [22, 34, 58];
		else { const n = hash(x, y) % 13 - 6; c = [clamp(12 + n), clamp(16 + n), clamp(34 + 2 * n)]; }
		img.data.set([...c, 255], 4 * (y * TILE + x));
	}
	tg.putImageData(img, 0, 0);
	// The whole background, one tile larger than the frame each way: each frame is one blit
	// of it at the scroll offset (cheaper than a pattern fill in software).
	const bg = document.createElement("canvas");
	bg.width = W + TILE; bg.height = H + TILE;
	const bgg = bg.getContext("2d");
	bgg.fillStyle = bgg.createPattern(tileCanvas, "repeat");
	bgg.fillRect(0, 0, bg.width, bg.height);

	// A seeded generator: every run draws the same frames.
	let seed = 1;
	const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
	const stars = Array.from({ length: 180 }, (_, i) => ({ x: rnd(), y: rnd(), layer: i % 3 }));
	const starColor = ["rgb(80,84,120)", "rgb(150,155,200)", "#fff"], starSize = [1, 2, 3];
	const colors = ["rgb(255,80,80)", "rgb(255,180,40)", "rgb(80,220,120)", "rgb(80,170,255)", "rgb(220,100,255)"];
	const targets = Array.from({ length: 7 }, () => {
		const r = 22 + rnd() * 26, a = rnd() * 2 * Math.PI, v = 70 + rnd() * 110;
		return { r, x: r + rnd() * (W - 2 * r), y: r + rnd() * (H - 2 * r), vx: Math.cos(a) * v, vy: Math.sin(a) * v,
			color: colors[Math.floor(rnd() * colors.length)] };
	});
	const disc = (x, y, r, color) => { g.fillStyle = color; g.beginPath(); g.arc(x, y, r, 0, 2 * Math.PI); g.fill(); };
	const mod = (a, m) => ((a % m) + m) % m;
	let n = 0, sx = 0, sy = 0;
	const draw = () => {
		const dt = 1 / 60;
		sx -= 60 * dt; sy += 25 * dt; // the demo's background drift
		g.drawImage(bg, -mod(Math.floor(sx), TILE), -mod(Math.floor(sy), TILE));
		for (const s of stars) {
			const f = 0.35 * (s.layer + 1);
			g.fillStyle = starColor[s.layer];
			g.fillRect(mod(Math.floor(s.x * W - sx * f), W), mod(Math.floor(s.y * H - sy * f), H), starSize[s.layer], starSize[s.layer]);
		}
		for (const t of targets) {
			t.x += t.vx * dt; t.y += t.vy * dt;
			if (t.x < t.r && t.vx < 0 || t.x > W - t.r && t.vx > 0) t.vx = -t.vx;
			if (t.y < t.r && t.vy < 0 || t.y > H - t.r && t.vy > 0) t.vy = -t.vy;
			disc(t.x, t.y, t.r, t.color); disc(t.x, t.y, t.r * 0.68, "#fff"); disc(t.x, t.y, t.r * 0.4, t.color);
		}
		disc(W / 2, H / 2, 22, "rgb(90,200,255)"); disc(W / 2, H / 2, 12, "rgb(20,60,90)");
		g.fillStyle = "rgb(230,232,240)"; g.font = "bold 28px monospace";
		g.fillText("FRAME " + n, W - 250, H - 24);
		n++;
		requestAnimationFrame(draw);
	};
	requestAnimationFrame(draw);

	const stream = canvas.captureStream(60);
	const track = stream.getVideoTracks()[0];
	track.contentHint = "motion";
	const pc = new RTCPeerConnection();
	window.__pcs = [pc];
	const tr = pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
	window.__tx = tr.sender;
	const codecs = RTCRtpSender.getCapabilities("video").codecs;
	const wanted = codecs.filter((c) => c.mimeType === "video/" + CODEC && (CODEC !== "H264" ||
		/packetization-mode=1/.test(c.sdpFmtpLine ?? "") && /profile-level-id=42e01f/.test(c.sdpFmtpLine ?? "")));
	if (!wanted.length) throw new Error("no " + CODEC + ": " + codecs.map((c) => c.mimeType + " " + c.sdpFmtpLine).join(", "));
	tr.setCodecPreferences([...wanted, ...codecs.filter((c) => !wanted.includes(c))]);
	window.txAccept = async (sdp) => {
		await pc.setRemoteDescription({ type: "answer", sdp });
		const p = tr.sender.getParameters();
		p.degradationPreference = "maintain-framerate";
		p.encodings[0].maxBitrate = 6000000;
		p.encodings[0].maxFramerate = 60;
		await tr.sender.setParameters(p);
	};
	await pc.setLocalDescription();
	if (pc.iceGatheringState !== "complete")
		await new Promise((r) => pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && r()));
	return pc.localDescription.sdp;
})`

// referenceReceiverJS is a function of the offer that answers it, plays the video in a muted
// <video>, and returns the answer with every candidate in it.
const referenceReceiverJS = `(async (offer) => {
	const pc = new RTCPeerConnection();
	window.__pcs = [pc];
	pc.ontrack = (e) => {
		const v = document.createElement("video");
		v.muted = true; v.autoplay = true; v.playsInline = true;
		v.srcObject = new MediaStream([e.track]);
		document.body.appendChild(v);
	};
	await pc.setRemoteDescription({ type: "offer", sdp: offer });
	await pc.setLocalDescription();
	if (pc.iceGatheringState !== "complete")
		await new Promise((r) => pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && r()));
	return pc.localDescription.sdp;
})`

// referenceSenderStatsJS is the sender's view (senderView): its outbound-rtp report and the
// selected candidate pair's availableOutgoingBitrate, libwebrtc's estimate.
const referenceSenderStatsJS = `(async () => {
	const r = await window.__pcs[0].getStats();
	let o = {}, src = {}, pairs = {}, transport = null;
	r.forEach((s) => {
		if (s.type === "outbound-rtp" && s.kind === "video") o = s;
		if (s.type === "media-source" && s.kind === "video") src = s;
		if (s.type === "candidate-pair") pairs[s.id] = s;
		if (s.type === "transport") transport = s;
	});
	const pair = transport ? pairs[transport.selectedCandidatePairId] : null;
	const q = o.qualityLimitationDurations ?? {};
	return {
		TargetKbps: (o.targetBitrate ?? 0) / 1000, EstimateKbps: (pair?.availableOutgoingBitrate ?? 0) / 1000,
		RTX: o.retransmittedPacketsSent ?? 0, Keyframes: o.keyFramesEncoded ?? 0, FramesEncoded: o.framesEncoded ?? 0,
		SourceFrames: src.frames ?? 0, EncodeSeconds: o.totalEncodeTime ?? 0, LimitedBandwidth: q.bandwidth ?? 0, LimitedCPU: q.cpu ?? 0,
		EncoderDescription: o.frameWidth + "x" + o.frameHeight + " at the end, " + window.__tx.getParameters().degradationPreference +
			(o.encoderImplementation ? ", " + o.encoderImplementation : ""),
		At: performance.now(),
	};
})()`
