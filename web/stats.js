// Connection statistics from RTCPeerConnection.getStats, and a percentile helper.

/**
 * Returns the p-th percentile (0–100) of values by the nearest-rank method, or NaN when there
 * are none. values need not be sorted and is not modified.
 */
export function percentile(values, p) {
  if (!values.length) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/**
 * Samples a PeerConnection's video statistics. Each call of sample() returns the latest values
 * and the rates since the previous call (null where the browser does not report a value yet).
 */
export class StatsSampler {
  constructor(pc) {
    this.pc = pc;
    this.prev = null; // the previous inbound-rtp video report
  }

  async sample() {
    const report = await this.pc.getStats();
    let inbound = null;
    let transport = null;
    const pairs = [];
    report.forEach((s) => {
      if (s.type === "inbound-rtp" && (s.kind ?? s.mediaType) === "video") inbound = s;
      else if (s.type === "transport") transport = s;
      else if (s.type === "candidate-pair") pairs.push(s);
    });
    const pair = (transport?.selectedCandidatePairId && report.get(transport.selectedCandidatePairId)) ||
      pairs.find((p) => p.nominated && p.state === "succeeded") || null;

    const out = {
      rttMs: num(pair?.currentRoundTripTime, 1000),
      fps: null,
      bitrateKbps: null,
      packetLossPct: null,
      decodeMs: null,
      jitterBufferMs: null,
      width: inbound?.frameWidth ?? null,
      height: inbound?.frameHeight ?? null,
      framesDecoded: inbound?.framesDecoded ?? null,
      framesDropped: inbound?.framesDropped ?? null,
      codec: null,
      decoder: inbound?.decoderImplementation ?? null,
    };
    if (inbound) {
      const codec = inbound.codecId && report.get(inbound.codecId);
      if (codec) out.codec = codec.mimeType?.replace(/^video\//, "") ?? null;
      const lost = inbound.packetsLost ?? 0;
      const got = inbound.packetsReceived ?? 0;
      if (lost + got > 0) out.packetLossPct = (100 * Math.max(0, lost)) / (Math.max(0, lost) + got);
      out.fps = inbound.framesPerSecond ?? null;
      const prev = this.prev;
      if (prev && inbound.timestamp > prev.timestamp) {
        const secs = (inbound.timestamp - prev.timestamp) / 1000;
        const frames = delta(inbound.framesDecoded, prev.framesDecoded);
        if (out.fps == null && frames != null) out.fps = frames / secs;
        const bytes = delta(inbound.bytesReceived, prev.bytesReceived);
        if (bytes != null) out.bitrateKbps = (bytes * 8) / secs / 1000;
        const decode = delta(inbound.totalDecodeTime, prev.totalDecodeTime);
        if (decode != null && frames > 0) out.decodeMs = (decode * 1000) / frames;
        const jb = delta(inbound.jitterBufferDelay, prev.jitterBufferDelay);
        const emitted = delta(inbound.jitterBufferEmittedCount, prev.jitterBufferEmittedCount);
        if (jb != null && emitted > 0) out.jitterBufferMs = (jb * 1000) / emitted;
      }
      this.prev = inbound;
    }
    return out;
  }
}

function num(v, scale = 1) {
  return typeof v === "number" ? v * scale : null;
}

function delta(a, b) {
  return typeof a === "number" && typeof b === "number" ? a - b : null;
}

/** Formats a stats object (plus click-to-photon fields c2pP50, c2pP95, c2pCount) as lines. */
export function formatStats(s) {
  const f = (v, digits = 0, unit = "") => (v == null || Number.isNaN(v) ? "–" : v.toFixed(digits) + unit);
  const res = s.width && s.height ? `${s.width}×${s.height}` : "–";
  return [
    ["media RTT", f(s.rttMs, 1, " ms")],
    ["fps", f(s.fps, 1)],
    ["bitrate", s.bitrateKbps == null ? "–" : s.bitrateKbps >= 1000 ? f(s.bitrateKbps / 1000, 2, " Mbit/s") : f(s.bitrateKbps, 0, " kbit/s")],
    ["packet loss", f(s.packetLossPct, 2, " %")],
    ["decode", f(s.decodeMs, 2, " ms/frame")],
    ["jitter buffer", f(s.jitterBufferMs, 1, " ms")],
    ["resolution", res + (s.codec ? ` ${s.codec}` : "")],
    ["frames", `${s.framesDecoded ?? "–"} decoded, ${s.framesDropped ?? "–"} dropped`],
    ["click→photon", s.c2pCount ? `p50 ${f(s.c2pP50, 0)} ms · p95 ${f(s.c2pP95, 0)} ms (n=${s.c2pCount})` : "– (n=0)"],
  ];
}

/** Formats a bit rate in kbit/s for people. */
function formatKbps(kbps) {
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(2)} Mbit/s` : `${Math.round(kbps)} kbit/s`;
}

/**
 * Rows for the stats overlay about what the host sends (its "media" message, or null): the
 * encoded size and codec, the bit rate congestion control gives the encoder against its
 * estimate of the link, and the repairs (retransmissions, keyframes).
 */
export function formatMedia(m) {
  if (!m) return [];
  const n = (v) => (typeof v === "number" && v >= 0 ? v : 0);
  return [
    ["sending", `${n(m.width)}×${n(m.height)} ${m.codec || "?"} at ${formatKbps(n(m.target_kbps))}`],
    ["link estimate", formatKbps(n(m.estimate_kbps))],
    ["repairs", `${n(m.rtx_packets)} resent of ${n(m.nacks)} NACKed · ${n(m.keyframes)} keyframes (${n(m.plis)} asked)`],
    ["adapted", `${n(m.switches)} size changes · ${n(m.frames_skipped)} frames skipped`],
    // The host's input → frame latency: any game, no marker (absent until measured).
    ["input→frame (host)", typeof m.input_ms === "number" && m.input_ms > 0 ? `${formatMs(m.input_ms)} ms` : "–"],
  ];
}

/** Formats milliseconds for people: one decimal below 100 ms. */
export function formatMs(ms) {
  return ms < 100 ? ms.toFixed(1) : ms.toFixed(0);
}

/** The status text for a queued message: {position, eta} (eta in s; 0 = not known). */
export function queueText(q) {
  let text = q.position > 0 ? `in queue: position ${q.position}` : "in queue";
  if (q.eta > 0) text += `, about ${q.eta < 120 ? `${q.eta} s` : `${Math.round(q.eta / 60)} min`}`;
  return text;
}

/**
 * Rows for the stats overlay about where the session runs: the data center and its RTT as
 * placed reports them, the probe results, the queue, and how long Play took to show the first
 * frame. info is the player's info (region, placedRttMs, rtts, queue, timeline); names maps
 * region ids to display names.
 */
export function formatPlacement(info, names = {}) {
  const rows = [];
  if (info.region) {
    const name = names[info.region];
    const same = !name || name.toLowerCase() === info.region.toLowerCase();
    rows.push(["data center", same ? info.region : `${info.region} (${name})`]);
  }
  if (info.placedRttMs != null) rows.push(["probe RTT", `${formatMs(info.placedRttMs)} ms`]);
  const probes = Object.entries(info.rtts ?? {});
  if (probes.length) rows.push(["probes", probes.map(([id, ms]) => `${id} ${formatMs(ms)}`).join(" · ") + " ms"]);
  if (info.queue) rows.push(["queue", queueText(info.queue).replace(/^in queue: /, "")]);
  const first = info.timeline?.firstFrame;
  if (first != null) rows.push(["first frame", `${formatMs(first)} ms`]);
  return rows;
}
