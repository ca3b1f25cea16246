package demo

// A 3×5 bitmap font drawn with one filled square per set bit. Each glyph is five rows, top
// first; bit 2 of a row is its left column. Characters without a glyph draw as a space.
var glyphs = [128][5]byte{
	'0': {7, 5, 5, 5, 7},
	'1': {2, 6, 2, 2, 7},
	'2': {7, 1, 7, 4, 7},
	'3': {7, 1, 3, 1, 7},
	'4': {5, 5, 7, 1, 1},
	'5': {7, 4, 7, 1, 7},
	'6': {7, 4, 7, 5, 7},
	'7': {7, 1, 1, 2, 2},
	'8': {7, 5, 7, 5, 7},
	'9': {7, 5, 7, 1, 7},
	'A': {2, 5, 7, 5, 5},
	'B': {6, 5, 6, 5, 6},
	'C': {3, 4, 4, 4, 3},
	'D': {6, 5, 5, 5, 6},
	'E': {7, 4, 6, 4, 7},
	'F': {7, 4, 6, 4, 4},
	'G': {3, 4, 5, 5, 3},
	'H': {5, 5, 7, 5, 5},
	'I': {7, 2, 2, 2, 7},
	'K': {5, 5, 6, 5, 5},
	'L': {4, 4, 4, 4, 7},
	'M': {5, 7, 7, 5, 5},
	'N': {6, 5, 5, 5, 5},
	'O': {2, 5, 5, 5, 2},
	'P': {6, 5, 6, 4, 4},
	'R': {6, 5, 6, 5, 5},
	'S': {3, 4, 2, 1, 6},
	'T': {7, 2, 2, 2, 2},
	'U': {5, 5, 5, 5, 7},
	'V': {5, 5, 5, 5, 2},
	'W': {5, 5, 7, 7, 5},
	'X': {5, 5, 2, 5, 5},
	'Y': {5, 5, 2, 2, 2},
	'/': {1, 1, 2, 4, 4},
	'^': {2, 7, 2, 2, 2}, // arrow up
	'v': {2, 2, 2, 7, 2}, // arrow down
	'<': {1, 2, 7, 2, 1}, // arrow left
	'>': {4, 2, 7, 2, 4}, // arrow right
	'-': {0, 0, 7, 0, 0},
}

// textWidth is the width in pixels of n characters at scale s (3 columns plus 1 of spacing).
func textWidth(n, s int) int {
	if n == 0 {
		return 0
	}
	return (4*n - 1) * s
}

// text draws str with its top-left corner at (x, y), each font pixel an s×s square.
func (c *canvas) text(x, y, s int, str []byte, col rgba) {
	for _, ch := range str {
		if ch < 128 {
			g := &glyphs[ch]
			for row, bits := range g {
				for b := range 3 {
					if bits&(4>>b) != 0 {
						px, py := x+b*s, y+row*s
						c.fill(px, py, px+s, py+s, col)
					}
				}
			}
		}
		x += 4 * s
	}
}
