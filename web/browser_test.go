package web

// The page in headless Chromium against a fake gateway that speaks docs/PROTOCOL.md and plays the
// host itself with pion: the signalling flow, error banners, the data channels and the wire
// bytes of real key and mouse events, the latency marker read from real decoded video, and Stop.
//
// testdata/marker-2a5c.h264 is 2 s of 1280×720 constrained-baseline H.264 at 30 fps whose
// frames carry latency marker 0x2A5C. It was made with:
//
//	F="drawbox=x=0:y=0:w=256:h=64:color=black:t=fill"
//	for c in 2 4 6; do F="$F,drawbox=x=$((c*32)):y=0:w=32:h=32:color=white:t=fill"; done
//	for c in 1 3 4 5; do F="$F,drawbox=x=$((c*32)):y=32:w=32:h=32:color=white:t=fill"; done
//	F="$F,drawbox=x=480:y=260:w=320:h=200:color=0x5eead4:t=fill"
//	ffmpeg -f lavfi -i "color=c=0x1b2333:s=1280x720:r=30:d=2" -vf "$F" -c:v libx264 \
//	  -profile:v baseline -level 3.1 -pix_fmt yuv420p \
//	  -x264-params "keyint=30:min-keyint=30:scenecut=0:bframes=0" -an marker-2a5c.h264

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/h264reader"

	"github.com/edgeplay/edgeplay/input"
	"github.com/edgeplay/edgeplay/protocol"
)

const testMarker = 0x2A5C

// fakeConn is the gateway's end of one player websocket.
type fakeConn struct {
	t  *testing.T
	ws *websocket.Conn
	in chan protocol.Message // closed when the socket closes

	mu     sync.Mutex // serialises writes: the script and pion's callbacks both send
	closed bool       // guarded by mu
}

// send writes m; after close it does nothing.
func (c *fakeConn) send(m protocol.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	// The player may close first (Stop closes right after leave): that is not an error.
	if err := c.ws.WriteJSON(m); err != nil && !closedByPeer(err) {
		c.t.Errorf("gateway: write %s: %v", m.Type, err)
	}
}

func closedByPeer(err error) bool {
	return errors.Is(err, websocket.ErrCloseSent) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}

func (c *fakeConn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	_ = c.ws.Close()
}

// expect returns the next message, which must be of type typ.
func (c *fakeConn) expect(typ string) protocol.Message {
	c.t.Helper()
	select {
	case m, ok := <-c.in:
		if !ok {
			c.t.Fatalf("gateway: socket closed, want %q", typ)
		}
		if m.Type != typ {
			c.t.Fatalf("gateway: got %q, want %q", m.Type, typ)
		}
		return m
	case <-time.After(10 * time.Second):
		c.t.Fatalf("gateway: no %q within 10 s", typ)
	}
	return protocol.Message{}
}

// fakeGateway serves the page and runs script for each player websocket.
func fakeGateway(t *testing.T, script func(c *fakeConn)) *httptest.Server {
	t.Helper()
	return fakeGatewayWith(t, script, nil)
}

// fakeGatewayWith is fakeGateway with more routes (pattern → handler), e.g. the RTT probe.
func fakeGatewayWith(t *testing.T, script func(c *fakeConn), routes map[string]http.Handler) *httptest.Server {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []*fakeConn // guarded by mu
	)
	mux := http.NewServeMux()
	mux.Handle("/", Handler())
	for pattern, h := range routes {
		mux.Handle(pattern, h)
	}
	mux.HandleFunc("/v1/play", func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := &fakeConn{t: t, ws: ws, in: make(chan protocol.Message, 64)}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		wg.Add(1)
		go func() { // the reader: owns the socket's lifetime
			defer wg.Done()
			defer close(c.in)
			for {
				_, data, err := ws.ReadMessage()
				if err != nil {
					return
				}
				m, err := protocol.ParseClient(data)
				if err != nil {
					t.Errorf("gateway: player sent an invalid message %s: %v", data, err)
					continue
				}
				c.in <- m
			}
		}()
		script(c)
		c.close()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		mu.Lock()
		for _, c := range conns {
			c.close() // ends readers and scripts still waiting on the player
		}
		mu.Unlock()
		wg.Wait()
	})
	return srv
}

func chromePath(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test: skipped in -short mode")
	}
	if p := os.Getenv("EDGEPLAY_CHROME"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	// make test installs chromium; a missing browser is a failure, not a reason to skip.
	t.Fatal("browser test: no Chromium found (apt-get install chromium, or set EDGEPLAY_CHROME); use -short to skip browser tests")
	return ""
}

// browser starts a headless Chromium tab for one test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromePath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 800),
		// Let WebRTC use plain host candidates, loopback included, as a LAN host would see them.
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,WebRtcHideLocalIpsWithMdns"),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // start the browser outside any timeout
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func waitJS(t *testing.T, ctx context.Context, expr string, timeout time.Duration) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(timeout))); err != nil {
		state := eval[string](t, ctx, `JSON.stringify({...window.edgeplay, samples: undefined})`)
		t.Fatalf("waiting for %s: %v; edgeplay: %s", expr, err, state)
	}
}

// banner returns the banner's text, or "" when it is hidden.
func banner(t *testing.T, ctx context.Context) string {
	t.Helper()
	return eval[string](t, ctx, `(b => b.hidden ? "" : b.textContent)(document.getElementById("banner"))`)
}

func TestBrowserErrors(t *testing.T) {
	tests := []struct {
		name   string
		script func(c *fakeConn)
		banner string
		reason string
	}{
		{
			name: "no free host",
			script: func(c *fakeConn) {
				c.send(protocol.Message{Type: protocol.TypeWelcome, Version: 1, Session: "s1"})
				if j := c.expect(protocol.TypeJoin); j.Game != "demo" {
					c.t.Errorf("join game %q, want demo", j.Game)
				}
				c.send(protocol.ErrorMessage(protocol.Errorf(protocol.CodeNoFreeHost, "no free host: every session slot is in use, try again shortly")))
			},
			banner: "no free host: every session slot is in use, try again shortly",
			reason: "no_free_host",
		},
		{
			// No probe endpoint here (the page's handler answers 404): join goes without rtts.
			name: "no region measured",
			script: func(c *fakeConn) {
				c.send(protocol.Message{Type: protocol.TypeWelcome, Version: 1, Session: "s6", Regions: []protocol.RegionInfo{
					{ID: "dxb-1", Name: "Dubai 1", Probe: "/v1/probe?region=dxb-1"},
				}})
				if j := c.expect(protocol.TypeJoin); len(j.RTTs) != 0 {
					c.t.Errorf("join rtts %+v, want none", j.RTTs)
				}
				// A gateway that requires RTTs refuses the join and closes.
				c.send(protocol.Message{Type: protocol.TypeError, Code: "bad_rtt", Message: "no signed RTT sample; measure again"})
			},
			banner: "no signed RTT sample; measure again",
			reason: "bad_rtt",
		},
		{
			name: "connection failed",
			script: func(c *fakeConn) {
				c.send(protocol.Message{Type: protocol.TypeWelcome, Version: 1, Session: "s2"})
				c.expect(protocol.TypeJoin)
				c.send(protocol.Message{Type: protocol.TypePlaced, Session: "s2", Host: "h1", Region: "eu"})
				c.send(protocol.Message{Type: protocol.TypeEnded, Reason: protocol.ReasonConnectionFailed})
			},
			banner: "connection failed — check that UDP traffic can reach the host",
			reason: "connection_failed",
		},
		{
			name: "socket lost",
			script: func(c *fakeConn) {
				c.send(protocol.Message{Type: protocol.TypeWelcome, Version: 1, Session: "s3"})
				c.expect(protocol.TypeJoin)
			},
			banner: "lost connection to the server",
			reason: "client",
		},
	}
	ctx := browser(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fakeGateway(t, tt.script)
			do(t, ctx, chromedp.Navigate(srv.URL+"/"), chromedp.Click(chromedp.ID("play")))
			waitJS(t, ctx, `edgeplay.state === "ended"`, 10*time.Second)
			if got := banner(t, ctx); got != tt.banner {
				t.Errorf("banner %q, want %q", got, tt.banner)
			}
			if got := eval[string](t, ctx, `edgeplay.endReason`); got != tt.reason {
				t.Errorf("endReason %q, want %q", got, tt.reason)
			}
			if eval[bool](t, ctx, `document.getElementById("play").disabled`) {
				t.Error("Play is disabled after the end")
			}
			if !eval[bool](t, ctx, `document.getElementById("stop").disabled`) {
				t.Error("Stop is enabled after the end")
			}
		})
	}
}

// fakeHost is the host's half of a session: a pion PeerConnection with the video track and the
// three data channels, streaming testdata/marker-2a5c.h264 and collecting input; with addAudio,
// an Opus track of silence too.
type fakeHost struct {
	pc      *webrtc.PeerConnection
	video   *webrtc.TrackLocalStaticSample
	control *webrtc.DataChannel // host → player JSON
	events  chan input.Event
	done    chan struct{}
	wg      sync.WaitGroup
}

func newFakeHost(t *testing.T, c *fakeConn, video bool) *fakeHost {
	t.Helper()
	var m webrtc.MediaEngine
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
		},
		PayloadType: 102,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1",
		},
		PayloadType: 111,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(&m), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	h := &fakeHost{pc: pc, events: make(chan input.Event, 256), done: make(chan struct{})}
	t.Cleanup(h.close)

	h.video, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264}, "video", "edgeplay")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(h.video); err != nil {
		t.Fatal(err)
	}
	ordered := false
	var zero uint16
	for label, init := range map[string]*webrtc.DataChannelInit{
		"input":  nil,
		"motion": {Ordered: &ordered, MaxRetransmits: &zero},
	} {
		dc, err := pc.CreateDataChannel(label, init)
		if err != nil {
			t.Fatal(err)
		}
		dc.OnMessage(func(msg webrtc.DataChannelMessage) {
			ev, err := input.Decode(msg.Data)
			if err != nil || msg.IsString {
				t.Errorf("host: bad input on %s: % x: %v", label, msg.Data, err)
				return
			}
			if want := channelOf(ev.Type); want != label {
				t.Errorf("host: %v arrived on %q, want %q", ev.Type, label, want)
			}
			select {
			case h.events <- ev:
			default:
			}
		})
	}
	if h.control, err = pc.CreateDataChannel("control", nil); err != nil {
		t.Fatal(err)
	}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			c.send(protocol.Message{Type: protocol.TypeCandidate, Candidate: &protocol.Candidate{}})
			return
		}
		init := cand.ToJSON()
		c.send(protocol.Message{Type: protocol.TypeCandidate, Candidate: &protocol.Candidate{
			Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex,
		}})
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected && video {
			h.wg.Add(1)
			go h.stream(t)
		}
	})
	return h
}

func channelOf(typ input.Type) string {
	if typ == input.MouseMove || typ == input.Wheel || typ == input.GamepadState {
		return "motion"
	}
	return "input"
}

// stream loops the test video at 30 fps until the host closes.
func (h *fakeHost) stream(t *testing.T) {
	t.Helper()
	defer h.wg.Done()
	data, err := os.ReadFile("testdata/marker-2a5c.h264")
	if err != nil {
		t.Error(err)
		return
	}
	tick := time.NewTicker(time.Second / 30)
	defer tick.Stop()
	for {
		r, err := h264reader.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Error(err)
			return
		}
		for {
			nal, err := r.NextNAL()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Error(err)
				return
			}
			var d time.Duration
			if nal.UnitType == h264reader.NalUnitTypeCodedSliceIdr || nal.UnitType == h264reader.NalUnitTypeCodedSliceNonIdr {
				select {
				case <-h.done:
					return
				case <-tick.C:
				}
				d = time.Second / 30
			}
			sample := append([]byte{0, 0, 0, 1}, nal.Data...)
			if err := h.video.WriteSample(media.Sample{Data: sample, Duration: d}); err != nil {
				return
			}
		}
	}
}

// addAudio adds an Opus track (before the offer) and streams silence on it until the host
// closes: 20 ms frames of the 3-byte Opus packet that decodes to silence.
func (h *fakeHost) addAudio(t *testing.T) {
	t.Helper()
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "edgeplay")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.pc.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-tick.C:
			}
			if err := track.WriteSample(media.Sample{Data: []byte{0xf8, 0xff, 0xfe}, Duration: 20 * time.Millisecond}); err != nil {
				return
			}
		}
	}()
}

// sendControl sends a JSON text on the control channel once it is open.
func (h *fakeHost) sendControl(t *testing.T, msg string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for h.control.ReadyState() != webrtc.DataChannelStateOpen {
		if time.Now().After(deadline) {
			t.Fatal("host: the control channel did not open within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := h.control.SendText(msg); err != nil {
		t.Fatalf("host: control: %v", err)
	}
}

func (h *fakeHost) close() {
	select {
	case <-h.done:
		return
	default:
	}
	close(h.done)
	h.wg.Wait()
	_ = h.pc.Close()
}

// next returns the next input event of type typ, skipping others (e.g. motion).
func (h *fakeHost) next(t *testing.T, typ input.Type) input.Event {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-h.events:
			if ev.Type == typ {
				return ev
			}
		case <-timeout:
			t.Fatalf("host: no %v input within 5 s", typ)
		}
	}
}

// hostScript plays gateway and host for one session: welcome, join (of game), placed, the
// offer and the trickle both ways, until leave. The fake host goes to hosts once it exists;
// left closes when the player sends leave.
type hostScript struct {
	game  string
	video bool // stream the test video once connected
	audio bool // offer an audio track too (set before run)
	hosts chan *fakeHost
	left  chan struct{}
}

func newHostScript(game string, video bool) *hostScript {
	return &hostScript{game: game, video: video, hosts: make(chan *fakeHost, 1), left: make(chan struct{})}
}

func (s *hostScript) run(t *testing.T) func(c *fakeConn) {
	t.Helper()
	return func(c *fakeConn) {
		c.send(protocol.Message{Type: protocol.TypeWelcome, Version: 1, Session: "s4"})
		if j := c.expect(protocol.TypeJoin); j.Game != s.game {
			t.Errorf("join game %q, want %q", j.Game, s.game)
		}
		c.send(protocol.Message{Type: protocol.TypePlaced, Session: "s4", Host: "h7", Region: "eu-west"})
		h := newFakeHost(t, c, s.video)
		if s.audio {
			h.addAudio(t)
		}
		s.hosts <- h
		offer, err := h.pc.CreateOffer(nil)
		if err != nil {
			t.Error(err)
			return
		}
		if err := h.pc.SetLocalDescription(offer); err != nil {
			t.Error(err)
			return
		}
		c.send(protocol.Message{Type: protocol.TypeOffer, SDP: offer.SDP})
		for m := range c.in {
			switch m.Type {
			case protocol.TypeAnswer:
				if err := h.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
					t.Errorf("host: answer: %v", err)
				}
			case protocol.TypeCandidate:
				if m.Candidate.Candidate == "" {
					continue // end of candidates
				}
				if err := h.pc.AddICECandidate(webrtc.ICECandidateInit{
					Candidate: m.Candidate.Candidate, SDPMid: m.Candidate.SDPMid,
					SDPMLineIndex: m.Candidate.SDPMLineIndex, UsernameFragment: m.Candidate.UsernameFragment,
				}); err != nil {
					t.Errorf("host: candidate %q: %v", m.Candidate.Candidate, err)
				}
			case protocol.TypeLeave:
				close(s.left)
				c.send(protocol.Message{Type: protocol.TypeEnded, Reason: protocol.ReasonPlayerLeft})
				return
			default:
				t.Errorf("gateway: unexpected %q", m.Type)
			}
		}
	}
}

func TestBrowserPlays(t *testing.T) {
	ctx := browser(t)
	script := newHostScript("kart", true) // the game comes from ?game=
	srv := fakeGateway(t, script.run(t))

	do(t, ctx, chromedp.Navigate(srv.URL+"/?game=kart"), chromedp.Click(chromedp.ID("play")))
	start := time.Now()
	waitJS(t, ctx, `edgeplay.state === "playing" && edgeplay.framesDecoded > 3`, 20*time.Second)
	t.Logf("playing after %v", time.Since(start))
	h := <-script.hosts

	if got := eval[string](t, ctx, `[edgeplay.sessionId, edgeplay.host, edgeplay.region].join(" ")`); got != "s4 h7 eu-west" {
		t.Errorf("session, host, region = %q", got)
	}
	if got := eval[string](t, ctx, `document.getElementById("status").textContent`); got != "playing" {
		t.Errorf("status %q, want playing", got)
	}
	if w, hgt := eval[int](t, ctx, `edgeplay.videoWidth`), eval[int](t, ctx, `edgeplay.videoHeight`); w != 1280 || hgt != 720 {
		t.Errorf("video %d×%d, want 1280×720", w, hgt)
	}
	if got := eval[int](t, ctx, `edgeplay.lastMarker`); got != testMarker {
		t.Errorf("lastMarker %#x, want %#x", got, testMarker)
	}

	// sendKey: a key down and up on "input", seq from 1; the marker already covers seq 1, so
	// the next frame gives a click-to-photon sample.
	if seq := eval[int](t, ctx, `edgeplay.sendKey("KeyW")`); seq != 1 {
		t.Errorf("sendKey seq %d, want 1", seq)
	}
	if ev := h.next(t, input.KeyDown); ev.Code != input.KeyW || ev.Seq != 1 {
		t.Errorf("keydown %+v, want KeyW seq 1", ev)
	}
	if ev := h.next(t, input.KeyUp); ev.Code != input.KeyW || ev.Seq != 2 {
		t.Errorf("keyup %+v, want KeyW seq 2", ev)
	}
	waitJS(t, ctx, `edgeplay.samples.length === 1 && edgeplay.samples[0] >= 0 && edgeplay.samples[0] < 1000`, 5*time.Second)

	// A real key press, with Shift held: the HID code and the modifier bit.
	do(t, ctx, chromedp.KeyEvent("A"))
	if ev := h.next(t, input.KeyDown); ev.Code != input.KeyA || ev.Mods&input.ModShift == 0 {
		t.Errorf("keydown %+v, want KeyA with shift", ev)
	}

	// A click in the middle of the picture: the position first, then the button.
	rect := eval[[]float64](t, ctx, `(r => [r.left, r.top, r.width, r.height])(document.querySelector("video").getBoundingClientRect())`)
	do(t, ctx, chromedp.MouseClickXY(rect[0]+rect[2]/2, rect[1]+rect[3]/2))
	// The move travels on "motion" and the buttons on "input", so the host may get them in
	// either order: the seqs say which the player sent first.
	var (
		move    input.Event
		buttons []input.Event
	)
	timeout := time.After(5 * time.Second)
	for move.Type == 0 || len(buttons) < 2 {
		select {
		case ev := <-h.events:
			switch {
			case ev.Type == input.MouseMove && move.Type == 0:
				move = ev
			case ev.Type == input.MouseButton:
				buttons = append(buttons, ev)
			}
		case <-timeout:
			t.Fatalf("host: after the click, move %+v and buttons %+v within 5 s", move, buttons)
		}
	}
	if d := int(move.X) - 32768; d < -200 || d > 200 {
		t.Errorf("click x %d, want about 32768", move.X)
	}
	if d := int(move.Y) - 32768; d < -200 || d > 200 {
		t.Errorf("click y %d, want about 32768", move.Y)
	}
	if ev := buttons[0]; ev.Button != input.ButtonLeft || !ev.Down || ev.Seq <= move.Seq {
		t.Errorf("button %+v after move seq %d, want left down after it", ev, move.Seq)
	}
	if ev := buttons[1]; ev.Down {
		t.Errorf("button %+v, want up", ev)
	}

	// F2 shows the stats overlay and is not sent to the game; stats arrive once a second.
	do(t, ctx, chromedp.KeyEvent("\u0802"))
	if eval[bool](t, ctx, `document.querySelector(".ep-stats").hidden`) {
		t.Error("F2 did not show the stats overlay")
	}
	waitJS(t, ctx, `edgeplay.stats.framesDecoded > 0 && edgeplay.stats.bitrateKbps > 0 && edgeplay.stats.c2pCount >= 1`, 5*time.Second)
	for len(h.events) > 0 {
		if ev := <-h.events; (ev.Type == input.KeyDown || ev.Type == input.KeyUp) && ev.Code == input.KeyF1+1 {
			t.Errorf("F2 was sent to the game: %+v", ev)
		}
	}

	// The click above locked the pointer to the picture; a user presses Esc to free it.
	eval[any](t, ctx, `document.exitPointerLock()`)
	do(t, ctx, chromedp.Click(chromedp.ID("stop")))
	select {
	case <-script.left:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not send leave")
	}
	waitJS(t, ctx, `edgeplay.state === "ended"`, 5*time.Second)
	if got := banner(t, ctx); got != "" {
		t.Errorf("banner %q after Stop, want none", got)
	}
	if eval[bool](t, ctx, `document.getElementById("play").disabled`) {
		t.Error("Play is disabled after Stop")
	}
	if !strings.Contains(eval[string](t, ctx, `document.querySelector(".ep-message").textContent`), "stopped") {
		t.Error("the player does not say it stopped")
	}
}

// A connection that carries no video must say so instead of showing a black box.
func TestBrowserNoVideo(t *testing.T) {
	ctx := browser(t)
	script := newHostScript("demo", false)
	srv := fakeGateway(t, script.run(t))
	do(t, ctx, chromedp.Navigate(srv.URL+"/"), chromedp.Click(chromedp.ID("play")))
	waitJS(t, ctx, `edgeplay.state === "playing"`, 20*time.Second)
	waitJS(t, ctx, `!document.getElementById("banner").hidden`, 15*time.Second)
	if got := banner(t, ctx); !strings.HasPrefix(got, "connected, but no video arrived within 10 s") {
		t.Errorf("banner %q", got)
	}
	if got := eval[string](t, ctx, `document.querySelector(".ep-message").textContent`); got != "no video" {
		t.Errorf("the player says %q, want \"no video\"", got)
	}
}
