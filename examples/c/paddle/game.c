/*
 * game.c: Pong against a simple AI. Sizes and speeds are fractions of the picture, so the game
 * plays the same at any size the host asks for.
 */
#include "game.h"

#include <math.h>
#include <string.h>

/* Geometry, as fractions of the picture's height (h) or width (w). */
#define PADDLE_H 0.18f    /* h */
#define PADDLE_W 0.012f   /* w */
#define PADDLE_X 0.04f    /* w: the paddles' distance from the side */
#define BALL 0.022f       /* h: the ball's side */
#define PLAYER_SPEED 1.3f /* h per second */
#define AI_SPEED 0.62f    /* h per second: slower than a fast ball, so it can be beaten */
#define BALL_SPEED 0.5f   /* w per second at a serve */
#define BALL_MAX 1.3f     /* w per second */
#define AI_SERVE_AFTER 1.0f
#define PLAYER_SERVE_AFTER 3.0f /* the ball goes by itself if the player does not serve */

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

static float frand(paddle_game *g) /* 0 … 1 */
{
    g->rng = g->rng * 1664525u + 1013904223u;
    return (float)(g->rng >> 8) / (float)(1u << 24);
}

static void place_serve(paddle_game *g, int who)
{
    g->serving = who;
    g->serve_wait = 0;
    g->ball_vx = g->ball_vy = 0;
}

void game_init(paddle_game *g, int width, int height)
{
    memset(g, 0, sizeof *g);
    g->width = width;
    g->height = height;
    g->player_y = g->ai_y = (float)height / 2;
    g->rng = 0x2545F491u;
    place_serve(g, 1);
}

static void launch(paddle_game *g)
{
    float speed = BALL_SPEED * (float)g->width;
    float angle = (frand(g) - 0.5f) * 0.9f; /* within about ±26° */
    float dir = g->serving == 1 ? 1.0f : -1.0f;
    g->ball_vx = dir * speed * cosf(angle);
    g->ball_vy = speed * sinf(angle);
    g->serving = 0;
}

/* bounce sends the ball back from a paddle centred at py, steeper the further from the centre
 * it hit, and a little faster each time. */
static void bounce(paddle_game *g, float py, float dir)
{
    float h = PADDLE_H * (float)g->height;
    float off = clampf((g->ball_y - py) / (h / 2), -1, 1);
    float speed = sqrtf(g->ball_vx * g->ball_vx + g->ball_vy * g->ball_vy) * 1.06f;
    float max = BALL_MAX * (float)g->width;
    if (speed > max)
        speed = max;
    float angle = off * 1.0f; /* up to about 57° */
    g->ball_vx = dir * speed * cosf(angle);
    g->ball_vy = speed * sinf(angle);
    g->rallies++;
    g->sounds |= SOUND_HIT;
}

static void move_player(paddle_game *g, paddle_controls *c, float dt)
{
    float h = (float)g->height, speed = PLAYER_SPEED * h;
    float v = 0;
    if (c->up || c->down || fabsf(c->stick) > 0.01f)
        c->aim = 0; /* keys and sticks take over from the mouse */
    if (c->up)
        v -= speed;
    if (c->down)
        v += speed;
    v += c->stick * speed;
    g->player_y += clampf(v, -speed, speed) * dt;
    if (c->aim) {
        float d = c->aim_y - g->player_y, step = 2 * speed * dt;
        g->player_y += clampf(d, -step, step);
    }
    g->player_y += c->nudge;
    c->nudge = 0;
    float half = PADDLE_H * h / 2;
    g->player_y = clampf(g->player_y, half, h - half);
}

static void move_ai(paddle_game *g, float dt)
{
    float h = (float)g->height, half = PADDLE_H * h / 2;
    /* Follow the ball when it comes, drift back to the middle when it goes. */
    float target = g->ball_vx > 0 ? g->ball_y : h / 2;
    if (g->serving == 2)
        target = h / 2;
    float step = AI_SPEED * h * dt;
    g->ai_y += clampf(target - g->ai_y, -step, step);
    g->ai_y = clampf(g->ai_y, half, h - half);
}

void game_step(paddle_game *g, paddle_controls *c, float dt)
{
    float w = (float)g->width, h = (float)g->height;
    float half_ball = BALL * h / 2, half_paddle = PADDLE_H * h / 2;
    float left = PADDLE_X * w + PADDLE_W * w, right = w - PADDLE_X * w - PADDLE_W * w;
    g->sounds = 0;
    move_player(g, c, dt);
    move_ai(g, dt);

    if (g->serving) {
        g->serve_wait += dt;
        if (g->serving == 1) {
            g->ball_x = left + half_ball;
            g->ball_y = g->player_y;
            if (c->serve || g->serve_wait >= PLAYER_SERVE_AFTER)
                launch(g);
        } else {
            g->ball_x = right - half_ball;
            g->ball_y = g->ai_y;
            if (g->serve_wait >= AI_SERVE_AFTER)
                launch(g);
        }
        c->serve = 0;
        return;
    }
    c->serve = 0;

    g->ball_x += g->ball_vx * dt;
    g->ball_y += g->ball_vy * dt;
    if (g->ball_y < half_ball) {
        g->ball_y = half_ball;
        g->ball_vy = fabsf(g->ball_vy);
        g->sounds |= SOUND_WALL;
    } else if (g->ball_y > h - half_ball) {
        g->ball_y = h - half_ball;
        g->ball_vy = -fabsf(g->ball_vy);
        g->sounds |= SOUND_WALL;
    }
    if (g->ball_vx < 0 && g->ball_x - half_ball <= left && g->ball_x > left - PADDLE_W * w &&
        fabsf(g->ball_y - g->player_y) <= half_paddle + half_ball) {
        g->ball_x = left + half_ball;
        bounce(g, g->player_y, 1);
    } else if (g->ball_vx > 0 && g->ball_x + half_ball >= right && g->ball_x < right + PADDLE_W * w &&
               fabsf(g->ball_y - g->ai_y) <= half_paddle + half_ball) {
        g->ball_x = right - half_ball;
        bounce(g, g->ai_y, -1);
    }
    if (g->ball_x < -half_ball) {
        g->opponent++;
        g->sounds |= SOUND_MISS;
        place_serve(g, 1);
    } else if (g->ball_x > w + half_ball) {
        g->score++;
        g->sounds |= SOUND_POINT;
        place_serve(g, 2);
    }
}

/* ---- Drawing. ---- */

static void fill(uint8_t *pix, size_t stride, int width, int height, int x0, int y0, int x1, int y1, uint32_t rgb)
{
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > width) x1 = width;
    if (y1 > height) y1 = height;
    for (int y = y0; y < y1; y++) {
        uint8_t *p = pix + (size_t)y * stride + (size_t)x0 * 4;
        for (int x = x0; x < x1; x++, p += 4) {
            p[0] = (uint8_t)(rgb >> 16);
            p[1] = (uint8_t)(rgb >> 8);
            p[2] = (uint8_t)rgb;
            p[3] = 0xff;
        }
    }
}

/* A 3×5 font for the digits: one row a byte, bit 2 the left column. */
static const uint8_t digits[10][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
    {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 2, 2, 2}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
};

/* draw_number paints n with its right edge at right (align 1) or its left edge at x (align 0). */
static void draw_number(uint8_t *pix, size_t stride, int width, int height, int x, int y, int cell, int n, int right)
{
    char buf[12];
    int len = 0;
    do {
        buf[len++] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0 && len < 11);
    int advance = 4 * cell;
    if (right)
        x -= len * advance - cell;
    for (int i = len - 1; i >= 0; i--, x += advance) {
        const uint8_t *d = digits[buf[i] - '0'];
        for (int row = 0; row < 5; row++)
            for (int col = 0; col < 3; col++)
                if (d[row] & (4 >> col))
                    fill(pix, stride, width, height, x + col * cell, y + row * cell, x + (col + 1) * cell,
                         y + (row + 1) * cell, COLOUR_SCORE);
    }
}

void game_draw(const paddle_game *g, uint8_t *pix, size_t stride)
{
    int w = g->width, h = g->height;
    /* The background: one row, copied down. */
    fill(pix, stride, w, h, 0, 0, w, 1, COLOUR_BACKGROUND);
    for (int y = 1; y < h; y++)
        memcpy(pix + (size_t)y * stride, pix, (size_t)w * 4);

    int dash = h / 30 > 1 ? h / 30 : 2, net = w / 160 > 1 ? w / 160 : 2;
    for (int y = dash / 2; y < h; y += 2 * dash)
        fill(pix, stride, w, h, w / 2 - net / 2, y, w / 2 - net / 2 + net, y + dash, COLOUR_NET);

    int cell = h / 60 > 1 ? h / 60 : 1;
    draw_number(pix, stride, w, h, w / 2 - 4 * cell, 3 * cell, cell, g->score, 1);
    draw_number(pix, stride, w, h, w / 2 + 4 * cell, 3 * cell, cell, g->opponent, 0);

    int pw = (int)(PADDLE_W * (float)w + 0.5f), ph = (int)(PADDLE_H * (float)h + 0.5f);
    int px = (int)(PADDLE_X * (float)w), ax = w - (int)(PADDLE_X * (float)w) - pw;
    int py = (int)g->player_y - ph / 2, ay = (int)g->ai_y - ph / 2;
    if (pw < 2) pw = 2;
    fill(pix, stride, w, h, px, py, px + pw, py + ph, COLOUR_PLAYER);
    fill(pix, stride, w, h, ax, ay, ax + pw, ay + ph, COLOUR_AI);

    int b = (int)(BALL * (float)h + 0.5f);
    if (b < 2) b = 2;
    int bx = (int)g->ball_x - b / 2, by = (int)g->ball_y - b / 2;
    fill(pix, stride, w, h, bx, by, bx + b, by + b, COLOUR_BALL);
}
