package encoder

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/edgeplay/edgeplay/game"
)

// yuvFormats are the YUV frame formats the encoder takes.
var yuvFormats = []game.PixelFormat{game.I420, game.NV12}

// bt709 is the BT.709, limited-range YUV of an RGB colour, unrounded, as docs/SDK.md asks
// games to render it.
func bt709(r, g, b float64) (y, u, v float64) {
	l := 0.2126*r + 0.7152*g + 0.0722*b
	return 16 + l*219/255, 128 + (b-l)/1.8556*224/255, 128 + (r-l)/1.5748*224/255
}

func round8(v float64) byte { return byte(min(max(math.Round(v), 0), 255)) }

// newYUVFrame allocates a w×h frame in format with every row padded by pad bytes.
func newYUVFrame(w, h int, format game.PixelFormat, pad int) *game.Frame {
	f := &game.Frame{Width: w, Height: h, Format: format}
	plane := func(i, rowBytes, rows int) {
		f.Strides[i] = rowBytes + pad
		f.Planes[i] = make([]byte, f.Strides[i]*rows)
	}
	plane(0, w, h)
	if format == game.NV12 {
		plane(1, w, h/2)
	} else {
		plane(1, w/2, h/2)
		plane(2, w/2, h/2)
	}
	return f
}

// setChroma sets the chroma sample (x, y) of a YUV frame.
func setChroma(f *game.Frame, x, y int, u, v byte) {
	if f.Format == game.NV12 {
		f.Planes[1][y*f.Strides[1]+2*x], f.Planes[1][y*f.Strides[1]+2*x+1] = u, v
		return
	}
	f.Planes[1][y*f.Strides[1]+x], f.Planes[2][y*f.Strides[2]+x] = u, v
}

// yuvOf renders an RGBA frame in format the way a game would: BT.709, limited range, each
// chroma sample from the mean colour of its 2×2 block; rows padded by pad bytes.
func yuvOf(src *game.Frame, format game.PixelFormat, pad int) *game.Frame {
	w, h := src.Width, src.Height
	f := newYUVFrame(w, h, format, pad)
	f.Seq = src.Seq
	for y := range h / 2 {
		for x := range w / 2 {
			var sr, sg, sb float64
			for dy := range 2 {
				for dx := range 2 {
					p := src.Pix[(2*y+dy)*src.Stride+4*(2*x+dx):]
					r, g, b := float64(p[0]), float64(p[1]), float64(p[2])
					l, _, _ := bt709(r, g, b)
					f.Planes[0][(2*y+dy)*f.Strides[0]+2*x+dx] = round8(l)
					sr, sg, sb = sr+r, sg+g, sb+b
				}
			}
			_, u, v := bt709(sr/4, sg/4, sb/4)
			setChroma(f, x, y, round8(u), round8(v))
		}
	}
	return f
}

// psnr is the PSNR of plane a against plane b, both tightly packed and of the same size.
func psnr(a, b []byte) float64 {
	var sse float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		sse += d * d
	}
	return 10 * math.Log10(255*255/max(sse/float64(len(a)), 1e-9))
}

// A YUV frame of one flat colour becomes the picture the same colour in RGBA becomes: the
// BT.709 samples change matrix to the stream's BT.601 exactly, to one step of rounding, at
// the picture's size and scaled, from I420 and from NV12, saturated colours included.
func TestYUVColours(t *testing.T) {
	colours := []struct {
		name    string
		r, g, b byte
	}{
		{"black", 0, 0, 0},
		{"white", 0xff, 0xff, 0xff},
		{"grey", 0x80, 0x80, 0x80},
		{"red", 0xff, 0, 0},
		{"green", 0, 0xff, 0},
		{"blue", 0, 0, 0xff},
		{"yellow", 0xff, 0xff, 0},
		{"cyan", 0, 0xff, 0xff},
		{"magenta", 0xff, 0, 0xff},
		{"skin", 0xe0, 0xac, 0x69},
		{"dark teal", 0x10, 0x50, 0x48},
	}
	sizes := []struct {
		name string
		cfg  Config
	}{
		{"same size", Config{Width: 64, Height: 48}},
		{"2:1", Config{Width: 64, Height: 48, SrcWidth: 128, SrcHeight: 96}},
		{"4:3", Config{Width: 96, Height: 72, SrcWidth: 128, SrcHeight: 96}},
	}
	for _, format := range yuvFormats {
		for _, sz := range sizes {
			t.Run(format.String()+"/"+sz.name, func(t *testing.T) {
				cfg := sz.cfg
				cfg.FPS = 30
				rgba, yuv := newTestEncoder(t, cfg), newTestEncoder(t, cfg)
				sw, sh := rgba.Config().srcSize()
				for _, c := range colours {
					f := newFrame(sw, sh)
					fillRect(f, 0, 0, sw, sh, c.r, c.g, c.b)
					if _, err := rgba.Encode(f, false); err != nil {
						t.Fatal(err)
					}
					if _, err := yuv.Encode(yuvOf(f, format, 16), false); err != nil {
						t.Fatal(err)
					}
					wy, wu, wv := rgba.planesForTest()
					gy, gu, gv := yuv.planesForTest()
					for i, p := range [][2][]byte{{gy, wy}, {gu, wu}, {gv, wv}} {
						for k := range p[0] {
							if d := int(p[0][k]) - int(p[1][k]); d < -1 || d > 1 {
								t.Fatalf("%s: plane %d sample %d is %d, from RGBA %d", c.name, i, k, p[0][k], p[1][k])
							}
						}
					}
				}
			})
		}
	}
}

// yuvMatrix is BT.709 → BT.601 on limited-range samples (Y−16, U−128, V−128), derived here
// from the two standards' luma weights: M601 · M709⁻¹ on (Y', Pb, Pr), with the luma row
// scaled by 219/224 for the steps of limited range.
func yuvMatrix() [3][3]float64 {
	m := func(kr, kb float64) [3][3]float64 {
		kg := 1 - kr - kb
		return [3][3]float64{
			{kr, kg, kb},
			{-kr / (2 * (1 - kb)), -kg / (2 * (1 - kb)), 0.5},
			{0.5, -kg / (2 * (1 - kr)), -kb / (2 * (1 - kr))},
		}
	}
	a, b := m(0.299, 0.114), m(0.2126, 0.0722)
	// b⁻¹ by cofactors.
	det := b[0][0]*(b[1][1]*b[2][2]-b[1][2]*b[2][1]) - b[0][1]*(b[1][0]*b[2][2]-b[1][2]*b[2][0]) +
		b[0][2]*(b[1][0]*b[2][1]-b[1][1]*b[2][0])
	var inv, out [3][3]float64
	for i := range 3 {
		for j := range 3 {
			r0, r1 := [3]int{1, 0, 0}[j], [3]int{2, 2, 1}[j]
			c0, c1 := [3]int{1, 0, 0}[i], [3]int{2, 2, 1}[i]
			sign := float64(1 - 2*((i+j)%2))
			inv[i][j] = sign * (b[r0][c0]*b[r1][c1] - b[r0][c1]*b[r1][c0]) / det
		}
	}
	scale := [3]float64{219, 224, 224}
	for i := range 3 {
		for j := range 3 {
			for k := range 3 {
				out[i][j] += a[i][k] * inv[k][j]
			}
			out[i][j] *= scale[i] / scale[j]
		}
	}
	return out
}

// chroma returns the chroma sample (x, y) of a YUV frame.
func chroma(f *game.Frame, x, y int) (u, v float64) {
	if f.Format == game.NV12 {
		p := f.Planes[1][y*f.Strides[1]+2*x:]
		return float64(p[0]), float64(p[1])
	}
	return float64(f.Planes[1][y*f.Strides[1]+x]), float64(f.Planes[2][y*f.Strides[2]+x])
}

// wantPicture is what a YUV frame should become in a picture of its size (k = 1) or of half
// its size (k = 2, each sample the mean of a 2×2 block of the frame's): the samples of each
// 2×2 block of luma and its chroma taken through yuvMatrix.
func wantPicture(f *game.Frame, k int) (y, u, v []byte) {
	m := yuvMatrix()
	w, h := f.Width/k, f.Height/k
	y, u, v = make([]byte, w*h), make([]byte, w*h/4), make([]byte, w*h/4)
	mean := func(get func(x, y int) float64, x0, y0 int) float64 {
		var s float64
		for dy := range k {
			for dx := range k {
				s += get(x0+dx, y0+dy)
			}
		}
		return s / float64(k*k)
	}
	luma := func(x, y int) float64 { return float64(f.Planes[0][y*f.Strides[0]+x]) }
	cu := func(x, y int) float64 { u, _ := chroma(f, x, y); return u }
	cv := func(x, y int) float64 { _, v := chroma(f, x, y); return v }
	for cy := range h / 2 {
		for cx := range w / 2 {
			du, dv := mean(cu, k*cx, k*cy)-128, mean(cv, k*cx, k*cy)-128
			u[cy*w/2+cx] = round8(128 + m[1][1]*du + m[1][2]*dv)
			v[cy*w/2+cx] = round8(128 + m[2][1]*du + m[2][2]*dv)
			for dy := range 2 {
				for dx := range 2 {
					px, py := 2*cx+dx, 2*cy+dy
					y[py*w+px] = round8(mean(luma, k*px, k*py) + m[0][1]*du + m[0][2]*dv)
				}
			}
		}
	}
	return y, u, v
}

// A YUV frame of game-like content becomes, at the picture's size and through the 2:1 box
// filter, exactly the picture it should: each sample through the change of matrix with the
// chroma its block is shown with, to one step of rounding; from I420 and NV12, rows padded.
func TestYUVPicture(t *testing.T) {
	src := newFrame(640, 360)
	newPanScene(640, 360).draw(src, 3)
	for _, format := range yuvFormats {
		for _, k := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/1:%d", format, k), func(t *testing.T) {
				e := newTestEncoder(t, Config{Width: 640 / k, Height: 360 / k, SrcWidth: 640, SrcHeight: 360, FPS: 30})
				f := yuvOf(src, format, 24)
				if _, err := e.Encode(f, false); err != nil {
					t.Fatal(err)
				}
				gy, gu, gv := e.planesForTest()
				wy, wu, wv := wantPicture(f, k)
				for i, p := range [][2][]byte{{gy, wy}, {gu, wu}, {gv, wv}} {
					for j := range p[0] {
						if d := int(p[0][j]) - int(p[1][j]); d < -1 || d > 1 {
							t.Fatalf("plane %d sample %d is %d, want %d", i, j, p[0][j], p[1][j])
						}
					}
				}
			})
		}
	}
}

// The encoder takes I420 and NV12 frames of game-like content at the picture's size and
// larger, on both codecs: its picture is close to the one the same content in RGBA gives
// (they differ where colour changes within a 2×2 block, whose luma the two matrices split
// from chroma differently, and by rounding), and it codes as well.
func TestYUVMatchesRGBA(t *testing.T) {
	sizes := []struct {
		name string
		cfg  Config
	}{
		{"640x360", Config{Width: 640, Height: 360}},
		{"720p to 360p (2:1)", Config{Width: 640, Height: 360, SrcWidth: 1280, SrcHeight: 720}},
		{"720p to 540p (4:3)", Config{Width: 960, Height: 540, SrcWidth: 1280, SrcHeight: 720}},
	}
	// Measured (panScene frames 0–3, colour edges every 16 pixels, split between 2×2 blocks
	// when the pan's offset is odd): luma 37–52 dB, chroma 53–58 dB.
	const minY, minChroma = 35.0, 50.0
	const frames = 4
	// The content, in RGBA and each YUV format, per source size.
	type content struct{ rgba, yuv []*game.Frame }
	contents := map[string]*content{}
	get := func(w, h int, format game.PixelFormat) *content {
		key := fmt.Sprintf("%dx%d/%s", w, h, format)
		if c := contents[key]; c != nil {
			return c
		}
		s, c := newPanScene(w, h), &content{}
		for n := range frames {
			f := newFrame(w, h)
			s.draw(f, n)
			c.rgba = append(c.rgba, f)
			c.yuv = append(c.yuv, yuvOf(f, format, 32))
		}
		contents[key] = c
		return c
	}
	for _, codec := range testCodecs {
		for _, format := range yuvFormats {
			for _, sz := range sizes {
				t.Run(codec+"/"+format.String()+"/"+sz.name, func(t *testing.T) {
					cfg := sz.cfg
					cfg.FPS, cfg.Codec = 30, codec
					rgba, yuv := newTestEncoder(t, cfg), newTestEncoder(t, cfg)
					drgba, dyuv := newTestDecoderCodec(t, codec), newTestDecoderCodec(t, codec)
					sw, sh := rgba.Config().srcSize()
					c := get(sw, sh, format)
					var sumR, sumY float64
					for n := range frames {
						pr, err := rgba.Encode(c.rgba[n], false)
						if err != nil {
							t.Fatal(err)
						}
						want, wu, wv := rgba.planesForTest()
						picR, err := drgba.Decode(pr.Data)
						if err != nil || picR == nil {
							t.Fatalf("frame %d: decode the RGBA stream: %v, %v", n, picR, err)
						}
						py, err := yuv.Encode(c.yuv[n], false)
						if err != nil {
							t.Fatal(err)
						}
						got, gu, gv := yuv.planesForTest()
						picY, err := dyuv.Decode(py.Data)
						if err != nil || picY == nil {
							t.Fatalf("frame %d: decode the YUV stream: %v, %v", n, picY, err)
						}
						if picY.Width != cfg.Width || picY.Height != cfg.Height {
							t.Fatalf("frame %d: decoded %dx%d, want %dx%d", n, picY.Width, picY.Height, cfg.Width, cfg.Height)
						}
						dbY, dbU, dbV := psnr(got, want), psnr(gu, wu), psnr(gv, wv)
						// Coding loss of each stream against its own picture, and the YUV
						// stream against the RGBA picture.
						lossR, lossY, cross := psnrY(picR, want), psnrY(picY, got), psnrY(picY, want)
						t.Logf("frame %d: picture against RGBA's: Y %.1f, U %.1f, V %.1f dB; decoded against "+
							"its picture: RGBA %.1f, YUV %.1f dB; YUV decoded against RGBA's picture %.1f dB",
							n, dbY, dbU, dbV, lossR, lossY, cross)
						sumR, sumY = sumR+lossR, sumY+lossY
						switch {
						case dbY < minY || dbU < minChroma || dbV < minChroma:
							t.Errorf("frame %d: picture against RGBA's: Y %.1f, U %.1f, V %.1f dB, want >= %.0f, %.0f",
								n, dbY, dbU, dbV, minY, minChroma)
						case lossY < 33 || cross < 33:
							t.Errorf("frame %d: the YUV stream decodes at %.1f dB against its picture, %.1f dB "+
								"against RGBA's, want >= 33", n, lossY, cross)
						}
					}
					// Frame by frame the two streams' rate control differs by up to 3.5 dB
					// either way; on average the YUV pictures, with more luma detail at colour
					// edges, measured 1.0–2.3 dB below (H.264 NV12 720p → 360p the most; x264's
					// threads make a run differ from the next by a few tenths). A wrong matrix
					// or plane costs ten and more.
					if mr, my := sumR/frames, sumY/frames; my < mr-3 {
						t.Errorf("the YUV stream decodes at %.1f dB on average, the RGBA one at %.1f: want within 3 dB", my, mr)
					}
				})
			}
		}
	}
}

// Frames may change format from one Encode to the next; each comes out as it should.
func TestMixedFormats(t *testing.T) {
	e := newTestEncoder(t, Config{Width: 320, Height: 240, FPS: 30})
	d := newTestDecoder(t)
	for n, format := range []game.PixelFormat{game.RGBA, game.I420, game.NV12, game.RGBA, game.NV12, game.I420} {
		f := newFrame(320, 240)
		drawTest(f, n)
		if format != game.RGBA {
			f = yuvOf(f, format, 0)
		}
		p, err := e.Encode(f, false)
		if err != nil {
			t.Fatalf("frame %d (%s): %v", n, format, err)
		}
		pic, err := d.Decode(p.Data)
		if err != nil || pic == nil {
			t.Fatalf("frame %d (%s): Decode = %v, %v", n, format, pic, err)
		}
		checkTestPicture(t, n, pic, 1, 1)
	}
}

func TestBadYUVFrame(t *testing.T) {
	const w, h = 320, 240
	e := newTestEncoder(t, Config{Width: w, Height: h, FPS: 30})
	tests := []struct {
		name   string
		format game.PixelFormat
		spoil  func(f *game.Frame)
	}{
		{"unknown format", game.NV12 + 1, func(*game.Frame) {}},
		{"I420 without planes", game.I420, func(f *game.Frame) { f.Planes = [3][]byte{} }},
		{"I420 Y stride below width", game.I420, func(f *game.Frame) { f.Strides[0] = w - 2 }},
		{"I420 short Y", game.I420, func(f *game.Frame) { f.Planes[0] = f.Planes[0][:w*h-1] }},
		{"I420 U stride below width/2", game.I420, func(f *game.Frame) { f.Strides[1] = w/2 - 1 }},
		{"I420 short V", game.I420, func(f *game.Frame) { f.Planes[2] = f.Planes[2][:w/2*h/2-1] }},
		{"I420 no V", game.I420, func(f *game.Frame) { f.Planes[2] = nil }},
		{"NV12 UV stride below width", game.NV12, func(f *game.Frame) { f.Strides[1] = w / 2 }},
		{"NV12 short UV", game.NV12, func(f *game.Frame) { f.Planes[1] = f.Planes[1][:w*h/2-1] }},
		{"NV12 with RGBA's pixels only", game.NV12, func(f *game.Frame) {
			f.Planes, f.Strides, f.Pix, f.Stride = [3][]byte{}, [3]int{}, make([]byte, 4*w*h), 4*w
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			format := tt.format
			if format > game.NV12 {
				format = game.I420
			}
			f := newYUVFrame(w, h, format, 0)
			f.Format = tt.format
			tt.spoil(f)
			if _, err := e.Encode(f, false); !errors.Is(err, ErrFrame) {
				t.Errorf("Encode = %v, want ErrFrame", err)
			}
		})
	}
	// Unpadded planes whose last row is exactly as long as the picture are fine.
	for _, format := range yuvFormats {
		if _, err := e.Encode(newYUVFrame(w, h, format, 0), false); err != nil {
			t.Errorf("Encode(%s) after bad frames: %v", format, err)
		}
	}
}

// Encoding a YUV frame allocates nothing either, at the picture's size or scaled.
func TestEncodeYUVAllocs(t *testing.T) {
	for _, format := range yuvFormats {
		for _, tt := range []struct {
			name string
			cfg  Config
		}{
			{"h264", Config{Width: 320, Height: 240, FPS: 30}},
			{"vp8 scaled 2:1", Config{Width: 320, Height: 240, SrcWidth: 640, SrcHeight: 480, FPS: 30, Codec: CodecVP8}},
			{"h264 scaled 4:3", Config{Width: 480, Height: 360, SrcWidth: 640, SrcHeight: 480, FPS: 30}},
		} {
			t.Run(format.String()+"/"+tt.name, func(t *testing.T) {
				e := newTestEncoder(t, tt.cfg)
				sw, sh := e.Config().srcSize()
				f := newFrame(sw, sh)
				drawTest(f, 0)
				yf := yuvOf(f, format, 0)
				if _, err := e.Encode(yf, true); err != nil { // a keyframe: the largest packet
					t.Fatal(err)
				}
				allocs := testing.AllocsPerRun(20, func() {
					if _, err := e.Encode(yf, false); err != nil {
						t.Fatal(err)
					}
				})
				if allocs != 0 {
					t.Errorf("Encode allocates %.1f times per frame, want 0", allocs)
				}
			})
		}
	}
}
