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
    int width, height, fps;
    int64_t bit_rate;    // bits per second
    int64_t buffer_bits; // VBV size in bits
    int gop;             // frames between IDRs, 0 = only on demand
    int threads;
    int level;           // 32 = 3.2, 42 = 4.2
    const char *preset;  // libx264 only
    int use_sws;         // convert with swscale (always for VAAPI, which wants NV12)
    int sws_flags;
    int sws_threads;
} ep_enc_config;

// Backend kinds; each needs its own options and, for VAAPI, its own frame path.
enum { EP_X264 = 1, EP_NVENC = 2, EP_VAAPI = 3 };

typedef struct ep_encoder {
    ep_errsink err;
    int kind;
    AVCodecContext *ctx;
    struct SwsContext *sws;
    AVFrame *frame;    // the software picture sws_scale writes into (YUV420P, or NV12 for VAAPI)
    AVFrame *hwframe;  // VAAPI only: the surface the software picture is uploaded to
    AVBufferRef *hwdev;    // VAAPI only
    AVBufferRef *hwframes; // VAAPI only
    AVPacket *pkt;
    int64_t pts;
    int sws_threads;
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
void ep_rgba_to_i420(const uint8_t *src, int stride, int width, int y0, int y1, uint8_t *dy,
                     int sy, uint8_t *du, int su, uint8_t *dv, int sv);
int ep_encoder_encode(ep_encoder *e, int force_idr);
int ep_encoder_set_bitrate(ep_encoder *e, int64_t bit_rate, int64_t buffer_bits);
void ep_encoder_close(ep_encoder *e);

int ep_decoder_open(ep_decoder **out);
int ep_decoder_decode(ep_decoder *d, const uint8_t *data, int size);
void ep_decoder_close(ep_decoder *d);

// ep_errsink_clear forgets earlier messages before a new operation.
void ep_errsink_clear(ep_errsink *s);

#endif
