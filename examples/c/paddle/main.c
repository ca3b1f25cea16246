/*
 * paddle: edgeplay's example game in C (docs/SDK.md, "C SDK"). Pong against a simple AI,
 * rendered in software into the host's RGBA frame slots at the host's size and rate, with
 * square-wave beeps when the host agrees to sound.
 *
 * Controls: W/S or the arrow keys; the mouse (the paddle follows the pointer; the wheel nudges
 * it); a gamepad's left stick or d-pad, or the web client's touch controls (either stick);
 * Space, Enter, a click, A or FIRE serves. Escape, or a gamepad's back button, ends the match.
 *
 * The game plays until the player leaves, quits, or the host drains it, and then ends with its
 * result, {"score":N,"opponent":M}; at shutdown it exits at once. While the player is away (the
 * connection dropped, the host waits for a resume) the game holds still.
 *
 *     paddle [--marker] [--no-audio]
 *
 * --marker draws edgeplay's latency marker (the last input seq) into the top-left corner.
 * --no-audio does not ask for sound.
 */
#define _GNU_SOURCE /* clock_nanosleep, TIMER_ABSTIME */

#include "edgeplay.h"
#include "game.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define RATE 48000
#define AUDIO_LEAD_FRAMES (RATE / 50)   /* keep 20 ms of sound ahead of the clock */
#define AUDIO_SKIP_FRAMES (RATE / 5)    /* 200 ms behind: skip ahead (the host fills silence) */
#define BEEP_AMPLITUDE 0.12f

/* pad is what the game knows of one gamepad (PROTOCOL.md, "Gamepads"). */
struct pad {
    int connected;
    uint32_t seq; /* the last gamepad message applied; older states are ignored */
    int have_seq;
    uint32_t buttons;
    float stick; /* the stronger of the two sticks' y, −1 … 1 */
};

/* tone is the beep playing now. */
struct tone {
    float freq;
    uint32_t left;  /* frames */
    uint32_t phase; /* frames since the beep began */
};

struct paddle {
    ep_game *g;
    ep_welcome w;
    paddle_game game;
    paddle_controls ctl;
    int key_up, key_down; /* bits: 1 W, 2 arrow */
    struct pad pads[EP_MAX_PADS];
    uint32_t last_seq; /* the last input applied: frame_ready's input_seq */
    int marker;
    int quit;
    int away; /* the player's connection dropped: the game holds still until it is back */

    int audio; /* the host agreed to sound */
    ep_audio_info ai;
    uint64_t audio_t0;   /* CLOCK_MONOTONIC of the first sample */
    uint64_t audio_sent; /* frames sent (or skipped) since then */
    struct tone tone;
    char result[64];
};

/* newer reports whether seq comes after last in wrapping order. */
static int newer(uint32_t seq, uint32_t last) { return (int32_t)(seq - last) > 0; }

static float axis(int16_t v) { return v < -32767 ? -1.0f : (float)v / 32767.0f; }

static void merge_pads(struct paddle *p)
{
    int up = 0, down = 0;
    float stick = 0;
    for (int i = 0; i < EP_MAX_PADS; i++) {
        struct pad *pd = &p->pads[i];
        if (!pd->connected)
            continue;
        up |= (pd->buttons >> EP_PAD_UP) & 1;
        down |= (pd->buttons >> EP_PAD_DOWN) & 1;
        if ((pd->stick < 0 ? -pd->stick : pd->stick) > (stick < 0 ? -stick : stick))
            stick = pd->stick;
    }
    p->ctl.up = p->key_up || up;
    p->ctl.down = p->key_down || down;
    p->ctl.stick = stick;
}

static void apply_key(struct paddle *p, const ep_input_event *e)
{
    int bit = 0, *held = NULL;
    switch (e->code) {
    case EP_KEY_W: held = &p->key_up; bit = 1; break;
    case EP_KEY_UP_ARROW: held = &p->key_up; bit = 2; break;
    case EP_KEY_S: held = &p->key_down; bit = 1; break;
    case EP_KEY_DOWN_ARROW: held = &p->key_down; bit = 2; break;
    case EP_KEY_SPACE:
    case EP_KEY_ENTER:
        if (e->down)
            p->ctl.serve = 1;
        return;
    case EP_KEY_ESCAPE:
        if (e->down)
            p->quit = 1;
        return;
    default:
        return;
    }
    if (e->down)
        *held |= bit;
    else
        *held &= ~bit;
}

static void apply_pad(struct paddle *p, const ep_input_event *e)
{
    struct pad *pd = &p->pads[e->pad];
    if (pd->have_seq && !newer(e->seq, pd->seq))
        return; /* overtaken on the unordered channel */
    pd->seq = e->seq;
    pd->have_seq = 1;
    if (e->type == EP_PAD_DISCONNECT) {
        /* Release everything the pad held. */
        pd->connected = 0;
        pd->buttons = 0;
        pd->stick = 0;
        return;
    }
    pd->connected = 1;
    if (e->type != EP_PAD_STATE)
        return;
    uint32_t pressed = e->buttons & ~pd->buttons;
    if (pressed & (1u << EP_PAD_A | 1u << EP_PAD_START))
        p->ctl.serve = 1;
    if (pressed & (1u << EP_PAD_BACK))
        p->quit = 1;
    pd->buttons = e->buttons;
    /* The touch controls have two sticks; either moves the paddle. So does a pad's right one. */
    float l = axis(e->ly), r = axis(e->ry);
    pd->stick = (l < 0 ? -l : l) >= (r < 0 ? -r : r) ? l : r;
}

static void apply_input(struct paddle *p, const ep_input_event *e)
{
    switch (e->type) {
    case EP_KEY_DOWN:
    case EP_KEY_UP:
        apply_key(p, e);
        break;
    case EP_MOUSE_MOVE:
        p->ctl.aim = 1;
        p->ctl.aim_y = (float)e->y * (float)p->w.height / 65536.0f;
        break;
    case EP_MOUSE_BUTTON:
        if (e->down && e->button == EP_MOUSE_LEFT)
            p->ctl.serve = 1;
        break;
    case EP_WHEEL:
        p->ctl.nudge += (float)e->dy * 0.5f;
        break;
    case EP_PAD_STATE:
    case EP_PAD_CONNECT:
    case EP_PAD_DISCONNECT:
        apply_pad(p, e);
        break;
    }
    p->last_seq = e->seq;
    merge_pads(p);
}

/* ---- Sound. ---- */

static void beep(struct paddle *p, unsigned sounds)
{
    float freq = 0, ms = 0;
    if (sounds & SOUND_MISS)
        freq = 220, ms = 250;
    else if (sounds & SOUND_POINT)
        freq = 1320, ms = 160;
    else if (sounds & SOUND_HIT)
        freq = 880, ms = 60;
    else if (sounds & SOUND_WALL)
        freq = 440, ms = 40;
    if (freq > 0) {
        p->tone.freq = freq;
        p->tone.left = (uint32_t)(ms * RATE / 1000);
        p->tone.phase = 0;
    }
}

/* synth writes n frames of the current tone (or silence) in the pool's format. */
static void synth(struct paddle *p, void *samples, int format, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        float v = 0;
        if (p->tone.left > 0) {
            uint32_t period = (uint32_t)(RATE / p->tone.freq);
            v = (p->tone.phase % period) < period / 2 ? BEEP_AMPLITUDE : -BEEP_AMPLITUDE;
            p->tone.phase++;
            p->tone.left--;
        }
        if (format == EP_SAMPLE_S16) {
            int16_t s = (int16_t)(v * 32767);
            ((int16_t *)samples)[2 * i] = s;
            ((int16_t *)samples)[2 * i + 1] = s;
        } else {
            ((float *)samples)[2 * i] = v;
            ((float *)samples)[2 * i + 1] = v;
        }
    }
}

/* pump_audio sends sound up to a little ahead of now: in order, without gaps, one slot at a
 * time while the host gives slots back. */
static ep_error pump_audio(struct paddle *p)
{
    uint64_t now = ep_now_ns();
    if (!p->audio_t0)
        p->audio_t0 = now;
    uint64_t due = (now - p->audio_t0) / 1000 * RATE / 1000000 + AUDIO_LEAD_FRAMES;
    while (p->audio_sent < due) {
        ep_audio a;
        ep_error err = ep_acquire_audio(p->g, &a);
        if (err == EP_NO_SLOT)
            break;
        if (err)
            return err;
        uint64_t n = due - p->audio_sent;
        if (n > a.max_frames)
            n = a.max_frames;
        synth(p, a.samples, a.format, (uint32_t)n);
        uint64_t s = p->audio_sent;
        uint64_t pts = p->audio_t0 + s / RATE * 1000000000ull + s % RATE * 1000000000ull / RATE;
        if ((err = ep_submit_audio(p->g, &a, (uint32_t)n, pts)))
            return err;
        p->audio_sent += n;
    }
    if (due - p->audio_sent > AUDIO_SKIP_FRAMES)
        p->audio_sent = due; /* the host is behind: skip; the next pts marks the break */
    return EP_OK;
}

/* ---- The loop. ---- */

static const char *result_json(struct paddle *p)
{
    snprintf(p->result, sizeof p->result, "{\"score\":%d,\"opponent\":%d}", p->game.score, p->game.opponent);
    return p->result;
}

/* failed reports an SDK error and tells the host when it can still hear. */
static int failed(struct paddle *p, const char *what, ep_error err)
{
    fprintf(stderr, "paddle: %s: %s: %s\n", what, ep_strerror(err), p->g ? ep_detail(p->g) : "");
    if (p->g && err != EP_ERR_HOST_GONE) {
        char msg[EP_DETAIL_SIZE + 64];
        snprintf(msg, sizeof msg, "%s: %s", what, ep_detail(p->g));
        ep_fatal(p->g, msg);
    }
    ep_close(p->g);
    return 1;
}

/* finish ends the match with its result and closes the link: the process then exits 0. */
static int finish(struct paddle *p)
{
    ep_error err = ep_end(p->g, result_json(p));
    if (err)
        return failed(p, "end", err);
    ep_close(p->g);
    return 0;
}

static void sleep_until(uint64_t t)
{
    struct timespec ts = {(time_t)(t / 1000000000ull), (long)(t % 1000000000ull)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

/* wait_assign waits, rendering nothing, for the session: 1 started, 0 told to exit (drained:
 * ended without a result; shut down), -1 an error. */
static int wait_assign(struct paddle *p, ep_error *errp)
{
    for (;;) {
        ep_event ev;
        ep_error err = ep_poll(p->g, 1000, &ev);
        if (err) {
            *errp = err;
            return -1;
        }
        if (ev.type == EP_EV_DRAIN && (err = ep_end(p->g, NULL))) { /* no match yet: no result */
            *errp = err;
            return -1;
        }
        if (ev.type == EP_EV_SHUTDOWN || ev.type == EP_EV_DRAIN)
            return 0;
        if (ev.type == EP_EV_ASSIGN) {
            if ((err = ep_started(p->g))) {
                *errp = err;
                return -1;
            }
            return 1;
        }
    }
}

int main(int argc, char **argv)
{
    static struct paddle p; /* big (the game), zeroed */
    ep_config cfg;
    char why[EP_DETAIL_SIZE];
    memset(&cfg, 0, sizeof cfg);
    cfg.audio = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--marker") == 0)
            p.marker = 1;
        else if (strcmp(argv[i], "--no-audio") == 0)
            cfg.audio = 0;
        else {
            fprintf(stderr, "usage: paddle [--marker] [--no-audio]\n");
            return 2;
        }
    }
    ep_error err = ep_open(&cfg, &p.g, why, sizeof why);
    if (err) {
        fprintf(stderr, "paddle: %s\n", why);
        return 1;
    }
    ep_get_welcome(p.g, &p.w);
    p.audio = ep_get_audio_pool(p.g, &p.ai) == EP_OK;
    game_init(&p.game, p.w.width, p.w.height);
    ep_log(p.g, EP_LOG_INFO, p.audio ? "paddle ready, with sound" : "paddle ready, silent");
    if ((err = ep_ready(p.g)))
        return failed(&p, "ready", err);
    int started = wait_assign(&p, &err);
    if (started < 0)
        return failed(&p, "waiting for the session", err);
    if (started == 0) {
        ep_close(p.g);
        return 0;
    }

    const uint64_t period = 1000000000ull / (uint64_t)p.w.fps;
    const float dt = 1.0f / (float)p.w.fps;
    uint64_t next = ep_now_ns();
    for (;;) {
        /* Everything the host sent since the last frame; at most a frame's worth of batches. */
        for (int i = 0; i < 64; i++) {
            ep_event ev;
            if ((err = ep_poll(p.g, 0, &ev)))
                return failed(&p, "poll", err);
            if (ev.type == EP_EV_NONE)
                break;
            switch (ev.type) {
            case EP_EV_INPUT:
                for (size_t k = 0; k < ev.n_inputs; k++)
                    apply_input(&p, &ev.inputs[k]);
                break;
            case EP_EV_SHUTDOWN:
                ep_close(p.g);
                return 0;
            case EP_EV_DRAIN: /* a rally is the round: end now, within the deadline */
            case EP_EV_PLAYER_LEFT:
                return finish(&p);
            case EP_EV_PLAYER_AWAY:
            case EP_EV_PLAYER_BACK:
                p.away = ev.type == EP_EV_PLAYER_AWAY;
                break;
            case EP_EV_AUDIO_POOL_CHANGED:
                p.audio = ep_get_audio_pool(p.g, &p.ai) == EP_OK;
                break;
            default: /* joins, releases: nothing to do */
                break;
            }
        }
        if (p.quit)
            return finish(&p);

        if (!p.away) { /* frames go on while away: the host wants one every stall timeout */
            game_step(&p.game, &p.ctl, dt);
            beep(&p, p.game.sounds);
        }
        if (p.audio && (err = pump_audio(&p)))
            return failed(&p, "audio", err);

        ep_frame f;
        err = ep_acquire_frame(p.g, &f);
        if (err == EP_OK) {
            uint32_t flags = 0;
            game_draw(&p.game, f.planes[0], f.strides[0]);
            if (p.marker && ep_draw_marker(&f, (uint16_t)p.last_seq) == EP_OK)
                flags = EP_FRAME_MARKER;
            if ((err = ep_submit_frame(p.g, &f, p.last_seq, flags)))
                return failed(&p, "frame", err);
        } else if (err != EP_NO_SLOT) { /* no slot: skip this frame */
            return failed(&p, "acquire", err);
        }

        next += period;
        uint64_t now = ep_now_ns();
        if (next + period < now)
            next = now; /* fell behind (a stall): do not race to catch up */
        sleep_until(next);
    }
}
