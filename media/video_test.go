package media

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/webrtc/v4"

	"github.com/edgeplay/edgeplay/encoder"
	"github.com/edgeplay/edgeplay/game"
)

// fakeEstimator is a congestion controller whose estimate the test sets.
type fakeEstimator struct {
	cc.BandwidthEstimator // the real one, for everything but the estimate
	mu                    sync.Mutex
	bps                   int
}

func (f *fakeEstimator) set(bps int) { f.mu.Lock(); f.bps = bps; f.mu.Unlock() }
func (f *fakeEstimator) GetTargetBitrate() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bps
}

// fakeEncoder records what the sender asks of it and returns packets of a set size.
type fakeEncoder struct {
	log  *encoderLog
	cfg  encoder.Config
	size int
}

type encoderLog struct {
	mu       sync.Mutex
	opens    []encoder.Config
	bitrates []int
	frames   int
	forced   int
}

func (e *fakeEncoder) Encode(f *game.Frame, force bool) (encoder.Packet, error) {
	e.log.mu.Lock()
	first := e.log.frames == 0
	e.log.frames++
	if force {
		e.log.forced++
	}
	e.log.mu.Unlock()
	// Annex-B: a start code and one NAL unit of the set size (an IDR when forced or first).
	nal := byte(0x41)
	if force || first {
		nal = 0x65
	}
	data := append([]byte{0, 0, 0, 1, nal}, make([]byte, e.size)...)
	return encoder.Packet{Data: data, Keyframe: nal == 0x65}, nil
}

func (e *fakeEncoder) SetBitrate(kbps int) error {
	e.log.mu.Lock()
	e.log.bitrates = append(e.log.bitrates, kbps)
	e.log.mu.Unlock()
	return nil
}
func (e *fakeEncoder) Backend() string { return "fake" }
func (e *fakeEncoder) Close() error    { return nil }

// senderPair is a VideoSender connected over loopback to a pion receiver that accepts the
// given codecs, with a fake estimator and encoder.
type senderPair struct {
	v      *VideoSender
	est    *fakeEstimator
	enc    *encoderLog
	rxMu   sync.Mutex
	rx     int // RTP packets received
	cancel context.CancelFunc
	done   chan error
}

// newSenderPair connects a sender whose fake encoder makes frames of size bytes.
func newSenderPair(t *testing.T, receiverCodecs []Codec, size int) *senderPair {
	t.Helper()
	e, err := NewEngine(EngineConfig{UDPAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	peer, err := e.NewPeer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = peer.Close() })
	sp := &senderPair{est: &fakeEstimator{BandwidthEstimator: peer.Estimator, bps: 3_000_000}, enc: &encoderLog{}, done: make(chan error, 1)}
	peer.Estimator = sp.est
	v, err := NewVideoSender(VideoConfig{Width: 1280, Height: 720, FPS: 60, Logger: slog.New(slog.DiscardHandler)}, peer, "test")
	if err != nil {
		t.Fatal(err)
	}
	v.openEncoder = func(c encoder.Config) (videoEncoder, error) {
		sp.enc.mu.Lock()
		sp.enc.opens = append(sp.enc.opens, c)
		sp.enc.mu.Unlock()
		return &fakeEncoder{log: sp.enc, cfg: c, size: size}, nil
	}
	sp.v = v
	// A data channel, as every session has: the answer keeps its ICE parameters in that
	// section even when it rejects the video.
	if _, err := peer.CreateDataChannel("control", nil); err != nil {
		t.Fatal(err)
	}

	// The receiver.
	m := &webrtc.MediaEngine{}
	for _, c := range receiverCodecs {
		if err := m.RegisterCodec(webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: c.MimeType, ClockRate: c.ClockRate, SDPFmtpLine: c.Fmtp},
			PayloadType:        c.PayloadType,
		}, webrtc.RTPCodecTypeVideo); err != nil {
			t.Fatal(err)
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	rx, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)).
		NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rx.Close() })
	rx.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			sp.rxMu.Lock()
			sp.rx++
			sp.rxMu.Unlock()
		}
	})

	err = connect(t, peer, rx)
	if len(receiverCodecs) == 0 || receiverCodecs[0].Name == "none" {
		sp.done <- err
		return sp
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sp.cancel = cancel
	go func() { sp.done <- v.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-sp.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
	return sp
}

// play puts frames at 60 fps for d.
func (sp *senderPair) play(d time.Duration) {
	pool := game.NewFramePool(1280, 720)
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		f := pool.Get()
		f.Ready = time.Now()
		sp.v.Put(f)
		time.Sleep(time.Second / 60)
	}
}

func (sp *senderPair) received() int {
	sp.rxMu.Lock()
	defer sp.rxMu.Unlock()
	return sp.rx
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestVideoSenderNegotiatesAndAdapts(t *testing.T) {
	sp := newSenderPair(t, []Codec{VP8}, 1000)
	c, ok := sp.v.Codec()
	if !ok || c.Name != "vp8" {
		t.Fatalf("codec %+v %v, want vp8 (the receiver has no H.264)", c, ok)
	}
	// Frames flow at the top rung.
	go sp.play(600 * time.Millisecond)
	waitUntil(t, 5*time.Second, "RTP arrives", func() bool { return sp.received() > 20 })
	st := sp.v.Stats()
	if st.Codec != "vp8" || st.Width != 1280 || st.Height != 720 || st.FramesEncoded == 0 {
		t.Fatalf("stats %+v, want vp8 1280×720 frames", st)
	}
	sp.enc.mu.Lock()
	first := sp.enc.opens[0]
	sp.enc.mu.Unlock()
	if first.Codec != "vp8" || first.Width != 1280 || first.SrcWidth != 1280 || first.BitrateKbps != 2700 {
		t.Errorf("first encoder %+v, want vp8 1280×720 at 2700 kbit/s (90 %% of 3 Mbit/s)", first)
	}

	// The link collapses to 1 Mbit/s: after DownAfter the encoder reopens at 640×360.
	sp.est.set(1_000_000)
	sp.play(time.Second)
	sp.enc.mu.Lock()
	opens := append([]encoder.Config(nil), sp.enc.opens...)
	sp.enc.mu.Unlock()
	if len(opens) != 2 || opens[1].Width != 640 || opens[1].Height != 360 || opens[1].SrcWidth != 1280 || opens[1].BitrateKbps != 900 {
		t.Fatalf("encoders opened %+v, want a second at 640×360 from 1280×720 frames at 900 kbit/s", opens)
	}
	if st := sp.v.Stats(); st.Switches != 1 || st.Width != 640 || st.TargetKbps != 900 || st.EstimateKbps != 1000 {
		t.Errorf("stats after the fall %+v", st)
	}
}

func TestVideoSenderSkipsFramesBehindABacklog(t *testing.T) {
	sp := newSenderPair(t, []Codec{H264}, 60_000) // 60 kB frames at 150 kbit/s: the pacer cannot keep up
	sp.est.set(100_000)
	sp.v.peer.Pacer.SetTargetBitrate(100_000)
	sp.play(time.Second)
	st := sp.v.Stats()
	t.Logf("stats %+v", st)
	if st.FramesSkipped == 0 {
		t.Error("no frame was skipped behind the pacer's backlog")
	}
	if st.PacerDelay > MaxQueueDelay+50*time.Millisecond {
		t.Errorf("pacer delay %v over its bound", st.PacerDelay)
	}
}

func TestVideoSenderNoCommonCodec(t *testing.T) {
	none := Codec{Name: "none", MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, PayloadType: 98}
	sp := newSenderPair(t, []Codec{none}, 1000)
	err := <-sp.done
	if _, ok := sp.v.Codec(); ok {
		t.Fatal("a codec was bound although the receiver accepts none of the offered")
	}
	// pion either refuses the answer (ErrNoCommonCodec from Bind) or leaves the video
	// unnegotiated; the session reads both as "no common codec".
	if err != nil && !errors.Is(err, ErrNoCommonCodec) {
		t.Errorf("SetRemoteDescription: %v, want nil or ErrNoCommonCodec", err)
	}
}
