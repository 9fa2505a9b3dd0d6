package plugin

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// hcLogger adapts a *slog.Logger to the hclog.Logger go-plugin wants, so
// go-plugin's own messages and the plugin's parsed stderr records land in
// the host's slog output. min is the lowest level passed on.
type hcLogger struct {
	l    *slog.Logger
	min  slog.Level
	name string
	// started is set once the plugin has handshaken; shared by the
	// loggers With and Named derive. Before it, go-plugin's "failed to
	// exit gracefully" only means the process is being stopped after a
	// failed start, which its own error already reports.
	started *atomic.Bool
}

func newHCLogger(l *slog.Logger, min slog.Level) *hcLogger {
	return &hcLogger{l: l, min: min, started: new(atomic.Bool)}
}

// notStartedExit is go-plugin's message when it kills a plugin process.
const notStartedExit = "plugin failed to exit gracefully"

var _ hclog.Logger = (*hcLogger)(nil)

const levelTrace = slog.LevelDebug - 4

func toSlog(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace:
		return levelTrace
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (h *hcLogger) enabled(l slog.Level) bool {
	return l >= h.min && h.l.Enabled(context.Background(), l)
}

func (h *hcLogger) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off {
		return
	}
	l := toSlog(level)
	if msg == notStartedExit && !h.started.Load() {
		l, msg = slog.LevelDebug, "plugin process stopped after a failed start"
	}
	if !h.enabled(l) {
		return
	}
	// go-plugin appends the plugin's own "timestamp" last; the slog record
	// has its own time.
	if n := len(args); n >= 2 && args[n-2] == "timestamp" {
		args = args[:n-2]
	}
	h.l.Log(context.Background(), l, msg, args...)
}

func (h *hcLogger) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }
func (h *hcLogger) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }
func (h *hcLogger) Info(msg string, args ...any)  { h.Log(hclog.Info, msg, args...) }
func (h *hcLogger) Warn(msg string, args ...any)  { h.Log(hclog.Warn, msg, args...) }
func (h *hcLogger) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }
func (h *hcLogger) IsTrace() bool                 { return h.enabled(levelTrace) }
func (h *hcLogger) IsDebug() bool                 { return h.enabled(slog.LevelDebug) }
func (h *hcLogger) IsInfo() bool                  { return h.enabled(slog.LevelInfo) }
func (h *hcLogger) IsWarn() bool                  { return h.enabled(slog.LevelWarn) }
func (h *hcLogger) IsError() bool                 { return h.enabled(slog.LevelError) }
func (h *hcLogger) ImpliedArgs() []any            { return nil }
func (h *hcLogger) Name() string                  { return h.name }
func (h *hcLogger) SetLevel(hclog.Level)          {}

func (h *hcLogger) With(args ...any) hclog.Logger {
	return &hcLogger{l: h.l.With(args...), min: h.min, name: h.name, started: h.started}
}

// Named and ResetNamed keep the slog logger's attributes (the plugin's
// name): go-plugin names sub-loggers after the binary, which adds nothing.
func (h *hcLogger) Named(name string) hclog.Logger { return h.ResetNamed(name) }
func (h *hcLogger) ResetNamed(name string) hclog.Logger {
	return &hcLogger{l: h.l, min: h.min, name: name, started: h.started}
}

// GetLevel is the lowest level that would be logged; go-plugin skips
// parsing stderr lines below it.
func (h *hcLogger) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if h.enabled(toSlog(l)) {
			return l
		}
	}
	return hclog.Off
}

func (h *hcLogger) StandardLogger(*hclog.StandardLoggerOptions) *log.Logger {
	return slog.NewLogLogger(h.l.Handler(), max(h.min, slog.LevelInfo))
}

func (h *hcLogger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return &lineWriter{l: h.l, level: max(h.min, slog.LevelInfo)}
}

// lineWriter logs each line written to it as one record.
type lineWriter struct {
	l     *slog.Logger
	level slog.Level
	attrs []any

	mu  sync.Mutex
	buf []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		if line := bytes.TrimRight(w.buf[:i], "\r"); len(line) > 0 {
			w.l.Log(context.Background(), w.level, string(line), w.attrs...)
		}
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64<<10 { // a very long line: log what we have
		w.l.Log(context.Background(), w.level, string(w.buf), w.attrs...)
		w.buf = w.buf[:0]
	}
	return len(p), nil
}
