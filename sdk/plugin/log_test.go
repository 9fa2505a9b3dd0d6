package plugin

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestNotStartedExitIsQuiet: go-plugin warns "plugin failed to exit
// gracefully" whenever it kills a process, including one that never
// started (a missing program, a failed handshake), where the launch error
// already says what went wrong. Only a started plugin's is a warning.
func TestNotStartedExitIsQuiet(t *testing.T) {
	for _, started := range []bool{false, true} {
		var buf bytes.Buffer
		h := newHCLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), levelTrace)
		h.started.Store(started)
		h.Named("x").With("k", "v").Warn(notStartedExit)
		out := buf.String()
		switch {
		case !started && (!strings.Contains(out, "level=DEBUG") || !strings.Contains(out, "after a failed start")):
			t.Errorf("never started: %q, want a debug line saying it was stopped after a failed start", out)
		case started && (!strings.Contains(out, "level=WARN") || !strings.Contains(out, notStartedExit)):
			t.Errorf("started: %q, want go-plugin's warning", out)
		}
	}
}
