package gameproto

import "encoding/binary"

// Pool limits. Values are part of the wire format.
const (
	MaxSlotSize      = 256 << 20 // one frame slot (7680x4320 RGBA is 127 MiB)
	MaxAudioSlotSize = 1 << 20   // one audio slot
	// Alignment the layout uses: every plane offset and stride is a multiple of PlaneAlign,
	// every slot a multiple of SlotAlign (a page), so slots can be mapped on their own.
	PlaneAlign = 64
	SlotAlign  = 4096
)

// Plane is one plane of a frame slot: it starts Offset bytes into the slot, and row y starts
// Stride bytes after row y-1.
type Plane struct {
	Offset, Stride uint32
}

// BufferPool registers the frame buffers: one memfd the host created, sized to
// NSlots×SlotSize and sealed, travels with it. Slot k is the SlotSize bytes at k×SlotSize.
// Host → game; it carries exactly one fd.
//
//	0  1 n_slots (1..8)
//	1  1 format (1 RGBA, 2 I420, 3 NV12)
//	2  2 reserved, 0
//	4  2 width  (even, 16..7680)
//	6  2 height (even, 16..4320)
//	8  4 slot_size (≤ 256 MiB)
//	12 8 plane 0 {offset u32, stride u32}: RGBA or Y
//	20 8 plane 1: U (I420) or interleaved UV (NV12); zero for RGBA
//	28 8 plane 2: V (I420); zero otherwise
type BufferPool struct {
	NSlots        uint8
	Format        PixelFormat
	Width, Height uint16
	SlotSize      uint32
	Planes        [3]Plane
}

const bufferPoolSize = 36

// NewBufferPool lays out n slots of w×h frames in format f: strides and plane offsets rounded
// up to PlaneAlign, the slot to SlotAlign. It is the layout every edgeplay host sends; a game
// must nevertheless use the offsets and strides it receives, not compute its own.
func NewBufferPool(f PixelFormat, w, h, n int) (BufferPool, error) {
	if !validSize(w, h) {
		return BufferPool{}, field("size %dx%d", w, h)
	}
	if n < 1 || n > MaxSlots {
		return BufferPool{}, field("slots %d", n)
	}
	p := BufferPool{NSlots: uint8(n), Format: f, Width: uint16(w), Height: uint16(h)}
	np := f.planes()
	if np == 0 {
		return BufferPool{}, field("format %d", f)
	}
	off := 0
	for i := range np {
		rowBytes, rows := f.plane(i, w, h)
		stride := alignUp(rowBytes, PlaneAlign)
		p.Planes[i] = Plane{Offset: uint32(off), Stride: uint32(stride)}
		off = alignUp(off+stride*rows, PlaneAlign)
	}
	p.SlotSize = uint32(alignUp(off, SlotAlign))
	if err := p.validate(); err != nil { // cannot fail for valid sizes; kept as a guard
		return BufferPool{}, err
	}
	return p, nil
}

func alignUp(v, a int) int { return (v + a - 1) / a * a }

// planes is the number of planes of format f, 0 for an unknown format.
func (f PixelFormat) planes() int {
	switch f {
	case RGBA:
		return 1
	case I420:
		return 3
	case NV12:
		return 2
	}
	return 0
}

// plane returns the bytes of pixel data per row and the rows of plane i of a w×h frame.
func (f PixelFormat) plane(i, w, h int) (rowBytes, rows int) {
	switch {
	case f == RGBA:
		return 4 * w, h
	case i == 0:
		return w, h
	case f == I420:
		return w / 2, h / 2
	default: // NV12 UV
		return w, h / 2
	}
}

// Size is the size of the whole pool: the memfd's size.
func (p BufferPool) Size() int64 { return int64(p.NSlots) * int64(p.SlotSize) }

// Slot returns slot k of the pool's mapping mem, or nil when k is not a slot or mem is too
// small.
func (p BufferPool) Slot(mem []byte, k int) []byte {
	if k < 0 || k >= int(p.NSlots) || int64(len(mem)) < p.Size() {
		return nil
	}
	s := int(p.SlotSize)
	return mem[k*s : (k+1)*s : (k+1)*s]
}

// Plane returns plane i of a slot (as Slot returns it) from its offset to the end of its last
// row, or nil when i is not a plane of the format or slot is too small.
func (p BufferPool) Plane(slot []byte, i int) []byte {
	if i < 0 || i >= p.Format.planes() {
		return nil
	}
	_, rows := p.Format.plane(i, int(p.Width), int(p.Height))
	pl := p.Planes[i]
	end := uint64(pl.Offset) + uint64(pl.Stride)*uint64(rows)
	if end > uint64(len(slot)) {
		return nil
	}
	return slot[pl.Offset:end:end]
}

// Check validates a FrameReady against the pool: its slot must be one of the pool's. The host
// also checks that the game owns the slot (it was not handed over and not yet released).
func (p BufferPool) Check(m FrameReady) error {
	if m.Slot >= p.NSlots {
		return field("slot %d of %d", m.Slot, p.NSlots)
	}
	return nil
}

func (BufferPool) Type() Type { return TypeBufferPool }

func (p BufferPool) Append(b []byte) []byte {
	b, start := begin(b, TypeBufferPool)
	b = append(b, p.NSlots, byte(p.Format), 0, 0)
	b = binary.LittleEndian.AppendUint16(b, p.Width)
	b = binary.LittleEndian.AppendUint16(b, p.Height)
	b = binary.LittleEndian.AppendUint32(b, p.SlotSize)
	for _, pl := range p.Planes {
		b = binary.LittleEndian.AppendUint32(b, pl.Offset)
		b = binary.LittleEndian.AppendUint32(b, pl.Stride)
	}
	return end(b, start)
}

func decodeBufferPool(b []byte) (Message, error) {
	if err := exact(b, bufferPoolSize); err != nil {
		return nil, err
	}
	if b[2] != 0 || b[3] != 0 {
		return nil, field("reserved bytes")
	}
	p := BufferPool{
		NSlots: b[0], Format: PixelFormat(b[1]),
		Width: u16(b, 4), Height: u16(b, 6), SlotSize: u32(b, 8),
	}
	for i := range p.Planes {
		p.Planes[i] = Plane{Offset: u32(b, 12+8*i), Stride: u32(b, 16+8*i)}
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// validate checks that every plane lies inside the slot, in order, without overlap, with
// strides wide enough for a row; planes the format does not have must be zero.
func (p BufferPool) validate() error {
	np := p.Format.planes()
	switch {
	case p.NSlots < 1 || p.NSlots > MaxSlots:
		return field("slots %d", p.NSlots)
	case np == 0:
		return field("format %d", p.Format)
	case !validSize(int(p.Width), int(p.Height)):
		return field("size %dx%d", p.Width, p.Height)
	case p.SlotSize == 0 || p.SlotSize > MaxSlotSize:
		return field("slot size %d", p.SlotSize)
	}
	var prevEnd uint64
	for i, pl := range p.Planes {
		if i >= np {
			if pl != (Plane{}) {
				return field("plane %d of %s is not zero", i, p.Format)
			}
			continue
		}
		rowBytes, rows := p.Format.plane(i, int(p.Width), int(p.Height))
		end := uint64(pl.Offset) + uint64(pl.Stride)*uint64(rows)
		switch {
		case uint64(pl.Stride) < uint64(rowBytes):
			return field("plane %d stride %d < %d", i, pl.Stride, rowBytes)
		case uint64(pl.Offset) < prevEnd:
			return field("plane %d offset %d overlaps the plane before", i, pl.Offset)
		case end > uint64(p.SlotSize):
			return field("plane %d ends at %d, past slot size %d", i, end, p.SlotSize)
		}
		prevEnd = end
	}
	return nil
}

// Audio sample formats of an AudioPool.
type SampleFormat uint8

const (
	S16 SampleFormat = 1 // signed 16-bit, little-endian
	F32 SampleFormat = 2 // 32-bit float, little-endian, −1..1
)

func (f SampleFormat) bytes() int {
	switch f {
	case S16:
		return 2
	case F32:
		return 4
	}
	return 0
}

// AudioPool registers the audio buffers: one sealed memfd of NSlots×SlotSize bytes travels
// with it; slot k holds up to SlotFrames frames of interleaved samples (L R L R …) from
// k×SlotSize. Host → game, only when both sides have CapAudio; it carries exactly one fd.
//
//	0  1 n_slots (1..32)
//	1  1 format (1 S16, 2 F32)
//	2  1 channels (2)
//	3  1 reserved, 0
//	4  4 rate (48000)
//	8  4 slot_frames (1..4800)
//	12 4 slot_size (≥ slot_frames × channels × sample bytes, ≤ 1 MiB)
type AudioPool struct {
	NSlots     uint8
	Format     SampleFormat
	Channels   uint8
	Rate       uint32
	SlotFrames uint32
	SlotSize   uint32
}

const audioPoolSize = 16

// NewAudioPool lays out n slots of frames frames each, 48 kHz stereo, in format f.
func NewAudioPool(f SampleFormat, frames, n int) (AudioPool, error) {
	p := AudioPool{
		NSlots: uint8(n), Format: f, Channels: AudioChannels, Rate: AudioRate,
		SlotFrames: uint32(frames), SlotSize: uint32(alignUp(frames*AudioChannels*f.bytes(), PlaneAlign)),
	}
	if n < 1 || n > MaxAudioSlots || frames < 1 || frames > MaxAudioFrames {
		return AudioPool{}, field("%d slots of %d frames", n, frames)
	}
	if err := p.validate(); err != nil {
		return AudioPool{}, err
	}
	return p, nil
}

// Size is the size of the whole pool: the memfd's size.
func (p AudioPool) Size() int64 { return int64(p.NSlots) * int64(p.SlotSize) }

// Slot returns the filled part of slot k for m.Frames frames, or nil when k is not a slot or
// mem is too small.
func (p AudioPool) Slot(mem []byte, m AudioReady) []byte {
	if p.Check(m) != nil || int64(len(mem)) < p.Size() {
		return nil
	}
	start := int(m.Slot) * int(p.SlotSize)
	n := int(m.Frames) * int(p.Channels) * p.Format.bytes()
	return mem[start : start+n : start+n]
}

// Check validates an AudioReady against the pool.
func (p AudioPool) Check(m AudioReady) error {
	switch {
	case m.Slot >= p.NSlots:
		return field("audio slot %d of %d", m.Slot, p.NSlots)
	case m.Frames == 0 || m.Frames > p.SlotFrames:
		return field("audio frames %d of %d", m.Frames, p.SlotFrames)
	}
	return nil
}

func (AudioPool) Type() Type { return TypeAudioPool }

func (p AudioPool) Append(b []byte) []byte {
	b, start := begin(b, TypeAudioPool)
	b = append(b, p.NSlots, byte(p.Format), p.Channels, 0)
	b = binary.LittleEndian.AppendUint32(b, p.Rate)
	b = binary.LittleEndian.AppendUint32(b, p.SlotFrames)
	b = binary.LittleEndian.AppendUint32(b, p.SlotSize)
	return end(b, start)
}

func decodeAudioPool(b []byte) (Message, error) {
	if err := exact(b, audioPoolSize); err != nil {
		return nil, err
	}
	if b[3] != 0 {
		return nil, field("reserved byte")
	}
	p := AudioPool{
		NSlots: b[0], Format: SampleFormat(b[1]), Channels: b[2],
		Rate: u32(b, 4), SlotFrames: u32(b, 8), SlotSize: u32(b, 12),
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p AudioPool) validate() error {
	switch {
	case p.NSlots < 1 || p.NSlots > MaxAudioSlots:
		return field("audio slots %d", p.NSlots)
	case p.Format.bytes() == 0:
		return field("sample format %d", p.Format)
	case p.Channels != AudioChannels:
		return field("channels %d", p.Channels)
	case p.Rate != AudioRate:
		return field("rate %d", p.Rate)
	case p.SlotFrames < 1 || p.SlotFrames > MaxAudioFrames:
		return field("slot frames %d", p.SlotFrames)
	case uint64(p.SlotSize) < uint64(p.SlotFrames)*AudioChannels*uint64(p.Format.bytes()) || p.SlotSize > MaxAudioSlotSize:
		return field("audio slot size %d", p.SlotSize)
	}
	return nil
}
