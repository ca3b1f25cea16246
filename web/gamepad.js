// Gamepads (docs/PROTOCOL.md, "Gamepads"): the Gamepad API read into wire states, dead zones,
// and PadSender, which decides when each pad's connect, state and disconnect go out.
//
// Sticks get a radial dead zone (STICK_DEAD_ZONE of the throw is ignored and the rest rescaled
// to 0..1, so that a worn stick at rest sends exactly 0 and full deflection still reaches 1);
// triggers a small linear one. The host receives values with the dead zone already applied.

import { PAD_BUTTONS, PadButton, REST } from "./input.js";

export const STICK_DEAD_ZONE = 0.15;
export const TRIGGER_DEAD_ZONE = 0.05;

// How often an unchanged state is sent again: every REPEAT_MS while any control is off its rest
// position, and for SETTLE_MS after the pad came to rest. States travel on the unordered,
// unreliable channel; the repeats repair a lost one (a lost release would leave a control held).
export const REPEAT_MS = 250;
export const SETTLE_MS = 1000;

const finite = (v) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));

/**
 * Applies a radial dead zone to a stick: returns [x, y], zero inside dz, and outside it the
 * magnitude rescaled from dz..1 to 0..1 (capped at 1) in the stick's direction.
 */
export function stickDeadZone(x, y, dz = STICK_DEAD_ZONE) {
  x = finite(x);
  y = finite(y);
  const m = Math.hypot(x, y);
  if (m <= dz) return [0, 0];
  const scaled = Math.min(1, (m - dz) / (1 - dz));
  return [(x / m) * scaled, (y / m) * scaled];
}

/** Applies a dead zone to a trigger (0..1): 0 up to dz, then rescaled to 0..1. */
export function triggerDeadZone(v, dz = TRIGGER_DEAD_ZONE) {
  v = clamp(finite(v), 0, 1);
  return v <= dz ? 0 : Math.min(1, (v - dz) / (1 - dz));
}

/** A stick axis (−1..1) as sent: −32767..32767. */
export const axisToWire = (v) => Math.round(clamp(finite(v), -1, 1) * 32767) || 0;

/** A trigger (0..1) as sent: 0..255. */
export const triggerToWire = (v) => Math.round(clamp(finite(v), 0, 1) * 255);

// A GamepadButton's value and pressed state; old browsers give bare numbers.
function button(b) {
  if (typeof b === "number") return [b, b >= 0.5];
  return [finite(b?.value), !!b?.pressed];
}

/**
 * Reads a Gamepad into a wire state {buttons, lt, rt, lx, ly, rx, ry}. Pads with the standard
 * mapping are read exactly; others (mapping "") are read as if standard, which is right for
 * the first buttons and the two sticks of most pads.
 */
export function readGamepad(gp, stickDZ = STICK_DEAD_ZONE, triggerDZ = TRIGGER_DEAD_ZONE) {
  const bs = Array.from(gp?.buttons ?? []);
  let buttons = 0;
  for (let i = 0; i < PAD_BUTTONS && i < bs.length; i++) {
    if (button(bs[i])[1]) buttons |= 1 << i;
  }
  const lt = triggerDeadZone(button(bs[PadButton.LT])[0], triggerDZ);
  const rt = triggerDeadZone(button(bs[PadButton.RT])[0], triggerDZ);
  const ax = Array.from(gp?.axes ?? []);
  const [lx, ly] = stickDeadZone(ax[0], ax[1], stickDZ);
  const [rx, ry] = stickDeadZone(ax[2], ax[3], stickDZ);
  return {
    buttons: buttons >>> 0, lt: triggerToWire(lt), rt: triggerToWire(rt),
    lx: axisToWire(lx), ly: axisToWire(ly), rx: axisToWire(rx), ry: axisToWire(ry),
  };
}

/** Whether a pad can rumble: it has a vibration actuator that knows "dual-rumble". */
export function canRumble(gp) {
  const va = gp?.vibrationActuator;
  if (!va || typeof va.playEffect !== "function") return false;
  return !Array.isArray(va.effects) || va.effects.includes("dual-rumble");
}

export function sameState(a, b) {
  return a.buttons === b.buttons && a.lt === b.lt && a.rt === b.rt &&
    a.lx === b.lx && a.ly === b.ly && a.rx === b.rx && a.ry === b.ry;
}

export function isRest(s) {
  return sameState(s, REST);
}

/**
 * PadSender decides, per pad index, what to send; it does no I/O itself. out has
 *   connect(pad, flags) → bool, state(pad, state, pressed) → bool, disconnect(pad, flags) → bool
 * each returning whether the message went out; what did not is tried again on the next
 * update. pressed is the button bits newly held in this state (for click-to-photon).
 */
export class PadSender {
  constructor(out) {
    this.out = out;
    this.pads = new Map(); // index → {id, flags, last, sentAt, changedAt, sent}
  }

  /**
   * present: Map of pad index → {id, flags, state} of every pad connected now. A pad that
   * appears is connected, one that is gone is disconnected, one whose id changed is both.
   */
  update(now, present) {
    for (const [i, p] of this.pads) {
      const cur = present.get(i);
      if ((!cur || cur.id !== p.id) && this.out.disconnect(i, p.flags)) this.pads.delete(i);
    }
    for (const [i, cur] of present) {
      let p = this.pads.get(i);
      if (p && p.id !== cur.id) continue; // its disconnect did not go out yet
      if (!p) {
        if (!this.out.connect(i, cur.flags)) continue;
        p = { id: cur.id, flags: cur.flags, last: REST, sentAt: -Infinity, changedAt: now, sent: false };
        this.pads.set(i, p);
      }
      const changed = !p.sent || !sameState(cur.state, p.last);
      const repeat = now - p.sentAt >= REPEAT_MS && (!isRest(cur.state) || now - p.changedAt < SETTLE_MS);
      if (!changed && !repeat) continue;
      const pressed = (cur.state.buttons & ~p.last.buttons) >>> 0;
      if (!this.out.state(i, cur.state, changed ? pressed : 0)) continue;
      if (changed) p.changedAt = now;
      p.last = cur.state;
      p.sentAt = now;
      p.sent = true;
    }
  }

  /**
   * Sends every pad that holds something to rest (the page lost focus). A pad still held sends
   * its real state again on the next update.
   */
  release(now) {
    for (const [i, p] of this.pads) {
      if (isRest(p.last) || !this.out.state(i, REST, 0)) continue;
      p.last = REST;
      p.sentAt = now;
      p.changedAt = now;
    }
  }

  /** The pads whose connect went out: [{index, id, flags}]. */
  connected() {
    return [...this.pads].map(([index, p]) => ({ index, id: p.id, flags: p.flags }));
  }
}

/** Longest rumble played, in ms (PROTOCOL.md: the host sends 1..5000). */
export const MAX_RUMBLE_MS = 5000;

/**
 * Validates a "rumble" control message: returns {strong, weak, ms} (magnitudes clamped to 0..1,
 * ms to 1..MAX_RUMBLE_MS) or null when it is not one or carries nothing to play.
 */
export function parseRumble(msg) {
  if (msg?.type !== "rumble") return null;
  const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : NaN);
  const strong = clamp(num(msg.strong), 0, 1);
  const weak = clamp(num(msg.weak), 0, 1);
  const ms = Math.round(clamp(num(msg.ms), 1, MAX_RUMBLE_MS));
  if (Number.isNaN(strong) || Number.isNaN(weak) || Number.isNaN(ms) || (strong === 0 && weak === 0)) return null;
  return { strong, weak, ms };
}
