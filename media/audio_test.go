package media

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/edgeplay/edgeplay/encoder"
	"github.com/edgeplay/edgeplay/game"
)

// newRing is an AudioSender with only its buffer: enough for Put and take.
func newRing(d time.Duration) *AudioSender {
	return &AudioSender{
		buf:   make([]int16, int(d.Seconds()*game.AudioRate)*game.AudioChannels),
		ready: make(chan struct{}, 1),
	}
}

// counting returns a chunk of n stereo samples whose values count up from *next.
func counting(next *int16, n int) []int16 {
	pcm := make([]int16, 2*n)
	for i := range n {
		pcm[2*i], pcm[2*i+1] = *next, *next
		*next++
	}
	return pcm
}

func TestAudioBufferKeepsOrderAndTime(t *testing.T) {
	a := newRing(50 * time.Millisecond) // 2400 samples: the ring wraps often
	t0 := time.Unix(1000, 0)
	var next, want int16
	dst := make([]int16, 2*480)
	at := t0
	for i := range 30 { // 30 chunks of 800 samples (a 60 fps game) = 24000 samples
		start := t0.Add(time.Duration(i) * samplesDur(800))
		a.Put(game.AudioChunk{PCM: counting(&next, 800), Start: start})
		for {
			got, ok, restarted := a.take(dst)
			if restarted {
				t.Fatal("a continuous stream restarted")
			}
			if !ok {
				break
			}
			if d := got.Sub(at).Abs(); d > time.Microsecond {
				t.Fatalf("frame starts at %v, want %v", got.Sub(t0), at.Sub(t0))
			}
			at = at.Add(10 * time.Millisecond)
			for j := 0; j < len(dst); j += 2 {
				if dst[j] != want || dst[j+1] != want {
					t.Fatalf("sample %d is %d/%d, want %d", want, dst[j], dst[j+1], want)
				}
				want++
			}
		}
	}
	if want != 24000 {
		t.Errorf("took %d samples, want 24000", want)
	}
	if st := a.Stats(); st.Dropped != 0 || st.Resyncs != 0 {
		t.Errorf("stats %+v, want nothing dropped", st)
	}
}

func TestAudioBufferBreakAndOverflow(t *testing.T) {
	a := newRing(50 * time.Millisecond)
	t0 := time.Unix(1000, 0)
	var next int16
	dst := make([]int16, 2*480)
	a.Put(game.AudioChunk{PCM: counting(&next, 800), Start: t0})
	if _, ok, _ := a.take(dst); !ok {
		t.Fatal("no frame after 800 samples")
	}
	// The game stalls for 300 ms: the 320 samples left go, the timeline restarts.
	resume := t0.Add(samplesDur(800) + 300*time.Millisecond)
	a.Put(game.AudioChunk{PCM: counting(&next, 800), Start: resume})
	got, ok, restarted := a.take(dst)
	if !ok || !restarted || !got.Equal(resume) {
		t.Fatalf("after a break: start %v ok %v restarted %v, want %v true true", got.Sub(t0), ok, restarted, resume.Sub(t0))
	}
	if dst[0] != 800 {
		t.Errorf("first sample after the break is %d, want 800", dst[0])
	}
	if st := a.Stats(); st.Dropped != 320 || st.Resyncs != 1 {
		t.Errorf("stats %+v, want 320 dropped, 1 resync", st)
	}
	// Nobody takes: the ring (2400 samples) keeps the newest, and time moves with what went.
	for range 5 {
		end := a.bufStart.Add(samplesDur(a.n / 2))
		a.Put(game.AudioChunk{PCM: counting(&next, 800), Start: end})
	}
	if a.n != len(a.buf) {
		t.Fatalf("ring holds %d values, want full %d", a.n, len(a.buf))
	}
	got, _, _ = a.take(dst)
	wantFirst := next - 2400
	if dst[0] != wantFirst {
		t.Errorf("oldest kept sample %d, want %d", dst[0], wantFirst)
	}
	if want := resume.Add(samplesDur(int(wantFirst) - 800)); got.Sub(want).Abs() > time.Microsecond {
		t.Errorf("oldest kept sample belongs at %v, want %v", got.Sub(t0), want.Sub(t0))
	}
}

func TestAudioPutDoesNotAllocate(t *testing.T) {
	a := newRing(200 * time.Millisecond)
	pcm := make([]int16, 1600)
	dst := make([]int16, 960)
	start := time.Unix(1000, 0)
	allocs := testing.AllocsPerRun(100, func() {
		a.Put(game.AudioChunk{PCM: pcm, Start: start})
		start = start.Add(samplesDur(800))
		for {
			if _, ok, _ := a.take(dst); !ok {
				break
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per chunk, want 0", allocs)
	}
}

// rxPacket is one RTP packet the test receiver got, with its decoded sound.
type rxPacket struct {
	h   rtp.Header
	pcm []int16
}

// TestAudioSenderStreamsOpus plays a tone through a real PeerConnection on loopback to a pion
// receiver: Opus packets arrive, 10 ms apart in RTP time, and decode back to the tone; a break
// in the game's sound moves RTP time by the break and starts a talk spurt.
func TestAudioSenderStreamsOpus(t *testing.T) {
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
	a, err := NewAudioSender(AudioConfig{Logger: slog.New(slog.DiscardHandler)}, peer, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := peer.CreateDataChannel("control", nil); err != nil {
		t.Fatal(err)
	}

	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
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
	dec, err := encoder.NewOpusDecoder()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dec.Close)
	var mu sync.Mutex
	var got []rxPacket
	var mime string
	rx.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		mu.Lock()
		mime = tr.Codec().MimeType
		mu.Unlock()
		out := make([]int16, 2*5760)
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			n, err := dec.Decode(p.Payload, out)
			if err != nil {
				t.Errorf("decode: %v", err)
				return
			}
			mu.Lock()
			got = append(got, rxPacket{h: p.Header, pcm: append([]int16(nil), out[:2*n]...)})
			mu.Unlock()
		}
	})
	if err := connect(t, peer, rx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the connection", func() bool {
		return peer.ConnectionState() == webrtc.PeerConnectionStateConnected
	})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})

	// 1 s of a 440 Hz tone in 800-sample chunks (a 60 fps game), then a 500 ms break, then
	// 0.5 s more.
	k := 0
	start := time.Now()
	play := func(chunks int) {
		for range chunks {
			pcm := make([]int16, 1600)
			for i := range 800 {
				v := int16(8000 * math.Sin(2*math.Pi*440*float64(k)/game.AudioRate))
				pcm[2*i], pcm[2*i+1] = v, v
				k++
			}
			a.Put(game.AudioChunk{PCM: pcm, Start: start})
			start = start.Add(samplesDur(800))
			time.Sleep(samplesDur(800))
		}
	}
	play(60)
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	before := len(got)
	mu.Unlock()
	start = start.Add(500 * time.Millisecond)
	play(30)
	waitUntil(t, 3*time.Second, "the sound after the break", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= before+45
	})

	mu.Lock()
	defer mu.Unlock()
	if mime != webrtc.MimeTypeOpus {
		t.Fatalf("track codec %q, want opus", mime)
	}
	if before < 95 {
		t.Errorf("%d packets for 1 s of sound, want 100", before)
	}
	var sum float64
	var n int
	for i, p := range got {
		if i > 0 && i != before {
			if d := p.h.Timestamp - got[i-1].h.Timestamp; d != 480 {
				t.Errorf("packet %d: RTP time +%d, want +480", i, d)
			}
			if p.h.Marker {
				t.Errorf("packet %d: marker set inside a talk spurt", i)
			}
		}
		if i > 10 && i < before {
			for _, v := range p.pcm {
				sum += float64(v) * float64(v)
				n++
			}
		}
	}
	if rms := math.Sqrt(sum / float64(n)); rms < 4500 || rms > 7000 {
		t.Errorf("decoded RMS %.0f, want about 5657 (the tone's)", rms)
	}
	if !got[0].h.Marker || !got[before].h.Marker {
		t.Errorf("markers: first packet %v, first after the break %v; want both set", got[0].h.Marker, got[before].h.Marker)
	}
	// From the last packet before the break to the first after it: the last frame (10 ms) and
	// the break (500 ms). (60 chunks of 800 samples are exactly 100 frames: nothing is left
	// over to drop.)
	jump := got[before].h.Timestamp - got[before-1].h.Timestamp
	if want := uint32(480 + 24000); jump < want-2 || jump > want+2 {
		t.Errorf("RTP time across the break +%d, want +%d", jump, want)
	}
	if st := a.Stats(); st.Resyncs != 1 || st.Frames < 145 {
		t.Errorf("stats %+v, want 1 resync and ≥ 145 frames", st)
	}
}

// connect does non-trickle signalling between a host peer (offerer) and a receiver: offer and
// answer with every candidate in them. It returns the error of applying the answer on the host.
func connect(t *testing.T, peer *Peer, rx *webrtc.PeerConnection) error {
	t.Helper()
	gathered := webrtc.GatheringCompletePromise(peer.PeerConnection)
	offer, err := peer.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := peer.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if err := rx.SetRemoteDescription(*peer.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	answer, err := rx.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	rxGathered := webrtc.GatheringCompletePromise(rx)
	if err := rx.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-rxGathered
	return peer.SetRemoteDescription(*rx.LocalDescription())
}
