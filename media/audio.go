package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/edgeplay/edgeplay/encoder"
	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/internal/metrics"
)

// Opus as offered: payload type 111 (what browsers use), 48 kHz stereo, with the receiver told
// that the stream uses in-band FEC and DTX (RFC 7587).
const (
	opusPayloadType = 111
	opusFmtp        = "minptime=10;useinbandfec=1;usedtx=1;stereo=1;sprop-stereo=1"
)

// audioBuffer is how much sound Put keeps for the encoder: the game hands over sound once per
// frame, and the encoder takes it 10 or 20 ms at a time. Beyond this the oldest is dropped
// (the encoder fell behind: it should never happen).
const audioBuffer = 200 * time.Millisecond

// audioResync: when a chunk's Start is this far from where the sound so far ends, the sender
// treats it as a break (the game stalled, or skipped ahead) and restarts its timeline there,
// so that RTP time keeps following the game's clock (and so the video's).
const audioResync = 50 * time.Millisecond

// AudioConfig configures an audio sender.
type AudioConfig struct {
	FrameMs int          // Opus frame: 10 or 20 ms; default encoder.DefaultOpusFrameMs
	Kbps    int          // Opus bit rate; default encoder.DefaultOpusKbps
	Host    string       // metrics label
	Logger  *slog.Logger // default slog.Default()
}

// AudioSender streams a game's sound to one player as Opus: Put (from the game's loop) → a
// sample buffer → Run (encoder → RTP). Its RTP timestamps follow the chunks' Start times, the
// clock the video's frames are stamped with, so that sound and picture stay in step.
//
// Put may be called from any goroutine and never blocks. Run owns the encoder; it returns when
// ctx is done (nil) or on a failure, and stops the RTP sender as it returns.
type AudioSender struct {
	cfg    AudioConfig
	track  *webrtc.TrackLocalStaticRTP
	sender *webrtc.RTPSender
	log    *slog.Logger

	mu       sync.Mutex
	buf      []int16   // guarded by mu: a ring of interleaved samples
	head, n  int       // guarded by mu: ring start and length, in values (not frames)
	bufStart time.Time // guarded by mu: where the oldest buffered sample belongs, on the game's clock
	breaks   int       // guarded by mu: timeline restarts not yet seen by Run
	ready    chan struct{}

	stopping atomic.Bool
	declined atomic.Bool // the player's answer refused the audio: nothing more is encoded
	peer     *Peer
	// Counters, readable at any time (Stats).
	frames, dtx, bytes, dropped, resyncs atomic.Uint64
	latencyNanos                         atomic.Int64 // sum over the frames sent
	lossPct                              atomic.Int32 // from the last receiver report
}

// AudioStats are an audio sender's counters.
type AudioStats struct {
	Frames  uint64 // Opus frames encoded
	DTX     uint64 // of them, silent frames not sent (discontinuous transmission)
	Bytes   uint64 // Opus payload bytes sent
	Dropped uint64 // samples dropped because the encoder fell behind (stereo pairs)
	Resyncs uint64 // breaks in the game's sound the timeline was restarted at
	LossPct int    // packet loss from the player's last receiver report
	// Latency is the mean time from where a frame's first sample belongs on the game's clock
	// to its packet being handed to the pacer: what the audio path adds before the network.
	// Against the video's latency (frame ready → sent) it gives the A/V offset the player's
	// sender reports imply (both are stamped at send time).
	Latency time.Duration
}

// NewAudioSender adds a send-only Opus track to the peer's PeerConnection. id is the media
// stream id (the session's, the same as the video's: browsers synchronise tracks of one
// stream).
func NewAudioSender(cfg AudioConfig, peer *Peer, id string) (*AudioSender, error) {
	if cfg.FrameMs == 0 {
		cfg.FrameMs = encoder.DefaultOpusFrameMs
	}
	if cfg.Kbps == 0 {
		cfg.Kbps = encoder.DefaultOpusKbps
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.FrameMs != 10 && cfg.FrameMs != 20 {
		return nil, fmt.Errorf("%w: audio frame %d ms, want 10 or 20", ErrConfig, cfg.FrameMs)
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: encoder.OpusRate, Channels: encoder.OpusChannels, SDPFmtpLine: opusFmtp,
	}, "audio", id)
	if err != nil {
		return nil, fmt.Errorf("audio track: %w", err)
	}
	tr, err := peer.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return nil, fmt.Errorf("add audio track: %w", err)
	}
	return &AudioSender{
		cfg: cfg, track: track, sender: tr.Sender(), log: cfg.Logger, peer: peer,
		buf:   make([]int16, int(audioBuffer.Seconds()*encoder.OpusRate)*encoder.OpusChannels),
		ready: make(chan struct{}, 1),
	}, nil
}

// Put copies a chunk of the game's sound into the sender's buffer. It never blocks.
func (a *AudioSender) Put(c game.AudioChunk) {
	if a.declined.Load() {
		return
	}
	pcm := c.PCM[:len(c.PCM)/game.AudioChannels*game.AudioChannels]
	if len(pcm) == 0 {
		return
	}
	a.mu.Lock()
	end := a.bufStart.Add(samplesDur(a.n / game.AudioChannels))
	switch {
	case a.bufStart.IsZero():
		a.bufStart = c.Start
	case c.Start.Sub(end).Abs() > audioResync:
		// A break: what is buffered (less than a frame, as a rule) goes, and the timeline
		// restarts at the chunk.
		a.dropped.Add(uint64(a.n / game.AudioChannels))
		a.head, a.n = 0, 0
		a.bufStart = c.Start
		a.breaks++
	}
	if over := a.n + len(pcm) - len(a.buf); over > 0 {
		// The encoder fell behind (or the chunk is longer than the buffer): drop the oldest
		// samples, buffered ones first.
		fromBuf := min(over, a.n)
		a.head = (a.head + fromBuf) % len(a.buf)
		a.n -= fromBuf
		pcm = pcm[over-fromBuf:]
		a.bufStart = a.bufStart.Add(samplesDur(over / game.AudioChannels))
		a.dropped.Add(uint64(over / game.AudioChannels))
	}
	for len(pcm) > 0 {
		tail := (a.head + a.n) % len(a.buf)
		k := copy(a.buf[tail:], pcm)
		a.n += k
		pcm = pcm[k:]
	}
	a.mu.Unlock()
	select {
	case a.ready <- struct{}{}:
	default:
	}
}

// samplesDur is the duration of n samples (per channel) at the audio rate.
func samplesDur(n int) time.Duration {
	return time.Duration(n) * time.Second / game.AudioRate
}

// take copies one frame of samples out of the buffer into dst, if a whole frame is there, and
// returns where the frame belongs on the game's clock and whether the timeline restarted since
// the last call.
func (a *AudioSender) take(dst []int16) (start time.Time, ok, restarted bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	restarted = a.breaks > 0
	a.resyncs.Add(uint64(a.breaks))
	a.breaks = 0
	if a.n < len(dst) {
		return time.Time{}, false, restarted
	}
	k := copy(dst, a.buf[a.head:min(len(a.buf), a.head+len(dst))])
	copy(dst[k:], a.buf[:len(dst)-k])
	a.head = (a.head + len(dst)) % len(a.buf)
	a.n -= len(dst)
	start = a.bufStart
	a.bufStart = a.bufStart.Add(samplesDur(len(dst) / game.AudioChannels))
	return start, true, restarted
}

// Decline takes the audio track out of the offer's transceiver before an answer that refuses
// it is applied (a player without Opus, or one that wants no sound): pion would otherwise
// fail the answer for the track it cannot start. Run stops encoding. Call it on the goroutine
// that applies the answer, before SetRemoteDescription.
func (a *AudioSender) Decline() error {
	if a.declined.Swap(true) {
		return nil
	}
	a.log.Info("the player declined the audio")
	select {
	case a.ready <- struct{}{}: // wake Run to notice
	default:
	}
	return a.peer.RemoveTrack(a.sender)
}

// Declined reports whether Decline was called.
func (a *AudioSender) Declined() bool { return a.declined.Load() }

// AnswerAcceptsOpus reports whether an SDP answer accepts an audio section with Opus. An
// answer that cannot be parsed counts as accepting (applying it will report the error).
func AnswerAcceptsOpus(answer string) bool {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(answer); err != nil {
		return true
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "audio" || m.MediaName.Port.Value == 0 {
			continue
		}
		for _, a := range m.Attributes {
			if a.Key == "rtpmap" && strings.Contains(strings.ToLower(a.Value), "opus/48000") {
				return true
			}
		}
	}
	return false
}

// Stats returns the sender's counters.
func (a *AudioSender) Stats() AudioStats {
	st := AudioStats{
		Frames: a.frames.Load(), DTX: a.dtx.Load(), Bytes: a.bytes.Load(), Dropped: a.dropped.Load(),
		Resyncs: a.resyncs.Load(), LossPct: int(a.lossPct.Load()),
	}
	if sent := st.Frames - st.DTX; sent > 0 {
		st.Latency = time.Duration(a.latencyNanos.Load() / int64(sent))
	}
	return st
}

// Run encodes and sends the buffered sound until ctx is done.
func (a *AudioSender) Run(ctx context.Context) error {
	enc, err := encoder.NewOpus(encoder.OpusConfig{FrameMs: a.cfg.FrameMs, Kbps: a.cfg.Kbps})
	if err != nil {
		return fmt.Errorf("open opus encoder: %w", err)
	}
	defer enc.Close()
	var rtcpDone sync.WaitGroup
	rtcpDone.Go(a.readRTCP)
	defer func() {
		a.stopping.Store(true)
		_ = a.sender.Stop()
		rtcpDone.Wait()
	}()

	h := a.cfg.Host
	mFrames, mBytes, mDTX := metrics.AudioFrames.WithLabelValues(h), metrics.AudioBytes.WithLabelValues(h), metrics.AudioDTXFrames.WithLabelValues(h)
	mLatency := metrics.AudioLatencySeconds.WithLabelValues(h)
	a.log.Info("audio started", "codec", "opus", "frame_ms", a.cfg.FrameMs, "kbps", a.cfg.Kbps)

	samples := enc.FrameSamples()
	pcm := make([]int16, samples*encoder.OpusChannels)
	pkt := rtp.Packet{Header: rtp.Header{
		Version: 2, PayloadType: opusPayloadType,
		SequenceNumber: uint16(rand.Uint32()), Timestamp: rand.Uint32(),
	}}
	var base time.Time // where RTP time tsBase belongs on the game's clock
	tsBase := pkt.Timestamp
	first, lastLoss := true, int32(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.ready:
		}
		if a.declined.Load() {
			a.log.Debug("audio stopped: declined")
			<-ctx.Done()
			return nil
		}
		for {
			start, ok, restarted := a.take(pcm)
			if restarted {
				first = true // a new talk spurt: the receiver does not stretch the gap
			}
			if !ok {
				break
			}
			switch {
			case base.IsZero():
				base = start
			case start.Before(base): // a game clock that went back: carry on after the last frame
				tsBase, base = pkt.Timestamp+uint32(samples), start
			}
			// RTP time follows the game's clock, as the video's does, breaks included.
			pkt.Timestamp = tsBase + rtpTime(start.Sub(base), encoder.OpusRate)
			if l := a.lossPct.Load(); l != lastLoss {
				lastLoss = l
				if err := enc.SetLossPercent(int(l)); err != nil {
					return err
				}
			}
			data, err := enc.Encode(pcm)
			if err != nil {
				return err
			}
			a.frames.Add(1)
			mFrames.Inc()
			if len(data) <= 2 { // DTX: nothing worth sending
				a.dtx.Add(1)
				mDTX.Inc()
				first = true
				continue
			}
			pkt.Marker = first // the first packet of a talk spurt (RFC 7587)
			first = false
			pkt.Payload = data
			if err := a.track.WriteRTP(&pkt); err != nil && !errors.Is(err, context.Canceled) {
				a.log.Debug("write audio rtp", "err", err)
			}
			lat := time.Since(start)
			a.latencyNanos.Add(int64(lat))
			mLatency.Observe(lat.Seconds())
			a.bytes.Add(uint64(len(data)))
			mBytes.Add(float64(len(data)))
			pkt.SequenceNumber++
		}
	}
}

// readRTCP takes the player's receiver reports for the audio stream: their loss fraction sets
// how much FEC the encoder adds. It returns when the sender stops.
func (a *AudioSender) readRTCP() {
	failures := 0
	for {
		pkts, _, err := a.sender.ReadRTCP()
		if err != nil {
			if a.stopping.Load() || errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) {
				return
			}
			failures++
			if failures > maxRTCPFailures {
				a.log.Warn("audio rtcp: giving up", "err", err)
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		failures = 0
		for _, p := range pkts {
			rr, ok := p.(*rtcp.ReceiverReport)
			if !ok {
				continue
			}
			for _, r := range rr.Reports {
				a.lossPct.Store(int32(r.FractionLost) * 100 / 256)
			}
		}
	}
}
