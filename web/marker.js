// Latency marker (docs/PROTOCOL.md, "Latency marker"; Go: marker.Read).
//
// The demo game draws the low 16 bits of the last applied input seq into the top-left 256×64
// pixels of each 1280×720 frame: 2 rows × 8 columns of 32×32 cells, MSB first (bit 15 is row 0
// column 0, bit 0 is row 1 column 7), white for 1 and black for 0.

export const MARKER_WIDTH = 256;
export const MARKER_HEIGHT = 64;
const CELL = 32;
const INSET = 8; // the central 16×16 pixels of a cell
const HIGH = 160; // mean luma above this is a 1
const LOW = 96; // mean luma below this is a 0

/**
 * Reads the marker from RGBA pixels ({data, width, height}, e.g. an ImageData) whose top-left
 * 256×64 pixels are the marker region at full scale. Returns the 16-bit value, or -1 when the
 * picture carries no marker (a cell is neither clearly white nor clearly black).
 */
export function readMarker(img) {
  const { data, width, height } = img;
  if (width < MARKER_WIDTH || height < MARKER_HEIGHT || data.length < width * height * 4) return -1;
  let value = 0;
  for (let row = 0; row < 2; row++) {
    for (let col = 0; col < 8; col++) {
      const luma = cellLuma(data, width, col * CELL + INSET, row * CELL + INSET);
      let bit;
      if (luma > HIGH) bit = 1;
      else if (luma < LOW) bit = 0;
      else return -1;
      value = (value << 1) | bit;
    }
  }
  return value;
}

// Mean BT.601 luma of the 16×16 block at (x0, y0).
function cellLuma(data, width, x0, y0) {
  const n = CELL - 2 * INSET;
  let sum = 0;
  for (let y = y0; y < y0 + n; y++) {
    let i = (y * width + x0) * 4;
    for (let x = 0; x < n; x++, i += 4) {
      sum += 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
    }
  }
  return sum / (n * n);
}

/**
 * Reports whether input seq s (any u32; its low 16 bits count) is at or before marker value m
 * in wrapping 16-bit order: (m − s) mod 65536 < 32768.
 */
export function markerCovers(m, s) {
  return ((m - s) & 0xffff) < 0x8000;
}
