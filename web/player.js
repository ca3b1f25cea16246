// EdgeplayPlayer: an embeddable edgeplay game player (docs/PROTOCOL.md is the contract).
//
//   import { EdgeplayPlayer } from "./player.js";   // and include player.css
//   const player = new EdgeplayPlayer(element, { game: "demo" });
//   player.play(); player.stop(); player.toggleFullscreen(); player.toggleStats();
//   player.setMuted(bool); player.setVolume(0..1); player.muted; player.volume
//
// A click or tap on the idle (or ended) picture starts a session, as play() does.
//
// Options: url (websocket URL; default /v1/play on this origin, ws: or wss: to match the page),
// game (default "demo"), token (sent in join when set), iceServers (RTCIceServer[], default none),
// expose (default true: publish `info` as window.edgeplay), overlayMessages (default true: the
// player itself shows why a session ended; false gives only a short title there, for a page that
// shows the banner events itself), touch ("auto", the default: on-screen controls on devices
// whose primary pointer is coarse, or after the first touch on the player until a mouse is used
// there; true or false to force them on or off).
//
// Events (CustomEvent, detail in braces):
//   statechange {state, status}  every change of state or of the status line
//   banner      {level, text}    a message for the user; level "error" or "info"; text "" clears it
//   ended       {reason, text, result}   the session is over (reason as info.endReason below;
//                                result: the game's result object for game_ended, else null)
//   stats       {…}              the latest statistics, once per second while connected
//   gamepad     {connected, index, id, touch}   a gamepad appeared or went away
//   audiochange {…info.audio}    the sound settings or the audio playback changed
//
// Before joining, the player measures its RTT to every data center the welcome lists, in
// parallel, on each one's probe websocket (PROTOCOL.md, "RTT probe"), for at most 1.5 s, and
// sends the signed results in join.rtts; data centers that did not answer in time are left out.
//
// window.edgeplay (player.info), kept up to date for scripts and browser tests:
//   state          "idle" | "opening" (websocket) | "measuring" (probing data centers) |
//                  "finding" (join sent) | "queued" (waiting for a free slot) | "placed" |
//                  "connecting" (offer received) | "playing" (WebRTC connected) |
//                  "reconnecting" (the network dropped; taking the session back, see below) |
//                  "ended"
//   status         the status line text
//   sessionId      from welcome; host, region from placed (null before)
//   rtts           {region id: ms} measured by the probes this session ({} before or without)
//   queue          {position, eta} (eta in s) while queued, else null
//   placedRttMs    the RTT to the chosen data center as placed reports it, or null
//   placedReason   why the matchmaker chose that host (placed.reason_text), or null
//   framesDecoded  video frames presented this session (requestVideoFrameCallback count)
//   videoWidth, videoHeight   size of the last presented frame
//   lastMarker     latency marker of the last frame (0–65535), -1 when the frame has none
//   lastSeq        seq of the last input message sent (0 before any)
//   timeline       when this session reached each step, in ms since play() (performance.now();
//                  null until reached, all null before play): click (0), welcome, probed (join
//                  sent, after the RTT probes), placed, offer (received), answer (sent),
//                  iceConnected, pcConnected (ICE and DTLS up), firstFrame (presented);
//                  dropped and resumed: the latest drop's start and its end (back to playing)
//   samples        click-to-photon samples in ms, oldest first, at most 1000 (same array kept)
//   media          what the host says it sends (the "media" message on the control data
//                  channel, about once a second): codec, width, height, target_kbps,
//                  estimate_kbps, frames_skipped, keyframes, plis, nacks, rtx_packets,
//                  switches, input_ms (absent until measured); null before the first
//   stats          latest getStats sample: rttMs, fps, bitrateKbps, packetLossPct, decodeMs,
//                  jitterBufferMs, width, height, framesDecoded, framesDropped, codec, decoder,
//                  c2pP50, c2pP95, c2pCount (null where not known)
//   error          the last error text shown, or null
//   drainDeadline  when the host that runs the session will end it (RFC 3339), after a
//                  "draining" message; null otherwise
//   endReason      why the last session ended: an ended.reason of PROTOCOL.md, the code of an
//                  error that closes the socket (e.g. "no_free_host"), or "client" (the socket
//                  was lost, ICE failed, or the connection could not be set up); null before
//   sendKey(code)  press and release a key by KeyboardEvent.code; returns the key-down seq, or 0
//                  when nothing was sent (unknown code, or the input channel is not open)
//   gamepads       connected gamepads: [{index, id, touch, rumble}]; the on-screen touch controls
//                  are index 7 with touch true (they count while they are shown)
//   touch          whether the on-screen touch controls are in use (touch mode)
//   audio          {track (an audio track arrived and is live), playing (it is being played),
//                  muted, volume (0..1), blocked (the browser refused to play it until the next
//                  click or key)}; the element is the player's <audio class="ep-audio">
//   rumbles        "rumble" control messages played this session; lastRumble: the last one as
//                  {strong, weak, ms}, or null. A rumble goes to the pad the player last used
//                  (before any, to every pad that can)
//   resumes        drops this session came back from (reconnecting → playing); lastDropMs: how
//                  long the latest lasted
//   socketResumes  websockets that took the session back (`resumed`); resumeAttempts: new
//                  websockets opened to do so; iceRestarts: ice_restart messages sent;
//                  restartOffers: the host's restart offers applied
//   dropSocketForTest()  closes the session's websocket without `leave`, as a network failure
//                  would (the gateway sees the player away); returns whether there was one
//
// Resume (PROTOCOL.md, "Resume"; the decisions are resume.js's): once a session is placed,
// the page keeps its resume_token (in memory only). When the websocket closes without `ended`
// or a closing error, or the peer connection that was connected becomes disconnected or failed,
// the state turns "reconnecting" (status "reconnecting…", the last frame stays, input pauses):
// a new websocket sends `resume` on its welcome (each attempt ≤ 5 s, 1 s apart), the peer
// connection asks for an ICE restart when disconnected 4 s or failed (again every 5 s), and the
// host's restart offer is applied to the same RTCPeerConnection. Back to "playing" when both
// are up again (after a websocket drop alone, at the first new frame); after 30 s, resume_invalid, session_not_found or `ended` (player_lost: away
// longer than the host's grace) the session ends. pagehide sends leave (stop()), so closing the
// tab frees the slot at once rather than after the grace.
//
// Gamepads are polled once per display frame while playing (docs/PROTOCOL.md, "Gamepads"), the
// touch controls are a virtual gamepad (touch.js), and the host's "rumble" messages rumble the
// pads that can (Gamepad.vibrationActuator) and, for the touch controls, the phone
// (navigator.vibrate). The host's audio track plays through the <audio> element, started by
// the Play click; mute and volume are kept in localStorage (sound.js).

import {
  Type, encodeGamepadConnect, encodeGamepadState, encodeKey, encodeMouseButton, encodeMouseMove,
  encodeWheel, hidUsage, modsOf, wheelPixels, wireTime, MAX_BUTTON, PadFlag, TOUCH_PAD,
} from "./input.js";
import { PadSender, canRumble, isRest, parseRumble, readGamepad } from "./gamepad.js";
import { TouchControls } from "./touch.js";
import { loadSound, saveSound } from "./sound.js";
import { MARKER_HEIGHT, MARKER_WIDTH, markerCovers, readMarker } from "./marker.js";
import { StatsSampler, formatMedia, formatMs, formatPlacement, formatStats, percentile, queueText } from "./stats.js";
import { Act, GIVE_UP_MS, Recovery, STALL_MS, TICK_MS, readToken, resumeMessage } from "./resume.js";

const STREAM_WIDTH = 1280; // the marker is defined in pixels of a 1280×720 frame
const STREAM_HEIGHT = 720;
const FRAME_TIMEOUT_MS = 10_000;
const PENDING_MAX_AGE_MS = 5_000;
const MAX_SAMPLES = 1000;
const MOTION_MAX_BUFFERED = 16 << 10; // drop motion rather than queue it behind a slow link

// After these error codes the server closes the socket (PROTOCOL.md); so it does after any
// error that answers join (state "finding" or "queued").
const FATAL_CODES = new Set(["no_free_host", "unknown_game", "host_unavailable", "shutting_down", "message_too_large", "bad_rtt", "no_common_codec"]);

const UDP_HINT = "check that UDP traffic can reach the host";

// ended.reason → [level, text].
const END_TEXT = {
  player_left: ["info", "you left the game"],
  player_lost: ["error", "the connection was lost for too long and the session ended; press Play for a new session"],
  idle: ["info", "the session ended because there was no input for a while"],
  connection_failed: ["error", `connection failed — ${UDP_HINT}`],
  timeout: ["error", `the video connection was not established in time — ${UDP_HINT}`],
  host_lost: ["error", "the game host stopped responding"],
  drained: ["info", "the game host was taken out of service; press Play for a new session"],
  kicked: ["info", "an operator ended the session"],
  shutdown: ["info", "the game host shut down; press Play for a new session"],
  error: ["error", "the game host hit an unexpected error"],
  game_ended: ["info", "the game ended; press Play to play again"],
  game_start_failed: ["error", "the game could not be started on the host; try again later"],
  game_crashed: ["error", "the game crashed; press Play for a new session"],
  game_hung: ["error", "the game stopped responding; press Play for a new session"],
};

const NO_VIDEO = "connected, but no video arrived within 10 s — the host may not be sending video, or UDP packets are being dropped";

const PROGRESS = new Set(["opening", "measuring", "finding", "queued", "placed", "connecting", "reconnecting"]);

// Why a resume failed, by error code: the session is gone.
const RESUME_FAILED = {
  resume_invalid: "the session could not be taken back (its resume token was refused); press Play for a new session",
  session_not_found: "the session ended while the connection was down; press Play for a new session",
};

// The RTT probes: how long they may take in all, and the most data centers probed.
const PROBE_DEADLINE_MS = 1500;
const MAX_PROBES = 32;

function defaultURL() {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/v1/play";
}

// Resolves a possibly relative URL against base (default: the page) and turns http(s) into
// ws(s).
function wsURL(url, base = location.href) {
  const u = new URL(url, base);
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  return u;
}

function isEditable(el) {
  return el instanceof Element && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
}

const clamp01 = (v) => Math.max(0, Math.min(1, v));

const TOAST_MS = 3000;

// localStorage, or null where the page may not use it (a sandboxed frame throws on access).
function storage() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

export class EdgeplayPlayer extends EventTarget {
  constructor(container, options = {}) {
    super();
    this.container = container;
    this.options = {
      url: wsURL(options.url ?? defaultURL()).href,
      game: options.game || (options.token ? "" : "demo"), // with a token: the token's game
      token: options.token || "",
      iceServers: options.iceServers ?? [],
      overlayMessages: options.overlayMessages ?? true,
      touch: options.touch ?? "auto",
    };
    this.sound = loadSound(storage());
    this.info = {
      state: "idle", status: "ready", sessionId: null, host: null, region: null,
      rtts: {}, queue: null, placedRttMs: null, placedReason: null, drainDeadline: null,
      framesDecoded: 0, videoWidth: 0, videoHeight: 0, lastMarker: -1, lastSeq: 0,
      timeline: newTimeline(null), media: null, samples: [], stats: {}, error: null, endReason: null,
      gamepads: [], touch: false, rumbles: 0, lastRumble: null,
      audio: { track: false, playing: false, muted: this.sound.muted, volume: this.sound.volume, blocked: false },
      resumes: 0, lastDropMs: null, socketResumes: 0, resumeAttempts: 0, iceRestarts: 0, restartOffers: 0,
      sendKey: (code) => this.sendKey(code),
      dropSocketForTest: () => this.#dropSocketForTest(),
    };
    if (options.expose ?? true) window.edgeplay = this.info;

    this.s = null; // the current session, see play()
    this.pending = new Map(); // input seq → performance.now() at send, for click-to-photon
    this.statsVisible = false;
    this.regionNames = {};
    this.abort = new AbortController();
    this.pads = new Map(); // gamepads shown as connected: index → {id, touch, rumble}
    this.touchMode = this.options.touch === true ||
      (this.options.touch === "auto" && !!window.matchMedia?.("(pointer: coarse)").matches);
    this.autoFullscreen = false; // play() fullscreened the player (touch mode)
    this.savedViewport = null; // the viewport meta's content while touch play locks zoom
    this.audioTrack = null;
    this.#build();
    this.#listen();
    this.#render();
    this.#renderAudio();
  }

  // ---- public API ----

  /** Starts a session; does nothing while one is running. */
  play() {
    if (this.s) return;
    const info = this.info;
    Object.assign(info, {
      sessionId: null, host: null, region: null, framesDecoded: 0, videoWidth: 0, videoHeight: 0,
      rtts: {}, queue: null, placedRttMs: null, placedReason: null, drainDeadline: null,
      lastMarker: -1, lastSeq: 0, timeline: newTimeline(0), media: null, stats: {}, error: null, endReason: null,
      rumbles: 0, lastRumble: null,
      resumes: 0, lastDropMs: null, socketResumes: 0, resumeAttempts: 0, iceRestarts: 0, restartOffers: 0,
    });
    info.samples.length = 0;
    this.pending.clear();
    this.regionNames = {}; // region id → display name, from welcome
    this.#banner("", "");
    const s = {
      t0: performance.now(), // play(): the origin of info.timeline
      ws: null, pc: null, input: null, motion: null, sampler: null,
      seq: 1, // next input seq: one counter across both channels, from 1
      remote: [], // candidates that arrived before the offer
      welcomed: false, probes: [], // the RTT probe websockets still open
      opened: false, connected: false, sentEnd: false, lastError: "", timers: [],
      watching: false, frameReq: 0, pollReq: 0,
      motionDx: 0, motionDy: 0, wheelDx: 0, wheelDy: 0, motionDirty: false, raf: 0,
      pos: { x: 0.5, y: 0.5 }, keys: new Set(), buttons: new Set(),
      pads: null, padReq: 0, // the gamepad sender and its polling (from the connection on)
      lastPad: undefined, // the pad whose state last left rest: the one a rumble goes to
      // Resume (resume.js). ws above is the socket that carries the session; trying is a new
      // one that has not been answered with `resumed` yet. token: the latest resume_token
      // (null: the session cannot be resumed); resumeSession: the session id it is for.
      token: null, resumeSession: null, trying: null, rc: new Recovery(), rcTimer: 0,
      offers: 0, // restart offers received and not yet applied: remote candidates wait meanwhile
      negotiation: Promise.resolve(), // restart offers are applied one after another
    };
    this.s = s;
    // Still inside the Play click: the user gesture that lets sound play and, on touch
    // devices, the player go fullscreen.
    this.#startAudio();
    if (this.touchMode) this.#touchFullscreen();
    this.#setState("opening", "connecting to the server…");
    let ws;
    try {
      ws = new WebSocket(this.options.url);
    } catch (err) {
      this.#finish(s, "client", "error", `cannot open ${this.options.url}: ${err.message}`);
      return;
    }
    s.ws = ws;
    ws.onopen = () => { s.opened = true; };
    ws.onmessage = (e) => this.#onMessage(s, ws, e.data);
    ws.onclose = () => this.#onSocketClose(s, ws);
  }

  /** Ends the session (sends leave). */
  stop() {
    const s = this.s;
    if (!s) return;
    this.#sendJSON(s, { type: "leave" });
    this.#finish(s, "player_left", "", "stopped");
  }

  /** Fullscreens the player, or leaves fullscreen. */
  toggleFullscreen() {
    const doc = document;
    if (this.#isFullscreen()) {
      (doc.exitFullscreen ?? doc.webkitExitFullscreen)?.call(doc);
      return;
    }
    const req = this.root.requestFullscreen ?? this.root.webkitRequestFullscreen;
    Promise.resolve(req?.call(this.root)).catch((err) => this.#banner("info", `fullscreen is not available: ${err.message}`));
  }

  // Whether the player is the fullscreen element: asked of its root node, which is the
  // document, or the shadow root of <edgeplay-player> (the document then names the host).
  #isFullscreen() {
    const node = this.root.getRootNode();
    return (node.fullscreenElement ?? document.webkitFullscreenElement) === this.root;
  }

  /** Whether the sound is muted (remembered). */
  get muted() {
    return this.sound.muted;
  }

  /** The sound volume, 0..1 (remembered). */
  get volume() {
    return this.sound.volume;
  }

  /** Mutes or unmutes the sound; the setting is remembered in localStorage. */
  setMuted(muted) {
    this.sound.muted = !!muted;
    saveSound(storage(), this.sound);
    if (!muted) this.#playAudio(); // a click on unmute is a user gesture: play if blocked
    this.#renderAudio();
  }

  /** Sets the volume (0..1), unmuting when it is above 0; remembered in localStorage. */
  setVolume(volume) {
    const v = clamp01(Number(volume) || 0);
    this.sound.volume = v;
    if (v > 0) this.sound.muted = false;
    saveSound(storage(), this.sound);
    this.#renderAudio();
  }

  /** Shows or hides the statistics overlay. */
  toggleStats(show = !this.statsVisible) {
    this.statsVisible = show;
    this.statsEl.hidden = !show;
    this.#renderStats();
  }

  /** Presses and releases a key (KeyboardEvent.code); returns the key-down seq or 0. */
  sendKey(code) {
    const usage = hidUsage(code);
    const s = this.s;
    if (!usage || !s || this.info.state === "reconnecting") return 0;
    const seq = this.#send(s, "input", (q, t) => encodeKey(Type.KeyDown, q, t, usage, 0));
    if (seq) {
      this.pending.set(seq, performance.now());
      this.#send(s, "input", (q, t) => encodeKey(Type.KeyUp, q, t, usage, 0));
    }
    return seq;
  }

  /** Ends any session and removes the player's DOM and listeners. */
  destroy() {
    this.stop();
    this.abort.abort();
    this.root.remove();
    if (window.edgeplay === this.info) delete window.edgeplay;
  }

  // ---- DOM ----

  #build() {
    const root = document.createElement("div");
    root.className = "ep-root";
    root.innerHTML =
      '<video class="ep-video" autoplay muted playsinline disablepictureinpicture></video>' +
      '<div class="ep-overlay"><div class="ep-spinner" aria-hidden="true"></div><p class="ep-message"></p><p class="ep-detail" hidden></p></div>' +
      '<div class="ep-stats" hidden></div>' +
      '<div class="ep-toast" role="status" aria-live="polite" hidden></div>' +
      '<div class="ep-rotate" aria-hidden="true"><div class="ep-rotate-icon"></div><p>Turn your device sideways to play</p></div>' +
      '<audio class="ep-audio" autoplay playsinline></audio>';
    this.root = root;
    this.video = root.querySelector("video");
    this.overlay = root.querySelector(".ep-overlay");
    this.messageEl = root.querySelector(".ep-message");
    this.detailEl = root.querySelector(".ep-detail");
    this.statsEl = root.querySelector(".ep-stats");
    this.toastEl = root.querySelector(".ep-toast");
    this.audio = root.querySelector("audio");
    this.touch = new TouchControls(root, {
      onSound: () => this.setMuted(!this.sound.muted),
      onExit: () => this.stop(),
    });
    this.canvas = document.createElement("canvas");
    this.canvas.width = MARKER_WIDTH;
    this.canvas.height = MARKER_HEIGHT;
    this.ctx = this.canvas.getContext("2d", { willReadFrequently: true });
    this.container.append(root);
  }

  #render() {
    const { state, status, framesDecoded, error } = this.info;
    const waiting = state === "playing" && framesDecoded === 0;
    const noVideo = waiting && status === NO_VIDEO;
    this.overlay.hidden = state === "playing" && framesDecoded > 0;
    this.overlay.classList.toggle("ep-busy", PROGRESS.has(state) || (waiting && !noVideo));
    this.overlay.classList.toggle("ep-error", noVideo || (state === "ended" && !!error));
    let text = state === "idle" ? "press Play to start" : status;
    if (!this.options.overlayMessages) { // the page shows the details
      if (noVideo) text = "no video";
      else if (state === "ended" && this.info.endReason !== "player_left") text = this.info.host ? "session ended" : "could not start the game";
    }
    this.messageEl.textContent = text;
    // Closing the page gives up the place (the server drops the ticket with the websocket).
    const detail = state === "queued" ? "all slots are busy; you keep your place while this page stays open" : "";
    this.detailEl.textContent = detail;
    this.detailEl.hidden = !detail;
    this.root.dataset.state = state;
    this.#touchLayout(state);
  }

  // Touch mode: the controls over the video while playing; while a session runs the player
  // fills the screen and the page neither scrolls nor zooms.
  #touchLayout(state) {
    const on = this.touchMode;
    const running = on && (PROGRESS.has(state) || state === "playing");
    this.info.touch = on;
    this.root.classList.toggle("ep-touchmode", on);
    this.root.classList.toggle("ep-fill", running);
    document.documentElement.classList.toggle("ep-noscroll", running);
    this.#lockViewport(running);
    this.touch.show(on && state === "playing");
  }

  // Stops pinch and double-tap zoom while touch play runs (the viewport meta, restored after).
  #lockViewport(on) {
    const meta = document.querySelector('meta[name="viewport"]');
    if (!meta) return;
    if (on && this.savedViewport === null) {
      this.savedViewport = meta.content;
      meta.content = `${meta.content}, maximum-scale=1, user-scalable=no`;
    } else if (!on && this.savedViewport !== null) {
      meta.content = this.savedViewport;
      this.savedViewport = null;
    }
  }

  // Touch mode, inside the Play click: fullscreen where allowed, then landscape where the
  // browser lets a page lock it (Android); failures leave the in-page fill (iPhone).
  #touchFullscreen() {
    const doc = document;
    if (doc.fullscreenElement ?? doc.webkitFullscreenElement) return;
    const req = this.root.requestFullscreen ?? this.root.webkitRequestFullscreen;
    if (!req) return;
    let p;
    try {
      p = req.call(this.root, { navigationUI: "hide" });
    } catch {
      return;
    }
    this.autoFullscreen = true;
    Promise.resolve(p)
      .then(() => screen.orientation?.lock?.("landscape"))
      .catch(() => {}); // not allowed here: the fill and the rotate prompt do
  }

  #exitAutoFullscreen() {
    if (!this.autoFullscreen) return;
    this.autoFullscreen = false;
    try {
      screen.orientation?.unlock?.();
    } catch {
      // not locked
    }
    const doc = document;
    if (this.#isFullscreen()) {
      Promise.resolve((doc.exitFullscreen ?? doc.webkitExitFullscreen)?.call(doc)).catch(() => {});
    }
  }

  // Turns touch mode on (auto: the first touch on the player, or a coarse pointer appearing).
  #setTouchMode(on) {
    if (this.touchMode === on) return;
    this.touchMode = on;
    this.#render();
  }

  #toast(text) {
    clearTimeout(this.toastTimer);
    this.toastEl.textContent = text;
    this.toastEl.hidden = false;
    this.toastTimer = setTimeout(() => { this.toastEl.hidden = true; }, TOAST_MS);
  }

  #renderStats() {
    if (!this.statsVisible) return;
    const info = this.info;
    const rows = [...formatPlacement(info, this.regionNames), ...formatStats(info.stats), ...formatMedia(info.media)];
    const nodes = rows.map(([k, v]) => {
      const row = document.createElement("div");
      const dt = document.createElement("span");
      const dd = document.createElement("span");
      dt.textContent = k;
      dd.textContent = v;
      row.append(dt, dd);
      return row;
    });
    if (info.placedReason) {
      const why = document.createElement("p");
      why.className = "ep-why";
      why.textContent = info.placedReason;
      nodes.push(why);
    }
    this.statsEl.replaceChildren(...nodes);
  }

  #setState(state, status) {
    this.info.state = state;
    this.info.status = status;
    this.#render();
    this.dispatchEvent(new CustomEvent("statechange", { detail: { state, status } }));
  }

  #banner(level, text) {
    this.info.error = level === "error" ? text : null;
    this.#render();
    this.dispatchEvent(new CustomEvent("banner", { detail: { level, text } }));
  }

  // ---- signalling ----

  // Records in info.timeline when session s first reached step.
  #mark(s, step) {
    const tl = this.info.timeline;
    if (this.s === s && tl[step] === null) tl[step] = Math.round(performance.now() - s.t0);
  }

  #sendJSON(s, msg) {
    if (s.ws?.readyState === WebSocket.OPEN) s.ws.send(JSON.stringify(msg));
  }

  // A message on ws, the socket that carries session s (messages of a socket it no longer
  // carries are dropped).
  #onMessage(s, ws, data) {
    if (this.s !== s || s.ws !== ws) return;
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return; // the server only sends JSON; ignore anything else
    }
    switch (msg.type) {
      case "welcome": {
        if (s.welcomed) break;
        s.welcomed = true;
        this.#mark(s, "welcome");
        this.info.sessionId = msg.session ?? null;
        const regions = probeTargets(msg.regions);
        if (!regions.length || !this.info.sessionId) {
          this.#join(s, []);
          break;
        }
        for (const r of regions) this.regionNames[r.id] = r.name;
        const n = regions.length;
        this.#setState("measuring", `measuring latency to ${n} data center${n === 1 ? "" : "s"}…`);
        this.#measure(s, regions, this.info.sessionId).then((claims) => this.#join(s, claims));
        break;
      }
      case "queued": {
        if (!["measuring", "finding", "queued"].includes(this.info.state)) break;
        const q = { position: num0(msg.position), eta: num0(msg.eta_s) };
        this.info.queue = q;
        this.#setState("queued", queueText(q));
        this.#renderStats();
        break;
      }
      case "placed": {
        const info = this.info;
        this.#mark(s, "placed");
        info.host = msg.host ?? null;
        info.region = msg.region ?? null;
        info.queue = null;
        info.placedRttMs = typeof msg.rtt_ms === "number" && msg.rtt_ms >= 0 ? msg.rtt_ms : null;
        info.placedReason = typeof msg.reason_text === "string" && msg.reason_text ? msg.reason_text : null;
        // TURN servers with credentials for this session: the relay when direct UDP fails.
        s.iceServers = (Array.isArray(msg.ice_servers) ? msg.ice_servers : [])
          .filter((x) => typeof x?.urls === "string" || Array.isArray(x?.urls))
          .map(({ urls, username, credential }) => ({ urls, username, credential }));
        // From here on a drop is waited out: the token takes the session back (memory only,
        // never in info: it is the player's alone).
        s.token = readToken(msg);
        s.resumeSession = typeof msg.session === "string" && msg.session ? msg.session : info.sessionId;
        let text = `placed on host ${msg.host}`;
        if (info.region) text += ` in ${info.region}`;
        if (info.placedRttMs != null) text += ` (rtt ${formatMs(info.placedRttMs)} ms)`;
        this.#setState("placed", text);
        this.#renderStats();
        break;
      }
      case "offer":
        this.#mark(s, "offer");
        this.#onOffer(s, msg.sdp);
        break;
      case "candidate":
        if (!msg.candidate) break;
        if (s.pc && !s.offers) this.#addCandidate(s, msg.candidate);
        else s.remote.push(msg.candidate); // before the offer, or the restart offer, is applied
        break;
      case "ended": {
        const [level, text] = END_TEXT[msg.reason] ?? ["error", msg.message || `the session ended (${msg.reason})`];
        // A game that ended the session itself may give its result (e.g. {"score": 1200}).
        const result = msg.result && typeof msg.result === "object" && !Array.isArray(msg.result) ? msg.result : null;
        this.#finish(s, msg.reason ?? "error", level, text, result);
        break;
      }
      case "draining": {
        // The host is being taken out of service: keep playing, show a countdown.
        const deadline = Date.parse(msg.deadline);
        if (Number.isNaN(deadline)) break;
        this.info.drainDeadline = msg.deadline;
        clearInterval(s.drainTimer);
        const tick = () => {
          if (this.s !== s) { clearInterval(s.drainTimer); return; }
          if (this.info.state === "reconnecting") return; // that banner first
          const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
          const mmss = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
          this.#banner("info", `this game host is being taken out of service: your session ends in ${mmss}`);
        };
        tick();
        s.drainTimer = setInterval(tick, 1000);
        break;
      }
      case "error": {
        const text = msg.message || msg.code || "unknown error";
        if (msg.code === "shutting_down" && s.token) {
          // This gateway is going (a restart): the session lives on the host, and the socket's
          // close takes it back through another gateway (#onSocketClose).
          s.lastError = text;
        } else if (FATAL_CODES.has(msg.code) || this.info.state === "finding" || this.info.state === "queued") {
          this.#finish(s, msg.code, "error", text); // the server closes the socket next
        } else {
          s.lastError = text; // the session goes on
          if (this.info.state !== "reconnecting") this.#banner("error", text);
        }
        break;
      }
    }
  }

  // The socket ws closed. The one that carries a placed session drops (the session is taken
  // back, PROTOCOL.md "Resume"); any other ends the session. A closing error or `ended` has
  // ended it already.
  #onSocketClose(s, ws) {
    if (this.s !== s || s.ws !== ws) return;
    if (s.token) {
      s.rc.socketLost(performance.now());
      this.#startReconnect(s, "the connection to the server dropped");
      return;
    }
    let text = s.opened ? "lost connection to the server" : `cannot reach the server (${this.options.url})`;
    if (s.lastError) text += ` (last error: ${s.lastError})`;
    this.#finish(s, "client", "error", text);
  }

  // ---- resume (resume.js decides, this does) ----

  // A playing, visible page whose peer connection says connected but presents no frame for
  // STALL_MS has a dead path ICE has not noticed (resume.js, "stalled"): reconnect.
  #checkStall(s) {
    if (this.s !== s || this.info.state !== "playing" || !s.token || !s.lastFrameAt) return;
    const now = performance.now();
    if (document.hidden) {
      s.lastFrameAt = now; // a hidden page presents no frames: its clock starts when it shows again
      return;
    }
    if (now - s.lastFrameAt < STALL_MS) return;
    s.rc.stall(now);
    this.#startReconnect(s, "the video stopped");
  }

  // Enters (or stays in) state "reconnecting" and acts on the drop at once, then every TICK_MS.
  #startReconnect(s, why) {
    if (this.info.state !== "reconnecting") {
      this.#releaseAll(); // nothing stays held down while the player is away
      this.info.timeline.dropped = Math.round(performance.now() - s.t0);
      this.#setState("reconnecting", "reconnecting…");
      this.#banner("info", `${why} — reconnecting…`);
      clearInterval(s.rcTimer);
      s.rcTimer = setInterval(() => this.#reconnectTick(s), TICK_MS);
      s.timers.push(s.rcTimer);
    }
    this.#reconnectTick(s);
  }

  #reconnectTick(s) {
    if (this.s !== s || this.info.state !== "reconnecting") return;
    const now = performance.now();
    switch (s.rc.next(now, { hidden: document.hidden })) {
      case Act.Open:
        this.#openResumeSocket(s, now);
        break;
      case Act.Abandon:
        this.#closeTrying(s);
        s.rc.attemptFailed(now);
        break;
      case Act.ICERestart:
        if (s.ws?.readyState !== WebSocket.OPEN) break; // its close is on the way
        this.#sendJSON(s, { type: "ice_restart" });
        s.rc.iceRestartSent(now);
        this.info.iceRestarts++;
        break;
      case Act.Recovered:
        this.#recovered(s, now);
        break;
      case Act.GiveUp: {
        let text = `the connection could not be restored within ${GIVE_UP_MS / 1000} s; press Play for a new session`;
        if (s.lastError) text += ` (last error: ${s.lastError})`;
        this.#fail(s, text); // leave, where a socket carries the session: the slot is freed now
        break;
      }
    }
  }

  // Opens a new websocket that takes session s back: `resume` on its welcome, and on `resumed`
  // it carries the session. resume_invalid, session_not_found and `ended` end the session.
  #openResumeSocket(s, now) {
    s.rc.attemptStarted(now);
    this.info.resumeAttempts++;
    let ws;
    try {
      ws = new WebSocket(this.options.url);
    } catch (err) {
      s.lastError = err.message;
      s.rc.attemptFailed(now);
      return;
    }
    s.trying = ws;
    let sent = false;
    ws.onmessage = (e) => {
      if (this.s !== s || s.trying !== ws) return;
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      switch (msg?.type) {
        case "welcome":
          if (sent) break;
          sent = true; // no probes, no join: the session has its host
          ws.send(JSON.stringify(resumeMessage(s.resumeSession, s.token)));
          break;
        case "resumed":
          this.#adoptSocket(s, ws, msg);
          break;
        case "ended": {
          const [level, text] = END_TEXT[msg.reason] ?? ["error", msg.message || `the session ended (${msg.reason})`];
          this.#finish(s, msg.reason ?? "error", level, text);
          break;
        }
        case "error": {
          const text = msg.message || msg.code || "unknown error";
          if (RESUME_FAILED[msg.code]) this.#finish(s, msg.code, "error", RESUME_FAILED[msg.code]);
          else s.lastError = text; // e.g. shutting_down: the socket closes, the next attempt follows
          break;
        }
      }
    };
    ws.onclose = () => {
      if (this.s !== s || s.trying !== ws) return;
      s.trying = null;
      s.rc.attemptFailed(performance.now());
    };
  }

  // `resumed`: ws carries session s from now on, with a new token.
  #adoptSocket(s, ws, msg) {
    const old = s.ws;
    if (old && old !== ws) {
      old.onmessage = old.onclose = null;
      if (old.readyState === WebSocket.CONNECTING || old.readyState === WebSocket.OPEN) old.close(1000);
    }
    s.trying = null;
    s.ws = ws;
    s.opened = true;
    s.token = readToken(msg); // the old one no longer works; none: the next drop ends the session
    ws.onmessage = (e) => this.#onMessage(s, ws, e.data);
    ws.onclose = () => this.#onSocketClose(s, ws);
    s.rc.resumed(performance.now());
    this.info.socketResumes++;
    this.#reconnectTick(s);
  }

  // Closes the websocket being tried, without further callbacks.
  #closeTrying(s) {
    const ws = s.trying;
    if (!ws) return;
    s.trying = null;
    ws.onmessage = ws.onclose = null;
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close(1000);
  }

  // Both connections are back: play on (or, when the video never connected, go on setting up).
  #recovered(s, now) {
    clearInterval(s.rcTimer);
    s.rcTimer = 0;
    const took = s.rc.recovered(now);
    const info = this.info;
    info.resumes++;
    info.lastDropMs = Math.round(took);
    info.timeline.resumed = Math.round(now - s.t0);
    this.#banner("", "");
    if (s.connected) {
      this.#setState("playing", info.framesDecoded ? "playing" : "connected, waiting for video…");
    } else if (s.pc) {
      this.#setState("connecting", "connecting…");
    } else {
      this.#setState("placed", `placed on host ${info.host}`);
    }
  }

  // The test hook: closes the session's websocket without leave, as a lost network would.
  #dropSocketForTest() {
    const ws = this.s?.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.close(4000, "dropped for a test");
    return true;
  }

  // Sends join with the signed RTT claims (none: the matchmaker decides without them).
  #join(s, claims) {
    if (this.s !== s) return;
    const join = { type: "join" };
    if (this.options.game) join.game = this.options.game;
    if (this.options.token) join.token = this.options.token;
    if (claims.length) join.rtts = claims;
    this.#sendJSON(s, join);
    this.#mark(s, "probed");
    this.#setState("finding", "finding a host…");
  }

  // Probes every region in parallel and resolves, after all have finished or at
  // PROBE_DEADLINE_MS, with [{region, token}] of those that returned a result. It never
  // rejects; if the session ends first it never resolves, and #finish closes the sockets.
  #measure(s, regions, session) {
    return new Promise((resolve) => {
      const tokens = new Map(); // region id → token
      let open = regions.length;
      let timer = 0;
      const done = () => {
        if (!timer) return; // already done
        clearTimeout(timer);
        timer = 0;
        closeProbes(s);
        resolve(regions.filter((r) => tokens.has(r.id)).map((r) => ({ region: r.id, token: tokens.get(r.id) })));
      };
      timer = setTimeout(done, PROBE_DEADLINE_MS);
      s.timers.push(timer);
      for (const r of regions) {
        let settled = false;
        const settle = (why) => {
          if (settled) return;
          settled = true;
          if (why) console.warn(`edgeplay: RTT probe of ${r.id} failed: ${why}`);
          if (--open === 0) queueMicrotask(done);
        };
        let ws;
        try {
          const u = wsURL(r.probe, this.options.url); // relative to /v1/play's URL (by default the page's origin)
          u.searchParams.set("session", session);
          ws = new WebSocket(u.href);
        } catch (err) {
          settle(`bad probe URL ${r.probe}: ${err.message}`);
          continue;
        }
        s.probes.push(ws);
        ws.onmessage = (e) => {
          let m;
          try {
            m = JSON.parse(e.data);
          } catch {
            return;
          }
          if (m?.type === "ping") {
            ws.send(JSON.stringify({ type: "pong", seq: m.seq })); // at once: this is the measurement
          } else if (m?.type === "result" && typeof m.token === "string" && m.token) {
            tokens.set(r.id, m.token);
            if (typeof m.rtt_ms === "number") this.info.rtts[r.id] = m.rtt_ms;
            settle("");
            this.#renderStats();
          } else if (m?.type === "error") {
            settle(m.message || m.code || "error");
          }
        };
        ws.onerror = () => settle("the websocket failed");
        ws.onclose = () => settle(tokens.has(r.id) ? "" : "closed without a result");
      }
    });
  }

  // The host's offer: the first creates the peer connection; a later one is an ICE restart
  // (PROTOCOL.md, "Resume"), applied to the same RTCPeerConnection, whose video element, data
  // channels and tracks carry on.
  #onOffer(s, sdp) {
    if (s.pc) {
      s.offers++; // remote candidates wait until it is applied: they carry its credentials
      s.sentEnd = false; // the browser gathers again, and ends again
      s.negotiation = s.negotiation.then(() => this.#applyOffer(s, sdp, false));
      return;
    }
    this.#setState("connecting", "connecting…");
    const pc = new RTCPeerConnection({ iceServers: [...this.options.iceServers, ...(s.iceServers ?? [])] });
    s.pc = pc;
    s.sampler = new StatsSampler(pc);
    pc.ontrack = (e) => {
      if (this.s === s && e.track.kind === "audio") this.#onAudioTrack(e.track);
      if (this.s !== s || e.track.kind !== "video") return;
      tuneReceiver(e.receiver);
      this.video.srcObject = e.streams[0] ?? new MediaStream([e.track]);
      this.video.play().catch(() => {}); // muted autoplay is allowed; the no-video check reports the rest
      this.#watchFrames(s);
    };
    pc.ondatachannel = (e) => {
      const ch = e.channel;
      ch.binaryType = "arraybuffer";
      if (ch.label === "input") s.input = ch;
      else if (ch.label === "motion") s.motion = ch;
      else if (ch.label === "control") ch.onmessage = (m) => this.#onControl(s, m.data);
    };
    pc.onicecandidate = (e) => {
      if (this.s !== s) return;
      if (e.candidate?.candidate) {
        this.#sendJSON(s, { type: "candidate", candidate: e.candidate.toJSON() });
      } else if (!s.sentEnd) {
        s.sentEnd = true;
        this.#sendJSON(s, { type: "candidate", candidate: { candidate: "" } });
      }
    };
    const onConn = () => this.#onConnectionState(s);
    pc.onconnectionstatechange = onConn;
    pc.oniceconnectionstatechange = onConn;
    // Called now, so that setRemoteDescription is queued before any candidate that follows.
    s.negotiation = this.#applyOffer(s, sdp, true);
  }

  // Applies an offer to s.pc and sends the answer; never rejects. A first offer that fails
  // ends the session; a restart offer that fails is logged (the next ice_restart brings another).
  async #applyOffer(s, sdp, first) {
    const pc = s.pc;
    try {
      try {
        await pc.setRemoteDescription({ type: "offer", sdp });
      } finally {
        if (!first) s.offers--;
      }
      if (this.s !== s) return;
      if (!s.offers) for (const c of s.remote.splice(0)) this.#addCandidate(s, c);
      await pc.setLocalDescription(await pc.createAnswer());
      if (this.s !== s) return;
      this.#sendJSON(s, { type: "answer", sdp: pc.localDescription.sdp });
      if (first) this.#mark(s, "answer");
      else this.info.restartOffers++;
    } catch (err) {
      if (this.s !== s) return;
      if (first) this.#fail(s, `could not set up the video connection: ${err.message}`);
      else console.warn("edgeplay: the host's restart offer could not be applied:", err.message);
    }
  }

  // A message from the host on the control channel: JSON text, "media" and "rumble".
  #onControl(s, data) {
    if (this.s !== s || typeof data !== "string" || data.length > 4096) return;
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (msg?.type === "rumble") {
      this.#rumble(msg);
      return;
    }
    if (msg?.type !== "media") return;
    this.info.media = msg;
    this.#renderStats();
  }

  // Rumbles the pad the player last used (whose state last left rest), or before any was used
  // every pad that can: gamepads with a "dual-rumble" actuator, and for the touch controls the
  // device itself where it vibrates (no magnitudes there).
  #rumble(msg) {
    const r = parseRumble(msg);
    const s = this.s;
    if (!r || !s) return;
    this.info.rumbles++;
    this.info.lastRumble = r;
    const last = s.lastPad; // undefined before any pad was used
    for (const gp of this.#gamepads()) {
      if (!canRumble(gp) || (last !== undefined && gp.index !== last)) continue;
      try {
        Promise.resolve(gp.vibrationActuator.playEffect("dual-rumble", {
          startDelay: 0, duration: r.ms, strongMagnitude: r.strong, weakMagnitude: r.weak,
        })).catch(() => {});
      } catch {
        // the pad went away
      }
    }
    if (this.touch.visible && (last === undefined || last === TOUCH_PAD) && typeof navigator.vibrate === "function") {
      try {
        navigator.vibrate(r.ms);
      } catch {
        // not allowed without a recent touch
      }
    }
  }

  // ---- sound ----

  // In the Play click: the audio element starts playing an (empty) stream now, while the user
  // gesture counts, and the host's track joins that stream when it arrives.
  #startAudio() {
    if (typeof MediaStream !== "function") return;
    this.audioStream = new MediaStream();
    this.audio.srcObject = this.audioStream;
    this.#playAudio();
  }

  #onAudioTrack(track) {
    if (!this.audioStream) this.#startAudio();
    if (!this.audioStream) return;
    for (const t of this.audioStream.getAudioTracks()) this.audioStream.removeTrack(t);
    this.audioStream.addTrack(track);
    this.audioTrack = track;
    track.addEventListener("ended", () => this.#renderAudio());
    // Some browsers do not notice a track added to a playing stream: set it again.
    this.audio.srcObject = this.audioStream;
    this.#playAudio();
    this.#renderAudio();
  }

  #playAudio() {
    const a = this.audio;
    if (!a.srcObject) return;
    let p;
    try {
      p = a.play();
    } catch {
      return;
    }
    Promise.resolve(p).then(() => {
      this.info.audio.blocked = false;
      this.#renderAudio();
    }, (err) => {
      // NotAllowedError: autoplay rules want a gesture; the next click or key retries.
      if (err?.name === "NotAllowedError") this.info.audio.blocked = true;
      this.#renderAudio();
    });
  }

  #stopAudio() {
    this.audio.srcObject = null;
    this.audioStream = null;
    this.audioTrack = null;
    this.info.audio.blocked = false;
    this.#renderAudio();
  }

  #renderAudio() {
    const a = this.audio;
    const { muted, volume } = this.sound;
    a.muted = muted;
    a.volume = volume;
    const st = this.info.audio;
    st.muted = muted;
    st.volume = volume;
    st.track = this.audioTrack?.readyState === "live";
    st.playing = st.track && !a.paused && !!a.srcObject;
    this.touch.setSound(muted);
    this.dispatchEvent(new CustomEvent("audiochange", { detail: { ...st } }));
  }

  #addCandidate(s, c) {
    s.pc.addIceCandidate(c).catch((err) => console.warn("edgeplay: remote candidate rejected:", err.message));
  }

  #onConnectionState(s) {
    if (this.s !== s) return;
    const pc = s.pc;
    const st = pc.connectionState ?? pc.iceConnectionState;
    if (pc.iceConnectionState === "connected" || pc.iceConnectionState === "completed") this.#mark(s, "iceConnected");
    if (st === "connected") this.#mark(s, "pcConnected");
    const failed = st === "failed" || pc.iceConnectionState === "failed";
    s.rc.pcState(failed ? "failed" : st, performance.now());
    if (st === "connected" && !s.connected) {
      s.connected = true;
      this.#startPads(s);
      s.timers.push(setInterval(() => this.#sampleStats(s), 1000));
      s.timers.push(setInterval(() => this.#checkStall(s), 500));
      s.timers.push(setTimeout(() => {
        if (this.s !== s || this.info.framesDecoded > 0 || this.info.state === "reconnecting") return;
        this.#banner("error", NO_VIDEO); // the session stays up: a late first frame clears it
        this.#setState("playing", NO_VIDEO);
      }, FRAME_TIMEOUT_MS));
    }
    if (this.info.state === "reconnecting") {
      this.#reconnectTick(s); // resume.js says when it is back
    } else if (st === "connected") {
      const waiting = this.info.status === NO_VIDEO ? NO_VIDEO : "connected, waiting for video…";
      this.#setState("playing", this.info.framesDecoded ? "playing" : waiting);
    } else if (s.connected && s.token && (failed || st === "disconnected")) {
      s.rc.begin(performance.now());
      this.#startReconnect(s, "the video connection dropped");
    } else if (failed) {
      // Before it ever connected (or without a resume token): give up.
      this.#fail(s, "connection failed — check UDP: the browser could not reach the host's UDP port");
    } else if (st === "disconnected" && this.info.state === "playing") {
      // No resume token (a gateway without resume): only ICE's own recovery can help.
      this.#setState("playing", "connection interrupted, reconnecting…");
    }
  }

  // Tells the server and ends the session with an error.
  #fail(s, text) {
    this.#sendJSON(s, { type: "leave" });
    this.#finish(s, "client", "error", text);
  }

  #finish(s, reason, level, text, result = null) {
    if (this.s !== s) return;
    this.s = null;
    for (const t of s.timers) clearTimeout(t); // also clears intervals: they share one id list
    clearInterval(s.drainTimer);
    cancelAnimationFrame(s.raf);
    cancelAnimationFrame(s.pollReq);
    cancelAnimationFrame(s.padReq);
    this.#stopAudio();
    this.#exitAutoFullscreen();
    if (s.frameReq && this.video.cancelVideoFrameCallback) this.video.cancelVideoFrameCallback(s.frameReq);
    if (document.pointerLockElement === this.video) document.exitPointerLock();
    closeProbes(s);
    this.#closeTrying(s);
    if (s.ws) {
      s.ws.onmessage = s.ws.onclose = null;
      s.ws.close(1000);
    }
    if (s.pc) {
      s.pc.ontrack = s.pc.ondatachannel = s.pc.onicecandidate = null;
      s.pc.onconnectionstatechange = s.pc.oniceconnectionstatechange = null;
      s.pc.close();
    }
    this.video.srcObject = null;
    this.pending.clear();
    this.#showPads(this.#readPads()); // the touch controls go with the session
    this.info.endReason = reason;
    this.#banner(level, level ? text : "");
    this.#setState("ended", text);
    this.dispatchEvent(new CustomEvent("ended", { detail: { reason, text, result } }));
  }

  // ---- video frames, latency marker, stats ----

  #watchFrames(s) {
    const v = this.video;
    if (s.watching) return;
    s.watching = true;
    if (v.requestVideoFrameCallback) {
      const cb = (now, meta) => {
        if (this.s !== s) return;
        this.#onFrame(now, meta.width, meta.height);
        s.frameReq = v.requestVideoFrameCallback(cb);
      };
      s.frameReq = v.requestVideoFrameCallback(cb);
      return;
    }
    // No requestVideoFrameCallback: poll once per display frame and count new pictures.
    let last = -1;
    const poll = (now) => {
      if (this.s !== s) return;
      if (v.readyState >= 2 && v.currentTime !== last) {
        last = v.currentTime;
        this.#onFrame(now, v.videoWidth, v.videoHeight);
      }
      s.pollReq = requestAnimationFrame(poll);
    };
    s.pollReq = requestAnimationFrame(poll);
  }

  #onFrame(now, width, height) {
    const info = this.info;
    if (this.s) this.s.lastFrameAt = performance.now();
    info.framesDecoded++;
    info.videoWidth = width;
    info.videoHeight = height;
    if (info.framesDecoded === 1) {
      this.#mark(this.s, "firstFrame");
      this.#renderStats();
      if (info.error === NO_VIDEO) this.#banner("", "");
      if (info.state === "playing") this.#setState("playing", "playing");
      else this.#render();
    }
    const sx = (this.video.videoWidth || width) / STREAM_WIDTH;
    const sy = (this.video.videoHeight || height) / STREAM_HEIGHT;
    let m = -1;
    try {
      this.ctx.drawImage(this.video, 0, 0, MARKER_WIDTH * sx, MARKER_HEIGHT * sy, 0, 0, MARKER_WIDTH, MARKER_HEIGHT);
      m = readMarker(this.ctx.getImageData(0, 0, MARKER_WIDTH, MARKER_HEIGHT));
    } catch {
      // the frame is not drawable yet
    }
    info.lastMarker = m;
    for (const [seq, sent] of this.pending) {
      if (now - sent > PENDING_MAX_AGE_MS) {
        this.pending.delete(seq);
      } else if (m >= 0 && now >= sent && markerCovers(m, seq)) {
        // (A frame whose time precedes the send cannot show the input: it waits for a later one.)
        this.pending.delete(seq);
        info.samples.push(now - sent);
      }
    }
    if (info.samples.length > MAX_SAMPLES) info.samples.splice(0, info.samples.length - MAX_SAMPLES);
    const s = this.s;
    if (s && info.state === "reconnecting") {
      s.rc.frame(); // the video shows the connection is back
      this.#reconnectTick(s);
    }
  }

  async #sampleStats(s) {
    if (!s.sampler) return;
    let st;
    try {
      st = await s.sampler.sample();
    } catch {
      return; // the connection closed while sampling
    }
    if (this.s !== s) return;
    const samples = this.info.samples;
    st.c2pP50 = samples.length ? percentile(samples, 50) : null;
    st.c2pP95 = samples.length ? percentile(samples, 95) : null;
    st.c2pCount = samples.length;
    this.info.stats = st;
    this.#renderStats();
    this.dispatchEvent(new CustomEvent("stats", { detail: st }));
  }

  // ---- input ----

  // Sends one input message on the named channel if it is open; returns its seq, or 0.
  #send(s, channel, build) {
    const ch = s[channel];
    if (!ch || ch.readyState !== "open") return 0;
    if (channel === "motion" && ch.bufferedAmount > MOTION_MAX_BUFFERED) return 0;
    const seq = s.seq;
    try {
      ch.send(build(seq, wireTime()));
    } catch {
      return 0;
    }
    s.seq = ((seq + 1) >>> 0) || 1;
    this.info.lastSeq = seq;
    return seq;
  }

  // The session whose input channel is open, or null.
  #active() {
    const s = this.s;
    // Reconnecting, input waits: it would queue behind the drop and arrive in a burst.
    return s?.input?.readyState === "open" && this.info.state !== "reconnecting" ? s : null;
  }

  #listen() {
    const opts = { signal: this.abort.signal };
    const v = this.video;
    window.addEventListener("keydown", (e) => this.#onKey(e, true), opts);
    window.addEventListener("keyup", (e) => this.#onKey(e, false), opts);
    window.addEventListener("blur", () => this.#releaseAll(), opts);
    // Closing the tab sends leave (best effort): a socket that closes without it leaves the
    // session waiting for a resume until the host's grace is over.
    window.addEventListener("pagehide", () => this.stop(), opts);
    // The browser says the network is back: a websocket that waits to retry tries now.
    window.addEventListener("online", () => {
      const s = this.s;
      if (!s || this.info.state !== "reconnecting") return;
      s.rc.online(performance.now());
      this.#reconnectTick(s);
    }, opts);
    document.addEventListener("visibilitychange", () => document.hidden && this.#releaseAll(), opts);
    v.addEventListener("mousedown", (e) => this.#onButton(e, true), opts);
    window.addEventListener("mouseup", (e) => this.#onButton(e, false), opts);
    v.addEventListener("mousemove", (e) => this.#onMove(e), opts);
    v.addEventListener("wheel", (e) => this.#onWheel(e), { ...opts, passive: false });
    v.addEventListener("contextmenu", (e) => this.#active() && e.preventDefault(), opts);
    // A click or tap on the idle picture (its big play glyph) starts, as Play does: on a phone in
    // landscape the page's Play button may be below the fold.
    this.overlay.addEventListener("click", () => {
      if (this.info.state === "idle" || this.info.state === "ended") this.play();
    }, opts);
    // Gamepads: the browser tells of a pad once a button is pressed on it; while playing the
    // pads are polled as well (which also finds pads a test puts behind getGamepads).
    const padEvent = () => this.#showPads(this.#readPads());
    window.addEventListener("gamepadconnected", padEvent, opts);
    window.addEventListener("gamepaddisconnected", padEvent, opts);
    // Touch: "auto" follows the primary pointer, and the first touch on the player turns the
    // controls on (a laptop with a touch screen).
    // A mouse on a device whose primary pointer is fine turns them off again.
    if (this.options.touch === "auto") {
      const coarse = window.matchMedia?.("(pointer: coarse)");
      coarse?.addEventListener?.("change", (e) => e.matches && this.#setTouchMode(true), opts);
      this.root.addEventListener("pointerdown", (e) => {
        if (e.pointerType === "touch") this.#setTouchMode(true);
        else if (e.pointerType === "mouse" && !coarse?.matches) this.#setTouchMode(false);
      }, { ...opts, capture: true });
    }
    // iOS Safari pinch-zooms despite touch-action; not while touch play runs.
    document.addEventListener("gesturestart", (e) => this.root.classList.contains("ep-fill") && e.preventDefault(), opts);
    // Sound the browser refused to start plays at the next click or key (a user gesture).
    const unblock = () => this.info.audio.blocked && this.#playAudio();
    window.addEventListener("pointerdown", unblock, { ...opts, capture: true });
    window.addEventListener("keydown", unblock, { ...opts, capture: true });
    this.audio.addEventListener("playing", () => this.#renderAudio(), opts);
    this.audio.addEventListener("pause", () => this.#renderAudio(), opts);
    this.audio.addEventListener("emptied", () => this.#renderAudio(), opts);
    document.addEventListener("fullscreenchange", () => {
      const kb = navigator.keyboard;
      if (this.#isFullscreen()) kb?.lock?.().catch(() => {});
      else kb?.unlock?.();
    }, opts);
  }

  #onKey(e, down) {
    if (e.code === "F2") { // the stats overlay; never sent to the game
      if (down && !e.repeat) this.toggleStats();
      e.preventDefault();
      return;
    }
    const s = this.#active();
    const usage = hidUsage(e.code);
    if (!s || !usage || isEditable(e.target)) return;
    e.preventDefault();
    if (down && e.repeat) return;
    const type = down ? Type.KeyDown : Type.KeyUp;
    const seq = this.#send(s, "input", (q, t) => encodeKey(type, q, t, usage, modsOf(e)));
    if (!seq) return;
    if (down) {
      this.pending.set(seq, performance.now());
      s.keys.add(usage);
    } else {
      s.keys.delete(usage);
    }
  }

  #onButton(e, down) {
    const s = this.#active();
    if (!s || !(e.button >= 0 && e.button <= MAX_BUTTON)) return;
    if (down) {
      e.preventDefault();
      if (document.pointerLockElement !== this.video) this.#lockPointer();
      this.#updatePosition(s, e);
      this.#flushMotion(s); // the game should see where the click happened first
    } else if (!s.buttons.has(e.button)) {
      return; // a release of a press we did not send
    }
    const seq = this.#send(s, "input", (q, t) => encodeMouseButton(q, t, e.button, down));
    if (!seq) return;
    if (down) {
      this.pending.set(seq, performance.now());
      s.buttons.add(e.button);
    } else {
      s.buttons.delete(e.button);
    }
  }

  #lockPointer() {
    try {
      Promise.resolve(this.video.requestPointerLock()).catch(() => {});
    } catch {
      // pointer lock is unavailable (e.g. in an iframe without allow="pointer-lock")
    }
  }

  // Where the picture is drawn inside the video element: object-fit: contain letterboxes it.
  #contentRect() {
    const r = this.video.getBoundingClientRect();
    const vw = this.video.videoWidth || STREAM_WIDTH;
    const vh = this.video.videoHeight || STREAM_HEIGHT;
    const scale = Math.min(r.width / vw, r.height / vh) || 1;
    const w = vw * scale;
    const h = vh * scale;
    return { left: r.left + (r.width - w) / 2, top: r.top + (r.height - h) / 2, width: w, height: h };
  }

  #updatePosition(s, e) {
    const cr = this.#contentRect();
    if (document.pointerLockElement === this.video) {
      // The cursor is hidden and fixed; move a virtual one by the relative motion.
      s.pos.x = clamp01(s.pos.x + e.movementX / cr.width);
      s.pos.y = clamp01(s.pos.y + e.movementY / cr.height);
    } else {
      s.pos.x = clamp01((e.clientX - cr.left) / cr.width);
      s.pos.y = clamp01((e.clientY - cr.top) / cr.height);
    }
    s.motionDirty = true;
  }

  #onMove(e) {
    const s = this.#active();
    if (!s) return;
    s.motionDx += e.movementX || 0;
    s.motionDy += e.movementY || 0;
    this.#updatePosition(s, e);
    this.#scheduleFlush(s);
  }

  #onWheel(e) {
    const s = this.#active();
    if (!s) return;
    e.preventDefault();
    const [dx, dy] = wheelPixels(e);
    s.wheelDx += dx;
    s.wheelDy += dy;
    this.#scheduleFlush(s);
  }

  // Motion and wheel go out at most once per animation frame, summed.
  #scheduleFlush(s) {
    if (!s.raf) s.raf = requestAnimationFrame(() => this.#flushMotion(s));
  }

  #flushMotion(s) {
    cancelAnimationFrame(s.raf);
    s.raf = 0;
    if (s.motionDirty) {
      const dx = Math.trunc(s.motionDx);
      const dy = Math.trunc(s.motionDy);
      s.motionDx -= dx; // keep the sub-pixel rest for the next message
      s.motionDy -= dy;
      const x = Math.round(s.pos.x * 65535);
      const y = Math.round(s.pos.y * 65535);
      this.#send(s, "motion", (q, t) => encodeMouseMove(q, t, dx, dy, x, y));
      s.motionDirty = false;
    }
    if (s.wheelDx || s.wheelDy) {
      const dx = s.wheelDx;
      const dy = s.wheelDy;
      s.wheelDx = s.wheelDy = 0;
      this.#send(s, "motion", (q, t) => encodeWheel(q, t, dx, dy));
    }
  }

  // Releases held keys and buttons when the page loses focus, so that none stays stuck down.
  #releaseAll() {
    const s = this.#active();
    if (!s) return;
    for (const usage of s.keys) this.#send(s, "input", (q, t) => encodeKey(Type.KeyUp, q, t, usage, 0));
    for (const b of s.buttons) this.#send(s, "input", (q, t) => encodeMouseButton(q, t, b, false));
    s.keys.clear();
    s.buttons.clear();
    this.touch.reset();
    s.pads?.release(performance.now());
  }

  // ---- gamepads ----

  // From the connection on, the pads (and the touch controls) are polled once per display
  // frame; PadSender decides what goes out (PROTOCOL.md, "Gamepads").
  #startPads(s) {
    s.pads = new PadSender({
      connect: (pad, flags) => this.#send(s, "input", (q, t) => encodeGamepadConnect(Type.GamepadConnect, q, t, pad, flags)) > 0,
      disconnect: (pad, flags) => this.#send(s, "input", (q, t) => encodeGamepadConnect(Type.GamepadDisconnect, q, t, pad, flags)) > 0,
      state: (pad, state, pressed) => {
        const seq = this.#send(s, "motion", (q, t) => encodeGamepadState(q, t, pad, state));
        if (seq && pressed) this.pending.set(seq, performance.now()); // click-to-photon of a press
        if (seq && !isRest(state)) s.lastPad = pad; // the one to rumble
        return seq > 0;
      },
    });
    const poll = () => {
      if (this.s !== s) return;
      if (this.#active() === s) this.#pollPads(s);
      s.padReq = requestAnimationFrame(poll);
    };
    s.padReq = requestAnimationFrame(poll);
  }

  #pollPads(s) {
    const present = this.#readPads();
    if (this.touch.visible) {
      const flags = PadFlag.Touch | (typeof navigator.vibrate === "function" ? PadFlag.Rumble : 0);
      present.set(TOUCH_PAD, { id: "touch", flags, state: this.touch.state() });
    }
    s.pads.update(performance.now(), present);
    this.#showPads(present);
  }

  // navigator.getGamepads(), connected pads only ([] where the API is missing or refused).
  #gamepads() {
    let list;
    try {
      list = navigator.getGamepads?.() ?? [];
    } catch {
      return []; // e.g. refused by a permissions policy
    }
    return Array.from(list).filter((gp) => gp && gp.connected !== false);
  }

  // The physical pads now: Map index → {id, flags, state}. Indices from TOUCH_PAD up are not
  // sent (the touch controls own TOUCH_PAD; browsers number pads from 0).
  #readPads() {
    const present = new Map();
    for (const gp of this.#gamepads()) {
      if (!(gp.index >= 0 && gp.index < TOUCH_PAD)) continue;
      present.set(gp.index, { id: String(gp.id ?? ""), flags: canRumble(gp) ? PadFlag.Rumble : 0, state: readGamepad(gp) });
    }
    return present;
  }

  // Shows which pads are connected: info.gamepads, a "gamepad" event and, for real pads, a
  // short message on the player.
  #showPads(present) {
    let changed = false;
    for (const [index, p] of this.pads) {
      if (present.get(index)?.id === p.id) continue;
      this.pads.delete(index);
      changed = true;
      this.dispatchEvent(new CustomEvent("gamepad", { detail: { connected: false, index, id: p.id, touch: p.touch } }));
      if (!p.touch) this.#toast(`gamepad ${index + 1} disconnected`);
    }
    for (const [index, cur] of present) {
      if (this.pads.has(index)) continue;
      const p = { id: cur.id, touch: (cur.flags & PadFlag.Touch) !== 0, rumble: (cur.flags & PadFlag.Rumble) !== 0 };
      this.pads.set(index, p);
      changed = true;
      this.dispatchEvent(new CustomEvent("gamepad", { detail: { connected: true, index, id: p.id, touch: p.touch } }));
      if (!p.touch) this.#toast(`🎮 gamepad ${index + 1} connected: ${shortPadName(p.id)}`);
    }
    if (changed) {
      this.info.gamepads = [...this.pads].sort((a, b) => a[0] - b[0]).map(([index, p]) => ({ index, ...p }));
    }
  }
}

// A pad's Gamepad.id, short: Chrome's "Xbox 360 Controller (XInput STANDARD GAMEPAD)" loses
// its parenthesis; at most 40 characters.
function shortPadName(id) {
  const name = id.replace(/\s*\(.*\)\s*$/, "").trim() || id.trim() || "unnamed pad";
  return name.length > 40 ? name.slice(0, 39) + "…" : name;
}

// The regions of a welcome worth probing: well-formed, one per id, at most MAX_PROBES.
function probeTargets(regions) {
  if (!Array.isArray(regions)) return [];
  const seen = new Set();
  const out = [];
  for (const r of regions) {
    if (typeof r?.id !== "string" || !r.id || typeof r.probe !== "string" || !r.probe || seen.has(r.id)) continue;
    seen.add(r.id);
    out.push({ id: r.id, name: typeof r.name === "string" && r.name ? r.name : r.id, probe: r.probe });
    if (out.length === MAX_PROBES) break;
  }
  return out;
}

// Closes the session's probe websockets that are still open, without further callbacks.
function closeProbes(s) {
  for (const ws of s.probes.splice(0)) {
    ws.onmessage = ws.onerror = ws.onclose = null;
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close(1000);
  }
}

// info.timeline with every step null but click.
function newTimeline(click) {
  return {
    click, welcome: null, probed: null, placed: null, offer: null, answer: null,
    iceConnected: null, pcConnected: null, firstFrame: null, dropped: null, resumed: null,
  };
}

const num0 = (v) => (typeof v === "number" && Number.isFinite(v) && v > 0 ? Math.round(v) : 0);

// Asks for the smallest jitter buffer the browser allows (PROTOCOL.md, "WebRTC").
function tuneReceiver(receiver) {
  for (const prop of ["jitterBufferTarget", "playoutDelayHint"]) {
    if (prop in receiver) {
      try {
        receiver[prop] = 0;
      } catch {
        // read-only or out of range in this browser
      }
    }
  }
}
