package gameproc

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"
)

// A game's log lines (its log messages, its stdout and stderr) go into the host's log, bounded:
// each line at most maxLineBytes, at most linesPerSecond lines a second per game; the rest are
// counted and the count is logged when lines flow again.
const (
	maxLineBytes   = 1024
	linesPerSecond = 100
)

// gameLog writes a game's lines to its logger, rate limited. Safe for concurrent use (exec's
// copying goroutines for stdout and stderr, and Run's loop).
type gameLog struct {
	mu      sync.Mutex
	log     *slog.Logger // guarded by mu
	window  time.Time    // guarded by mu: start of the current one-second window
	n       int          // guarded by mu: lines logged in the window
	dropped int          // guarded by mu: lines dropped since the last one logged
}

func (g *gameLog) line(ctx context.Context, level slog.Level, src, text string) {
	if len(text) > maxLineBytes {
		text = text[:maxLineBytes] + "…"
	}
	now := time.Now()
	g.mu.Lock()
	if now.Sub(g.window) >= time.Second {
		g.window, g.n = now, 0
	}
	if g.n >= linesPerSecond {
		g.dropped++
		g.mu.Unlock()
		return
	}
	g.n++
	dropped := g.dropped
	g.dropped = 0
	log := g.log
	g.mu.Unlock()
	if dropped > 0 {
		log.WarnContext(ctx, "game log lines dropped (rate limit)", "dropped", dropped)
	}
	log.Log(ctx, level, text, "src", src)
}

// with adds attributes to every later line (the session's id, once the game has one).
func (g *gameLog) with(args ...any) {
	g.mu.Lock()
	g.log = g.log.With(args...)
	g.mu.Unlock()
}

// lineWriter splits what a child writes to stdout or stderr into lines for gameLog. A line
// longer than maxLineBytes is cut into pieces, so the buffer stays bounded.
type lineWriter struct {
	log   *gameLog
	src   string
	level slog.Level

	mu  sync.Mutex
	buf []byte // guarded by mu: the unfinished line
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			for len(w.buf) >= maxLineBytes {
				w.log.line(context.Background(), w.level, w.src, string(w.buf[:maxLineBytes]))
				w.buf = append(w.buf[:0], w.buf[maxLineBytes:]...)
			}
			break
		}
		w.buf = append(w.buf, p[:i]...)
		w.log.line(context.Background(), w.level, w.src, string(bytes.TrimRight(w.buf, "\r")))
		w.buf = w.buf[:0]
		p = p[i+1:]
	}
	return n, nil
}
