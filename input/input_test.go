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
		{"gamepad state", Event{
			Type: GamepadState, Seq: 9, Time: 77, Pad: 2, Buttons: 1<<PadA | 1<<PadRT | 1<<PadHome,
			LT: 0, RT: 255, LX: 32767, LY: -32767, RX: -1, RY: 12345,
		}, 25},
		{"gamepad state at rest", Event{Type: GamepadState, Seq: 10, Pad: TouchPad}, 25},
		{"gamepad connect", Event{Type: GamepadConnect, Seq: 11, Pad: 0, PadFlags: PadRumble, Down: true}, 12},
		{"touch pad connect", Event{Type: GamepadConnect, Seq: 12, Pad: TouchPad, PadFlags: PadTouch, Down: true}, 12},
		{"gamepad disconnect", Event{Type: GamepadDisconnect, Seq: 13, Pad: 3}, 12},
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
		{"gamepad state short", Append(nil, Event{Type: GamepadState})[:MaxSize-1], ErrShort},
		{"gamepad state long", append(Append(nil, Event{Type: GamepadState}), 0), ErrLong},
		{"pad 8", Append(nil, Event{Type: GamepadState, Pad: MaxPads}), ErrField},
		{"pad 255", Append(nil, Event{Type: GamepadState, Pad: 255}), ErrField},
		{"button 17", Append(nil, Event{Type: GamepadState, Buttons: 1 << NumPadButton}), ErrField},
		{"button 31", Append(nil, Event{Type: GamepadState, Buttons: 1 << 31}), ErrField},
		{"lx -32768", Append(nil, Event{Type: GamepadState, LX: -32768}), ErrField},
		{"ly -32768", Append(nil, Event{Type: GamepadState, LY: -32768}), ErrField},
		{"rx -32768", Append(nil, Event{Type: GamepadState, RX: -32768}), ErrField},
		{"ry -32768", Append(nil, Event{Type: GamepadState, RY: -32768}), ErrField},
		{"connect pad 8", Append(nil, Event{Type: GamepadConnect, Pad: 8}), ErrField},
		{"connect unknown flag", Append(nil, Event{Type: GamepadConnect, PadFlags: 4}), ErrField},
		{"disconnect unknown flag", Append(nil, Event{Type: GamepadDisconnect, PadFlags: 0x80}), ErrField},
		{"connect short", Append(nil, Event{Type: GamepadConnect})[:HeaderSize+1], ErrShort},
		{"type 9", mut(func(b []byte) []byte { b[1] = 9; return b }), ErrType},
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
		{Type: GamepadState, Seq: 5, Pad: 1, Buttons: 1<<PadA | 1<<PadStart, RT: 200, LX: -32767, RY: 300},
		{Type: GamepadConnect, Seq: 6, Pad: TouchPad, PadFlags: PadTouch, Down: true},
		{Type: GamepadDisconnect, Seq: 7, Pad: 0, PadFlags: PadRumble},
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
		// Accepted gamepad messages are within their documented ranges.
		switch ev.Type {
		case GamepadState, GamepadConnect, GamepadDisconnect:
			if ev.Pad >= MaxPads || ev.Buttons >= 1<<NumPadButton || ev.PadFlags&^(PadTouch|PadRumble) != 0 {
				t.Fatalf("accepted out of range: %+v", ev)
			}
			for _, v := range [...]int16{ev.LX, ev.LY, ev.RX, ev.RY} {
				if a := AxisValue(v); a < -1 || a > 1 || v == -32768 {
					t.Fatalf("axis %d out of range: %+v", v, ev)
				}
			}
		}
	})
}

func TestDecodeDoesNotAllocate(t *testing.T) {
	msgs := [][]byte{
		Append(nil, Event{Type: GamepadState, Pad: 1, Buttons: 3, LX: 100}),
		Append(nil, Event{Type: GamepadConnect, Pad: 1}),
		Append(nil, Event{Type: MouseMove, DX: 1}),
	}
	n := testing.AllocsPerRun(100, func() {
		for _, m := range msgs {
			if _, err := Decode(m); err != nil {
				t.Fatal(err)
			}
		}
	})
	if n != 0 {
		t.Errorf("Decode allocates %v times per run", n)
	}
}

func TestGamepadHelpers(t *testing.T) {
	ev := Event{Type: GamepadState, Buttons: 1<<PadA | 1<<PadHome}
	for b, want := range map[int]bool{PadA: true, PadB: false, PadHome: true, -1: false, NumPadButton: false} {
		if got := ev.Pressed(b); got != want {
			t.Errorf("Pressed(%d) = %v, want %v", b, got, want)
		}
	}
	for v, want := range map[int16]float64{0: 0, 32767: 1, -32767: -1, -32768: -1} {
		if got := AxisValue(v); got != want {
			t.Errorf("AxisValue(%d) = %v, want %v", v, got, want)
		}
	}
	if TriggerValue(255) != 1 || TriggerValue(0) != 0 {
		t.Error("TriggerValue is not 0..1")
	}
	// The largest message is a gamepad state: the host's size check must let it through.
	if n := len(Append(nil, Event{Type: GamepadState})); n != MaxSize {
		t.Errorf("gamepad state is %d bytes, MaxSize %d", n, MaxSize)
	}
}

// TestGamepadStateBytes pins the layout of docs/PROTOCOL.md byte for byte.
func TestGamepadStateBytes(t *testing.T) {
	got := Append(nil, Event{
		Type: GamepadState, Seq: 0x01020304, Time: 0x0a0b0c0d, Pad: 1,
		Buttons: 1<<PadA | 1<<PadRT | 1<<PadHome, LT: 0x10, RT: 0xff,
		LX: 0x7fff, LY: -0x7fff, RX: 0x0102, RY: -1,
	})
	want := []byte{
		1, 6, 0x04, 0x03, 0x02, 0x01, 0x0d, 0x0c, 0x0b, 0x0a,
		1,                      // pad
		0x81, 0x00, 0x01, 0x00, // buttons: bits 0, 7, 16
		0x10, 0xff, // lt, rt
		0xff, 0x7f, 0x01, 0x80, 0x02, 0x01, 0xff, 0xff, // lx, ly, rx, ry
	}
	if string(got) != string(want) {
		t.Errorf("got  % x\nwant % x", got, want)
	}
	if got := Append(nil, Event{Type: GamepadConnect, Seq: 1, Pad: TouchPad, PadFlags: PadTouch | PadRumble, Down: true}); string(got) != string([]byte{1, 7, 1, 0, 0, 0, 0, 0, 0, 0, 7, 3}) {
		t.Errorf("connect % x", got)
	}
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
