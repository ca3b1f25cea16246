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

// errsink_append adds one message to a sink, "; "-separated, without trailing blanks and dots.
static void errsink_append(ep_errsink *s, char *line) {
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
    errsink_append(s, line);
}

void ep_log_init(void) { av_log_set_callback(ep_log_cb); }

void ep_errsink_clear(ep_errsink *s) {
    pthread_mutex_lock(&log_mu);
    s->msg[0] = 0;
    pthread_mutex_unlock(&log_mu);
}

void ep_errsink_add(ep_errsink *s, const char *fmt, ...) {
    char line[256];
    va_list vl;
    va_start(vl, fmt);
    vsnprintf(line, sizeof line, fmt, vl);
    va_end(vl);
    errsink_append(s, line);
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

// new_sws sets up swscale from (sw, sh) in src format to the encoder's picture, with the
// encoder's algorithm and slice threads.
static int new_sws(ep_encoder *e, int sw, int sh, enum AVPixelFormat src, struct SwsContext **out) {
    struct SwsContext *s = sws_alloc_context();
    if (s == NULL) {
        return AVERROR(ENOMEM);
    }
    *out = s; // freed by ep_encoder_close, whether or not it initialises
    int ret;
    if ((ret = av_opt_set_int(s, "srcw", sw, 0)) < 0 ||
        (ret = av_opt_set_int(s, "srch", sh, 0)) < 0 ||
        (ret = av_opt_set_int(s, "src_format", src, 0)) < 0 ||
        (ret = av_opt_set_int(s, "dstw", e->frame->width, 0)) < 0 ||
        (ret = av_opt_set_int(s, "dsth", e->frame->height, 0)) < 0 ||
        (ret = av_opt_set_int(s, "dst_format", e->frame->format, 0)) < 0 ||
        (ret = av_opt_set_int(s, "sws_flags", e->sws_flags, 0)) < 0 ||
        (ret = av_opt_set_int(s, "threads", e->sws_threads, 0)) < 0) {
        return ret;
    }
    // The colour defaults are what ffmpeg uses for RGB -> YUV: BT.601 matrix, limited range.
    // From YUV to YUV nothing changes but the size and the layout of the chroma.
    return sws_init_context(s, NULL, NULL);
}

// open_picture allocates the encoder's picture and what the conversion needs besides.
static int open_picture(ep_encoder *e, const ep_enc_config *cfg) {
    e->conv = cfg->conv;
    e->src_width = cfg->src_width;
    e->src_height = cfg->src_height;
    e->sws_flags = cfg->sws_flags;
    e->sws_threads = cfg->sws_threads;
    e->yuv_copy = cfg->yuv_copy;
    e->frame = av_frame_alloc();
    if (e->frame == NULL) {
        return AVERROR(ENOMEM);
    }
    e->frame->format = e->kind == EP_VAAPI ? AV_PIX_FMT_NV12 : AV_PIX_FMT_YUV420P;
    e->frame->width = cfg->width;
    e->frame->height = cfg->height;
    int ret = av_frame_get_buffer(e->frame, 0);
    if (ret < 0) {
        return ret;
    }
    switch (cfg->conv) {
    case EP_CONV_SWS:
        return new_sws(e, cfg->src_width, cfg->src_height, AV_PIX_FMT_RGBA, &e->sws);
    case EP_CONV_FULL_SWS:
        e->full = av_frame_alloc();
        if (e->full == NULL) {
            return AVERROR(ENOMEM);
        }
        e->full->format = AV_PIX_FMT_YUV420P;
        e->full->width = cfg->src_width;
        e->full->height = cfg->src_height;
        if ((ret = av_frame_get_buffer(e->full, 0)) < 0) {
            return ret;
        }
        return new_sws(e, cfg->src_width, cfg->src_height, AV_PIX_FMT_YUV420P, &e->sws);
    default:
        return 0;
    }
}

int ep_encoder_open(const char *name, int kind, const ep_enc_config *cfg, ep_encoder **out) {
    *out = NULL;
    ep_encoder *e = av_mallocz(sizeof *e);
    if (e == NULL) {
        return AVERROR(ENOMEM);
    }
    *out = e; // from here on the caller reads e->err and calls ep_encoder_close on failure
    e->kind = kind;
    int ret;
    if (kind == EP_VP8) {
        if ((ret = open_picture(e, cfg)) < 0) {
            return ret;
        }
        return ep_vpx_open(e, cfg);
    }
    const AVCodec *codec = avcodec_find_encoder_by_name(name);
    if (codec == NULL) {
        return AVERROR_ENCODER_NOT_FOUND;
    }
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
    e->pkt = av_packet_alloc();
    if (e->pkt == NULL) {
        return AVERROR(ENOMEM);
    }
    return open_picture(e, cfg);
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

// ep_rgba_to_i420_half converts rows [y0, y1) (both even) of the half-size picture from an
// RGBA image of twice its width and height: each luma sample is the mean of a 2x2 block of
// source pixels (a box filter, which is exact for a 2:1 reduction), each chroma sample the
// mean of a 4x4 block. Averaging RGB first and converting after gives what converting first
// and averaging Y would, to rounding: the matrix is linear.
EP_CONVERT_ATTR
void ep_rgba_to_i420_half(const uint8_t *restrict src, int stride, int width, int y0, int y1,
                          uint8_t *restrict dy, int sy, uint8_t *restrict du, int su,
                          uint8_t *restrict dv, int sv) {
    for (int y = y0; y < y1; y += 2) {
        const uint8_t *restrict s0 = src + (size_t)(2 * y) * stride;
        const uint8_t *restrict s1 = s0 + stride;
        const uint8_t *restrict s2 = s1 + stride;
        const uint8_t *restrict s3 = s2 + stride;
        uint8_t *restrict l0 = dy + (size_t)y * sy;
        uint8_t *restrict l1 = l0 + sy;
        uint8_t *restrict u = du + (size_t)(y / 2) * su;
        uint8_t *restrict v = dv + (size_t)(y / 2) * sv;
        for (int x = 0; x < width / 2; x++) {
            // Source pixels 4x .. 4x+3 of four rows; output pixels 2x, 2x+1 of two rows.
            const uint8_t *a = s0 + 16 * x, *b = s1 + 16 * x, *c = s2 + 16 * x, *d = s3 + 16 * x;
            int r00 = a[0] + a[4] + b[0] + b[4], g00 = a[1] + a[5] + b[1] + b[5], b00 = a[2] + a[6] + b[2] + b[6];
            int r01 = a[8] + a[12] + b[8] + b[12], g01 = a[9] + a[13] + b[9] + b[13], b01 = a[10] + a[14] + b[10] + b[14];
            int r10 = c[0] + c[4] + d[0] + d[4], g10 = c[1] + c[5] + d[1] + d[5], b10 = c[2] + c[6] + d[2] + d[6];
            int r11 = c[8] + c[12] + d[8] + d[12], g11 = c[9] + c[13] + d[9] + d[13], b11 = c[10] + c[14] + d[10] + d[14];
            l0[2 * x] = (uint8_t)((YR * r00 + YG * g00 + YB * b00 + (16 << 18) + (1 << 17)) >> 18);
            l0[2 * x + 1] = (uint8_t)((YR * r01 + YG * g01 + YB * b01 + (16 << 18) + (1 << 17)) >> 18);
            l1[2 * x] = (uint8_t)((YR * r10 + YG * g10 + YB * b10 + (16 << 18) + (1 << 17)) >> 18);
            l1[2 * x + 1] = (uint8_t)((YR * r11 + YG * g11 + YB * b11 + (16 << 18) + (1 << 17)) >> 18);
            int r = r00 + r01 + r10 + r11, g = g00 + g01 + g10 + g11, bl = b00 + b01 + b10 + b11;
            u[x] = (uint8_t)((UR * r + UG * g + UB * bl + (128 << 20) + (1 << 19)) >> 20);
            v[x] = (uint8_t)((VR * r + VG * g + VB * bl + (128 << 20) + (1 << 19)) >> 20);
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

// ep_encoder_convert_rows converts rows [y0, y1) of its target: the encoder's picture for
// EP_CONV_SAME and EP_CONV_HALF, the frame-sized e->full for EP_CONV_FULL_SWS. Several calls
// for disjoint row ranges may run at once.
void ep_encoder_convert_rows(ep_encoder *e, const uint8_t *rgba, int stride, int y0, int y1) {
    AVFrame *f = e->conv == EP_CONV_FULL_SWS ? e->full : e->frame;
    if (e->conv == EP_CONV_HALF) {
        ep_rgba_to_i420_half(rgba, stride, f->width, y0, y1, f->data[0], f->linesize[0],
                             f->data[1], f->linesize[1], f->data[2], f->linesize[2]);
        return;
    }
    ep_rgba_to_i420(rgba, stride, f->width, y0, y1, f->data[0], f->linesize[0], f->data[1],
                    f->linesize[1], f->data[2], f->linesize[2]);
}

// ---- swscale ---------------------------------------------------------------------------------

static void noop_free(void *opaque, uint8_t *data) {
    (void)opaque;
    (void)data;
}

// sws_run runs swscale from src into the encoder's picture: on the calling thread, or on
// swscale's slice threads, which only sws_scale_frame runs and which want reference-counted
// frames.
static int sws_run(ep_encoder *e, struct SwsContext *sws, AVFrame *src) {
    int ret;
    if (e->sws_threads <= 1) {
        ret = sws_scale(sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height,
                        e->frame->data, e->frame->linesize);
    } else {
        ret = sws_scale_frame(sws, e->frame, src);
    }
    return ret < 0 ? ret : 0;
}

// wrap_plane makes plane i of src the caller's memory, without a copy: the wrapper must be
// gone before the call that made it returns.
static int wrap_plane(AVFrame *src, int i, const uint8_t *data, int stride, int rows) {
    src->data[i] = (uint8_t *)data;
    src->linesize[i] = stride;
    src->buf[i] = av_buffer_create((uint8_t *)data, (size_t)stride * rows, noop_free, NULL,
                                   AV_BUFFER_FLAG_READONLY);
    return src->buf[i] == NULL ? AVERROR(ENOMEM) : 0;
}

// ep_encoder_convert converts and scales a whole RGBA frame with swscale (EP_CONV_SWS).
int ep_encoder_convert(ep_encoder *e, const uint8_t *rgba, int stride) {
    int ret = ep_encoder_prepare(e);
    if (ret < 0) {
        return ret;
    }
    // The caller's pixels are wrapped without a copy; the wrapper is gone before we return.
    AVFrame *src = av_frame_alloc();
    if (src == NULL) {
        return AVERROR(ENOMEM);
    }
    src->format = AV_PIX_FMT_RGBA;
    src->width = e->src_width;
    src->height = e->src_height;
    if ((ret = wrap_plane(src, 0, rgba, stride, e->src_height)) == 0) {
        ret = sws_run(e, e->sws, src);
    }
    av_frame_free(&src);
    return ret;
}

// ep_encoder_scale scales e->full, filled by ep_encoder_convert_rows, down into the encoder's
// picture (EP_CONV_FULL_SWS).
int ep_encoder_scale(ep_encoder *e) { return sws_run(e, e->sws, e->full); }

// ---- YUV frames ------------------------------------------------------------------------------

// Games render YUV with the BT.709 matrix (docs/SDK.md); our streams are BT.601 (the H.264 VUI
// says so, and VP8 knows no other), so a YUV frame's samples change matrix on their way into
// the picture: M601 · M709^-1 on (Y', Pb, Pr), scaled to limited range (219 luma steps, 224
// chroma steps). Grey (U = V = 128) is left as it is. In 16-bit fixed point:
//   Y' = Y + 0.099312 (U-128) + 0.191700 (V-128)
//   U' = 128 + 0.989854 (U-128) - 0.110653 (V-128)
//   V' = 128 - 0.072453 (U-128) + 0.983398 (V-128)
// Each luma sample takes the chroma of its 2x2 block, the chroma it is shown with, so a BT.601
// decoder shows the colours a BT.709 decoder would show of the game's picture, to rounding
// (TestYUVPicture). From the RGB the game drew, that is the BT.601 picture our RGBA converter
// makes, to rounding, wherever colour is flat within a 2x2 block (TestYUVColours); where it is
// not, 4:2:0 drops a different part of it under each matrix, and the luma of the two differs
// by 0.1 ΔU + 0.19 ΔV (ΔU, ΔV: how far the pixel's own chroma was from its block's).
enum {
    MYU = 6508, MYV = 12563,
    MUU = 64871, MUV = -7252,
    MVU = -4748, MVV = 64448,
};

// clamp8 is v limited to 0..255, written as a max then a min, which the compiler vectorises
// (a nested conditional it does not).
static inline uint8_t clamp8(int v) {
    v = v > 0 ? v : 0;
    v = v < 255 ? v : 255;
    return (uint8_t)v;
}

// yuv_planes describes a 4:2:0 picture's planes. Chroma samples are step bytes apart: 1 in
// planar U and V, 2 in NV12's interleaved plane (where v is u + 1 and sv is su).
typedef struct {
    uint8_t *y, *u, *v;
    int sy, su, sv;
    int step;
} yuv_planes;

static yuv_planes picture_planes(AVFrame *f) {
    if (f->format == AV_PIX_FMT_NV12) {
        return (yuv_planes){f->data[0], f->data[1], f->data[1] + 1,
                            f->linesize[0], f->linesize[1], f->linesize[1], 2};
    }
    return (yuv_planes){f->data[0], f->data[1], f->data[2],
                        f->linesize[0], f->linesize[1], f->linesize[2], 1};
}

// yuv_pair writes two rows of luma (l0, l1) and one of chroma (ou, ov) of n chroma samples
// from the same of a picture of the same size (a, b, u, v), changing the matrix. Chroma
// samples are cs (source) and cd apart. (Parameters, not locals, so that restrict tells the
// compiler the rows do not overlap: it vectorises this.)
static inline void yuv_pair(const uint8_t *restrict a, const uint8_t *restrict b,
                            const uint8_t *restrict u, const uint8_t *restrict v,
                            uint8_t *restrict l0, uint8_t *restrict l1, uint8_t *restrict ou,
                            uint8_t *restrict ov, int n, int cs, int cd) {
    for (int x = 0; x < n; x++) {
        int cu = u[cs * x] - 128, cv = v[cs * x] - 128;
        int dl = (MYU * cu + MYV * cv + (1 << 15)) >> 16;
        l0[2 * x] = clamp8(a[2 * x] + dl);
        l0[2 * x + 1] = clamp8(a[2 * x + 1] + dl);
        l1[2 * x] = clamp8(b[2 * x] + dl);
        l1[2 * x + 1] = clamp8(b[2 * x + 1] + dl);
        ou[cd * x] = clamp8(128 + ((MUU * cu + MUV * cv + (1 << 15)) >> 16));
        ov[cd * x] = clamp8(128 + ((MVU * cu + MVV * cv + (1 << 15)) >> 16));
    }
}

// yuv_rows writes rows [y0, y1) (both even) of picture d from picture s of the same size,
// changing the matrix. cs and cd are s.step and d.step, as constants where the caller can.
static inline void yuv_rows(yuv_planes s, yuv_planes d, int width, int y0, int y1, int cs,
                            int cd) {
    for (int y = y0; y < y1; y += 2) {
        const uint8_t *a = s.y + (size_t)y * s.sy;
        uint8_t *l0 = d.y + (size_t)y * d.sy;
        size_t c = (size_t)(y / 2);
        yuv_pair(a, a + s.sy, s.u + c * s.su, s.v + c * s.sv, l0, l0 + d.sy, d.u + c * d.su,
                 d.v + c * d.sv, width / 2, cs, cd);
    }
}

// yuv_fix_rows is yuv_rows in place, on picture d.
static inline void yuv_fix_rows(yuv_planes d, int width, int y0, int y1, int cd) {
    for (int y = y0; y < y1; y += 2) {
        uint8_t *restrict l0 = d.y + (size_t)y * d.sy;
        uint8_t *restrict l1 = l0 + d.sy;
        uint8_t *restrict ou = d.u + (size_t)(y / 2) * d.su;
        uint8_t *restrict ov = d.v + (size_t)(y / 2) * d.sv;
        for (int x = 0; x < width / 2; x++) {
            int cu = ou[cd * x] - 128, cv = ov[cd * x] - 128;
            int dl = (MYU * cu + MYV * cv + (1 << 15)) >> 16;
            l0[2 * x] = clamp8(l0[2 * x] + dl);
            l0[2 * x + 1] = clamp8(l0[2 * x + 1] + dl);
            l1[2 * x] = clamp8(l1[2 * x] + dl);
            l1[2 * x + 1] = clamp8(l1[2 * x + 1] + dl);
            ou[cd * x] = clamp8(128 + ((MUU * cu + MUV * cv + (1 << 15)) >> 16));
            ov[cd * x] = clamp8(128 + ((MVU * cu + MVV * cv + (1 << 15)) >> 16));
        }
    }
}

// yuv_half_pair writes two rows of luma (l0, l1) and one of chroma (ou, ov) of n chroma
// samples from four rows of luma (a, b, c, e) and two of chroma (u0, u1; v0, v1) of a picture
// twice the size: each luma sample is the mean of a 2x2 block of the source's, each chroma
// sample the mean of a 2x2 block of its chroma (a 4x4 block of pixels), like
// ep_rgba_to_i420_half; then the matrix changes, with the unrounded means, unless copy.
static inline void yuv_half_pair(const uint8_t *restrict a, const uint8_t *restrict b,
                                 const uint8_t *restrict c, const uint8_t *restrict e,
                                 const uint8_t *restrict u0, const uint8_t *restrict u1,
                                 const uint8_t *restrict v0, const uint8_t *restrict v1,
                                 uint8_t *restrict l0, uint8_t *restrict l1,
                                 uint8_t *restrict ou, uint8_t *restrict ov, int n, int cs,
                                 int cd, int copy) {
    const int myu = copy ? 0 : MYU, myv = copy ? 0 : MYV;
    const int muu = copy ? 65536 : MUU, muv = copy ? 0 : MUV;
    const int mvu = copy ? 0 : MVU, mvv = copy ? 65536 : MVV;
    for (int x = 0; x < n; x++) {
        // Sums of 4 chroma samples, less 4 x 128, and of 4 luma samples.
        int i = 2 * cs * x, j = i + cs, q = 4 * x;
        int cu = u0[i] + u0[j] + u1[i] + u1[j] - 512;
        int cv = v0[i] + v0[j] + v1[i] + v1[j] - 512;
        int dl = myu * cu + myv * cv + (1 << 17);
        l0[2 * x] = clamp8(((a[q] + a[q + 1] + b[q] + b[q + 1]) * 65536 + dl) >> 18);
        l0[2 * x + 1] = clamp8(((a[q + 2] + a[q + 3] + b[q + 2] + b[q + 3]) * 65536 + dl) >> 18);
        l1[2 * x] = clamp8(((c[q] + c[q + 1] + e[q] + e[q + 1]) * 65536 + dl) >> 18);
        l1[2 * x + 1] = clamp8(((c[q + 2] + c[q + 3] + e[q + 2] + e[q + 3]) * 65536 + dl) >> 18);
        ou[cd * x] = clamp8(128 + ((muu * cu + muv * cv + (1 << 17)) >> 18));
        ov[cd * x] = clamp8(128 + ((mvu * cu + mvv * cv + (1 << 17)) >> 18));
    }
}

// yuv_half_rows writes rows [y0, y1) (both even) of picture d from picture s of twice its
// width and height (see yuv_half_pair).
static inline void yuv_half_rows(yuv_planes s, yuv_planes d, int width, int y0, int y1, int cs,
                                 int cd, int copy) {
    for (int y = y0; y < y1; y += 2) {
        const uint8_t *a = s.y + (size_t)(2 * y) * s.sy;
        const uint8_t *u = s.u + (size_t)y * s.su, *v = s.v + (size_t)y * s.sv;
        uint8_t *l0 = d.y + (size_t)y * d.sy;
        size_t c = (size_t)(y / 2);
        yuv_half_pair(a, a + s.sy, a + 2 * s.sy, a + 3 * s.sy, u, u + s.su, v, v + s.sv, l0,
                      l0 + d.sy, d.u + c * d.su, d.v + c * d.sv, width / 2, cs, cd, copy);
    }
}

// yuv_copy_rows is yuv_rows without the change of matrix (benchmarks only: what a stream
// that said BT.709 would cost).
static void yuv_copy_rows(yuv_planes s, yuv_planes d, int width, int y0, int y1) {
    for (int y = y0; y < y1; y++) {
        memcpy(d.y + (size_t)y * d.sy, s.y + (size_t)y * s.sy, (size_t)width);
    }
    for (int y = y0 / 2; y < y1 / 2; y++) {
        const uint8_t *u = s.u + (size_t)y * s.su, *v = s.v + (size_t)y * s.sv;
        uint8_t *ou = d.u + (size_t)y * d.su, *ov = d.v + (size_t)y * d.sv;
        if (s.step == 1 && d.step == 1) {
            memcpy(ou, u, (size_t)width / 2);
            memcpy(ov, v, (size_t)width / 2);
            continue;
        }
        for (int x = 0; x < width / 2; x++) {
            ou[d.step * x] = u[s.step * x];
            ov[d.step * x] = v[s.step * x];
        }
    }
}

// source_planes describes a frame of format fmt (EP_FMT_*); v is unused for NV12.
static yuv_planes source_planes(int fmt, const uint8_t *y, int sy, const uint8_t *u, int su,
                                const uint8_t *v, int sv) {
    if (fmt == EP_FMT_NV12) {
        return (yuv_planes){(uint8_t *)y, (uint8_t *)u, (uint8_t *)u + 1, sy, su, su, 2};
    }
    return (yuv_planes){(uint8_t *)y, (uint8_t *)u, (uint8_t *)v, sy, su, sv, 1};
}

// ep_encoder_yuv_rows writes rows [y0, y1) (both even) of the encoder's picture from a YUV
// frame of the picture's size, or of exactly twice its size with EP_CONV_HALF (after
// ep_encoder_prepare). Several calls for disjoint row ranges may run at once.
EP_CONVERT_ATTR
void ep_encoder_yuv_rows(ep_encoder *e, int fmt, const uint8_t *y, int sy, const uint8_t *u,
                         int su, const uint8_t *v, int sv, int y0, int y1) {
    yuv_planes s = source_planes(fmt, y, sy, u, su, v, sv);
    yuv_planes d = picture_planes(e->frame);
    int w = e->frame->width;
    if (e->src_width != w) {
        if (s.step == 1 && d.step == 1) {
            yuv_half_rows(s, d, w, y0, y1, 1, 1, e->yuv_copy);
        } else if (s.step == 2 && d.step == 1) {
            yuv_half_rows(s, d, w, y0, y1, 2, 1, e->yuv_copy);
        } else {
            yuv_half_rows(s, d, w, y0, y1, s.step, d.step, e->yuv_copy);
        }
    } else if (e->yuv_copy) {
        yuv_copy_rows(s, d, w, y0, y1);
    } else if (s.step == 1 && d.step == 1) {
        yuv_rows(s, d, w, y0, y1, 1, 1); // I420 into YUV420P: the common case
    } else if (s.step == 2 && d.step == 1) {
        yuv_rows(s, d, w, y0, y1, 2, 1); // NV12 into YUV420P
    } else {
        yuv_rows(s, d, w, y0, y1, s.step, d.step); // into VAAPI's NV12
    }
}

// ep_encoder_fix_rows changes the matrix of rows [y0, y1) of the encoder's picture in place,
// after ep_encoder_scale_yuv. Several calls for disjoint row ranges may run at once.
EP_CONVERT_ATTR
void ep_encoder_fix_rows(ep_encoder *e, int y0, int y1) {
    if (e->yuv_copy) {
        return;
    }
    yuv_planes d = picture_planes(e->frame);
    if (d.step == 1) {
        yuv_fix_rows(d, e->frame->width, y0, y1, 1);
    } else {
        yuv_fix_rows(d, e->frame->width, y0, y1, 2);
    }
}

// ep_encoder_scale_yuv scales a whole YUV frame of the source size down into the encoder's
// picture with swscale, from the frame's own format (the first frame of a format makes its
// context). The matrix is left to ep_encoder_fix_rows.
int ep_encoder_scale_yuv(ep_encoder *e, int fmt, const uint8_t *y, int sy, const uint8_t *u,
                         int su, const uint8_t *v, int sv) {
    int ret = ep_encoder_prepare(e);
    if (ret < 0) {
        return ret;
    }
    enum AVPixelFormat pf = fmt == EP_FMT_NV12 ? AV_PIX_FMT_NV12 : AV_PIX_FMT_YUV420P;
    struct SwsContext **sws = &e->sws_yuv[fmt == EP_FMT_NV12];
    if (*sws == NULL && (ret = new_sws(e, e->src_width, e->src_height, pf, sws)) < 0) {
        sws_freeContext(*sws); // try again with the next frame
        *sws = NULL;
        return ret;
    }
    AVFrame *src = av_frame_alloc();
    if (src == NULL) {
        return AVERROR(ENOMEM);
    }
    src->format = pf;
    src->width = e->src_width;
    src->height = e->src_height;
    int ch = e->src_height / 2;
    if ((ret = wrap_plane(src, 0, y, sy, e->src_height)) == 0 &&
        (ret = wrap_plane(src, 1, u, su, ch)) == 0 &&
        (fmt == EP_FMT_NV12 || (ret = wrap_plane(src, 2, v, sv, ch)) == 0)) {
        ret = sws_run(e, *sws, src);
    }
    av_frame_free(&src);
    return ret;
}

// ep_encoder_encode sends the converted picture and takes its packet out at once. It returns 1
// when e->out holds the encoded frame (until the next call), 0 when the encoder kept the frame
// back, or a negative AVERROR.
int ep_encoder_encode(ep_encoder *e, int force_idr) {
    e->out = NULL;
    e->out_size = 0;
    e->out_key = 0;
    if (e->kind == EP_VP8) {
        return ep_vpx_encode(e, force_idr);
    }
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
    if (ret < 0) {
        return ret;
    }
    e->out = e->pkt->data;
    e->out_size = e->pkt->size;
    e->out_key = (e->pkt->flags & AV_PKT_FLAG_KEY) != 0;
    return 1;
}

// ep_encoder_set_bitrate changes the rate-control targets. libx264 and NVENC pick them up on
// the next frame (libavcodec's libx264 wrapper reconfigures x264 when it sees the fields
// change); libvpx is reconfigured at once.
int ep_encoder_set_bitrate(ep_encoder *e, int64_t bit_rate, int64_t buffer_bits) {
    ep_errsink_clear(&e->err);
    if (e->kind == EP_VP8) {
        return ep_vpx_set_bitrate(e, bit_rate);
    }
    e->ctx->bit_rate = bit_rate;
    e->ctx->rc_max_rate = bit_rate;
    e->ctx->rc_buffer_size = (int)buffer_bits;
    return 0;
}

void ep_encoder_close(ep_encoder *e) {
    if (e == NULL) {
        return;
    }
    if (e->vpx != NULL) {
        ep_vpx_close(e->vpx);
    }
    avcodec_free_context(&e->ctx);
    sws_freeContext(e->sws);
    sws_freeContext(e->sws_yuv[0]);
    sws_freeContext(e->sws_yuv[1]);
    av_frame_free(&e->frame);
    av_frame_free(&e->full);
    av_frame_free(&e->hwframe);
    av_packet_free(&e->pkt);
    av_buffer_unref(&e->hwframes);
    av_buffer_unref(&e->hwdev);
    av_free(e);
}

// ---- decoder ---------------------------------------------------------------------------------

int ep_decoder_open(int codec_kind, ep_decoder **out) {
    *out = NULL;
    enum AVCodecID id = codec_kind == EP_DEC_VP8 ? AV_CODEC_ID_VP8 : AV_CODEC_ID_H264;
    const AVCodec *codec = avcodec_find_decoder(id);
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

// ep_decoder_decode decodes one access unit (H.264) or frame (VP8). It returns 1 when d->frame holds the newest
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
