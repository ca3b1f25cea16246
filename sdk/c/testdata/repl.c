/*
 * repl.c: the C SDK under test. The Go tests (sdk/c/test) play the host on the link (fd 3)
 * and drive the game through this program: one command a line on stdin, one answer a line on
 * stdout, "ok …" or "err NAME detail". Every call goes straight to the SDK, so a Go test reads
 * like a gamesdk test.
 *
 *   open [fd=N] [i420] [nv12] [audio] [noinput] [timeout=MS] [fakeclock]
 *   close | status | welcome | pool | apool | session | fds | now | clock NS
 *   ready | started | ping | loading MS | log LEVEL HEX | end HEX|- | fatal HEX
 *   poll MS
 *   acquire | poke SLOT PLANE OFF|end BYTE | submit SLOT INPUTSEQ FLAGS | discard SLOT
 *   submitraw SLOT GEN INPUTSEQ FLAGS | marker SLOT VALUE | reacquire SLOT
 *   aacquire | afill SLOT FRAMES | asubmit SLOT FRAMES PTS | adiscard SLOT
 *   decode HEX | consts | exit
 */
#define _GNU_SOURCE

#include "edgeplay.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE (1 << 17)

struct repl {
    ep_game *g;
    uint64_t clock;
    ep_frame frames[EP_MAX_SLOTS];
    ep_audio audio[EP_MAX_AUDIO_SLOTS];
    char line[LINE];
    uint8_t bin[LINE / 2];
    char hex[LINE];
};

static uint64_t fake_clock(void *ctx) { return ((struct repl *)ctx)->clock; }

static int unhex(const char *s, uint8_t *out, size_t max, size_t *n)
{
    size_t len = strlen(s);
    if (len % 2 || len / 2 > max)
        return 0;
    for (size_t i = 0; i < len / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return 0;
        out[i] = (uint8_t)v;
    }
    *n = len / 2;
    return 1;
}

static const char *tohex(struct repl *r, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n && 2 * i + 2 < sizeof r->hex; i++) {
        r->hex[2 * i] = digits[p[i] >> 4];
        r->hex[2 * i + 1] = digits[p[i] & 15];
    }
    r->hex[2 * i] = '\0';
    return r->hex;
}

static void answer(struct repl *r, ep_error err)
{
    if (err == EP_OK)
        printf("ok\n");
    else
        printf("err %s %s\n", ep_error_name(err), r->g ? ep_detail(r->g) : "");
}

static void print_input(const ep_input_event *e)
{
    printf("%u %u %u %u %u %u %u %d %d %u %u %u %u %u %u %u %d %d %d %d", e->type, e->seq, e->time_ms,
           e->code, e->mods, e->button, e->down, e->dx, e->dy, e->x, e->y, e->pad, e->pad_flags,
           e->buttons, e->lt, e->rt, e->lx, e->ly, e->rx, e->ry);
}

static void print_event(struct repl *r, const ep_event *ev)
{
    switch (ev->type) {
    case EP_EV_NONE: printf("ok none\n"); return;
    case EP_EV_ASSIGN:
        printf("ok assign id=%s data=%s\n", ev->id, tohex(r, ev->data, ev->data_len));
        return;
    case EP_EV_PLAYER_JOINED:
        printf("ok joined player=%d id=%s data=%s\n", ev->player, ev->id, tohex(r, ev->data, ev->data_len));
        return;
    case EP_EV_PLAYER_LEFT: printf("ok left player=%d\n", ev->player); return;
    case EP_EV_PLAYER_AWAY: printf("ok away player=%d\n", ev->player); return;
    case EP_EV_PLAYER_BACK: printf("ok back player=%d\n", ev->player); return;
    case EP_EV_INPUT:
        printf("ok input player=%d n=%zu ", ev->player, ev->n_inputs);
        for (size_t i = 0; i < ev->n_inputs; i++) {
            if (i)
                printf(";");
            print_input(&ev->inputs[i]);
        }
        printf("\n");
        return;
    case EP_EV_DRAIN:
    case EP_EV_SHUTDOWN: {
        uint64_t t = ep_now_ns();
        printf("ok %s ms=%u left_ms=%lld\n", ev->type == EP_EV_DRAIN ? "drain" : "shutdown", ev->deadline_ms,
               (long long)((int64_t)(ev->deadline_ns - t) / 1000000));
        return;
    }
    case EP_EV_RELEASED: printf("ok released slot=%d\n", ev->slot); return;
    case EP_EV_AUDIO_RELEASED: printf("ok areleased slot=%d\n", ev->slot); return;
    case EP_EV_POOL_CHANGED: printf("ok pool\n"); return;
    case EP_EV_AUDIO_POOL_CHANGED: printf("ok apool\n"); return;
    }
    printf("ok unknown-event %d\n", (int)ev->type);
}

static void list_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        printf("err EP_ERR_SYSTEM opendir\n");
        return;
    }
    int self = dirfd(d), fds[1024], n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 1024) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        if (fd > 2 && fd != self)
            fds[n++] = fd;
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* sort */
        for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
            int t = fds[j];
            fds[j] = fds[j - 1];
            fds[j - 1] = t;
        }
    printf("ok");
    for (int i = 0; i < n; i++)
        printf(" %d", fds[i]);
    printf("\n");
}

static int slot_arg(const char *s, int max)
{
    int k = atoi(s);
    return k >= 0 && k < max ? k : 0;
}

static void do_open(struct repl *r, char *args)
{
    ep_config cfg;
    int fd = -1;
    memset(&cfg, 0, sizeof cfg);
    for (char *t = strtok(args, " "); t; t = strtok(NULL, " ")) {
        if (strncmp(t, "fd=", 3) == 0)
            fd = atoi(t + 3);
        else if (strcmp(t, "i420") == 0)
            cfg.i420 = 1;
        else if (strcmp(t, "nv12") == 0)
            cfg.nv12 = 1;
        else if (strcmp(t, "audio") == 0)
            cfg.audio = 1;
        else if (strcmp(t, "noinput") == 0)
            cfg.no_input = 1;
        else if (strncmp(t, "timeout=", 8) == 0)
            cfg.handshake_timeout_ms = (uint32_t)atoi(t + 8);
        else if (strcmp(t, "fakeclock") == 0) {
            cfg.clock_ns = fake_clock;
            cfg.clock_ctx = r;
        }
    }
    char why[EP_DETAIL_SIZE];
    ep_game *g = (ep_game *)1; /* must be overwritten */
    ep_error err = fd >= 0 ? ep_open_fd(fd, &cfg, &g, why, sizeof why) : ep_open(&cfg, &g, why, sizeof why);
    if (err) {
        printf("err %s %s%s\n", ep_error_name(err), why, g ? " (handle not NULL)" : "");
        return;
    }
    r->g = g;
    printf("ok\n");
}

static void command(struct repl *r, char *line)
{
    char *args = strchr(line, ' ');
    if (args)
        *args++ = '\0';
    else
        args = line + strlen(line);
    char a[4][64] = {{0}};
    int na = sscanf(args, "%63s %63s %63s %63s", a[0], a[1], a[2], a[3]);
    size_t n;
    ep_game *g = r->g;
    ep_error err;

    if (strcmp(line, "open") == 0) {
        if (g) {
            printf("err repl already open\n");
            return;
        }
        do_open(r, args);
        return;
    }
    if (strcmp(line, "fds") == 0) {
        list_fds();
        return;
    }
    if (strcmp(line, "now") == 0) {
        printf("ok %llu\n", (unsigned long long)ep_now_ns());
        return;
    }
    if (strcmp(line, "consts") == 0) {
        printf("ok EP_MAX_SLOTS=%d EP_MAX_AUDIO_SLOTS=%d EP_MAX_PLAYERS=%d EP_MAX_INPUT_BATCH=%d EP_MAX_TEXT=%d"
               " EP_MAX_ID=%d EP_MAX_LOADING_MS=%d EP_FORMAT_RGBA=%d EP_FORMAT_I420=%d EP_FORMAT_NV12=%d"
               " EP_SAMPLE_S16=%d EP_SAMPLE_F32=%d EP_CAP_AUDIO=%u EP_CAP_I420=%u EP_CAP_NV12=%u EP_CAP_INPUT=%u"
               " EP_KEY_DOWN=%d EP_PAD_DISCONNECT=%d EP_TOUCH_PAD=%d EP_MAX_PADS=%d EP_PAD_BUTTONS=%d"
               " EP_PAD_HOME=%d EP_PAD_BACK=%d EP_KEY_ESCAPE=%d EP_KEY_UP_ARROW=%d EP_KEY_SPACE=%d"
               " EP_PADF_TOUCH=%u EP_PADF_RUMBLE=%u EP_FRAME_MARKER=%u EP_MOD_META=%u\n",
               EP_MAX_SLOTS, EP_MAX_AUDIO_SLOTS, EP_MAX_PLAYERS, EP_MAX_INPUT_BATCH, EP_MAX_TEXT, EP_MAX_ID,
               EP_MAX_LOADING_MS, EP_FORMAT_RGBA, EP_FORMAT_I420, EP_FORMAT_NV12, EP_SAMPLE_S16, EP_SAMPLE_F32,
               EP_CAP_AUDIO, EP_CAP_I420, EP_CAP_NV12, EP_CAP_INPUT, EP_KEY_DOWN, EP_PAD_DISCONNECT, EP_TOUCH_PAD,
               EP_MAX_PADS, EP_PAD_BUTTONS, EP_PAD_HOME, EP_PAD_BACK, EP_KEY_ESCAPE, EP_KEY_UP_ARROW, EP_KEY_SPACE,
               EP_PADF_TOUCH, EP_PADF_RUMBLE, EP_FRAME_MARKER, EP_MOD_META);
        return;
    }
    if (strcmp(line, "clock") == 0) {
        r->clock = strtoull(a[0], NULL, 10);
        printf("ok\n");
        return;
    }
    if (strcmp(line, "decode") == 0) {
        ep_input_event e;
        if (!unhex(a[0], r->bin, sizeof r->bin, &n)) {
            printf("err repl bad hex\n");
            return;
        }
        err = ep_decode_input(r->bin, n, &e);
        if (err) {
            static const ep_input_event zero;
            printf("err %s%s\n", ep_error_name(err), memcmp(&e, &zero, sizeof e) ? " (not zeroed)" : "");
            return;
        }
        printf("ok ");
        print_input(&e);
        printf("\n");
        return;
    }
    if (!g) {
        printf("err repl not open\n");
        return;
    }
    if (strcmp(line, "close") == 0) {
        answer(r, ep_close(g));
        r->g = NULL;
    } else if (strcmp(line, "status") == 0) {
        printf("ok %s\n", ep_error_name(ep_status(g)));
    } else if (strcmp(line, "welcome") == 0) {
        ep_welcome w;
        if ((err = ep_get_welcome(g, &w)))
            answer(r, err);
        else
            printf("ok major=%u minor=%u caps=%u w=%d h=%d fps=%d formats=%u hb=%u ready=%u cap=%u started=%u stall=%u\n",
                   w.major, w.minor, w.caps, w.width, w.height, w.fps, w.formats, w.heartbeat_ms,
                   w.ready_timeout_ms, w.ready_cap_ms, w.started_timeout_ms, w.stall_timeout_ms);
    } else if (strcmp(line, "pool") == 0) {
        ep_pool_info p;
        if ((err = ep_get_pool(g, &p)))
            answer(r, err);
        else
            printf("ok n=%d fmt=%d w=%d h=%d size=%u planes=%u:%u,%u:%u,%u:%u\n", p.n_slots, p.format, p.width,
                   p.height, p.slot_size, p.offsets[0], p.strides[0], p.offsets[1], p.strides[1], p.offsets[2],
                   p.strides[2]);
    } else if (strcmp(line, "apool") == 0) {
        ep_audio_info p;
        if ((err = ep_get_audio_pool(g, &p)))
            answer(r, err);
        else
            printf("ok n=%d fmt=%d ch=%d rate=%u frames=%u size=%u\n", p.n_slots, p.format, p.channels, p.rate,
                   p.slot_frames, p.slot_size);
    } else if (strcmp(line, "session") == 0) {
        printf("ok %s\n", ep_session(g));
    } else if (strcmp(line, "ready") == 0) {
        answer(r, ep_ready(g));
    } else if (strcmp(line, "started") == 0) {
        answer(r, ep_started(g));
    } else if (strcmp(line, "ping") == 0) {
        answer(r, ep_ping(g));
    } else if (strcmp(line, "loading") == 0) {
        answer(r, ep_loading(g, (uint32_t)strtoul(a[0], NULL, 10)));
    } else if (strcmp(line, "log") == 0 || strcmp(line, "end") == 0 || strcmp(line, "fatal") == 0) {
        /* The text may be long: take the hex straight from the line ("log LEVEL HEX"). */
        int is_log = strcmp(line, "log") == 0;
        const char *hex = args;
        if (is_log) {
            hex = strchr(args, ' ');
            hex = hex ? hex + 1 : "";
        }
        char *text = NULL;
        if (strcmp(hex, "-") != 0) {
            if (!unhex(hex, r->bin, sizeof r->bin - 1, &n)) {
                printf("err repl bad hex\n");
                return;
            }
            r->bin[n] = '\0';
            text = (char *)r->bin;
        }
        if (is_log)
            answer(r, ep_log(g, atoi(a[0]), text));
        else if (strcmp(line, "end") == 0)
            answer(r, ep_end(g, text));
        else
            answer(r, ep_fatal(g, text));
    } else if (strcmp(line, "poll") == 0) {
        ep_event ev;
        if ((err = ep_poll(g, atoi(a[0]), &ev))) {
            if (ev.type != EP_EV_NONE)
                printf("err repl event %d with an error\n", (int)ev.type);
            else
                answer(r, err);
        } else
            print_event(r, &ev);
    } else if (strcmp(line, "acquire") == 0) {
        ep_frame f;
        if ((err = ep_acquire_frame(g, &f))) {
            answer(r, err);
            return;
        }
        r->frames[f.slot] = f;
        printf("ok slot=%d fmt=%d w=%d h=%d strides=%u,%u,%u planes=%d,%d,%d\n", f.slot, f.format, f.width, f.height,
               f.strides[0], f.strides[1], f.strides[2], f.planes[0] != NULL, f.planes[1] != NULL, f.planes[2] != NULL);
    } else if (strcmp(line, "poke") == 0 && na == 4) {
        ep_frame *f = &r->frames[slot_arg(a[0], EP_MAX_SLOTS)];
        int pl = slot_arg(a[1], 3);
        size_t rows = pl == 0 || f->format == EP_FORMAT_RGBA ? (size_t)f->height : (size_t)f->height / 2;
        size_t off = strcmp(a[2], "end") == 0 ? f->strides[pl] * rows - 1 : strtoul(a[2], NULL, 10);
        if (!f->planes[pl]) {
            printf("err repl no plane\n");
            return;
        }
        f->planes[pl][off] = (uint8_t)strtoul(a[3], NULL, 16);
        printf("ok\n");
    } else if (strcmp(line, "submit") == 0) {
        answer(r, ep_submit_frame(g, &r->frames[slot_arg(a[0], EP_MAX_SLOTS)], (uint32_t)strtoul(a[1], NULL, 10),
                                  (uint32_t)strtoul(a[2], NULL, 10)));
    } else if (strcmp(line, "submitraw") == 0) {
        ep_frame f;
        memset(&f, 0, sizeof f);
        f.slot = atoi(a[0]);
        f.gen = (uint32_t)strtoul(a[1], NULL, 10);
        answer(r, ep_submit_frame(g, &f, (uint32_t)strtoul(a[2], NULL, 10), (uint32_t)strtoul(a[3], NULL, 10)));
    } else if (strcmp(line, "gen") == 0) {
        printf("ok %u\n", r->frames[slot_arg(a[0], EP_MAX_SLOTS)].gen);
    } else if (strcmp(line, "discard") == 0) {
        answer(r, ep_discard_frame(g, &r->frames[slot_arg(a[0], EP_MAX_SLOTS)]));
    } else if (strcmp(line, "marker") == 0) {
        answer(r, ep_draw_marker(&r->frames[slot_arg(a[0], EP_MAX_SLOTS)], (uint16_t)strtoul(a[1], NULL, 10)));
    } else if (strcmp(line, "aacquire") == 0) {
        ep_audio au;
        if ((err = ep_acquire_audio(g, &au))) {
            answer(r, err);
            return;
        }
        r->audio[au.slot] = au;
        printf("ok slot=%d fmt=%d ch=%d max=%u\n", au.slot, au.format, au.channels, au.max_frames);
    } else if (strcmp(line, "afill") == 0) {
        ep_audio *au = &r->audio[slot_arg(a[0], EP_MAX_AUDIO_SLOTS)];
        uint32_t frames = (uint32_t)strtoul(a[1], NULL, 10);
        if (!au->samples || frames > au->max_frames) {
            printf("err repl no samples\n");
            return;
        }
        for (uint32_t i = 0; i < frames * 2; i++) {
            if (au->format == EP_SAMPLE_S16)
                ((int16_t *)au->samples)[i] = (int16_t)(i * 7 % 30000);
            else
                ((float *)au->samples)[i] = (float)(i % 1000) / 1000.0f;
        }
        printf("ok\n");
    } else if (strcmp(line, "asubmit") == 0) {
        answer(r, ep_submit_audio(g, &r->audio[slot_arg(a[0], EP_MAX_AUDIO_SLOTS)], (uint32_t)strtoul(a[1], NULL, 10),
                                  strtoull(a[2], NULL, 10)));
    } else if (strcmp(line, "adiscard") == 0) {
        answer(r, ep_discard_audio(g, &r->audio[slot_arg(a[0], EP_MAX_AUDIO_SLOTS)]));
    } else {
        printf("err repl unknown command %s\n", line);
    }
}

int main(void)
{
    struct repl *r = calloc(1, sizeof *r);
    if (!r)
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(r->line, sizeof r->line, stdin)) {
        r->line[strcspn(r->line, "\n")] = '\0';
        if (strcmp(r->line, "exit") == 0)
            break;
        command(r, r->line);
        fflush(stdout);
    }
    ep_close(r->g);
    free(r);
    return 0;
}
