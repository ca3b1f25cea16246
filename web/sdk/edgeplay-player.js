// <edgeplay-player>: the edgeplay player as a custom element, for a studio's own page
// (docs/STUDIO.md, "4. Embed the player"). It is the gateway's own player (../player.js) in a
// shadow root: no second copy, no build step.
//
//   <script type="module" src="https://GATEWAY/sdk/edgeplay-player.js"></script>
//   <edgeplay-player server="https://GATEWAY" token="…"></edgeplay-player>
//
// Attributes: server (the gateway's base URL; default: the gateway this script came from),
// token (a join token from the studio's backend: one per session, it joins once), game (the
// game id; default: the token's), muted (present: sound off), stats (present: the statistics
// overlay). Changes apply to the next session; server only while no session runs.
//
// Methods: play(), stop(), fullscreen() (toggles). Property info: the player's live state
// (player.js's window.edgeplay, documented there).
//
// Events (CustomEvent, bubbling out of the shadow root; detail in braces), in the order a
// session goes: queued {position, eta} (each queue update), placed {region, host},
// playing {} (the picture is live; again after a network drop is mended), stats {…} (once a
// second while playing: rttMs, fps, bitrateKbps, packetLossPct, …), error {code, message}
// (before ended, when the session failed: a code of docs/PROTOCOL.md's table, e.g.
// token_used, origin_not_allowed, or "client" for a network failure), ended {reason, text,
// result}. A page that plays again needs a new token first: set the attribute, then play().
//
// Styling: the element is a block, 16:9 unless sized; CSS custom properties
// --edgeplay-background, --edgeplay-text, --edgeplay-muted-text, --edgeplay-accent,
// --edgeplay-font; parts: player, video, overlay, message, stats.

import { EdgeplayPlayer } from "../player.js";

// The ended reasons of a session that ran its course (PROTOCOL.md, "End reasons"); any other
// reason is an error code (or "client") and fires error first.
const END_REASONS = new Set([
  "player_left", "idle", "connection_failed", "timeout", "host_lost", "drained", "kicked", "shutdown",
  "error", "game_ended", "game_start_failed", "game_crashed", "game_hung", "player_lost",
]);

// The gateway's websocket URL from its base URL, or from this module's own URL.
function playURL(server) {
  const base = server ? new URL(server, location.href) : new URL("..", import.meta.url);
  return new URL("v1/play", base.href.endsWith("/") ? base : new URL(base.href + "/")).href;
}

const STYLE = `
:host { display: block; position: relative; aspect-ratio: 16 / 9; background: var(--edgeplay-background, #000); }
:host([hidden]) { display: none; }
.ep-host { position: absolute; inset: 0; }
`;

export class EdgeplayPlayerElement extends HTMLElement {
  static observedAttributes = ["server", "token", "game", "muted", "stats"];

  #player = null;
  #state = "idle";
  #queue = "";

  connectedCallback() {
    if (this.#player) return;
    const shadow = this.shadowRoot ?? this.attachShadow({ mode: "open" });
    shadow.innerHTML = "";
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = new URL("../player.css", import.meta.url).href;
    const style = document.createElement("style");
    style.textContent = STYLE;
    const host = document.createElement("div");
    host.className = "ep-host";
    shadow.append(link, style, host);
    this.#create(host);
  }

  disconnectedCallback() {
    this.#player?.destroy();
    this.#player = null;
  }

  attributeChangedCallback(name, _old, value) {
    const p = this.#player;
    if (!p) return;
    switch (name) {
      case "token":
      case "game":
        p.options.token = this.getAttribute("token") || "";
        p.options.game = this.getAttribute("game") || (p.options.token ? "" : "demo");
        break;
      case "muted":
        p.setMuted(value !== null);
        break;
      case "stats":
        p.toggleStats(value !== null);
        break;
      case "server":
        if (!p.s) { // between sessions: a player for the new gateway
          const host = this.shadowRoot.querySelector(".ep-host");
          p.destroy();
          this.#create(host);
        }
        break;
    }
  }

  /** Starts a session (with the token attribute); does nothing while one runs. */
  play() { this.#player?.play(); }

  /** Ends the session. */
  stop() { this.#player?.stop(); }

  /** Toggles fullscreen. */
  fullscreen() { this.#player?.toggleFullscreen(); }

  /** The player's live state (player.js documents the fields). */
  get info() { return this.#player?.info ?? null; }

  #create(host) {
    const token = this.getAttribute("token") || "";
    const p = new EdgeplayPlayer(host, {
      url: playURL(this.getAttribute("server")),
      token,
      game: this.getAttribute("game") || "",
      expose: false,
    });
    this.#player = p;
    const parts = { player: p.root, video: p.video, overlay: p.overlay, message: p.messageEl, stats: p.statsEl };
    for (const [name, el] of Object.entries(parts)) el?.setAttribute("part", name);
    if (this.hasAttribute("muted")) p.setMuted(true);
    if (this.hasAttribute("stats")) p.toggleStats(true);
    p.addEventListener("statechange", (e) => this.#onState(e.detail.state));
    p.addEventListener("stats", (e) => this.#emit("stats", e.detail));
    p.addEventListener("ended", (e) => {
      const { reason, text, result } = e.detail;
      if (!END_REASONS.has(reason)) this.#emit("error", { code: reason, message: text });
      this.#emit("ended", { reason, text, result });
    });
  }

  #onState(state) {
    const info = this.#player.info;
    const prev = this.#state;
    this.#state = state;
    if (state === "queued" && info.queue) {
      const key = `${info.queue.position}/${info.queue.eta}`;
      if (key !== this.#queue) {
        this.#queue = key;
        this.#emit("queued", { position: info.queue.position, eta: info.queue.eta });
      }
    }
    if (state !== "queued") this.#queue = "";
    if (state === "placed" && prev !== "placed") this.#emit("placed", { region: info.region, host: info.host });
    if (state === "playing" && prev !== "playing") this.#emit("playing", {});
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }
}

// Two copies of this script on one page (two bundles, or a version bump) must not throw.
if (!customElements.get("edgeplay-player")) customElements.define("edgeplay-player", EdgeplayPlayerElement);
