// VP8 through libvpx's own encoder API; see codec.h, and doc.go for why not through
// libavcodec and why each setting.

#include "codec.h"

#include <errno.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

struct ep_vpx {
    vpx_codec_ctx_t codec;
    vpx_codec_enc_cfg_t cfg; // the configuration in effect; SetBitrate changes a copy
    vpx_image_t img;         // describes e->frame's planes to libvpx; owns no memory
    int inited;              // codec needs vpx_codec_destroy
    int gop;                 // force a keyframe after this many frames since the last; 0 = never
    int since_key;           // frames since the last keyframe, that one included
};

// vpx_fail puts libvpx's description of the last error into the sink and returns the error
// code the Go side reports (AVERROR_EXTERNAL: "Generic error in an external library").
static int vpx_fail(ep_encoder *e, const char *what) {
    const char *detail = vpx_codec_error_detail(&e->vpx->codec);
    ep_errsink_add(&e->err, "%s: %s%s%s", what, vpx_codec_error(&e->vpx->codec),
                   detail ? ": " : "", detail ? detail : "");
    return AVERROR_EXTERNAL;
}

static int vpx_ctl(ep_encoder *e, int id, int val, const char *name) {
    if (vpx_codec_control_(&e->vpx->codec, id, val) != VPX_CODEC_OK) {
        return vpx_fail(e, name);
    }
    return 0;
}

int ep_vpx_open(ep_encoder *e, const ep_enc_config *cfg) {
    e->vpx = av_mallocz(sizeof *e->vpx);
    if (e->vpx == NULL) {
        return AVERROR(ENOMEM);
    }
    ep_vpx *v = e->vpx;
    vpx_codec_enc_cfg_t *c = &v->cfg;
    if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), c, 0) != VPX_CODEC_OK) {
        ep_errsink_add(&e->err, "libvpx has no default VP8 configuration");
        return AVERROR_EXTERNAL;
    }
    c->g_w = cfg->width;
    c->g_h = cfg->height;
    c->g_timebase.num = 1;
    c->g_timebase.den = cfg->fps;
    c->g_threads = cfg->threads;
    c->g_pass = VPX_RC_ONE_PASS;
    c->g_lag_in_frames = 0; // no lookahead: each frame comes out of the call that takes it in
    // A lost frame must not spoil the probability context of the next ones, and partitions
    // decode independently.
    c->g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT | VPX_ERROR_RESILIENT_PARTITIONS;
    c->rc_end_usage = VPX_CBR;
    c->rc_target_bitrate = (unsigned)(cfg->bit_rate / 1000);
    c->rc_min_quantizer = 4;
    c->rc_max_quantizer = 63;
    c->rc_undershoot_pct = 100;
    c->rc_overshoot_pct = 15;
    c->rc_buf_sz = cfg->buffer_ms;
    c->rc_buf_initial_sz = cfg->buffer_ms;
    c->rc_buf_optimal_sz = cfg->buffer_ms;
    c->rc_dropframe_thresh = 0; // every frame comes out: Encode promises a packet per frame
    c->rc_resize_allowed = 0;
    c->kf_mode = VPX_KF_DISABLED; // keyframes only when asked (GOP is counted here)
    c->kf_min_dist = 0;
    c->kf_max_dist = 0;

    if (vpx_codec_enc_init(&v->codec, vpx_codec_vp8_cx(), c, 0) != VPX_CODEC_OK) {
        return vpx_fail(e, "init");
    }
    v->inited = 1;
    v->gop = cfg->gop;
    int ret;
    if ((ret = vpx_ctl(e, VP8E_SET_CPUUSED, cfg->cpu_used, "cpu-used")) < 0 ||
        (ret = vpx_ctl(e, VP8E_SET_ENABLEAUTOALTREF, 0, "auto-alt-ref")) < 0 ||
        (ret = vpx_ctl(e, VP8E_SET_NOISE_SENSITIVITY, 0, "noise-sensitivity")) < 0 ||
        (ret = vpx_ctl(e, VP8E_SET_STATIC_THRESHOLD, 1, "static-thresh")) < 0 ||
        (ret = vpx_ctl(e, VP8E_SET_TOKEN_PARTITIONS, VP8_ONE_TOKENPARTITION, "token-parts")) < 0 ||
        (ret = vpx_ctl(e, VP8E_SET_MAX_INTRA_BITRATE_PCT, cfg->max_intra_pct, "max-intra-rate")) < 0) {
        return ret;
    }
    // The planes are filled in before each frame: they are e->frame's, which may move.
    if (vpx_img_wrap(&v->img, VPX_IMG_FMT_I420, cfg->width, cfg->height, 1, (unsigned char *)1) ==
        NULL) {
        ep_errsink_add(&e->err, "cannot describe a %dx%d I420 picture", cfg->width, cfg->height);
        return AVERROR(EINVAL);
    }
    return 0;
}

int ep_vpx_encode(ep_encoder *e, int force_key) {
    ep_vpx *v = e->vpx;
    AVFrame *f = e->frame;
    for (int i = 0; i < 3; i++) {
        v->img.planes[i] = f->data[i];
        v->img.stride[i] = f->linesize[i];
    }
    vpx_enc_frame_flags_t flags = 0;
    if (force_key || (v->gop > 0 && v->since_key >= v->gop)) {
        flags |= VPX_EFLAG_FORCE_KF;
    }
    if (vpx_codec_encode(&v->codec, &v->img, e->pts++, 1, flags, VPX_DL_REALTIME) != VPX_CODEC_OK) {
        return vpx_fail(e, "encode");
    }
    int got = 0;
    vpx_codec_iter_t iter = NULL;
    const vpx_codec_cx_pkt_t *pkt;
    while ((pkt = vpx_codec_get_cx_data(&v->codec, &iter)) != NULL) {
        if (pkt->kind != VPX_CODEC_CX_FRAME_PKT) {
            continue;
        }
        if (got) {
            // Without lookahead or alt-ref frames this does not happen; if it did, the frames
            // could not be sent as one.
            ep_errsink_add(&e->err, "libvpx returned two frames for one");
            return AVERROR_BUG;
        }
        e->out = pkt->data.frame.buf;
        e->out_size = (int)pkt->data.frame.sz;
        e->out_key = (pkt->data.frame.flags & VPX_FRAME_IS_KEY) != 0;
        got = 1;
    }
    if (got) {
        v->since_key = e->out_key ? 1 : v->since_key + 1;
    }
    return got;
}

// ep_vpx_set_bitrate changes the target of the open encoder. libvpx counts the buffer in
// milliseconds and the keyframe cap in per cent of a frame, so both follow the new rate.
int ep_vpx_set_bitrate(ep_encoder *e, int64_t bit_rate) {
    vpx_codec_enc_cfg_t c = e->vpx->cfg;
    c.rc_target_bitrate = (unsigned)(bit_rate / 1000);
    if (vpx_codec_enc_config_set(&e->vpx->codec, &c) != VPX_CODEC_OK) {
        return vpx_fail(e, "set bit rate");
    }
    e->vpx->cfg = c;
    return 0;
}

void ep_vpx_close(ep_vpx *v) {
    if (v->inited) {
        vpx_codec_destroy(&v->codec);
    }
    av_free(v);
}

