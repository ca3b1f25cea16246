// Taking a session back after a network drop: the page's decisions (docs/PROTOCOL.md, "Resume").
//
// Recovery is pure: it keeps the times of one session's drop and says what to do next, and
// player.js does it (opens the websocket, sends resume or ice_restart, ends the session). Every
// method takes the time (performance.now(), ms), so node tests drive it with a fake clock
// (resume_test.mjs).
//
// A drop begins when the websocket that carries the session closes without `ended` or a
// closing error (socketLost), or when the peer connection that was connected leaves
// "connected" (the player calls begin). While it lasts:
//
//   the websocket   "down": open a new one, at once and then RETRY_MS after each failed
//                   attempt; "trying": opened, waiting for welcome and resumed, at most
//                   ATTEMPT_MS; "up": it carries the session (the first one never dropped, or
//                   a resume worked).
//   the peer        with the websocket up: disconnected for ICE_WAIT_MS, or failed, asks for an
//   connection      ICE restart (ice_restart), again every ICE_REPEAT_MS while not connected.
//                   `resumed` counts as one: the host sends its own restart offer then when its
//                   side is not connected.
//   back            the websocket is up and the peer connection connected, and the video shows
//                   it: FRAMES_BACK frames presented since the websocket came back, or the peer connection
//                   came back itself, or FRAME_WAIT_MS passed (a hidden tab presents no frames:
//                   at once). A peer connection that never connected needs only the websocket:
//                   the usual set-up goes on.
//   stalled         the peer connection says "connected" but no frame came for STALL_MS in a
//                   visible page (player.js calls stall): the path is dead without ICE having
//                   noticed, as when the player's address changed and the browser keeps
//                   answering checks on a new one. An ICE restart at once, again every
//                   ICE_REPEAT_MS, until a frame is presented.
//   give up         GIVE_UP_MS after the drop began.

/** How long the page tries before it gives the session up (the host's grace is 20 s). */
export const GIVE_UP_MS = 30_000;
/** One websocket attempt: from opening it to `resumed`. */
export const ATTEMPT_MS = 5_000;
/** The pause after a failed attempt before the next. */
export const RETRY_MS = 1_000;
/** A peer connection disconnected this long asks for an ICE restart (PROTOCOL.md). */
export const ICE_WAIT_MS = 4_000;
/** And asks again this often while it is not connected (PROTOCOL.md). */
export const ICE_REPEAT_MS = 5_000;
/**
 * With both connections back, how long the page waits for a frame before it calls it back.
 * Longer than a browser takes to notice a dead path: in the lab, Chromium's peer connection
 * still said "connected" 5–7 s into a total blackout, and a websocket resumed meanwhile must
 * not call the session back while no video arrives.
 */
export const FRAME_WAIT_MS = 10_000;
/**
 * Frames presented since the websocket came back that show the video is back. One is not
 * enough: a blackout leaves a few frames in the browser's pipeline, presented just after.
 */
export const FRAMES_BACK = 10;
/** A visible page whose connected peer connection presents no frame this long has stalled. */
export const STALL_MS = 3_000;
/** How often player.js asks what to do while a drop lasts. */
export const TICK_MS = 250;
/** The longest resume token a client sends (PROTOCOL.md: ≤ 512 bytes). */
export const MAX_TOKEN_BYTES = 512;

/** The token of a `placed` or `resumed` message (its resume_token), or null when it has none usable. */
export function readToken(msg) {
  const t = msg?.resume_token;
  if (typeof t !== "string" || t === "") return null;
  return new TextEncoder().encode(t).length <= MAX_TOKEN_BYTES ? t : null;
}

/** The `resume` message for a new websocket. */
export function resumeMessage(session, token) {
  return { type: "resume", session, token };
}

// What Recovery.next says to do.
export const Act = Object.freeze({
  None: "none", // no drop
  Wait: "wait", // nothing now
  Open: "open", // open a new websocket (then attemptStarted)
  Abandon: "abandon", // close the websocket being tried (then attemptFailed)
  ICERestart: "ice_restart", // send ice_restart (then iceRestartSent)
  Recovered: "recovered", // the session is back (then recovered)
  GiveUp: "give_up", // end the session
});

export class Recovery {
  constructor() {
    this.since = null; // when the drop began; null: no drop
    this.link = "up"; // the websocket: "up" | "down" | "trying"
    this.attemptAt = 0; // when the attempt being tried began
    this.nextAttempt = 0; // when the next attempt may begin (link "down")
    this.upAt = 0; // when the websocket last came back
    this.pc = "new"; // the peer connection's connectionState
    this.everConnected = false; // the peer connection was connected once
    this.badSince = null; // when the connected peer connection left "connected"; null: connected
    this.cameBack = false; // the peer connection left "connected" and came back during this drop
    this.framed = false; // FRAMES_BACK frames were presented since the websocket came back, during this drop
    this.frames = 0; // frames presented since the websocket came back, during this drop
    this.lastRestart = -Infinity; // when ice_restart was last sent (or resumed came)
    this.stalled = false; // this drop is a stall: connected, but no frames
  }

  /** Whether a drop is being recovered from. */
  get dropped() {
    return this.since !== null;
  }

  /** A drop begins (nothing if one is going on). */
  begin(now) {
    if (this.since !== null) return;
    this.since = now;
    this.framed = false;
    this.frames = 0;
    this.cameBack = false;
  }

  /** The video stalled while the peer connection says connected: a drop begins. */
  stall(now) {
    this.begin(now);
    this.stalled = true;
  }

  /** The websocket that carried the session closed: a drop begins, and a new one opens at once. */
  socketLost(now) {
    this.begin(now);
    this.link = "down";
    this.nextAttempt = now;
    this.framed = false;
    this.frames = 0;
  }

  /** The network is said to be back (window "online"): the next attempt need not wait. */
  online(now) {
    if (this.link === "down") this.nextAttempt = Math.min(this.nextAttempt, now);
  }

  /** A new websocket was opened to resume. */
  attemptStarted(now) {
    this.link = "trying";
    this.attemptAt = now;
  }

  /** The websocket being tried closed, failed or was abandoned before `resumed`. */
  attemptFailed(now) {
    if (this.link !== "trying") return;
    this.link = "down";
    this.nextAttempt = now + RETRY_MS;
  }

  /** `resumed` came: the new websocket carries the session. */
  resumed(now) {
    this.link = "up";
    this.upAt = now;
    this.framed = false;
    this.frames = 0;
    // The host sends a restart offer itself when its side is not connected.
    this.lastRestart = now;
  }

  /** The peer connection's connectionState changed (or was read again). */
  pcState(state, now) {
    this.pc = state;
    if (state === "connected") {
      this.everConnected = true;
      if (this.badSince !== null) {
        this.badSince = null;
        if (this.since !== null) this.cameBack = true;
      }
    } else if (this.everConnected && state !== "closed" && this.badSince === null) {
      this.badSince = now;
      this.cameBack = false;
    }
  }

  /** ice_restart was sent. */
  iceRestartSent(now) {
    this.lastRestart = now;
  }

  /** A video frame was presented. */
  frame() {
    if (this.since === null || this.link !== "up") return;
    this.frames++;
    if (this.frames >= FRAMES_BACK) this.framed = true;
  }

  /** What to do now; hidden: the page is not visible (it presents no frames). */
  next(now, { hidden = false } = {}) {
    if (this.since === null) return Act.None;
    if (now - this.since >= GIVE_UP_MS) return Act.GiveUp;
    if (this.link === "down") return now >= this.nextAttempt ? Act.Open : Act.Wait;
    if (this.link === "trying") return now - this.attemptAt >= ATTEMPT_MS ? Act.Abandon : Act.Wait;
    if (!this.everConnected) return Act.Recovered; // set-up goes on as usual
    if (this.pc !== "connected") {
      const due = this.pc === "failed" || (this.badSince !== null && now - this.badSince >= ICE_WAIT_MS);
      return due && now - this.lastRestart >= ICE_REPEAT_MS ? Act.ICERestart : Act.Wait;
    }
    if (this.stalled) {
      if (this.framed) return Act.Recovered;
      return now - this.lastRestart >= ICE_REPEAT_MS ? Act.ICERestart : Act.Wait;
    }
    if (this.framed || this.cameBack || hidden || now - this.upAt >= FRAME_WAIT_MS) return Act.Recovered;
    return Act.Wait;
  }

  /** The session is back; returns how long the drop lasted (ms). */
  recovered(now) {
    const took = this.since === null ? 0 : now - this.since;
    this.since = null;
    this.framed = false;
    this.frames = 0;
    this.cameBack = false;
    this.stalled = false;
    return took;
  }
}
