// Run with: node --test web/
// Checks the wire encodings against docs/PROTOCOL.md byte for byte, the HID table, the latency
// marker reader, the percentile helper and the queue and placement texts.

import { test } from "node:test";
import assert from "node:assert/strict";

import {
  HID, Mod, Type, encodeKey, encodeMouseButton, encodeMouseMove, encodeWheel, hidUsage, modsOf,
  wheelPixels, wireTime,
} from "./input.js";
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
    ],
  );
  assert.deepEqual(formatMedia({ type: "media", width: -1, target_kbps: "x" })[0], ["sending", "0×0 ? at 0 kbit/s"]);
});
