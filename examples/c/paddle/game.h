/*
 * game.h: paddle's game, apart from the SDK: Pong against a simple AI, stepped at a fixed rate
 * and drawn in software into an RGBA picture. main.c feeds it the player's controls and the
 * time, and turns its sound events into beeps.
 */
#ifndef PADDLE_GAME_H
#define PADDLE_GAME_H

#include <stddef.h>
#include <stdint.h>

/* Sound events of one step (paddle_game.sounds). */
#define SOUND_HIT (1u << 0)   /* the ball hit a paddle */
#define SOUND_WALL (1u << 1)  /* … a wall */
#define SOUND_POINT (1u << 2) /* the player scored */
#define SOUND_MISS (1u << 3)  /* the AI scored */

/* The colours of the picture, R G B. The player's paddle has a colour of its own, so that a
 * test can find it in the picture. */
#define COLOUR_BACKGROUND 0x101420u
#define COLOUR_NET 0x505868u
#define COLOUR_PLAYER 0x50c8ffu
#define COLOUR_AI 0xff7850u
#define COLOUR_BALL 0xf0f0f0u
#define COLOUR_SCORE 0xc8d0e0u

/* paddle_controls is what the player holds, merged from every input device by main.c. */
typedef struct paddle_controls {
    int up, down;   /* held: keys, d-pad */
    float stick;    /* −1 (up) … 1 (down): the strongest stick */
    int aim;        /* nonzero: move towards aim_y (the mouse), set until a key or stick moves */
    float aim_y;    /* pixels */
    float nudge;    /* pixels to move now (the wheel); consumed by the step */
    int serve;      /* a serve was asked for (consumed by the step) */
} paddle_controls;

typedef struct paddle_game {
    int width, height;
    float player_y, ai_y;    /* paddle centres */
    float ball_x, ball_y, ball_vx, ball_vy;
    int serving;             /* 1: the ball waits on the player's paddle, 2: on the AI's */
    float serve_wait;        /* seconds the ball has waited */
    int score, opponent;
    int rallies;             /* paddle hits, both sides */
    unsigned sounds;         /* SOUND_* of the last step */
    uint32_t rng;
} paddle_game;

/* game_init starts a match on a width×height picture. */
void game_init(paddle_game *g, int width, int height);

/* game_step advances the game by dt seconds with the player's controls; it sets g->sounds. */
void game_step(paddle_game *g, paddle_controls *c, float dt);

/* game_draw paints the whole picture into 8-bit RGBA pixels, rows stride bytes apart. */
void game_draw(const paddle_game *g, uint8_t *pix, size_t stride);

#endif
