package instrument

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
)

var (
	fuzzOnce    sync.Once
	fuzzRuntime wazero.Runtime
)

// compiles reports whether wazero accepts wasm. A panic inside wazero is
// reported as an error, so that a wazero bug on a mutated original does
// not count against Instrument.
func compiles(ctx context.Context, wasm []byte) (err error) {
	fuzzOnce.Do(func() { fuzzRuntime = wazero.NewRuntimeWithConfig(ctx, runtimeConfig()) })
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("wazero panicked: %v", p)
		}
	}()
	cm, err := fuzzRuntime.CompileModule(ctx, wasm)
	if err != nil {
		return err
	}
	return cm.Close(ctx)
}

// FuzzInstrument: Instrument never panics, every error wraps a sentinel, and
// whatever wazero accepts before instrumentation it accepts after.
func FuzzInstrument(f *testing.F) {
	for _, path := range testModules(f) {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	sentinels := []error{ErrMalformed, ErrUnsupported, ErrUnknownOpcode, ErrGlobalOutOfRange, ErrMemoryLimit, ErrConflict}
	f.Fuzz(func(t *testing.T, wasm []byte) {
		ctx := context.Background()
		var outs [][]byte
		for _, opt := range []Options{{}, {MaxMemoryPages: 3, InitialFuel: 1}} {
			out, err := Instrument(wasm, opt)
			if err != nil {
				known := false
				for _, s := range sentinels {
					known = known || errors.Is(err, s)
				}
				if !known {
					t.Fatalf("error wraps no sentinel: %v", err)
				}
				continue
			}
			outs = append(outs, out)
		}
		if len(outs) == 0 || compiles(ctx, wasm) != nil {
			return
		}
		for _, out := range outs {
			if err := compiles(ctx, out); err != nil {
				t.Fatalf("original compiles but the instrumented module does not: %v", err)
			}
		}
	})
}
