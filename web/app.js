// Page wiring: the Play, Stop and Fullscreen buttons, the status line and the banner.

import { EdgeplayPlayer } from "./player.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const game = params.get("game") || "demo";

const player = new EdgeplayPlayer($("player"), { game, token: params.get("token") || "" });

const play = $("play");
const stop = $("stop");
const status = $("status");
const banner = $("banner");
$("game").textContent = game;

play.addEventListener("click", () => player.play());
stop.addEventListener("click", () => player.stop());
$("fullscreen").addEventListener("click", () => player.toggleFullscreen());

player.addEventListener("statechange", (e) => {
  const { state, status: text } = e.detail;
  const running = state !== "idle" && state !== "ended";
  play.disabled = running;
  stop.disabled = !running;
  status.textContent = text;
  status.dataset.state = state;
});

player.addEventListener("banner", (e) => {
  const { level, text } = e.detail;
  banner.textContent = text;
  banner.dataset.level = level || "info";
  banner.hidden = !text;
});
