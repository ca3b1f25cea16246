package input

// Key codes are USB HID usage ids from the keyboard/keypad page (0x07), the layout-independent
// physical key, as the DOM's KeyboardEvent.code names it. The web client maps KeyboardEvent.code
// to these values (web/input.js); engines usually have a table from HID usages already.
const (
	KeyA          uint16 = 0x04 // KeyA … KeyZ are 0x04 … 0x1D
	KeyD          uint16 = 0x07
	KeyS          uint16 = 0x16
	KeyW          uint16 = 0x1A
	Key1          uint16 = 0x1E // Digit1 … Digit9 are 0x1E … 0x26, Digit0 is 0x27
	KeyEnter      uint16 = 0x28
	KeyEscape     uint16 = 0x29
	KeyBackspace  uint16 = 0x2A
	KeyTab        uint16 = 0x2B
	KeySpace      uint16 = 0x2C
	KeyF1         uint16 = 0x3A // F1 … F12 are 0x3A … 0x45
	KeyArrowRight uint16 = 0x4F
	KeyArrowLeft  uint16 = 0x50
	KeyArrowDown  uint16 = 0x51
	KeyArrowUp    uint16 = 0x52
	KeyCtrlLeft   uint16 = 0xE0
	KeyShiftLeft  uint16 = 0xE1
	KeyAltLeft    uint16 = 0xE2
)
