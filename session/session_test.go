package session

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/game"
)

func TestConfigValidate(t *testing.T) {
	games := map[string]game.Factory{"demo": nil}
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"no id", func(c *Config) { c.ID = "" }, "host id"},
		{"id with dot", func(c *Config) { c.ID = "a.b" }, "host id"},
		{"bad region", func(c *Config) { c.Region = "Dubai 1" }, "region"},
		{"too many slots", func(c *Config) { c.Slots = 1000 }, "slots"},
		{"no games", func(c *Config) { c.Games = nil }, "no games"},
		{"odd width", func(c *Config) { c.Width = 1279 }, "video size"},
		{"fps 0 means default", func(c *Config) { c.FPS = 0 }, ""},
		{"fps too high", func(c *Config) { c.FPS = 1000 }, "fps"},
		{"negative bitrate", func(c *Config) { c.BitrateKbps = -1 }, "bitrate"},
		{"bitrate under the controller's floor", func(c *Config) { c.BitrateKbps = 100 }, "bitrate"},
		{"bitrate over the encoders' range", func(c *Config) { c.BitrateKbps = 250_000 }, "bitrate"},
		{"negative timeout", func(c *Config) { c.IdleTimeout = -time.Second }, "timeouts"},
		{"bad game name", func(c *Config) { c.Games = map[string]game.Factory{"My Game": nil} }, "game name"},
		{"title", func(c *Config) { c.Titles = map[string]string{"demo": "The Demo"} }, ""},
		{"title of no game", func(c *Config) { c.Titles = map[string]string{"other": "Other"} }, "not one of the games"},
		{"bad title", func(c *Config) { c.Titles = map[string]string{"demo": "a\nb"} }, "title"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{ID: "h1", Games: games}
			tt.mutate(&c)
			c.setDefaults()
			err := c.validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want ErrConfig mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	r := newSampleRing(4)
	for i := 1; i <= 6; i++ { // 1 and 2 fall out of the ring
		r.add(time.Duration(i))
	}
	s := r.snapshot()
	if len(s) != 4 || s[0] != 3 || s[3] != 6 {
		t.Fatalf("snapshot %v", s)
	}
	if Percentile(s, 50) != 4 || Percentile(s, 100) != 6 || Percentile(nil, 50) != 0 {
		t.Fatalf("percentiles of %v wrong", s)
	}
}
