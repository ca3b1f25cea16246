package encoder

import (
	"errors"
	"math"
	"testing"
)

// sine fills pcm (interleaved stereo) with a tone of freq Hz at amplitude amp, continuing from
// sample index start.
func sine(pcm []int16, start int, freq, amp float64) {
	for i := 0; i < len(pcm)/2; i++ {
		v := int16(amp * math.Sin(2*math.Pi*freq*float64(start+i)/OpusRate))
		pcm[2*i], pcm[2*i+1] = v, v
	}
}

func rms(pcm []int16) float64 {
	var sum float64
	for _, v := range pcm {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(len(pcm)))
}

func TestOpusRoundTrip(t *testing.T) {
	for _, ms := range []int{10, 20} {
		enc, err := NewOpus(OpusConfig{FrameMs: ms})
		if err != nil {
			t.Fatal(err)
		}
		dec, err := NewOpusDecoder()
		if err != nil {
			t.Fatal(err)
		}
		n := enc.FrameSamples()
		if n != OpusRate*ms/1000 {
			t.Fatalf("%d ms: %d samples per frame", ms, n)
		}
		in := make([]int16, 2*n)
		out := make([]int16, 2*5760)
		var decoded []int16
		var bytes int
		frames := 1000 / ms // one second
		for f := range frames {
			sine(in, f*n, 440, 8000)
			pkt, err := enc.Encode(in)
			if err != nil {
				t.Fatal(err)
			}
			bytes += len(pkt)
			got, err := dec.Decode(pkt, out)
			if err != nil {
				t.Fatal(err)
			}
			if got != n {
				t.Fatalf("decoded %d samples, want %d", got, n)
			}
			decoded = append(decoded, out[:2*got]...)
		}
		// The tone's RMS is amp/√2 ≈ 5657; after the codec's start-up (lookahead) the decoded
		// signal must carry about that energy.
		tail := decoded[len(decoded)/2:]
		if r := rms(tail); r < 4500 || r > 7000 {
			t.Errorf("%d ms frames: decoded RMS %.0f, want about 5657", ms, r)
		}
		kbps := float64(bytes*8) / 1000
		if kbps < 20 || kbps > 130 {
			t.Errorf("%d ms frames: %.1f kbit/s for a 96 kbit/s encoder", ms, kbps)
		}
		t.Logf("%d ms frames: %.1f kbit/s, lookahead %d samples", ms, kbps, enc.Lookahead())
		enc.Close()
		dec.Close()
	}
}

// In silence the encoder switches to DTX (packets of at most two bytes, which need not be
// sent) in the modes where libopus 1.3 has it: SILK and hybrid, which it uses when it plans FEC
// for loss. Without loss it codes with CELT, whose silent frames are three bytes.
func TestOpusSilence(t *testing.T) {
	for _, c := range []struct {
		loss, maxBytes, wantShort int
	}{{loss: 10, maxBytes: 2, wantShort: 80}, {loss: 0, maxBytes: 3, wantShort: 95}} {
		enc, err := NewOpus(OpusConfig{LossPct: c.loss})
		if err != nil {
			t.Fatal(err)
		}
		silence := make([]int16, 2*enc.FrameSamples())
		short := 0
		for range 100 { // one second
			pkt, err := enc.Encode(silence)
			if err != nil {
				t.Fatal(err)
			}
			if len(pkt) <= c.maxBytes {
				short++
			}
		}
		enc.Close()
		if short < c.wantShort {
			t.Errorf("expected loss %d %%: %d of 100 silent frames were ≤ %d bytes, want ≥ %d",
				c.loss, short, c.maxBytes, c.wantShort)
		}
	}
}

// A lost frame is concealed from FEC or extrapolation: the decoder still gives a full frame.
func TestOpusDecoderConceals(t *testing.T) {
	dec, err := NewOpusDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	out := make([]int16, 2*480)
	n, err := dec.Decode(nil, out)
	if err != nil || n != 480 {
		t.Fatalf("conceal: %d, %v", n, err)
	}
	if _, err := dec.Decode([]byte{0xff, 0xff, 0xff}, out); err == nil {
		t.Error("a corrupt packet decoded without an error")
	}
}

func TestOpusConfigErrors(t *testing.T) {
	for _, cfg := range []OpusConfig{{FrameMs: 5}, {FrameMs: 40}, {Kbps: 5}, {Kbps: 600}, {LossPct: -1}, {LossPct: 101}} {
		if _, err := NewOpus(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", cfg, err)
		}
	}
	enc, err := NewOpus(OpusConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Encode(make([]int16, 10)); !errors.Is(err, ErrFrame) {
		t.Errorf("short frame: %v, want ErrFrame", err)
	}
	if err := enc.SetLossPercent(30); err != nil {
		t.Error(err)
	}
	enc.Close()
	enc.Close()
	if _, err := enc.Encode(make([]int16, 960)); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
	if err := enc.SetLossPercent(1); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}

// BenchmarkOpusEncode: one 10 ms stereo frame of a tone with noise; ns/op is the CPU per 10 ms of
// a session's sound.
func BenchmarkOpusEncode(b *testing.B) {
	enc, err := NewOpus(OpusConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	frames := make([][]int16, 100)
	for i := range frames {
		frames[i] = make([]int16, 2*enc.FrameSamples())
		sine(frames[i], i*enc.FrameSamples(), 330, 6000)
		for j := range frames[i] {
			frames[i][j] += int16((j*7919+i*104729)%2001 - 1000)
		}
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := enc.Encode(frames[i%len(frames)]); err != nil {
			b.Fatal(err)
		}
	}
}

// Under loss the encoder adds FEC (SILK or hybrid mode), and DTX must still not mistake game
// sound for silence: a tone with a tremolo and some noise keeps its energy.
func TestOpusUnderLossKeepsSound(t *testing.T) {
	for _, loss := range []int{0, 5, 10, 30} {
		enc, err := NewOpus(OpusConfig{LossPct: loss})
		if err != nil {
			t.Fatal(err)
		}
		dec, err := NewOpusDecoder()
		if err != nil {
			t.Fatal(err)
		}
		n := enc.FrameSamples()
		in := make([]int16, 2*n)
		out := make([]int16, 2*5760)
		var inAll, outAll []int16
		for f := range 200 {
			for i := range n {
				k := f*n + i
				trem := 0.6 + 0.4*math.Sin(2*math.Pi*4*float64(k)/OpusRate)
				v := trem*6000*math.Sin(2*math.Pi*330*float64(k)/OpusRate) + float64((k*7919)%801-400)
				in[2*i], in[2*i+1] = int16(v), int16(v)
			}
			pkt, err := enc.Encode(in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := dec.Decode(pkt, out)
			if err != nil {
				t.Fatal(err)
			}
			inAll = append(inAll, in...)
			outAll = append(outAll, out[:2*got]...)
		}
		ri, ro := rms(inAll[len(inAll)/2:]), rms(outAll[len(outAll)/2:])
		t.Logf("loss %d %%: input RMS %.0f, decoded %.0f", loss, ri, ro)
		if ro < 0.7*ri || ro > 1.3*ri {
			t.Errorf("expected loss %d %%: decoded RMS %.0f, input %.0f", loss, ro, ri)
		}
		enc.Close()
		dec.Close()
	}
}
