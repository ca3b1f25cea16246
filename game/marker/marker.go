// Package marker draws and reads the latency marker that the demo game puts in the top-left
// corner of every frame: the low 16 bits of the last applied input sequence number, as 16
// black-or-white cells (docs/PROTOCOL.md, "Latency marker").
//
// The region is x 0–255, y 0–63: 2 rows × 8 columns of 32×32-pixel cells, aligned to 16×16
// macroblocks so that compression does not blur the cells into each other. Bit 15 is row 0
// column 0, bit 8 row 0 column 7, bit 7 row 1 column 0 and bit 0 row 1 column 7. A 1 bit is
// white, a 0 bit black. A reader averages the luma of the central 16×16 pixels of each cell:
// above 160 is 1, below 96 is 0, and anything in between means the frame carries no marker.
package marker

// Geometry of the marker region, in pixels.
const (
	Width  = 256 // region width, from x = 0
	Height = 64  // region height, from y = 0
	Cell   = 32  // side of one cell
)

const (
	cols = Width / Cell  // 8
	rows = Height / Cell // 2

	// The reader looks only at the central probe×probe pixels of a cell.
	probe    = 16
	probeOff = (Cell - probe) / 2

	// Thresholds on the sum of probe×probe luma samples: mean > 160 is a 1, mean < 96 a 0.
	oneAbove  = 160 * probe * probe
	zeroBelow = 96 * probe * probe
)

// bit returns the mask of the bit that cell (row, col) carries.
func bit(row, col int) uint16 {
	return 1 << (15 - (row*cols + col))
}

// Draw paints value into the marker region of an 8-bit RGBA image whose rows are stride bytes
// apart. A 1 bit is opaque white, a 0 bit opaque black. An image too small to hold the region
// (stride < 4*Width or fewer than Height rows) is left untouched.
func Draw(pix []byte, stride int, value uint16) {
	const rowBytes = 4 * Width
	if stride < rowBytes || stride > len(pix) || len(pix) < (Height-1)*stride+rowBytes {
		return
	}
	for r := range rows {
		top := r * Cell * stride
		line := pix[top : top+rowBytes]
		for c := range cols {
			var v byte
			if value&bit(r, c) != 0 {
				v = 0xff
			}
			cell := line[c*Cell*4 : (c+1)*Cell*4]
			for i := 0; i < len(cell); i += 4 {
				cell[i], cell[i+1], cell[i+2], cell[i+3] = v, v, v, 0xff
			}
		}
		for y := 1; y < Cell; y++ {
			off := top + y*stride
			copy(pix[off:off+rowBytes], line)
		}
	}
}

// Read decodes the marker from an 8-bit luma plane (the Y plane of decoded I420) whose rows are
// stride bytes apart. ok is false when the plane is too small to hold the region or when any
// cell is neither clearly white nor clearly black, which means the frame carries no marker.
func Read(luma []byte, stride int) (value uint16, ok bool) {
	if stride < Width || stride > len(luma) || len(luma) < (Height-1)*stride+Width {
		return 0, false
	}
	for r := range rows {
		for c := range cols {
			sum := 0
			for y := r*Cell + probeOff; y < r*Cell+probeOff+probe; y++ {
				off := y*stride + c*Cell + probeOff
				for _, l := range luma[off : off+probe] {
					sum += int(l)
				}
			}
			switch {
			case sum > oneAbove:
				value |= bit(r, c)
			case sum < zeroBelow:
			default:
				return 0, false
			}
		}
	}
	return value, true
}

// ReadRGBA is Read for an 8-bit RGBA image whose rows are stride bytes apart, taking the luma
// of each pixel as (77R + 150G + 29B) >> 8.
func ReadRGBA(pix []byte, stride int) (value uint16, ok bool) {
	const rowBytes = 4 * Width
	if stride < rowBytes || stride > len(pix) || len(pix) < (Height-1)*stride+rowBytes {
		return 0, false
	}
	for r := range rows {
		for c := range cols {
			sum := 0
			for y := r*Cell + probeOff; y < r*Cell+probeOff+probe; y++ {
				off := y*stride + (c*Cell+probeOff)*4
				p := pix[off : off+probe*4]
				for i := 0; i < len(p); i += 4 {
					sum += Luma(p[i], p[i+1], p[i+2])
				}
			}
			switch {
			case sum > oneAbove:
				value |= bit(r, c)
			case sum < zeroBelow:
			default:
				return 0, false
			}
		}
	}
	return value, true
}

// Luma is the integer BT.601-style luma that ReadRGBA uses: (77R + 150G + 29B) >> 8.
func Luma(r, g, b byte) int {
	return (77*int(r) + 150*int(g) + 29*int(b)) >> 8
}

// ReadScaled decodes the marker from the luma plane of a width×height picture that was scaled
// from a gameWidth×gameHeight frame (a lower rung of the resolution ladder): the region and its
// cells are scaled by the same factors. It samples the scaled region back to full size
// (nearest neighbour) and reads that.
func ReadScaled(luma []byte, stride, width, height, gameWidth, gameHeight int) (value uint16, ok bool) {
	if width == gameWidth && height == gameHeight {
		return Read(luma, stride)
	}
	if width <= 0 || height <= 0 || gameWidth <= 0 || gameHeight <= 0 || stride < width || len(luma) < (height-1)*stride+width {
		return 0, false
	}
	var buf [Width * Height]byte
	for y := range Height {
		sy := y * height / gameHeight
		if sy >= height {
			return 0, false
		}
		row := luma[sy*stride:]
		for x := range Width {
			sx := x * width / gameWidth
			if sx >= width {
				return 0, false
			}
			buf[y*Width+x] = row[sx]
		}
	}
	return Read(buf[:], Width)
}
