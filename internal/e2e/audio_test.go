package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgeplay/edgeplay/internal/netlab"
)

// audioStats is the browser's inbound-rtp report of the audio (getStats).
type audioStats struct {
	PacketsReceived      float64 `json:"packetsReceived"`
	PacketsLost          float64 `json:"packetsLost"`
	TotalAudioEnergy     float64 `json:"totalAudioEnergy"`
	TotalSamplesDuration float64 `json:"totalSamplesDuration"`
	TotalSamplesReceived float64 `json:"totalSamplesReceived"`
	ConcealedSamples     float64 `json:"concealedSamples"`
	JitterBufferDelay    float64 `json:"jitterBufferDelay"`
	JitterBufferEmitted  float64 `json:"jitterBufferEmittedCount"`
	Codec                string  `json:"codec"`
}

func readAudioStats(tb testing.TB, ctx context.Context) audioStats {
	tb.Helper()
	const js = `(async () => {
		const pc = (window.__pcs || [])[0];
		if (!pc) return "{}";
		const r = await pc.getStats();
		let a = {}, codecs = {};
		r.forEach(s => {
			if (s.type === "inbound-rtp" && s.kind === "audio") a = s;
			if (s.type === "codec") codecs[s.id] = s.mimeType;
		});
		return JSON.stringify({...a, codec: codecs[a.codecId] || ""});
	})()`
	ctx2, cancel := context.WithTimeout(ctx, jsTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx2, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.Fatalf("getStats: %v", err)
	}
	var a audioStats
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		tb.Fatalf("getStats: %v: %s", err, s)
	}
	return a
}

// The demo's sound reaches chromium over the lab's link as Opus and plays: packets arrive,
// and the audio the browser plays out carries energy (the music loop and the shots).
func TestLabAudio(t *testing.T) {
	chromePath(t)
	lab := netlab.New(t, netlab.Options{})
	shape(t, lab, netlab.ToPlayer, netlab.Shape{RateKbit: 5000, LossPermille: 10})
	s := startLabSystem(t, lab, labHost{})
	ctx, closeBrowser := startBrowser(t)
	defer closeBrowser()
	playInLab(t, ctx, s)
	// Fire: the space bar, held for a second, makes shots (and their sound).
	run(t, ctx, "fire", chromedp.KeyEvent(" "))
	time.Sleep(3 * time.Second)
	a1 := readAudioStats(t, ctx)
	time.Sleep(2 * time.Second)
	a2 := readAudioStats(t, ctx)
	t.Logf("audio: %+v", a2)
	if a2.Codec != "audio/opus" {
		t.Fatalf("audio codec %q, want audio/opus", a2.Codec)
	}
	pkts := a2.PacketsReceived - a1.PacketsReceived
	if pkts < 100 { // 10 ms frames: 200 in 2 s, fewer only in silence (DTX)
		t.Errorf("%.0f audio packets in 2 s, want ≥ 100", pkts)
	}
	played := a2.TotalSamplesDuration - a1.TotalSamplesDuration
	if played < 1.5 {
		t.Errorf("the browser played %.2f s of audio in 2 s", played)
	}
	if energy := a2.TotalAudioEnergy - a1.TotalAudioEnergy; energy <= 0 {
		t.Errorf("audio energy %.6f over 2 s: the sound is silent", energy)
	}
	if a2.JitterBufferEmitted > 0 {
		t.Logf("audio jitter buffer: %.0f ms on average", 1000*a2.JitterBufferDelay/a2.JitterBufferEmitted)
	}
}
