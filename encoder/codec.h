// C side of package encoder: thin wrappers around libavcodec and libswscale so that one frame
// costs a handful of cgo calls. Everything here is called from one goroutine per object (the
// Go types document the ownership rules); nothing keeps a Go pointer after a call returns.

#ifndef EDGEPLAY_ENCODER_CODEC_H
#define EDGEPLAY_ENCODER_CODEC_H

#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>

#define EP_ERRLEN 512

// ep_errsink collects the error-level messages that libavcodec logs about one codec context,
// so that they can be put into the Go error instead of being printed. It must be the first
// member of ep_encoder and ep_decoder: the log callback finds it through AVCodecContext.opaque.
typedef struct ep_errsink {
    char msg[EP_ERRLEN];
} ep_errsink;

typedef struct ep_enc_config {
    int width, height, fps;          // the encoded picture
    int src_width, src_height;       // the frames given to Encode: >= width, height
    int64_t bit_rate;    // bits per second
    int64_t buffer_bits; // VBV size in bits (libavcodec backends)
    int buffer_ms;       // the same buffer in milliseconds (libvpx counts it in time)
    int gop;             // frames between keyframes, 0 = only on demand
    int threads;
    int level;           // 32 = 3.2, 42 = 4.2 (H.264)
    const char *preset;  // libx264 only
    int conv;            // EP_CONV_*: how RGBA becomes the encoder's YUV picture
    int sws_flags;
    int sws_threads;
    int cpu_used;        // libvpx only: VP8E_SET_CPUUSED (negative: fixed speed)
    int max_intra_pct;   // libvpx only: keyframe target cap, % of an average frame
    int yuv_copy;        // benchmarks only: copy YUV frames as they are, without BT.709 -> BT.601
} ep_enc_config;

// Backend kinds; each needs its own options and, for VAAPI, its own frame path. EP_VP8 is
// libvpx driven through its own API, not through libavcodec (see vp8.c).
enum { EP_X264 = 1, EP_NVENC = 2, EP_VAAPI = 3, EP_VP8 = 4 };

// Ways to turn the RGBA frame into the encoder's picture:
//   EP_CONV_SAME  ep_rgba_to_i420 in row bands (frame and picture the same size)
//   EP_CONV_HALF  ep_rgba_to_i420_half in row bands (the frame is exactly twice the picture)
//   EP_CONV_SWS   swscale converts and scales in one pass (VAAPI's NV12 too)
//   EP_CONV_FULL_SWS  ep_rgba_to_i420 in row bands at the frame's size into e->full, then
//                     swscale scales the planes down to the picture
enum { EP_CONV_SAME = 0, EP_CONV_HALF = 1, EP_CONV_SWS = 2, EP_CONV_FULL_SWS = 3 };

// YUV frames (game.I420, game.NV12) take their own path: at the picture's size, or at exactly
// twice it with EP_CONV_HALF, ep_encoder_yuv_rows copies (or box-filters) them in, in row
// bands; otherwise swscale scales them from their own format (ep_encoder_scale_yuv) and
// ep_encoder_fix_rows finishes the picture in place. Either way their BT.709 matrix becomes
// the stream's BT.601 (see codec.c).
enum { EP_FMT_I420 = 1, EP_FMT_NV12 = 2 };

typedef struct ep_vpx ep_vpx; // vp8.c

typedef struct ep_encoder {
    ep_errsink err;
    int kind;
    int conv;
    AVCodecContext *ctx; // NULL for EP_VP8
    ep_vpx *vpx;         // EP_VP8 only
    struct SwsContext *sws;
    // sws_yuv[EP_FMT_*-1] scales YUV frames larger than the picture; made on first use.
    struct SwsContext *sws_yuv[2];
    AVFrame *frame;    // the picture the encoder reads (YUV420P, or NV12 for VAAPI)
    AVFrame *full;     // EP_CONV_FULL_SWS only: YUV420P at the frame's size
    AVFrame *hwframe;  // VAAPI only: the surface the software picture is uploaded to
    AVBufferRef *hwdev;    // VAAPI only
    AVBufferRef *hwframes; // VAAPI only
    AVPacket *pkt;
    // The last encoded frame, set by ep_encoder_encode when it returns 1 and valid until the
    // next call: it points into pkt, or into libvpx's output buffer.
    const uint8_t *out;
    int out_size;
    int out_key;
    int64_t pts;
    int src_width, src_height;
    int sws_flags, sws_threads;
    int yuv_copy; // see ep_enc_config
} ep_encoder;

typedef struct ep_decoder {
    ep_errsink err;
    AVCodecContext *ctx;
    AVPacket *pkt;
    AVFrame *frame; // the newest picture
    AVFrame *tmp;
    uint8_t *buf; // padded copy of the input, AV_INPUT_BUFFER_PADDING_SIZE zero bytes at the end
    int cap;
} ep_decoder;

// ep_log_init routes libav* logging into the per-context error sinks. Idempotent.
void ep_log_init(void);

int ep_encoder_open(const char *name, int kind, const ep_enc_config *cfg, ep_encoder **out);
int ep_encoder_convert(ep_encoder *e, const uint8_t *rgba, int stride);
int ep_encoder_prepare(ep_encoder *e);
void ep_encoder_convert_rows(ep_encoder *e, const uint8_t *rgba, int stride, int y0, int y1);
int ep_encoder_scale(ep_encoder *e);
void ep_encoder_yuv_rows(ep_encoder *e, int fmt, const uint8_t *y, int sy, const uint8_t *u, int su,
                         const uint8_t *v, int sv, int y0, int y1);
int ep_encoder_scale_yuv(ep_encoder *e, int fmt, const uint8_t *y, int sy, const uint8_t *u, int su,
                         const uint8_t *v, int sv);
void ep_encoder_fix_rows(ep_encoder *e, int y0, int y1);
void ep_rgba_to_i420(const uint8_t *src, int stride, int width, int y0, int y1, uint8_t *dy,
                     int sy, uint8_t *du, int su, uint8_t *dv, int sv);
void ep_rgba_to_i420_half(const uint8_t *src, int stride, int width, int y0, int y1,
                          uint8_t *dy, int sy, uint8_t *du, int su, uint8_t *dv, int sv);
int ep_encoder_encode(ep_encoder *e, int force_idr);
int ep_encoder_set_bitrate(ep_encoder *e, int64_t bit_rate, int64_t buffer_bits);
void ep_encoder_close(ep_encoder *e);

// libvpx VP8 (vp8.c). ep_vpx_open fills e->vpx; ep_vpx_encode encodes e->frame.
int ep_vpx_open(ep_encoder *e, const ep_enc_config *cfg);
int ep_vpx_encode(ep_encoder *e, int force_key);
int ep_vpx_set_bitrate(ep_encoder *e, int64_t bit_rate);
void ep_vpx_close(ep_vpx *v);

// Decoders: libavcodec's H.264 and VP8 decoders.
enum { EP_DEC_H264 = 1, EP_DEC_VP8 = 2 };

int ep_decoder_open(int codec, ep_decoder **out);
int ep_decoder_decode(ep_decoder *d, const uint8_t *data, int size);
void ep_decoder_close(ep_decoder *d);

// ep_errsink_clear forgets earlier messages before a new operation.
void ep_errsink_clear(ep_errsink *s);
// ep_errsink_add appends a message, as the log callback does for libav's.
void ep_errsink_add(ep_errsink *s, const char *fmt, ...);

#endif
