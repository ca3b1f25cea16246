// Run with: node --test web/
// The page's resume decisions (resume.js) against docs/PROTOCOL.md, "Resume": the token, the
// websocket's attempts and their deadlines, when ice_restart goes out, when the session is
// back, and when the page gives up. Time is a number passed in (ms), so no test waits.

import { test } from "node:test";
import assert from "node:assert/strict";

import {
  ATTEMPT_MS, Act, FRAME_WAIT_MS, GIVE_UP_MS, ICE_REPEAT_MS, ICE_WAIT_MS, MAX_TOKEN_BYTES, RETRY_MS,
  FRAMES_BACK, Recovery, STALL_MS, readToken, resumeMessage,
} from "./resume.js";

test("the numbers are PROTOCOL.md's", () => {
  assert.equal(ICE_WAIT_MS, 4000); // "disconnected for 4 s"
  assert.equal(ICE_REPEAT_MS, 5000); // "again every 5 s while it is not connected"
  assert.equal(MAX_TOKEN_BYTES, 512); // resume.token ≤ 512 bytes
  assert.ok(GIVE_UP_MS > 20_000, "the page tries longer than the host's default grace");
});

test("readToken keeps a usable resume_token only", () => {
  const cases = [
    { name: "placed's token", msg: { type: "placed", resume_token: "MXwzZjJh.c2ln" }, want: "MXwzZjJh.c2ln" },
    { name: "resumed's token", msg: { type: "resumed", resume_token: "MXwzZjJh.Mg" }, want: "MXwzZjJh.Mg" },
    { name: "none (a gateway without resume)", msg: { type: "placed" }, want: null },
    { name: "empty", msg: { resume_token: "" }, want: null },
    { name: "not a string", msg: { resume_token: 42 }, want: null },
    { name: "an object", msg: { resume_token: { t: "x" } }, want: null },
    { name: "512 bytes", msg: { resume_token: "a".repeat(512) }, want: "a".repeat(512) },
    { name: "513 bytes", msg: { resume_token: "a".repeat(513) }, want: null },
    { name: "over 512 bytes in UTF-8, 300 characters", msg: { resume_token: "é".repeat(300) }, want: null },
    { name: "no message", msg: null, want: null },
  ];
  for (const c of cases) assert.equal(readToken(c.msg), c.want, c.name);
});

test("resumeMessage is PROTOCOL.md's resume", () => {
  assert.deepEqual(resumeMessage("3f2a000000000001", "MXwz.c2ln"), { type: "resume", session: "3f2a000000000001", token: "MXwz.c2ln" });
});

// playing: a Recovery whose peer connection connected at t = 0.
function playing() {
  const r = new Recovery();
  r.pcState("connecting", 0);
  r.pcState("connected", 0);
  return r;
}

test("no drop, nothing to do", () => {
  const r = playing();
  assert.equal(r.next(1000), Act.None);
  assert.equal(r.dropped, false);
  r.frame(); // frames while playing change nothing
  assert.equal(r.next(2000), Act.None);
});

test("the websocket drops: a new one at once, each attempt ≤ ATTEMPT_MS, RETRY_MS apart", () => {
  const r = playing();
  r.socketLost(1000);
  assert.equal(r.dropped, true);
  assert.equal(r.next(1000), Act.Open, "the first attempt goes at once");
  r.attemptStarted(1000);
  assert.equal(r.next(1000 + ATTEMPT_MS - 1), Act.Wait);
  assert.equal(r.next(1000 + ATTEMPT_MS), Act.Abandon, "an attempt that hangs is abandoned");
  r.attemptFailed(1000 + ATTEMPT_MS);
  assert.equal(r.next(1000 + ATTEMPT_MS + RETRY_MS - 1), Act.Wait);
  assert.equal(r.next(1000 + ATTEMPT_MS + RETRY_MS), Act.Open);
  // An attempt refused at once (the socket closes): the next RETRY_MS later.
  const t = 1000 + ATTEMPT_MS + RETRY_MS;
  r.attemptStarted(t);
  r.attemptFailed(t + 5);
  assert.equal(r.next(t + 5 + RETRY_MS - 1), Act.Wait);
  assert.equal(r.next(t + 5 + RETRY_MS), Act.Open);
  // A close after an abandon (or twice) counts once.
  r.attemptStarted(t + 2000);
  r.attemptFailed(t + 2010);
  r.attemptFailed(t + 2900);
  assert.equal(r.next(t + 2010 + RETRY_MS), Act.Open);
});

test("the network comes back (online): the waiting attempt goes now", () => {
  const r = playing();
  r.socketLost(0);
  r.attemptStarted(0);
  r.attemptFailed(10);
  assert.equal(r.next(500), Act.Wait);
  r.online(500);
  assert.equal(r.next(500), Act.Open);
  r.attemptStarted(500);
  r.online(600); // while trying: nothing changes
  assert.equal(r.next(600), Act.Wait);
});

test("resumed with video flowing: back at the first frame", () => {
  const r = playing();
  r.socketLost(0);
  r.frame(); // presented while the socket is down: the video may still be the old path's
  r.attemptStarted(0);
  r.frame();
  r.resumed(80);
  assert.equal(r.next(80), Act.Wait, "no frame since resumed yet");
  for (let i = 1; i < FRAMES_BACK; i++) r.frame();
  assert.equal(r.next(90), Act.Wait, "a few frames may be the old path's, still in the pipeline");
  r.frame();
  assert.equal(r.next(100), Act.Recovered);
  assert.equal(r.recovered(100), 100);
  assert.equal(r.dropped, false);
  assert.equal(r.next(200), Act.None);
});

test("resumed, the peer connection says connected but no frame: back after FRAME_WAIT_MS, or at once when hidden", () => {
  const r = playing();
  r.socketLost(0);
  r.attemptStarted(0);
  r.resumed(100);
  assert.equal(r.next(100 + FRAME_WAIT_MS - 1), Act.Wait);
  assert.equal(r.next(100 + FRAME_WAIT_MS - 1, { hidden: true }), Act.Recovered);
  assert.equal(r.next(100 + FRAME_WAIT_MS), Act.Recovered);
});

test("the peer connection drops: ice_restart after ICE_WAIT_MS disconnected, then every ICE_REPEAT_MS", () => {
  const r = playing();
  r.pcState("disconnected", 1000);
  r.begin(1000);
  assert.equal(r.next(1000), Act.Wait);
  assert.equal(r.next(1000 + ICE_WAIT_MS - 1), Act.Wait);
  assert.equal(r.next(1000 + ICE_WAIT_MS), Act.ICERestart);
  r.iceRestartSent(5000);
  r.pcState("connecting", 5100); // the restart offer is applied
  assert.equal(r.next(5000 + ICE_REPEAT_MS - 1), Act.Wait);
  assert.equal(r.next(5000 + ICE_REPEAT_MS), Act.ICERestart);
  r.iceRestartSent(10000);
  r.pcState("connected", 10400);
  assert.equal(r.next(10400), Act.Recovered, "the peer connection came back: no need to wait for a frame");
  assert.equal(r.recovered(10400), 9400);
});

test("ICE recovers by itself before ICE_WAIT_MS: no ice_restart", () => {
  const r = playing();
  r.pcState("disconnected", 0);
  r.begin(0);
  assert.equal(r.next(3000), Act.Wait);
  r.pcState("connected", 3500);
  assert.equal(r.next(3500), Act.Recovered);
});

test("a failed peer connection asks for an ICE restart at once", () => {
  const r = playing();
  r.pcState("failed", 2000);
  r.begin(2000);
  assert.equal(r.next(2000), Act.ICERestart);
  r.iceRestartSent(2000);
  assert.equal(r.next(2000 + ICE_REPEAT_MS - 1), Act.Wait);
  assert.equal(r.next(2000 + ICE_REPEAT_MS), Act.ICERestart);
});

test("no ice_restart while the websocket is down or being tried", () => {
  const r = playing();
  r.socketLost(0);
  r.pcState("failed", 100);
  assert.equal(r.next(100), Act.Open);
  r.attemptStarted(100);
  assert.equal(r.next(4000), Act.Wait);
});

test("resumed stands for an ice_restart: the host offers itself when its side is not connected", () => {
  const r = playing();
  r.pcState("disconnected", 0);
  r.begin(0);
  r.iceRestartSent(ICE_WAIT_MS);
  r.socketLost(6000);
  r.attemptStarted(6000);
  r.resumed(6100);
  assert.equal(r.next(6100 + ICE_REPEAT_MS - 1), Act.Wait);
  assert.equal(r.next(6100 + ICE_REPEAT_MS), Act.ICERestart);
});

test("a peer connection that never connected: back as soon as the websocket is", () => {
  const r = new Recovery();
  r.pcState("connecting", 0);
  r.socketLost(100);
  assert.equal(r.next(100), Act.Open);
  r.attemptStarted(100);
  r.resumed(200);
  assert.equal(r.next(200), Act.Recovered);
  // And a failure before it connected is not a drop (player.js ends the session).
  const q = new Recovery();
  q.pcState("failed", 0);
  assert.equal(q.badSince, null);
  assert.equal(q.next(0), Act.None);
});

test("the page gives up GIVE_UP_MS after the drop began, whatever it is doing", () => {
  const cases = [
    { name: "socket down", setup: (r) => r.socketLost(0) },
    { name: "socket being tried", setup: (r) => { r.socketLost(0); r.attemptStarted(GIVE_UP_MS - 100); } },
    {
      name: "peer connection disconnected",
      setup: (r) => { r.pcState("disconnected", 0); r.begin(0); },
    },
    {
      name: "a later socket drop does not restart the clock",
      setup: (r) => { r.pcState("disconnected", 0); r.begin(0); r.socketLost(20_000); },
    },
  ];
  for (const c of cases) {
    const r = playing();
    c.setup(r);
    assert.notEqual(r.next(GIVE_UP_MS - 1), Act.GiveUp, c.name);
    assert.equal(r.next(GIVE_UP_MS), Act.GiveUp, c.name);
  }
});

test("a second drop after a recovery has its own clock", () => {
  const r = playing();
  r.socketLost(0);
  r.attemptStarted(0);
  r.resumed(100);
  r.frame();
  r.recovered(120);
  r.pcState("disconnected", 50_000);
  r.begin(50_000);
  assert.equal(r.next(50_000 + GIVE_UP_MS - 1), Act.ICERestart);
  assert.equal(r.next(50_000 + GIVE_UP_MS), Act.GiveUp);
});

// The lab's blackout (internal/e2e TestLabResume): the page drops its websocket and all UDP
// is lost for 15 s; Chromium calls the peer connection disconnected after about 2.5 s. The
// ice_restart times follow, and so does the longest wait after the network returns for the
// next one, should ICE not recover by itself.
test("a 15 s blackout: when ice_restart goes out", () => {
  const r = playing();
  r.socketLost(0);
  const sent = [];
  let pc = "connected";
  for (let t = 0; t <= 20_000; t += 250) {
    if (t === 2500) { pc = "disconnected"; r.pcState(pc, t); }
    const act = r.next(t);
    if (act === Act.Open) r.attemptStarted(t);
    if (r.link === "trying" && t >= 100) r.resumed(t); // the gateway is reachable: resumed at once
    if (act === Act.ICERestart) { sent.push(t); r.iceRestartSent(t); }
    if (t === 17_000) { pc = "connected"; r.pcState(pc, t); } // the restart after the blackout worked
    if (act === Act.Recovered) break;
  }
  assert.deepEqual(sent, [6500, 11_500, 16_500]);
  assert.equal(r.dropped, true, "back only when the peer connection is");
  assert.equal(r.next(17_000), Act.Recovered);
});

test("a stall (connected, no frames): ice_restart at once, again every ICE_REPEAT_MS, back once frames flow again", () => {
  assert.equal(STALL_MS, 3000);
  const r = playing();
  r.stall(4000);
  assert.equal(r.next(4000), Act.ICERestart);
  r.iceRestartSent(4000);
  assert.equal(r.next(4000 + ICE_REPEAT_MS - 1), Act.Wait);
  assert.equal(r.next(4000 + FRAME_WAIT_MS), Act.ICERestart, "no frame: the wait for one does not call it back");
  r.iceRestartSent(4000 + FRAME_WAIT_MS);
  r.pcState("connected", 15000); // still "connected", as it was all along
  assert.equal(r.next(15000), Act.Wait);
  for (let i = 0; i < FRAMES_BACK; i++) r.frame();
  assert.equal(r.next(15100), Act.Recovered);
  assert.equal(r.recovered(15100), 11100);
  assert.equal(r.stalled, false);
});
