package gameproto

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"iter"
	"unicode/utf8"

	"github.com/edgeplay/edgeplay/input"
)

// Protocol version spoken by this package.
const (
	Major = 1
	Minor = 0
)

// Magic opens every Hello.
const Magic = "EDGP"

// Sizes and limits of the link. Values are part of the wire format.
const (
	HeaderSize     = 8         // u16 type, u16 flags, u32 len
	MaxMessageSize = 64 << 10  // one datagram, header included
	MaxFDs         = 1         // file descriptors one message may carry
	MaxText        = 4 << 10   // Log and Fatal text, bytes of UTF-8
	MaxResult      = 4 << 10   // Ending's result JSON
	MaxPayload     = 4 << 10   // Assign's and PlayerJoined's opaque payload
	MaxID          = 64        // session and player ids
	MaxSDK         = 64        // Hello's SDK name
	MaxPlayers     = 8         // player indices 0..MaxPlayers-1
	MaxInputBatch  = 64        // input events in one Input message
	MaxSlots       = 8         // frame slots in a BufferPool
	MaxAudioSlots  = 32        // slots in an AudioPool
	MaxAudioFrames = 4800      // audio frames (one sample per channel) in a slot: 100 ms
	AudioRate      = 48000     // the one sample rate
	AudioChannels  = 2         // interleaved L R
	MinWidth       = 16        // frame size bounds, as session.Config's
	MinHeight      = 16        //
	MaxWidth       = 7680      //
	MaxHeight      = 4320      //
	MaxFPS         = 240       //
	MaxLoadingMS   = 600_000   // the most one Loading may ask for
	MaxDrainMS     = 86400_000 // a day
	MaxGraceMS     = 600_000   // Shutdown's grace
)

// Header flags.
const (
	// FlagIgnorable lets a receiver that does not know the message's type skip it. Without it
	// an unknown type is a protocol error. Receivers ignore it on types they know.
	FlagIgnorable uint16 = 1 << 0
	allFlags             = FlagIgnorable
)

// Type identifies a message. Values below 128 travel from the game to the host, 128 and above
// from the host to the game. Values are part of the wire format: never renumber.
type Type uint16

// Game → host.
const (
	TypeHello      Type = 1
	TypeReady      Type = 2
	TypeStarted    Type = 3
	TypeFrameReady Type = 4
	TypeAudioReady Type = 5
	TypePing       Type = 6
	TypeLoading    Type = 7
	TypeLog        Type = 8
	TypeEnding     Type = 9
	TypeFatal      Type = 10
)

// Host → game.
const (
	TypeWelcome      Type = 128
	TypeBufferPool   Type = 129
	TypeAudioPool    Type = 130
	TypeRelease      Type = 131
	TypeAudioRelease Type = 132
	TypeInput        Type = 133
	TypeAssign       Type = 134
	TypePlayerJoined Type = 135
	TypePlayerLeft   Type = 136
	TypePlayerAway   Type = 137
	TypePlayerBack   Type = 138
	TypeDrain        Type = 139
	TypeShutdown     Type = 140
)

var typeNames = map[Type]string{
	TypeHello: "hello", TypeReady: "ready", TypeStarted: "started", TypeFrameReady: "frame_ready",
	TypeAudioReady: "audio_ready", TypePing: "ping", TypeLoading: "loading", TypeLog: "log",
	TypeEnding: "ending", TypeFatal: "fatal",
	TypeWelcome: "welcome", TypeBufferPool: "buffer_pool", TypeAudioPool: "audio_pool",
	TypeRelease: "release", TypeAudioRelease: "audio_release", TypeInput: "input",
	TypeAssign: "assign", TypePlayerJoined: "player_joined", TypePlayerLeft: "player_left",
	TypePlayerAway: "player_away", TypePlayerBack: "player_back", TypeDrain: "drain",
	TypeShutdown: "shutdown",
}

func (t Type) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("type(%d)", uint16(t))
}

// FromGame reports whether messages of type t travel from the game to the host. A receiver
// rejects a known type that comes the wrong way.
func (t Type) FromGame() bool { return t < 128 }

// FDs is the number of file descriptors a message of type t carries: exactly that many, no
// more and no fewer.
func (t Type) FDs() int {
	switch t {
	case TypeBufferPool, TypeAudioPool:
		return 1
	}
	return 0
}

// Capability bits of Hello and Welcome. A game announces what it can do; the host answers with
// the intersection. Unknown bits are allowed (a newer peer) and dropped by the intersection.
const (
	CapAudio = 1 << 0 // the game makes sound (the host sends an AudioPool)
	CapI420  = 1 << 1 // the game can render I420
	CapNV12  = 1 << 2 // the game can render NV12
	CapInput = 1 << 3 // the game wants Input messages (every game in practice)
)

// Message is one decoded message. Append encodes it, header included, onto b: it is the
// inverse of Decode for every message Decode accepts.
type Message interface {
	Type() Type
	Append(b []byte) []byte
}

// Decode parses one datagram. It validates every field that can be checked without the link's
// state (a FrameReady's slot against the BufferPool is the receiver's job: BufferPool.Check),
// never panics, and allocates at most the decoded value plus a copy of its variable-length
// fields, never more than the datagram. An unknown type is an error unless the header has
// FlagIgnorable, when Decode returns Unknown.
func Decode(b []byte) (Message, error) {
	if len(b) < HeaderSize {
		return nil, ErrShort
	}
	if len(b) > MaxMessageSize {
		return nil, ErrLong
	}
	t := Type(binary.LittleEndian.Uint16(b))
	flags := binary.LittleEndian.Uint16(b[2:])
	n := binary.LittleEndian.Uint32(b[4:])
	if flags&^allFlags != 0 {
		return nil, fmt.Errorf("%w: %#x", ErrFlags, flags)
	}
	if uint64(n) != uint64(len(b)-HeaderSize) {
		return nil, fmt.Errorf("%w: header says %d, payload is %d", ErrLength, n, len(b)-HeaderSize)
	}
	p := b[HeaderSize:]
	dec, ok := decoders[t]
	if !ok {
		if flags&FlagIgnorable != 0 {
			return Unknown{T: t, Len: len(p)}, nil
		}
		return nil, fmt.Errorf("%w: %d", ErrType, uint16(t))
	}
	m, err := dec(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t, err)
	}
	return m, nil
}

// decoders maps each known type to its payload decoder. Filled in init to break the cycle
// through Decode.
var decoders map[Type]func(p []byte) (Message, error)

func init() {
	decoders = map[Type]func(p []byte) (Message, error){
		TypeHello:        decodeHello,
		TypeReady:        empty(Ready{}),
		TypeStarted:      empty(Started{}),
		TypeFrameReady:   decodeFrameReady,
		TypeAudioReady:   decodeAudioReady,
		TypePing:         empty(Ping{}),
		TypeLoading:      decodeLoading,
		TypeLog:          decodeLog,
		TypeEnding:       decodeEnding,
		TypeFatal:        decodeFatal,
		TypeWelcome:      decodeWelcome,
		TypeBufferPool:   decodeBufferPool,
		TypeAudioPool:    decodeAudioPool,
		TypeRelease:      decodeRelease,
		TypeAudioRelease: decodeAudioRelease,
		TypeInput:        decodeInput,
		TypeAssign:       decodeAssign,
		TypePlayerJoined: decodePlayerJoined,
		TypePlayerLeft:   playerOnly(func(p uint8) Message { return PlayerLeft{Player: p} }),
		TypePlayerAway:   playerOnly(func(p uint8) Message { return PlayerAway{Player: p} }),
		TypePlayerBack:   playerOnly(func(p uint8) Message { return PlayerBack{Player: p} }),
		TypeDrain:        decodeDrain,
		TypeShutdown:     decodeShutdown,
	}
}

// Encoding helpers: begin writes a header with a zero length, end patches the length in.

func begin(b []byte, t Type) ([]byte, int) {
	start := len(b)
	b = binary.LittleEndian.AppendUint16(b, uint16(t))
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 0)
	return b, start
}

func end(b []byte, start int) []byte {
	binary.LittleEndian.PutUint32(b[start+4:], uint32(len(b)-start-HeaderSize))
	return b
}

func exact(p []byte, n int) error {
	if len(p) < n {
		return ErrShort
	}
	if len(p) > n {
		return ErrLong
	}
	return nil
}

func field(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrField}, args...)...)
}

func u16(p []byte, off int) uint16 { return binary.LittleEndian.Uint16(p[off:]) }
func u32(p []byte, off int) uint32 { return binary.LittleEndian.Uint32(p[off:]) }
func u64(p []byte, off int) uint64 { return binary.LittleEndian.Uint64(p[off:]) }

// validID reports whether s is 1..MaxID bytes of printable ASCII without spaces.
func validID(s []byte) bool {
	if len(s) == 0 || len(s) > MaxID {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// Unknown is a message of a type this package does not know that its sender marked
// FlagIgnorable. Only its type and length are kept; Append writes zeros for the payload.
type Unknown struct {
	T   Type
	Len int
}

// Type returns the unknown type.
func (m Unknown) Type() Type { return m.T }

// Append encodes the header, with FlagIgnorable, and Len zero bytes.
func (m Unknown) Append(b []byte) []byte {
	b, start := begin(b, m.T)
	binary.LittleEndian.PutUint16(b[start+2:], FlagIgnorable)
	b = append(b, make([]byte, m.Len)...)
	return end(b, start)
}

// Messages with no payload.

// Ready says the game has loaded and waits, rendering nothing, for an Assign. Game → host.
type Ready struct{}

// Started says the game has taken its Assign and renders. Game → host.
type Started struct{}

// Ping is the game's heartbeat, sent from its loop at least every Welcome.HeartbeatMS.
// Game → host.
type Ping struct{}

func (Ready) Type() Type   { return TypeReady }
func (Started) Type() Type { return TypeStarted }
func (Ping) Type() Type    { return TypePing }

func (m Ready) Append(b []byte) []byte   { return appendEmpty(b, m.Type()) }
func (m Started) Append(b []byte) []byte { return appendEmpty(b, m.Type()) }
func (m Ping) Append(b []byte) []byte    { return appendEmpty(b, m.Type()) }

func appendEmpty(b []byte, t Type) []byte {
	b, start := begin(b, t)
	return end(b, start)
}

func empty(m Message) func([]byte) (Message, error) {
	return func(p []byte) (Message, error) {
		if len(p) != 0 {
			return nil, ErrLong
		}
		return m, nil
	}
}

// Hello is the game's first message. Game → host.
//
//	0  4  magic "EDGP"
//	4  2  major
//	6  2  minor
//	8  4  caps
//	12 …  sdk: the SDK's name and version, 0..64 bytes of printable ASCII
type Hello struct {
	Major, Minor uint16
	Caps         uint32
	SDK          string
}

func (Hello) Type() Type { return TypeHello }

func (m Hello) Append(b []byte) []byte {
	b, start := begin(b, TypeHello)
	b = append(b, Magic...)
	b = binary.LittleEndian.AppendUint16(b, m.Major)
	b = binary.LittleEndian.AppendUint16(b, m.Minor)
	b = binary.LittleEndian.AppendUint32(b, m.Caps)
	b = append(b, m.SDK...)
	return end(b, start)
}

func decodeHello(p []byte) (Message, error) {
	if len(p) < 12 {
		return nil, ErrShort
	}
	if len(p) > 12+MaxSDK {
		return nil, ErrLong
	}
	if string(p[:4]) != Magic {
		return nil, fmt.Errorf("%w: bad magic %q", ErrVersion, p[:4])
	}
	m := Hello{Major: u16(p, 4), Minor: u16(p, 6), Caps: u32(p, 8)}
	if m.Major != Major {
		return nil, fmt.Errorf("%w: game speaks %d.%d, host %d.%d", ErrVersion, m.Major, m.Minor, Major, Minor)
	}
	for _, c := range p[12:] {
		if c < ' ' || c > '~' {
			return nil, field("sdk name is not printable ASCII")
		}
	}
	m.SDK = string(p[12:])
	return m, nil
}

// Pixel formats of a BufferPool, and their bits in Welcome.Formats (1 << format).
type PixelFormat uint8

const (
	RGBA PixelFormat = 1 // 8-bit R G B A, one plane
	I420 PixelFormat = 2 // 8-bit Y, then U and V at half width and height (BT.709 limited range)
	NV12 PixelFormat = 3 // 8-bit Y, then interleaved U V at half width and height
)

const allFormats = 1<<RGBA | 1<<I420 | 1<<NV12

func (f PixelFormat) String() string {
	switch f {
	case RGBA:
		return "rgba"
	case I420:
		return "i420"
	case NV12:
		return "nv12"
	}
	return fmt.Sprintf("format(%d)", uint8(f))
}

// Welcome answers Hello with the negotiated version, the stream's shape and the deadlines the
// host will hold the game to. Host → game.
//
//	0  2  major (1)
//	2  2  minor: min(game's, host's)
//	4  4  caps: game's ∩ host's
//	8  2  width   (even, 16..7680)
//	10 2  height  (even, 16..4320)
//	12 2  fps     (1..240)
//	14 2  formats: bit f set = the host takes PixelFormat f; RGBA always
//	16 4  heartbeat_ms: longest gap between Pings (100..60000)
//	20 4  ready_timeout_ms: Welcome → Ready, before any Loading (1000..600000)
//	24 4  ready_cap_ms: the most Loading may extend it to (ready_timeout_ms..600000)
//	28 4  started_timeout_ms: Assign → Started (1000..600000)
//	32 4  stall_timeout_ms: longest gap between FrameReadys while started (100..60000)
type Welcome struct {
	Major, Minor     uint16
	Caps             uint32
	Width, Height    uint16
	FPS              uint16
	Formats          uint16
	HeartbeatMS      uint32
	ReadyTimeoutMS   uint32
	ReadyCapMS       uint32
	StartedTimeoutMS uint32
	StallTimeoutMS   uint32
}

const welcomeSize = 36

func (Welcome) Type() Type { return TypeWelcome }

func (m Welcome) Append(b []byte) []byte {
	b, start := begin(b, TypeWelcome)
	b = binary.LittleEndian.AppendUint16(b, m.Major)
	b = binary.LittleEndian.AppendUint16(b, m.Minor)
	b = binary.LittleEndian.AppendUint32(b, m.Caps)
	for _, v := range [...]uint16{m.Width, m.Height, m.FPS, m.Formats} {
		b = binary.LittleEndian.AppendUint16(b, v)
	}
	for _, v := range [...]uint32{m.HeartbeatMS, m.ReadyTimeoutMS, m.ReadyCapMS, m.StartedTimeoutMS, m.StallTimeoutMS} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return end(b, start)
}

func decodeWelcome(p []byte) (Message, error) {
	if err := exact(p, welcomeSize); err != nil {
		return nil, err
	}
	m := Welcome{
		Major: u16(p, 0), Minor: u16(p, 2), Caps: u32(p, 4),
		Width: u16(p, 8), Height: u16(p, 10), FPS: u16(p, 12), Formats: u16(p, 14),
		HeartbeatMS: u32(p, 16), ReadyTimeoutMS: u32(p, 20), ReadyCapMS: u32(p, 24),
		StartedTimeoutMS: u32(p, 28), StallTimeoutMS: u32(p, 32),
	}
	switch {
	case m.Major != Major:
		return nil, fmt.Errorf("%w: host speaks %d.%d", ErrVersion, m.Major, m.Minor)
	case !validSize(int(m.Width), int(m.Height)):
		return nil, field("size %dx%d", m.Width, m.Height)
	case m.FPS < 1 || m.FPS > MaxFPS:
		return nil, field("fps %d", m.FPS)
	case m.Formats&^allFormats != 0 || m.Formats&(1<<RGBA) == 0:
		return nil, field("formats %#x", m.Formats)
	case m.HeartbeatMS < 100 || m.HeartbeatMS > 60_000:
		return nil, field("heartbeat %d ms", m.HeartbeatMS)
	case m.ReadyTimeoutMS < 1000 || m.ReadyTimeoutMS > MaxLoadingMS:
		return nil, field("ready timeout %d ms", m.ReadyTimeoutMS)
	case m.ReadyCapMS < m.ReadyTimeoutMS || m.ReadyCapMS > MaxLoadingMS:
		return nil, field("ready cap %d ms", m.ReadyCapMS)
	case m.StartedTimeoutMS < 1000 || m.StartedTimeoutMS > MaxLoadingMS:
		return nil, field("started timeout %d ms", m.StartedTimeoutMS)
	case m.StallTimeoutMS < 100 || m.StallTimeoutMS > 60_000:
		return nil, field("stall timeout %d ms", m.StallTimeoutMS)
	}
	return m, nil
}

func validSize(w, h int) bool {
	return w >= MinWidth && h >= MinHeight && w <= MaxWidth && h <= MaxHeight && w%2 == 0 && h%2 == 0
}

// FrameReady hands a finished frame to the host: the slot's ownership passes to the host until
// it sends Release for it. Game → host.
//
//	0  1  slot (< the BufferPool's n_slots)
//	1  1  flags: bit 0 FrameMarker
//	2  2  reserved, 0
//	4  4  input_seq: the last input seq applied before the frame was rendered (0: none yet)
//	8  8  seq: the frame number, from 1, increasing
//	16 8  pts_ns: CLOCK_MONOTONIC when the frame was finished
type FrameReady struct {
	Slot     uint8
	Flags    uint8
	InputSeq uint32
	Seq      uint64
	PTS      uint64 // ns, CLOCK_MONOTONIC
}

// FrameMarker in FrameReady.Flags says the game drew the latency marker (game/marker) into
// the frame.
const FrameMarker = 1 << 0

const frameReadySize = 24

func (FrameReady) Type() Type { return TypeFrameReady }

func (m FrameReady) Append(b []byte) []byte {
	b, start := begin(b, TypeFrameReady)
	b = append(b, m.Slot, m.Flags, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, m.InputSeq)
	b = binary.LittleEndian.AppendUint64(b, m.Seq)
	b = binary.LittleEndian.AppendUint64(b, m.PTS)
	return end(b, start)
}

func decodeFrameReady(p []byte) (Message, error) {
	if err := exact(p, frameReadySize); err != nil {
		return nil, err
	}
	m := FrameReady{Slot: p[0], Flags: p[1], InputSeq: u32(p, 4), Seq: u64(p, 8), PTS: u64(p, 16)}
	switch {
	case m.Slot >= MaxSlots:
		return nil, field("slot %d", m.Slot)
	case m.Flags&^FrameMarker != 0:
		return nil, field("flags %#x", m.Flags)
	case p[2] != 0 || p[3] != 0:
		return nil, field("reserved bytes")
	case m.Seq == 0:
		return nil, field("seq 0")
	}
	return m, nil
}

// AudioReady hands a filled audio slot to the host until AudioRelease. Game → host.
//
//	0 1 slot (< the AudioPool's n_slots)
//	1 3 reserved, 0
//	4 4 frames: samples per channel in the slot (1..the pool's slot_frames)
//	8 8 pts_ns: CLOCK_MONOTONIC of the first sample
type AudioReady struct {
	Slot   uint8
	Frames uint32
	PTS    uint64
}

const audioReadySize = 16

func (AudioReady) Type() Type { return TypeAudioReady }

func (m AudioReady) Append(b []byte) []byte {
	b, start := begin(b, TypeAudioReady)
	b = append(b, m.Slot, 0, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, m.Frames)
	b = binary.LittleEndian.AppendUint64(b, m.PTS)
	return end(b, start)
}

func decodeAudioReady(p []byte) (Message, error) {
	if err := exact(p, audioReadySize); err != nil {
		return nil, err
	}
	m := AudioReady{Slot: p[0], Frames: u32(p, 4), PTS: u64(p, 8)}
	switch {
	case m.Slot >= MaxAudioSlots:
		return nil, field("slot %d", m.Slot)
	case p[1] != 0 || p[2] != 0 || p[3] != 0:
		return nil, field("reserved bytes")
	case m.Frames == 0 || m.Frames > MaxAudioFrames:
		return nil, field("frames %d", m.Frames)
	}
	return m, nil
}

// Loading asks the host for more time before Ready: until_ms from now, within
// Welcome.ReadyCapMS since Welcome. Game → host.
//
//	0 4 until_ms (1..600000)
type Loading struct{ UntilMS uint32 }

func (Loading) Type() Type { return TypeLoading }

func (m Loading) Append(b []byte) []byte {
	b, start := begin(b, TypeLoading)
	b = binary.LittleEndian.AppendUint32(b, m.UntilMS)
	return end(b, start)
}

func decodeLoading(p []byte) (Message, error) {
	if err := exact(p, 4); err != nil {
		return nil, err
	}
	m := Loading{UntilMS: u32(p, 0)}
	if m.UntilMS == 0 || m.UntilMS > MaxLoadingMS {
		return nil, field("until %d ms", m.UntilMS)
	}
	return m, nil
}

// Log levels, as log/slog's order.
const (
	LevelDebug = 0
	LevelInfo  = 1
	LevelWarn  = 2
	LevelError = 3
)

// Log is one line for the host's log, tagged with the session. Game → host.
//
//	0 1 level (0 debug, 1 info, 2 warn, 3 error)
//	1 … text: 0..4096 bytes of UTF-8
type Log struct {
	Level uint8
	Text  string
}

func (Log) Type() Type { return TypeLog }

func (m Log) Append(b []byte) []byte {
	b, start := begin(b, TypeLog)
	b = append(b, m.Level)
	b = append(b, m.Text...)
	return end(b, start)
}

func decodeLog(p []byte) (Message, error) {
	if len(p) < 1 {
		return nil, ErrShort
	}
	if len(p) > 1+MaxText {
		return nil, ErrLong
	}
	if p[0] > LevelError {
		return nil, field("level %d", p[0])
	}
	if !utf8.Valid(p[1:]) {
		return nil, field("text is not UTF-8")
	}
	return Log{Level: p[0], Text: string(p[1:])}, nil
}

// Fatal says the game cannot go on, and why; the game exits after it. Game → host.
//
//	0 … text: 1..4096 bytes of UTF-8
type Fatal struct{ Text string }

func (Fatal) Type() Type { return TypeFatal }

func (m Fatal) Append(b []byte) []byte {
	b, start := begin(b, TypeFatal)
	b = append(b, m.Text...)
	return end(b, start)
}

func decodeFatal(p []byte) (Message, error) {
	if len(p) == 0 {
		return nil, ErrShort
	}
	if len(p) > MaxText {
		return nil, ErrLong
	}
	if !utf8.Valid(p) {
		return nil, field("text is not UTF-8")
	}
	return Fatal{Text: string(p)}, nil
}

// Ending says the game has ended on its own (the round is over, the player quit) with an
// optional result, which goes into the session's ended event; the game exits 0 after it.
// Game → host.
//
//	0 … result: empty, or a JSON object of at most 4096 bytes
type Ending struct{ Result string }

func (Ending) Type() Type { return TypeEnding }

func (m Ending) Append(b []byte) []byte {
	b, start := begin(b, TypeEnding)
	b = append(b, m.Result...)
	return end(b, start)
}

func decodeEnding(p []byte) (Message, error) {
	if len(p) > MaxResult {
		return nil, ErrLong
	}
	// json.Valid accepts invalid UTF-8 inside strings; the result must be clean text.
	if len(p) > 0 && (p[0] != '{' || !utf8.Valid(p) || !json.Valid(p)) {
		return nil, field("result is not a JSON object")
	}
	return Ending{Result: string(p)}, nil
}

// Release gives a frame slot back to the game. Host → game.
//
//	0 1 slot
type Release struct{ Slot uint8 }

func (Release) Type() Type { return TypeRelease }

func (m Release) Append(b []byte) []byte {
	b, start := begin(b, TypeRelease)
	b = append(b, m.Slot)
	return end(b, start)
}

func decodeRelease(p []byte) (Message, error) {
	if err := exact(p, 1); err != nil {
		return nil, err
	}
	if p[0] >= MaxSlots {
		return nil, field("slot %d", p[0])
	}
	return Release{Slot: p[0]}, nil
}

// AudioRelease gives an audio slot back to the game. Host → game.
//
//	0 1 slot
type AudioRelease struct{ Slot uint8 }

func (AudioRelease) Type() Type { return TypeAudioRelease }

func (m AudioRelease) Append(b []byte) []byte {
	b, start := begin(b, TypeAudioRelease)
	b = append(b, m.Slot)
	return end(b, start)
}

func decodeAudioRelease(p []byte) (Message, error) {
	if err := exact(p, 1); err != nil {
		return nil, err
	}
	if p[0] >= MaxAudioSlots {
		return nil, field("slot %d", p[0])
	}
	return AudioRelease{Slot: p[0]}, nil
}

// Input carries a batch of one player's input events, in the order the host received them.
// Each record is exactly an input wire message (package input, docs/PROTOCOL.md "Input wire
// format"), so a game SDK decodes them with the same decoder as the host. Host → game.
//
//	0 1 player (0..7)
//	1 1 count (1..64)
//	2 … count × { len u8, record[len] }
//
// Build one with Add; read it with Events.
type Input struct {
	Player uint8
	n      int
	recs   []byte // count × {len, record}, validated
}

func (*Input) Type() Type { return TypeInput }

// Add appends ev to the batch. It reports false, adding nothing, when the batch is full or
// ev is not a valid input event.
func (m *Input) Add(ev input.Event) bool {
	if m.n >= MaxInputBatch {
		return false
	}
	start := len(m.recs)
	m.recs = append(m.recs, 0)
	m.recs = input.Append(m.recs, ev)
	rec := m.recs[start+1:]
	if _, err := input.Decode(rec); err != nil {
		m.recs = m.recs[:start]
		return false
	}
	m.recs[start] = byte(len(rec))
	m.n++
	return true
}

// Len is the number of events in the batch.
func (m *Input) Len() int { return m.n }

// Events yields the batch's events in order.
func (m *Input) Events() iter.Seq[input.Event] {
	return func(yield func(input.Event) bool) {
		for p := m.recs; len(p) > 0; {
			n := int(p[0])
			ev, _ := input.Decode(p[1 : 1+n]) // validated by decodeInput or Add
			if !yield(ev) {
				return
			}
			p = p[1+n:]
		}
	}
}

func (m *Input) Append(b []byte) []byte {
	b, start := begin(b, TypeInput)
	b = append(b, m.Player, byte(m.n))
	b = append(b, m.recs...)
	return end(b, start)
}

func decodeInput(p []byte) (Message, error) {
	if len(p) < 2 {
		return nil, ErrShort
	}
	player, count := p[0], int(p[1])
	if player >= MaxPlayers {
		return nil, field("player %d", player)
	}
	if count == 0 || count > MaxInputBatch {
		return nil, field("count %d", count)
	}
	recs := p[2:]
	q := recs
	for i := range count {
		if len(q) == 0 {
			return nil, ErrShort
		}
		n := int(q[0])
		if 1+n > len(q) {
			return nil, ErrShort
		}
		if _, err := input.Decode(q[1 : 1+n]); err != nil {
			return nil, fmt.Errorf("event %d: %w: %w", i, ErrField, err)
		}
		q = q[1+n:]
	}
	if len(q) != 0 {
		return nil, ErrLong
	}
	return &Input{Player: player, n: count, recs: append([]byte(nil), recs...)}, nil
}

// Assign gives a Ready game its session. Host → game.
//
//	0 1 id_len (1..64)
//	1 … session id: printable ASCII, no spaces
//	… … params: 0..4096 opaque bytes (the studio's, from the join request)
type Assign struct {
	Session string
	Params  []byte
}

func (Assign) Type() Type { return TypeAssign }

func (m Assign) Append(b []byte) []byte {
	b, start := begin(b, TypeAssign)
	b = append(b, byte(len(m.Session)))
	b = append(b, m.Session...)
	b = append(b, m.Params...)
	return end(b, start)
}

// idAndPayload splits {u8 len, id, payload} and checks both.
func idAndPayload(p []byte) (id, payload []byte, err error) {
	if len(p) < 1 {
		return nil, nil, ErrShort
	}
	n := int(p[0])
	if 1+n > len(p) {
		return nil, nil, ErrShort
	}
	id, payload = p[1:1+n], p[1+n:]
	if !validID(id) {
		return nil, nil, field("id %q", id)
	}
	if len(payload) > MaxPayload {
		return nil, nil, ErrLong
	}
	return id, payload, nil
}

func decodeAssign(p []byte) (Message, error) {
	id, params, err := idAndPayload(p)
	if err != nil {
		return nil, err
	}
	return Assign{Session: string(id), Params: cloneOrNil(params)}, nil
}

func cloneOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// PlayerJoined says a player has joined (the first one right after Assign). Host → game.
//
//	0 1 player (0..7)
//	1 1 id_len (1..64)
//	2 … player id: printable ASCII, no spaces
//	… … payload: 0..4096 opaque bytes the studio's backend attached to the join
type PlayerJoined struct {
	Player  uint8
	ID      string
	Payload []byte
}

func (PlayerJoined) Type() Type { return TypePlayerJoined }

func (m PlayerJoined) Append(b []byte) []byte {
	b, start := begin(b, TypePlayerJoined)
	b = append(b, m.Player, byte(len(m.ID)))
	b = append(b, m.ID...)
	b = append(b, m.Payload...)
	return end(b, start)
}

func decodePlayerJoined(p []byte) (Message, error) {
	if len(p) < 1 {
		return nil, ErrShort
	}
	if p[0] >= MaxPlayers {
		return nil, field("player %d", p[0])
	}
	id, payload, err := idAndPayload(p[1:])
	if err != nil {
		return nil, err
	}
	return PlayerJoined{Player: p[0], ID: string(id), Payload: cloneOrNil(payload)}, nil
}

// PlayerLeft says a player has gone for good. Host → game.
//
//	0 1 player
type PlayerLeft struct{ Player uint8 }

// PlayerAway says a player's connection dropped; the host waits for a resume. Host → game.
//
//	0 1 player
type PlayerAway struct{ Player uint8 }

// PlayerBack says an away player has resumed. Host → game.
//
//	0 1 player
type PlayerBack struct{ Player uint8 }

func (PlayerLeft) Type() Type { return TypePlayerLeft }
func (PlayerAway) Type() Type { return TypePlayerAway }
func (PlayerBack) Type() Type { return TypePlayerBack }

func (m PlayerLeft) Append(b []byte) []byte { return appendByte(b, m.Type(), m.Player) }
func (m PlayerAway) Append(b []byte) []byte { return appendByte(b, m.Type(), m.Player) }
func (m PlayerBack) Append(b []byte) []byte { return appendByte(b, m.Type(), m.Player) }

func appendByte(b []byte, t Type, v uint8) []byte {
	b, start := begin(b, t)
	b = append(b, v)
	return end(b, start)
}

func playerOnly(mk func(uint8) Message) func([]byte) (Message, error) {
	return func(p []byte) (Message, error) {
		if err := exact(p, 1); err != nil {
			return nil, err
		}
		if p[0] >= MaxPlayers {
			return nil, field("player %d", p[0])
		}
		return mk(p[0]), nil
	}
}

// Drain asks the game to end within deadline_ms (the host is going away): finish the round,
// send Ending, exit. Host → game.
//
//	0 4 deadline_ms (1..86400000)
type Drain struct{ DeadlineMS uint32 }

func (Drain) Type() Type { return TypeDrain }

func (m Drain) Append(b []byte) []byte {
	b, start := begin(b, TypeDrain)
	b = binary.LittleEndian.AppendUint32(b, m.DeadlineMS)
	return end(b, start)
}

func decodeDrain(p []byte) (Message, error) {
	if err := exact(p, 4); err != nil {
		return nil, err
	}
	m := Drain{DeadlineMS: u32(p, 0)}
	if m.DeadlineMS == 0 || m.DeadlineMS > MaxDrainMS {
		return nil, field("deadline %d ms", m.DeadlineMS)
	}
	return m, nil
}

// Shutdown tells the game to exit within grace_ms; then the host kills it. Host → game.
//
//	0 4 grace_ms (0..600000)
type Shutdown struct{ GraceMS uint32 }

func (Shutdown) Type() Type { return TypeShutdown }

func (m Shutdown) Append(b []byte) []byte {
	b, start := begin(b, TypeShutdown)
	b = binary.LittleEndian.AppendUint32(b, m.GraceMS)
	return end(b, start)
}

func decodeShutdown(p []byte) (Message, error) {
	if err := exact(p, 4); err != nil {
		return nil, err
	}
	m := Shutdown{GraceMS: u32(p, 0)}
	if m.GraceMS > MaxGraceMS {
		return nil, field("grace %d ms", m.GraceMS)
	}
	return m, nil
}
