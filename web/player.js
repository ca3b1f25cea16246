// EdgeplayPlayer: an embeddable edgeplay game player (docs/PROTOCOL.md is the contract).
//
//   import { EdgeplayPlayer } from "./player.js";   // and include player.css
//   const player = new EdgeplayPlayer(element, { game: "demo" });
//   player.play(); player.stop(); player.toggleFullscreen(); player.toggleStats();
//
// Options: url (websocket URL; default /v1/play on this origin, ws: or wss: to match the page),
// game (default "demo"), token (sent in join when set), iceServers (RTCIceServer[], default none),
// expose (default true: publish `info` as window.edgeplay), overlayMessages (default true: the
// player itself shows why a session ended; false gives only a short title there, for a page that
// shows the banner events itself).
//
// Events (CustomEvent, detail in braces):
//   statechange {state, status}  every change of state or of the status line
//   banner      {level, text}    a message for the user; level "error" or "info"; text "" clears it
//   ended       {reason, text}   the session is over (reason as info.endReason below)
//   stats       {…}              the latest statistics, once per second while connected
//
// Before joining, the player measures its RTT to every data center the welcome lists, in
// parallel, on each one's probe websocket (PROTOCOL.md, "RTT probe"), for at most 1.5 s, and
// sends the signed results in join.rtts; data centers that did not answer in time are left out.
//
// window.edgeplay (player.info), kept up to date for scripts and browser tests:
//   state          "idle" | "opening" (websocket) | "measuring" (probing data centers) |
//                  "finding" (join sent) | "queued" (waiting for a free slot) | "placed" |
//                  "connecting" (offer received) | "playing" (WebRTC connected) | "ended"
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
//                  iceConnected, pcConnected (ICE and DTLS up), firstFrame (presented)
//   samples        click-to-photon samples in ms, oldest first, at most 1000 (same array kept)
//   media          what the host says it sends (the "media" message on the control data
//                  channel, about once a second): codec, width, height, target_kbps,
//                  estimate_kbps, frames_skipped, keyframes, plis, nacks, rtx_packets,
//                  switches; null before the first
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

import {
  Type, encodeKey, encodeMouseButton, encodeMouseMove, encodeWheel, hidUsage, modsOf,
  wheelPixels, wireTime, MAX_BUTTON,
} from "./input.js";
import { MARKER_HEIGHT, MARKER_WIDTH, markerCovers, readMarker } from "./marker.js";
import { StatsSampler, formatMedia, formatMs, formatPlacement, formatStats, percentile, queueText } from "./stats.js";

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
  idle: ["info", "the session ended because there was no input for a while"],
  connection_failed: ["error", `connection failed — ${UDP_HINT}`],
  timeout: ["error", `the video connection was not established in time — ${UDP_HINT}`],
  host_lost: ["error", "the game host stopped responding"],
  drained: ["info", "the game host was taken out of service; press Play for a new session"],
  kicked: ["info", "an operator ended the session"],
  shutdown: ["info", "the game host shut down; press Play for a new session"],
  error: ["error", "the game host hit an unexpected error"],
};

const NO_VIDEO = "connected, but no video arrived within 10 s — the host may not be sending video, or UDP packets are being dropped";

const PROGRESS = new Set(["opening", "measuring", "finding", "queued", "placed", "connecting"]);

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

export class EdgeplayPlayer extends EventTarget {
  constructor(container, options = {}) {
    super();
    this.container = container;
    this.options = {
      url: wsURL(options.url ?? defaultURL()).href,
      game: options.game || "demo",
      token: options.token || "",
      iceServers: options.iceServers ?? [],
      overlayMessages: options.overlayMessages ?? true,
    };
    this.info = {
      state: "idle", status: "ready", sessionId: null, host: null, region: null,
      rtts: {}, queue: null, placedRttMs: null, placedReason: null, drainDeadline: null,
      framesDecoded: 0, videoWidth: 0, videoHeight: 0, lastMarker: -1, lastSeq: 0,
      timeline: newTimeline(null), media: null, samples: [], stats: {}, error: null, endReason: null,
      sendKey: (code) => this.sendKey(code),
    };
    if (options.expose ?? true) window.edgeplay = this.info;

    this.s = null; // the current session, see play()
    this.pending = new Map(); // input seq → performance.now() at send, for click-to-photon
    this.statsVisible = false;
    this.regionNames = {};
    this.abort = new AbortController();
    this.#build();
    this.#listen();
    this.#render();
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
    };
    this.s = s;
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
    ws.onmessage = (e) => this.#onMessage(s, e.data);
    ws.onclose = () => {
      if (this.s !== s) return;
      let text = s.opened ? "lost connection to the server" : `cannot reach the server (${this.options.url})`;
      if (s.lastError) text += ` (last error: ${s.lastError})`;
      this.#finish(s, "client", "error", text);
    };
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
    if ((doc.fullscreenElement ?? doc.webkitFullscreenElement) === this.root) {
      (doc.exitFullscreen ?? doc.webkitExitFullscreen)?.call(doc);
      return;
    }
    const req = this.root.requestFullscreen ?? this.root.webkitRequestFullscreen;
    Promise.resolve(req?.call(this.root)).catch((err) => this.#banner("info", `fullscreen is not available: ${err.message}`));
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
    if (!usage || !s) return 0;
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
      '<div class="ep-stats" hidden></div>';
    this.root = root;
    this.video = root.querySelector("video");
    this.overlay = root.querySelector(".ep-overlay");
    this.messageEl = root.querySelector(".ep-message");
    this.detailEl = root.querySelector(".ep-detail");
    this.statsEl = root.querySelector(".ep-stats");
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

  #onMessage(s, data) {
    if (this.s !== s) return;
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
        if (s.pc) this.#addCandidate(s, msg.candidate);
        else s.remote.push(msg.candidate);
        break;
      case "ended": {
        const [level, text] = END_TEXT[msg.reason] ?? ["error", msg.message || `the session ended (${msg.reason})`];
        this.#finish(s, msg.reason ?? "error", level, text);
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
        if (FATAL_CODES.has(msg.code) || this.info.state === "finding" || this.info.state === "queued") {
          this.#finish(s, msg.code, "error", text); // the server closes the socket next
        } else {
          s.lastError = text; // the session goes on
          this.#banner("error", text);
        }
        break;
      }
    }
  }

  // Sends join with the signed RTT claims (none: the matchmaker decides without them).
  #join(s, claims) {
    if (this.s !== s) return;
    const join = { type: "join", game: this.options.game };
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

  async #onOffer(s, sdp) {
    if (s.pc) return; // one offer per session
    this.#setState("connecting", "connecting…");
    const pc = new RTCPeerConnection({ iceServers: this.options.iceServers });
    s.pc = pc;
    s.sampler = new StatsSampler(pc);
    pc.ontrack = (e) => {
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
    try {
      await pc.setRemoteDescription({ type: "offer", sdp });
      for (const c of s.remote.splice(0)) this.#addCandidate(s, c);
      await pc.setLocalDescription(await pc.createAnswer());
      if (this.s !== s) return;
      this.#sendJSON(s, { type: "answer", sdp: pc.localDescription.sdp });
      this.#mark(s, "answer");
    } catch (err) {
      if (this.s === s) this.#fail(s, `could not set up the video connection: ${err.message}`);
    }
  }

  // A message from the host on the control channel: JSON text, "media" only for now.
  #onControl(s, data) {
    if (this.s !== s || typeof data !== "string" || data.length > 4096) return;
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (msg?.type !== "media") return;
    this.info.media = msg;
    this.#renderStats();
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
    if (st === "failed" || pc.iceConnectionState === "failed") {
      this.#fail(s, "connection failed — check UDP: the browser could not reach the host's UDP port");
    } else if (st === "connected") {
      if (!s.connected) {
        s.connected = true;
        s.timers.push(setInterval(() => this.#sampleStats(s), 1000));
        s.timers.push(setTimeout(() => {
          if (this.s !== s || this.info.framesDecoded > 0) return;
          this.#banner("error", NO_VIDEO); // the session stays up: a late first frame clears it
          this.#setState("playing", NO_VIDEO);
        }, FRAME_TIMEOUT_MS));
      }
      const waiting = this.info.status === NO_VIDEO ? NO_VIDEO : "connected, waiting for video…";
      this.#setState("playing", this.info.framesDecoded ? "playing" : waiting);
    } else if (st === "disconnected" && this.info.state === "playing") {
      this.#setState("playing", "connection interrupted, reconnecting…");
    }
  }

  // Tells the server and ends the session with an error.
  #fail(s, text) {
    this.#sendJSON(s, { type: "leave" });
    this.#finish(s, "client", "error", text);
  }

  #finish(s, reason, level, text) {
    if (this.s !== s) return;
    this.s = null;
    for (const t of s.timers) clearTimeout(t); // also clears intervals: they share one id list
    clearInterval(s.drainTimer);
    cancelAnimationFrame(s.raf);
    cancelAnimationFrame(s.pollReq);
    if (s.frameReq && this.video.cancelVideoFrameCallback) this.video.cancelVideoFrameCallback(s.frameReq);
    if (document.pointerLockElement === this.video) document.exitPointerLock();
    closeProbes(s);
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
    this.info.endReason = reason;
    this.#banner(level, level ? text : "");
    this.#setState("ended", text);
    this.dispatchEvent(new CustomEvent("ended", { detail: { reason, text } }));
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
    return s?.input?.readyState === "open" ? s : null;
  }

  #listen() {
    const opts = { signal: this.abort.signal };
    const v = this.video;
    window.addEventListener("keydown", (e) => this.#onKey(e, true), opts);
    window.addEventListener("keyup", (e) => this.#onKey(e, false), opts);
    window.addEventListener("blur", () => this.#releaseAll(), opts);
    window.addEventListener("pagehide", () => this.stop(), opts);
    document.addEventListener("visibilitychange", () => document.hidden && this.#releaseAll(), opts);
    v.addEventListener("mousedown", (e) => this.#onButton(e, true), opts);
    window.addEventListener("mouseup", (e) => this.#onButton(e, false), opts);
    v.addEventListener("mousemove", (e) => this.#onMove(e), opts);
    v.addEventListener("wheel", (e) => this.#onWheel(e), { ...opts, passive: false });
    v.addEventListener("contextmenu", (e) => this.#active() && e.preventDefault(), opts);
    document.addEventListener("fullscreenchange", () => {
      const kb = navigator.keyboard;
      if (document.fullscreenElement === this.root) kb?.lock?.().catch(() => {});
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
  }
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
    iceConnected: null, pcConnected: null, firstFrame: null,
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
