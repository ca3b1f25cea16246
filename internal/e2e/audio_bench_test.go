package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/internal/testplayer"
)

// BenchmarkAudioPath plays the demo with a Go player for 10 s on loopback and reports what the
// audio path adds before the network, beside the video's: the mean time from where an Opus
// frame's first sample belongs on the game's clock to its packet being handed to the pacer,
// and the median frame ready → sent. Both streams' sender reports are stamped at send time,
// so their difference is the A/V offset the player's sender reports imply (positive: sound
// later than picture).
func BenchmarkAudioPath(b *testing.B) {
	a := startApp(b, appOpts{})
	defer func() { _ = a.Close(ctxFor(b, 10*time.Second)) }()
	for b.Loop() {
		p, err := testplayer.Dial(ctxFor(b, 5*time.Second), a.URL(), testplayer.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Play(ctxFor(b, 15*time.Second)); err != nil {
			b.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		s := a.Hosts()[0].Sessions()[0]
		lat := a.Hosts()[0].LatencySamples()
		p.Close()
		if len(lat) == 0 || s.Stats.Audio.Frames == 0 {
			b.Fatalf("no samples: %d video latencies, %d audio frames", len(lat), s.Stats.Audio.Frames)
		}
		slices.Sort(lat)
		video := lat[len(lat)/2]
		audio := s.Stats.Audio.Latency
		sent := s.Stats.Audio.Frames - s.Stats.Audio.DTX
		b.ReportMetric(float64(audio.Microseconds())/1000, "audio-ms")
		b.ReportMetric(float64(video.Microseconds())/1000, "video-p50-ms")
		b.ReportMetric(float64((audio-video).Microseconds())/1000, "av-offset-ms")
		b.ReportMetric(float64(s.Stats.Audio.Bytes*8)/1000/10, "audio-kbit/s")
		b.ReportMetric(100*float64(s.Stats.Audio.DTX)/float64(s.Stats.Audio.Frames), "dtx-%")
		b.Logf("audio: %d frames, %d sent, %d dropped, %d resyncs; packets received by the player: %d",
			s.Stats.Audio.Frames, sent, s.Stats.Audio.Dropped, s.Stats.Audio.Resyncs, p.AudioPackets())
	}
}
