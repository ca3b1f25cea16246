package session

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/media"
	"github.com/edgeplay/edgeplay/protocol"
)

// Config configures a session host. Zero values take the documented defaults; New validates the
// rest.
type Config struct {
	ID     string // host id, a NATS subject token (protocol.ValidName); required
	Region string // data center id; default "local"
	Slots  int    // concurrent sessions; default 4

	// Games this host can run, by name. Required, at least one.
	Games map[string]game.Factory
	// Titles names some of the games for players (advertised in heartbeats, listed by
	// /v1/games); optional.
	Titles map[string]string

	// Video.
	Width, Height int // default 1280×720, the top rung of the resolution ladder
	FPS           int // default 60
	// BitrateKbps is the most the encoder may use; the congestion controller picks the rate
	// below it. Default 6000 up to 1280×720, 10000 above.
	BitrateKbps    int
	EncoderBackend string        // H.264: "auto" (default), "libx264", "h264_nvenc", "h264_vaapi"
	Codecs         []media.Codec // offered in this order of preference; default H.264, VP8

	// Network.
	UDPAddr string // ICE UDP mux address shared by all sessions; default ":8443"
	// PublicIPs (--public-ip), behind a 1:1 NAT: "PUBLIC" or "PUBLIC/LOCAL"; each replaces
	// the candidate of one local address (media.EngineConfig). Optional.
	PublicIPs []string

	// Deadlines.
	ReserveTimeout time.Duration // reserved → connected; default 30 s
	IdleTimeout    time.Duration // no input; default 10 min
	// ResumeGrace is how long a session waits for its player to come back after a drop (its
	// websocket closed without leave, or its peer connection disconnected or failed) before
	// it ends player_lost; default 20 s.
	ResumeGrace       time.Duration
	HeartbeatInterval time.Duration // default 1 s
	DrainGrace        time.Duration // drain deadline when the request names none; default 30 min

	// InputRate and InputBurst bound each session's input messages per second; default 1000/200.
	InputRate  float64
	InputBurst int

	Version string       // reported in heartbeats
	Logger  *slog.Logger // default slog.Default()
}

// The bit-rate ceiling's bounds: the encoders' range, and at least the congestion
// controller's floor (media.EngineConfig.MinKbps, 150).
const minBitrateKbps, maxBitrateKbps = 150, 200_000

func (c *Config) setDefaults() {
	if c.Region == "" {
		c.Region = "local"
	}
	if c.Slots == 0 {
		c.Slots = 4
	}
	if c.Width == 0 && c.Height == 0 {
		c.Width, c.Height = 1280, 720
	}
	if c.FPS == 0 {
		c.FPS = 60
	}
	if c.BitrateKbps == 0 {
		c.BitrateKbps = 6000
		if c.Width*c.Height > 1280*720 {
			c.BitrateKbps = 10000
		}
	}
	if len(c.Codecs) == 0 {
		c.Codecs = media.Known
	}
	if c.EncoderBackend == "" {
		c.EncoderBackend = "auto"
	}
	if c.UDPAddr == "" {
		c.UDPAddr = ":8443"
	}
	if c.ReserveTimeout == 0 {
		c.ReserveTimeout = 30 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 10 * time.Minute
	}
	if c.ResumeGrace == 0 {
		c.ResumeGrace = 20 * time.Second
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = time.Second
	}
	if c.DrainGrace == 0 {
		c.DrainGrace = 30 * time.Minute
	}
	if c.InputRate == 0 {
		c.InputRate = 1000
	}
	if c.InputBurst == 0 {
		c.InputBurst = 200
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func (c *Config) validate() error {
	switch {
	case !protocol.ValidName(c.ID):
		return fmt.Errorf("%w: host id %q must be 1-64 characters of a-z 0-9 - _", ErrConfig, c.ID)
	case !protocol.ValidName(c.Region):
		return fmt.Errorf("%w: region %q must be 1-64 characters of a-z 0-9 - _", ErrConfig, c.Region)
	case c.Slots < 1 || c.Slots > 256:
		return fmt.Errorf("%w: slots %d must be 1-256", ErrConfig, c.Slots)
	case len(c.Games) == 0:
		return fmt.Errorf("%w: no games", ErrConfig)
	case c.Width < 16 || c.Height < 16 || c.Width%2 != 0 || c.Height%2 != 0 || c.Width > 7680 || c.Height > 4320:
		return fmt.Errorf("%w: video size %dx%d must be even and between 16x16 and 7680x4320", ErrConfig, c.Width, c.Height)
	case c.FPS < 1 || c.FPS > 240:
		return fmt.Errorf("%w: fps %d must be 1-240", ErrConfig, c.FPS)
	case c.BitrateKbps < minBitrateKbps || c.BitrateKbps > maxBitrateKbps:
		return fmt.Errorf("%w: bitrate %d kbit/s must be %d–%d", ErrConfig, c.BitrateKbps, minBitrateKbps, maxBitrateKbps)
	case c.ReserveTimeout < 0 || c.IdleTimeout < 0 || c.ResumeGrace < 0 || c.HeartbeatInterval < 0:
		return fmt.Errorf("%w: timeouts must be positive", ErrConfig)
	}
	for name := range c.Games {
		if !protocol.ValidName(name) {
			return fmt.Errorf("%w: game name %q must be 1-64 characters of a-z 0-9 - _", ErrConfig, name)
		}
	}
	for name, title := range c.Titles {
		if _, ok := c.Games[name]; !ok {
			return fmt.Errorf("%w: a title for %q, which is not one of the games", ErrConfig, name)
		}
		if !protocol.ValidTitle(title) {
			return fmt.Errorf("%w: game %q: title %q must be 1-%d bytes without control characters", ErrConfig, name, title, protocol.MaxTitleSize)
		}
	}
	return nil
}
