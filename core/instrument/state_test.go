package instrument

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// TestExportState: under ExportState every defined mutable global, and
// only those, is exported in index order under StateGlobalPrefix, and the
// exports read and write the globals the code uses.
func TestExportState(t *testing.T) {
	ctx := context.Background()
	// Globals: 0 mutable (7), 1 immutable (8), 2 mutable i64 (9); get()
	// returns global 0 + global 2.
	b := append([]byte{}, wasmHeader...)
	b = appendSection(b, secType, []byte{1, 0x60, 0, 1, valI64})
	b = appendSection(b, secFunction, []byte{1, 0})
	b = appendSection(b, secGlobal, []byte{3,
		valI64, 1, opI64Const, 7, opEnd,
		valI32, 0, opI32Const, 8, opEnd,
		valI64, 1, opI64Const, 9, opEnd})
	b = appendSection(b, secExport, []byte{1, 3, 'g', 'e', 't', 0, 0})
	b = appendSection(b, secCode, []byte{1, 7, 0, 0x23, 0, 0x23, 2, 0x7c, opEnd})
	out := mustInstrument(t, b, Options{ExportState: true})
	r, _ := newYieldRuntime(ctx, t, 100)
	defer r.Close(ctx)
	mod, err := r.InstantiateWithConfig(ctx, out, wazero.NewModuleConfig())
	if err != nil {
		t.Fatal(err)
	}
	var want = []uint64{7, 9}
	for i, v := range want {
		g, ok := mod.ExportedGlobal(StateGlobalPrefix + strconv.Itoa(i)).(api.MutableGlobal)
		if !ok || g.Get() != v {
			t.Fatalf("state export %d: %v, want mutable global = %d", i, g, v)
		}
		g.Set(v * 10)
	}
	if g := mod.ExportedGlobal(StateGlobalPrefix + "2"); g != nil {
		t.Errorf("immutable global exported as state: %v", g)
	}
	if res, err := mod.ExportedFunction("get").Call(ctx); err != nil || res[0] != 160 {
		t.Errorf("get() after setting the state exports = %v, %v, want 160", res, err)
	}
	// Without the option, nothing is exported.
	mod2, err := r.InstantiateWithConfig(ctx, mustInstrument(t, b, Options{}), wazero.NewModuleConfig().WithName("plain"))
	if err != nil {
		t.Fatal(err)
	}
	if g := mod2.ExportedGlobal(StateGlobalPrefix + "0"); g != nil {
		t.Errorf("state exported without ExportState")
	}
	// A module cannot export a global under the reserved prefix.
	clash := append([]byte{}, wasmHeader...)
	clash = appendSection(clash, secGlobal, []byte{1, valI32, 1, opI32Const, 0, opEnd})
	clash = appendSection(clash, secExport, append(appendName([]byte{1}, StateGlobalPrefix+"0"), 3, 0))
	if _, err := Instrument(clash, Options{ExportState: true}); !errors.Is(err, ErrConflict) {
		t.Errorf("export under the reserved prefix: %v, want ErrConflict", err)
	}
}

// TestExportStateRefuses: every instruction that changes a table or drops
// a segment makes ExportState refuse the module; without the option the
// same module is instrumented.
func TestExportStateRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		code []byte
	}{
		{"table.set", []byte{opI32Const, 0, 0xd2, 0, 0x26, 0}},
		{"table.grow", []byte{0xd2, 0, opI32Const, 1, opPrefixFC, 15, 0, 0x1a}},
		{"table.fill", []byte{opI32Const, 0, 0xd2, 0, opI32Const, 1, opPrefixFC, 17, 0}},
		{"table.copy", []byte{opI32Const, 0, opI32Const, 1, opI32Const, 1, opPrefixFC, 14, 0, 0}},
		{"table.init", []byte{opI32Const, 0, opI32Const, 0, opI32Const, 0, opPrefixFC, 12, 0, 0}},
		{"elem.drop", []byte{opPrefixFC, 13, 0}},
		{"data.drop", []byte{opPrefixFC, 9, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := append([]byte{0}, tc.code...)
			body = append(body, opEnd)
			mod := bodyModule(body)
			if _, err := Instrument(mod, Options{}); err != nil {
				t.Fatalf("without ExportState: %v", err)
			}
			if _, err := Instrument(mod, Options{ExportState: true}); !errors.Is(err, ErrStateful) {
				t.Errorf("with ExportState: %v, want ErrStateful", err)
			}
		})
	}
	// Reading a table, or copying memory, changes nothing a snapshot misses.
	body := []byte{0, opI32Const, 0, 0x25, 0, 0x1a, opEnd}
	if _, err := Instrument(bodyModule(body), Options{ExportState: true}); err != nil {
		t.Errorf("table.get: %v", err)
	}
}

func TestExportedFunctions(t *testing.T) {
	b := append([]byte{}, wasmHeader...)
	b = appendSection(b, secType, []byte{1, 0x60, 0, 0})
	b = appendSection(b, secFunction, []byte{2, 0, 0})
	b = appendSection(b, secMemory, []byte{1, 0, 1})
	exports := appendName([]byte{3}, "_initialize")
	exports = append(exports, 0, 0)
	exports = append(appendName(exports, "handle"), 0, 1)
	exports = append(appendName(exports, "memory"), 2, 0)
	b = appendSection(b, secExport, exports)
	b = appendSection(b, secCode, []byte{2, 2, 0, opEnd, 2, 0, opEnd})
	got, err := ExportedFunctions(b)
	if err != nil || len(got) != 2 || !got["_initialize"] || !got["handle"] {
		t.Errorf("ExportedFunctions = %v, %v, want _initialize and handle", got, err)
	}
	if _, err := ExportedFunctions(b[:len(b)-3]); err == nil {
		t.Error("a truncated module's exports parsed")
	}
}
