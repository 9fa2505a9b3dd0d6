package instrument

import (
	"bytes"
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

// nameSectionParses reports whether every "name" section of wasm parses per
// the spec. wazero sizes its name maps from the declared counts, so a lying
// count can make it allocate until the fuzzer is killed (seen as "fuzzing
// process hung or terminated unexpectedly"); such inputs are not given to
// wazero. Instrument drops those sections, which the seed corpus covers.
func nameSectionParses(wasm []byte) bool {
	secs, err := splitSections(wasm)
	if err != nil {
		return false // Instrument fails too; nothing to compare
	}
	for _, s := range secs {
		if s.id != secCustom {
			continue
		}
		r := s.reader()
		if n, err := r.name("name"); err != nil || string(n) != "name" {
			continue
		}
		if _, err := (&module{added: 1}).rewriteNames(r, nil); err != nil {
			return false
		}
	}
	return true
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
		if len(outs) == 0 || !nameSectionParses(wasm) || compiles(ctx, wasm) != nil {
			return
		}
		for _, out := range outs {
			if err := compiles(ctx, out); err != nil {
				t.Fatalf("original compiles but the instrumented module does not: %v", err)
			}
		}
	})
}

// bodyModule wraps one function body (locals and instructions, ending in
// end) as function 0 of type () -> () in a module that gives instructions
// something to refer to: a shared memory, a table, a mutable global, a
// declared element segment (so ref.func 0 is valid) and a passive data
// segment.
func bodyModule(body []byte) []byte {
	b := bytes.Clone(wasmHeader)
	b = appendSection(b, secType, []byte{2, 0x60, 0, 0, 0x60, 1, valI32, 1, valI32})
	b = appendSection(b, secFunction, []byte{1, 0})
	b = appendSection(b, secTable, []byte{1, valFuncref, 0, 4})
	b = appendSection(b, secMemory, []byte{1, 0x03, 1, 2})
	b = appendSection(b, secGlobal, []byte{1, valI32, 1, opI32Const, 0, opEnd})
	b = appendSection(b, secElement, []byte{1, 3, 0, 1, 0})
	b = appendSection(b, secDataCount, []byte{1})
	code := appendU32([]byte{1}, uint32(len(body)))
	b = appendSection(b, secCode, append(code, body...))
	return appendSection(b, secData, []byte{1, 1, 4, 'd', 'a', 't', 'a'})
}

// FuzzInstrumentBody mutates function bodies inside a fixed, valid module,
// which reaches valid code (and so the walker's immediates) far more often
// than mutating whole modules.
func FuzzInstrumentBody(f *testing.F) {
	seeds := [][]byte{
		{0, 0x03, 0x40, 0x0b, 0x0b},
		{1, 1, valI32, 0x41, 0x03, 0x21, 0x00, 0x03, 0x40, 0x20, 0x00, 0x0d, 0x00, 0x0b, 0x0b},
		{0, 0x41, 0, 0xfd, 0x0c, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0xfd, 0x0b, 0x04, 0x03, 0x0b},
		{0, 0x41, 0, 0x41, 3, 0xfe, 0x1e, 0x02, 0x03, 0x1a, 0xfe, 0x03, 0x00, 0x0b},
		{0, 0xd2, 0x00, 0xd1, 0x1a, 0x23, 0x00, 0x24, 0x00, 0x0b},
		{0, 0x41, 0, 0x41, 0, 0x41, 4, 0xfc, 0x08, 0x00, 0x00, 0xfc, 0x09, 0x00, 0x0b},
		{0, 0x41, 7, 0x02, 0x01, 0x41, 0, 0x0e, 0x01, 0x00, 0x00, 0x0b, 0x1a, 0x0b},
		{0, 0x12, 0x00, 0x0b},
		// Loops that unroll: a br_table to the loop, past it and out of
		// the function; a recursive call in the loop under an if that
		// branches back.
		{0, 0x02, 0x40, 0x03, 0x40, 0x41, 0x00, 0x0e, 0x02, 0x00, 0x01, 0x02, 0x0b, 0x0b, 0x0b},
		{0, 0x03, 0x40, 0x41, 0x01, 0x04, 0x40, 0x10, 0x00, 0x0c, 0x01, 0x0b, 0x0b, 0x0b},
		// memory.atomic.wait32 and wait64, rewritten into host calls.
		{0, 0x41, 0, 0x41, 0, 0x42, 0, 0xfe, 0x01, 0x02, 0x04, 0x1a, 0x0b},
		{0, 0x41, 0, 0x42, 0, 0x42, 0x7f, 0xfe, 0x02, 0x03, 0x08, 0x1a, 0x0b},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ctx := context.Background()
		wasm := bodyModule(body)
		out, err := Instrument(wasm, Options{})
		if err != nil || compiles(ctx, wasm) != nil {
			return
		}
		if err := compiles(ctx, out); err != nil {
			t.Fatalf("original compiles but the instrumented module does not: %v", err)
		}
	})
}
