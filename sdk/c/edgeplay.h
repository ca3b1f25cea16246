/*
 * edgeplay.h: the C SDK of edgeplay's game protocol 1.0 (docs/SDK.md), the game's side of the
 * link to the session host. One header and one C file (edgeplay.c), C99 + POSIX on Linux, no
 * other dependency: an engine plugin (Unreal, Unity, Godot, …) wraps it.
 *
 * A game's loop, on one thread:
 *
 *     ep_game *g;
 *     char why[EP_DETAIL_SIZE];
 *     if (ep_open(NULL, &g, why, sizeof why) != EP_OK) { fprintf(stderr, "%s\n", why); exit(1); }
 *     ... load (ep_loading(g, ms) if it takes long) ...
 *     ep_ready(g);
 *     for (;;) {
 *         ep_event ev;
 *         ep_poll(g, timeout_ms, &ev);      // assign, player_joined, input, drain, shutdown, ...
 *         ... after EP_EV_ASSIGN: ep_started(g), then per frame:
 *         ep_frame f;
 *         if (ep_acquire_frame(g, &f) == EP_OK) {   // EP_NO_SLOT: skip this frame
 *             ... draw into f.planes[i], rows f.strides[i] bytes apart ...
 *             ep_submit_frame(g, &f, last_input_seq, 0);
 *         }
 *     }
 *     ep_end(g, "{\"score\":1200}"); ep_close(g); exit(0);
 *
 * Contracts:
 *   - No global state: every handle is independent. The SDK starts no thread and installs no
 *     signal handler; it never aborts or exits the process. A handle is not thread-safe: one
 *     loop owns it (the protocol wants the pings from the game's own loop).
 *   - Every function that can fail returns an ep_error; EP_OK is 0. When a call fails, the
 *     handle's detail (ep_detail) says why.
 *   - The SDK allocates only in ep_open (the handle) and frees in ep_close; nothing per frame.
 *   - Heartbeats ride on the loop: ep_poll, ep_submit_frame and ep_submit_audio send a ping
 *     when one is due (at most once a second, every heartbeat_ms/2 when that is shorter), and
 *     a long ep_poll wakes up to ping while it waits. Call ep_poll at least every heartbeat_ms (ep_poll(g, 0, &ev)
 *     once per frame does it), or ep_ping during long blocking work.
 *   - Everything the host sends is checked against the link's state (layouts, ranges, reserved
 *     bytes, descriptor counts, slot ownership, player numbers, message order). A violation is
 *     EP_ERR_PROTOCOL and breaks the handle: every later call returns the same error, but
 *     ep_fatal still works, to tell the host why. The game should then exit. The host's close
 *     (EP_ERR_HOST_GONE) breaks it likewise, and then ep_fatal cannot be sent.
 *   - Shared memory: a frame's or audio chunk's pointers are valid from its acquire until its
 *     submit or discard, and never after a pool change or ep_close.
 *   - Strings and buffers an event points to are valid until the next ep_poll or ep_close.
 *   - Sending never raises SIGPIPE (MSG_NOSIGNAL); a signal interrupting a wait is retried.
 *   - Linux only (memfd seals, SOCK_SEQPACKET, MSG_CMSG_CLOEXEC), on a little-endian machine
 *     (x86-64, arm64): samples and pixels are written as the machine stores them.
 */
#ifndef EDGEPLAY_H
#define EDGEPLAY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the SDK announces in hello, and the protocol version it speaks. */
#define EP_SDK_NAME "edgeplay-c/1.0.0"
#define EP_PROTOCOL_MAJOR 1
#define EP_PROTOCOL_MINOR 0

/* EDGEPLAY_FD names the link's descriptor; EP_DEFAULT_FD is used when it is unset. */
#define EP_ENV_FD "EDGEPLAY_FD"
#define EP_DEFAULT_FD 3

/* Limits of the protocol (docs/SDK.md). */
#define EP_MAX_SLOTS 8         /* frame slots in a pool */
#define EP_MAX_AUDIO_SLOTS 32  /* audio slots in a pool */
#define EP_MAX_PLAYERS 8       /* player numbers 0..7 */
#define EP_MAX_INPUT_BATCH 64  /* input events in one EP_EV_INPUT */
#define EP_MAX_TEXT 4096       /* log, fatal text; ending's result; assign's params */
#define EP_MAX_ID 64           /* session and player ids */
#define EP_MAX_LOADING_MS 600000
#define EP_DETAIL_SIZE 256     /* room for a detail text, NUL included */

/* ep_error: what every call returns. */
typedef enum ep_error {
    EP_OK = 0,
    /* EP_NO_SLOT: ep_acquire_frame or ep_acquire_audio found no free slot: skip this frame
     * (never wait for one). Not a failure; the handle stays usable. */
    EP_NO_SLOT = 1,
    /* The host sent something the protocol forbids. Breaks the handle (ep_fatal still works). */
    EP_ERR_PROTOCOL = 2,
    /* The host speaks another major version. Breaks the handle. */
    EP_ERR_VERSION = 3,
    /* The host closed the link. Breaks the handle. */
    EP_ERR_HOST_GONE = 4,
    /* The call is not allowed in this state (ep_started before assign, a frame before started,
     * anything after ep_end or ep_fatal, an audio call without an audio pool). */
    EP_ERR_STATE = 5,
    /* An argument is out of range, or not a frame of this handle's current pool. */
    EP_ERR_ARG = 6,
    /* The handshake did not complete within the handshake timeout. */
    EP_ERR_TIMEOUT = 7,
    /* A system call failed for a reason of this process (errno in the detail); out of memory.
     * Breaks the handle when it happens on the link. */
    EP_ERR_SYSTEM = 8
} ep_error;

/* ep_strerror returns a static description of err ("protocol error from host", …), and
 * ep_error_name its identifier ("EP_ERR_PROTOCOL"); both say "unknown error" for a value
 * outside the enum. */
const char *ep_strerror(ep_error err);
const char *ep_error_name(ep_error err);

/* Capability bits of hello and welcome. */
#define EP_CAP_AUDIO (1u << 0) /* the game makes sound: the host sends an audio pool */
#define EP_CAP_I420 (1u << 1)  /* the game can render I420 */
#define EP_CAP_NV12 (1u << 2)  /* the game can render NV12 */
#define EP_CAP_INPUT (1u << 3) /* the game wants input */

/* Pixel formats (ep_frame.format, ep_pool_info.format; bit 1 << f of ep_welcome.formats). */
#define EP_FORMAT_RGBA 1 /* one plane, 4 bytes a pixel: R G B A (A is ignored) */
#define EP_FORMAT_I420 2 /* Y, then U and V at half width and height; BT.709 limited range */
#define EP_FORMAT_NV12 3 /* Y, then interleaved U V at half width and height */

/* Audio sample formats (ep_audio_info.format). Always 48 kHz, 2 channels, interleaved L R. */
#define EP_SAMPLE_S16 1 /* signed 16-bit little-endian */
#define EP_SAMPLE_F32 2 /* 32-bit float little-endian, -1..1 */

/* ep_config: what the game announces in hello. A zeroed struct (or NULL) is an RGBA game that
 * wants input and makes no sound. */
typedef struct ep_config {
    int i420;     /* nonzero: the game can also render I420 (the host picks the format) */
    int nv12;     /* nonzero: … NV12 */
    int audio;    /* nonzero: the game makes sound; the host registers an audio pool */
    int no_input; /* nonzero: the game wants no input messages */
    /* Bounds hello → buffer_pool (→ audio_pool); 0: 10,000 ms. */
    uint32_t handshake_timeout_ms;
    /* For tests: the clock the SDK paces pings by, in ns; NULL: CLOCK_MONOTONIC. */
    uint64_t (*clock_ns)(void *ctx);
    void *clock_ctx;
} ep_config;

/* ep_welcome: what the host settled on. */
typedef struct ep_welcome {
    uint16_t major, minor;
    uint32_t caps;          /* the game's caps ∩ the host's */
    int width, height, fps; /* the stream the game renders */
    uint16_t formats;       /* bit f: the host accepts pixel format f */
    uint32_t heartbeat_ms;  /* the longest gap between pings the host allows */
    uint32_t ready_timeout_ms, ready_cap_ms, started_timeout_ms, stall_timeout_ms;
} ep_welcome;

/* ep_pool_info: the frame buffers' layout. Use the offsets and strides given. */
typedef struct ep_pool_info {
    int n_slots, format, width, height;
    uint32_t slot_size;
    uint32_t offsets[3], strides[3]; /* planes past the format's are 0 */
} ep_pool_info;

/* ep_audio_info: the audio buffers' layout. */
typedef struct ep_audio_info {
    int n_slots, format, channels;
    uint32_t rate;        /* 48000 */
    uint32_t slot_frames; /* the most frames (one sample per channel) a slot holds */
    uint32_t slot_size;
} ep_audio_info;


/* ep_game: the game's end of the link, opaque. */
typedef struct ep_game ep_game;

/* ep_open connects to the host through the descriptor EDGEPLAY_FD names (fd 3 when unset) and
 * runs the handshake: it sends hello (caps from cfg; NULL: the defaults), waits for welcome
 * (same major; a minor and caps no more than the game's), then buffer_pool (the format agreed,
 * the size welcome said, a memfd sealed against shrinking, growing and further sealing and big
 * enough by fstat; mapped read-write) and, when audio was agreed, audio_pool (likewise).
 * On success *out is the handle; free it with ep_close. On failure *out is NULL and why, when
 * not NULL, gets a NUL-terminated description (at most why_size bytes; EP_DETAIL_SIZE is
 * enough).
 * Ownership: the handle takes over the descriptor (and marks it close-on-exec, so that the
 * game's own children do not inherit the link); it is closed on failure and by ep_close.
 * Errors: EP_ERR_ARG (EDGEPLAY_FD is not a descriptor number; the descriptor is not an AF_UNIX
 * SOCK_SEQPACKET socket; out is NULL), EP_ERR_PROTOCOL, EP_ERR_VERSION, EP_ERR_HOST_GONE,
 * EP_ERR_TIMEOUT, EP_ERR_SYSTEM. */
ep_error ep_open(const ep_config *cfg, ep_game **out, char *why, size_t why_size);

/* ep_open_fd is ep_open on the descriptor fd instead of EDGEPLAY_FD's. */
ep_error ep_open_fd(int fd, const ep_config *cfg, ep_game **out, char *why, size_t why_size);

/* ep_close closes the link, unmaps the shared memory and frees the handle. Frames and audio
 * chunks not submitted must not be touched afterwards. NULL is a no-op. Always EP_OK. */
ep_error ep_close(ep_game *g);

/* ep_status is the error that broke the handle (EP_ERR_PROTOCOL, EP_ERR_VERSION,
 * EP_ERR_HOST_GONE, EP_ERR_SYSTEM), or EP_OK. */
ep_error ep_status(const ep_game *g);

/* ep_detail describes the last failed call on g ("" when none failed): for a protocol error,
 * which rule the host broke. Valid until the next call on g. */
const char *ep_detail(const ep_game *g);

/* Getters; each copies into *out. Errors: EP_ERR_ARG (NULL); ep_get_audio_pool: EP_ERR_STATE
 * when there is no audio pool (audio was not agreed). */
ep_error ep_get_welcome(const ep_game *g, ep_welcome *out);
ep_error ep_get_pool(const ep_game *g, ep_pool_info *out);
ep_error ep_get_audio_pool(const ep_game *g, ep_audio_info *out);

/* ep_session is the session id from assign, "" before it. */
const char *ep_session(const ep_game *g);

/* ep_now_ns is CLOCK_MONOTONIC in ns: the clock of frame and audio pts. */
uint64_t ep_now_ns(void);

/* ---- Lifecycle (game → host). Each fails with the handle's error when it is broken. ---- */

/* ep_ready: loaded; the game waits, rendering nothing, for EP_EV_ASSIGN.
 * Errors: EP_ERR_STATE (not loading: ready twice, after end). */
ep_error ep_ready(ep_game *g);

/* ep_started: the game took its assignment and renders from now on.
 * Errors: EP_ERR_STATE (no assign yet, started twice, after end). */
ep_error ep_started(ep_game *g);

/* ep_loading asks for until_ms more before ready (from now, within welcome's ready_cap_ms).
 * Errors: EP_ERR_ARG (0 or over 600,000), EP_ERR_STATE (not loading). */
ep_error ep_loading(ep_game *g, uint32_t until_ms);

/* Log levels of ep_log. */
#define EP_LOG_DEBUG 0
#define EP_LOG_INFO 1
#define EP_LOG_WARN 2
#define EP_LOG_ERROR 3

/* ep_log sends one line of UTF-8 text (NUL-terminated) to the host's log, which tags it with
 * the session; past 4,096 bytes it is cut at a character boundary. Allowed in every state,
 * after ep_end too. Errors: EP_ERR_ARG (level, NULL, text not UTF-8). */
ep_error ep_log(ep_game *g, int level, const char *text);

/* ep_end says the game is over, with a result: NULL or "" for none, or a JSON object (UTF-8,
 * at most 4,096 bytes, starting with '{') that goes into the session's ended event. Exit 0
 * after it (ep_close first). Errors: EP_ERR_ARG (not a JSON object, too long), EP_ERR_STATE
 * (after ep_end or ep_fatal). */
ep_error ep_end(ep_game *g, const char *result_json);

/* ep_fatal says the game cannot go on, and why (NUL-terminated; invalid UTF-8 is replaced by
 * U+FFFD, and the text cut to 4,096 bytes; "" becomes "fatal error"). Exit non-zero after it.
 * It works on a handle broken by a protocol or version error, to tell the host.
 * Errors: EP_ERR_STATE (after the host closed the link), EP_ERR_ARG (msg NULL). */
ep_error ep_fatal(ep_game *g, const char *msg);

/* ep_ping sends a heartbeat now. ep_poll and ep_submit_frame send them on their own; call it
 * during long work that keeps the loop from polling. Errors: EP_ERR_STATE (after end). */
ep_error ep_ping(ep_game *g);

/* ---- Input (docs/PROTOCOL.md, "Input wire format"). ---- */

/* Input event types (ep_input_event.type). */
#define EP_KEY_DOWN 1
#define EP_KEY_UP 2
#define EP_MOUSE_MOVE 3
#define EP_MOUSE_BUTTON 4
#define EP_WHEEL 5
#define EP_PAD_STATE 6
#define EP_PAD_CONNECT 7
#define EP_PAD_DISCONNECT 8

/* Key codes: USB HID usages, keyboard page 0x07 (KeyA … KeyZ are 0x04 … 0x1D, Digit1 …
 * Digit9 0x1E … 0x26, Digit0 0x27, F1 … F12 0x3A … 0x45); a few common ones: */
#define EP_KEY_A 0x04
#define EP_KEY_D 0x07
#define EP_KEY_S 0x16
#define EP_KEY_W 0x1A
#define EP_KEY_ENTER 0x28
#define EP_KEY_ESCAPE 0x29
#define EP_KEY_BACKSPACE 0x2A
#define EP_KEY_TAB 0x2B
#define EP_KEY_SPACE 0x2C
#define EP_KEY_RIGHT 0x4F
#define EP_KEY_LEFT 0x50
#define EP_KEY_DOWN_ARROW 0x51
#define EP_KEY_UP_ARROW 0x52
#define EP_KEY_CTRL_LEFT 0xE0
#define EP_KEY_SHIFT_LEFT 0xE1
#define EP_KEY_ALT_LEFT 0xE2

/* Modifier bits of ep_input_event.mods. */
#define EP_MOD_SHIFT (1u << 0)
#define EP_MOD_CTRL (1u << 1)
#define EP_MOD_ALT (1u << 2)
#define EP_MOD_META (1u << 3)

/* Mouse buttons, as the DOM numbers them (0..4). */
#define EP_MOUSE_LEFT 0
#define EP_MOUSE_MIDDLE 1
#define EP_MOUSE_RIGHT 2

/* Gamepad buttons (W3C standard mapping), as bit indices of ep_input_event.buttons. */
#define EP_PAD_A 0     /* bottom face button */
#define EP_PAD_B 1     /* right */
#define EP_PAD_X 2     /* left */
#define EP_PAD_Y 3     /* top */
#define EP_PAD_LB 4
#define EP_PAD_RB 5
#define EP_PAD_LT 6    /* pressed; the analog value is lt */
#define EP_PAD_RT 7
#define EP_PAD_BACK 8
#define EP_PAD_START 9
#define EP_PAD_LS 10   /* left stick pressed */
#define EP_PAD_RS 11
#define EP_PAD_UP 12   /* d-pad */
#define EP_PAD_DOWN 13
#define EP_PAD_LEFT 14
#define EP_PAD_RIGHT 15
#define EP_PAD_HOME 16
#define EP_PAD_BUTTONS 17
#define EP_MAX_PADS 8
/* EP_TOUCH_PAD is the web client's on-screen touch controls, sent as a gamepad: move stick =
 * left stick, aim stick = right stick (past half way also rt 255 and button 7), FIRE = A,
 * the star = X, the top button = start. */
#define EP_TOUCH_PAD 7
/* Flags of EP_PAD_CONNECT and EP_PAD_DISCONNECT (ep_input_event.pad_flags). */
#define EP_PADF_TOUCH (1u << 0)  /* the on-screen touch controls */
#define EP_PADF_RUMBLE (1u << 1) /* the client can rumble this pad */

/* ep_input_event is one decoded input record. Fields a type does not use are 0. */
typedef struct ep_input_event {
    uint8_t type;     /* EP_KEY_DOWN … EP_PAD_DISCONNECT */
    uint32_t seq;     /* the client's input sequence number (wraps): echo it in frames */
    uint32_t time_ms; /* the client's clock, informational */
    /* keys */
    uint16_t code;    /* USB HID usage, never 0 */
    uint8_t mods;     /* EP_MOD_* */
    /* mouse buttons; down is also 1 for EP_KEY_DOWN and EP_PAD_CONNECT */
    uint8_t button;   /* 0..4 */
    uint8_t down;     /* 0 or 1 */
    /* mouse move (dx, dy relative with pointer lock; x, y absolute in the video, 0..65535)
     * and wheel (dx, dy in pixels) */
    int16_t dx, dy;
    uint16_t x, y;
    /* gamepads: pad in every gamepad event; pad_flags in connect and disconnect; the rest in
     * EP_PAD_STATE. Sticks −32767 (left, up) … 32767 (right, down), dead zone applied. */
    uint8_t pad;       /* 0..7; EP_TOUCH_PAD is the touch controls */
    uint8_t pad_flags; /* EP_PADF_* */
    uint32_t buttons;  /* bit i: button i held (EP_PAD_A … EP_PAD_HOME) */
    uint8_t lt, rt;    /* triggers, 0 … 255 */
    int16_t lx, ly, rx, ry;
} ep_input_event;

/* ep_decode_input decodes one input wire record of len bytes into *out, with exactly the
 * checks of the host's decoder (Go: input.Decode): the size of its type, version 1, a known
 * type, key code not 0, mods ≤ 0x0f, mouse button ≤ 4, down 0/1, pad ≤ 7, buttons within bits
 * 0..16, no axis at −32768, pad flags within EP_PADF_*. ep_poll uses it; it is public for
 * engines that read records from elsewhere. Errors: EP_ERR_ARG (invalid; *out is then zeroed). */
ep_error ep_decode_input(const uint8_t *rec, size_t len, ep_input_event *out);

/* ---- Events (host → game). ---- */

typedef enum ep_event_type {
    EP_EV_NONE = 0,          /* nothing came within the timeout */
    EP_EV_ASSIGN,            /* id: the session id; data, data_len: the studio's params.
                              * Answer with ep_started within started_timeout_ms. */
    EP_EV_PLAYER_JOINED,     /* player; id: the player id; data, data_len: the join's payload */
    EP_EV_PLAYER_LEFT,       /* player: gone for good */
    EP_EV_PLAYER_AWAY,       /* player: the connection dropped; the host waits for a resume */
    EP_EV_PLAYER_BACK,       /* player: resumed */
    EP_EV_INPUT,             /* player; inputs[0 … n_inputs-1], in the order received */
    EP_EV_DRAIN,             /* deadline_ms, deadline_ns: finish, ep_end, exit 0 by then */
    EP_EV_SHUTDOWN,          /* deadline_ms (the grace), deadline_ns: exit by then */
    EP_EV_RELEASED,          /* slot: a frame slot is the game's again */
    EP_EV_AUDIO_RELEASED,    /* slot: an audio slot is the game's again */
    EP_EV_POOL_CHANGED,      /* the host registered new frame buffers (ep_get_pool) */
    EP_EV_AUDIO_POOL_CHANGED /* … new audio buffers (ep_get_audio_pool) */
} ep_event_type;

/* ep_event is what ep_poll returns; fields an event type does not use are 0 or NULL. */
typedef struct ep_event {
    ep_event_type type;
    int player;                   /* 0..7 */
    int slot;                     /* released slots */
    const char *id;               /* NUL-terminated, printable ASCII without spaces */
    const uint8_t *data;          /* opaque bytes, not NUL-terminated */
    size_t data_len;
    const ep_input_event *inputs;
    size_t n_inputs;              /* 1..64 */
    uint32_t deadline_ms;         /* as the host sent it */
    uint64_t deadline_ns;         /* CLOCK_MONOTONIC when it passes */
} ep_event;

/* ep_poll waits up to timeout_ms (0: only look; negative: until something comes) for the
 * host's next message and returns it as *ev; ev->type is EP_EV_NONE when nothing came in time.
 * While it waits it sends the heartbeats that fall due. Ignorable unknown messages are skipped.
 * Pointers in *ev are valid until the next ep_poll or ep_close.
 * Errors: EP_ERR_PROTOCOL, EP_ERR_VERSION, EP_ERR_HOST_GONE, EP_ERR_SYSTEM (all break the
 * handle), EP_ERR_ARG (ev NULL). */
ep_error ep_poll(ep_game *g, int timeout_ms, ep_event *ev);

/* ---- Frames. ---- */

/* Flags of ep_submit_frame. */
#define EP_FRAME_MARKER (1u << 0) /* the game drew edgeplay's latency marker (ep_draw_marker) */

/* ep_frame is one frame slot being rendered into: views of the shared memory. RGBA has one
 * plane, I420 three (Y, U, V), NV12 two (Y, interleaved UV); chroma planes are half the width
 * and height. Rows are strides[i] bytes apart, not packed; planes past the format's are NULL. */
typedef struct ep_frame {
    int slot;
    int format;           /* EP_FORMAT_* */
    int width, height;
    uint8_t *planes[3];
    uint32_t strides[3];
    uint32_t gen;         /* the SDK's: which pool the frame belongs to */
} ep_frame;

/* ep_acquire_frame hands out a free slot to render into as *f. Render the whole picture: the
 * slot holds an older frame.
 * Errors: EP_NO_SLOT (every slot is with the host or acquired: skip this frame, never wait),
 * EP_ERR_STATE (not started, or after end), EP_ERR_ARG (f NULL), the handle's error. */
ep_error ep_acquire_frame(ep_game *g, ep_frame *f);

/* ep_submit_frame hands f to the host (frame_ready) with the next frame number (from 1) and
 * CLOCK_MONOTONIC now as pts; input_seq is the seq of the last input event applied before
 * rendering it (0: none yet); flags: EP_FRAME_MARKER or 0. The slot is the host's until
 * EP_EV_RELEASED: f's planes are cleared and must not be touched. Sends a ping when one is due.
 * Errors: EP_ERR_ARG (not a frame of the current pool, unknown flag), EP_ERR_STATE (the frame
 * was already submitted or discarded; not started), the handle's error. */
ep_error ep_submit_frame(ep_game *g, ep_frame *f, uint32_t input_seq, uint32_t flags);

/* ep_discard_frame gives an acquired frame back unsubmitted. Errors as ep_submit_frame. */
ep_error ep_discard_frame(ep_game *g, ep_frame *f);

/* ep_draw_marker paints edgeplay's latency marker (docs/PROTOCOL.md, "Latency marker") into
 * the top-left 256×64 pixels of f: the low 16 bits of value (the last applied input seq) as
 * 2 rows × 8 columns of 32×32 cells, bit 15 first, 1 white and 0 black (RGBA: 255/0, opaque;
 * I420 and NV12: Y 235/16, neutral chroma). Submit the frame with EP_FRAME_MARKER.
 * Errors: EP_ERR_ARG (f NULL or not acquired, smaller than 256×64, unknown format). */
ep_error ep_draw_marker(const ep_frame *f, uint16_t value);

/* ---- Audio (only when audio was agreed: ep_get_audio_pool). ---- */

/* ep_audio is one audio slot being filled: up to max_frames frames of interleaved samples
 * (L R L R …) in the pool's format (EP_SAMPLE_S16: int16_t, EP_SAMPLE_F32: float). */
typedef struct ep_audio {
    int slot;
    int format;          /* EP_SAMPLE_* */
    int channels;        /* 2 */
    uint32_t max_frames; /* the pool's slot_frames */
    void *samples;
    uint32_t gen;        /* the SDK's */
} ep_audio;

/* ep_acquire_audio hands out a free audio slot as *a.
 * Errors: EP_NO_SLOT (all with the host or acquired: the host is behind; skip ahead later),
 * EP_ERR_STATE (no audio pool, not started, after end), EP_ERR_ARG, the handle's error. */
ep_error ep_acquire_audio(ep_game *g, ep_audio *a);

/* ep_submit_audio hands a to the host (audio_ready) with frames frames (1..max_frames) whose
 * first sample plays at pts_ns (CLOCK_MONOTONIC, on the frames' clock; ep_now_ns). Send sound
 * in order and without gaps (silence as zeros); a pts well past the end of the previous chunk
 * marks a break the host fills with silence. The slot is the host's until
 * EP_EV_AUDIO_RELEASED. Sends a ping when one is due. Errors: EP_ERR_ARG (frames out of
 * range, not an acquired chunk of the current pool), EP_ERR_STATE, the handle's error. */
ep_error ep_submit_audio(ep_game *g, ep_audio *a, uint32_t frames, uint64_t pts_ns);

/* ep_discard_audio gives an acquired audio slot back unsubmitted. */
ep_error ep_discard_audio(ep_game *g, ep_audio *a);

#ifdef __cplusplus
}
#endif

#endif /* EDGEPLAY_H */
