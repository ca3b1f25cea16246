package protocol

import (
	"strings"
	"testing"
)

func TestValidTitle(t *testing.T) {
	tests := []struct {
		name  string
		title string
		want  bool
	}{
		{"plain", "Paddle", true},
		{"spaces and punctuation", "Paddle: Tournament Edition (2)", true},
		{"non-ASCII", "Pong — 卓球", true},
		{"longest", strings.Repeat("x", MaxTitleSize), true},
		{"empty", "", false},
		{"too long", strings.Repeat("x", MaxTitleSize+1), false},
		{"only spaces", "   ", false},
		{"newline", "Paddle\nfree", false},
		{"tab", "Paddle\tfree", false},
		{"NUL", "Paddle\x00", false},
		{"DEL", "Paddle\x7f", false},
		{"C1 control", "Paddle\u0085", false},
		{"invalid UTF-8", "Paddle\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidTitle(tt.title); got != tt.want {
				t.Fatalf("ValidTitle(%q) = %v, want %v", tt.title, got, tt.want)
			}
		})
	}
}
