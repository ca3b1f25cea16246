// On-screen touch controls: a virtual gamepad drawn over the video (docs/PROTOCOL.md, "Touch
// controls"). Its state is a gamepad state like a real pad's, sent as pad TOUCH_PAD.
//
//   left half of the picture   move stick: it appears where the thumb lands (left stick)
//   right half                 aim stick, likewise (right stick); pushed past AUTO_FIRE it also
//                              pulls the right trigger, so one thumb aims and fires
//   FIRE, ✶ (bottom right)     A (fire) and X (spread)
//   ⟲ (top)                    Start (restart the round)
//
// Pointer Events drive it (touch, pen, or a mouse for trying it on a desktop); each stick and
// button follows one pointer, so the thumbs act independently.

import { PadButton, REST } from "./input.js";
import { axisToWire, stickDeadZone } from "./gamepad.js";

/** Stick radius in CSS pixels: how far the thumb travels for full deflection. */
export const STICK_RADIUS = 56;
/** Aim-stick deflection (0..1) that fires. */
export const AUTO_FIRE = 0.5;
/** Touch sticks' dead zone: a thumb never lands exactly on the centre. */
export const TOUCH_DEAD_ZONE = 0.12;

/**
 * A drag of (dx, dy) CSS pixels from where the thumb landed as stick values [x, y] (−1..1,
 * within the unit circle), before the dead zone.
 */
export function stickFromDrag(dx, dy, radius = STICK_RADIUS) {
  const x = (Number.isFinite(dx) ? dx : 0) / radius;
  const y = (Number.isFinite(dy) ? dy : 0) / radius;
  const m = Math.hypot(x, y);
  return m > 1 ? [x / m, y / m] : [x, y];
}

/** The wire state of the controls: sticks [x, y] (−1..1, before the dead zone) and buttons. */
export function touchState(left, right, buttons) {
  const [lx, ly] = stickDeadZone(left[0], left[1], TOUCH_DEAD_ZONE);
  const [rx, ry] = stickDeadZone(right[0], right[1], TOUCH_DEAD_ZONE);
  const fire = Math.hypot(right[0], right[1]) >= AUTO_FIRE;
  return {
    ...REST,
    buttons: ((buttons | (fire ? 1 << PadButton.RT : 0)) & 0x1ffff) >>> 0,
    rt: fire ? 255 : 0,
    lx: axisToWire(lx), ly: axisToWire(ly), rx: axisToWire(rx), ry: axisToWire(ry),
  };
}

const BUTTONS = [
  // [class, pad button, label, accessible name]
  ["ep-tfire", PadButton.A, "FIRE", "fire"],
  ["ep-tspread", PadButton.X, "✶", "spread shot"],
  ["ep-tstart", PadButton.Start, "⟲", "restart the round"],
];

/**
 * TouchControls builds the controls into parent (hidden until show). actions: onSound() and
 * onExit(), for the sound and leave buttons of the top row.
 */
export class TouchControls {
  constructor(parent, actions = {}) {
    const el = document.createElement("div");
    el.className = "ep-touch";
    el.hidden = true;
    el.innerHTML =
      '<div class="ep-tzone ep-tleft"><div class="ep-tstick"><div class="ep-tknob"></div></div></div>' +
      '<div class="ep-tzone ep-tright"><div class="ep-tstick"><div class="ep-tknob"></div></div></div>' +
      '<div class="ep-tmenu"><button type="button" class="ep-tsound" aria-label="sound">🔊</button>' +
      '<button type="button" class="ep-texit" aria-label="leave the game">✕</button></div>';
    const menu = el.querySelector(".ep-tmenu");
    this.el = el;
    this.buttons = 0; // pad buttons held by touch
    this.sticks = [...el.querySelectorAll(".ep-tzone")].map((zone) => this.#stick(zone));
    for (const [cls, bit, label, name] of BUTTONS) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "ep-tbtn " + cls;
      b.textContent = label;
      b.setAttribute("aria-label", name);
      this.#button(b, bit);
      if (bit === PadButton.Start) menu.prepend(b);
      else el.append(b);
    }
    this.soundButton = el.querySelector(".ep-tsound");
    this.soundButton.addEventListener("click", () => actions.onSound?.());
    el.querySelector(".ep-texit").addEventListener("click", () => actions.onExit?.());
    // No scrolling, zooming, long-press menus or text selection from the controls.
    el.addEventListener("contextmenu", (e) => e.preventDefault());
    el.addEventListener("touchmove", (e) => e.preventDefault(), { passive: false });
    parent.append(el);
  }

  /** Shows or hides the controls; hiding lets go of everything. */
  show(on) {
    this.el.hidden = !on;
    if (!on) this.reset();
  }

  get visible() {
    return !this.el.hidden;
  }

  /** Lets go of every stick and button. */
  reset() {
    for (const s of this.sticks) s.release();
    this.buttons = 0;
    for (const b of this.el.querySelectorAll(".ep-tbtn")) b.classList.remove("ep-on");
  }

  /** The controls' gamepad state (wire values). */
  state() {
    return touchState(this.sticks[0].value, this.sticks[1].value, this.buttons);
  }

  setSound(muted) {
    this.soundButton.textContent = muted ? "🔇" : "🔊";
    this.soundButton.setAttribute("aria-pressed", String(!muted));
  }

  // A floating stick in zone: it appears where a pointer lands and follows that pointer.
  #stick(zone) {
    const base = zone.querySelector(".ep-tstick");
    const knob = zone.querySelector(".ep-tknob");
    const s = { pointer: null, ox: 0, oy: 0, value: [0, 0] };
    const draw = () => {
      knob.style.transform = `translate(${s.value[0] * STICK_RADIUS}px, ${s.value[1] * STICK_RADIUS}px)`;
    };
    s.release = () => {
      s.pointer = null;
      s.value = [0, 0];
      base.classList.remove("ep-on");
      base.style.left = base.style.top = ""; // back to its resting place (CSS)
      draw();
    };
    zone.addEventListener("pointerdown", (e) => {
      e.preventDefault();
      if (s.pointer !== null) return;
      s.pointer = e.pointerId;
      try {
        zone.setPointerCapture(e.pointerId);
      } catch {
        // the pointer is already gone
      }
      const r = zone.getBoundingClientRect();
      s.ox = e.clientX;
      s.oy = e.clientY;
      base.style.left = `${e.clientX - r.left}px`;
      base.style.top = `${e.clientY - r.top}px`;
      base.classList.add("ep-on");
      s.value = [0, 0];
      draw();
    });
    zone.addEventListener("pointermove", (e) => {
      if (e.pointerId !== s.pointer) return;
      s.value = stickFromDrag(e.clientX - s.ox, e.clientY - s.oy);
      draw();
    });
    const up = (e) => {
      if (e.pointerId === s.pointer) s.release();
    };
    zone.addEventListener("pointerup", up);
    zone.addEventListener("pointercancel", up);
    zone.addEventListener("lostpointercapture", up);
    return s;
  }

  #button(b, bit) {
    let pointer = null;
    b.addEventListener("pointerdown", (e) => {
      e.preventDefault();
      if (pointer !== null) return;
      pointer = e.pointerId;
      try {
        b.setPointerCapture(e.pointerId);
      } catch {
        // the pointer is already gone
      }
      this.buttons |= 1 << bit;
      b.classList.add("ep-on");
    });
    const up = (e) => {
      if (e.pointerId !== pointer) return;
      pointer = null;
      this.buttons &= ~(1 << bit);
      b.classList.remove("ep-on");
    };
    b.addEventListener("pointerup", up);
    b.addEventListener("pointercancel", up);
    b.addEventListener("lostpointercapture", up);
  }
}
