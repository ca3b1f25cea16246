// Run with: node --test web/
// Checks the wire encodings against docs/PROTOCOL.md byte for byte, the HID table, the latency
// marker reader, the percentile helper and the queue and placement texts; the gamepad dead zones,
// reading, sending policy and rumble messages, the touch controls' stick maths, and the sound
// settings.

import { test } from "node:test";
import assert from "node:assert/strict";

import {
  HID, Mod, Type, encodeKey, encodeMouseButton, encodeMouseMove, encodeWheel, hidUsage, modsOf,
  wheelPixels, wireTime,
} from "./input.js";
import {
  MAX_PADS, PadButton, PadFlag, REST, TOUCH_PAD, encodeGamepadConnect, encodeGamepadState,
} from "./input.js";
import {
  MAX_RUMBLE_MS, PadSender, REPEAT_MS, SETTLE_MS, STICK_DEAD_ZONE, axisToWire, canRumble, isRest,
  parseRumble, readGamepad, stickDeadZone, triggerDeadZone, triggerToWire,
} from "./gamepad.js";
import { AUTO_FIRE, STICK_RADIUS, stickFromDrag, touchState } from "./touch.js";
import { SOUND_KEY, loadSound, saveSound } from "./sound.js";
import { markerCovers, readMarker } from "./marker.js";
import { formatMedia, formatMs, formatPlacement, percentile, queueText } from "./stats.js";

const bytes = (buf) => [...new Uint8Array(buf)];
const le16 = (v) => [v & 0xff, (v >>> 8) & 0xff];
const le32 = (v) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const header = (type, seq, time) => [1, type, ...le32(seq), ...le32(time)];

test("encodings match PROTOCOL.md", () => {
  const cases = [
    {
      name: "keydown KeyW seq 7 time 1234 shift",
      buf: encodeKey(Type.KeyDown, 7, 1234, hidUsage("KeyW"), Mod.Shift),
      want: [1, 1, 7, 0, 0, 0, 0xd2, 0x04, 0, 0, 0x1a, 0x00, 0x01],
    },
    {
      name: "keyup Space seq 8 time 1240",
      buf: encodeKey(Type.KeyUp, 8, 1240, hidUsage("Space"), 0),
      want: [...header(2, 8, 1240), 0x2c, 0, 0],
    },
    {
      name: "keydown all modifiers",
      buf: encodeKey(Type.KeyDown, 1, 0, hidUsage("ControlRight"), Mod.Shift | Mod.Ctrl | Mod.Alt | Mod.Meta),
      want: [...header(1, 1, 0), 0xe4, 0, 0x0f],
    },
    {
      name: "move seq 2^31",
      buf: encodeMouseMove(2 ** 31, 99, -5, 300, 65535, 12),
      want: [...header(3, 2 ** 31, 99), 0xfb, 0xff, 0x2c, 0x01, 0xff, 0xff, 12, 0],
    },
    {
      name: "move clamps",
      buf: encodeMouseMove(5, 6, -40000, 40000, -1, 70000),
      want: [...header(3, 5, 6), ...le16(0x8000), ...le16(0x7fff), 0, 0, 0xff, 0xff],
    },
    {
      name: "right button down",
      buf: encodeMouseButton(3, 0, 2, true),
      want: [...header(4, 3, 0), 2, 1],
    },
    {
      name: "left button up",
      buf: encodeMouseButton(4, 17, 0, false),
      want: [...header(4, 4, 17), 0, 0],
    },
    {
      name: "wheel",
      buf: encodeWheel(4, 0, 0, -120),
      want: [...header(5, 4, 0), 0, 0, 0x88, 0xff],
    },
    {
      name: "seq and time wrap to u32",
      buf: encodeKey(Type.KeyDown, 2 ** 32 + 5, 2 ** 32 + 1, 4, 0),
      want: [...header(1, 5, 1), 4, 0, 0],
    },
  ];
  for (const c of cases) {
    assert.ok(c.buf instanceof ArrayBuffer, c.name);
    assert.deepEqual(bytes(c.buf), c.want, c.name);
  }
  assert.equal(encodeKey(Type.KeyDown, 1, 1, 4, 0).byteLength, 13);
  assert.equal(encodeMouseMove(1, 1, 0, 0, 0, 0).byteLength, 18);
  assert.equal(encodeMouseButton(1, 1, 0, true).byteLength, 12);
  assert.equal(encodeWheel(1, 1, 0, 0).byteLength, 14);
  assert.throws(() => encodeMouseButton(1, 1, 5, true), RangeError);
  assert.throws(() => encodeKey(Type.Wheel, 1, 1, 4, 0), RangeError);
});

test("HID table matches PROTOCOL.md", () => {
  const want = {
    KeyA: 0x04, KeyZ: 0x1d, KeyW: 0x1a, Digit1: 0x1e, Digit9: 0x26, Digit0: 0x27, Enter: 0x28,
    Escape: 0x29, Backspace: 0x2a, Tab: 0x2b, Space: 0x2c, Minus: 0x2d, Equal: 0x2e,
    BracketLeft: 0x2f, BracketRight: 0x30, Backslash: 0x31, Semicolon: 0x33, Quote: 0x34,
    Backquote: 0x35, Comma: 0x36, Period: 0x37, Slash: 0x38, CapsLock: 0x39, F1: 0x3a, F12: 0x45,
    Insert: 0x49, Home: 0x4a, PageUp: 0x4b, Delete: 0x4c, End: 0x4d, PageDown: 0x4e,
    ArrowRight: 0x4f, ArrowLeft: 0x50, ArrowDown: 0x51, ArrowUp: 0x52, ControlLeft: 0xe0,
    ShiftLeft: 0xe1, AltLeft: 0xe2, MetaLeft: 0xe3, ControlRight: 0xe4, ShiftRight: 0xe5,
    AltRight: 0xe6, MetaRight: 0xe7,
  };
  for (const [code, usage] of Object.entries(want)) assert.equal(hidUsage(code), usage, code);
  // 26 letters + 10 digits + 12 function keys + the 35 named keys of the table.
  assert.equal(Object.keys(HID).length, 26 + 10 + 12 + 35);
  const usages = Object.values(HID);
  assert.equal(new Set(usages).size, usages.length, "usages are unique");
  for (const code of ["IntlBackslash", "NumpadEnter", "F13", "Fn", "", "toString", "__proto__"]) {
    assert.equal(hidUsage(code), 0, code);
  }
  assert.equal(modsOf({ shiftKey: true, ctrlKey: false, altKey: true, metaKey: false }), 0b0101);
  assert.equal(wireTime(2 ** 32 + 1234.4), 1234);
  assert.deepEqual(wheelPixels({ deltaMode: 1, deltaX: 0, deltaY: -3 }), [0, -48]);
});

// Paints a 1280×72 RGBA picture (the top of a frame) carrying value v, or bit pattern overrides.
function frame(v, { width = 1280, height = 72, one = [255, 255, 255], zero = [0, 0, 0], noise = 0 } = {}) {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let rgb = [90, 140, 200]; // background outside the marker
      if (x < 256 && y < 64) {
        const bit = 15 - ((y >> 5) * 8 + (x >> 5));
        rgb = (v >> bit) & 1 ? one : zero;
      }
      const i = (y * width + x) * 4;
      const n = noise ? ((x * 7 + y * 13) % (2 * noise + 1)) - noise : 0;
      data[i] = rgb[0] + n;
      data[i + 1] = rgb[1] + n;
      data[i + 2] = rgb[2] + n;
      data[i + 3] = 255;
    }
  }
  return { data, width, height };
}

test("marker decodes synthetic frames", () => {
  for (const v of [0, 1, 7, 0x00ff, 0x8000, 0xa5c3, 0xffff, 12345]) {
    assert.equal(readMarker(frame(v)), v, `value ${v}`);
    assert.equal(readMarker(frame(v, { noise: 20 })), v, `value ${v} with noise`);
  }
  // Compression tints white and black a little; still readable.
  assert.equal(readMarker(frame(0x1234, { one: [235, 235, 240], zero: [16, 20, 16] })), 0x1234);
  // Exactly the 256×64 canvas the player reads.
  assert.equal(readMarker(frame(0xbeef, { width: 256, height: 64 })), 0xbeef);
  // A grey cell means no marker.
  assert.equal(readMarker(frame(0x0f0f, { one: [128, 128, 128] })), -1);
  assert.equal(readMarker(frame(0, { zero: [120, 120, 120] })), -1);
  // Too small to hold a marker.
  assert.equal(readMarker({ data: new Uint8ClampedArray(100 * 64 * 4), width: 100, height: 64 }), -1);
});

test("marker order wraps at 16 bits", () => {
  assert.ok(markerCovers(10, 10));
  assert.ok(markerCovers(10, 3));
  assert.ok(!markerCovers(10, 11));
  assert.ok(!markerCovers(0, 1), "no input applied yet");
  assert.ok(markerCovers(2, 65535), "after the wrap");
  assert.ok(markerCovers(5, 65536 + 5), "only the low 16 bits of seq count");
  assert.ok(!markerCovers(65535, 2));
});

test("percentile", () => {
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.equal(percentile([5], 95), 5);
  const v = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5];
  assert.equal(percentile(v, 50), 5);
  assert.equal(percentile(v, 95), 10);
  assert.equal(percentile(v, 0), 1);
  assert.equal(percentile(v, 100), 10);
  assert.deepEqual(v, [10, 1, 9, 2, 8, 3, 7, 4, 6, 5], "input untouched");
});

test("queue text", () => {
  const cases = [
    [{ position: 3, eta: 20 }, "in queue: position 3, about 20 s"],
    [{ position: 1, eta: 0 }, "in queue: position 1"],
    [{ position: 0, eta: 0 }, "in queue"],
    [{ position: 12, eta: 119 }, "in queue: position 12, about 119 s"],
    [{ position: 40, eta: 300 }, "in queue: position 40, about 5 min"],
  ];
  for (const [q, want] of cases) assert.equal(queueText(q), want, JSON.stringify(q));
});

test("placement rows", () => {
  assert.equal(formatMs(5.24), "5.2");
  assert.equal(formatMs(132.6), "133");
  assert.deepEqual(formatPlacement({ region: null, placedRttMs: null, rtts: {}, queue: null }), []);
  assert.deepEqual(
    formatPlacement(
      { region: "dxb-1", placedRttMs: 8.3, rtts: { "dxb-1": 8.3, "dxb-2": 30.5 }, queue: null },
      { "dxb-1": "Dubai 1" },
    ),
    [
      ["data center", "dxb-1 (Dubai 1)"],
      ["probe RTT", "8.3 ms"],
      ["probes", "dxb-1 8.3 · dxb-2 30.5 ms"],
    ],
  );
  assert.deepEqual(formatPlacement({ region: "dxb-1", rtts: {} }, { "dxb-1": "DXB-1" }), [["data center", "dxb-1"]]);
  assert.deepEqual(
    formatPlacement({ region: "dxb-1", rtts: {}, timeline: { click: 0, placed: 95, firstFrame: 312 } }),
    [["data center", "dxb-1"], ["first frame", "312 ms"]],
  );
  assert.deepEqual(formatPlacement({ region: null, rtts: {}, timeline: { click: 0, firstFrame: null } }), []);
  assert.deepEqual(
    formatPlacement({ region: null, placedRttMs: null, rtts: {}, queue: { position: 2, eta: 8 } }),
    [["queue", "position 2, about 8 s"]],
  );
});

test("media rows", () => {
  assert.deepEqual(formatMedia(null), []);
  assert.deepEqual(
    formatMedia({
      type: "media", codec: "vp8", width: 960, height: 540, target_kbps: 2150, estimate_kbps: 2400,
      frames_skipped: 3, keyframes: 2, plis: 1, nacks: 40, rtx_packets: 38, switches: 1,
    }),
    [
      ["sending", "960×540 vp8 at 2.15 Mbit/s"],
      ["link estimate", "2.40 Mbit/s"],
      ["repairs", "38 resent of 40 NACKed · 2 keyframes (1 asked)"],
      ["adapted", "1 size changes · 3 frames skipped"],
      ["input→frame (host)", "–"],
    ],
  );
  assert.deepEqual(formatMedia({ type: "media", width: -1, target_kbps: "x" })[0], ["sending", "0×0 ? at 0 kbit/s"]);
  const inputRow = (m) => formatMedia({ type: "media", ...m }).at(-1);
  assert.deepEqual(inputRow({ input_ms: 16.72 }), ["input→frame (host)", "16.7 ms"]);
  assert.deepEqual(inputRow({ input_ms: 0 }), ["input→frame (host)", "–"]);
  assert.deepEqual(inputRow({ input_ms: "x" }), ["input→frame (host)", "–"]);
});

test("gamepad encodings match PROTOCOL.md", () => {
  // The same message as input_test.go's TestGamepadStateBytes.
  const buf = encodeGamepadState(0x01020304, 0x0a0b0c0d, 1, {
    buttons: (1 << PadButton.A) | (1 << PadButton.RT) | (1 << PadButton.Home), lt: 0x10, rt: 0xff,
    lx: 0x7fff, ly: -0x7fff, rx: 0x0102, ry: -1,
  });
  assert.deepEqual(bytes(buf), [
    1, 6, 0x04, 0x03, 0x02, 0x01, 0x0d, 0x0c, 0x0b, 0x0a,
    1, 0x81, 0x00, 0x01, 0x00, 0x10, 0xff,
    0xff, 0x7f, 0x01, 0x80, 0x02, 0x01, 0xff, 0xff,
  ]);
  assert.equal(buf.byteLength, 25);
  // Clamped: axes to ±32767 (−32768 is invalid on the wire), triggers to 0..255, unknown bits off.
  assert.deepEqual(bytes(encodeGamepadState(1, 2, 0, { buttons: 0xfffe0001, lt: -3, rt: 300, lx: -40000, ly: 40000, rx: NaN, ry: 0.4 })), [
    ...header(6, 1, 2), 0, 1, 0, 0, 0, 0, 255, ...le16(0x8001), ...le16(0x7fff), 0, 0, 0, 0,
  ]);
  assert.deepEqual(bytes(encodeGamepadState(3, 0, TOUCH_PAD, REST)), [...header(6, 3, 0), 7, ...new Array(14).fill(0)]);
  assert.deepEqual(bytes(encodeGamepadConnect(Type.GamepadConnect, 1, 0, TOUCH_PAD, PadFlag.Touch | PadFlag.Rumble)), [1, 7, 1, 0, 0, 0, 0, 0, 0, 0, 7, 3]);
  assert.deepEqual(bytes(encodeGamepadConnect(Type.GamepadDisconnect, 9, 5, 2, 0xff)), [...header(8, 9, 5), 2, 3]);
  assert.throws(() => encodeGamepadState(1, 1, MAX_PADS, REST), RangeError);
  assert.throws(() => encodeGamepadState(1, 1, -1, REST), RangeError);
  assert.throws(() => encodeGamepadConnect(Type.KeyDown, 1, 1, 0, 0), RangeError);
  assert.throws(() => encodeGamepadConnect(Type.GamepadConnect, 1, 1, 8, 0), RangeError);
});

const near = (a, b, eps = 1e-9) => Math.abs(a - b) <= eps;

test("stick dead zone is radial and rescaled", () => {
  assert.deepEqual(stickDeadZone(0, 0), [0, 0]);
  assert.deepEqual(stickDeadZone(0.1, -0.1), [0, 0], "inside the dead zone");
  assert.deepEqual(stickDeadZone(STICK_DEAD_ZONE, 0), [0, 0], "on its edge");
  assert.deepEqual(stickDeadZone(1, 0), [1, 0], "full deflection reaches 1");
  const [x, y] = stickDeadZone(0.6, 0.8); // magnitude 1, direction kept
  assert.ok(near(x, 0.6) && near(y, 0.8), `${x} ${y}`);
  const [hx] = stickDeadZone((1 + STICK_DEAD_ZONE) / 2, 0);
  assert.ok(near(hx, 0.5), "half way past the dead zone is half");
  const [cx, cy] = stickDeadZone(1, 1); // a square gate's corner: capped at 1
  assert.ok(near(Math.hypot(cx, cy), 1));
  assert.deepEqual(stickDeadZone(NaN, undefined), [0, 0]);
  assert.equal(triggerDeadZone(0.03), 0);
  assert.equal(triggerDeadZone(1), 1);
  assert.equal(triggerDeadZone(2), 1);
  assert.equal(triggerDeadZone(-1), 0);
  assert.ok(near(triggerDeadZone(0.525), 0.5));
  assert.equal(axisToWire(1), 32767);
  assert.equal(axisToWire(-1), -32767);
  assert.equal(axisToWire(-2), -32767);
  assert.equal(axisToWire(-0), 0);
  assert.equal(triggerToWire(1), 255);
  assert.equal(triggerToWire(0.5), 128);
});

// A Gamepad as the API gives it, standard mapping.
function fakePad({ pressed = [], values = {}, axes = [0, 0, 0, 0], rumble = false } = {}) {
  const buttons = [];
  for (let i = 0; i < 17; i++) {
    const value = values[i] ?? (pressed.includes(i) ? 1 : 0);
    buttons.push({ pressed: pressed.includes(i) || value > 0.5, touched: value > 0, value });
  }
  const pad = { id: "Fake pad (STANDARD GAMEPAD)", index: 0, connected: true, mapping: "standard", buttons, axes };
  if (rumble) pad.vibrationActuator = { effects: ["dual-rumble"], playEffect: () => Promise.resolve("complete") };
  return pad;
}

test("reading a standard gamepad", () => {
  assert.deepEqual(readGamepad(fakePad()), REST);
  const st = readGamepad(fakePad({
    pressed: [PadButton.A, PadButton.Start, PadButton.Home],
    values: { [PadButton.RT]: 1, [PadButton.LT]: 0.02 },
    axes: [1, 0, -0.6, -0.8],
  }));
  assert.equal(st.buttons, (1 << PadButton.A) | (1 << PadButton.RT) | (1 << PadButton.Start) | (1 << PadButton.Home));
  assert.equal(st.rt, 255);
  assert.equal(st.lt, 0, "trigger rest noise is cut");
  assert.equal(st.lx, 32767);
  assert.equal(st.ly, 0);
  assert.equal(st.rx, axisToWire(-0.6));
  assert.equal(st.ry, axisToWire(-0.8));
  assert.deepEqual(readGamepad(fakePad({ axes: [0.05, -0.1, 0.02, 0.1] })), REST, "stick noise inside the dead zone is cut");
  // Old browsers: buttons as numbers; short arrays; no axes.
  assert.deepEqual(readGamepad({ buttons: [1, 0, 0.2], axes: [] }), { ...REST, buttons: 1 });
  assert.deepEqual(readGamepad({}), REST);
  assert.ok(canRumble(fakePad({ rumble: true })));
  assert.ok(!canRumble(fakePad()));
  assert.ok(!canRumble({ vibrationActuator: { effects: ["trigger-rumble"], playEffect() {} } }));
  assert.ok(canRumble({ vibrationActuator: { playEffect() {} } }), "older actuators do not list effects");
});

// Records what a PadSender sends; open = false makes every send fail.
function recorder() {
  const r = { log: [], open: true };
  r.out = {
    connect: (pad, flags) => r.open && !!r.log.push(["connect", pad, flags]),
    disconnect: (pad, flags) => r.open && !!r.log.push(["disconnect", pad, flags]),
    state: (pad, st, pressed) => r.open && !!r.log.push(["state", pad, st.lx, st.buttons, pressed]),
  };
  return r;
}

test("pad sender: connect, changes, repeats, disconnect", () => {
  const r = recorder();
  const ps = new PadSender(r.out);
  const pad = (lx, buttons = 0) => new Map([[0, { id: "p", flags: PadFlag.Rumble, state: { ...REST, lx, buttons } }]]);
  ps.update(0, pad(0));
  assert.deepEqual(r.log, [["connect", 0, PadFlag.Rumble], ["state", 0, 0, 0, 0]], "a new pad: connect, then its state");
  r.log.length = 0;
  ps.update(16, pad(0));
  assert.deepEqual(r.log, [], "unchanged: nothing");
  ps.update(32, pad(1000, 1));
  assert.deepEqual(r.log, [["state", 0, 1000, 1, 1]], "a change goes at once; pressed = new buttons");
  r.log.length = 0;
  ps.update(48, pad(1000, 1));
  ps.update(32 + REPEAT_MS - 1, pad(1000, 1));
  assert.deepEqual(r.log, [], "held: no repeat before REPEAT_MS");
  ps.update(32 + REPEAT_MS, pad(1000, 1));
  assert.deepEqual(r.log, [["state", 0, 1000, 1, 0]], "held: repeated, not a new press");
  r.log.length = 0;
  const rest = 1000;
  ps.update(rest, pad(0));
  assert.equal(r.log.length, 1, "back to rest goes at once");
  for (let t = rest + 16; t < rest + SETTLE_MS + 2 * REPEAT_MS; t += 16) ps.update(t, pad(0));
  const repeats = r.log.length - 1;
  assert.ok(repeats >= 3 && repeats <= 4, `rest repeated ${repeats} times in SETTLE_MS, then stops`);
  r.log.length = 0;
  for (let t = 5000; t < 8000; t += 16) ps.update(t, pad(0));
  assert.deepEqual(r.log, [], "a pad at rest is quiet");
  ps.update(8000, new Map());
  assert.deepEqual(r.log, [["disconnect", 0, PadFlag.Rumble]]);
  assert.deepEqual(ps.connected(), []);
});

test("pad sender: retries what did not go out, release, id change", () => {
  const r = recorder();
  const ps = new PadSender(r.out);
  const pads = (id, lx) => new Map([[2, { id, flags: 0, state: { ...REST, lx } }]]);
  r.open = false;
  ps.update(0, pads("a", 5));
  assert.deepEqual(ps.connected(), [], "the connect failed: not connected");
  r.open = true;
  ps.update(16, pads("a", 5));
  assert.deepEqual(r.log, [["connect", 2, 0], ["state", 2, 5, 0, 0]]);
  r.log.length = 0;
  r.open = false;
  ps.update(32, pads("a", 9));
  r.open = true;
  ps.update(48, pads("a", 9));
  assert.deepEqual(r.log, [["state", 2, 9, 0, 0]], "a state that failed is sent again");
  r.log.length = 0;
  ps.release(64);
  assert.deepEqual(r.log, [["state", 2, 0, 0, 0]], "release sends rest");
  ps.release(65);
  assert.equal(r.log.length, 1, "once");
  ps.update(80, pads("a", 9));
  assert.deepEqual(r.log.at(-1), ["state", 2, 9, 0, 0], "still held: the real state again");
  r.log.length = 0;
  ps.update(96, pads("b", 9));
  assert.deepEqual(r.log, [["disconnect", 2, 0], ["connect", 2, 0], ["state", 2, 9, 0, 0]], "another pad at the same index");
  assert.deepEqual(ps.connected(), [{ index: 2, id: "b", flags: 0 }]);
});

test("touch controls map to gamepad states", () => {
  assert.deepEqual(stickFromDrag(0, 0), [0, 0]);
  assert.deepEqual(stickFromDrag(STICK_RADIUS, 0), [1, 0]);
  assert.deepEqual(stickFromDrag(STICK_RADIUS * 3, 0), [1, 0], "held to the rim");
  const [x, y] = stickFromDrag(-STICK_RADIUS, STICK_RADIUS);
  assert.ok(near(Math.hypot(x, y), 1) && x < 0 && y > 0);
  assert.deepEqual(stickFromDrag(NaN, 0), [0, 0]);
  assert.deepEqual(touchState([0, 0], [0, 0], 0), REST);
  assert.deepEqual(touchState([0.05, 0], [0, 0.05], 0), REST, "a thumb resting near the centre sends nothing");
  const st = touchState([1, 0], [0, -1], 1 << PadButton.X);
  assert.equal(st.lx, 32767);
  assert.equal(st.ry, -32767);
  assert.equal(st.rt, 255, "the aim stick pushed far fires");
  assert.equal(st.buttons, (1 << PadButton.X) | (1 << PadButton.RT));
  const aim = touchState([0, 0], [AUTO_FIRE * 0.9, 0], 0);
  assert.ok(aim.rx > 0 && aim.rt === 0 && aim.buttons === 0, "aiming gently does not fire");
  assert.ok(!isRest(aim));
});

test("rumble messages", () => {
  assert.deepEqual(parseRumble({ type: "rumble", strong: 0.5, weak: 1, ms: 200 }), { strong: 0.5, weak: 1, ms: 200 });
  assert.deepEqual(parseRumble({ type: "rumble", strong: 7, weak: -1, ms: 1e9 }), { strong: 1, weak: 0, ms: MAX_RUMBLE_MS });
  assert.deepEqual(parseRumble({ type: "rumble", strong: 0.2, weak: 0, ms: 0.2 }), { strong: 0.2, weak: 0, ms: 1 });
  assert.equal(parseRumble({ type: "rumble", strong: 0, weak: 0, ms: 100 }), null, "nothing to play");
  assert.equal(parseRumble({ type: "rumble", strong: "1", weak: 0, ms: 100 }), null);
  assert.equal(parseRumble({ type: "rumble", strong: 1, weak: 0 }), null, "no duration");
  assert.equal(parseRumble({ type: "media" }), null);
  assert.equal(parseRumble(null), null);
});

test("sound settings are remembered", () => {
  const store = new Map();
  const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, String(v)) };
  assert.deepEqual(loadSound(storage), { muted: false, volume: 1 });
  saveSound(storage, { muted: true, volume: 0.25 });
  assert.equal(store.get(SOUND_KEY), '{"muted":true,"volume":0.25}');
  assert.deepEqual(loadSound(storage), { muted: true, volume: 0.25 });
  saveSound(storage, { muted: 0, volume: 7 });
  assert.deepEqual(loadSound(storage), { muted: false, volume: 1 });
  store.set(SOUND_KEY, "{not json");
  assert.deepEqual(loadSound(storage), { muted: false, volume: 1 });
  store.set(SOUND_KEY, '{"muted":"yes","volume":-2}');
  assert.deepEqual(loadSound(storage), { muted: false, volume: 1 });
  const broken = { getItem() { throw new Error("denied"); }, setItem() { throw new Error("denied"); } };
  assert.deepEqual(loadSound(broken), { muted: false, volume: 1 });
  saveSound(broken, { muted: true, volume: 1 }); // does not throw
  assert.deepEqual(loadSound(null), { muted: false, volume: 1 });
});
