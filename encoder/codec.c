// C side of package encoder; see codec.h.

#include "codec.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/hwcontext.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>

// A keyframe interval that never comes: x264 calls 1<<30 "infinite" (X264_KEYINT_MAX_INFINITE).
#define EP_GOP_INFINITE (1 << 30)

// ---- logging ---------------------------------------------------------------------------------

// log_mu serialises appends to an error sink: x264's slice threads may log at the same time.
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

// ep_log_cb replaces av_log_default_callback. Nothing is printed: error-level messages about a
// codec context we own go into that context's sink, everything else is dropped.
static void ep_log_cb(void *avcl, int level, const char *fmt, va_list vl) {
    if (level > AV_LOG_ERROR || avcl == NULL) {
        return;
    }
    const AVClass *cls = *(const AVClass **)avcl;
    if (cls != avcodec_get_class()) {
        return;
    }
    ep_errsink *s = ((AVCodecContext *)avcl)->opaque;
    if (s == NULL) {
        return;
    }
    char line[256];
    vsnprintf(line, sizeof line, fmt, vl);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' ' || line[n - 1] == '.')) {
        line[--n] = 0;
    }
    if (n == 0) {
        return;
    }
    pthread_mutex_lock(&log_mu);
    size_t used = strlen(s->msg);
    if (used > 0 && used + 2 < EP_ERRLEN) {
        memcpy(s->msg + used, "; ", 3);
        used += 2;
    }
    if (used + 1 < EP_ERRLEN) {
        snprintf(s->msg + used, EP_ERRLEN - used, "%s", line);
    }
    pthread_mutex_unlock(&log_mu);
}

void ep_log_init(void) { av_log_set_callback(ep_log_cb); }

void ep_errsink_clear(ep_errsink *s) {
    pthread_mutex_lock(&log_mu);
    s->msg[0] = 0;
    pthread_mutex_unlock(&log_mu);
}

// ---- encoder ---------------------------------------------------------------------------------

static int set_opt(AVCodecContext *c, const char *key, const char *val) {
    int ret = av_opt_set(c->priv_data, key, val, 0);
    if (ret < 0) {
        av_log(c, AV_LOG_ERROR, "option %s=%s: %s", key, val, av_err2str(ret));
    }
    return ret;
}

static int set_opt_int(AVCodecContext *c, const char *key, int64_t val) {
    int ret = av_opt_set_int(c->priv_data, key, val, 0);
    if (ret < 0) {
        av_log(c, AV_LOG_ERROR, "option %s=%lld: %s", key, (long long)val, av_err2str(ret));
    }
    return ret;
}

// configure_x264 sets the low-latency libx264 options. forced-idr makes a requested keyframe
// an IDR (not a recovery-point I frame); sc_threshold 0 turns off scene-cut keyframes so that
// IDRs come only on request or at the GOP period.
static int configure_x264(AVCodecContext *c, const ep_enc_config *cfg) {
    int ret;
    if ((ret = set_opt(c, "preset", cfg->preset)) < 0 ||
        (ret = set_opt(c, "tune", "zerolatency")) < 0 ||
        (ret = set_opt(c, "profile", "baseline")) < 0 ||
        (ret = set_opt_int(c, "forced-idr", 1)) < 0 ||
        (ret = set_opt_int(c, "sc_threshold", 0)) < 0 ||
        (ret = set_opt_int(c, "rc-lookahead", 0)) < 0) {
        return ret;
    }
    return 0;
}

// configure_nvenc sets NVENC's ultra-low-latency mode: fastest preset, no lookahead, no
// output delay, constant bit rate. Untested here (no NVIDIA GPU on the build machines).
static int configure_nvenc(AVCodecContext *c, const ep_enc_config *cfg) {
    int ret;
    const char *level = cfg->level == 42 ? "4.2" : "3.2";
    if ((ret = set_opt(c, "preset", "p1")) < 0 || (ret = set_opt(c, "tune", "ull")) < 0 ||
        (ret = set_opt_int(c, "zerolatency", 1)) < 0 || (ret = set_opt_int(c, "delay", 0)) < 0 ||
        (ret = set_opt(c, "rc", "cbr")) < 0 || (ret = set_opt_int(c, "forced-idr", 1)) < 0 ||
        (ret = set_opt(c, "profile", "baseline")) < 0 || (ret = set_opt(c, "level", level)) < 0) {
        return ret;
    }
    return 0;
}

// configure_vaapi creates the VAAPI device and a pool of NV12 surfaces, and asks for CBR with
// one frame in flight. Untested here (no VAAPI device on the build machines).
static int configure_vaapi(ep_encoder *e, const ep_enc_config *cfg) {
    AVCodecContext *c = e->ctx;
    int ret = av_hwdevice_ctx_create(&e->hwdev, AV_HWDEVICE_TYPE_VAAPI, NULL, NULL, 0);
    if (ret < 0) {
        av_log(c, AV_LOG_ERROR, "cannot open the default VAAPI device");
        return ret;
    }
    e->hwframes = av_hwframe_ctx_alloc(e->hwdev);
    if (e->hwframes == NULL) {
        return AVERROR(ENOMEM);
    }
    AVHWFramesContext *fc = (AVHWFramesContext *)e->hwframes->data;
    fc->format = AV_PIX_FMT_VAAPI;
    fc->sw_format = AV_PIX_FMT_NV12;
    fc->width = cfg->width;
    fc->height = cfg->height;
    fc->initial_pool_size = 4;
    if ((ret = av_hwframe_ctx_init(e->hwframes)) < 0) {
        av_log(c, AV_LOG_ERROR, "cannot allocate VAAPI surfaces");
        return ret;
    }
    c->hw_frames_ctx = av_buffer_ref(e->hwframes);
    if (c->hw_frames_ctx == NULL) {
        return AVERROR(ENOMEM);
    }
    c->profile = FF_PROFILE_H264_CONSTRAINED_BASELINE;
    if ((ret = set_opt(c, "rc_mode", "CBR")) < 0 || (ret = set_opt_int(c, "async_depth", 1)) < 0) {
        return ret;
    }
    e->hwframe = av_frame_alloc();
    return e->hwframe == NULL ? AVERROR(ENOMEM) : 0;
}

static int open_sws(ep_encoder *e, const ep_enc_config *cfg, enum AVPixelFormat dst) {
    e->sws = sws_alloc_context();
    if (e->sws == NULL) {
        return AVERROR(ENOMEM);
    }
    int ret;
    if ((ret = av_opt_set_int(e->sws, "srcw", cfg->width, 0)) < 0 ||
        (ret = av_opt_set_int(e->sws, "srch", cfg->height, 0)) < 0 ||
        (ret = av_opt_set_int(e->sws, "src_format", AV_PIX_FMT_RGBA, 0)) < 0 ||
        (ret = av_opt_set_int(e->sws, "dstw", cfg->width, 0)) < 0 ||
        (ret = av_opt_set_int(e->sws, "dsth", cfg->height, 0)) < 0 ||
        (ret = av_opt_set_int(e->sws, "dst_format", dst, 0)) < 0 ||
        (ret = av_opt_set_int(e->sws, "sws_flags", cfg->sws_flags, 0)) < 0 ||
        (ret = av_opt_set_int(e->sws, "threads", cfg->sws_threads, 0)) < 0) {
        return ret;
    }
    e->sws_threads = cfg->sws_threads;
    // The colour defaults are what ffmpeg uses for RGB -> YUV: BT.601 matrix, limited range.
    return sws_init_context(e->sws, NULL, NULL);
}

int ep_encoder_open(const char *name, int kind, const ep_enc_config *cfg, ep_encoder **out) {
    *out = NULL;
    const AVCodec *codec = avcodec_find_encoder_by_name(name);
    if (codec == NULL) {
        return AVERROR_ENCODER_NOT_FOUND;
    }
    ep_encoder *e = av_mallocz(sizeof *e);
    if (e == NULL) {
        return AVERROR(ENOMEM);
    }
    *out = e; // from here on the caller reads e->err and calls ep_encoder_close on failure
    e->kind = kind;
    e->ctx = avcodec_alloc_context3(codec);
    if (e->ctx == NULL) {
        return AVERROR(ENOMEM);
    }
    AVCodecContext *c = e->ctx;
    c->opaque = &e->err;
    c->width = cfg->width;
    c->height = cfg->height;
    c->sample_aspect_ratio = (AVRational){1, 1};
    c->time_base = (AVRational){1, cfg->fps};
    c->framerate = (AVRational){cfg->fps, 1};
    c->pix_fmt = kind == EP_VAAPI ? AV_PIX_FMT_VAAPI : AV_PIX_FMT_YUV420P;
    c->colorspace = AVCOL_SPC_SMPTE170M; // what the BT.601 conversion below produces
    c->color_range = AVCOL_RANGE_MPEG;
    c->bit_rate = cfg->bit_rate;
    c->rc_max_rate = cfg->bit_rate;
    c->rc_buffer_size = (int)cfg->buffer_bits;
    c->gop_size = cfg->gop > 0 ? cfg->gop : EP_GOP_INFINITE;
    c->max_b_frames = 0;
    c->flags |= AV_CODEC_FLAG_CLOSED_GOP;
    c->level = cfg->level;
    c->thread_count = cfg->threads;
    // Slice threads only: frame threads would hold threads-1 frames back. (The zerolatency
    // tune asks libx264 for slices too; this keeps other backends from choosing otherwise.)
    c->thread_type = FF_THREAD_SLICE;

    int ret;
    switch (kind) {
    case EP_X264:
        ret = configure_x264(c, cfg);
        break;
    case EP_NVENC:
        ret = configure_nvenc(c, cfg);
        break;
    case EP_VAAPI:
        ret = configure_vaapi(e, cfg);
        break;
    default:
        ret = AVERROR(EINVAL);
    }
    if (ret < 0) {
        return ret;
    }
    if ((ret = avcodec_open2(c, codec, NULL)) < 0) {
        return ret;
    }

    e->frame = av_frame_alloc();
    e->pkt = av_packet_alloc();
    if (e->frame == NULL || e->pkt == NULL) {
        return AVERROR(ENOMEM);
    }
    e->frame->format = kind == EP_VAAPI ? AV_PIX_FMT_NV12 : AV_PIX_FMT_YUV420P;
    e->frame->width = cfg->width;
    e->frame->height = cfg->height;
    if ((ret = av_frame_get_buffer(e->frame, 0)) < 0) {
        return ret;
    }
    if (cfg->use_sws || kind == EP_VAAPI) {
        return open_sws(e, cfg, e->frame->format);
    }
    return 0;
}

// ---- RGBA -> I420 ----------------------------------------------------------------------------

// BT.601 limited range, the matrix and range swscale (and so ffmpeg) uses by default:
//   Y  =  16 + 0.256788 R + 0.504129 G + 0.097906 B
//   Cb = 128 - 0.148223 R - 0.290993 G + 0.439216 B
//   Cr = 128 + 0.439216 R - 0.367788 G - 0.071427 B
// in 16-bit fixed point. Each Cb/Cr coefficient triple sums to 0, so grey stays at 128.
enum {
    YR = 16829, YG = 33039, YB = 6416,
    UR = -9714, UG = -19071, UB = 28784,
    VR = 28784, VG = -24103, VB = -4681,
};

// Build the converter for AVX2 as well as the baseline ISA where the compiler can pick one at
// load time; the loop is written so that both auto-vectorise.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define EP_CONVERT_ATTR __attribute__((optimize("O3"), target_clones("avx2", "default")))
#elif defined(__GNUC__) && !defined(__clang__)
#define EP_CONVERT_ATTR __attribute__((optimize("O3")))
#else
#define EP_CONVERT_ATTR
#endif

// ep_rgba_to_i420 converts rows [y0, y1) (both even) of an RGBA image to planar YUV 4:2:0.
// Each chroma sample is the mean of its 2x2 luma block (centre siting, as libyuv and JPEG do;
// H.264's default siting is half a luma pixel to the left, which no viewer can tell apart).
EP_CONVERT_ATTR
void ep_rgba_to_i420(const uint8_t *restrict src, int stride, int width, int y0, int y1,
                     uint8_t *restrict dy, int sy, uint8_t *restrict du, int su,
                     uint8_t *restrict dv, int sv) {
    for (int y = y0; y < y1; y += 2) {
        const uint8_t *restrict s0 = src + (size_t)y * stride;
        const uint8_t *restrict s1 = s0 + stride;
        uint8_t *restrict l0 = dy + (size_t)y * sy;
        uint8_t *restrict l1 = l0 + sy;
        uint8_t *restrict u = du + (size_t)(y / 2) * su;
        uint8_t *restrict v = dv + (size_t)(y / 2) * sv;
        for (int x = 0; x < width / 2; x++) {
            const uint8_t *a = s0 + 8 * x, *b = s1 + 8 * x;
            l0[2 * x] = (uint8_t)((YR * a[0] + YG * a[1] + YB * a[2] + (16 << 16) + (1 << 15)) >> 16);
            l0[2 * x + 1] = (uint8_t)((YR * a[4] + YG * a[5] + YB * a[6] + (16 << 16) + (1 << 15)) >> 16);
            l1[2 * x] = (uint8_t)((YR * b[0] + YG * b[1] + YB * b[2] + (16 << 16) + (1 << 15)) >> 16);
            l1[2 * x + 1] = (uint8_t)((YR * b[4] + YG * b[5] + YB * b[6] + (16 << 16) + (1 << 15)) >> 16);
            int r = a[0] + a[4] + b[0] + b[4];
            int g = a[1] + a[5] + b[1] + b[5];
            int bl = a[2] + a[6] + b[2] + b[6];
            u[x] = (uint8_t)((UR * r + UG * g + UB * bl + (128 << 18) + (1 << 17)) >> 18);
            v[x] = (uint8_t)((VR * r + VG * g + VB * bl + (128 << 18) + (1 << 17)) >> 18);
        }
    }
}

// ep_encoder_prepare makes the encoder's picture writable before ep_encoder_convert_rows.
int ep_encoder_prepare(ep_encoder *e) {
    ep_errsink_clear(&e->err);
    // The encoder may still hold a reference to the last picture; then this allocates a fresh
    // one rather than overwrite it (it never does with one frame in flight).
    return av_frame_make_writable(e->frame);
}

// ep_encoder_convert_rows converts rows [y0, y1) into the encoder's YUV420P picture. Several
// calls for disjoint row ranges may run at once.
void ep_encoder_convert_rows(ep_encoder *e, const uint8_t *rgba, int stride, int y0, int y1) {
    AVFrame *f = e->frame;
    ep_rgba_to_i420(rgba, stride, f->width, y0, y1, f->data[0], f->linesize[0], f->data[1],
                    f->linesize[1], f->data[2], f->linesize[2]);
}

// ---- swscale ---------------------------------------------------------------------------------

static void noop_free(void *opaque, uint8_t *data) {
    (void)opaque;
    (void)data;
}

// ep_encoder_convert converts a whole picture with swscale.
int ep_encoder_convert(ep_encoder *e, const uint8_t *rgba, int stride) {
    int ret = ep_encoder_prepare(e);
    if (ret < 0) {
        return ret;
    }
    int h = e->frame->height;
    if (e->sws_threads <= 1) {
        const uint8_t *src[4] = {rgba, NULL, NULL, NULL};
        const int src_stride[4] = {stride, 0, 0, 0};
        ret = sws_scale(e->sws, src, src_stride, 0, h, e->frame->data, e->frame->linesize);
        return ret < 0 ? ret : 0;
    }
    // Only sws_scale_frame runs swscale's slice threads, and it wants reference-counted frames.
    // The caller's pixels are wrapped without a copy; the wrapper is gone before we return.
    AVFrame *src = av_frame_alloc();
    if (src == NULL) {
        return AVERROR(ENOMEM);
    }
    src->format = AV_PIX_FMT_RGBA;
    src->width = e->frame->width;
    src->height = h;
    src->data[0] = (uint8_t *)rgba;
    src->linesize[0] = stride;
    src->buf[0] = av_buffer_create((uint8_t *)rgba, (size_t)stride * h, noop_free, NULL,
                                   AV_BUFFER_FLAG_READONLY);
    if (src->buf[0] == NULL) {
        av_frame_free(&src);
        return AVERROR(ENOMEM);
    }
    ret = sws_scale_frame(e->sws, e->frame, src);
    av_frame_free(&src);
    return ret < 0 ? ret : 0;
}

// ep_encoder_encode sends the converted picture and takes its packet out at once. It returns 1
// when e->pkt holds the access unit (until the next call), 0 when the encoder kept the frame
// back, or a negative AVERROR.
int ep_encoder_encode(ep_encoder *e, int force_idr) {
    av_packet_unref(e->pkt);
    AVFrame *f = e->frame;
    f->pts = e->pts++;
    f->pict_type = force_idr ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    f->key_frame = force_idr ? 1 : 0;
    int ret;
    if (e->kind == EP_VAAPI) {
        av_frame_unref(e->hwframe);
        if ((ret = av_hwframe_get_buffer(e->hwframes, e->hwframe, 0)) < 0 ||
            (ret = av_hwframe_transfer_data(e->hwframe, f, 0)) < 0 ||
            (ret = av_frame_copy_props(e->hwframe, f)) < 0) {
            return ret;
        }
        f = e->hwframe;
    }
    if ((ret = avcodec_send_frame(e->ctx, f)) < 0) {
        return ret;
    }
    ret = avcodec_receive_packet(e->ctx, e->pkt);
    if (ret == AVERROR(EAGAIN)) {
        return 0;
    }
    return ret < 0 ? ret : 1;
}

// ep_encoder_set_bitrate changes the rate-control targets; libx264 and NVENC pick them up on
// the next frame (libx264 reconfigures itself when it sees the fields change).
int ep_encoder_set_bitrate(ep_encoder *e, int64_t bit_rate, int64_t buffer_bits) {
    e->ctx->bit_rate = bit_rate;
    e->ctx->rc_max_rate = bit_rate;
    e->ctx->rc_buffer_size = (int)buffer_bits;
    return 0;
}

void ep_encoder_close(ep_encoder *e) {
    if (e == NULL) {
        return;
    }
    avcodec_free_context(&e->ctx);
    sws_freeContext(e->sws);
    av_frame_free(&e->frame);
    av_frame_free(&e->hwframe);
    av_packet_free(&e->pkt);
    av_buffer_unref(&e->hwframes);
    av_buffer_unref(&e->hwdev);
    av_free(e);
}

// ---- decoder ---------------------------------------------------------------------------------

int ep_decoder_open(ep_decoder **out) {
    *out = NULL;
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
    if (codec == NULL) {
        return AVERROR_DECODER_NOT_FOUND;
    }
    ep_decoder *d = av_mallocz(sizeof *d);
    if (d == NULL) {
        return AVERROR(ENOMEM);
    }
    *out = d;
    d->ctx = avcodec_alloc_context3(codec);
    d->pkt = av_packet_alloc();
    d->frame = av_frame_alloc();
    d->tmp = av_frame_alloc();
    if (d->ctx == NULL || d->pkt == NULL || d->frame == NULL || d->tmp == NULL) {
        return AVERROR(ENOMEM);
    }
    d->ctx->opaque = &d->err;
    // Output every picture as soon as it is decoded: one thread, no reordering delay.
    d->ctx->thread_count = 1;
    d->ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
    return avcodec_open2(d->ctx, codec, NULL);
}

// ep_decoder_decode decodes one access unit. It returns 1 when d->frame holds the newest
// picture (until the next call), 0 when no picture is complete yet, or a negative AVERROR.
int ep_decoder_decode(ep_decoder *d, const uint8_t *data, int size) {
    int got = 0;
    ep_errsink_clear(&d->err);
    av_frame_unref(d->frame);
    if (size + AV_INPUT_BUFFER_PADDING_SIZE > d->cap) {
        int cap = size + AV_INPUT_BUFFER_PADDING_SIZE;
        uint8_t *buf = av_realloc(d->buf, cap);
        if (buf == NULL) {
            return AVERROR(ENOMEM);
        }
        d->buf = buf;
        d->cap = cap;
    }
    memcpy(d->buf, data, size);
    memset(d->buf + size, 0, AV_INPUT_BUFFER_PADDING_SIZE);
    av_packet_unref(d->pkt);
    d->pkt->data = d->buf;
    d->pkt->size = size;
    int ret = avcodec_send_packet(d->ctx, d->pkt);
    d->pkt->data = NULL;
    d->pkt->size = 0;
    if (ret < 0) {
        return ret;
    }
    for (;;) {
        ret = avcodec_receive_frame(d->ctx, d->tmp);
        if (ret < 0) {
            return ret == AVERROR(EAGAIN) ? got : ret;
        }
        av_frame_unref(d->frame);
        av_frame_move_ref(d->frame, d->tmp);
        got = 1;
    }
}

void ep_decoder_close(ep_decoder *d) {
    if (d == NULL) {
        return;
    }
    avcodec_free_context(&d->ctx);
    av_packet_free(&d->pkt);
    av_frame_free(&d->frame);
    av_frame_free(&d->tmp);
    av_free(d->buf);
    av_free(d);
}
