package encoder

import (
	"fmt"
	"slices"
	"sync"

	"github.com/edgeplay/edgeplay/game"
)

var (
	probeOnce sync.Once
	probed    []string
)

// Probe returns the backends that work on this machine, in the order BackendAuto tries them:
// each of h264_nvenc, h264_vaapi and libx264 is opened at 256×144 and made to encode one
// frame. The answer is computed once per process; callers get their own copy.
func Probe() []string {
	probeOnce.Do(func() {
		for _, name := range autoOrder {
			if probeBackend(name) == nil {
				probed = append(probed, name)
			}
		}
	})
	return slices.Clone(probed)
}

// probeBackend opens a tiny encoder on one backend and encodes a grey frame with it.
func probeBackend(name string) error {
	const w, h = 256, 144
	if !encoderExists(name) {
		return unknownBackend(name)
	}
	e, err := New(Config{Width: w, Height: h, FPS: 30, Backend: name})
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
