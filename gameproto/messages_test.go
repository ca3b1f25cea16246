package gameproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/edgeplay/edgeplay/input"
)

func mustPool(tb testing.TB, f PixelFormat, w, h, n int) BufferPool {
	tb.Helper()
	p, err := NewBufferPool(f, w, h, n)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func testInput(tb testing.TB) *Input {
	tb.Helper()
	m := &Input{Player: 1}
	for _, ev := range []input.Event{
		{Type: input.KeyDown, Seq: 1, Code: input.KeyW, Down: true},
		{Type: input.MouseMove, Seq: 2, DX: -3, DY: 4, X: 100, Y: 200},
		{Type: input.GamepadState, Seq: 3, Pad: 0, Buttons: 1 << input.PadA, RT: 255, LX: -32767},
		{Type: input.GamepadConnect, Seq: 4, Pad: input.TouchPad, PadFlags: input.PadTouch, Down: true},
		{Type: input.GamepadDisconnect, Seq: 5, Pad: 2},
	} {
		if !m.Add(ev) {
			tb.Fatalf("Add(%+v) refused", ev)
		}
	}
	return m
}

func welcome() Welcome {
	return Welcome{
		Major: 1, Minor: 0, Caps: CapAudio | CapInput, Width: 1280, Height: 720, FPS: 60,
		Formats: 1<<RGBA | 1<<I420, HeartbeatMS: 2000, ReadyTimeoutMS: 60_000, ReadyCapMS: 600_000,
		StartedTimeoutMS: 10_000, StallTimeoutMS: 3000,
	}
}

func audioPool(tb testing.TB) AudioPool {
	tb.Helper()
	p, err := NewAudioPool(S16, 480, 8)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// allMessages is one valid message of every type, with its encoded size (header included).
func allMessages(tb testing.TB) []struct {
	name string
	m    Message
	size int
} {
	tb.Helper()
	return []struct {
		name string
		m    Message
		size int
	}{
		{"hello", Hello{Major: 1, Minor: 0, Caps: CapAudio | CapI420 | 1<<30, SDK: "edgeplay-c/1.0.0"}, 8 + 12 + 16},
		{"hello no sdk", Hello{Major: 1, Minor: 7}, 20},
		{"ready", Ready{}, 8},
		{"started", Started{}, 8},
		{"frame ready", FrameReady{Slot: 2, Flags: FrameMarker, InputSeq: 77, Seq: 1 << 40, PTS: 123456789}, 32},
		{"audio ready", AudioReady{Slot: 31, Frames: 480, PTS: 42}, 24},
		{"ping", Ping{}, 8},
		{"loading", Loading{UntilMS: 30_000}, 12},
		{"log", Log{Level: LevelWarn, Text: "texture cache: 12 MiB ✓"}, 8 + 1 + len("texture cache: 12 MiB ✓")},
		{"log max", Log{Level: LevelDebug, Text: strings.Repeat("x", MaxText)}, 8 + 1 + MaxText},
		{"ending", Ending{Result: `{"score":1200,"won":true}`}, 8 + 25},
		{"ending empty", Ending{}, 8},
		{"fatal", Fatal{Text: "out of video memory"}, 8 + 19},
		{"welcome", welcome(), 8 + 36},
		{"buffer pool rgba", mustPool(tb, RGBA, 1280, 720, 3), 8 + 36},
		{"buffer pool i420", mustPool(tb, I420, 1920, 1080, 8), 8 + 36},
		{"buffer pool nv12", mustPool(tb, NV12, 16, 16, 1), 8 + 36},
		{"audio pool", audioPool(tb), 8 + 16},
		{"release", Release{Slot: 7}, 9},
		{"audio release", AudioRelease{Slot: 31}, 9},
		{"input", testInput(tb), 8 + 2 + 5 + 13 + 18 + 25 + 12 + 12},
		{"assign", Assign{Session: "s-3f2a9c", Params: []byte(`{"map":"dunes"}`)}, 8 + 1 + 8 + 15},
		{"assign no params", Assign{Session: "x"}, 8 + 2},
		{"player joined", PlayerJoined{Player: 0, ID: "p-1", Payload: []byte{0, 1, 2}}, 8 + 2 + 3 + 3},
		{"player left", PlayerLeft{Player: 7}, 9},
		{"player away", PlayerAway{Player: 0}, 9},
		{"player back", PlayerBack{Player: 3}, 9},
		{"drain", Drain{DeadlineMS: 30_000}, 12},
		{"shutdown", Shutdown{GraceMS: 0}, 12},
	}
}

func TestRoundTrip(t *testing.T) {
	seen := map[Type]bool{}
	for _, tt := range allMessages(t) {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.m.Append([]byte("prefix"))
			if !bytes.HasPrefix(b, []byte("prefix")) {
				t.Fatal("Append clobbered its prefix")
			}
			b = b[len("prefix"):]
			if len(b) != tt.size {
				t.Errorf("size %d, want %d", len(b), tt.size)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if got.Type() != tt.m.Type() {
				t.Fatalf("type %s, want %s", got.Type(), tt.m.Type())
			}
			if !reflect.DeepEqual(got, tt.m) {
				t.Errorf("got %+v\nwant %+v", got, tt.m)
			}
			if again := got.Append(nil); !bytes.Equal(again, b) {
				t.Errorf("re-encode differs")
			}
			seen[tt.m.Type()] = true
		})
	}
	for typ := range typeNames {
		if !seen[typ] {
			t.Errorf("type %s has no round-trip case", typ)
		}
		if _, ok := decoders[typ]; !ok {
			t.Errorf("type %s has no decoder", typ)
		}
	}
	if len(decoders) != len(typeNames) {
		t.Errorf("%d decoders, %d names", len(decoders), len(typeNames))
	}
}

func TestInputEvents(t *testing.T) {
	m := testInput(t)
	got, err := Decode(m.Append(nil))
	if err != nil {
		t.Fatal(err)
	}
	in := got.(*Input)
	var evs []input.Event
	for ev := range in.Events() {
		evs = append(evs, ev)
	}
	if len(evs) != 5 || in.Len() != 5 || evs[0].Code != input.KeyW || evs[2].RT != 255 || evs[3].Pad != input.TouchPad {
		t.Fatalf("events %+v", evs)
	}
	full := &Input{}
	for i := range MaxInputBatch {
		if !full.Add(input.Event{Type: input.Wheel, Seq: uint32(i)}) {
			t.Fatalf("Add %d refused", i)
		}
	}
	if full.Add(input.Event{Type: input.Wheel}) {
		t.Error("Add beyond MaxInputBatch accepted")
	}
	if (&Input{}).Add(input.Event{Type: input.KeyDown}) { // code 0
		t.Error("Add of an invalid event accepted")
	}
	if _, err := Decode(full.Append(nil)); err != nil {
		t.Errorf("full batch: %v", err)
	}
}

// patch returns m's encoding with f applied to its payload.
func patch(m Message, f func(p []byte) []byte) []byte {
	b := m.Append(nil)
	p := f(append([]byte(nil), b[HeaderSize:]...))
	b = append(b[:HeaderSize], p...)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(p)))
	return b
}

func set(off int, v ...byte) func([]byte) []byte {
	return func(p []byte) []byte { copy(p[off:], v); return p }
}

func set32(off int, v uint32) func([]byte) []byte {
	return func(p []byte) []byte { binary.LittleEndian.PutUint32(p[off:], v); return p }
}

func set16(off int, v uint16) func([]byte) []byte {
	return func(p []byte) []byte { binary.LittleEndian.PutUint16(p[off:], v); return p }
}

func trunc(n int) func([]byte) []byte { return func(p []byte) []byte { return p[:len(p)-n] } }

func extra(v ...byte) func([]byte) []byte { return func(p []byte) []byte { return append(p, v...) } }

func TestRejects(t *testing.T) {
	hdr := func(typ, flags uint16, n uint32, payload ...byte) []byte {
		b := binary.LittleEndian.AppendUint16(nil, typ)
		b = binary.LittleEndian.AppendUint16(b, flags)
		b = binary.LittleEndian.AppendUint32(b, n)
		return append(b, payload...)
	}
	rgba := mustPool(t, RGBA, 64, 32, 3)
	i420 := mustPool(t, I420, 64, 32, 3)
	wel := welcome()
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"short header", []byte{2, 0, 0, 0, 0, 0, 0}, ErrShort},
		{"datagram too big", make([]byte, MaxMessageSize+1), ErrLong},
		{"len too big", hdr(2, 0, 1), ErrLength},
		{"len too small", hdr(2, 0, 0, 1), ErrLength},
		{"len huge", hdr(2, 0, 0xffffffff), ErrLength},
		{"unknown type", hdr(99, 0, 0), ErrType},
		{"type zero", hdr(0, 0, 0), ErrType},
		{"unknown flag", hdr(2, 2, 0), ErrFlags},
		{"ready with payload", hdr(2, 0, 1, 0), ErrLong},
		{"ping with payload", hdr(6, 0, 1, 0), ErrLong},
		{"hello bad magic", patch(Hello{Major: 1}, set(0, 'E', 'D', 'G', 'Q')), ErrVersion},
		{"hello major 2", patch(Hello{Major: 1}, set16(4, 2)), ErrVersion},
		{"hello short", patch(Hello{Major: 1}, trunc(1)), ErrShort},
		{"hello sdk too long", Hello{Major: 1, SDK: strings.Repeat("a", MaxSDK+1)}.Append(nil), ErrLong},
		{"hello sdk control char", Hello{Major: 1, SDK: "a\nb"}.Append(nil), ErrField},
		{"welcome short", patch(wel, trunc(1)), ErrShort},
		{"welcome long", patch(wel, extra(0)), ErrLong},
		{"welcome major 0", patch(wel, set16(0, 0)), ErrVersion},
		{"welcome odd width", patch(wel, set16(8, 1281)), ErrField},
		{"welcome width 0", patch(wel, set16(8, 0)), ErrField},
		{"welcome too tall", patch(wel, set16(10, 4322)), ErrField},
		{"welcome fps 0", patch(wel, set16(12, 0)), ErrField},
		{"welcome fps 241", patch(wel, set16(12, 241)), ErrField},
		{"welcome no rgba", patch(wel, set16(14, 1<<I420)), ErrField},
		{"welcome unknown format", patch(wel, set16(14, 1<<RGBA|1<<4)), ErrField},
		{"welcome heartbeat 0", patch(wel, set32(16, 0)), ErrField},
		{"welcome ready timeout 0", patch(wel, set32(20, 0)), ErrField},
		{"welcome cap below timeout", patch(wel, set32(24, 1000)), ErrField},
		{"welcome cap too big", patch(wel, set32(24, MaxLoadingMS+1)), ErrField},
		{"welcome started timeout 0", patch(wel, set32(28, 0)), ErrField},
		{"welcome stall 99", patch(wel, set32(32, 99)), ErrField},
		{"frame slot 8", patch(FrameReady{Seq: 1}, set(0, MaxSlots)), ErrField},
		{"frame unknown flag", patch(FrameReady{Seq: 1}, set(1, 2)), ErrField},
		{"frame reserved", patch(FrameReady{Seq: 1}, set(3, 1)), ErrField},
		{"frame seq 0", FrameReady{}.Append(nil), ErrField},
		{"frame short", patch(FrameReady{Seq: 1}, trunc(1)), ErrShort},
		{"frame long", patch(FrameReady{Seq: 1}, extra(0)), ErrLong},
		{"audio slot 32", patch(AudioReady{Frames: 1}, set(0, MaxAudioSlots)), ErrField},
		{"audio reserved", patch(AudioReady{Frames: 1}, set(1, 1)), ErrField},
		{"audio 0 frames", AudioReady{}.Append(nil), ErrField},
		{"audio too many frames", AudioReady{Frames: MaxAudioFrames + 1}.Append(nil), ErrField},
		{"audio short", patch(AudioReady{Frames: 1}, trunc(8)), ErrShort},
		{"loading 0", Loading{}.Append(nil), ErrField},
		{"loading too long", Loading{UntilMS: MaxLoadingMS + 1}.Append(nil), ErrField},
		{"loading short", patch(Loading{UntilMS: 1}, trunc(1)), ErrShort},
		{"log empty", hdr(uint16(TypeLog), 0, 0), ErrShort},
		{"log level 4", Log{Level: 4}.Append(nil), ErrField},
		{"log too long", Log{Text: strings.Repeat("x", MaxText+1)}.Append(nil), ErrLong},
		{"log not utf8", Log{Text: "a\xffb"}.Append(nil), ErrField},
		{"fatal empty", Fatal{}.Append(nil), ErrShort},
		{"fatal too long", Fatal{Text: strings.Repeat("x", MaxText+1)}.Append(nil), ErrLong},
		{"fatal not utf8", Fatal{Text: "\xc3"}.Append(nil), ErrField},
		{"ending not json", Ending{Result: "{score: 1}"}.Append(nil), ErrField},
		{"ending not an object", Ending{Result: "[1]"}.Append(nil), ErrField},
		{"ending not utf8", Ending{Result: "{\"a\":\"\xff\"}"}.Append(nil), ErrField},
		{"ending too long", Ending{Result: `{"a":"` + strings.Repeat("x", MaxResult) + `"}`}.Append(nil), ErrLong},
		{"pool 0 slots", patch(rgba, set(0, 0)), ErrField},
		{"pool 9 slots", patch(rgba, set(0, 9)), ErrField},
		{"pool format 0", patch(rgba, set(1, 0)), ErrField},
		{"pool format 4", patch(rgba, set(1, 4)), ErrField},
		{"pool reserved", patch(rgba, set(2, 1)), ErrField},
		{"pool odd height", patch(rgba, set16(6, 31)), ErrField},
		{"pool too wide", patch(rgba, set16(4, MaxWidth+2)), ErrField},
		{"pool slot size 0", patch(rgba, set32(8, 0)), ErrField},
		{"pool slot size too big", patch(rgba, set32(8, MaxSlotSize+1)), ErrField},
		{"pool slot too small", patch(rgba, set32(8, 64*4*32-1)), ErrField},
		{"pool stride too small", patch(rgba, set32(16, 64*4-1)), ErrField},
		{"pool stride huge", patch(rgba, set32(16, 0xffffffff)), ErrField},
		{"pool offset past slot", patch(rgba, set32(12, 0xffffff00)), ErrField},
		{"pool rgba plane 1 set", patch(rgba, set32(20, 64)), ErrField},
		{"pool i420 planes overlap", patch(i420, set32(20, 64)), ErrField},
		{"pool i420 v past slot", patch(i420, set32(28, i420.SlotSize)), ErrField},
		{"pool i420 u stride small", patch(i420, set32(24, 31)), ErrField},
		{"pool short", patch(rgba, trunc(1)), ErrShort},
		{"pool long", patch(rgba, extra(0)), ErrLong},
		{"audio pool 0 slots", patch(audioPool(t), set(0, 0)), ErrField},
		{"audio pool 33 slots", patch(audioPool(t), set(0, 33)), ErrField},
		{"audio pool format 3", patch(audioPool(t), set(1, 3)), ErrField},
		{"audio pool mono", patch(audioPool(t), set(2, 1)), ErrField},
		{"audio pool reserved", patch(audioPool(t), set(3, 1)), ErrField},
		{"audio pool 44.1 kHz", patch(audioPool(t), set32(4, 44100)), ErrField},
		{"audio pool 0 frames", patch(audioPool(t), set32(8, 0)), ErrField},
		{"audio pool too many frames", patch(audioPool(t), set32(8, MaxAudioFrames+1)), ErrField},
		{"audio pool slot too small", patch(audioPool(t), set32(12, 480*4-1)), ErrField},
		{"audio pool slot too big", patch(audioPool(t), set32(12, MaxAudioSlotSize+1)), ErrField},
		{"release slot 8", Release{Slot: 8}.Append(nil), ErrField},
		{"release long", patch(Release{}, extra(0)), ErrLong},
		{"release short", patch(Release{}, trunc(1)), ErrShort},
		{"audio release slot 32", AudioRelease{Slot: 32}.Append(nil), ErrField},
		{"input no events", hdr(uint16(TypeInput), 0, 2, 0, 0), ErrField},
		{"input player 8", patch(testInput(t), set(0, 8)), ErrField},
		{"input count 65", patch(testInput(t), set(1, 65)), ErrField},
		{"input count above records", patch(testInput(t), set(1, 6)), ErrShort},
		{"input count below records", patch(testInput(t), set(1, 4)), ErrLong},
		{"input record len past end", patch(testInput(t), set(2, 200)), ErrShort},
		{"input record len wrong", patch(testInput(t), set(2, 12)), ErrField},
		{"input bad record", patch(testInput(t), set(3, 2)), ErrField},
		{"input truncated", patch(testInput(t), trunc(1)), ErrShort},
		{"input header only", hdr(uint16(TypeInput), 0, 1, 0), ErrShort},
		{"assign empty", hdr(uint16(TypeAssign), 0, 0), ErrShort},
		{"assign no id", Assign{}.Append(nil), ErrField},
		{"assign id with space", Assign{Session: "a b"}.Append(nil), ErrField},
		{"assign id too long", Assign{Session: strings.Repeat("a", MaxID+1)}.Append(nil), ErrField},
		{"assign id len past end", patch(Assign{Session: "abc"}, set(0, 4)), ErrShort},
		{"assign params too long", Assign{Session: "a", Params: make([]byte, MaxPayload+1)}.Append(nil), ErrLong},
		{"joined player 8", PlayerJoined{Player: 8, ID: "p"}.Append(nil), ErrField},
		{"joined no id", PlayerJoined{}.Append(nil), ErrField},
		{"joined empty", hdr(uint16(TypePlayerJoined), 0, 0), ErrShort},
		{"joined payload too long", PlayerJoined{ID: "p", Payload: make([]byte, MaxPayload+1)}.Append(nil), ErrLong},
		{"left player 8", PlayerLeft{Player: 8}.Append(nil), ErrField},
		{"away player 255", PlayerAway{Player: 255}.Append(nil), ErrField},
		{"back long", patch(PlayerBack{}, extra(0)), ErrLong},
		{"drain 0", Drain{}.Append(nil), ErrField},
		{"drain too long", Drain{DeadlineMS: MaxDrainMS + 1}.Append(nil), ErrField},
		{"shutdown too long", Shutdown{GraceMS: MaxGraceMS + 1}.Append(nil), ErrField},
		{"shutdown short", patch(Shutdown{}, trunc(2)), ErrShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode(tt.b)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode = %+v, %v; want %v", m, err, tt.want)
			}
		})
	}
}

func TestIgnorable(t *testing.T) {
	b := Unknown{T: 99, Len: 5}.Append(nil)
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := m.(Unknown); !ok || u.T != 99 || u.Len != 5 {
		t.Fatalf("got %#v", m)
	}
	// Known types ignore the flag.
	r := Release{Slot: 1}.Append(nil)
	r[2] = byte(FlagIgnorable)
	if m, err := Decode(r); err != nil || m != (Release{Slot: 1}) {
		t.Fatalf("ignorable release: %v, %v", m, err)
	}
}

func TestDirections(t *testing.T) {
	for typ := range typeNames {
		fromGame := typ < TypeWelcome
		if typ.FromGame() != fromGame {
			t.Errorf("%s: FromGame %v", typ, typ.FromGame())
		}
	}
	if TypeBufferPool.FDs() != 1 || TypeAudioPool.FDs() != 1 || TypeFrameReady.FDs() != 0 {
		t.Error("FDs")
	}
	if Type(999).String() != "type(999)" || TypeFrameReady.String() != "frame_ready" {
		t.Error("String")
	}
}

func TestDecodeAllocations(t *testing.T) {
	for _, tt := range allMessages(t) {
		b := tt.m.Append(nil)
		// One value for the interface, plus at most a copy of each variable part (an id and a
		// payload): never more than the datagram.
		if n := testing.AllocsPerRun(20, func() { _, _ = Decode(b) }); n > 3 {
			t.Errorf("%s: %v allocations", tt.name, n)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, tt := range allMessages(f) {
		f.Add(tt.m.Append(nil))
	}
	f.Add(Unknown{T: 500, Len: 3}.Append(nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		if u, ok := m.(Unknown); ok {
			if u.Len != len(b)-HeaderSize {
				t.Fatalf("unknown len %d of %d", u.Len, len(b))
			}
			return
		}
		// Every accepted message re-encodes to the same bytes (known types ignore FlagIgnorable).
		want := append([]byte(nil), b...)
		want[2] &^= byte(FlagIgnorable)
		if out := m.Append(nil); !bytes.Equal(out, want) {
			t.Fatalf("re-encode %x != %x", out, want)
		}
		if len(b) > 2*HeaderSize+MaxText+MaxPayload {
			t.Fatalf("accepted a %d-byte message", len(b))
		}
		switch m := m.(type) {
		case BufferPool:
			for k := range int(m.NSlots) {
				for i := range m.Format.planes() {
					_, rows := m.Format.plane(i, int(m.Width), int(m.Height))
					end := uint64(m.Planes[i].Offset) + uint64(m.Planes[i].Stride)*uint64(rows)
					if end > uint64(m.SlotSize) || k >= MaxSlots {
						t.Fatalf("accepted pool with plane %d ending at %d > %d", i, end, m.SlotSize)
					}
				}
			}
		case *Input:
			n := 0
			for range m.Events() {
				n++
			}
			if n != m.Len() || n == 0 || n > MaxInputBatch {
				t.Fatalf("input batch of %d (Len %d)", n, m.Len())
			}
		}
	})
}
