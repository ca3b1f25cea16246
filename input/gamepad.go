package input

// Gamepads follow the W3C Gamepad API's "standard" mapping: 17 buttons and two sticks. The web
// client polls navigator.getGamepads() once per display frame and sends each pad's whole state
// (GamepadState) on the unordered "motion" channel whenever it changes, and again every 250 ms
// while any control is off its rest position and for 1 s after everything returns to rest. A
// whole state is only 25 bytes, so there are no deltas: a lost state is repaired by the next one,
// and a late one is recognised by its seq (one counter across both channels) and ignored, so the
// receiver keeps, per pad, the seq of the last message it applied. GamepadConnect and
// GamepadDisconnect travel on the reliable "input" channel; on disconnect a game releases
// everything the pad held. The on-screen touch controls of the web client are the virtual pad
// TouchPad, connected with PadTouch, and send the same states.

// MaxPads is the number of pad indices: 0..MaxPads-1.
const MaxPads = 8

// TouchPad is the index of the web client's on-screen touch controls. Physical pads use their
// Gamepad.index, which browsers keep below 4; the client does not send a physical pad whose
// index is TouchPad or more.
const TouchPad = MaxPads - 1

// Buttons of the standard mapping, as bit indices of Event.Buttons. Values are part of the wire
// format (they are the Gamepad API's button indices).
const (
	PadA         = 0  // bottom face button (Xbox A, PlayStation cross)
	PadB         = 1  // right face button
	PadX         = 2  // left face button
	PadY         = 3  // top face button
	PadLB        = 4  // left bumper
	PadRB        = 5  // right bumper
	PadLT        = 6  // left trigger pressed (its analog value is Event.LT)
	PadRT        = 7  // right trigger pressed (its analog value is Event.RT)
	PadBack      = 8  // back / select / share
	PadStart     = 9  // start / options
	PadLS        = 10 // left stick pressed
	PadRS        = 11 // right stick pressed
	PadUp        = 12 // d-pad
	PadDown      = 13
	PadLeft      = 14
	PadRight     = 15
	PadHome      = 16 // the vendor button
	NumPadButton = 17
)

const allPadButtons = 1<<NumPadButton - 1

// Flags of GamepadConnect and GamepadDisconnect (Event.PadFlags).
const (
	PadTouch  = 1 << 0 // the pad is the client's on-screen touch controls
	PadRumble = 1 << 1 // the client can rumble this pad (the control channel's "rumble" message)
)

const allPadFlags = PadTouch | PadRumble

// Pressed reports whether a GamepadState has standard-mapping button b held.
func (ev Event) Pressed(b int) bool {
	return b >= 0 && b < NumPadButton && ev.Buttons&(1<<b) != 0
}

// AxisValue converts a stick axis from the wire to −1..1.
func AxisValue(v int16) float64 {
	return max(-1, float64(v)/32767)
}

// TriggerValue converts a trigger from the wire to 0..1.
func TriggerValue(v uint8) float64 {
	return float64(v) / 255
}
