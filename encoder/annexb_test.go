package encoder

import (
	"bytes"
	"slices"
	"testing"
)

// H.264 NAL unit types used by the tests.
const (
	nalSlice = 1
	nalIDR   = 5
	nalSEI   = 6
	nalSPS   = 7
	nalPPS   = 8
)

// nalUnits splits an Annex-B byte stream at its start codes (00 00 01, or 00 00 00 01) and
// returns the NAL units without them.
func nalUnits(b []byte) [][]byte {
	var units [][]byte
	start := -1
	for i := 0; i+3 <= len(b); {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				units = append(units, bytes.TrimRight(b[start:i], "\x00"))
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 && start < len(b) {
		units = append(units, b[start:])
	}
	return units
}

// nalTypes returns the nal_unit_type of each NAL unit in b.
func nalTypes(b []byte) []int {
	var types []int
	for _, u := range nalUnits(b) {
		if len(u) > 0 {
			types = append(types, int(u[0]&0x1f))
		}
	}
	return types
}

func TestNALTypes(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want []int
	}{
		{"empty", nil, nil},
		{"no start code", []byte{0x67, 1, 2}, nil},
		{"three-byte start codes", []byte{0, 0, 1, 0x67, 9, 0, 0, 1, 0x68, 9}, []int{nalSPS, nalPPS}},
		{"four-byte start codes", []byte{0, 0, 0, 1, 0x65, 9, 0, 0, 0, 1, 0x41, 9}, []int{nalIDR, nalSlice}},
		{"mixed", []byte{0, 0, 0, 1, 0x06, 5, 0, 0, 1, 0x65, 0, 0, 3, 1}, []int{nalSEI, nalIDR}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nalTypes(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("nalTypes = %v, want %v", got, tt.want)
			}
		})
	}
}
