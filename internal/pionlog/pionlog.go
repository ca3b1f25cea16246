// Package pionlog routes pion's leveled loggers into log/slog, so WebRTC internals log through the
// same structured handler as the rest of the process. pion's debug and trace output is dropped
// unless the slog handler is enabled for debug.
package pionlog

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// Factory implements logging.LoggerFactory on top of a *slog.Logger.
type Factory struct{ Logger *slog.Logger }

// NewLogger returns a logger for one pion scope (ice, dtls, sctp, …).
func (f Factory) NewLogger(scope string) logging.LeveledLogger {
	return logger{l: f.Logger.With("pion", scope)}
}

type logger struct{ l *slog.Logger }

func (l logger) log(level slog.Level, msg string) {
	if l.l.Enabled(context.Background(), level) {
		l.l.Log(context.Background(), level, msg)
	}
}

func (l logger) logf(level slog.Level, format string, args ...any) {
	if l.l.Enabled(context.Background(), level) {
		l.l.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (l logger) Trace(msg string)                  {}
func (l logger) Tracef(format string, args ...any) {}
func (l logger) Debug(msg string)                  { l.log(slog.LevelDebug, msg) }
func (l logger) Debugf(format string, args ...any) { l.logf(slog.LevelDebug, format, args...) }
func (l logger) Info(msg string)                   { l.log(slog.LevelDebug, msg) } // pion's info is our debug
func (l logger) Infof(format string, args ...any)  { l.logf(slog.LevelDebug, format, args...) }

// pion warns about benign races during every teardown ("read/write on closed pipe"); the
// session logs its own outcome, so pion's warnings are our debug.
func (l logger) Warn(msg string)                   { l.log(slog.LevelDebug, msg) }
func (l logger) Warnf(format string, args ...any)  { l.logf(slog.LevelDebug, format, args...) }
func (l logger) Error(msg string)                  { l.log(slog.LevelError, msg) }
func (l logger) Errorf(format string, args ...any) { l.logf(slog.LevelError, format, args...) }
