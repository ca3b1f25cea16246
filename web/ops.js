// The operators' page: a client of the gateway's admin API (docs/API.md). Plain ES module, no
// build step. The admin token lives in sessionStorage (this tab only) and goes out as a bearer
// token on every request; it is never put in a URL.

const TOKEN_KEY = "edgeplay.adminToken";
const POLL_MS = 2000;
const MAX_EVENTS = 100;
const REFUSED = "the admin token was refused";
const DISABLED = "the admin API is off on this gateway: start it with an admin token (EDGEPLAY_ADMIN_TOKEN)";

// State for tests and for the curious: the latest answers of the API.
const ops = { hosts: [], sessions: [], regions: [], studios: [], events: [], error: null, loggedIn: false, streaming: false };
window.edgeplayOps = ops;

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem(TOKEN_KEY) || "";
let generation = 0; // bumped at login and logout: loops of an older generation stop
let pollTimer = 0;
let streamAbort = null;

// An error from the API, with its code ("" when the answer was not the API's JSON).
class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const init = { method, headers: { Authorization: `Bearer ${token}` }, cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (err) {
    throw new APIError(0, "network", `cannot reach the gateway: ${err.message}`);
  }
  if (resp.status === 204) return null;
  if (resp.ok) return resp.json();
  throw await errorOf(resp);
}

async function errorOf(resp) {
  let code = "", message = "";
  try {
    const e = await resp.json();
    code = String(e.code ?? "");
    message = String(e.message ?? "");
  } catch { /* not JSON */ }
  if (resp.status === 401) return new APIError(401, code || "unauthorized", REFUSED);
  if (resp.status === 403 && code === "admin_disabled") return new APIError(403, code, DISABLED);
  const text = message ? `${message} (HTTP ${resp.status}${code ? ", " + code : ""})` : `HTTP ${resp.status}`;
  return new APIError(resp.status, code, text);
}

// showError puts a message in the message line (null clears it). A refused token logs out.
function showError(err) {
  if (err instanceof APIError && (err.status === 401 || err.code === "admin_disabled")) {
    logout(err.message);
    return;
  }
  setMessage(err ? err.message : null);
}

function setMessage(text, kind = "error") {
  ops.error = kind === "error" ? text : ops.error;
  const m = $("message");
  m.textContent = text ?? "";
  m.dataset.kind = kind;
  m.hidden = !text;
}

// ---- login ----

function showLogin(message) {
  $("login-form").hidden = false;
  $("dashboard").hidden = true;
  $("logout").hidden = true;
  $("live").hidden = true;
  $("token").value = "";
  if (message) setMessage(message);
  $("token").focus();
}

async function login(t) {
  token = t;
  const gen = ++generation;
  $("login").disabled = true;
  try {
    const hosts = await api("GET", "/v1/admin/hosts"); // checks the token
    if (gen !== generation) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    ops.loggedIn = true;
    setMessage(null);
    $("login-form").hidden = true;
    $("dashboard").hidden = false;
    $("logout").hidden = false;
    renderHosts(hosts);
    poll(gen);
    follow(gen);
    loadStudios(gen);
  } catch (err) {
    if (gen !== generation) return;
    if (err.status === 401 || err.code === "admin_disabled") {
      logout(err.message);
    } else {
      token = "";
      showLogin(err.message);
    }
  } finally {
    $("login").disabled = false;
  }
}

function logout(message) {
  generation++;
  clearTimeout(actionTimer);
  actionError = false;
  token = "";
  sessionStorage.removeItem(TOKEN_KEY);
  ops.loggedIn = false;
  clearTimeout(pollTimer);
  streamAbort?.abort();
  streamAbort = null;
  ops.streaming = false;
  hideKey();
  showLogin(message);
  if (!message) setMessage(null);
}

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const t = $("token").value.trim();
  if (!t) {
    setMessage("enter the admin token (edgeplay up prints it)");
    return;
  }
  login(t);
});
$("logout").addEventListener("click", () => logout());

// ---- polling ----

let polling = false; // a poll is in flight
let pollAgain = false; // poll once more as soon as it ends (a command changed something)

// poll refreshes the three tables, then again every POLL_MS while logged in. Only one poll
// runs at a time: a call during one makes it run again at once instead.
async function poll(gen) {
  if (polling) {
    pollAgain = true;
    return;
  }
  polling = true;
  clearTimeout(pollTimer);
  try {
    const [hosts, regions, sessions] = await Promise.allSettled([
      api("GET", "/v1/admin/hosts"),
      api("GET", "/v1/admin/regions"),
      api("GET", "/v1/admin/sessions"),
    ]);
    if (gen === generation) {
      const failed = [hosts, regions, sessions].find((r) => r.status === "rejected");
      if (hosts.status === "fulfilled") renderHosts(hosts.value);
      if (regions.status === "fulfilled") renderRegions(regions.value);
      if (sessions.status === "fulfilled") renderSessions(sessions.value);
      if (failed) showError(failed.reason);
      else if (ops.error && !actionError) setMessage(null);
    }
  } finally {
    polling = false;
  }
  if (pollAgain && ops.loggedIn) {
    pollAgain = false;
    poll(generation);
    return;
  }
  pollAgain = false;
  if (gen === generation) pollTimer = setTimeout(() => poll(gen), POLL_MS);
}

let actionError = false; // the message line shows the answer to a click: polling keeps it
let actionTimer = 0;
const ACTION_MESSAGE_MS = 10000;

// actionMessage shows the answer to a command for a while.
function actionMessage(text, kind) {
  clearTimeout(actionTimer);
  actionError = kind === "error";
  setMessage(text, kind);
  if (kind === "info") ops.error = null;
  actionTimer = setTimeout(() => {
    if ($("message").textContent === text) setMessage(null);
    actionError = false;
  }, ACTION_MESSAGE_MS);
}

// ---- rendering ----

function cell(text, cls) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  td.textContent = text;
  return td;
}

function setCells(tr, values) {
  values.forEach((v, i) => {
    const td = tr.children[i];
    const [text, cls] = Array.isArray(v) ? v : [v, td.className];
    if (td.textContent !== text) td.textContent = text;
    if (cls !== undefined && td.className !== cls) td.className = cls;
  });
}

// syncRows makes tbody hold exactly nodes, in order, moving nodes only when the order changed
// (moving a row would drop the focus of an input the operator is typing in).
function syncRows(tbody, nodes) {
  const same = tbody.children.length === nodes.length && nodes.every((n, i) => tbody.children[i] === n);
  if (!same) tbody.replaceChildren(...nodes);
}

const fixed = (n, d = 2) => (typeof n === "number" ? n.toFixed(d) : "-");

function age(ms) {
  if (typeof ms !== "number") return "-";
  if (ms < 60000) return `${(ms / 1000).toFixed(1)}s`;
  return duration(ms / 1000);
}

function duration(s) {
  if (!s) return "-";
  s = Math.floor(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (h) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m) return `${m}m${String(sec).padStart(2, "0")}s`;
  return `${sec}s`;
}

function gpu(gpus) {
  if (!Array.isArray(gpus) || gpus.length === 0) return "-";
  const model = gpus[0].model || "GPU";
  const mean = gpus.reduce((a, g) => a + (Number(g.utilization) || 0), 0) / gpus.length;
  return `${gpus.length > 1 ? gpus.length + "x" : ""}${model} ${Math.round(mean)}%`;
}

function stateClass(state, health) {
  if (health === "suspect") return "pill bad";
  if (state === "ready" || state === "playing") return "pill ok";
  if (state === "draining" || state === "drained" || state === "connecting" || state === "reserved") return "pill warn";
  return "pill";
}

const hostRows = new Map(); // host id → its row
const groupRows = new Map(); // region → its header row

function hostRow(id) {
  let tr = hostRows.get(id);
  if (tr) return tr;
  tr = document.createElement("tr");
  tr.dataset.host = id;
  for (let i = 0; i < 7; i++) tr.append(cell(""));
  tr.children[0].className = "mono";
  for (const i of [2, 3, 6]) tr.children[i].className = "num";
  const td = document.createElement("td");
  td.className = "actions";
  const deadline = Object.assign(document.createElement("input"), { value: "30m", title: "deadline: how long sessions may go on (0s–24h)", size: 4 });
  deadline.dataset.field = "deadline";
  const reason = Object.assign(document.createElement("input"), { placeholder: "reason (optional)", title: "shown to the players", size: 14 });
  reason.dataset.field = "reason";
  const drain = Object.assign(document.createElement("button"), { type: "button", className: "btn small warn", textContent: "Drain" });
  drain.dataset.action = "drain";
  const undrain = Object.assign(document.createElement("button"), { type: "button", className: "btn small", textContent: "Undrain" });
  undrain.dataset.action = "undrain";
  drain.addEventListener("click", () => act(drain, "POST", `/v1/admin/hosts/${encodeURIComponent(id)}/drain`,
    { deadline: deadline.value.trim() || "30m", ...(reason.value.trim() ? { reason: reason.value.trim() } : {}) },
    (h) => `${id} is ${h.state}`));
  undrain.addEventListener("click", () => act(undrain, "POST", `/v1/admin/hosts/${encodeURIComponent(id)}/undrain`, undefined,
    (h) => `${id} is ${h.state}`));
  td.append(deadline, reason, drain, undrain);
  tr.append(td);
  hostRows.set(id, tr);
  return tr;
}

function renderHosts(hosts) {
  if (!Array.isArray(hosts)) return;
  ops.hosts = hosts;
  const nodes = [];
  const seen = new Set();
  let region = null;
  for (const h of hosts) {
    if (h.region !== region) {
      region = h.region;
      let g = groupRows.get(region);
      if (!g) {
        g = document.createElement("tr");
        g.className = "group";
        g.dataset.region = region;
        const th = document.createElement("th");
        th.colSpan = 8;
        g.append(th);
        groupRows.set(region, g);
      }
      const n = hosts.filter((x) => x.region === region).length;
      g.firstChild.textContent = `${region || "(no data center)"} · ${n} host${n === 1 ? "" : "s"}`;
      nodes.push(g);
    }
    const tr = hostRow(h.id);
    seen.add(h.id);
    const state = h.health === "suspect" ? `${h.state}/suspect` : h.state;
    setCells(tr, [
      h.id,
      [state, stateClass(h.state, h.health)],
      `${(h.used ?? 0) + (h.reserved ?? 0)}/${h.slots ?? 0}`,
      fixed(h.cpu_load),
      (h.encoders ?? []).join(", ") || "-",
      gpu(h.gpus),
      [age(h.heartbeat_age_ms), h.heartbeat_age_ms > 5000 ? "num stale" : "num"],
    ]);
    const draining = h.state === "draining" || h.state === "drained";
    tr.querySelector('[data-action="undrain"]').hidden = !draining;
    tr.querySelector('[data-action="drain"]').textContent = draining ? "Move deadline" : "Drain";
    nodes.push(tr);
  }
  for (const id of hostRows.keys()) if (!seen.has(id)) hostRows.delete(id);
  syncRows($("hosts").tBodies[0], nodes);
  $("hosts-count").textContent = String(hosts.length);
}

function renderRegions(regions) {
  if (!Array.isArray(regions)) return;
  ops.regions = regions;
  const nodes = regions.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.region = r.id;
    tr.append(cell(r.id, "mono"), cell(String(r.hosts ?? 0), "num"), cell(String(r.ready ?? 0), "num"),
      cell(String(r.draining ?? 0), r.draining ? "num warn-text" : "num"),
      cell(`${r.used ?? 0}/${r.slots ?? 0}`, "num"),
      cell(String(r.ready_free ?? 0), r.ready_free ? "num" : "num bad-text"));
    return tr;
  });
  $("regions").tBodies[0].replaceChildren(...nodes);
}

const sessionRows = new Map();

function sessionRow(id) {
  let tr = sessionRows.get(id);
  if (tr) return tr;
  tr = document.createElement("tr");
  tr.dataset.session = id;
  for (let i = 0; i < 9; i++) tr.append(cell(""));
  tr.children[0].className = "mono";
  for (const i of [4, 6, 7, 8]) tr.children[i].className = "num";
  const td = document.createElement("td");
  td.className = "actions";
  const kick = Object.assign(document.createElement("button"), { type: "button", className: "btn small bad", textContent: "Kick" });
  kick.dataset.action = "kick";
  kick.addEventListener("click", () => act(kick, "POST", `/v1/admin/sessions/${encodeURIComponent(id)}/kick`, undefined,
    () => `session ${id} kicked`));
  td.append(kick);
  tr.append(td);
  sessionRows.set(id, tr);
  return tr;
}

function renderSessions(sessions) {
  if (!Array.isArray(sessions)) return;
  ops.sessions = sessions;
  const seen = new Set();
  const nodes = sessions.map((s) => {
    const tr = sessionRow(s.id);
    seen.add(s.id);
    setCells(tr, [
      s.id, s.game ?? "-", s.region ?? "-", s.host ?? "-",
      s.rtt_ms ? `${s.rtt_ms.toFixed(1)}ms` : "-",
      [s.state ?? "-", stateClass(s.state)],
      duration(s.duration_s),
      s.fps ? String(Math.round(s.fps)) : "-",
      s.bitrate_kbps ? (s.bitrate_kbps >= 1000 ? `${(s.bitrate_kbps / 1000).toFixed(1)} Mb/s` : `${Math.round(s.bitrate_kbps)} kb/s`) : "-",
    ]);
    return tr;
  });
  for (const id of sessionRows.keys()) if (!seen.has(id)) sessionRows.delete(id);
  syncRows($("sessions").tBodies[0], nodes);
  $("sessions-count").textContent = String(sessions.length);
  $("sessions-empty").hidden = sessions.length > 0;
}

// act runs a command, shows its answer (describe's text) or error, and refreshes at once: the
// polled tables, or what refresh loads.
async function act(button, method, path, body, describe, refresh = poll) {
  const gen = generation;
  button.disabled = true;
  try {
    const answer = await api(method, path, body);
    if (gen !== generation) return;
    actionMessage(describe(answer), "info");
  } catch (err) {
    if (gen !== generation) return;
    commandError(err);
  } finally {
    button.disabled = false;
  }
  if (gen === generation) refresh(gen);
}

// commandError shows the error of a click's request; a refused token logs out.
function commandError(err) {
  if (err.status === 401 || err.code === "admin_disabled") showError(err);
  else actionMessage(err.message, "error");
}

// ---- studios ----
// The studio list changes only through commands: it is loaded at login, after each studio
// command and on Refresh, not polled.

let studiosSeq = 0; // only the latest load renders

async function loadStudios(gen = generation) {
  const seq = ++studiosSeq;
  try {
    const { studios } = await api("GET", "/v1/admin/studios");
    if (gen === generation && seq === studiosSeq) renderStudios(studios);
  } catch (err) {
    if (gen === generation) commandError(err);
  }
}

function button(text, cls, action, onClick) {
  const b = Object.assign(document.createElement("button"), { type: "button", className: `btn small ${cls}`, textContent: text });
  b.dataset.action = action;
  b.addEventListener("click", () => onClick(b));
  return b;
}

function renderStudios(studios) {
  if (!Array.isArray(studios)) return;
  ops.studios = studios;
  $("studios").tBodies[0].replaceChildren(...studios.map(studioRow));
  $("studios-count").textContent = String(studios.length);
  $("studios-empty").hidden = studios.length > 0;
}

function studioRow(s) {
  const path = `/v1/admin/studios/${encodeURIComponent(s.id)}`;
  const who = `${s.name} (${s.id})`;
  const limit = (n) => (n ? String(n) : "no limit");
  const keys = s.keys ?? [];
  const tr = document.createElement("tr");
  tr.dataset.studio = s.id;
  tr.append(cell(s.id, "mono"), cell(s.name), cell(s.games?.length ? s.games.join(", ") : "any"),
    cell(limit(s.max_sessions), "num"), cell(limit(s.max_queued), "num"), cell(s.origins?.join(", ") || "-"),
    cell(String(keys.length), "num"));
  const list = cell("", "keys");
  for (const k of keys) {
    const line = document.createElement("div");
    line.dataset.key = k.id;
    const name = Object.assign(document.createElement("span"), { className: "mono", textContent: `${k.id} …${k.last4}` });
    line.append(name, button("Revoke", "bad", "revoke", (b) => {
      if (!confirm(`Revoke key ${k.id} …${k.last4} of ${who}? It mints no more tokens, and its unused tokens stop working.`)) return;
      act(b, "DELETE", `${path}/keys/${encodeURIComponent(k.id)}`, undefined, () => `key ${k.id} of ${s.id} revoked`, loadStudios);
    }));
    list.append(line);
  }
  const actions = document.createElement("div"); // not a flex td: the row may be taller
  actions.className = "actions";
  actions.append(
    button("Add key", "", "add-key", (b) => act(b, "POST", `${path}/keys`, undefined, (r) => {
      showKey(who, r.api_key);
      return `key ${r.key.id} added to ${s.id}`;
    }, loadStudios)),
    button("Delete", "bad", "delete", (b) => {
      if (!confirm(`Delete studio ${who}? Its keys and unused join tokens stop working.`)) return;
      act(b, "DELETE", path, undefined, () => `studio ${s.id} deleted`, loadStudios);
    }));
  const last = cell("");
  last.append(actions);
  tr.append(list, last);
  return tr;
}

// showKey shows a new API key: the API answers it this once.
function showKey(who, key) {
  $("new-key-for").textContent = who;
  $("new-key-value").textContent = key;
  $("new-key").hidden = false;
}

function hideKey() {
  $("new-key").hidden = true;
  $("new-key-value").textContent = "";
}

$("new-key-dismiss").addEventListener("click", hideKey);
$("studios-refresh").addEventListener("click", () => loadStudios());

$("studio-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const list = (id) => $(id).value.split(",").map((v) => v.trim()).filter(Boolean);
  const spec = { name: $("studio-name").value.trim(), games: list("studio-games"), origins: list("studio-origins") };
  for (const [field, id] of [["max_sessions", "studio-max-sessions"], ["max_queued", "studio-max-queued"]]) {
    const n = $(id).valueAsNumber;
    if (!isNaN(n)) spec[field] = n;
  }
  const webhook = $("studio-webhook").value.trim();
  if (webhook) spec.webhook_url = webhook;
  act($("studio-create"), "POST", "/v1/admin/studios", spec, (r) => {
    showKey(`${r.studio.name} (${r.studio.id})`, r.api_key);
    $("studio-form").reset();
    return `studio ${r.studio.id} created`;
  }, loadStudios);
});

// ---- event feed ----

async function follow(gen) {
  let backoff = 500;
  while (gen === generation) {
    const ctl = new AbortController();
    streamAbort = ctl;
    let gotData = false;
    try {
      // limit=50 gives the recent past; then it streams until the gateway ends it.
      const resp = await fetch("/v1/admin/events?follow=1&limit=50", {
        headers: { Authorization: `Bearer ${token}` }, signal: ctl.signal, cache: "no-store",
      });
      if (!resp.ok) throw await errorOf(resp);
      ops.streaming = true;
      setStreamState("live");
      const reader = resp.body.getReader();
      const decoder = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        gotData = true;
        buf += decoder.decode(value, { stream: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line) onEventLine(line);
        }
      }
    } catch (err) {
      if (gen !== generation || ctl.signal.aborted) return;
      if (err instanceof APIError && (err.status === 401 || err.code === "admin_disabled")) {
        showError(err);
        return;
      }
      console.warn("edgeplay ops: event stream:", err);
    }
    if (gen !== generation) return;
    ops.streaming = false;
    if (gotData) backoff = 500;
    setStreamState(`reconnecting in ${(backoff / 1000).toFixed(1)}s`);
    await new Promise((r) => setTimeout(r, backoff));
    backoff = Math.min(backoff * 2, 30000);
  }
}

function setStreamState(text) {
  $("events-state").textContent = text;
  $("live").hidden = text !== "live";
}

function onEventLine(line) {
  let ev;
  try {
    ev = JSON.parse(line);
  } catch {
    return;
  }
  if (ev.code && !ev.kind) { // the stream broke; it ends next and we reconnect
    console.warn("edgeplay ops: event stream:", ev.message);
    return;
  }
  ops.events.unshift(ev);
  if (ops.events.length > MAX_EVENTS) ops.events.length = MAX_EVENTS;
  const li = document.createElement("li");
  li.dataset.kind = ev.kind ?? "";
  const t = ev.time ? new Date(ev.time) : null;
  const time = t && !isNaN(t) ? t.toISOString().slice(11, 23) : "";
  const parts = [
    ["time", time], ["kind", ev.kind ?? "?"], ["where", [ev.region, ev.host].filter(Boolean).join(" / ")],
    ["what", [ev.session, ev.game].filter(Boolean).join(" ")],
    ["detail", [ev.reason && `reason=${ev.reason}`, ev.rtt_ms && `rtt=${Math.round(ev.rtt_ms)}ms`, ev.detail].filter(Boolean).join(" ")],
  ];
  for (const [cls, text] of parts) {
    const span = document.createElement("span");
    span.className = cls;
    span.textContent = text;
    li.append(span);
  }
  const list = $("events");
  list.prepend(li);
  while (list.children.length > MAX_EVENTS) list.lastChild.remove();
}

// ---- start ----

if (token) login(token);
else showLogin();
