package gameproto

import (
	"errors"
	"testing"
)

func TestNewBufferPool(t *testing.T) {
	tests := []struct {
		name     string
		f        PixelFormat
		w, h, n  int
		planes   [3]Plane
		slotSize uint32
	}{
		{"rgba 720p", RGBA, 1280, 720, 3, [3]Plane{{0, 5120}}, 3686400},
		{"rgba odd stride", RGBA, 1000, 16, 1, [3]Plane{{0, 4032}}, 65536}, // 4000 → 4032, 64512 → 65536
		{"i420 1080p", I420, 1920, 1080, 3, [3]Plane{{0, 1920}, {2073600, 960}, {2592000, 960}}, 3112960},
		{"i420 unaligned", I420, 100, 50, 2, [3]Plane{{0, 128}, {6400, 64}, {8000, 64}}, 12288},
		{"nv12 720p", NV12, 1280, 720, 8, [3]Plane{{0, 1280}, {921600, 1280}}, 1384448},
		{"rgba max", RGBA, MaxWidth, MaxHeight, 8, [3]Plane{{0, 30720}}, 132710400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewBufferPool(tt.f, tt.w, tt.h, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if p.Planes != tt.planes || p.SlotSize != tt.slotSize {
				t.Errorf("planes %v slot %d, want %v %d", p.Planes, p.SlotSize, tt.planes, tt.slotSize)
			}
			if p.SlotSize%SlotAlign != 0 || p.Size() != int64(tt.n)*int64(tt.slotSize) {
				t.Errorf("slot %d size %d", p.SlotSize, p.Size())
			}
			for i := range p.Format.planes() {
				if p.Planes[i].Offset%PlaneAlign != 0 || p.Planes[i].Stride%PlaneAlign != 0 {
					t.Errorf("plane %d not aligned: %v", i, p.Planes[i])
				}
			}
			if p.Size() > 64<<20 {
				return // the layout is checked; don't allocate a gigabyte for the slice checks
			}
			mem := make([]byte, p.Size())
			slot := p.Slot(mem, tt.n-1)
			if len(slot) != int(p.SlotSize) || p.Slot(mem, tt.n) != nil || p.Slot(mem[:1], 0) != nil {
				t.Error("Slot bounds")
			}
			rowBytes, rows := tt.f.plane(0, tt.w, tt.h)
			if pl := p.Plane(slot, 0); len(pl) != int(p.Planes[0].Stride)*rows || rowBytes > int(p.Planes[0].Stride) {
				t.Errorf("plane 0 length %d", len(pl))
			}
			if p.Plane(slot, p.Format.planes()) != nil || p.Plane(slot[:1], 0) != nil {
				t.Error("Plane bounds")
			}
			if p.Check(FrameReady{Slot: uint8(tt.n - 1)}) != nil || !errors.Is(p.Check(FrameReady{Slot: uint8(tt.n)}), ErrField) {
				t.Error("Check")
			}
		})
	}
}

func TestNewBufferPoolRejects(t *testing.T) {
	for _, tt := range []struct {
		name    string
		f       PixelFormat
		w, h, n int
	}{
		{"odd width", RGBA, 17, 16, 1},
		{"too small", RGBA, 14, 16, 1},
		{"too big", I420, MaxWidth + 2, 16, 1},
		{"0 slots", NV12, 64, 64, 0},
		{"9 slots", NV12, 64, 64, 9},
		{"format 0", 0, 64, 64, 1},
	} {
		if _, err := NewBufferPool(tt.f, tt.w, tt.h, tt.n); !errors.Is(err, ErrField) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

func TestAudioPool(t *testing.T) {
	p, err := NewAudioPool(F32, 480, 4)
	if err != nil {
		t.Fatal(err)
	}
	if p.SlotSize != 3840 || p.Size() != 4*3840 {
		t.Fatalf("slot %d", p.SlotSize)
	}
	mem := make([]byte, p.Size())
	if s := p.Slot(mem, AudioReady{Slot: 3, Frames: 100}); len(s) != 800 || &s[0] != &mem[3*3840] {
		t.Error("Slot")
	}
	for _, m := range []AudioReady{{Slot: 4, Frames: 1}, {Slot: 0, Frames: 481}, {Slot: 0}} {
		if p.Check(m) == nil || p.Slot(mem, m) != nil {
			t.Errorf("%+v accepted", m)
		}
	}
	for _, bad := range [][3]int{{1, 0, 1}, {1, 4801, 1}, {1, 480, 0}, {1, 480, 33}, {3, 480, 1}} {
		if _, err := NewAudioPool(SampleFormat(bad[0]), bad[1], bad[2]); err == nil {
			t.Errorf("NewAudioPool%v accepted", bad)
		}
	}
}
