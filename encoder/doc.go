// Package encoder turns the game's frames (RGBA, or YUV 4:2:0 from a game that renders it)
// into a low-latency H.264 stream (libavcodec) or VP8 stream (libvpx), both through cgo,
// optionally scaled down on the way, and decodes such streams back for tests and tools.
//
// Encode takes one game.Frame and returns one Packet: the whole encoded frame, never a frame
// later. Every choice below serves the latency of one frame first, then the browser's ability
// to decode it. Measurements are from the 2-core AMD EPYC build machine, shared with other
// work while they ran (so single numbers are noisy); the benchmarks named reproduce them.
//
// # H.264 stream
//
//   - Constrained baseline profile (profile_idc 66 with constraint_set1), level 3.2 up to
//     1280×720 and 4.2 above: what every WebRTC H.264 decoder accepts (the SDP offers
//     profile-level-id 42e01f). No CABAC and no B-frames, so decode order is display order.
//   - libx264 with tune zerolatency and preset ultrafast (Config.Preset): no lookahead
//     (rc-lookahead 0), no B-frames (max_b_frames 0), slice threads instead of frame threads, so
//     nothing waits for later frames. Each Encode sends one frame and takes its packet out at
//     once; if an encoder ever held a frame back, Encode returns ErrDelayed.
//   - CBR with a VBV of Config.VBVFrames frames; see "Rate control".
//   - SPS and PPS are repeated in-band in front of every IDR (no global header), so a decoder
//     can start from any IDR, and nothing about the stream has to travel in the SDP.
//   - IDRs come with the first frame, when Encode is asked for one (forceKeyframe, e.g. for
//     RTCP PLI/FIR; libx264's forced-idr makes it a real IDR, not a recovery-point I-frame)
//     and, if Config.GOP > 0, every GOP frames counted from the last IDR, forced ones
//     included. Scene-cut detection is off, so no IDR comes unasked.
//   - pts is a frame counter in a 1/FPS time base. The VUI says BT.601 matrix, limited range,
//     which is what the conversion below produces, and what YUV frames are changed to (see
//     "YUV frames").
//
// # VP8 stream
//
// Config.Codec CodecVP8 (Backend BackendVP8, "libvpx") makes each Packet one VP8 frame as
// RFC 6386 defines it, which is what an RFC 7741 payloader takes. libvpx is set up as
// libwebrtc sets it up for real-time video, except where a game stream differs:
//
//   - Deadline realtime, one pass, g_lag_in_frames 0 and auto-alt-ref 0: no lookahead and no
//     hidden alt-ref frames, so every vpx_codec_encode returns the frame it was given, and
//     only that one (Encode checks both).
//   - cpu-used -10, a fixed speed (negative): a positive value lets libvpx pick its speed from
//     its own timing of earlier frames, which a shared machine makes erratic. -10 is the knee
//     of the table below.
//   - CBR (rc_end_usage VPX_CBR) at Config.BitrateKbps, quantizer 4–63: 63, libvpx's coarsest,
//     so that rate control can always reach the target (libwebrtc stops at 56 and drops
//     frames when it must, which Encode does not do). Undershoot 100 % and overshoot 15 %,
//     libwebrtc's values: a frame may come out much smaller than its share (easy content
//     wastes nothing), but rate control aims at most 15 % above the target when it has bits
//     in hand.
//   - The buffer model (rc_buf_sz, rc_buf_initial_sz, rc_buf_optimal_sz) is Config.VBVFrames
//     frames, in milliseconds as libvpx counts it; see "Rate control".
//   - max-intra-rate (VP8E_SET_MAX_INTRA_BITRATE_PCT) caps a keyframe's target at twice the
//     buffer, and never above 100 ms of the link (at 60 fps and the default buffer: 400 %,
//     four average frames). Without a cap a keyframe took 16 frames' worth (120 KB at 6000
//     kbit/s). With a cap of one buffer (200 %) the keyframe came out so blurry that the next
//     frame, which libvpx sizes like the frames before the keyframe, spent almost three
//     frames repairing it; at 400 % the two share the cost and the larger of them halves
//     (demo game, 960×540 at 3000 kbit/s: 5.9 KB + 17.0 KB at 200 %, 10.6 KB + 10.9 KB at
//     400 %; eight frames from the keyframe cost the same 8 frames' worth either way).
//   - Keyframes only on demand: kf_mode disabled, so libvpx places none itself; forceKeyframe
//     sends VPX_EFLAG_FORCE_KF, and Config.GOP is counted here the way libx264 counts it
//     (from the last keyframe, forced ones included).
//   - Error resilient (VPX_ERROR_RESILIENT_DEFAULT | VPX_ERROR_RESILIENT_PARTITIONS): each frame
//     is coded without the entropy context the previous frame left behind, so a lost frame
//     does not spoil how the next ones are parsed. One token partition, as libwebrtc uses:
//     four made encoding no faster here (9.9 against 9.3 ms at 720p) and the browser does not
//     decode partial frames; the partitions flag keeps partitions independent should that
//     change.
//   - static-thresh 1 (only macroblocks that match exactly are skipped without coding, as
//     libwebrtc does); noise sensitivity 0 (rendered frames have no sensor noise to remove);
//     frame dropping off (rc_dropframe_thresh 0), because Encode promises a packet for every
//     frame; no spatial resampling (resolution is the media layer's decision).
//   - Config.Threads libvpx threads (rows of macroblocks encoded in parallel).
//
// libvpx's speeds, by BenchmarkVP8Speed on demo-game frames (ms per frame for Encode as a
// whole; luma PSNR of the decoded stream against the encoded picture):
//
//	cpu-used   720p at 6000 kbit/s   540p from 720p at 3000 kbit/s
//	  -6       10.9 ms  38.2 dB       7.0 ms  39.7 dB
//	  -8       10.9 ms  38.1 dB       6.7 ms  39.4 dB
//	 -10        9.5 ms  37.9 dB       7.0 ms  38.4 dB
//	 -12        7.9 ms  36.1 dB       6.7 ms  35.9 dB
//	 -14        7.9 ms  35.8 dB       6.4 ms  35.9 dB
//	 -16        7.6 ms  32.8 dB       5.7 ms  33.0 dB
//
// Faster settings than -10 lose 2–3 dB and save little (nothing at 540p); at 720p60, -10
// leaves 40 % of the frame time on 2 cores. libx264 ultrafast does the same 720p in 4.0 ms
// at 38.1 dB and 5.0 Mbit/s (BenchmarkEncodeLadder): VP8 costs two to three times the CPU.
//
// Why libvpx directly and not libavcodec's libvpx wrapper, like the H.264 backends: the
// wrapper in FFmpeg 5.1 (Debian 12) cannot change the bit rate of an open encoder. Its
// vpx_encode reconfigures libvpx (vpx_codec_enc_config_set) only when AVCodecContext.qmax
// changes; a new bit_rate is ignored (measured: after 4000 → 1000 kbit/s the frames stayed at
// the 4000 kbit/s size), and reaching into the wrapper's private vpx_codec_ctx would tie this
// package to FFmpeg's internals. libvpx's own API (vpx/vpx_encoder.h, vpx/vp8cx.h) is small,
// stable and does what we need: vp8.c holds all of it. The converter and the picture are the
// same as for H.264; libvpx reads the picture's planes in place.
//
// # Rate control
//
// Both codecs run CBR: the target is also the cap. Config.VBVFrames (default 3 for H.264, 2
// for VP8) sizes the rate-control buffer in frames at the target rate, and so trades keyframe
// quality against burstiness: the buffer in time is the worst burst the network and the pacer
// must absorb.
//
//   - libx264: the VBV is bit rate / FPS × VBVFrames (rc_buffer_size, rc_max_rate = bit
//     rate). x264's VBV is a hard cap: no frame is larger than the buffer holds, so an IDR is
//     at most about VBVFrames frames and comes out blurry, sharpening over the next frames.
//     The cap costs rate: on game-like content (TestSetBitrateWithoutKeyframe) libx264
//     delivers 79–89 % of the target at VBVFrames 2, about 76 % at 1, 83–95 % at 4. In the
//     network lab (docs/BENCHMARKS.md) chromium received 80–90 % of the target at 2, 89–96 %
//     at 3 and 85–100 % at 4; 3 is the default: most of the gain, and a frame never needs more
//     than two frame times to leave at the pacer's 1.5× rate.
//   - libvpx: rc_buf_sz = initial = optimal = VBVFrames frames in milliseconds. libvpx's
//     buffer steers the average; it is not a cap on each frame: it hits the target
//     (87–97 % in the same test, 95–100 % on demo-game frames), but single frames reach two
//     to three times the mean, and after an overshoot it repays the debt over the following
//     frames. A libwebrtc-sized buffer (1000/500/600 ms) gave the same averages with spikes
//     up to seven times the mean on textured content. Keyframes: on demo-game frames at
//     1500 kbit/s, 960×540, 5–8 KB (100 ms of that link is 18.75 KB; libx264's IDR 4.4 KB).
//     On detailed, noisy content VP8's coarsest quantizer is still not coarse enough for the
//     cap: 19–24 KB there, and libvpx keeps a keyframe's quantizer at about 53 of 63 while its
//     buffer is full, which can double that at higher rates.
//
// SetBitrate changes the target from the next frame on, without a keyframe, for both
// software backends; the buffer stays VBVFrames frames long at the new rate. libx264:
// libavcodec's wrapper sees bit_rate, rc_max_rate and rc_buffer_size change before the next
// frame and calls x264_encoder_reconfig; x264 honours it because the VBV was on from the
// start (it refuses to turn one on later). libvpx: vpx_codec_enc_config_set with the new
// rc_target_bitrate; the buffer, counted in milliseconds, and the keyframe cap, counted in
// per cent of a frame, follow the rate by themselves. Both reach the new rate within half a
// second (TestSetBitrateWithoutKeyframe: 4000 → 1000 → 4000 kbit/s at 640×360, each rate's
// last 30 frames within ±25 %).
//
// # Colour conversion
//
// The frame is converted from RGBA to planar YUV 4:2:0 with BT.601 coefficients and limited
// range (16–235), the matrix and range swscale and therefore ffmpeg use by default, so
// results compare with ffmpeg's. Chroma is the mean of each 2×2 block. The converter is C in
// this package rather than swscale, because swscale was two to five times slower at this
// job. BenchmarkConvert (ms per 1280×720 frame, noisy because the machine was shared):
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
// # YUV frames
//
// A game that renders YUV 4:2:0 itself (game.I420 or game.NV12: a game process whose
// buffer_pool is I420 or NV12, docs/SDK.md) needs no conversion. Encode takes such frames
// as they come, frame by frame and in any mix with RGBA, and copies their planes into the
// picture in the same row bands (NV12's interleaved chroma taken apart on the way; for
// VAAPI, I420's put together). Games render YUV with the BT.709 matrix, limited range, as
// docs/SDK.md asks, and our streams are BT.601 (the VUI above; VP8 has no way to say any
// other matrix), so the copy also changes the matrix: a fixed-point 3×3 on each 2×2 block's
// luma and its chroma (codec.c). A BT.601 decoder then shows the colours the game's picture
// has under BT.709, to one step of rounding (TestYUVPicture); for the RGB the game drew,
// that is the picture our RGBA converter makes, to one step, wherever colour is flat
// within a 2×2 block (TestYUVColours). Where it is not, 4:2:0 drops a different part of the
// colour under each matrix: on textured game-like content the two pictures' luma agree to
// 35–52 dB, their chroma to 53–58 dB (TestYUVMatchesRGBA).
//
// Saying BT.709 in the stream instead would spare the change of matrix, 0.1 ms per 720p
// frame (i420-copy-only below), but VP8 cannot say it, and the VUI is written when the
// encoder opens, before its first frame shows which kind of frame it gets.
//
// Encode's ConvertDur in ms per frame (BenchmarkEncode and BenchmarkEncodeI420 on the same
// moving frames; the rungs below 720p from BenchmarkEncodeLadder and BenchmarkEncodeI420's
// ladder, on demo-game frames, both codecs; four runs in one session on the shared machine,
// where the RGBA converter ran at about half the speed of "Colour conversion"'s table):
//
//	                        RGBA        I420        NV12        I420 copy only
//	1280×720                0.91–1.02   0.42–0.52   0.51–0.53   0.33–0.37
//	1920×1080               1.70–1.95   0.87–0.90   0.93–1.02   0.54–0.81
//	960×540 from 1280×720   1.88–2.08   1.26–1.45
//	640×360 from 1280×720   0.80–1.19   0.38–0.64
//
// The encoding itself takes as long either way (encode-µs/op within the runs' noise). The
// decoded luma against the encoded picture comes out 0.2–0.4 dB lower from I420 frames
// (psnr-Y-dB of the ladder rows, both codecs), whose pictures differ from RGBA's at colour
// edges as said above.
//
// # Scaling
//
// Config.SrcWidth and SrcHeight let an encoder take frames larger than the picture it
// encodes, for a resolution ladder: the game keeps rendering 1280×720 and the encoder
// scales each frame down while converting it. Only down: a stream larger than the game's
// frames would spend bits on nothing. How, by BenchmarkScale (ms per 1280×720 frame,
// swscale on 2 slice threads unless noted):
//
//	                                     to 960×540   to 640×360
//	exact 2:1 box filter, fused (ours)         –          0.71–0.75
//	ours at 1280×720, then swscale bilinear  1.5          1.2–1.3
//	ours, then swscale fast bilinear         1.4–1.5      1.2–1.3
//	ours, then swscale area                  1.6          1.2
//	swscale alone, bilinear                  2.1          1.8
//	swscale alone, fast bilinear             2.2–2.5      1.2
//	swscale alone, bilinear, 1 thread        3.5–3.9      3.1–3.5
//
// An exact 2:1 reduction (1280×720 → 640×360) takes the fused filter: each luma sample is
// the mean of a 2×2 block of pixels, each chroma sample of a 4×4 block, converted in the same
// pass as ep_rgba_to_i420 and in the same bands (a box filter is exact for 2:1, and it agrees
// with swscale's area filter to 56 dB). Every other size takes our converter at the frame's
// size followed by swscale's bilinear filter on the YUV planes, on min(Threads, CPUs) slice
// threads: it is as fast as any, and unlike fast bilinear it widens its filter when
// reducing, so detail does not alias. VAAPI scales with swscale in its NV12 pass.
//
// YUV frames are scaled the same way from their own format: an exact 2:1 through a box
// filter on the planes (each luma sample the mean of 2×2, each chroma sample of 2×2 chroma
// samples, so of 4×4 pixels, as for RGBA) fused with the copy; any other size by swscale's
// bilinear filter straight from I420 or NV12 into the picture (its context made with the
// first such frame), the matrix then changed in place, in bands. VAAPI's NV12 takes swscale
// for every YUV size but its own.
//
// A resolution switch closes the encoder and opens a new one at the new Width and Height
// with the same SrcWidth and SrcHeight, which starts a new keyframe (for H.264 with new SPS
// and PPS). Opening, encoding the first frame and closing costs about 10 ms for either
// codec at 960×540 (BenchmarkOpen); Close frees everything (checked with valgrind over
// repeated open/encode/close cycles of every backend and conversion: nothing lost, and
// nothing more in use at exit after six cycles than after one).
//
// # Backends
//
// Config.Backend "auto" takes the first of the codec's backends that ProbeCodec lists and that
// opens with the config: for H.264 h264_nvenc, h264_vaapi, libx264; for VP8 libvpx. ProbeCodec
// opens each at 256×144 and encodes one frame with it, so a backend is listed only if it
// really works on this machine; the answer is cached per codec. Probe is ProbeCodec(CodecH264).
//
//   - libx264: the software H.264 encoder, always present in our builds. SetBitrate works
//     without an IDR.
//   - libvpx: the software VP8 encoder, linked directly (see "VP8 stream"), always present.
//     SetBitrate works without a keyframe.
//   - h264_nvenc: preset p1, tune ull, zerolatency, delay 0, rc cbr, forced-idr, baseline
//     profile, the same level. Fed YUV 4:2:0 from system memory (NVENC uploads it). SetBitrate
//     changes the targets; libavcodec's nvenc wrapper then resets the encoder with an IDR,
//     and NVENC applies it only where the GPU supports dynamic bit-rate changes. Untested: our
//     build machines have no NVIDIA GPU.
//   - h264_vaapi: opens the default VAAPI device and a pool of NV12 surfaces; RGBA frames are
//     converted (and scaled) to NV12 with swscale (SWS_BICUBIC) and uploaded, YUV frames
//     copied (or scaled) as "YUV frames" says. Constrained
//     baseline, CBR, async_depth 1. SetBitrate returns ErrNotSupported. Untested: no VAAPI
//     device here.
//
// Other encoders are refused with ErrUnknownBackend: this package would not know their
// low-latency settings. So is a backend of the other codec.
//
// # Ownership and threads
//
// An Encoder or Decoder is not safe for concurrent use: one goroutine owns it from New to
// Close. Encode only reads the frame, and only while it runs; the caller keeps ownership.
// Packet.Data belongs to the Encoder and is overwritten by the next Encode: copy it to keep
// it (it is Go memory, so it stays readable after Close). libx264 runs Config.Threads slice
// threads and libvpx Config.Threads threads of their own (default: the number of CPUs, at
// most 4) inside each Encode call; swscale, when scaling, as many slice threads.
//
// Close frees all C memory and stops the conversion workers; it is idempotent, and Encode
// or SetBitrate after it return ErrClosed. An Encoder that is never closed leaks its C
// memory and its worker goroutines.
//
// # Logging
//
// The package prints nothing. It installs a process-wide libav log callback (libav's logging
// is global): messages at error level about a codec context of this package become the
// Detail of the AVError returned by the failing call; everything else is dropped. libvpx does
// not log; its error description for the failing call becomes the Detail likewise. (libva
// itself may still print a line to stderr when it opens a VAAPI device.)
package encoder
