package input

import (
	"errors"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		size int
	}{
		{"keydown", Event{Type: KeyDown, Seq: 7, Time: 1234, Code: KeyW, Mods: ModShift, Down: true}, 13},
		{"keyup", Event{Type: KeyUp, Seq: 8, Time: 1240, Code: KeySpace}, 13},
		{"move", Event{Type: MouseMove, Seq: 1 << 31, Time: 99, DX: -5, DY: 300, X: 65535, Y: 12}, 18},
		{"button", Event{Type: MouseButton, Seq: 3, Button: ButtonRight, Down: true}, 12},
		{"wheel", Event{Type: Wheel, Seq: 4, DX: 0, DY: -120}, 14},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Append(nil, tt.ev)
			if len(b) != tt.size {
				t.Fatalf("size %d, want %d", len(b), tt.size)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.ev {
				t.Fatalf("got %+v, want %+v", got, tt.ev)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	valid := Append(nil, Event{Type: KeyDown, Seq: 1, Code: KeyA, Down: true})
	mut := func(f func(b []byte) []byte) []byte {
		b := append([]byte(nil), valid...)
		return f(b)
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"header only", valid[:HeaderSize], ErrShort},
		{"truncated payload", valid[:len(valid)-1], ErrShort},
		{"trailing byte", append(append([]byte(nil), valid...), 0), ErrLong},
		{"huge", make([]byte, 4096), ErrLong},
		{"version 0", mut(func(b []byte) []byte { b[0] = 0; return b }), ErrVersion},
		{"version 2", mut(func(b []byte) []byte { b[0] = 2; return b }), ErrVersion},
		{"type 0", mut(func(b []byte) []byte { b[1] = 0; return b }), ErrType},
		{"type 200", mut(func(b []byte) []byte { b[1] = 200; return b }), ErrType},
		{"key code 0", mut(func(b []byte) []byte { b[10], b[11] = 0, 0; return b }), ErrField},
		{"bad mods", mut(func(b []byte) []byte { b[12] = 0xff; return b }), ErrField},
		{"bad button", Append(nil, Event{Type: MouseButton, Button: 9}), ErrField},
		{"button down=2", func() []byte { b := Append(nil, Event{Type: MouseButton}); b[11] = 2; return b }(), ErrField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Decode(tt.in); !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, ev := range []Event{
		{Type: KeyDown, Seq: 1, Code: KeyW, Down: true},
		{Type: MouseMove, DX: -1, DY: 1, X: 100, Y: 200},
		{Type: MouseButton, Button: 1, Down: true},
		{Type: Wheel, DY: 120},
	} {
		f.Add(Append(nil, ev))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 9, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := Decode(b)
		if err != nil {
			return
		}
		// Every accepted message re-encodes to the same bytes.
		if out := Append(nil, ev); string(out) != string(b) {
			t.Fatalf("re-encode %x != %x", out, b)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	msg := Append(nil, Event{Type: MouseMove, DX: 3, DY: -2, X: 1000, Y: 2000})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(msg); err != nil {
			b.Fatal(err)
		}
	}
}
