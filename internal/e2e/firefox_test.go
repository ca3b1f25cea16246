package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pion/transport/v5/test"
)

// TestFirefoxPlaysVP8 plays the demo game in headless Firefox ESR, driven over WebDriver BiDi
// (bidi_helpers_test.go), against the real system. Debian's Firefox ESR has no H.264 decoder
// for WebRTC unless it downloads the OpenH264 plugin, which these machines cannot; the host
// offers H.264 and VP8 and sends the first one the browser accepts, so Firefox gets VP8. The
// test checks that it does (the host's media message and the browser's own getStats), that the
// latency marker reads in Firefox, that a key press goes round the loop (page → input channel →
// game → encoder → Firefox's decoder → marker), and that Stop frees the host's slot.
func TestFirefoxPlaysVP8(t *testing.T) {
	firefoxPath(t) // skip in -short mode before starting anything
	defer test.CheckRoutines(t)()
	a := startApp(t, appOpts{})
	defer func() { _ = a.Close(ctxFor(t, 10*time.Second)) }()
	began := time.Now()
	ff := startFirefox(t)
	t.Logf("firefox started in %v", time.Since(began).Round(time.Millisecond))
	defer ff.close()
	host := a.Hosts()[0]

	// Play. The page's Play handler needs no trusted user gesture, and the video is muted with
	// autoplay, so a script click is enough.
	ff.navigate(a.URL() + "/")
	ff.wait(`window.edgeplay?.state === "idle" && !document.getElementById("play").disabled`, bidiTimeout)
	ffEval[any](ff, `document.getElementById("play").click()`)
	start := time.Now()
	ff.wait(`edgeplay.state === "playing" && edgeplay.framesDecoded >= 60`, 30*time.Second)
	t.Logf("60 frames %v after Play", time.Since(start).Round(time.Millisecond))

	type frames struct {
		N             int
		Width, Height int
		At            float64 // performance.now(), ms
	}
	count := func() frames {
		t.Helper()
		return ffEval[frames](ff, `({N: edgeplay.framesDecoded, Width: edgeplay.videoWidth, Height: edgeplay.videoHeight, At: performance.now()})`)
	}
	first := count()

	// VP8, as the host says (the media message, about once a second) and as Firefox decodes it
	// (getStats, sampled once a second: "VP8" from the codec's mimeType).
	ff.wait(`edgeplay.media?.codec != null`, 10*time.Second)
	if got := ffEval[string](ff, `edgeplay.media.codec`); got != "vp8" {
		// A Firefox that can decode H.264 (the OpenH264 plugin, or a platform decoder) accepts
		// the host's first choice.
		t.Errorf("the host sends %q, want vp8; firefox receives %s", got,
			ffEval[string](ff, `[...new Set(RTCRtpReceiver.getCapabilities("video").codecs.map(c => c.mimeType))].join(", ")`))
	}
	ff.wait(`edgeplay.stats?.codec != null`, 10*time.Second)
	if got := ffEval[string](ff, `edgeplay.stats.codec`); !strings.EqualFold(got, "vp8") {
		t.Errorf("firefox decodes %q, want VP8", got)
	}
	if ss := host.Sessions(); len(ss) != 1 {
		t.Errorf("host sessions %+v, want Firefox's one", ss)
	}

	// The marker reads in Firefox (-1 means it does not). Polled rather than read once, so that
	// one lossy frame does not fail the test.
	ff.wait(`edgeplay.lastMarker >= 0`, 10*time.Second)

	// A key press goes round the loop: the marker then covers the key-down's seq (it carries the
	// low 16 bits of the last input the game applied: the key-down's, or already the key-up's).
	seq := ffEval[int](ff, `edgeplay.sendKey("KeyW")`)
	if seq == 0 {
		t.Fatalf("sendKey sent nothing (the input channel is not open); edgeplay: %s", ff.playerState())
	}
	ff.wait(fmt.Sprintf(`edgeplay.lastMarker >= 0 && ((edgeplay.lastMarker - %d) & 0xffff) < 0x8000`, seq), 10*time.Second)
	// The page's click-to-photon time for that press, reported, not asserted (the page keeps no
	// sample for a press whose frame came more than 5 s later).
	t.Logf("key press seq %d: marker %d, click→photon %s", seq,
		ffEval[int](ff, `edgeplay.lastMarker`), fmtPtr(ffEval[*float64](ff, `edgeplay.samples.at(-1)`), "%.1fms"))

	// What Firefox showed: the first frame, the frame rate it presented (over at least 2 s),
	// its own stats, and what the host sent.
	ff.wait(fmt.Sprintf(`performance.now() - %f >= 2000`, first.At), 5*time.Second)
	last := count()
	if last.Width == 0 || last.Height == 0 {
		t.Errorf("video %d×%d, want a picture", last.Width, last.Height)
	}
	fps := float64(last.N-first.N) / ((last.At - first.At) / 1000)
	type stats struct {
		FirstFrame *float64 `json:"firstFrame"`
		FPS        *float64 `json:"fps"`
		Bitrate    *float64 `json:"bitrateKbps"`
		DecodeMs   *float64 `json:"decodeMs"`
		Media      string   `json:"media"`
	}
	st := ffEval[stats](ff, `({firstFrame: edgeplay.timeline.firstFrame, fps: edgeplay.stats.fps,
		bitrateKbps: edgeplay.stats.bitrateKbps, decodeMs: edgeplay.stats.decodeMs, media: JSON.stringify(edgeplay.media)})`)
	t.Logf("firefox: first frame %s after Play; %d×%d at %.1f fps over %.1fs (%d frames); getStats fps %s, %s kbit/s, decode %s ms",
		fmtPtr(st.FirstFrame, "%.0fms"), last.Width, last.Height, fps, (last.At-first.At)/1000, last.N-first.N,
		fmtPtr(st.FPS, "%.1f"), fmtPtr(st.Bitrate, "%.0f"), fmtPtr(st.DecodeMs, "%.2f"))
	t.Logf("host: %s", st.Media)

	// Stop: the page ends the session, and the host frees the slot.
	ffEval[any](ff, `document.getElementById("stop").click()`)
	ff.wait(`edgeplay.state === "ended"`, 10*time.Second)
	if got := ffEval[string](ff, `edgeplay.endReason`); got != "player_left" {
		t.Errorf("endReason %q, want player_left", got)
	}
	waitFor(t, 10*time.Second, "the host frees the slot", func() bool { return len(host.Sessions()) == 0 })

	ff.close()
	if err := a.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// fmtPtr formats *v with format, or "n/a" when v is nil.
func fmtPtr[T any](v *T, format string) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf(format, *v)
}
