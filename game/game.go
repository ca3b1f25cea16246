// Package game is the contract between a session host and a game instance: frames out, input
// in, start and stop. The built-in demo game (game/demo) implements it in-process; the studio
// SDK will implement it for games that run as their own process.
package game

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/edgeplay/edgeplay/input"
)

// Why a game's Run ended, other than by its context, for any game implementation (the
// out-of-process one in package gameproc returns them, wrapped with what happened). The host
// turns each into the session's end reason; their texts are docs/SDK.md's failure reasons.
var (
	// ErrStartFailed: the game could not be started, or was not ready within its deadline.
	ErrStartFailed = errors.New("game_start_failed")
	// ErrCrashed: the game exited or failed after it started.
	ErrCrashed = errors.New("game_crashed")
	// ErrHung: the game stopped producing frames.
	ErrHung = errors.New("game_hung")
	// ErrProtocol: the game broke its protocol with the host (counted as a crash).
	ErrProtocol = errors.New("protocol")
	// ErrEnded: the game ended the session itself; the error carries its result (see Ended).
	ErrEnded = errors.New("game ended")
)

// Ended is the error of a game that ended the session itself: errors.Is(err, ErrEnded), and
// errors.As finds the result, a JSON object (e.g. {"score":1200}) or "" for none.
type Ended struct{ Result string }

func (e *Ended) Error() string { return fmt.Sprintf("game ended: result %q", e.Result) }

// Unwrap makes an Ended match ErrEnded.
func (e *Ended) Unwrap() error { return ErrEnded }

// Config describes what the host asks of a game instance.
type Config struct {
	Width, Height int // pixels; both even, > 0
	FPS           int // frames per second, > 0
	// Session is the session's id and Player the player's (empty when the host has none to
	// give, as in tests). A game that runs as its own process receives both (docs/SDK.md).
	Session, Player string
	// Params and Payload are opaque bytes from the studio: Params for the session (assign),
	// Payload what its backend attached to the player's join (player_joined); at most 4 KiB
	// each. Empty until join tokens carry them.
	Params, Payload string
}

// Sized is implemented by games whose stream is not the one the host asked for in Config (a
// studio's catalog may set a game's size and rate): the host encodes what Config returns.
type Sized interface {
	Config() Config
}

// Drainer is implemented by games that want to hear that their host is draining: the game
// should finish its round and end before deadline, when the session ends anyway. Called from
// the host's goroutine; must not block.
type Drainer interface {
	Drain(deadline time.Time)
}

// Game is one running game instance, owned by one session.
type Game interface {
	// Run renders frames at the game's own pace until ctx is done, handing each finished frame
	// to sink. sink never blocks; ownership of the frame passes to the sink, which calls
	// Frame.Release when it is done with it. Run returns nil when ctx ends.
	Run(ctx context.Context, sink func(*Frame)) error
	// Input delivers one player input event. Safe for concurrent use; never blocks.
	Input(ev input.Event)
}

// Factory creates a game instance.
type Factory func(Config) (Game, error)

// The one sound format every game produces: 48 kHz, stereo, signed 16-bit, interleaved L R.
const (
	AudioRate     = 48000
	AudioChannels = 2
)

// AudioChunk is a piece of a game's sound.
type AudioChunk struct {
	// PCM holds interleaved samples (L R L R …); its length is a multiple of AudioChannels. It
	// is valid only during the sink call: the sink copies what it keeps.
	PCM []int16
	// Start is when the chunk's first sample belongs, on the same clock as Frame.Ready: a sound
	// that goes with a frame starts at that frame's Ready time. The host keeps sound and picture
	// in step from these two times.
	Start time.Time
}

// AudioSource is implemented by games that make sound. The host calls SetAudioSink once, before
// Run; from then on the game hands its sound to sink from its own loop, in order and without
// gaps (silence as zero samples), in chunks of at most 100 ms. After a stall the game may skip
// ahead: a chunk whose Start is well past the end of the one before marks a break, and the
// host treats the skipped time as silence. sink never blocks.
type AudioSource interface {
	SetAudioSink(sink func(AudioChunk))
}

// Presence is implemented by games that want to know when their player's connection drops
// and comes back (the session waits for a resume for its grace). Both are called from the
// session's goroutine and must not block.
type Presence interface {
	PlayerAway()
	PlayerBack()
}

// Rumble asks for a vibration of the player's gamepad, where the browser allows it.
type Rumble struct {
	Strong, Weak float64       // motor strengths, 0..1 (the low- and high-frequency motors)
	Duration     time.Duration // 1 ms .. 5 s
}

// HapticSource is implemented by games that rumble the player's gamepad. The host calls
// SetRumbleSink once, before Run; the game calls sink from its own loop. sink never blocks.
type HapticSource interface {
	SetRumbleSink(sink func(Rumble))
}

// FrameSource is implemented by games that can render into frame buffers the host lends them,
// so that the host sends what they drew with no copy (a game process's shared-memory slots,
// see gamesdk.Serve). The host calls SetFrameSource once, before Run; from then on, on each
// tick, the game's loop calls get for the frame to render into:
//
//   - get returns a frame of the game's size (Config's Width and Height), RGBA, with Stride
//     bytes per row: possibly more than 4*Width, so the game must use Stride. It holds
//     whatever picture was last drawn into it, by this game or by the host: the game must
//     draw every pixel of it;
//   - get returns nil when the host has no frame free (every one is on its way to the
//     player): the game then skips rendering this tick (its simulation goes on). get never
//     blocks, and is called from the game's loop only;
//   - the game hands the frame to sink as usual, or, when it does not send it after all,
//     calls its Release; either way it must not touch the frame afterwards. A frame the game
//     still holds when Run returns is the host's again.
//
// A game that has a source renders only into frames from it.
type FrameSource interface {
	SetFrameSource(get func() *Frame)
}

// PixelFormat is how a Frame's pixels are laid out, all 8 bits per sample, row-major. I420
// and NV12 are YUV 4:2:0, BT.709, limited range (Y 16–235, U and V 16–240): what docs/SDK.md
// asks of a game that renders YUV. Each chroma sample stands for a 2×2 block of pixels.
type PixelFormat uint8

const (
	// RGBA is the zero value: one plane, Pix, of 4 bytes per pixel (R, G, B, A; A is ignored).
	RGBA PixelFormat = iota
	// I420 is planar YUV 4:2:0: Planes[0] Y at full size, then Planes[1] U and Planes[2] V at
	// half the width and half the height.
	I420
	// NV12 is semi-planar YUV 4:2:0: Planes[0] Y at full size, then Planes[1] holding U and V
	// interleaved (U first) at half the width and half the height.
	NV12
)

func (f PixelFormat) String() string {
	switch f {
	case RGBA:
		return "RGBA"
	case I420:
		return "I420"
	case NV12:
		return "NV12"
	}
	return fmt.Sprintf("PixelFormat(%d)", uint8(f))
}

// Frame is one rendered picture: 8-bit RGBA in Pix (the zero Format), or YUV 4:2:0 in Planes.
type Frame struct {
	Width, Height int
	Format        PixelFormat
	// Stride and Pix hold an RGBA frame: Stride bytes per row, len(Pix) >= Stride*Height.
	// Both are zero for YUV.
	Stride int
	Pix    []byte
	// Planes and Strides hold a YUV frame (see PixelFormat): plane i has Strides[i] bytes per
	// row, and its rows (Height, or Height/2 for chroma) fit in Planes[i]. Width and Height
	// are even. Planes past the format's (all three for RGBA, Planes[2] for NV12) are nil.
	Planes   [3][]byte
	Strides  [3]int
	Seq      uint64 // frame number, from 1
	Ready    time.Time
	InputSeq uint32 // the last input sequence number applied before this frame was rendered
	pool     *FramePool
	release  func() // a borrowed frame's (see BorrowedFrame)
}

// Release hands the frame back to its pool, or to the owner of a borrowed frame. The caller
// must not touch it afterwards.
func (f *Frame) Release() {
	switch {
	case f == nil:
	case f.release != nil:
		f.release()
	case f.pool != nil:
		f.pool.p.Put(f)
	}
}

// BorrowedFrame is a w×h RGBA frame over pixels its owner lends (a game process's shared
// memory: no copy), with stride bytes per row. Release calls release, which takes the pixels
// back; the frame must not be touched after it.
func BorrowedFrame(w, h, stride int, pix []byte, release func()) *Frame {
	return &Frame{Width: w, Height: h, Stride: stride, Pix: pix, release: release}
}

// BorrowedYUVFrame is BorrowedFrame for a w×h frame in format (I420 or NV12) over planes its
// owner lends, plane i with strides[i] bytes per row.
func BorrowedYUVFrame(format PixelFormat, w, h int, planes [3][]byte, strides [3]int, release func()) *Frame {
	return &Frame{Width: w, Height: h, Format: format, Planes: planes, Strides: strides, release: release}
}

// FramePool recycles frame buffers of one size so that rendering at 60 fps allocates nothing.
type FramePool struct {
	w, h int
	p    sync.Pool
}

// NewFramePool returns a pool of w×h RGBA frames.
func NewFramePool(w, h int) *FramePool {
	fp := &FramePool{w: w, h: h}
	fp.p.New = func() any {
		return &Frame{Width: w, Height: h, Stride: 4 * w, Pix: make([]byte, 4*w*h), pool: fp}
	}
	return fp
}

// Get returns a frame whose pixels hold whatever was last drawn into it.
func (fp *FramePool) Get() *Frame {
	return fp.p.Get().(*Frame)
}
