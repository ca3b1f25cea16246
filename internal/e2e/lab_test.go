package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/internal/netlab"
)

// A host behind 1:1 NAT with the default bind (every interface) and --public-ip: the player
// reaches it only at the public address, which is not one of the host's own. Before the fix,
// every local socket's candidate was rewritten to the public address and no session
// connected.
func TestLabNAT1to1(t *testing.T) {
	chromePath(t)
	lab := netlab.New(t, netlab.Options{NAT: true})
	s := startLabSystem(t, lab, labHost{publicIP: lab.PublicIP.String()})
	ctx, closeBrowser := startBrowser(t)
	defer closeBrowser()
	first := playInLab(t, ctx, s)
	t.Logf("first frame %v after Play", first.Round(time.Millisecond))
	waitJS(t, ctx, `edgeplay.framesDecoded >= 60`, 20*time.Second)
	st := readVideoStats(t, ctx)
	t.Logf("video: %v via %s", st, st.Remote)
	if !strings.HasPrefix(st.Remote, lab.PublicIP.String()+":") {
		t.Errorf("the browser plays via %q, want the public address %s", st.Remote, lab.PublicIP)
	}
	if out := s.out.String(); !strings.Contains(out, "NAT 1:1: advertising public address") {
		t.Errorf("the host did not log its NAT mapping:\n%s", tail(out, 40))
	}
}

// A host started while the namespace's IPv6 link-local address is still tentative (as in a
// fresh container or pod network) skips that address with a warning and serves players.
func TestLabTentativeIPv6(t *testing.T) {
	chromePath(t)
	lab := netlab.New(t, netlab.Options{KeepDAD: true})
	tentative, err := lab.TentativeAddrs()
	if err != nil {
		t.Fatal(err)
	}
	s := startLabSystem(t, lab, labHost{})
	if len(tentative) == 0 {
		t.Log("no address was tentative by the time the host started; the skip path was not exercised")
	} else if out := s.out.String(); !strings.Contains(out, "UDP address skipped") {
		t.Errorf("addresses %v were tentative, but the host logged no skipped address:\n%s", tentative, tail(out, 40))
	}
	ctx, closeBrowser := startBrowser(t)
	defer closeBrowser()
	playInLab(t, ctx, s)
	waitJS(t, ctx, `edgeplay.framesDecoded >= 30`, 20*time.Second)
}

// A player on a 2.5 Mbit/s link with 1 % random loss each way plays at (nearly) 60 fps after
// the first 5 s, frozen for at most 1 s per minute: congestion control keeps the stream below
// the link (stepping down the resolution ladder) and NACK/RTX repairs the loss.
func TestLabLowBandwidthLossy(t *testing.T) {
	chromePath(t)
	lab := netlab.New(t, netlab.Options{})
	shape(t, lab, netlab.ToPlayer, netlab.Shape{RateKbit: 2500, LossPermille: 10})
	shape(t, lab, netlab.ToHost, netlab.Shape{LossPermille: 10})
	s := startLabSystem(t, lab, labHost{})
	ctx, closeBrowser := startBrowser(t)
	defer closeBrowser()
	playInLab(t, ctx, s)
	time.Sleep(5 * time.Second)
	const measure = 30 * time.Second
	samples := sampleFor(t, ctx, measure)
	for _, v := range samples {
		t.Logf("%v", v)
	}
	w := window{samples[0], samples[len(samples)-1]}
	secs := (w.to.At - w.from.At) / 1000
	t.Logf("over %.0f s: %.1f fps decoded, %.2f s frozen, %.0f packets lost, %.0f NACKs, %.0f PLIs",
		secs, w.fps(), w.frozen(), w.to.PacketsLost-w.from.PacketsLost, w.to.NackCount-w.from.NackCount, w.to.PliCount-w.from.PliCount)
	st, _ := lab.Stats(netlab.ToPlayer)
	t.Logf("link to the player: %+v", st)
	if st.LossDrops == 0 {
		t.Error("the lab dropped no packet: the loss was not applied")
	}
	if fps := w.fps(); fps < 55 {
		t.Errorf("%.1f fps decoded at 2.5 Mbit/s with 1 %% loss, want ≥ 55", fps)
	}
	if frozen, allowed := w.frozen(), secs/60; frozen > allowed {
		t.Errorf("frozen %.2f s in %.0f s, want ≤ %.2f s (1 s per minute)", frozen, secs, allowed)
	}
}

// The link steps from 20 Mbit/s down to 2.5 Mbit/s mid-session: the video recovers within 3 s.
// 15 s later the link is back at 20 Mbit/s, and the video climbs to full quality (the top of
// the ladder) within 15 s.
func TestLabStepDownAndUp(t *testing.T) {
	chromePath(t)
	lab := netlab.New(t, netlab.Options{})
	shape(t, lab, netlab.ToPlayer, netlab.Shape{RateKbit: 20000})
	s := startLabSystem(t, lab, labHost{})
	ctx, closeBrowser := startBrowser(t)
	defer closeBrowser()
	playInLab(t, ctx, s)
	waitJS(t, ctx, `edgeplay.videoWidth === 1280 && edgeplay.framesDecoded > 120`, 20*time.Second)
	time.Sleep(3 * time.Second)

	shape(t, lab, netlab.ToPlayer, netlab.Shape{RateKbit: 2500})
	stepped := time.Now()
	// Recovered: from this moment on, 1 s of smooth video (two half-second windows of
	// ≥ 50 fps without a freeze).
	var samples []videoStats
	for time.Since(stepped) < 8*time.Second {
		samples = append(samples, readVideoStats(t, ctx))
		time.Sleep(500 * time.Millisecond)
	}
	recovered := time.Duration(-1)
	for i := 0; i+2 < len(samples); i++ {
		w1, w2 := window{samples[i], samples[i+1]}, window{samples[i+1], samples[i+2]}
		t.Logf("+%4.1fs %v window fps %.0f frozen %.2fs", time.Since(stepped).Seconds()-float64(len(samples)-1-i)*0.5,
			samples[i+1], w1.fps(), w1.frozen())
		if recovered < 0 && w1.fps() >= 50 && w2.fps() >= 50 && w1.frozen() == 0 && w2.frozen() == 0 {
			recovered = time.Duration(i) * 500 * time.Millisecond
		}
	}
	t.Logf("step down: smooth again %v after the step", recovered)
	if recovered < 0 || recovered > 3*time.Second {
		t.Errorf("after the step to 2.5 Mbit/s the video was smooth again after %v, want ≤ 3 s (-1: never)", recovered)
	}

	// Play on at 2.5 Mbit/s until 15 s after the step, as the benchmark does, before the
	// link comes back. (Stepped up only 8 s after the step down, the climb to 720p sometimes
	// took longer than 15 s: the estimate is then still in the additive-increase band pion's
	// GCC keeps around its recent cuts; docs/BENCHMARKS.md, "Slow climb after a cut".)
	time.Sleep(time.Until(stepped.Add(15 * time.Second)))
	shape(t, lab, netlab.ToPlayer, netlab.Shape{RateKbit: 20000})
	up := time.Now()
	for {
		cur := readVideoStats(t, ctx)
		if cur.FrameWidth == 1280 {
			t.Logf("step up: full resolution again %v after the step: %v", time.Since(up).Round(100*time.Millisecond), cur)
			break
		}
		if time.Since(up) > 15*time.Second {
			t.Fatalf("15 s after the step back to 20 Mbit/s the video is %v, want 1280×720", cur)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func shape(tb testing.TB, lab *netlab.Lab, d netlab.Direction, s netlab.Shape) {
	tb.Helper()
	if err := lab.Shape(d, s); err != nil {
		tb.Fatal(err)
	}
}
