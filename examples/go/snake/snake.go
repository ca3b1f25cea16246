package main

import (
	"math/rand/v2"
	"time"

	"github.com/edgeplay/edgeplay/input"
)

// The board and the pace.
const (
	cols, rows = 32, 18                 // cells
	stepEvery  = 110 * time.Millisecond // the snake moves one cell
	startLen   = 4                      // cells at the start of a round
	stickDead  = 16000                  // a stick past this (of 32767) steers
	padDirs    = 1<<input.PadUp | 1<<input.PadDown | 1<<input.PadLeft | 1<<input.PadRight
	padStart   = 1 << input.PadStart
	padBack    = 1 << input.PadBack
	maxQueued  = 2 // turns remembered ahead of the snake's steps
	foodTries  = 64
	noFoodCell = -1
)

type cell struct{ x, y int }

var (
	up    = cell{0, -1}
	down  = cell{0, 1}
	left  = cell{-1, 0}
	right = cell{1, 0}
)

// snake is the game's state. It knows nothing of the SDK: main feeds it input and time and
// draws it.
type snake struct {
	body    []cell // head first
	dir     cell   // the direction of the last step
	turns   []cell // turns asked for, applied one per step
	food    cell
	score   int
	best    int
	rounds  int // rounds lost
	paused  bool
	quit    bool          // the player asked to end the game (Escape, the pad's back button)
	acc     time.Duration // time not yet turned into steps
	rng     *rand.Rand
	padHeld uint32 // the pad's buttons at its last state, to act on presses only
}

func newSnake(seed int64) *snake {
	s := &snake{rng: rand.New(rand.NewPCG(uint64(seed), 0x5eed))}
	s.reset()
	return s
}

// reset starts a round.
func (s *snake) reset() {
	s.body = s.body[:0]
	for i := range startLen {
		s.body = append(s.body, cell{cols/2 - i, rows / 2})
	}
	s.dir, s.turns, s.score, s.acc = right, s.turns[:0], 0, 0
	s.placeFood()
}

// input applies one input event: keys and the pad steer; Enter or Start restarts; Escape or
// Back quits.
func (s *snake) input(ev input.Event) {
	switch ev.Type {
	case input.KeyDown:
		switch ev.Code {
		case input.KeyArrowUp, input.KeyW:
			s.turn(up)
		case input.KeyArrowDown, input.KeyS:
			s.turn(down)
		case input.KeyArrowLeft, input.KeyA:
			s.turn(left)
		case input.KeyArrowRight, input.KeyD:
			s.turn(right)
		case input.KeyEnter:
			s.lose()
		case input.KeyEscape:
			s.quit = true
		}
	case input.GamepadState:
		pressed := ev.Buttons &^ s.padHeld
		s.padHeld = ev.Buttons
		switch {
		case pressed&(1<<input.PadUp) != 0 || ev.LY < -stickDead && ev.Buttons&padDirs == 0:
			s.turn(up)
		case pressed&(1<<input.PadDown) != 0 || ev.LY > stickDead && ev.Buttons&padDirs == 0:
			s.turn(down)
		case pressed&(1<<input.PadLeft) != 0 || ev.LX < -stickDead && ev.Buttons&padDirs == 0:
			s.turn(left)
		case pressed&(1<<input.PadRight) != 0 || ev.LX > stickDead && ev.Buttons&padDirs == 0:
			s.turn(right)
		}
		if pressed&padStart != 0 {
			s.lose()
		}
		if pressed&padBack != 0 {
			s.quit = true
		}
	case input.GamepadDisconnect:
		s.padHeld = 0
	}
}

// turn queues a change of direction; reversing onto the body and repeats are ignored.
func (s *snake) turn(d cell) {
	last := s.dir
	if n := len(s.turns); n > 0 {
		last = s.turns[n-1]
	}
	if d == last || d == (cell{-last.x, -last.y}) || len(s.turns) == maxQueued {
		return
	}
	s.turns = append(s.turns, d)
}

// advance moves the snake by the steps that fit in dt, and says whether it ate or died.
func (s *snake) advance(dt time.Duration) (ate, died bool) {
	if s.paused {
		return false, false
	}
	s.acc += min(dt, time.Second) // after a stall, do not race to catch up
	for s.acc >= stepEvery {
		s.acc -= stepEvery
		a, d := s.step()
		ate, died = ate || a, died || d
	}
	return ate, died
}

// step moves the snake one cell.
func (s *snake) step() (ate, died bool) {
	if len(s.turns) > 0 {
		s.dir, s.turns = s.turns[0], s.turns[1:]
	}
	head := cell{s.body[0].x + s.dir.x, s.body[0].y + s.dir.y}
	grow := head == s.food
	if !grow {
		s.body = s.body[:len(s.body)-1] // the tail moves out of the way first
	}
	if head.x < 0 || head.y < 0 || head.x >= cols || head.y >= rows || contains(s.body, head) {
		s.lose()
		return false, true
	}
	s.body = append(s.body, cell{})
	copy(s.body[1:], s.body) // shift by one: the head goes in front
	s.body[0] = head
	if !grow {
		return false, false
	}
	s.score++
	s.placeFood()
	return true, false
}

// lose ends the round and starts the next.
func (s *snake) lose() {
	s.best = max(s.best, s.score)
	s.rounds++
	s.reset()
}

// placeFood puts the food on a free cell (none when the board is full).
func (s *snake) placeFood() {
	for range foodTries {
		c := cell{s.rng.IntN(cols), s.rng.IntN(rows)}
		if !contains(s.body, c) {
			s.food = c
			return
		}
	}
	for y := range rows { // a crowded board: the first free cell
		for x := range cols {
			if c := (cell{x, y}); !contains(s.body, c) {
				s.food = c
				return
			}
		}
	}
	s.food = cell{noFoodCell, noFoodCell}
}

func contains(cs []cell, c cell) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}
