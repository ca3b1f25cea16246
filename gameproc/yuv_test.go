package gameproc

import (
	"bytes"
	"testing"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/gameproto"
	"github.com/edgeplay/edgeplay/input"
)

// palette709 is testgame's palette in BT.709, limited range, as Y, U, V: 16 + 219·Y' and
// 128 + 224·Pb, 128 + 224·Pr of the RGB colours in palette, rounded.
var palette709 = [][3]byte{{63, 102, 240}, {173, 42, 26}, {32, 240, 118}, {219, 16, 138}}

func TestPoolFormat(t *testing.T) {
	tests := []struct {
		name string
		caps uint32
		want gameproto.PixelFormat
	}{
		{"RGBA only", gameproto.CapInput | gameproto.CapAudio, gameproto.RGBA},
		{"I420", gameproto.CapI420, gameproto.I420},
		{"NV12", gameproto.CapNV12 | gameproto.CapInput, gameproto.NV12},
		{"both: I420", gameproto.CapI420 | gameproto.CapNV12, gameproto.I420},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := poolFormat(tt.caps); got != tt.want {
				t.Errorf("poolFormat(%#x) = %s, want %s", tt.caps, got, tt.want)
			}
		})
	}
}

// A YUV pool's slots are lent as YUV frames whose planes are the slot's own (no copy).
func TestSlotsLendYUV(t *testing.T) {
	for _, tt := range []struct {
		pool   gameproto.PixelFormat
		want   game.PixelFormat
		planes int
	}{
		{gameproto.I420, game.I420, 3},
		{gameproto.NV12, game.NV12, 2},
	} {
		t.Run(tt.want.String(), func(t *testing.T) {
			pool, err := gameproto.NewBufferPool(tt.pool, 64, 48, frameSlots)
			if err != nil {
				t.Fatal(err)
			}
			mem := make([]byte, pool.Size()) // the slots read only what they are given
			s := newSlots(pool, mem)
			fr, err := s.lend(gameproto.FrameReady{Slot: 1})
			if err != nil {
				t.Fatal(err)
			}
			if fr.Format != tt.want || fr.Width != 64 || fr.Height != 48 || fr.Pix != nil || fr.Stride != 0 {
				t.Fatalf("frame %s %dx%d, Pix %d bytes, Stride %d; want %s 64x48 without Pix",
					fr.Format, fr.Width, fr.Height, len(fr.Pix), fr.Stride, tt.want)
			}
			for i := range 3 {
				pl := pool.Plane(pool.Slot(mem, 1), i)
				switch {
				case i >= tt.planes:
					if fr.Planes[i] != nil || fr.Strides[i] != 0 {
						t.Errorf("plane %d of %s: %d bytes, stride %d; want none", i, tt.want, len(fr.Planes[i]), fr.Strides[i])
					}
				case len(fr.Planes[i]) != len(pl) || &fr.Planes[i][0] != &pl[0]:
					t.Errorf("plane %d is not slot 1's plane %d", i, i)
				case fr.Strides[i] != int(pool.Planes[i].Stride):
					t.Errorf("plane %d: stride %d, want %d", i, fr.Strides[i], pool.Planes[i].Stride)
				}
			}
			fr.Release()
			if len(s.released) != 1 || <-s.released != 1 {
				t.Fatal("release did not hand slot 1 back")
			}
		})
	}
}

// yuvColour is a YUV frame's solid colour, after checking that every sample of every plane
// has it.
func yuvColour(t *testing.T, f *game.Frame) [3]byte {
	t.Helper()
	c := [3]byte{f.Planes[0][0], f.Planes[1][0], f.Planes[1][1]}
	if f.Format == game.I420 {
		c[2] = f.Planes[2][0]
	}
	// Each plane: rows, and one row's samples as they repeat (NV12's UV in pairs).
	check := func(i, rows int, row []byte) {
		t.Helper()
		for y := range rows {
			if got := f.Planes[i][y*f.Strides[i] : y*f.Strides[i]+len(row)]; !bytes.Equal(got, row) {
				t.Fatalf("frame %d: plane %d row %d is not all %v", f.Seq, i, y, row[:2])
			}
		}
	}
	w, h := f.Width, f.Height
	check(0, h, bytes.Repeat(c[:1], w))
	if f.Format == game.I420 {
		check(1, h/2, bytes.Repeat(c[1:2], w/2))
		check(2, h/2, bytes.Repeat(c[2:3], w/2))
	} else {
		check(1, h/2, bytes.Repeat(c[1:3], w/2))
	}
	return c
}

// A game that announces I420 or NV12 renders it: its frames reach the sink in that format,
// with the planes it drew, and follow its input.
func TestRunYUVFrames(t *testing.T) {
	for _, tt := range []struct {
		env  string
		want game.PixelFormat
	}{
		{"i420", game.I420},
		{"nv12", game.NV12},
	} {
		t.Run(tt.env, func(t *testing.T) {
			s := start(t, Command{}, "TESTGAME_FORMAT="+tt.env)
			f := s.frame(t)
			if f.Format != tt.want || f.Width != testConfig.Width || f.Height != testConfig.Height {
				t.Fatalf("frame %s %dx%d, want %s %dx%d", f.Format, f.Width, f.Height, tt.want,
					testConfig.Width, testConfig.Height)
			}
			if c := yuvColour(t, f); c != palette709[0] {
				t.Fatalf("first frame's Y U V %v, want %v (palette %v in BT.709)", c, palette709[0], palette[0])
			}
			f.Release()
			s.g.Input(input.Event{Type: input.KeyDown, Seq: 3, Code: 4})
			for {
				f := s.frame(t)
				c, seq := yuvColour(t, f), f.InputSeq
				f.Release()
				if seq < 3 {
					continue
				}
				if c != palette709[1] {
					t.Fatalf("frame after the key press: Y U V %v, want %v", c, palette709[1])
				}
				break
			}
		})
	}
}
