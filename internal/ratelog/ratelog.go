package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultInterval is the interval of the gateway's rate-limited
// warnings: per key, at most one line per 30 s.
const DefaultInterval = 30 * time.Second

// SuppressedKey is the attribute every rate-limited line carries: how many
// lines of its key were dropped since the previous one.
const SuppressedKey = "suppressed"

// Logger writes lines through a slog.Logger, at most one per key per
// interval. Safe for concurrent use.
type Logger struct {
	log      *slog.Logger
	interval int64 // ms
	now      func() int64

	mu   sync.Mutex
	keys map[string]*keyState
}

type keyState struct {
	last       int64 // ms of the last line written
	suppressed uint64
}

// New returns a Logger writing to log (slog.Default when nil), at most one
// line per key per interval (DefaultInterval when interval ≤ 0).
func New(log *slog.Logger, interval time.Duration) *Logger {
	if log == nil {
		log = slog.Default()
	}
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Logger{log: log, interval: max(interval.Milliseconds(), 1),
		now: func() int64 { return time.Now().UnixMilli() }, keys: map[string]*keyState{}}
}

// WithClock replaces the clock of l, for tests: now returns the current
// time. Call it before l is used. It returns l.
func (l *Logger) WithClock(now func() time.Time) *Logger {
	l.now = func() int64 { return now().UnixMilli() }
	return l
}

// Slog returns the slog.Logger l writes to.
func (l *Logger) Slog() *slog.Logger { return l.log }

// Interval returns the minimum time between two lines of one key.
func (l *Logger) Interval() time.Duration { return time.Duration(l.interval) * time.Millisecond }

// Allow reports whether a line of key may be written now and, if so, how
// many lines of key were suppressed since the last one; a caller that
// writes the line itself adds SuppressedKey with that count. A line that
// is not allowed is counted as suppressed.
func (l *Logger) Allow(key string) (suppressed uint64, ok bool) {
	return l.AllowAt(key, l.now())
}

// AllowAt is Allow at a given time in Unix milliseconds, for callers that
// already read a clock. It does not allocate once key has been seen.
func (l *Logger) AllowAt(key string, nowMs int64) (suppressed uint64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.keys[key]
	if st == nil {
		l.keys[key] = &keyState{last: nowMs}
		return 0, true
	}
	if nowMs-st.last < l.interval {
		st.suppressed++
		return 0, false
	}
	n := st.suppressed
	st.last, st.suppressed = nowMs, 0
	return n, true
}

// Log writes msg with args at level unless a line of key was written less
// than an interval ago; the line carries SuppressedKey. Lines of a level
// the handler does not write are neither written nor counted.
func (l *Logger) Log(level slog.Level, key, msg string, args ...any) {
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	n, ok := l.Allow(key)
	if !ok {
		return
	}
	l.log.Log(ctx, level, msg, append(args[:len(args):len(args)], SuppressedKey, n)...)
}

// Info is Log at slog.LevelInfo with msg as the key.
func (l *Logger) Info(msg string, args ...any) { l.Log(slog.LevelInfo, msg, msg, args...) }

// Warn is Log at slog.LevelWarn with msg as the key.
func (l *Logger) Warn(msg string, args ...any) { l.Log(slog.LevelWarn, msg, msg, args...) }

// Error is Log at slog.LevelError with msg as the key.
func (l *Logger) Error(msg string, args ...any) { l.Log(slog.LevelError, msg, msg, args...) }
