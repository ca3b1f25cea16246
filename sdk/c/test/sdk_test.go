package csdk

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgeplay/edgeplay/game/marker"
	"github.com/edgeplay/edgeplay/gameproto"
	"github.com/edgeplay/edgeplay/input"
)

// fmtInput writes an input event as the REPL prints an ep_input_event.
func fmtInput(e input.Event) string {
	down := 0
	if e.Down {
		down = 1
	}
	return fmt.Sprintf("%d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d",
		e.Type, e.Seq, e.Time, e.Code, e.Mods, e.Button, down, e.DX, e.DY, e.X, e.Y,
		e.Pad, e.PadFlags, e.Buttons, e.LT, e.RT, e.LX, e.LY, e.RX, e.RY)
}

// without is the REPL's descriptor list fds without fd.
func without(fds, fd string) string {
	return strings.Join(slices.DeleteFunc(strings.Fields(fds), func(s string) bool { return s == fd }), " ")
}

// everyInput is one event of every input type, the touch controls (pad 7) included.
func everyInput() []input.Event {
	return []input.Event{
		{Type: input.KeyDown, Seq: 7, Time: 1000, Code: input.KeyArrowUp, Mods: input.ModShift | input.ModMeta, Down: true},
		{Type: input.KeyUp, Seq: 8, Time: 1001, Code: input.KeyW},
		{Type: input.MouseMove, Seq: 9, Time: 1002, DX: -3, DY: 32767, X: 65535, Y: 12},
		{Type: input.MouseButton, Seq: 10, Button: 4, Down: true},
		{Type: input.MouseButton, Seq: 11, Button: input.ButtonLeft},
		{Type: input.Wheel, Seq: 12, DX: -32768, DY: 120},
		{Type: input.GamepadConnect, Seq: 13, Pad: 2, PadFlags: input.PadRumble, Down: true},
		{Type: input.GamepadState, Seq: 14, Pad: 2, Buttons: 1<<input.PadA | 1<<input.PadHome, LT: 255, RT: 1, LX: -32767, LY: 32767, RX: 5, RY: -1},
		{Type: input.GamepadDisconnect, Seq: 15, Pad: 2, PadFlags: input.PadRumble},
		{Type: input.GamepadConnect, Seq: 16, Pad: input.TouchPad, PadFlags: input.PadTouch, Down: true},
		{Type: input.GamepadState, Seq: 17, Pad: input.TouchPad, Buttons: 1<<input.PadA | 1<<input.PadRT, RT: 255, LY: -20000, RX: 30000},
		{Type: input.GamepadDisconnect, Seq: 0xffffffff, Pad: input.TouchPad, PadFlags: input.PadTouch},
	}
}

// TestLifecycle plays a whole session against the fake host: hello → welcome → pool → loading
// → ready → assign → started → input of every type → frames submitted and released → away,
// back, drain, shutdown → end with a result → close, and checks that no descriptor is left.
func TestLifecycle(t *testing.T) {
	h, p := game(t, testWelcome(), gameproto.RGBA, "")
	if got, want := p.ok("welcome"), "major=1 minor=0 caps=8 w=64 h=32 fps=60 formats=14 hb=2000 ready=60000 cap=600000 started=10000 stall=3000"; got != want {
		t.Fatalf("welcome %q, want %q", got, want)
	}
	if got, want := p.ok("pool"), "n=3 fmt=1 w=64 h=32 size=8192 planes=0:256,0:0,0:0"; got != want {
		t.Fatalf("pool %q, want %q", got, want)
	}
	p.fails("EP_ERR_STATE", "apool")
	if got := p.ok("session"); got != "" {
		t.Errorf("session before assign %q", got)
	}
	p.ok("loading 3000")
	if m := h.recvSkipPings(); m != (gameproto.Loading{UntilMS: 3000}) {
		t.Fatalf("got %#v", m)
	}
	p.fails("EP_ERR_STATE", "acquire")
	toStarted(t, h, p)
	for _, want := range []gameproto.Type{gameproto.TypeReady, gameproto.TypeStarted} {
		if m := h.recvSkipPings(); m.Type() != want {
			t.Fatalf("got %v, want %v", m.Type(), want)
		}
	}
	if got := p.ok("session"); got != "s1" {
		t.Errorf("session %q", got)
	}

	// Input of every type arrives decoded, in order.
	in := &gameproto.Input{Player: 0}
	var want []string
	for _, ev := range everyInput() {
		if !in.Add(ev) {
			t.Fatalf("not a valid event: %+v", ev)
		}
		want = append(want, fmtInput(ev))
	}
	h.send(in)
	if got, want := p.ok("poll 5000"), fmt.Sprintf("input player=0 n=%d %s", len(want), strings.Join(want, ";")); got != want {
		t.Fatalf("input:\n got %s\nwant %s", got, want)
	}

	// Two frames: the host sees the pixels in its own mapping; seq and pts increase.
	var last gameproto.FrameReady
	for i := range 2 {
		a := p.ok("acquire")
		var slot int
		if _, err := fmt.Sscanf(a, "slot=%d", &slot); err != nil || !strings.HasSuffix(a, "fmt=1 w=64 h=32 strides=256,0,0 planes=1,0,0") {
			t.Fatalf("acquire: %q", a)
		}
		p.ok("poke %d 0 0 %x", slot, 0x40+i)
		p.ok("poke %d 0 end ee", slot)
		before := monotonic(t)
		p.ok("submit %d 8 0", slot)
		after := monotonic(t)
		fr, ok := h.recvSkipPings().(gameproto.FrameReady)
		if !ok || int(fr.Slot) != slot || fr.InputSeq != 8 || fr.Flags != 0 || fr.Seq != uint64(i+1) || fr.PTS < last.PTS ||
			fr.PTS < before || fr.PTS > after {
			t.Fatalf("frame_ready %#v after %#v (pts within %d..%d)", fr, last, before, after)
		}
		last = fr
		px := h.pool.Plane(h.pool.Slot(h.mem, slot), 0)
		if px[0] != byte(0x40+i) || px[len(px)-1] != 0xee {
			t.Fatalf("host sees %x … %x", px[0], px[len(px)-1])
		}
		h.send(gameproto.Release{Slot: fr.Slot})
		if got := p.ok("poll 5000"); got != fmt.Sprintf("released slot=%d", slot) {
			t.Fatalf("got %q", got)
		}
	}

	h.send(gameproto.PlayerJoined{Player: 3, ID: "bob", Payload: []byte{0, 1, 0xff}})
	h.send(gameproto.PlayerAway{Player: 0})
	h.send(gameproto.PlayerBack{Player: 0})
	h.send(gameproto.PlayerLeft{Player: 3})
	for _, want := range []string{"joined player=3 id=bob data=0001ff", "away player=0", "back player=0", "left player=3"} {
		if got := p.ok("poll 5000"); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	h.send(gameproto.Drain{DeadlineMS: 5000})
	h.send(gameproto.Shutdown{GraceMS: 1000})
	var ms, left int
	if _, err := fmt.Sscanf(p.ok("poll 5000"), "drain ms=%d left_ms=%d", &ms, &left); err != nil || ms != 5000 || left < 4000 || left > 5000 {
		t.Fatalf("drain: ms %d, %d ms left, %v", ms, left, err)
	}
	if _, err := fmt.Sscanf(p.ok("poll 5000"), "shutdown ms=%d left_ms=%d", &ms, &left); err != nil || ms != 1000 || left < 0 || left > 1000 {
		t.Fatalf("shutdown: ms %d, %d ms left, %v", ms, left, err)
	}
	p.ok("end %x", `{"score":1200}`)
	if m := h.recvSkipPings(); m != (gameproto.Ending{Result: `{"score":1200}`}) {
		t.Fatalf("got %#v", m)
	}
	p.fails("EP_ERR_STATE", "started")
	p.fails("EP_ERR_STATE", "ping")
	p.fails("EP_ERR_STATE", "acquire")
	p.fails("EP_ERR_STATE", "end -")
	p.ok("log 1 %x", "bye")
	if m := h.recvSkipPings(); m != (gameproto.Log{Level: 1, Text: "bye"}) {
		t.Fatalf("got %#v", m)
	}
	before := p.ok("fds")
	p.ok("close")
	if got, want := p.ok("fds"), without(before, "3"); got != want {
		t.Errorf("descriptors %q after close, want %q", got, want)
	}
	if _, err := h.recvWithin(5 * time.Second); err == nil || !strings.Contains(err.Error(), "EOF") {
		t.Errorf("the host's end after close: %v", err)
	}
}

// TestSlotOwnership: no slot is handed out twice, acquire says EP_NO_SLOT while every slot is
// with the host or the game, a release frees exactly its slot, frames cannot be submitted twice
// and a frame the SDK did not hand out is refused.
func TestSlotOwnership(t *testing.T) {
	h, p := game(t, testWelcome(), gameproto.RGBA, "")
	toStarted(t, h, p)
	var slots []int
	seen := map[int]bool{}
	for range 3 {
		var k int
		if _, err := fmt.Sscanf(p.ok("acquire"), "slot=%d", &k); err != nil || seen[k] {
			t.Fatalf("acquire: %d %v", k, err)
		}
		seen[k] = true
		slots = append(slots, k)
	}
	p.fails("EP_NO_SLOT", "acquire")
	p.ok("discard %d", slots[2])
	p.fails("EP_ERR_STATE", "discard %d", slots[2])
	for _, k := range slots[:2] {
		p.ok("submit %d 0 0", k)
	}
	p.fails("EP_ERR_STATE", "submit %d 0 0", slots[0])
	gen := p.ok("gen %d", slots[0])
	p.fails("EP_ERR_ARG", "submitraw %d %s 0 0", 7, gen)          // past the pool
	p.fails("EP_ERR_ARG", "submitraw %d 999 0 0", slots[2])       // another pool's
	p.fails("EP_ERR_ARG", "submitraw -1 %s 0 0", gen)             // no slot
	p.fails("EP_ERR_STATE", "submitraw %d %s 0 0", slots[2], gen) // free, not acquired
	var k int
	if _, err := fmt.Sscanf(p.ok("acquire"), "slot=%d", &k); err != nil || k != slots[2] {
		t.Fatalf("acquire the discarded slot: %d %v", k, err)
	}
	p.fails("EP_ERR_ARG", "submit %d 0 2", k) // an unknown flag
	p.fails("EP_NO_SLOT", "acquire")
	h.send(gameproto.Release{Slot: uint8(slots[1])})
	if got := p.ok("poll 5000"); got != fmt.Sprintf("released slot=%d", slots[1]) {
		t.Fatalf("got %q", got)
	}
	if _, err := fmt.Sscanf(p.ok("acquire"), "slot=%d", &k); err != nil || k != slots[1] {
		t.Fatalf("acquire after release: %d %v", k, err)
	}
	p.fails("EP_NO_SLOT", "acquire")
	var seqs []uint64
	for _, m := range h.drain() {
		if fr, ok := m.(gameproto.FrameReady); ok {
			seqs = append(seqs, fr.Seq)
		}
	}
	if len(seqs) != 2 || seqs[0] != 1 || seqs[1] != 2 {
		t.Errorf("seqs %v", seqs)
	}
}

// TestPlanarFrames: I420 and NV12 pools give their planes with the host's offsets and strides,
// and the host sees what the game wrote in each.
func TestPlanarFrames(t *testing.T) {
	for _, c := range []struct {
		format gameproto.PixelFormat
		opts   string
		cap    uint32
		planes string
	}{
		{gameproto.I420, "i420", gameproto.CapI420, "planes=1,1,1"},
		{gameproto.NV12, "nv12", gameproto.CapNV12, "planes=1,1,0"},
	} {
		t.Run(c.format.String(), func(t *testing.T) {
			w := testWelcome()
			w.Caps |= c.cap
			h, p := game(t, w, c.format, c.opts)
			toStarted(t, h, p)
			a := p.ok("acquire")
			var slot int
			if _, err := fmt.Sscanf(a, "slot=%d", &slot); err != nil {
				t.Fatal(a, err)
			}
			pl := h.pool.Planes
			if want := fmt.Sprintf("fmt=%d w=64 h=32 strides=%d,%d,%d %s", c.format, pl[0].Stride, pl[1].Stride, pl[2].Stride, c.planes); !strings.HasSuffix(a, want) {
				t.Fatalf("acquire %q, want … %q", a, want)
			}
			n := strings.Count(c.planes, "1")
			for i := range n {
				p.ok("poke %d %d 0 %x", slot, i, i+1)
				p.ok("poke %d %d end %x", slot, i, 0xa0+i)
			}
			p.ok("submit %d 0 0", slot)
			s := h.pool.Slot(h.mem, slot)
			for i := range n {
				b := h.pool.Plane(s, i)
				if b[0] != byte(i+1) || b[len(b)-1] != byte(0xa0+i) {
					t.Errorf("plane %d: host sees %x … %x", i, b[0], b[len(b)-1])
				}
			}
		})
	}
}

// TestMarker: ep_draw_marker draws exactly game/marker's pattern, which the host's reader
// reads back, in every format.
func TestMarker(t *testing.T) {
	const value = 0xbeef
	for _, c := range []struct {
		format gameproto.PixelFormat
		opts   string
		cap    uint32
	}{
		{gameproto.RGBA, "", 0},
		{gameproto.I420, "i420", gameproto.CapI420},
		{gameproto.NV12, "nv12", gameproto.CapNV12},
	} {
		t.Run(c.format.String(), func(t *testing.T) {
			w := testWelcome()
			w.Width, w.Height, w.Caps = 320, 96, w.Caps|c.cap
			h, p := game(t, w, c.format, c.opts)
			toStarted(t, h, p)
			var slot int
			if _, err := fmt.Sscanf(p.ok("acquire"), "slot=%d", &slot); err != nil {
				t.Fatal(err)
			}
			p.ok("marker %d %d", slot, value)
			p.ok("submit %d 42 1", slot)
			fr, ok := h.recvType(gameproto.TypeFrameReady).(gameproto.FrameReady)
			if !ok || fr.Flags != gameproto.FrameMarker || fr.InputSeq != 42 {
				t.Fatalf("frame_ready %#v", fr)
			}
			s := h.pool.Slot(h.mem, slot)
			y, stride := h.pool.Plane(s, 0), int(h.pool.Planes[0].Stride)
			var got uint16
			if c.format == gameproto.RGBA {
				got, ok = marker.ReadRGBA(y, stride)
				want := make([]byte, len(y))
				copy(want, y)
				marker.Draw(want, stride, value)
				if !bytes.Equal(want, y) {
					t.Error("the picture differs from marker.Draw's")
				}
			} else {
				got, ok = marker.Read(y, stride)
				uv := h.pool.Plane(s, 1)
				if uv[0] != 128 || uv[int(h.pool.Planes[1].Stride)*31+127] != 128 {
					t.Errorf("chroma under the marker: %d, %d", uv[0], uv[int(h.pool.Planes[1].Stride)*31+127])
				}
			}
			if !ok || got != value {
				t.Fatalf("marker reads %#x, %v; want %#x", got, ok, value)
			}
		})
	}
	t.Run("too small", func(t *testing.T) {
		h, p := game(t, testWelcome(), gameproto.RGBA, "")
		toStarted(t, h, p)
		var slot int
		if _, err := fmt.Sscanf(p.ok("acquire"), "slot=%d", &slot); err != nil {
			t.Fatal(err)
		}
		p.fails("EP_ERR_ARG", "marker %d 1", slot)
	})
}

// TestInputDecode: ep_decode_input accepts exactly what input.Decode accepts and decodes it to
// the same fields: every type's valid records, every boundary the wire format names, and a few
// thousand mutated and random records.
func TestInputDecode(t *testing.T) {
	var cases [][]byte
	for _, ev := range everyInput() {
		rec := input.Append(nil, ev)
		cases = append(cases, rec)
		// Every record one byte short and one byte long, and every byte flipped to each edge.
		cases = append(cases, rec[:len(rec)-1], append(append([]byte{}, rec...), 0))
		for i := range rec {
			for _, v := range []byte{0, 1, 2, 4, 5, 7, 8, 9, 0x0f, 0x10, 0x7f, 0x80, 0xff} {
				m := append([]byte{}, rec...)
				m[i] = v
				cases = append(cases, m)
			}
		}
	}
	rng := uint64(0x9e3779b97f4a7c15)
	next := func() byte {
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		return byte(rng)
	}
	for range 3000 {
		n := int(next()) % 28
		b := make([]byte, n)
		for i := range b {
			b[i] = next()
		}
		if n > 1 && next()%2 == 0 { // mostly well-formed headers, to reach the payload checks
			b[0], b[1] = 1, 1+next()%8
		}
		cases = append(cases, b)
	}
	cases = append(cases, nil)

	p := start(t, replBin(t), nil, nil)
	accepted := 0
	for _, b := range cases {
		got := p.do("decode %s", hex.EncodeToString(b))
		ev, err := input.Decode(b)
		switch {
		case err != nil && got != "err EP_ERR_ARG":
			t.Errorf("%x: Go refuses (%v), C says %q", b, err, got)
		case err == nil && got != "ok "+fmtInput(ev):
			t.Errorf("%x: Go decodes %s, C says %q", b, fmtInput(ev), got)
		case err == nil:
			accepted++
		}
	}
	if accepted < 100 || accepted == len(cases) {
		t.Errorf("%d of %d cases valid: the cases do not cover both sides", accepted, len(cases))
	}
}

// TestHostErrors: whatever the host sends that the protocol forbids is EP_ERR_PROTOCOL and
// breaks the handle: every later call fails the same way, but fatal still reaches the host.
// Descriptors that came with a refused message are closed.
func TestHostErrors(t *testing.T) {
	twoFDs := func(h *fakeHost) {
		f := h.memfd(4096)
		h.sendRaw(header(gameproto.TypeRelease, 0, 0), int(f.Fd()), int(f.Fd()))
	}
	manyFDs := func(h *fakeHost) {
		f := h.memfd(4096)
		fds := make([]int, 20)
		for i := range fds {
			fds[i] = int(f.Fd())
		}
		h.sendRaw(header(gameproto.TypeRelease, 0, 0), fds...)
	}
	rawPool := func(h *fakeHost, edit func(b []byte)) {
		p, err := gameproto.NewBufferPool(gameproto.RGBA, 64, 32, 3)
		if err != nil {
			h.tb.Fatal(err)
		}
		b := p.Append(nil)
		edit(b[gameproto.HeaderSize:])
		h.sendRaw(b, int(h.memfd(p.Size()).Fd()))
	}
	cases := []struct {
		name    string
		started bool // bring the game to started first
		audio   bool // agree audio
		host    func(h *fakeHost)
	}{
		{"garbage", false, false, func(h *fakeHost) { h.sendRaw([]byte{1, 2, 3}) }},
		{"empty payload, short header", false, false, func(h *fakeHost) { h.sendRaw(header(gameproto.TypeDrain, 0)[:7]) }},
		{"bad length", false, false, func(h *fakeHost) { h.sendRaw(append(header(gameproto.TypeRelease, 0, 0), 0)) }},
		{"length past the datagram", false, false, func(h *fakeHost) {
			b := header(gameproto.TypeDrain, 0, 1, 0, 0, 0)
			b[4] = 5
			h.sendRaw(b)
		}},
		{"unknown flag", false, false, func(h *fakeHost) { h.sendRaw(header(gameproto.TypeDrain, 2, 1, 0, 0, 0)) }},
		{"unknown type", false, false, func(h *fakeHost) { h.sendRaw(header(200, 0)) }},
		{"ignorable with a descriptor", false, false, func(h *fakeHost) {
			h.sendRaw(header(200, gameproto.FlagIgnorable), int(h.memfd(4096).Fd()))
		}},
		{"game's type", false, false, func(h *fakeHost) { h.sendRaw(header(gameproto.TypePing, 0)) }},
		{"oversized datagram", false, false, func(h *fakeHost) {
			// Its first 64 KiB are a valid ignorable message: only MSG_TRUNC tells.
			b := header(200, gameproto.FlagIgnorable, make([]byte, gameproto.MaxMessageSize-gameproto.HeaderSize)...)
			h.sendRaw(append(b, make([]byte, 100)...))
			h.send(gameproto.Drain{DeadlineMS: 1})
		}},
		{"assign too long", false, false, func(h *fakeHost) {
			h.sendRaw(header(gameproto.TypeAssign, 0, append([]byte{1, 's'}, make([]byte, gameproto.MaxPayload+1)...)...))
		}},
		{"descriptor on a release", true, false, func(h *fakeHost) {
			h.sendRaw(header(gameproto.TypeRelease, 0, 0), int(h.memfd(4096).Fd()))
		}},
		{"two descriptors", true, false, twoFDs},
		{"twenty descriptors", true, false, manyFDs},
		{"pool without its memfd", true, false, func(h *fakeHost) {
			p, _ := gameproto.NewBufferPool(gameproto.RGBA, 64, 32, 3)
			h.sendRaw(p.Append(nil))
		}},
		{"pool reserved byte", false, false, func(h *fakeHost) { rawPool(h, func(b []byte) { b[3] = 1 }) }},
		{"pool plane 1 not zero", false, false, func(h *fakeHost) { rawPool(h, func(b []byte) { b[24] = 1 }) }},
		{"pool stride too small", false, false, func(h *fakeHost) { rawPool(h, func(b []byte) { b[16], b[17] = 4, 0 }) }},
		{"pool 9 slots", false, false, func(h *fakeHost) { rawPool(h, func(b []byte) { b[0] = 9 }) }},
		{"pool while the host holds a slot", true, false, func(h *fakeHost) { h.sendPool(gameproto.RGBA, 64, 32, 3) }},
		{"pool of another size", false, false, func(h *fakeHost) { h.sendPool(gameproto.RGBA, 128, 32, 3) }},
		{"release of a slot past the pool", true, false, func(h *fakeHost) { h.send(gameproto.Release{Slot: 5}) }},
		{"release past any pool", true, false, func(h *fakeHost) { h.sendRaw(header(gameproto.TypeRelease, 0, 8)) }},
		{"release of a free slot", true, false, func(h *fakeHost) { h.send(gameproto.Release{Slot: 2}) }},
		{"audio release without audio", true, false, func(h *fakeHost) { h.send(gameproto.AudioRelease{Slot: 0}) }},
		{"audio release of a free slot", true, true, func(h *fakeHost) { h.send(gameproto.AudioRelease{Slot: 1}) }},
		{"audio pool without audio", true, false, func(h *fakeHost) { h.sendAudioPool(gameproto.S16, 480, 4) }},
		{"assign before ready", false, false, func(h *fakeHost) { h.send(gameproto.Assign{Session: "s"}) }},
		{"second assign", true, false, func(h *fakeHost) { h.send(gameproto.Assign{Session: "s2"}) }},
		{"assign id with a space", false, false, func(h *fakeHost) { h.sendRaw(header(gameproto.TypeAssign, 0, 2, 'a', ' ')) }},
		{"second welcome", false, false, func(h *fakeHost) { h.send(testWelcome()) }},
		{"player before assign", false, false, func(h *fakeHost) { h.send(gameproto.PlayerJoined{Player: 1, ID: "x"}) }},
		{"player 8", true, false, func(h *fakeHost) { h.sendRaw(header(gameproto.TypePlayerJoined, 0, 8, 1, 'x')) }},
		{"joined twice", true, false, func(h *fakeHost) { h.send(gameproto.PlayerJoined{Player: 0, ID: "x"}) }},
		{"left unknown player", true, false, func(h *fakeHost) { h.send(gameproto.PlayerLeft{Player: 3}) }},
		{"back without away", true, false, func(h *fakeHost) { h.send(gameproto.PlayerBack{Player: 0}) }},
		{"away twice", true, false, func(h *fakeHost) {
			h.send(gameproto.PlayerAway{Player: 0})
			h.send(gameproto.PlayerAway{Player: 0})
		}},
		{"drain 0", true, false, func(h *fakeHost) { h.sendRaw(header(gameproto.TypeDrain, 0, 0, 0, 0, 0)) }},
		{"shutdown grace too long", true, false, func(h *fakeHost) { h.sendRaw(header(gameproto.TypeShutdown, 0, 0xff, 0xff, 0xff, 0)) }},
		{"input from unknown player", true, false, func(h *fakeHost) {
			in := &gameproto.Input{Player: 2}
			in.Add(input.Event{Type: input.KeyDown, Seq: 1, Code: 4, Down: true})
			h.send(in)
		}},
		{"input without the input capability", true, false, func(h *fakeHost) {
			in := &gameproto.Input{Player: 0}
			in.Add(input.Event{Type: input.KeyDown, Seq: 1, Code: 4, Down: true})
			h.send(in)
		}},
		{"bad input record", true, false, func(h *fakeHost) {
			h.sendRaw(header(gameproto.TypeInput, 0, 0, 1, 2, 0xff, 0xff))
		}},
		{"input count 0", true, false, func(h *fakeHost) { h.sendRaw(header(gameproto.TypeInput, 0, 0, 0)) }},
		{"input records past the count", true, false, func(h *fakeHost) {
			rec := input.Append(nil, input.Event{Type: input.KeyDown, Seq: 1, Code: 4})
			pl := append([]byte{0, 1, byte(len(rec))}, rec...)
			pl = append(pl, byte(len(rec)))
			h.sendRaw(header(gameproto.TypeInput, 0, append(pl, rec...)...))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := testWelcome()
			if c.audio {
				w.Caps |= gameproto.CapAudio
			}
			if c.name == "input without the input capability" {
				w.Caps &^= gameproto.CapInput // the game asked for it; the host need not agree
			}
			opts := ""
			if c.audio {
				opts = "audio"
			}
			h, p := game(t, w, gameproto.RGBA, opts)
			before := p.ok("fds")
			switch {
			case c.started:
				toStarted(t, h, p)
				var k int
				if _, err := fmt.Sscanf(p.ok("acquire"), "slot=%d", &k); err != nil {
					t.Fatal(err)
				}
				p.ok("submit %d 0 0", k) // the host holds slot 0
			case c.name != "assign before ready":
				p.ok("ready")
			}
			c.host(h)
			for i := 0; ; i++ { // the events before the bad message, then the error
				l := p.do("poll 5000")
				if strings.HasPrefix(l, "err ") {
					if !strings.HasPrefix(l, "err EP_ERR_PROTOCOL ") {
						t.Fatalf("got %q, want EP_ERR_PROTOCOL", l)
					}
					t.Log(l)
					break
				}
				if i == 3 {
					t.Fatalf("no error: %q", l)
				}
			}
			p.fails("EP_ERR_PROTOCOL", "poll 0")
			p.fails("EP_ERR_PROTOCOL", "ping")
			p.fails("EP_ERR_PROTOCOL", "acquire")
			if got := p.ok("status"); got != "EP_ERR_PROTOCOL" {
				t.Errorf("status %s", got)
			}
			if after := p.ok("fds"); after != before {
				t.Errorf("descriptors %q before, %q after", before, after)
			}
			p.ok("fatal %x", "host broke the protocol")
			for {
				m := h.recv()
				if f, ok := m.(gameproto.Fatal); ok {
					if f.Text != "host broke the protocol" {
						t.Errorf("fatal %q", f.Text)
					}
					break
				}
			}
		})
	}
}

// TestIgnorable: an unknown message marked ignorable is skipped.
func TestIgnorable(t *testing.T) {
	h, p := game(t, testWelcome(), gameproto.RGBA, "")
	h.sendRaw(header(200, gameproto.FlagIgnorable, 1, 2, 3))
	h.sendRaw(header(0xffff, gameproto.FlagIgnorable))
	h.send(gameproto.Drain{DeadlineMS: 10})
	if got := p.ok("poll 5000"); !strings.HasPrefix(got, "drain ms=10 ") {
		t.Fatalf("got %q", got)
	}
}

// TestHostClosed: the host's close is EP_ERR_HOST_GONE; then not even fatal can be sent.
func TestHostClosed(t *testing.T) {
	h, p := game(t, testWelcome(), gameproto.RGBA, "")
	h.close()
	p.fails("EP_ERR_HOST_GONE", "poll 5000")
	p.fails("EP_ERR_HOST_GONE", "ready")
	p.fails("EP_ERR_STATE", "fatal %x", "x")

	// A send to a closed host is EP_ERR_HOST_GONE too, and raises no SIGPIPE.
	h, p = game(t, testWelcome(), gameproto.RGBA, "")
	h.close()
	p.fails("EP_ERR_HOST_GONE", "ready")
	p.fails("EP_ERR_HOST_GONE", "poll 0")
}

// TestHandshakeErrors: a handshake the game cannot accept fails ep_open with the right error,
// a NULL handle and a reason, and leaves no descriptor open: the link and every memfd the host
// sent are closed.
func TestHandshakeErrors(t *testing.T) {
	welcomeWith := func(f func(*gameproto.Welcome)) gameproto.Welcome {
		w := testWelcome()
		f(&w)
		return w
	}
	memfdWithSeals := func(h *fakeHost, size int64, seals int) *os.File {
		fd, err := unix.MemfdCreate("csdk-test", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
		if err != nil {
			h.tb.Fatal(err)
		}
		f := os.NewFile(uintptr(fd), "memfd")
		h.tb.Cleanup(func() { _ = f.Close() })
		if err := f.Truncate(size); err != nil {
			h.tb.Fatal(err)
		}
		if seals != 0 {
			if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
				h.tb.Fatal(err)
			}
		}
		return f
	}
	poolWith := func(h *fakeHost, f *os.File) {
		p, _ := gameproto.NewBufferPool(gameproto.RGBA, 64, 32, 3)
		if err := h.conn.Send(p, int(f.Fd())); err != nil {
			h.tb.Fatal(err)
		}
	}
	size := int64(3 * 8192)
	cases := []struct {
		name string
		opts string
		want string
		host func(h *fakeHost)
	}{
		{"major 2", "", "EP_ERR_VERSION", func(h *fakeHost) {
			b := testWelcome().Append(nil)
			b[gameproto.HeaderSize] = 2
			h.sendRaw(b)
		}},
		{"pool before welcome", "", "EP_ERR_PROTOCOL", func(h *fakeHost) { h.sendPool(gameproto.RGBA, 64, 32, 3) }},
		{"caps not announced", "", "EP_ERR_PROTOCOL", func(h *fakeHost) {
			h.send(welcomeWith(func(w *gameproto.Welcome) { w.Caps |= gameproto.CapNV12 }))
		}},
		{"input not announced", "noinput", "EP_ERR_PROTOCOL", func(h *fakeHost) { h.send(testWelcome()) }},
		{"minor from the future", "", "EP_ERR_PROTOCOL", func(h *fakeHost) {
			h.send(welcomeWith(func(w *gameproto.Welcome) { w.Minor = 1 }))
		}},
		{"welcome odd width", "", "EP_ERR_PROTOCOL", func(h *fakeHost) {
			b := testWelcome().Append(nil)
			b[gameproto.HeaderSize+8] = 65
			h.sendRaw(b)
		}},
		{"welcome without rgba", "", "EP_ERR_PROTOCOL", func(h *fakeHost) {
			b := testWelcome().Append(nil)
			b[gameproto.HeaderSize+14] = 4
			h.sendRaw(b)
		}},
		{"welcome too long", "", "EP_ERR_PROTOCOL", func(h *fakeHost) {
			b := testWelcome().Append(nil)
			h.sendRaw(header(gameproto.TypeWelcome, 0, append(b[gameproto.HeaderSize:], 0)...))
		}},
		{"welcome with a descriptor", "", "EP_ERR_PROTOCOL", func(h *fakeHost) {
			h.sendRaw(testWelcome().Append(nil), int(h.memfd(4096).Fd()))
		}},
		{"format not agreed", "", "EP_ERR_PROTOCOL", func(h *fakeHost) {
			h.send(testWelcome())
			h.sendPool(gameproto.I420, 64, 32, 3)
		}},
		{"format not accepted by the host", "i420", "EP_ERR_PROTOCOL", func(h *fakeHost) {
			h.send(welcomeWith(func(w *gameproto.Welcome) { w.Caps |= gameproto.CapI420; w.Formats = 1 << gameproto.RGBA }))
			h.sendPool(gameproto.I420, 64, 32, 3)
		}},
		{"pool size differs", "", "EP_ERR_PROTOCOL", func(h *fakeHost) {
			h.send(testWelcome())
			h.sendPool(gameproto.RGBA, 128, 32, 3)
		}},
		{"unsealed memfd", "", "EP_ERR_PROTOCOL", func(h *fakeHost) {
			h.send(testWelcome())
			poolWith(h, memfdWithSeals(h, size, 0))
		}},
		{"memfd without F_SEAL_SEAL", "", "EP_ERR_PROTOCOL", func(h *fakeHost) {
			h.send(testWelcome())
			poolWith(h, memfdWithSeals(h, size, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW))
		}},
		{"memfd too small", "", "EP_ERR_PROTOCOL", func(h *fakeHost) {
			h.send(testWelcome())
			poolWith(h, memfdWithSeals(h, size-1, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL))
		}},
		{"a file, not a memfd", "", "EP_ERR_PROTOCOL", func(h *fakeHost) {
			h.send(testWelcome())
			f, err := os.CreateTemp(h.tb.TempDir(), "pool")
			if err != nil {
				h.tb.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(size); err != nil {
				h.tb.Fatal(err)
			}
			poolWith(h, f)
		}},
		{"pool without its memfd", "", "EP_ERR_PROTOCOL", func(h *fakeHost) {
			h.send(testWelcome())
			p, _ := gameproto.NewBufferPool(gameproto.RGBA, 64, 32, 3)
			h.sendRaw(p.Append(nil))
		}},
		{"pool with two memfds", "", "EP_ERR_PROTOCOL", func(h *fakeHost) {
			h.send(testWelcome())
			p, _ := gameproto.NewBufferPool(gameproto.RGBA, 64, 32, 3)
			f := h.memfd(p.Size())
			h.sendRaw(p.Append(nil), int(f.Fd()), int(f.Fd()))
		}},
		{"oversized datagram", "", "EP_ERR_PROTOCOL", func(h *fakeHost) {
			h.sendRaw(make([]byte, gameproto.MaxMessageSize+100))
		}},
		{"no audio pool", "audio", "EP_ERR_PROTOCOL", func(h *fakeHost) {
			h.send(welcomeWith(func(w *gameproto.Welcome) { w.Caps |= gameproto.CapAudio }))
			h.sendPool(gameproto.RGBA, 64, 32, 3)
			h.send(gameproto.Drain{DeadlineMS: 1})
		}},
		{"unsealed audio memfd", "audio", "EP_ERR_PROTOCOL", func(h *fakeHost) {
			h.send(welcomeWith(func(w *gameproto.Welcome) { w.Caps |= gameproto.CapAudio }))
			h.sendPool(gameproto.RGBA, 64, 32, 3)
			a, _ := gameproto.NewAudioPool(gameproto.S16, 480, 4)
			if err := h.conn.Send(a, int(memfdWithSeals(h, a.Size(), 0).Fd())); err != nil {
				h.tb.Fatal(err)
			}
		}},
		{"audio pool of 3 channels", "audio", "EP_ERR_PROTOCOL", func(h *fakeHost) {
			h.send(welcomeWith(func(w *gameproto.Welcome) { w.Caps |= gameproto.CapAudio }))
			h.sendPool(gameproto.RGBA, 64, 32, 3)
			a, _ := gameproto.NewAudioPool(gameproto.S16, 480, 4)
			b := a.Append(nil)
			b[gameproto.HeaderSize+2] = 3
			h.sendRaw(b, int(h.memfd(a.Size()).Fd()))
		}},
		{"host gone", "", "EP_ERR_HOST_GONE", func(h *fakeHost) { h.close() }},
		{"timeout", "timeout=100", "EP_ERR_TIMEOUT", func(*fakeHost) {}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, link := newLink(t)
			c.host(h)
			p := start(t, replBin(t), link, nil)
			_ = link.Close()
			before := p.ok("fds")
			if !slices.Contains(strings.Fields(before), "3") {
				t.Fatalf("descriptors before open: %q", before)
			}
			why := p.fails(c.want, "open %s", c.opts)
			t.Log(why)
			if !strings.HasPrefix(why, c.want+": ") || strings.Contains(why, "handle not NULL") {
				t.Errorf("reason %q", why)
			}
			if got, want := p.ok("fds"), without(before, "3"); got != want {
				t.Errorf("descriptors after a failed open: %q, want %q", got, want)
			}
		})
	}
}

// TestOpen: ep_open finds the link through EDGEPLAY_FD (3 when unset or empty) and refuses a
// variable that is not a descriptor number, and a descriptor that is not a SEQPACKET socket.
func TestOpen(t *testing.T) {
	for _, c := range []struct {
		env  string
		want string
	}{
		{"EDGEPLAY_FD=3", "ok"},
		{"EDGEPLAY_FD=", "ok"},
		{"EDGEPLAY_FD=three", "EP_ERR_ARG"},
		{"EDGEPLAY_FD=-1", "EP_ERR_ARG"},
		{"EDGEPLAY_FD=3x", "EP_ERR_ARG"},
		{"EDGEPLAY_FD= 3", "EP_ERR_ARG"},
		{"EDGEPLAY_FD=99999999999", "EP_ERR_ARG"},
		{"EDGEPLAY_FD=77", "EP_ERR_ARG"}, // not open
	} {
		t.Run(c.env, func(t *testing.T) {
			h, link := newLink(t)
			h.send(testWelcome())
			h.sendPool(gameproto.RGBA, 64, 32, 3)
			p := start(t, replBin(t), link, []string{c.env})
			_ = link.Close()
			if c.want == "ok" {
				p.ok("open")
				return
			}
			t.Log(p.fails(c.want, "open"))
		})
	}
	t.Run("not a socket", func(t *testing.T) {
		p := start(t, replBin(t), nil, nil) // fd 3 is /dev/null
		before := p.ok("fds")
		p.fails("EP_ERR_ARG", "open")
		if got, want := p.ok("fds"), without(before, "3"); got != want {
			t.Errorf("descriptors %q after the failed open, want %q", got, want)
		}
	})
	t.Run("a stream socket", func(t *testing.T) {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
		defer a.Close()
		p := start(t, replBin(t), b, nil)
		_ = b.Close()
		p.fails("EP_ERR_ARG", "open")
	})
	t.Run("ep_open_fd", func(t *testing.T) {
		h, link := newLink(t)
		h.send(testWelcome())
		h.sendPool(gameproto.RGBA, 64, 32, 3)
		p := start(t, replBin(t), link, []string{"EDGEPLAY_FD=nonsense"})
		_ = link.Close()
		p.ok("open fd=3")
	})
}

// TestPingRateLimit: poll and submit ping at most once a second on the game's clock (and at
// least once a second with a long heartbeat), and a ping is due at once after the handshake.
func TestPingRateLimit(t *testing.T) {
	w := testWelcome()
	w.HeartbeatMS = 10_000 // half of it is more than a second
	h, p := game(t, w, gameproto.RGBA, "fakeclock")
	now := uint64(1000e9)
	clock := func(d time.Duration) {
		now += uint64(d)
		p.ok("clock %d", now)
	}
	clock(0)
	for range 5 {
		p.ok("poll 0")
	}
	if n := countPings(h.drain()); n != 1 {
		t.Fatalf("%d pings from 5 polls at one instant", n)
	}
	clock(999 * time.Millisecond)
	p.ok("poll 0")
	if n := countPings(h.drain()); n != 0 {
		t.Fatalf("%d pings after 999 ms", n)
	}
	clock(time.Millisecond)
	p.ok("poll 0")
	if n := countPings(h.drain()); n != 1 {
		t.Fatalf("%d pings after 1 s", n)
	}

	toStarted(t, h, p)
	_ = h.drain()
	clock(time.Second)
	for range 3 {
		var k int
		if _, err := fmt.Sscanf(p.ok("acquire"), "slot=%d", &k); err != nil {
			t.Fatal(err)
		}
		p.ok("submit %d 0 0", k)
	}
	if n := countPings(h.drain()); n != 1 {
		t.Fatalf("%d pings from 3 frames", n)
	}
	p.ok("ping") // asked for: always sent
	if n := countPings(h.drain()); n != 1 {
		t.Fatalf("%d pings from ping", n)
	}
}

// TestPollWaitPings: a poll that waits longer than the heartbeat pings while it waits, every
// heartbeat_ms/2, and no sooner.
func TestPollWaitPings(t *testing.T) {
	w := testWelcome()
	w.HeartbeatMS = 100 // ping every 50 ms
	h, p := game(t, w, gameproto.RGBA, "")
	var at []time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := h.recvWithin(2 * time.Second)
			if err != nil {
				return
			}
			if m.Type() == gameproto.TypePing {
				at = append(at, time.Now())
			}
		}
	}()
	if got := p.ok("poll 400"); got != "none" {
		t.Fatalf("poll: %q", got)
	}
	select { // the reader stops 2 s after the last ping
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the game kept sending")
	}
	if len(at) < 3 {
		t.Fatalf("%d pings during a 400 ms poll with a 100 ms heartbeat", len(at))
	}
	for i := 1; i < len(at); i++ {
		if d := at[i].Sub(at[i-1]); d < 40*time.Millisecond {
			t.Errorf("pings %v apart, want about 50 ms", d)
		}
	}
}

// TestGameErrors: calls out of order or out of range are refused before they reach the host.
func TestGameErrors(t *testing.T) {
	h, p := game(t, testWelcome(), gameproto.RGBA, "")
	p.fails("EP_ERR_STATE", "started")
	p.fails("EP_ERR_ARG", "loading 0")
	p.fails("EP_ERR_ARG", "loading 600001")
	p.fails("EP_ERR_ARG", "log 9 %x", "x")
	p.fails("EP_ERR_ARG", "log -1 %x", "x")
	p.fails("EP_ERR_ARG", "log 1 -")
	p.fails("EP_ERR_ARG", "log 1 ff")
	p.fails("EP_ERR_ARG", "log 1 eda080") // a surrogate
	p.fails("EP_ERR_ARG", "log 1 c0af")   // overlong
	for _, bad := range []string{`[1]`, `{`, `{"a":1,}`, `{"a":01}`, `{"a":"\x01"}`, ` {}`, `{} {}`, `{"a":1}x`, `{'a':1}`, `{"a":tru}`, "{\"a\":\"\xff\"}", `{"a":1.}`, `{"a":-}`, `{"a":"\u12"}`} {
		p.fails("EP_ERR_ARG", "end %x", bad)
	}
	p.fails("EP_ERR_ARG", "end %x", `{"a":"`+strings.Repeat("x", gameproto.MaxResult)+`"}`)
	p.fails("EP_ERR_STATE", "aacquire")

	long := make([]byte, gameproto.MaxText+10)
	for i := range long {
		long[i] = 'a'
	}
	copy(long[gameproto.MaxText-1:], "é")
	p.ok("log 2 %x", long)
	if m, ok := h.recvSkipPings().(gameproto.Log); !ok || len(m.Text) != gameproto.MaxText-1 || m.Level != 2 {
		t.Fatalf("long log: %d bytes", len(m.Text))
	}
	p.ok("log 0 ")
	if m := h.recvSkipPings(); m != (gameproto.Log{Level: 0}) {
		t.Fatalf("empty log: %#v", m)
	}
	p.ok("ready")
	p.fails("EP_ERR_STATE", "ready")
	p.fails("EP_ERR_STATE", "loading 1000")
	bad := "out of \xffmemory" + strings.Repeat("é", 3000) // invalid UTF-8, and too long once mended
	p.ok("fatal %x", bad)
	if m := h.recvSkipPings(); m.Type() != gameproto.TypeReady {
		t.Fatalf("got %v", m.Type())
	}
	f, ok := h.recvSkipPings().(gameproto.Fatal)
	if !ok || !strings.HasPrefix(f.Text, "out of \uFFFDmemoryé") || len(f.Text) > gameproto.MaxText || len(f.Text) < gameproto.MaxText-1 {
		t.Fatalf("fatal %q…, %d bytes", f.Text[:min(len(f.Text), 20)], len(f.Text))
	}
	p.fails("EP_ERR_STATE", "end -")
	p.ok("fatal ")
	if m := h.recvSkipPings(); m != (gameproto.Fatal{Text: "fatal error"}) {
		t.Fatalf("empty fatal: %#v", m)
	}
}

// TestValidEndings: results the host accepts are sent as they are.
func TestValidEndings(t *testing.T) {
	for _, res := range []string{"", `{}`, `{"score":1200}`, "{ \"a\" : [1, -2.5e+3, true, false, null, {\"b\":\"\\u00e9\\n\"}] }\n", `{"é":"ü"}`} {
		h, p := game(t, testWelcome(), gameproto.RGBA, "")
		p.ok("end %x", res)
		if m := h.recvSkipPings(); m != (gameproto.Ending{Result: res}) {
			t.Errorf("%q: got %#v", res, m)
		}
	}
}

// TestPoolChange: the host may register a new pool while every slot is the game's; frames of
// the old pool are refused afterwards.
func TestPoolChange(t *testing.T) {
	h, p := game(t, testWelcome(), gameproto.RGBA, "")
	toStarted(t, h, p)
	var k int
	if _, err := fmt.Sscanf(p.ok("acquire"), "slot=%d", &k); err != nil {
		t.Fatal(err)
	}
	p.ok("discard %d", k)
	old := p.ok("gen %d", k)
	h.sendPool(gameproto.RGBA, 64, 32, 2)
	if got := p.ok("poll 5000"); got != "pool" {
		t.Fatalf("got %q", got)
	}
	if got := p.ok("pool"); !strings.HasPrefix(got, "n=2 ") {
		t.Fatalf("pool %q", got)
	}
	p.fails("EP_ERR_ARG", "submitraw 0 %s 0 0", old)
	if _, err := fmt.Sscanf(p.ok("acquire"), "slot=%d", &k); err != nil {
		t.Fatal(err)
	}
	p.ok("poke %d 0 0 5a", k)
	p.ok("submit %d 0 0", k)
	if px := h.pool.Plane(h.pool.Slot(h.mem, k), 0); px[0] != 0x5a {
		t.Fatalf("new pool not shared: %x", px[0])
	}
	h.sendPool(gameproto.RGBA, 64, 32, 3)
	p.fails("EP_ERR_PROTOCOL", "poll 5000")
}

// TestAudio: with audio agreed, the handshake maps the audio pool; the game fills slots the
// host reads through its own mapping, with the pts it gave; audio_release frees a slot the host
// holds, and only such a slot.
func TestAudio(t *testing.T) {
	w := testWelcome()
	w.Caps |= gameproto.CapAudio
	h, p := game(t, w, gameproto.RGBA, "audio")
	if got, want := p.ok("apool"), "n=4 fmt=1 ch=2 rate=48000 frames=480 size=1920"; got != want {
		t.Fatalf("apool %q, want %q", got, want)
	}
	p.fails("EP_ERR_STATE", "aacquire") // not started
	toStarted(t, h, p)
	var slots []int
	for range 4 {
		var k int
		a := p.ok("aacquire")
		if _, err := fmt.Sscanf(a, "slot=%d", &k); err != nil || !strings.HasSuffix(a, "fmt=1 ch=2 max=480") {
			t.Fatalf("aacquire %q", a)
		}
		slots = append(slots, k)
	}
	p.fails("EP_NO_SLOT", "aacquire")
	p.fails("EP_ERR_ARG", "asubmit %d 0 1", slots[0])
	p.fails("EP_ERR_ARG", "asubmit %d 481 1", slots[0])
	p.ok("adiscard %d", slots[3])
	p.fails("EP_ERR_STATE", "adiscard %d", slots[3])
	p.ok("afill %d 480", slots[0])
	p.ok("asubmit %d 480 123456789", slots[0])
	p.fails("EP_ERR_STATE", "asubmit %d 480 1", slots[0])
	var ar gameproto.AudioReady
	for {
		m := h.recvSkipPings()
		if a, ok := m.(gameproto.AudioReady); ok {
			ar = a
			break
		}
	}
	if ar != (gameproto.AudioReady{Slot: uint8(slots[0]), Frames: 480, PTS: 123456789}) {
		t.Fatalf("audio_ready %#v", ar)
	}
	samples := h.apool.Slot(h.amem, ar)
	for i := range 960 {
		if got, want := int16(uint16(samples[2*i])|uint16(samples[2*i+1])<<8), int16(i*7%30000); got != want {
			t.Fatalf("sample %d: %d, want %d", i, got, want)
		}
	}
	h.send(gameproto.AudioRelease{Slot: ar.Slot})
	if got := p.ok("poll 5000"); got != fmt.Sprintf("areleased slot=%d", slots[0]) {
		t.Fatalf("got %q", got)
	}
	if got := p.ok("aacquire"); !strings.HasPrefix(got, "slot=") {
		t.Fatalf("aacquire after release: %q", got)
	}
	h.send(gameproto.AudioRelease{Slot: ar.Slot}) // the game's again
	p.fails("EP_ERR_PROTOCOL", "poll 5000")
}

// TestAudioF32AndPoolChange: an f32 pool is written as floats; a new audio pool while a slot is
// acquired is a protocol error, and one while every slot is the game's is taken.
func TestAudioF32AndPoolChange(t *testing.T) {
	h, link := newLink(t)
	w := testWelcome()
	w.Caps |= gameproto.CapAudio
	h.send(w)
	h.sendPool(gameproto.RGBA, 64, 32, 3)
	h.sendAudioPool(gameproto.F32, 100, 2)
	p := start(t, replBin(t), link, nil)
	_ = link.Close()
	p.ok("open audio")
	toStarted(t, h, p)
	h.sendAudioPool(gameproto.F32, 200, 3)
	if got := p.ok("poll 5000"); got != "apool" {
		t.Fatalf("got %q", got)
	}
	var k int
	if _, err := fmt.Sscanf(p.ok("aacquire"), "slot=%d", &k); err != nil {
		t.Fatal(err)
	}
	p.ok("afill %d 200", k)
	p.ok("asubmit %d 200 5", k)
	var ar gameproto.AudioReady
	for {
		if a, ok := h.recvSkipPings().(gameproto.AudioReady); ok {
			ar = a
			break
		}
	}
	s := h.apool.Slot(h.amem, ar)
	if len(s) != 200*2*4 || s[4*399+3] != 0x3e { // sample 399 is 0.399f, 0x3ecc49ba
		t.Fatalf("f32 samples: %d bytes", len(s))
	}
	h.sendAudioPool(gameproto.S16, 480, 4)
	p.fails("EP_ERR_PROTOCOL", "poll 5000")
}

// TestRandomMessages: whatever random payload the host sends with a known type, the C SDK
// refuses what gameproto.Decode refuses (and maybe more, by the link's state), and never
// crashes (the sanitizers watch).
func TestRandomMessages(t *testing.T) {
	rng := uint64(0x243f6a8885a308d3)
	next := func() byte {
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		return byte(rng)
	}
	types := []gameproto.Type{
		gameproto.TypeWelcome, gameproto.TypeRelease, gameproto.TypeAudioRelease, gameproto.TypeInput,
		gameproto.TypeAssign, gameproto.TypePlayerJoined, gameproto.TypePlayerLeft, gameproto.TypePlayerAway,
		gameproto.TypePlayerBack, gameproto.TypeDrain, gameproto.TypeShutdown,
	}
	for _, typ := range types {
		t.Run(typ.String(), func(t *testing.T) {
			h, p := game(t, testWelcome(), gameproto.RGBA, "")
			p.ok("ready")
			for i := range 60 {
				pl := make([]byte, int(next())%40)
				for j := range pl {
					pl[j] = next()
				}
				if typ == gameproto.TypeInput { // records of the right sizes, mostly
					sizes := [...]int{0, 13, 13, 18, 12, 14, 25, 12, 12}
					pl = []byte{next() % 9, next() % 5}
					for range int(next() % 4) {
						k := 1 + next()%8
						rec := []byte{byte(sizes[k]), 1, k}
						for len(rec) < 1+sizes[k] {
							rec = append(rec, next())
						}
						if next()%8 == 0 {
							rec = rec[:len(rec)-1]
						}
						pl = append(pl, rec...)
					}
				}
				b := header(typ, 0, pl...)
				_, goErr := gameproto.Decode(b)
				h.sendRaw(b)
				got := p.do("poll 5000")
				if goErr != nil && !strings.HasPrefix(got, "err EP_ERR_PROTOCOL") && !strings.HasPrefix(got, "err EP_ERR_VERSION") {
					t.Fatalf("message %d %x: Go refuses (%v), C says %q", i, b, goErr, got)
				}
				if strings.HasPrefix(got, "err ") {
					return
				}
			}
		})
	}
}

// TestConstants keeps the header's constants equal to gameproto's and input's.
func TestConstants(t *testing.T) {
	p := start(t, replBin(t), nil, nil)
	got := map[string]int{}
	for _, kv := range strings.Fields(p.ok("consts")) {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("%s: %v", kv, err)
		}
		got[k] = n
	}
	for name, want := range map[string]int{
		"EP_MAX_SLOTS": gameproto.MaxSlots, "EP_MAX_AUDIO_SLOTS": gameproto.MaxAudioSlots,
		"EP_MAX_PLAYERS": gameproto.MaxPlayers, "EP_MAX_INPUT_BATCH": gameproto.MaxInputBatch,
		"EP_MAX_TEXT": gameproto.MaxText, "EP_MAX_ID": gameproto.MaxID, "EP_MAX_LOADING_MS": gameproto.MaxLoadingMS,
		"EP_FORMAT_RGBA": int(gameproto.RGBA), "EP_FORMAT_I420": int(gameproto.I420), "EP_FORMAT_NV12": int(gameproto.NV12),
		"EP_SAMPLE_S16": int(gameproto.S16), "EP_SAMPLE_F32": int(gameproto.F32),
		"EP_CAP_AUDIO": gameproto.CapAudio, "EP_CAP_I420": gameproto.CapI420, "EP_CAP_NV12": gameproto.CapNV12,
		"EP_CAP_INPUT": gameproto.CapInput, "EP_FRAME_MARKER": gameproto.FrameMarker,
		"EP_KEY_DOWN": int(input.KeyDown), "EP_PAD_DISCONNECT": int(input.GamepadDisconnect),
		"EP_TOUCH_PAD": input.TouchPad, "EP_MAX_PADS": input.MaxPads, "EP_PAD_BUTTONS": input.NumPadButton,
		"EP_PAD_HOME": input.PadHome, "EP_PAD_BACK": input.PadBack, "EP_PADF_TOUCH": input.PadTouch,
		"EP_PADF_RUMBLE": input.PadRumble, "EP_MOD_META": input.ModMeta,
		"EP_KEY_ESCAPE": int(input.KeyEscape), "EP_KEY_UP_ARROW": int(input.KeyArrowUp), "EP_KEY_SPACE": int(input.KeySpace),
	} {
		if g, ok := got[name]; !ok || g != want {
			t.Errorf("%s is %d (%v), want %d", name, g, ok, want)
		}
	}
}
