// Page wiring: the Play, Stop and Fullscreen buttons, the status line and the banner.

import { EdgeplayPlayer } from "./player.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const token = params.get("token") || ""; // a join token from a studio's backend (docs/STUDIO.md)
const game = params.get("game") || (token ? "" : "demo"); // with a token and no game: the token's

// The banner below carries the messages, so the player only titles them.
const player = new EdgeplayPlayer($("player"), { game, token, overlayMessages: false });

const play = $("play");
const stop = $("stop");
const status = $("status");
const banner = $("banner");
$("game").textContent = game || "the token's game";
$("demo-hint").hidden = game !== "demo"; // the controls of the built-in demo; a studio's game has its own

play.addEventListener("click", () => player.play());
stop.addEventListener("click", () => player.stop());
$("fullscreen").addEventListener("click", () => player.toggleFullscreen());

// Sound: the player keeps mute and volume (and remembers them); these controls follow it.
const mute = $("mute");
const volume = $("volume");
mute.addEventListener("click", () => player.setMuted(!player.muted));
volume.addEventListener("input", () => player.setVolume(volume.valueAsNumber / 100));
// Once dragged, the slider gives the keyboard back to the game (arrow keys would move it).
volume.addEventListener("pointerup", () => volume.blur());
const showSound = () => {
  const off = player.muted || player.volume === 0;
  mute.setAttribute("aria-pressed", String(off));
  mute.setAttribute("aria-label", off ? "unmute" : "mute");
  mute.title = off ? "unmute" : "mute";
  mute.classList.toggle("off", off);
  if (document.activeElement !== volume) volume.value = String(Math.round(player.volume * 100));
};
player.addEventListener("audiochange", showSound);
showSound();

player.addEventListener("statechange", (e) => {
  const { state, status: text } = e.detail;
  const running = state !== "idle" && state !== "ended";
  play.disabled = running;
  stop.disabled = !running;
  // An end's reason is in the banner and on the player; the status line just says it is over.
  status.textContent = state === "ended" ? "session ended" : text;
  status.dataset.state = state;
});

player.addEventListener("banner", (e) => {
  const { level, text } = e.detail;
  banner.textContent = text;
  banner.dataset.level = level || "info";
  banner.hidden = !text;
});
