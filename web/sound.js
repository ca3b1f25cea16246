// The player's sound settings (mute and volume), remembered in localStorage.

export const SOUND_KEY = "edgeplay.sound";

/** Reads the saved settings: {muted, volume (0..1)}, defaults {false, 1}. */
export function loadSound(storage) {
  const out = { muted: false, volume: 1 };
  try {
    const v = JSON.parse(storage?.getItem(SOUND_KEY) ?? "null");
    if (typeof v?.muted === "boolean") out.muted = v.muted;
    if (typeof v?.volume === "number" && v.volume >= 0 && v.volume <= 1) out.volume = v.volume;
  } catch {
    // storage unavailable (privacy mode, a sandboxed frame) or not ours: the defaults
  }
  return out;
}

/** Saves {muted, volume}; storage failures are ignored (the setting lasts for the page). */
export function saveSound(storage, { muted, volume }) {
  try {
    storage?.setItem(SOUND_KEY, JSON.stringify({ muted: !!muted, volume: Math.max(0, Math.min(1, +volume || 0)) }));
  } catch {
    // quota, privacy mode
  }
}
