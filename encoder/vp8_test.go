package encoder

import "testing"

// vp8Header reads the uncompressed header of a VP8 frame (RFC 6386 section 9.1): whether it
// is a key frame and, for key frames, the picture size. ok is false if the data is too short
// or a key frame lacks the start code 9d 01 2a.
func vp8Header(b []byte) (key bool, w, h int, ok bool) {
	if len(b) < 3 {
		return false, 0, 0, false
	}
	if b[0]&1 != 0 {
		return false, 0, 0, true // inter frame
	}
	if len(b) < 10 || b[3] != 0x9d || b[4] != 0x01 || b[5] != 0x2a {
		return true, 0, 0, false
	}
	w = int(b[6]) | int(b[7]&0x3f)<<8
	h = int(b[8]) | int(b[9]&0x3f)<<8
	return true, w, h, true
}

func TestVP8Header(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		key  bool
		w, h int
		ok   bool
	}{
		{"short", []byte{0x10}, false, 0, 0, false},
		{"inter", []byte{0x31, 0x02, 0x00, 0xff}, false, 0, 0, true},
		{"key 640x360", []byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01}, true, 640, 360, true},
		{"key with scale bits", []byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x42, 0x68, 0xc1}, true, 640, 360, true},
		{"key without start code", []byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2b, 0x80, 0x02, 0x68, 0x01}, true, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, w, h, ok := vp8Header(tt.in)
			if key != tt.key || w != tt.w || h != tt.h || ok != tt.ok {
				t.Errorf("vp8Header = %v, %d, %d, %v; want %v, %d, %d, %v", key, w, h, ok, tt.key, tt.w, tt.h, tt.ok)
			}
		})
	}
}
