package core

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/core/instrument"
)

// TestGuestEscapes: each way a guest might reach past its sandbox is
// refused at load (the server never starts it) or is harmless at run time.
func TestGuestEscapes(t *testing.T) {
	// At load: the instrumenter's refusals, through the server's own path.
	for _, tc := range []struct {
		name, file string
		want       error
	}{
		{"writes the would-be fuel global", "reject_global_set", instrument.ErrGlobalOutOfRange},
		{"reads past its globals", "reject_global", instrument.ErrGlobalOutOfRange},
		{"exports a global past its own", "reject_global_export", instrument.ErrGlobalOutOfRange},
		{"imports the yield's module", "reject_import", instrument.ErrConflict},
		{"exports the fuel's name", "reject_export", instrument.ErrConflict},
		{"imports a memory", "reject_memimport", instrument.ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("instrument", "testdata", tc.file+".wasm"))
			if err != nil {
				t.Fatal(err)
			}
			r := testRoute(t, "/x", "echo")
			r.Module, r.Wasm = tc.file+".wasm", b
			cfg := &config.Config{File: "test.toml", Runtime: config.Runtime{CacheDir: cacheDir},
				Tenants: []config.Tenant{{Name: "t", Routes: []config.Route{r}}}}
			if err := CheckModules(t.Context(), cfg); !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.file+".wasm") {
				t.Errorf("load error %v, want %v naming %s.wasm", err, tc.want, tc.file)
			}
		})
	}

	// The operator's module limits apply at load too: fib declares more
	// than one local in some function.
	r := testRoute(t, "/fib", "fib")
	cfg := &config.Config{File: "test.toml", Runtime: config.Runtime{CacheDir: cacheDir, MaxModuleLocals: 1},
		Tenants: []config.Tenant{{Name: "t", Routes: []config.Route{r}}}}
	if err := CheckModules(t.Context(), cfg); !errors.Is(err, instrument.ErrTooLarge) || !strings.Contains(err.Error(), "past the limit of 1") {
		t.Errorf("max_module_locals = 1: load error %v, want ErrTooLarge", err)
	}

	// At run time: no environment, no preopened directory, no files by
	// path, no sockets.
	ts := startServer(t, config.Runtime{Workers: 1}, counterRoute(t, "/escape", "escape"))
	if status, body := ts.do(t, "POST", "/escape?PATH=/bin", ""); status != 200 || body != "00 08 63 63 08" {
		t.Errorf("escape = %d %q, want 200 \"00 08 63 63 08\" (no env; no fd 3; every path refused, EPERM; no sockets)", status, body)
	}
}
