// Package encoder turns the game's RGBA frames into a low-latency H.264 stream with libavcodec
// (cgo), and decodes such a stream back for tests and tools.
//
// # Stream
//
// Encode takes one game.Frame and returns one Packet: a complete Annex-B access unit for that
// frame, never a frame later. Every choice below serves the latency of one frame first, then
// the browser's ability to decode it:
//
//   - Constrained baseline profile (profile_idc 66 with constraint_set1), level 3.2 up to
//     1280×720 and 4.2 above: what every WebRTC H.264 decoder accepts (the SDP offers
//     profile-level-id 42e01f). No CABAC and no B-frames, so decode order is display order.
//   - libx264 with tune zerolatency and preset ultrafast (Config.Preset): no lookahead
//     (rc-lookahead 0), no B-frames (max_b_frames 0), slice threads instead of frame threads, so
//     nothing waits for later frames. Each Encode sends one frame and takes its packet out at
//     once; if an encoder ever held a frame back, Encode returns ErrDelayed.
//   - CBR: the target bit rate is also the maximum (rc_max_rate) and the VBV buffer holds about
//     two frames (bit rate / FPS × 2). No frame can be much larger than two average frames, so
//     none sits long in the network's queues. The price is paid at IDRs, which come out
//     blurry and sharpen over the next frames.
//   - SPS and PPS are repeated in-band in front of every IDR (no global header), so a decoder
//     can start from any IDR, and nothing about the stream has to travel in the SDP.
//   - IDRs come with the first frame, when Encode is asked for one (forceKeyframe, e.g. for
//     RTCP PLI/FIR; libx264's forced-idr makes it a real IDR, not a recovery-point I-frame)
//     and, if Config.GOP > 0, every GOP frames counted from the last IDR, forced ones
//     included. Scene-cut detection is off, so no IDR comes unasked.
//   - pts is a frame counter in a 1/FPS time base. The VUI says BT.601 matrix, limited range,
//     which is what the conversion below produces.
//
// # Colour conversion
//
// The frame is converted from RGBA to planar YUV 4:2:0 with BT.601 coefficients and limited
// range (16–235), the matrix and range swscale and therefore ffmpeg use by default, so
// results compare with ffmpeg's. Chroma is the mean of each 2×2 block. The converter is C in
// this package rather than swscale, because swscale was two to five times slower at this
// job. BenchmarkConvert, on the 2-core AMD EPYC build machine (ms per 1280×720 frame, noisy
// because the machine was shared):
//
//	ours, 1 band of rows           0.74
//	ours, 2 bands in parallel      0.38–0.51
//	swscale SWS_FAST_BILINEAR      2.4   (1.3–1.6 with 2 slice threads via sws_scale_frame)
//	swscale SWS_POINT              1.7   (1.7 with 2 threads)
//	swscale SWS_BICUBIC            3.0   (1.7–2.2 with 2 threads; ffmpeg's default)
//	swscale SWS_BILINEAR, SWS_AREA 2.5
//
// (and 1.5–1.9 ms against 4–11 ms at 1920×1080, where memory bandwidth limits both). The
// converter is plain C that the compiler vectorises, built twice on x86-64 (AVX2 and
// baseline) with the better one picked at load time. Encode splits the frame into
// min(Threads, CPUs) bands of at least 180 rows and converts them in parallel: the calling
// goroutine does the first band and one worker goroutine per other band does the rest.
// The pixels are passed to C in place, never copied (cgo allows a pointer to Go memory that
// holds no Go pointers for the duration of a call). Encode allocates nothing once its packet
// buffer has grown to the largest packet.
//
// # Backends
//
// Config.Backend "auto" takes the first of h264_nvenc, h264_vaapi and libx264 that Probe lists
// and that opens with the config. Probe opens each at 256×144 and encodes one frame with it,
// so a backend is listed only if it really works on this machine; the answer is cached.
//
//   - libx264: the software encoder, always present in our builds, and the only backend the
//     tests and benchmarks exercise. SetBitrate works (libx264 reconfigures on the next frame).
//   - h264_nvenc: preset p1, tune ull, zerolatency, delay 0, rc cbr, forced-idr, baseline
//     profile, the same level. Fed YUV 4:2:0 from system memory (NVENC uploads it). SetBitrate
//     changes the targets; NVENC applies them only where the GPU supports dynamic bit-rate
//     changes, and libavcodec does not report whether it did. Untested: our build machines
//     have no NVIDIA GPU.
//   - h264_vaapi: opens the default VAAPI device and a pool of NV12 surfaces; frames are
//     converted to NV12 with swscale (SWS_BICUBIC) and uploaded. Constrained baseline, CBR,
//     async_depth 1. SetBitrate returns ErrNotSupported. Untested: no VAAPI device here.
//
// Other libavcodec encoders are refused with ErrUnknownBackend: this package would not know
// their low-latency settings.
//
// # Ownership and threads
//
// An Encoder or Decoder is not safe for concurrent use: one goroutine owns it from New to
// Close. Encode only reads the frame, and only while it runs; the caller keeps ownership.
// Packet.Data belongs to the Encoder and is overwritten by the next Encode: copy it to keep
// it (it is Go memory, so it stays readable after Close). libx264 runs Config.Threads slice
// threads of its own (default: the number of CPUs, at most 4) inside each Encode call.
//
// Close frees all C memory and stops the conversion workers; it is idempotent, and Encode
// or SetBitrate after it return ErrClosed. An Encoder that is never closed leaks its C
// memory and its worker goroutines.
//
// # Logging
//
// The package prints nothing. It installs a process-wide libav log callback (libav's logging
// is global): messages at error level about a codec context of this package become the
// Detail of the AVError returned by the failing call; everything else is dropped. (libva
// itself may still print a line to stderr when it opens a VAAPI device.)
package encoder
