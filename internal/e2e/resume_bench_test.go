package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/internal/netlab"
)

// BenchmarkLabResume: in the network lab, a playing chromium loses the media path (all UDP
// both ways) and its websocket for EDGEPLAY_BENCH_SECONDS (default 10 s), five times in one
// session; reported: the time from the network's return to the first newly presented frame
// (p50 and max), which the issue wants within 1 s.
func BenchmarkLabResume(b *testing.B) {
	chromePath(b)
	dark := time.Duration(envInt("EDGEPLAY_BENCH_SECONDS", 10)) * time.Second
	for b.Loop() {
		lab := netlab.New(b, netlab.Options{})
		s := startLabSystem(b, lab, labHost{})
		ctx, closeBrowser := startBrowser(b)
		hookPlaySockets(b, ctx)
		playPage(b, ctx, s.app.URL())
		var took []time.Duration
		for i := range 5 {
			blackout(b, lab, true)
			if !evalJS[bool](b, ctx, `edgeplay.dropSocketForTest()`) {
				b.Fatal("no socket to drop")
			}
			time.Sleep(dark)
			evalJS[bool](b, ctx, `(() => {
				window.__firstNew = null;
				document.querySelector("video.ep-video").requestVideoFrameCallback(() => { window.__firstNew = performance.now(); });
				return true;
			})()`)
			blackout(b, lab, false)
			evalJS[bool](b, ctx, `(window.__liftAt = performance.now(), true)`)
			waitJS(b, ctx, `window.__firstNew !== null`, 15*time.Second)
			d := time.Duration(evalJS[float64](b, ctx, `window.__firstNew - window.__liftAt`) * float64(time.Millisecond))
			took = append(took, d)
			waitJS(b, ctx, `edgeplay.state === "playing"`, 15*time.Second)
			b.Logf("drop %d: first frame %v after the network came back", i+1, d.Round(time.Millisecond))
			time.Sleep(3 * time.Second)
		}
		closeBrowser()
		slices.Sort(took)
		b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "p50-ms")
		b.ReportMetric(float64(took[len(took)-1].Milliseconds()), "max-ms")
		fmt.Printf("\nNetwork back → first frame, %d drops of %v (media path and websocket): %v\n", len(took), dark, took)
	}
}
