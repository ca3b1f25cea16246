/*
 * edgeplay.c: the C SDK of edgeplay's game protocol 1.0. See edgeplay.h for the API and its
 * contracts, docs/SDK.md for the protocol. It mirrors the Go SDK (gamesdk) and the Go wire
 * format (gameproto, input): the same layouts, the same checks, the same state rules.
 */
#define _GNU_SOURCE /* MSG_CMSG_CLOEXEC, F_GET_SEALS, SO_DOMAIN */

#include "edgeplay.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Samples and pixels are written as the machine stores them; the wire is little-endian. */
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "edgeplay's C SDK needs a little-endian machine"
#endif

#ifndef F_SEAL_SEAL /* glibc before 2.27 */
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#endif

/* ---- Wire constants (gameproto). ---- */

#define HEADER_SIZE 8
#define MAX_MESSAGE 65536
#define FLAG_IGNORABLE 1u
#define MAX_RECV_FDS 16 /* room for more than any message may carry, so extras get closed */
#define MAX_SLOT_SIZE (256u << 20)
#define MAX_AUDIO_SLOT_SIZE (1u << 20)
#define MAX_AUDIO_FRAMES 4800u
#define MAX_DRAIN_MS 86400000u
#define MAX_GRACE_MS 600000u
#define MAX_PAYLOAD 4096u
#define REQUIRED_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#define DEFAULT_HANDSHAKE_MS 10000u
#define MAX_PING_EVERY_NS 1000000000ull

enum {
    T_HELLO = 1, T_READY = 2, T_STARTED = 3, T_FRAME_READY = 4, T_AUDIO_READY = 5, T_PING = 6,
    T_LOADING = 7, T_LOG = 8, T_ENDING = 9, T_FATAL = 10,
    T_WELCOME = 128, T_BUFFER_POOL = 129, T_AUDIO_POOL = 130, T_RELEASE = 131,
    T_AUDIO_RELEASE = 132, T_INPUT = 133, T_ASSIGN = 134, T_PLAYER_JOINED = 135,
    T_PLAYER_LEFT = 136, T_PLAYER_AWAY = 137, T_PLAYER_BACK = 138, T_DRAIN = 139,
    T_SHUTDOWN = 140
};

/* Input wire format (input). */
#define IN_HEADER 10
#define IN_MAX 25
#define IN_ALL_BUTTONS ((1u << EP_PAD_BUTTONS) - 1)
#define IN_ALL_PAD_FLAGS (EP_PADF_TOUCH | EP_PADF_RUMBLE)

/* The game's state, as gamesdk tracks it. */
enum state { ST_LOADING, ST_READY, ST_ASSIGNED, ST_STARTED, ST_ENDED };
static const char *const state_names[] = {"loading", "ready", "assigned", "started", "ended"};

/* Who has a slot. */
enum slot { SLOT_FREE, SLOT_GAME, SLOT_HOST };
static const char *const slot_names[] = {"free", "acquired by the game", "held by the host"};

struct ep_game {
    int fd;
    ep_error err; /* sticky: what broke the handle */
    char detail[EP_DETAIL_SIZE];
    enum state state;
    uint32_t caps; /* announced in hello */
    ep_welcome welcome;

    ep_pool_info pool;
    uint8_t *mem; /* the pool's mapping */
    size_t mem_size;
    uint32_t gen; /* bumped at every pool change, so old frames are refused */
    uint8_t slots[EP_MAX_SLOTS];
    int next; /* where acquire starts looking */
    uint64_t seq; /* last frame_ready seq */

    ep_audio_info audio;
    uint8_t *amem; /* NULL without an audio pool */
    size_t amem_size;
    uint32_t agen;
    uint8_t aslots[EP_MAX_AUDIO_SLOTS];
    int anext;

    char session[EP_MAX_ID + 1];
    struct { uint8_t joined, away; } players[EP_MAX_PLAYERS];

    uint64_t (*clock_ns)(void *);
    void *clock_ctx;
    uint64_t ping_every, last_ping; /* ns */
    int pinged;

    ep_input_event inputs[EP_MAX_INPUT_BATCH];
    char idbuf[EP_MAX_ID + 1];
    uint8_t sbuf[HEADER_SIZE + 1 + EP_MAX_TEXT + 8];
    uint8_t rbuf[MAX_MESSAGE];
};

/* One received message: the payload and the descriptors that came with it. */
struct msg {
    unsigned type;
    const uint8_t *p;
    size_t n;
    int fds[MAX_RECV_FDS];
    int nfds;
};

/* ---- Little helpers. ---- */

static uint16_t u16(const uint8_t *p) { return (uint16_t)(p[0] | (unsigned)p[1] << 8); }
static uint32_t u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

uint64_t ep_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for this clock */
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t now(const ep_game *g) { return g->clock_ns ? g->clock_ns(g->clock_ctx) : ep_now_ns(); }

static void close_fds(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
        }
}

/* set records why a call failed and returns err; fail also breaks the handle for the errors
 * that do (gamesdk's fail). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static ep_error set(ep_game *g, ep_error err, const char *fmt, ...);

static ep_error set(ep_game *g, ep_error err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->detail, sizeof g->detail, fmt, ap);
    va_end(ap);
    return err;
}

static int breaks(ep_error err)
{
    return err == EP_ERR_PROTOCOL || err == EP_ERR_VERSION || err == EP_ERR_HOST_GONE || err == EP_ERR_SYSTEM;
}

static ep_error fail(ep_game *g, ep_error err)
{
    if (g->err == EP_OK && breaks(err))
        g->err = err;
    return err;
}

/* sticky returns the handle's error, with its detail, when it is broken. */
static ep_error sticky(ep_game *g)
{
    return g->err;
}

/* utf8_valid is Go's utf8.Valid: no overlong forms, no surrogates, nothing past U+10FFFF. */
static size_t utf8_rune(const uint8_t *p, size_t n) /* length of a valid rune at p, or 0 */
{
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    if (c < 0xC2 || c > 0xF4)
        return 0;
    size_t need = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (n < need)
        return 0;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c == 0xE0) lo = 0xA0;
    else if (c == 0xED) hi = 0x9F;
    else if (c == 0xF0) lo = 0x90;
    else if (c == 0xF4) hi = 0x8F;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return need;
}

static int utf8_valid(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = utf8_rune(p + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

/* utf8_cut is how many of the first n bytes of valid UTF-8 text fit in max bytes without
 * splitting a character. */
static size_t utf8_cut(const uint8_t *p, size_t n, size_t max)
{
    if (n <= max)
        return n;
    while (max > 0 && (p[max] & 0xC0) == 0x80)
        max--;
    return max;
}

/* json_valid is Go's json.Valid (RFC 8259) for at most EP_MAX_TEXT bytes: one value, with
 * whitespace around it. Nesting is bounded by the length, so a fixed stack suffices. */
static int json_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return (int)i;
}

static int is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* json_string scans the string starting at s[i] == '"'; it returns the index after it or -1. */
static long json_string(const char *s, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"')
            return (long)i + 1;
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            if (++i >= n)
                return -1;
            switch (s[i]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                break;
            case 'u':
                if (i + 4 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2]) || !is_hex(s[i + 3]) || !is_hex(s[i + 4]))
                    return -1;
                i += 4;
                break;
            default:
                return -1;
            }
        }
    }
    return -1;
}

static long json_number(const char *s, size_t n, size_t i)
{
    if (i < n && s[i] == '-')
        i++;
    if (i >= n)
        return -1;
    if (s[i] == '0')
        i++;
    else if (s[i] >= '1' && s[i] <= '9')
        while (i < n && is_digit(s[i]))
            i++;
    else
        return -1;
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !is_digit(s[i]))
            return -1;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit(s[i]))
            return -1;
        while (i < n && is_digit(s[i]))
            i++;
    }
    return (long)i;
}

static int json_valid(const char *s, size_t n)
{
    char stack[EP_MAX_TEXT];
    size_t depth = 0, i = (size_t)json_ws(s, n, 0);
    long j;
value:
    if (i >= n)
        return 0;
    switch (s[i]) {
    case '{':
        if (depth == sizeof stack)
            return 0;
        stack[depth++] = '{';
        i = (size_t)json_ws(s, n, i + 1);
        if (i < n && s[i] == '}') {
            depth--;
            i++;
            goto after;
        }
        goto key;
    case '[':
        if (depth == sizeof stack)
            return 0;
        stack[depth++] = '[';
        i = (size_t)json_ws(s, n, i + 1);
        if (i < n && s[i] == ']') {
            depth--;
            i++;
            goto after;
        }
        goto value;
    case '"':
        j = json_string(s, n, i);
        break;
    case 't':
        j = n - i >= 4 && memcmp(s + i, "true", 4) == 0 ? (long)i + 4 : -1;
        break;
    case 'f':
        j = n - i >= 5 && memcmp(s + i, "false", 5) == 0 ? (long)i + 5 : -1;
        break;
    case 'n':
        j = n - i >= 4 && memcmp(s + i, "null", 4) == 0 ? (long)i + 4 : -1;
        break;
    default:
        j = json_number(s, n, i);
    }
    if (j < 0)
        return 0;
    i = (size_t)j;
after:
    i = (size_t)json_ws(s, n, i);
    if (depth == 0)
        return i == n;
    if (i >= n)
        return 0;
    if (s[i] == ',') {
        i = (size_t)json_ws(s, n, i + 1);
        if (stack[depth - 1] == '{')
            goto key;
        goto value;
    }
    if ((stack[depth - 1] == '{' && s[i] == '}') || (stack[depth - 1] == '[' && s[i] == ']')) {
        depth--;
        i++;
        goto after;
    }
    return 0;
key:
    if (i >= n || s[i] != '"')
        return 0;
    j = json_string(s, n, i);
    if (j < 0)
        return 0;
    i = (size_t)json_ws(s, n, (size_t)j);
    if (i >= n || s[i] != ':')
        return 0;
    i = (size_t)json_ws(s, n, i + 1);
    goto value;
}

/* valid_id: 1..64 bytes of printable ASCII without spaces. */
static int valid_id(const uint8_t *p, size_t n)
{
    if (n == 0 || n > EP_MAX_ID)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] <= ' ' || p[i] > '~')
            return 0;
    return 1;
}

/* ---- Errors. ---- */

const char *ep_strerror(ep_error err)
{
    switch (err) {
    case EP_OK: return "ok";
    case EP_NO_SLOT: return "no free slot: skip this frame";
    case EP_ERR_PROTOCOL: return "protocol error from host";
    case EP_ERR_VERSION: return "unsupported protocol version";
    case EP_ERR_HOST_GONE: return "host closed the link";
    case EP_ERR_STATE: return "not allowed in this state";
    case EP_ERR_ARG: return "invalid argument";
    case EP_ERR_TIMEOUT: return "handshake timed out";
    case EP_ERR_SYSTEM: return "system error";
    }
    return "unknown error";
}

const char *ep_error_name(ep_error err)
{
    switch (err) {
    case EP_OK: return "EP_OK";
    case EP_NO_SLOT: return "EP_NO_SLOT";
    case EP_ERR_PROTOCOL: return "EP_ERR_PROTOCOL";
    case EP_ERR_VERSION: return "EP_ERR_VERSION";
    case EP_ERR_HOST_GONE: return "EP_ERR_HOST_GONE";
    case EP_ERR_STATE: return "EP_ERR_STATE";
    case EP_ERR_ARG: return "EP_ERR_ARG";
    case EP_ERR_TIMEOUT: return "EP_ERR_TIMEOUT";
    case EP_ERR_SYSTEM: return "EP_ERR_SYSTEM";
    }
    return "unknown error";
}

/* ---- Sending. ---- */

/* send_msg sends type with payload sbuf[8 … 8+n) as one datagram. */
static ep_error send_msg(ep_game *g, unsigned type, size_t n)
{
    put16(g->sbuf, (uint16_t)type);
    put16(g->sbuf + 2, 0);
    put32(g->sbuf + 4, (uint32_t)n);
    for (;;) {
        ssize_t w = send(g->fd, g->sbuf, HEADER_SIZE + n, MSG_NOSIGNAL);
        if (w >= 0)
            return EP_OK;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) { /* a non-blocking descriptor: wait */
            struct pollfd pfd = {g->fd, POLLOUT, 0};
            if (poll(&pfd, 1, -1) >= 0 || errno == EINTR)
                continue;
        }
        if (errno == EPIPE || errno == ECONNRESET)
            return fail(g, set(g, EP_ERR_HOST_GONE, "host closed the link: %s", strerror(errno)));
        return fail(g, set(g, EP_ERR_SYSTEM, "send: %s", strerror(errno)));
    }
}

/* send_in sends a message if the handle is usable and its state allows it: any state but
 * ended when allowed is 0, else one of the bits (1 << state) of allowed. */
static ep_error send_in(ep_game *g, unsigned type, size_t n, unsigned allowed, const char *what)
{
    if (g->err)
        return sticky(g);
    if (allowed == 0 && g->state == ST_ENDED)
        return set(g, EP_ERR_STATE, "%s after the game ended", what);
    if (allowed != 0 && !(allowed & (1u << g->state)))
        return set(g, EP_ERR_STATE, "%s while %s", what, state_names[g->state]);
    return send_msg(g, type, n);
}

#define IN(s) (1u << (s))

/* ---- Receiving. ---- */

/* recv_msg reads one datagram (it must be there, or wait blocks) and checks what gameproto's
 * Conn.Recv and Decode check without the payload's layout: truncation, descriptors, the
 * header. It owns every descriptor received: on error they are closed. Ignorable unknown
 * messages come back with type 0. */
static ep_error recv_msg(ep_game *g, struct msg *m)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int) * MAX_RECV_FDS)];
    } cbuf;
    struct iovec iov = {g->rbuf, sizeof g->rbuf};
    struct msghdr mh;
    ssize_t r;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf.buf;
    mh.msg_controllen = sizeof cbuf.buf;
    m->nfds = 0;
    do
        r = recvmsg(g->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        m->type = 0; /* nothing after all: the caller waits again */
        return EP_OK;
    }
    if (r < 0) {
        if (errno == ECONNRESET)
            return set(g, EP_ERR_HOST_GONE, "host closed the link: %s", strerror(errno));
        return set(g, EP_ERR_SYSTEM, "recvmsg: %s", strerror(errno));
    }
    int bad_cmsg = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            bad_cmsg = 1;
            continue;
        }
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (m->nfds < MAX_RECV_FDS)
                m->fds[m->nfds++] = fd;
            else
                close(fd);
        }
    }
    ep_error err = EP_OK;
    if (r == 0 && m->nfds == 0 && !(mh.msg_flags & MSG_TRUNC))
        return set(g, EP_ERR_HOST_GONE, "host closed the link");
    if (bad_cmsg)
        err = set(g, EP_ERR_PROTOCOL, "unexpected control message");
    else if (mh.msg_flags & MSG_CTRUNC)
        err = set(g, EP_ERR_PROTOCOL, "wrong number of file descriptors: more than %d", MAX_RECV_FDS);
    else if (mh.msg_flags & MSG_TRUNC)
        err = set(g, EP_ERR_PROTOCOL, "message too long: datagram over %d bytes", MAX_MESSAGE);
    else if (r < HEADER_SIZE)
        err = set(g, EP_ERR_PROTOCOL, "message too short: %zd bytes", r);
    if (err) {
        close_fds(m->fds, m->nfds);
        return err;
    }
    const uint8_t *b = g->rbuf;
    unsigned type = u16(b), flags = u16(b + 2);
    uint32_t len = u32(b + 4);
    if (flags & ~FLAG_IGNORABLE)
        err = set(g, EP_ERR_PROTOCOL, "unknown header flags %#x", flags);
    else if ((uint64_t)len != (uint64_t)r - HEADER_SIZE)
        err = set(g, EP_ERR_PROTOCOL, "header length %u does not match the payload's %zd bytes", len, r - HEADER_SIZE);
    else if ((type < T_HELLO || type > T_FATAL) && (type < T_WELCOME || type > T_SHUTDOWN)) {
        if (!(flags & FLAG_IGNORABLE))
            err = set(g, EP_ERR_PROTOCOL, "unknown message type %u", type);
        else
            type = 0; /* skipped by the caller */
    }
    if (!err) {
        int want = type == T_BUFFER_POOL || type == T_AUDIO_POOL ? 1 : 0;
        if (m->nfds != want)
            err = set(g, EP_ERR_PROTOCOL, "wrong number of file descriptors: type %u carries %d, got %d", u16(b), want,
                      m->nfds);
    }
    if (err) {
        close_fds(m->fds, m->nfds);
        return err;
    }
    m->type = type;
    m->p = b + HEADER_SIZE;
    m->n = len;
    return EP_OK;
}

/* wait_readable waits up to timeout_ns for the link to be readable: 1 readable, 0 not. */
static int wait_readable(ep_game *g, uint64_t timeout_ns, ep_error *err)
{
    struct pollfd p = {g->fd, POLLIN, 0};
    /* Round up, so a short wait does not spin; cap to what poll takes. */
    uint64_t ms = (timeout_ns + 999999) / 1000000;
    if (ms > INT_MAX)
        ms = INT_MAX;
    int r = poll(&p, 1, (int)ms);
    if (r < 0) {
        if (errno == EINTR)
            return 0;
        *err = set(g, EP_ERR_SYSTEM, "poll: %s", strerror(errno));
        return -1;
    }
    return r > 0;
}

/* ---- Payload decoders: gameproto's Decode, per type. ---- */

static ep_error exact(ep_game *g, const struct msg *m, size_t n, const char *name)
{
    if (m->n < n)
        return set(g, EP_ERR_PROTOCOL, "%s: message too short", name);
    if (m->n > n)
        return set(g, EP_ERR_PROTOCOL, "%s: message too long", name);
    return EP_OK;
}

static int valid_size(unsigned w, unsigned h)
{
    return w >= 16 && h >= 16 && w <= 7680 && h <= 4320 && w % 2 == 0 && h % 2 == 0;
}

static ep_error decode_welcome(ep_game *g, const struct msg *m, ep_welcome *w)
{
    ep_error err = exact(g, m, 36, "welcome");
    if (err)
        return err;
    const uint8_t *p = m->p;
    memset(w, 0, sizeof *w);
    w->major = u16(p);
    w->minor = u16(p + 2);
    w->caps = u32(p + 4);
    w->width = u16(p + 8);
    w->height = u16(p + 10);
    w->fps = u16(p + 12);
    w->formats = u16(p + 14);
    w->heartbeat_ms = u32(p + 16);
    w->ready_timeout_ms = u32(p + 20);
    w->ready_cap_ms = u32(p + 24);
    w->started_timeout_ms = u32(p + 28);
    w->stall_timeout_ms = u32(p + 32);
    if (w->major != EP_PROTOCOL_MAJOR)
        return set(g, EP_ERR_VERSION, "welcome: host speaks %u.%u, the SDK %d.%d", w->major, w->minor,
                   EP_PROTOCOL_MAJOR, EP_PROTOCOL_MINOR);
    if (!valid_size((unsigned)w->width, (unsigned)w->height))
        return set(g, EP_ERR_PROTOCOL, "welcome: size %dx%d", w->width, w->height);
    if (w->fps < 1 || w->fps > 240)
        return set(g, EP_ERR_PROTOCOL, "welcome: fps %d", w->fps);
    if ((w->formats & ~0xEu) || !(w->formats & (1u << EP_FORMAT_RGBA)))
        return set(g, EP_ERR_PROTOCOL, "welcome: formats %#x", w->formats);
    if (w->heartbeat_ms < 100 || w->heartbeat_ms > 60000)
        return set(g, EP_ERR_PROTOCOL, "welcome: heartbeat %u ms", w->heartbeat_ms);
    if (w->ready_timeout_ms < 1000 || w->ready_timeout_ms > EP_MAX_LOADING_MS)
        return set(g, EP_ERR_PROTOCOL, "welcome: ready timeout %u ms", w->ready_timeout_ms);
    if (w->ready_cap_ms < w->ready_timeout_ms || w->ready_cap_ms > EP_MAX_LOADING_MS)
        return set(g, EP_ERR_PROTOCOL, "welcome: ready cap %u ms", w->ready_cap_ms);
    if (w->started_timeout_ms < 1000 || w->started_timeout_ms > EP_MAX_LOADING_MS)
        return set(g, EP_ERR_PROTOCOL, "welcome: started timeout %u ms", w->started_timeout_ms);
    if (w->stall_timeout_ms < 100 || w->stall_timeout_ms > 60000)
        return set(g, EP_ERR_PROTOCOL, "welcome: stall timeout %u ms", w->stall_timeout_ms);
    return EP_OK;
}

/* plane_shape gives the bytes of pixel data per row and the rows of plane i of a w×h frame. */
static void plane_shape(int format, int i, uint64_t w, uint64_t h, uint64_t *row_bytes, uint64_t *rows)
{
    if (format == EP_FORMAT_RGBA) {
        *row_bytes = 4 * w;
        *rows = h;
    } else if (i == 0) {
        *row_bytes = w;
        *rows = h;
    } else if (format == EP_FORMAT_I420) {
        *row_bytes = w / 2;
        *rows = h / 2;
    } else {
        *row_bytes = w;
        *rows = h / 2;
    }
}

static int format_planes(int format)
{
    switch (format) {
    case EP_FORMAT_RGBA: return 1;
    case EP_FORMAT_I420: return 3;
    case EP_FORMAT_NV12: return 2;
    }
    return 0;
}

static ep_error decode_pool(ep_game *g, const struct msg *m, ep_pool_info *pl)
{
    ep_error err = exact(g, m, 36, "buffer_pool");
    if (err)
        return err;
    const uint8_t *p = m->p;
    if (p[2] || p[3])
        return set(g, EP_ERR_PROTOCOL, "buffer_pool: reserved bytes are not 0");
    memset(pl, 0, sizeof *pl);
    pl->n_slots = p[0];
    pl->format = p[1];
    pl->width = u16(p + 4);
    pl->height = u16(p + 6);
    pl->slot_size = u32(p + 8);
    for (int i = 0; i < 3; i++) {
        pl->offsets[i] = u32(p + 12 + 8 * i);
        pl->strides[i] = u32(p + 16 + 8 * i);
    }
    int np = format_planes(pl->format);
    if (pl->n_slots < 1 || pl->n_slots > EP_MAX_SLOTS)
        return set(g, EP_ERR_PROTOCOL, "buffer_pool: %d slots", pl->n_slots);
    if (np == 0)
        return set(g, EP_ERR_PROTOCOL, "buffer_pool: format %d", pl->format);
    if (!valid_size((unsigned)pl->width, (unsigned)pl->height))
        return set(g, EP_ERR_PROTOCOL, "buffer_pool: size %dx%d", pl->width, pl->height);
    if (pl->slot_size == 0 || pl->slot_size > MAX_SLOT_SIZE)
        return set(g, EP_ERR_PROTOCOL, "buffer_pool: slot size %u", pl->slot_size);
    uint64_t prev_end = 0;
    for (int i = 0; i < 3; i++) {
        if (i >= np) {
            if (pl->offsets[i] || pl->strides[i])
                return set(g, EP_ERR_PROTOCOL, "buffer_pool: plane %d of format %d is not zero", i, pl->format);
            continue;
        }
        uint64_t row_bytes, rows;
        plane_shape(pl->format, i, (uint64_t)pl->width, (uint64_t)pl->height, &row_bytes, &rows);
        uint64_t end = (uint64_t)pl->offsets[i] + (uint64_t)pl->strides[i] * rows;
        if (pl->strides[i] < row_bytes)
            return set(g, EP_ERR_PROTOCOL, "buffer_pool: plane %d stride %u < %llu", i, pl->strides[i],
                       (unsigned long long)row_bytes);
        if (pl->offsets[i] < prev_end)
            return set(g, EP_ERR_PROTOCOL, "buffer_pool: plane %d offset %u overlaps the plane before", i,
                       pl->offsets[i]);
        if (end > pl->slot_size)
            return set(g, EP_ERR_PROTOCOL, "buffer_pool: plane %d ends at %llu, past slot size %u", i,
                       (unsigned long long)end, pl->slot_size);
        prev_end = end;
    }
    return EP_OK;
}

static ep_error decode_audio_pool(ep_game *g, const struct msg *m, ep_audio_info *a)
{
    ep_error err = exact(g, m, 16, "audio_pool");
    if (err)
        return err;
    const uint8_t *p = m->p;
    if (p[3])
        return set(g, EP_ERR_PROTOCOL, "audio_pool: reserved byte is not 0");
    memset(a, 0, sizeof *a);
    a->n_slots = p[0];
    a->format = p[1];
    a->channels = p[2];
    a->rate = u32(p + 4);
    a->slot_frames = u32(p + 8);
    a->slot_size = u32(p + 12);
    uint64_t bytes = a->format == EP_SAMPLE_S16 ? 2 : a->format == EP_SAMPLE_F32 ? 4 : 0;
    if (a->n_slots < 1 || a->n_slots > EP_MAX_AUDIO_SLOTS)
        return set(g, EP_ERR_PROTOCOL, "audio_pool: %d slots", a->n_slots);
    if (bytes == 0)
        return set(g, EP_ERR_PROTOCOL, "audio_pool: sample format %d", a->format);
    if (a->channels != 2)
        return set(g, EP_ERR_PROTOCOL, "audio_pool: %d channels", a->channels);
    if (a->rate != 48000)
        return set(g, EP_ERR_PROTOCOL, "audio_pool: rate %u", a->rate);
    if (a->slot_frames < 1 || a->slot_frames > MAX_AUDIO_FRAMES)
        return set(g, EP_ERR_PROTOCOL, "audio_pool: %u slot frames", a->slot_frames);
    if ((uint64_t)a->slot_size < (uint64_t)a->slot_frames * 2 * bytes || a->slot_size > MAX_AUDIO_SLOT_SIZE)
        return set(g, EP_ERR_PROTOCOL, "audio_pool: slot size %u", a->slot_size);
    return EP_OK;
}

/* ---- Shared memory. ---- */

/* map_fd checks the seals and the size of a pool's memfd and maps size bytes read-write
 * (gameproto.Map). It closes fd. */
static ep_error map_fd(ep_game *g, int fd, uint64_t size, const char *what, uint8_t **out)
{
    ep_error err = EP_OK;
    struct stat st;
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0)
        err = set(g, EP_ERR_PROTOCOL, "%s: the descriptor has no seals (%s)", what, strerror(errno));
    else if ((seals & REQUIRED_SEALS) != REQUIRED_SEALS)
        err = set(g, EP_ERR_PROTOCOL, "%s: memfd seals %#x, want %#x", what, (unsigned)seals, (unsigned)REQUIRED_SEALS);
    else if (fstat(fd, &st) < 0)
        err = set(g, EP_ERR_SYSTEM, "%s: fstat: %s", what, strerror(errno));
    else if (st.st_size < 0 || (uint64_t)st.st_size < size)
        err = set(g, EP_ERR_PROTOCOL, "%s: memfd holds %lld bytes, the pool needs %llu", what,
                  (long long)st.st_size, (unsigned long long)size);
    else if (size > (uint64_t)SIZE_MAX)
        err = set(g, EP_ERR_SYSTEM, "%s: %llu bytes do not fit in memory", what, (unsigned long long)size);
    if (!err) {
        void *mem = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (mem == MAP_FAILED)
            err = set(g, EP_ERR_SYSTEM, "%s: mmap: %s", what, strerror(errno));
        else
            *out = mem;
    }
    close(fd);
    return err;
}

/* format_agreed: the game announced format f and the host accepts it. */
static int format_agreed(const ep_game *g, int f)
{
    uint32_t cap = 0;
    switch (f) {
    case EP_FORMAT_RGBA: break;
    case EP_FORMAT_I420: cap = EP_CAP_I420; break;
    case EP_FORMAT_NV12: cap = EP_CAP_NV12; break;
    default: return 0;
    }
    return (g->welcome.caps & cap) == cap && (g->welcome.formats & (1u << f));
}

/* map_pool checks a buffer_pool against the welcome and maps it (gamesdk's mapPool); an earlier
 * pool is unmapped and every slot is the game's. It owns fd. */
static ep_error map_pool(ep_game *g, const ep_pool_info *p, int fd)
{
    const ep_welcome *w = &g->welcome;
    if (p->width != w->width || p->height != w->height) {
        close(fd);
        return set(g, EP_ERR_PROTOCOL, "buffer_pool is %dx%d, welcome said %dx%d", p->width, p->height, w->width,
                   w->height);
    }
    if (!format_agreed(g, p->format)) {
        close(fd);
        return set(g, EP_ERR_PROTOCOL, "buffer_pool format %d was not agreed", p->format);
    }
    uint64_t size = (uint64_t)p->n_slots * p->slot_size;
    uint8_t *mem = NULL;
    ep_error err = map_fd(g, fd, size, "buffer_pool", &mem);
    if (err)
        return err;
    if (g->mem)
        munmap(g->mem, g->mem_size);
    g->pool = *p;
    g->mem = mem;
    g->mem_size = (size_t)size;
    g->gen++;
    memset(g->slots, SLOT_FREE, sizeof g->slots);
    g->next = 0;
    return EP_OK;
}

static ep_error map_audio(ep_game *g, const ep_audio_info *a, int fd)
{
    if (!(g->welcome.caps & EP_CAP_AUDIO)) {
        close(fd);
        return set(g, EP_ERR_PROTOCOL, "audio_pool without the audio capability");
    }
    uint64_t size = (uint64_t)a->n_slots * a->slot_size;
    uint8_t *mem = NULL;
    ep_error err = map_fd(g, fd, size, "audio_pool", &mem);
    if (err)
        return err;
    if (g->amem)
        munmap(g->amem, g->amem_size);
    g->audio = *a;
    g->amem = mem;
    g->amem_size = (size_t)size;
    g->agen++;
    memset(g->aslots, SLOT_FREE, sizeof g->aslots);
    g->anext = 0;
    return EP_OK;
}

/* ---- Open and close. ---- */

/* recv_handshake waits until end for one message that is not an ignorable unknown one. */
static ep_error recv_handshake(ep_game *g, uint64_t end, struct msg *m, const char *waiting)
{
    for (;;) {
        uint64_t t = ep_now_ns();
        if (t >= end)
            return set(g, EP_ERR_TIMEOUT, "waiting for %s: timed out", waiting);
        ep_error err = EP_OK;
        int r = wait_readable(g, end - t, &err);
        if (r < 0)
            return err;
        if (r == 0)
            continue;
        err = recv_msg(g, m);
        if (err) {
            char d[EP_DETAIL_SIZE];
            memcpy(d, g->detail, sizeof d);
            return set(g, err, "waiting for %s: %s", waiting, d);
        }
        if (m->type != 0)
            return EP_OK;
    }
}

static ep_error handshake(ep_game *g, uint32_t timeout_ms)
{
    uint64_t end = ep_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    uint8_t *p = g->sbuf + HEADER_SIZE;
    size_t sdk = strlen(EP_SDK_NAME);
    memcpy(p, "EDGP", 4);
    put16(p + 4, EP_PROTOCOL_MAJOR);
    put16(p + 6, EP_PROTOCOL_MINOR);
    put32(p + 8, g->caps);
    memcpy(p + 12, EP_SDK_NAME, sdk);
    ep_error err = send_msg(g, T_HELLO, 12 + sdk);
    if (err)
        return err;

    struct msg m;
    if ((err = recv_handshake(g, end, &m, "welcome")))
        return err;
    if (m.type != T_WELCOME) {
        close_fds(m.fds, m.nfds);
        return set(g, EP_ERR_PROTOCOL, "message type %u before welcome", m.type);
    }
    ep_welcome w;
    if ((err = decode_welcome(g, &m, &w)))
        return err;
    if (w.minor > EP_PROTOCOL_MINOR)
        return set(g, EP_ERR_PROTOCOL, "welcome settles on minor %u, the game has %d", w.minor, EP_PROTOCOL_MINOR);
    if (w.caps & ~g->caps)
        return set(g, EP_ERR_PROTOCOL, "welcome caps %#x, the game announced %#x", w.caps, g->caps);
    g->welcome = w;
    g->ping_every = (uint64_t)w.heartbeat_ms * 1000000ull / 2;
    if (g->ping_every > MAX_PING_EVERY_NS)
        g->ping_every = MAX_PING_EVERY_NS;

    if ((err = recv_handshake(g, end, &m, "buffer_pool")))
        return err;
    if (m.type != T_BUFFER_POOL) {
        close_fds(m.fds, m.nfds);
        return set(g, EP_ERR_PROTOCOL, "message type %u before buffer_pool", m.type);
    }
    ep_pool_info pool;
    if ((err = decode_pool(g, &m, &pool))) {
        close_fds(m.fds, m.nfds);
        return err;
    }
    if ((err = map_pool(g, &pool, m.fds[0])))
        return err;

    if (w.caps & EP_CAP_AUDIO) {
        if ((err = recv_handshake(g, end, &m, "audio_pool")))
            return err;
        if (m.type != T_AUDIO_POOL) {
            close_fds(m.fds, m.nfds);
            return set(g, EP_ERR_PROTOCOL, "message type %u before audio_pool", m.type);
        }
        ep_audio_info a;
        if ((err = decode_audio_pool(g, &m, &a))) {
            close_fds(m.fds, m.nfds);
            return err;
        }
        if ((err = map_audio(g, &a, m.fds[0])))
            return err;
    }
    return EP_OK;
}

static void release(ep_game *g)
{
    if (g->fd >= 0)
        close(g->fd);
    if (g->mem)
        munmap(g->mem, g->mem_size);
    if (g->amem)
        munmap(g->amem, g->amem_size);
    free(g);
}

/* why_out writes "NAME: detail" into the caller's why buffer and returns err. */
static ep_error why_out(char *why, size_t why_size, ep_error err, const char *detail)
{
    if (why && why_size > 0)
        snprintf(why, why_size, "%s: %s", ep_error_name(err), detail);
    return err;
}

ep_error ep_open_fd(int fd, const ep_config *cfg, ep_game **out, char *why, size_t why_size)
{
    static const ep_config defaults;
    if (why && why_size > 0)
        why[0] = '\0';
    if (!out) {
        if (fd >= 0)
            close(fd);
        return why_out(why, why_size, EP_ERR_ARG, "out is NULL");
    }
    *out = NULL;
    if (!cfg)
        cfg = &defaults;
    int type = 0, domain = 0;
    socklen_t len = sizeof type, dlen = sizeof domain;
    if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) < 0 || type != SOCK_SEQPACKET || domain != AF_UNIX) {
        char d[96];
        snprintf(d, sizeof d, "link fd %d is not an AF_UNIX SOCK_SEQPACKET socket", fd);
        if (fd >= 0)
            close(fd);
        return why_out(why, why_size, EP_ERR_ARG, d);
    }
    ep_game *g = calloc(1, sizeof *g);
    if (!g) {
        close(fd);
        return why_out(why, why_size, EP_ERR_SYSTEM, "out of memory");
    }
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0)
        fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
    g->fd = fd;
    g->state = ST_LOADING;
    g->clock_ns = cfg->clock_ns;
    g->clock_ctx = cfg->clock_ctx;
    if (cfg->audio)
        g->caps |= EP_CAP_AUDIO;
    if (cfg->i420)
        g->caps |= EP_CAP_I420;
    if (cfg->nv12)
        g->caps |= EP_CAP_NV12;
    if (!cfg->no_input)
        g->caps |= EP_CAP_INPUT;
    ep_error err = handshake(g, cfg->handshake_timeout_ms ? cfg->handshake_timeout_ms : DEFAULT_HANDSHAKE_MS);
    if (err) {
        why_out(why, why_size, err, g->detail);
        release(g);
        return err;
    }
    g->detail[0] = '\0';
    *out = g;
    return EP_OK;
}

ep_error ep_open(const ep_config *cfg, ep_game **out, char *why, size_t why_size)
{
    const char *s = getenv(EP_ENV_FD);
    long fd = EP_DEFAULT_FD;
    if (s && *s) {
        size_t i = 0;
        fd = 0;
        for (; s[i] >= '0' && s[i] <= '9' && fd <= INT_MAX; i++)
            fd = fd * 10 + (s[i] - '0');
        if (s[i] || fd > INT_MAX) {
            char d[96];
            snprintf(d, sizeof d, "%s=\"%.40s\" is not a descriptor", EP_ENV_FD, s);
            if (out)
                *out = NULL;
            if (why && why_size > 0)
                snprintf(why, why_size, "EP_ERR_ARG: %s", d);
            return EP_ERR_ARG;
        }
    }
    return ep_open_fd((int)fd, cfg, out, why, why_size);
}

ep_error ep_close(ep_game *g)
{
    if (g)
        release(g);
    return EP_OK;
}

ep_error ep_status(const ep_game *g) { return g ? g->err : EP_ERR_ARG; }
const char *ep_detail(const ep_game *g) { return g ? g->detail : "no handle"; }
const char *ep_session(const ep_game *g) { return g ? g->session : ""; }

ep_error ep_get_welcome(const ep_game *g, ep_welcome *out)
{
    if (!g || !out)
        return EP_ERR_ARG;
    *out = g->welcome;
    return EP_OK;
}

ep_error ep_get_pool(const ep_game *g, ep_pool_info *out)
{
    if (!g || !out)
        return EP_ERR_ARG;
    *out = g->pool;
    return EP_OK;
}

ep_error ep_get_audio_pool(const ep_game *g, ep_audio_info *out)
{
    if (!g || !out)
        return EP_ERR_ARG;
    if (!g->amem) {
        memset(out, 0, sizeof *out);
        return EP_ERR_STATE;
    }
    *out = g->audio;
    return EP_OK;
}

/* ---- Lifecycle. ---- */

ep_error ep_ready(ep_game *g)
{
    if (!g)
        return EP_ERR_ARG;
    ep_error err = send_in(g, T_READY, 0, IN(ST_LOADING), "ready");
    if (!err)
        g->state = ST_READY;
    return err;
}

ep_error ep_started(ep_game *g)
{
    if (!g)
        return EP_ERR_ARG;
    ep_error err = send_in(g, T_STARTED, 0, IN(ST_ASSIGNED), "started");
    if (!err)
        g->state = ST_STARTED;
    return err;
}

ep_error ep_ping(ep_game *g)
{
    if (!g)
        return EP_ERR_ARG;
    ep_error err = send_in(g, T_PING, 0, 0, "ping");
    if (!err) {
        g->last_ping = now(g);
        g->pinged = 1;
    }
    return err;
}

/* ping_if_due sends a ping when the last one is at least ping_every old. */
static ep_error ping_if_due(ep_game *g)
{
    if (g->state == ST_ENDED || (g->pinged && now(g) - g->last_ping < g->ping_every))
        return EP_OK;
    return ep_ping(g);
}

/* until_ping is how long until the next ping is due, in ns. */
static uint64_t until_ping(ep_game *g)
{
    if (!g->pinged)
        return 0;
    uint64_t since = now(g) - g->last_ping;
    return since >= g->ping_every ? 0 : g->ping_every - since;
}

ep_error ep_loading(ep_game *g, uint32_t until_ms)
{
    if (!g)
        return EP_ERR_ARG;
    if (until_ms < 1 || until_ms > EP_MAX_LOADING_MS)
        return set(g, EP_ERR_ARG, "loading %u ms, want 1..%d", until_ms, EP_MAX_LOADING_MS);
    put32(g->sbuf + HEADER_SIZE, until_ms);
    return send_in(g, T_LOADING, 4, IN(ST_LOADING), "loading");
}

ep_error ep_log(ep_game *g, int level, const char *text)
{
    if (!g)
        return EP_ERR_ARG;
    if (level < EP_LOG_DEBUG || level > EP_LOG_ERROR)
        return set(g, EP_ERR_ARG, "log level %d", level);
    if (!text)
        return set(g, EP_ERR_ARG, "log text is NULL");
    size_t n = strlen(text);
    if (!utf8_valid((const uint8_t *)text, n))
        return set(g, EP_ERR_ARG, "log text is not UTF-8");
    if (g->err)
        return sticky(g);
    n = utf8_cut((const uint8_t *)text, n, EP_MAX_TEXT);
    g->sbuf[HEADER_SIZE] = (uint8_t)level;
    memcpy(g->sbuf + HEADER_SIZE + 1, text, n);
    return send_msg(g, T_LOG, 1 + n);
}

ep_error ep_end(ep_game *g, const char *result_json)
{
    if (!g)
        return EP_ERR_ARG;
    size_t n = result_json ? strlen(result_json) : 0;
    if (n > EP_MAX_TEXT)
        return set(g, EP_ERR_ARG, "result is %zu bytes, the most is %d", n, EP_MAX_TEXT);
    if (n > 0 && (result_json[0] != '{' || !utf8_valid((const uint8_t *)result_json, n) || !json_valid(result_json, n)))
        return set(g, EP_ERR_ARG, "result is not a JSON object");
    if (n > 0)
        memcpy(g->sbuf + HEADER_SIZE, result_json, n);
    ep_error err = send_in(g, T_ENDING, n, 0, "ending");
    if (!err)
        g->state = ST_ENDED;
    return err;
}

ep_error ep_fatal(ep_game *g, const char *msg)
{
    if (!g)
        return EP_ERR_ARG;
    if (!msg)
        return set(g, EP_ERR_ARG, "fatal text is NULL");
    if (g->err == EP_ERR_HOST_GONE)
        return set(g, EP_ERR_STATE, "fatal after the host closed the link: %s", msg);
    /* Invalid bytes become U+FFFD; whole characters up to EP_MAX_TEXT bytes. */
    uint8_t *out = g->sbuf + HEADER_SIZE;
    size_t n = 0, len = strlen(msg);
    for (size_t i = 0; i < len;) {
        size_t k = utf8_rune((const uint8_t *)msg + i, len - i);
        const uint8_t *src = (const uint8_t *)msg + i;
        size_t w = k;
        if (k == 0) {
            src = (const uint8_t *)"\xEF\xBF\xBD";
            w = 3;
            k = 1;
        }
        if (n + w > EP_MAX_TEXT)
            break;
        memcpy(out + n, src, w);
        n += w;
        i += k;
    }
    if (n == 0) {
        memcpy(out, "fatal error", 11);
        n = 11;
    }
    ep_error err = send_msg(g, T_FATAL, n);
    if (!err)
        g->state = ST_ENDED;
    return err;
}

/* ---- Input. ---- */

ep_error ep_decode_input(const uint8_t *b, size_t n, ep_input_event *ev)
{
    static const uint8_t payload[] = {0, 3, 3, 8, 2, 4, 15, 2, 2};
    if (!ev)
        return EP_ERR_ARG;
    memset(ev, 0, sizeof *ev);
    if (!b || n > IN_MAX || n < IN_HEADER || b[0] != 1 || b[1] == 0 || b[1] >= sizeof payload ||
        n != (size_t)IN_HEADER + payload[b[1]])
        return EP_ERR_ARG;
    ep_input_event e;
    memset(&e, 0, sizeof e);
    const uint8_t *p = b + IN_HEADER;
    e.type = b[1];
    e.seq = u32(b + 2);
    e.time_ms = u32(b + 6);
    int ok = 1;
    switch (e.type) {
    case EP_KEY_DOWN:
    case EP_KEY_UP:
        e.code = u16(p);
        e.mods = p[2];
        e.down = e.type == EP_KEY_DOWN;
        ok = e.code != 0 && e.mods <= 0x0f;
        break;
    case EP_MOUSE_MOVE:
        e.dx = (int16_t)u16(p);
        e.dy = (int16_t)u16(p + 2);
        e.x = u16(p + 4);
        e.y = u16(p + 6);
        break;
    case EP_MOUSE_BUTTON:
        e.button = p[0];
        e.down = p[1];
        ok = p[0] <= 4 && p[1] <= 1;
        break;
    case EP_WHEEL:
        e.dx = (int16_t)u16(p);
        e.dy = (int16_t)u16(p + 2);
        break;
    case EP_PAD_STATE:
        e.pad = p[0];
        e.buttons = u32(p + 1);
        e.lt = p[5];
        e.rt = p[6];
        e.lx = (int16_t)u16(p + 7);
        e.ly = (int16_t)u16(p + 9);
        e.rx = (int16_t)u16(p + 11);
        e.ry = (int16_t)u16(p + 13);
        ok = e.pad < EP_MAX_PADS && !(e.buttons & ~IN_ALL_BUTTONS) && u16(p + 7) != 0x8000 &&
             u16(p + 9) != 0x8000 && u16(p + 11) != 0x8000 && u16(p + 13) != 0x8000;
        break;
    case EP_PAD_CONNECT:
    case EP_PAD_DISCONNECT:
        e.pad = p[0];
        e.pad_flags = p[1];
        e.down = e.type == EP_PAD_CONNECT;
        ok = e.pad < EP_MAX_PADS && !(e.pad_flags & ~IN_ALL_PAD_FLAGS);
        break;
    }
    if (!ok)
        return EP_ERR_ARG;
    *ev = e;
    return EP_OK;
}

/* ---- Events. ---- */

/* check_player: a player message comes after assign and names a player who has joined
 * (must_joined) or has not (a join). */
static ep_error check_player(ep_game *g, const char *what, unsigned p, int must_joined)
{
    if (!g->session[0])
        return set(g, EP_ERR_PROTOCOL, "%s before assign", what);
    if (g->players[p].joined != must_joined)
        return set(g, EP_ERR_PROTOCOL, must_joined ? "%s for player %u, who has not joined"
                                                   : "%s for player %u, who has already joined", what, p);
    return EP_OK;
}

/* player_byte decodes the one-byte payload of player_left, _away and _back. */
static ep_error player_byte(ep_game *g, const struct msg *m, const char *what, unsigned *p)
{
    ep_error err = exact(g, m, 1, what);
    if (err)
        return err;
    if (m->p[0] >= EP_MAX_PLAYERS)
        return set(g, EP_ERR_PROTOCOL, "%s: player %u", what, m->p[0]);
    *p = m->p[0];
    return EP_OK;
}

/* id_and_payload splits {u8 len, id, payload} and checks both. */
static ep_error id_and_payload(ep_game *g, const uint8_t *p, size_t n, const char *what)
{
    if (n < 1 || (size_t)1 + p[0] > n)
        return set(g, EP_ERR_PROTOCOL, "%s: message too short", what);
    size_t k = p[0];
    if (!valid_id(p + 1, k))
        return set(g, EP_ERR_PROTOCOL, "%s: id is not 1..64 printable ASCII bytes without spaces", what);
    if (n - 1 - k > MAX_PAYLOAD)
        return set(g, EP_ERR_PROTOCOL, "%s: message too long", what);
    memcpy(g->idbuf, p + 1, k);
    g->idbuf[k] = '\0';
    return EP_OK;
}

static ep_error decode_inputs(ep_game *g, const struct msg *m, ep_event *ev)
{
    const uint8_t *p = m->p;
    if (m->n < 2)
        return set(g, EP_ERR_PROTOCOL, "input: message too short");
    unsigned player = p[0], count = p[1];
    if (player >= EP_MAX_PLAYERS)
        return set(g, EP_ERR_PROTOCOL, "input: player %u", player);
    if (count == 0 || count > EP_MAX_INPUT_BATCH)
        return set(g, EP_ERR_PROTOCOL, "input: count %u", count);
    size_t off = 2;
    for (unsigned i = 0; i < count; i++) {
        if (off >= m->n || off + 1 + p[off] > m->n)
            return set(g, EP_ERR_PROTOCOL, "input: message too short");
        size_t k = p[off];
        if (ep_decode_input(p + off + 1, k, &g->inputs[i]) != EP_OK)
            return set(g, EP_ERR_PROTOCOL, "input: event %u is not a valid input record", i);
        off += 1 + k;
    }
    if (off != m->n)
        return set(g, EP_ERR_PROTOCOL, "input: message too long");
    if (!(g->welcome.caps & EP_CAP_INPUT))
        return set(g, EP_ERR_PROTOCOL, "input without the input capability");
    ep_error err = check_player(g, "input", player, 1);
    if (err)
        return err;
    ev->type = EP_EV_INPUT;
    ev->player = (int)player;
    ev->inputs = g->inputs;
    ev->n_inputs = count;
    return EP_OK;
}

/* pool_idle: no frame slot is with the host or being rendered into. */
static ep_error pool_idle(ep_game *g)
{
    for (int k = 0; k < g->pool.n_slots; k++)
        if (g->slots[k] != SLOT_FREE)
            return set(g, EP_ERR_PROTOCOL, "buffer_pool while slot %d is %s", k, slot_names[g->slots[k]]);
    return EP_OK;
}

static ep_error audio_idle(ep_game *g)
{
    for (int k = 0; g->amem && k < g->audio.n_slots; k++)
        if (g->aslots[k] != SLOT_FREE)
            return set(g, EP_ERR_PROTOCOL, "audio_pool while audio slot %d is %s", k, slot_names[g->aslots[k]]);
    return EP_OK;
}

/* handle checks a message against the link's state, applies it and turns it into *ev
 * (gamesdk's handle). It owns m's descriptors. */
static ep_error handle(ep_game *g, struct msg *m, ep_event *ev)
{
    ep_error err;
    unsigned p;
    uint64_t t;
    switch (m->type) {
    case T_BUFFER_POOL: {
        ep_pool_info pool;
        if ((err = decode_pool(g, m, &pool)) || (err = pool_idle(g))) {
            close_fds(m->fds, m->nfds);
            return err;
        }
        if ((err = map_pool(g, &pool, m->fds[0])))
            return err;
        ev->type = EP_EV_POOL_CHANGED;
        return EP_OK;
    }
    case T_AUDIO_POOL: {
        ep_audio_info a;
        if ((err = decode_audio_pool(g, m, &a)) || (err = audio_idle(g))) {
            close_fds(m->fds, m->nfds);
            return err;
        }
        if ((err = map_audio(g, &a, m->fds[0])))
            return err;
        ev->type = EP_EV_AUDIO_POOL_CHANGED;
        return EP_OK;
    }
    case T_RELEASE:
        if ((err = exact(g, m, 1, "release")))
            return err;
        p = m->p[0];
        if (p >= EP_MAX_SLOTS)
            return set(g, EP_ERR_PROTOCOL, "release: slot %u", p);
        if ((int)p >= g->pool.n_slots || g->slots[p] != SLOT_HOST)
            return set(g, EP_ERR_PROTOCOL, "release for slot %u, which the host does not hold", p);
        g->slots[p] = SLOT_FREE;
        ev->type = EP_EV_RELEASED;
        ev->slot = (int)p;
        return EP_OK;
    case T_AUDIO_RELEASE:
        if ((err = exact(g, m, 1, "audio_release")))
            return err;
        p = m->p[0];
        if (p >= EP_MAX_AUDIO_SLOTS)
            return set(g, EP_ERR_PROTOCOL, "audio_release: slot %u", p);
        if (!g->amem || (int)p >= g->audio.n_slots || g->aslots[p] != SLOT_HOST)
            return set(g, EP_ERR_PROTOCOL, "audio_release for slot %u, which the host does not hold", p);
        g->aslots[p] = SLOT_FREE;
        ev->type = EP_EV_AUDIO_RELEASED;
        ev->slot = (int)p;
        return EP_OK;
    case T_INPUT:
        return decode_inputs(g, m, ev);
    case T_ASSIGN:
        if ((err = id_and_payload(g, m->p, m->n, "assign")))
            return err;
        if (g->state != ST_READY || g->session[0])
            return set(g, EP_ERR_PROTOCOL, "assign while %s", state_names[g->state]);
        g->state = ST_ASSIGNED;
        memcpy(g->session, g->idbuf, sizeof g->session);
        ev->type = EP_EV_ASSIGN;
        ev->id = g->idbuf;
        ev->data_len = m->n - 1 - m->p[0];
        ev->data = ev->data_len ? m->p + 1 + m->p[0] : NULL;
        return EP_OK;
    case T_PLAYER_JOINED:
        if (m->n < 1)
            return set(g, EP_ERR_PROTOCOL, "player_joined: message too short");
        p = m->p[0];
        if (p >= EP_MAX_PLAYERS)
            return set(g, EP_ERR_PROTOCOL, "player_joined: player %u", p);
        if ((err = id_and_payload(g, m->p + 1, m->n - 1, "player_joined")) ||
            (err = check_player(g, "player_joined", p, 0)))
            return err;
        g->players[p].joined = 1;
        g->players[p].away = 0;
        ev->type = EP_EV_PLAYER_JOINED;
        ev->player = (int)p;
        ev->id = g->idbuf;
        ev->data_len = m->n - 2 - m->p[1];
        ev->data = ev->data_len ? m->p + 2 + m->p[1] : NULL;
        return EP_OK;
    case T_PLAYER_LEFT:
        if ((err = player_byte(g, m, "player_left", &p)) || (err = check_player(g, "player_left", p, 1)))
            return err;
        g->players[p].joined = g->players[p].away = 0;
        ev->type = EP_EV_PLAYER_LEFT;
        ev->player = (int)p;
        return EP_OK;
    case T_PLAYER_AWAY:
        if ((err = player_byte(g, m, "player_away", &p)) || (err = check_player(g, "player_away", p, 1)))
            return err;
        if (g->players[p].away)
            return set(g, EP_ERR_PROTOCOL, "player_away for player %u, already away", p);
        g->players[p].away = 1;
        ev->type = EP_EV_PLAYER_AWAY;
        ev->player = (int)p;
        return EP_OK;
    case T_PLAYER_BACK:
        if ((err = player_byte(g, m, "player_back", &p)) || (err = check_player(g, "player_back", p, 1)))
            return err;
        if (!g->players[p].away)
            return set(g, EP_ERR_PROTOCOL, "player_back for player %u, who is not away", p);
        g->players[p].away = 0;
        ev->type = EP_EV_PLAYER_BACK;
        ev->player = (int)p;
        return EP_OK;
    case T_DRAIN:
    case T_SHUTDOWN:
        if ((err = exact(g, m, 4, m->type == T_DRAIN ? "drain" : "shutdown")))
            return err;
        ev->deadline_ms = u32(m->p);
        if (m->type == T_DRAIN && (ev->deadline_ms < 1 || ev->deadline_ms > MAX_DRAIN_MS))
            return set(g, EP_ERR_PROTOCOL, "drain: deadline %u ms", ev->deadline_ms);
        if (m->type == T_SHUTDOWN && ev->deadline_ms > MAX_GRACE_MS)
            return set(g, EP_ERR_PROTOCOL, "shutdown: grace %u ms", ev->deadline_ms);
        t = ep_now_ns();
        ev->deadline_ns = t + (uint64_t)ev->deadline_ms * 1000000ull;
        ev->type = m->type == T_DRAIN ? EP_EV_DRAIN : EP_EV_SHUTDOWN;
        return EP_OK;
    }
    close_fds(m->fds, m->nfds);
    if (m->type < 128)
        return set(g, EP_ERR_PROTOCOL, "message type %u travels from the game to the host", m->type);
    return set(g, EP_ERR_PROTOCOL, "unexpected message type %u", m->type);
}

ep_error ep_poll(ep_game *g, int timeout_ms, ep_event *ev)
{
    if (!g)
        return EP_ERR_ARG;
    if (!ev)
        return set(g, EP_ERR_ARG, "ev is NULL");
    memset(ev, 0, sizeof *ev);
    if (g->err)
        return sticky(g);
    int forever = timeout_ms < 0;
    uint64_t end = now(g) + (forever ? 0 : (uint64_t)timeout_ms * 1000000ull);
    for (;;) {
        ep_error err = ping_if_due(g);
        if (err)
            return err;
        uint64_t t = now(g);
        uint64_t wait = forever ? UINT64_MAX : (end > t ? end - t : 0);
        if (g->state != ST_ENDED) {
            uint64_t u = until_ping(g);
            if (u < wait)
                wait = u;
        }
        int r = wait_readable(g, wait, &err);
        if (r < 0)
            return fail(g, err);
        if (r > 0) {
            struct msg m;
            if ((err = recv_msg(g, &m)))
                return fail(g, err);
            if (m.type == 0)
                continue; /* ignorable */
            if ((err = handle(g, &m, ev))) {
                memset(ev, 0, sizeof *ev);
                return fail(g, err);
            }
            return EP_OK;
        }
        if (!forever && now(g) >= end)
            return EP_OK;
    }
}

/* ---- Frames. ---- */

ep_error ep_acquire_frame(ep_game *g, ep_frame *f)
{
    if (!g)
        return EP_ERR_ARG;
    if (!f)
        return set(g, EP_ERR_ARG, "frame is NULL");
    memset(f, 0, sizeof *f);
    f->slot = -1;
    if (g->err)
        return sticky(g);
    if (g->state != ST_STARTED || !g->mem)
        return set(g, EP_ERR_STATE, "acquire while %s", state_names[g->state]);
    int n = g->pool.n_slots;
    for (int i = 0; i < n; i++) {
        int k = (g->next + i) % n;
        if (g->slots[k] != SLOT_FREE)
            continue;
        g->slots[k] = SLOT_GAME;
        g->next = (k + 1) % n;
        uint8_t *slot = g->mem + (size_t)k * g->pool.slot_size;
        f->slot = k;
        f->format = g->pool.format;
        f->width = g->pool.width;
        f->height = g->pool.height;
        f->gen = g->gen;
        for (int p = 0; p < format_planes(g->pool.format); p++) {
            f->planes[p] = slot + g->pool.offsets[p];
            f->strides[p] = g->pool.strides[p];
        }
        return EP_OK;
    }
    return set(g, EP_NO_SLOT, "every frame slot is with the host or acquired");
}

/* acquired: f is a frame acquire handed out, of the current pool, not yet submitted. */
static ep_error acquired(ep_game *g, const ep_frame *f)
{
    if (!f || f->slot < 0 || f->slot >= g->pool.n_slots || f->gen != g->gen)
        return set(g, EP_ERR_ARG, "not a frame of this game's current pool");
    if (g->slots[f->slot] != SLOT_GAME)
        return set(g, EP_ERR_STATE, "slot %d is %s", f->slot, slot_names[g->slots[f->slot]]);
    return EP_OK;
}

static void clear_frame(ep_frame *f)
{
    memset(f->planes, 0, sizeof f->planes);
    memset(f->strides, 0, sizeof f->strides);
}

ep_error ep_submit_frame(ep_game *g, ep_frame *f, uint32_t input_seq, uint32_t flags)
{
    if (!g)
        return EP_ERR_ARG;
    if (g->err)
        return sticky(g);
    ep_error err = acquired(g, f);
    if (err)
        return err;
    if (flags & ~EP_FRAME_MARKER)
        return set(g, EP_ERR_ARG, "frame flags %#x", flags);
    uint8_t *p = g->sbuf + HEADER_SIZE;
    p[0] = (uint8_t)f->slot;
    p[1] = (uint8_t)flags;
    p[2] = p[3] = 0;
    put32(p + 4, input_seq);
    put64(p + 8, g->seq + 1);
    put64(p + 16, ep_now_ns());
    if ((err = send_in(g, T_FRAME_READY, 24, IN(ST_STARTED), "frame_ready")))
        return err;
    g->seq++;
    g->slots[f->slot] = SLOT_HOST;
    clear_frame(f);
    return ping_if_due(g);
}

ep_error ep_discard_frame(ep_game *g, ep_frame *f)
{
    if (!g)
        return EP_ERR_ARG;
    ep_error err = acquired(g, f);
    if (err)
        return err;
    g->slots[f->slot] = SLOT_FREE;
    clear_frame(f);
    return EP_OK;
}

/* ---- Audio. ---- */

ep_error ep_acquire_audio(ep_game *g, ep_audio *a)
{
    if (!g)
        return EP_ERR_ARG;
    if (!a)
        return set(g, EP_ERR_ARG, "audio is NULL");
    memset(a, 0, sizeof *a);
    a->slot = -1;
    if (g->err)
        return sticky(g);
    if (!g->amem)
        return set(g, EP_ERR_STATE, "no audio pool: audio was not agreed");
    if (g->state != ST_STARTED)
        return set(g, EP_ERR_STATE, "audio while %s", state_names[g->state]);
    int n = g->audio.n_slots;
    for (int i = 0; i < n; i++) {
        int k = (g->anext + i) % n;
        if (g->aslots[k] != SLOT_FREE)
            continue;
        g->aslots[k] = SLOT_GAME;
        g->anext = (k + 1) % n;
        a->slot = k;
        a->format = g->audio.format;
        a->channels = g->audio.channels;
        a->max_frames = g->audio.slot_frames;
        a->samples = g->amem + (size_t)k * g->audio.slot_size;
        a->gen = g->agen;
        return EP_OK;
    }
    return set(g, EP_NO_SLOT, "every audio slot is with the host or acquired");
}

static ep_error audio_acquired(ep_game *g, const ep_audio *a)
{
    if (!a || !g->amem || a->slot < 0 || a->slot >= g->audio.n_slots || a->gen != g->agen)
        return set(g, EP_ERR_ARG, "not an audio chunk of this game's current audio pool");
    if (g->aslots[a->slot] != SLOT_GAME)
        return set(g, EP_ERR_STATE, "audio slot %d is %s", a->slot, slot_names[g->aslots[a->slot]]);
    return EP_OK;
}

ep_error ep_submit_audio(ep_game *g, ep_audio *a, uint32_t frames, uint64_t pts_ns)
{
    if (!g)
        return EP_ERR_ARG;
    if (g->err)
        return sticky(g);
    ep_error err = audio_acquired(g, a);
    if (err)
        return err;
    if (frames < 1 || frames > g->audio.slot_frames)
        return set(g, EP_ERR_ARG, "audio frames %u, want 1..%u", frames, g->audio.slot_frames);
    uint8_t *p = g->sbuf + HEADER_SIZE;
    p[0] = (uint8_t)a->slot;
    p[1] = p[2] = p[3] = 0;
    put32(p + 4, frames);
    put64(p + 8, pts_ns);
    if ((err = send_in(g, T_AUDIO_READY, 16, IN(ST_STARTED), "audio_ready")))
        return err;
    g->aslots[a->slot] = SLOT_HOST;
    a->samples = NULL;
    return ping_if_due(g);
}

ep_error ep_discard_audio(ep_game *g, ep_audio *a)
{
    if (!g)
        return EP_ERR_ARG;
    ep_error err = audio_acquired(g, a);
    if (err)
        return err;
    g->aslots[a->slot] = SLOT_FREE;
    a->samples = NULL;
    return EP_OK;
}

/* ---- The latency marker (game/marker). ---- */

#define MARKER_W 256
#define MARKER_H 64
#define MARKER_CELL 32

static int marker_bit(uint16_t value, int row, int col)
{
    return (value >> (15 - (row * (MARKER_W / MARKER_CELL) + col))) & 1;
}

ep_error ep_draw_marker(const ep_frame *f, uint16_t value)
{
    if (!f || !f->planes[0] || f->width < MARKER_W || f->height < MARKER_H)
        return EP_ERR_ARG;
    for (int y = 0; y < MARKER_H; y++) {
        uint8_t *row = f->planes[0] + (size_t)y * f->strides[0];
        for (int x = 0; x < MARKER_W; x++) {
            int on = marker_bit(value, y / MARKER_CELL, x / MARKER_CELL);
            switch (f->format) {
            case EP_FORMAT_RGBA:
                row[4 * x] = row[4 * x + 1] = row[4 * x + 2] = on ? 0xff : 0;
                row[4 * x + 3] = 0xff;
                break;
            case EP_FORMAT_I420:
            case EP_FORMAT_NV12:
                row[x] = on ? 235 : 16;
                break;
            default:
                return EP_ERR_ARG;
            }
        }
    }
    if (f->format == EP_FORMAT_RGBA)
        return EP_OK;
    /* Neutral chroma under the marker: half the width and height. */
    for (int y = 0; y < MARKER_H / 2; y++) {
        if (f->format == EP_FORMAT_I420) {
            if (!f->planes[1] || !f->planes[2])
                return EP_ERR_ARG;
            memset(f->planes[1] + (size_t)y * f->strides[1], 128, MARKER_W / 2);
            memset(f->planes[2] + (size_t)y * f->strides[2], 128, MARKER_W / 2);
        } else {
            if (!f->planes[1])
                return EP_ERR_ARG;
            memset(f->planes[1] + (size_t)y * f->strides[1], 128, MARKER_W);
        }
    }
    return EP_OK;
}
