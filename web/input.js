// Input wire format (docs/PROTOCOL.md, "Input wire format"; Go: package input).
//
// Every message is one little-endian record: version u8 (1), type u8, seq u32, time u32, then a
// fixed-size payload per type. Messages are built into fresh ArrayBuffers so that they can be
// handed straight to RTCDataChannel.send.

export const VERSION = 1;
export const HEADER_SIZE = 10;

/** Message types. Values are part of the wire format. */
export const Type = Object.freeze({
  KeyDown: 1, // code u16, mods u8 — channel "input"
  KeyUp: 2, // code u16, mods u8 — channel "input"
  MouseMove: 3, // dx i16, dy i16, x u16, y u16 — channel "motion"
  MouseButton: 4, // button u8, down u8 — channel "input"
  Wheel: 5, // dx i16, dy i16 — channel "motion"
  GamepadState: 6, // pad u8, buttons u32, lt u8, rt u8, lx i16, ly i16, rx i16, ry i16 — "motion"
  GamepadConnect: 7, // pad u8, flags u8 — channel "input"
  GamepadDisconnect: 8, // pad u8, flags u8 — channel "input"
});

const PAYLOAD_SIZE = { 1: 3, 2: 3, 3: 8, 4: 2, 5: 4, 6: 15, 7: 2, 8: 2 };

/** Pad indices 0..MAX_PADS-1; the on-screen touch controls are TOUCH_PAD. */
export const MAX_PADS = 8;
export const TOUCH_PAD = MAX_PADS - 1;

/** Standard-mapping buttons (the Gamepad API's indices), bits of a gamepad state's buttons. */
export const PadButton = Object.freeze({
  A: 0, B: 1, X: 2, Y: 3, LB: 4, RB: 5, LT: 6, RT: 7, Back: 8, Start: 9, LS: 10, RS: 11,
  Up: 12, Down: 13, Left: 14, Right: 15, Home: 16,
});
export const PAD_BUTTONS = 17;

/** Flags of gamepad connect and disconnect messages. */
export const PadFlag = Object.freeze({ Touch: 1, Rumble: 2 });

/** A gamepad state at rest: what a pad that holds nothing sends. Fields are wire values. */
export const REST = Object.freeze({ buttons: 0, lt: 0, rt: 0, lx: 0, ly: 0, rx: 0, ry: 0 });

/** Modifier bits of key messages. */
export const Mod = Object.freeze({ Shift: 1, Ctrl: 2, Alt: 4, Meta: 8 });

/** The highest mouse button the protocol carries (0 left, 1 middle, 2 right, 3, 4). */
export const MAX_BUTTON = 4;

// KeyboardEvent.code → USB HID usage id (keyboard page 0x07), exactly the table of PROTOCOL.md.
// Keys outside the table are not sent.
const table = {
  Enter: 0x28, Escape: 0x29, Backspace: 0x2a, Tab: 0x2b, Space: 0x2c,
  Minus: 0x2d, Equal: 0x2e, BracketLeft: 0x2f, BracketRight: 0x30, Backslash: 0x31,
  Semicolon: 0x33, Quote: 0x34, Backquote: 0x35, Comma: 0x36, Period: 0x37, Slash: 0x38,
  CapsLock: 0x39,
  Insert: 0x49, Home: 0x4a, PageUp: 0x4b, Delete: 0x4c, End: 0x4d, PageDown: 0x4e,
  ArrowRight: 0x4f, ArrowLeft: 0x50, ArrowDown: 0x51, ArrowUp: 0x52,
  ControlLeft: 0xe0, ShiftLeft: 0xe1, AltLeft: 0xe2, MetaLeft: 0xe3,
  ControlRight: 0xe4, ShiftRight: 0xe5, AltRight: 0xe6, MetaRight: 0xe7,
};
for (let i = 0; i < 26; i++) table["Key" + String.fromCharCode(65 + i)] = 0x04 + i; // KeyA–KeyZ
for (let d = 1; d <= 9; d++) table["Digit" + d] = 0x1e + d - 1; // Digit1–Digit9
table.Digit0 = 0x27;
for (let f = 1; f <= 12; f++) table["F" + f] = 0x3a + f - 1; // F1–F12

/** KeyboardEvent.code → HID usage id. Frozen; use hidUsage for lookups. */
export const HID = Object.freeze(table);

/** Returns the HID usage id of a KeyboardEvent.code, or 0 when the key is not sent. */
export function hidUsage(code) {
  return Object.hasOwn(HID, code) ? HID[code] : 0;
}

/** Returns the modifier bits of a KeyboardEvent or MouseEvent. */
export function modsOf(ev) {
  return (ev.shiftKey ? Mod.Shift : 0) | (ev.ctrlKey ? Mod.Ctrl : 0) |
    (ev.altKey ? Mod.Alt : 0) | (ev.metaKey ? Mod.Meta : 0);
}

/** The wire clock: low 32 bits of Math.round(performance.now()). */
export function wireTime(now = performance.now()) {
  return Math.round(now) >>> 0;
}

const clampI16 = (v) => Math.max(-32768, Math.min(32767, Math.round(v) || 0));
const clampU16 = (v) => Math.max(0, Math.min(65535, Math.round(v) || 0));
const clampU8 = (v) => Math.max(0, Math.min(255, Math.round(v) || 0));
const clampAxis = (v) => Math.max(-32767, Math.min(32767, Math.round(v) || 0)); // −32768 is invalid

function header(type, seq, time) {
  const buf = new ArrayBuffer(HEADER_SIZE + PAYLOAD_SIZE[type]);
  const v = new DataView(buf);
  v.setUint8(0, VERSION);
  v.setUint8(1, type);
  v.setUint32(2, seq >>> 0, true);
  v.setUint32(6, time >>> 0, true);
  return v;
}

/** Key down or up (type Type.KeyDown / Type.KeyUp): 13 bytes. */
export function encodeKey(type, seq, time, code, mods) {
  if (type !== Type.KeyDown && type !== Type.KeyUp) throw new RangeError("not a key type: " + type);
  const v = header(type, seq, time);
  v.setUint16(10, code & 0xffff, true);
  v.setUint8(12, mods & 0x0f);
  return v.buffer;
}

/** Pointer motion: relative dx/dy (clamped to i16) and absolute x/y in 0..65535: 18 bytes. */
export function encodeMouseMove(seq, time, dx, dy, x, y) {
  const v = header(Type.MouseMove, seq, time);
  v.setInt16(10, clampI16(dx), true);
  v.setInt16(12, clampI16(dy), true);
  v.setUint16(14, clampU16(x), true);
  v.setUint16(16, clampU16(y), true);
  return v.buffer;
}

/** Mouse button transition (button 0–4): 12 bytes. */
export function encodeMouseButton(seq, time, button, down) {
  if (!(button >= 0 && button <= MAX_BUTTON)) throw new RangeError("button out of range: " + button);
  const v = header(Type.MouseButton, seq, time);
  v.setUint8(10, button);
  v.setUint8(11, down ? 1 : 0);
  return v.buffer;
}

/** Wheel in pixels (clamped to i16): 14 bytes. */
export function encodeWheel(seq, time, dx, dy) {
  const v = header(Type.Wheel, seq, time);
  v.setInt16(10, clampI16(dx), true);
  v.setInt16(12, clampI16(dy), true);
  return v.buffer;
}

/**
 * A gamepad's whole state (type GamepadState): 25 bytes. state holds wire values: buttons (bits
 * 0–16), lt and rt (0..255), lx, ly, rx, ry (−32767..32767, +x right, +y down); out-of-range
 * values are clamped, unknown button bits dropped.
 */
export function encodeGamepadState(seq, time, pad, state) {
  if (!(pad >= 0 && pad < MAX_PADS)) throw new RangeError("pad out of range: " + pad);
  const v = header(Type.GamepadState, seq, time);
  v.setUint8(10, pad);
  v.setUint32(11, (state.buttons & ((1 << PAD_BUTTONS) - 1)) >>> 0, true);
  v.setUint8(15, clampU8(state.lt));
  v.setUint8(16, clampU8(state.rt));
  v.setInt16(17, clampAxis(state.lx), true);
  v.setInt16(19, clampAxis(state.ly), true);
  v.setInt16(21, clampAxis(state.rx), true);
  v.setInt16(23, clampAxis(state.ry), true);
  return v.buffer;
}

/** Gamepad connect or disconnect (type GamepadConnect / GamepadDisconnect): 12 bytes. */
export function encodeGamepadConnect(type, seq, time, pad, flags) {
  if (type !== Type.GamepadConnect && type !== Type.GamepadDisconnect) throw new RangeError("not a gamepad connect type: " + type);
  if (!(pad >= 0 && pad < MAX_PADS)) throw new RangeError("pad out of range: " + pad);
  const v = header(type, seq, time);
  v.setUint8(10, pad);
  v.setUint8(11, flags & (PadFlag.Touch | PadFlag.Rumble));
  return v.buffer;
}

/** Wheel deltas in pixels, whatever the event's deltaMode (0 pixel, 1 line, 2 page). */
export function wheelPixels(ev) {
  const scale = ev.deltaMode === 1 ? 16 : ev.deltaMode === 2 ? 800 : 1;
  return [ev.deltaX * scale, ev.deltaY * scale];
}
