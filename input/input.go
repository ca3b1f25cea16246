// Package input defines the binary wire format of player input (keyboard, mouse, wheel, gamepads
// and the web client's on-screen touch controls, which are a virtual gamepad) that the browser
// sends over WebRTC data channels and the game receives. The format is documented in
// docs/PROTOCOL.md ("Input wire format"); this package is its single implementation in Go.
//
// Every message is a fixed-size little-endian record:
//
//	offset size field
//	0      1    version (1)
//	1      1    type (see Type)
//	2      4    seq: the client's input sequence number (uint32, wraps)
//	6      4    time: the client's clock in milliseconds, low 32 bits
//	10     …    payload, fixed size per type
package input

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Version is the only wire version this package speaks.
const Version = 1

// HeaderSize is the size of the common header.
const HeaderSize = 10

// MaxSize is the largest valid message (a gamepad state); anything longer is rejected unread.
const MaxSize = HeaderSize + 15

// Type says what a message carries.
type Type uint8

// Message types. Values are part of the wire format: never renumber.
const (
	KeyDown     Type = 1 // payload: code u16, mods u8
	KeyUp       Type = 2 // payload: code u16, mods u8
	MouseMove   Type = 3 // payload: dx i16, dy i16, x u16, y u16
	MouseButton Type = 4 // payload: button u8, down u8 (0 or 1)
	Wheel       Type = 5 // payload: dx i16, dy i16
	// Gamepads (gamepad.go). A state is the pad's whole state, sent on the unordered channel;
	// connect and disconnect go on the reliable one.
	GamepadState      Type = 6 // payload: pad u8, buttons u32, lt u8, rt u8, lx i16, ly i16, rx i16, ry i16
	GamepadConnect    Type = 7 // payload: pad u8, flags u8
	GamepadDisconnect Type = 8 // payload: pad u8, flags u8
)

var payloadSize = [...]int{
	KeyDown: 3, KeyUp: 3, MouseMove: 8, MouseButton: 2, Wheel: 4,
	GamepadState: 15, GamepadConnect: 2, GamepadDisconnect: 2,
}

func (t Type) String() string {
	switch t {
	case KeyDown:
		return "keydown"
	case KeyUp:
		return "keyup"
	case MouseMove:
		return "mousemove"
	case MouseButton:
		return "mousebutton"
	case Wheel:
		return "wheel"
	case GamepadState:
		return "gamepadstate"
	case GamepadConnect:
		return "gamepadconnect"
	case GamepadDisconnect:
		return "gamepaddisconnect"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Modifier bits in Event.Mods.
const (
	ModShift = 1 << 0
	ModCtrl  = 1 << 1
	ModAlt   = 1 << 2
	ModMeta  = 1 << 3
)

// Mouse buttons, as the DOM numbers them.
const (
	ButtonLeft   = 0
	ButtonMiddle = 1
	ButtonRight  = 2
	maxButton    = 4
)

// Event is one decoded input message.
type Event struct {
	Type Type
	Seq  uint32
	Time uint32 // client milliseconds, low 32 bits
	// Key events.
	Code uint16 // USB HID usage id (keyboard page 0x07), see keys.go
	Mods uint8
	// Mouse button events; Down is also set for KeyDown and GamepadConnect.
	Button uint8
	Down   bool
	// Motion and wheel. DX/DY are relative (pointer lock); X/Y are absolute in the video,
	// scaled to 0..65535.
	DX, DY int16
	X, Y   uint16
	// Gamepad events (gamepad.go). Pad is the pad's index (0..MaxPads-1) in every gamepad
	// event; PadFlags only in connect and disconnect; the rest only in GamepadState.
	Pad      uint8
	PadFlags uint8  // PadTouch, PadRumble
	Buttons  uint32 // bit i = standard-mapping button i is pressed (PadA … PadHome)
	LT, RT   uint8  // analog triggers, 0 released … 255 fully pressed
	// Sticks, −32767 (left, up) … 32767 (right, down), dead zone already applied by the client.
	LX, LY, RX, RY int16
}

// Errors returned by Decode. They are what the host counts when it drops bad input.
var (
	ErrShort   = errors.New("input: message too short")
	ErrLong    = errors.New("input: message too long")
	ErrVersion = errors.New("input: unsupported version")
	ErrType    = errors.New("input: unknown type")
	ErrField   = errors.New("input: field out of range")
)

// Decode parses one message. It never panics and never allocates.
func Decode(b []byte) (Event, error) {
	var ev Event
	if len(b) > MaxSize {
		return ev, ErrLong
	}
	if len(b) < HeaderSize {
		return ev, ErrShort
	}
	if b[0] != Version {
		return ev, fmt.Errorf("%w: %d", ErrVersion, b[0])
	}
	ev.Type = Type(b[1])
	if ev.Type == 0 || int(ev.Type) >= len(payloadSize) {
		return ev, fmt.Errorf("%w: %d", ErrType, b[1])
	}
	want := HeaderSize + payloadSize[ev.Type]
	if len(b) < want {
		return ev, ErrShort
	}
	if len(b) > want {
		return ev, ErrLong
	}
	ev.Seq = binary.LittleEndian.Uint32(b[2:])
	ev.Time = binary.LittleEndian.Uint32(b[6:])
	p := b[HeaderSize:]
	switch ev.Type {
	case KeyDown, KeyUp:
		ev.Code = binary.LittleEndian.Uint16(p)
		ev.Mods = p[2]
		ev.Down = ev.Type == KeyDown
		if ev.Code == 0 || ev.Mods > 0x0f {
			return ev, ErrField
		}
	case MouseMove:
		ev.DX = int16(binary.LittleEndian.Uint16(p))
		ev.DY = int16(binary.LittleEndian.Uint16(p[2:]))
		ev.X = binary.LittleEndian.Uint16(p[4:])
		ev.Y = binary.LittleEndian.Uint16(p[6:])
	case MouseButton:
		ev.Button = p[0]
		if ev.Button > maxButton || p[1] > 1 {
			return ev, ErrField
		}
		ev.Down = p[1] == 1
	case Wheel:
		ev.DX = int16(binary.LittleEndian.Uint16(p))
		ev.DY = int16(binary.LittleEndian.Uint16(p[2:]))
	case GamepadState:
		ev.Pad = p[0]
		ev.Buttons = binary.LittleEndian.Uint32(p[1:])
		ev.LT, ev.RT = p[5], p[6]
		ev.LX = int16(binary.LittleEndian.Uint16(p[7:]))
		ev.LY = int16(binary.LittleEndian.Uint16(p[9:]))
		ev.RX = int16(binary.LittleEndian.Uint16(p[11:]))
		ev.RY = int16(binary.LittleEndian.Uint16(p[13:]))
		if ev.Pad >= MaxPads || ev.Buttons&^allPadButtons != 0 ||
			ev.LX == math.MinInt16 || ev.LY == math.MinInt16 || ev.RX == math.MinInt16 || ev.RY == math.MinInt16 {
			return ev, ErrField
		}
	case GamepadConnect, GamepadDisconnect:
		ev.Pad, ev.PadFlags = p[0], p[1]
		ev.Down = ev.Type == GamepadConnect
		if ev.Pad >= MaxPads || ev.PadFlags&^allPadFlags != 0 {
			return ev, ErrField
		}
	}
	return ev, nil
}

// Append encodes ev onto b and returns the extended slice. It is the inverse of Decode for
// every valid event.
func Append(b []byte, ev Event) []byte {
	var hdr [HeaderSize]byte
	hdr[0] = Version
	hdr[1] = byte(ev.Type)
	binary.LittleEndian.PutUint32(hdr[2:], ev.Seq)
	binary.LittleEndian.PutUint32(hdr[6:], ev.Time)
	b = append(b, hdr[:]...)
	switch ev.Type {
	case KeyDown, KeyUp:
		b = binary.LittleEndian.AppendUint16(b, ev.Code)
		b = append(b, ev.Mods)
	case MouseMove:
		b = binary.LittleEndian.AppendUint16(b, uint16(ev.DX))
		b = binary.LittleEndian.AppendUint16(b, uint16(ev.DY))
		b = binary.LittleEndian.AppendUint16(b, ev.X)
		b = binary.LittleEndian.AppendUint16(b, ev.Y)
	case MouseButton:
		b = append(b, ev.Button, boolByte(ev.Down))
	case Wheel:
		b = binary.LittleEndian.AppendUint16(b, uint16(ev.DX))
		b = binary.LittleEndian.AppendUint16(b, uint16(ev.DY))
	case GamepadState:
		b = append(b, ev.Pad)
		b = binary.LittleEndian.AppendUint32(b, ev.Buttons)
		b = append(b, ev.LT, ev.RT)
		for _, v := range [...]int16{ev.LX, ev.LY, ev.RX, ev.RY} {
			b = binary.LittleEndian.AppendUint16(b, uint16(v))
		}
	case GamepadConnect, GamepadDisconnect:
		b = append(b, ev.Pad, ev.PadFlags)
	}
	return b
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}
