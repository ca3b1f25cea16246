package encoder

import (
	"fmt"
	"slices"
	"sync"

	"github.com/edgeplay/edgeplay/game"
)

// probeResult is one codec's cached answer.
type probeResult struct {
	once  sync.Once
	names []string
}

// probes holds one probeResult per codec; the map itself is never written after init.
var probes = func() map[string]*probeResult {
	m := make(map[string]*probeResult, len(codecs))
	for _, c := range codecs {
		m[c] = new(probeResult)
	}
	return m
}()

// Probe returns the H.264 backends that work on this machine, in the order BackendAuto tries
// them: ProbeCodec(CodecH264).
func Probe() []string { return ProbeCodec(CodecH264) }

// ProbeCodec returns the backends of a codec that work on this machine, in the order
// BackendAuto tries them: each (for H.264 h264_nvenc, h264_vaapi and libx264; for VP8 libvpx)
// is opened at 256×144 and made to encode one frame. The answer is computed once per process
// and codec; callers get their own copy. An unknown codec has none.
func ProbeCodec(codec string) []string {
	p := probes[codec]
	if p == nil {
		return nil
	}
	p.once.Do(func() {
		for _, name := range codecBackends[codec] {
			if probeBackend(codec, name) == nil {
				p.names = append(p.names, name)
			}
		}
	})
	return slices.Clone(p.names)
}

// probeBackend opens a tiny encoder on one backend and encodes a grey frame with it.
func probeBackend(codec, name string) error {
	const w, h = 256, 144
	if !backendExists(name) {
		return unknownBackend(codec, name)
	}
	e, err := New(Config{Width: w, Height: h, FPS: 30, Codec: codec, Backend: name})
	if err != nil {
		return err
	}
	defer e.Close()
	f := &game.Frame{Width: w, Height: h, Stride: 4 * w, Pix: make([]byte, 4*w*h), Seq: 1}
	for i := range f.Pix {
		f.Pix[i] = 0x80
	}
	p, err := e.Encode(f, false)
	if err != nil {
		return err
	}
	if !p.Keyframe || len(p.Data) == 0 {
		return fmt.Errorf("encoder: probe %s: first packet is not a keyframe", name)
	}
	return nil
}
