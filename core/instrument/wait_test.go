package instrument

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"
)

// moduleWithMemory is moduleWithBody with one memory of the given limits
// flags (1 page, and a maximum of 1 if flags has one).
func moduleWithMemory(flags byte, code ...byte) []byte {
	b := bytes.Clone(wasmHeader)
	b = appendSection(b, secType, []byte{1, 0x60, 0, 0})
	b = appendSection(b, secFunction, []byte{1, 0})
	mem := []byte{1, flags, 1}
	if flags&1 != 0 {
		mem = append(mem, 1)
	}
	b = appendSection(b, secMemory, mem)
	body := append(append([]byte{0}, code...), opEnd)
	return appendSection(b, secCode, append([]byte{1, byte(len(body))}, body...))
}

// importNames lists "module.name" of every import of wasm.
func importNames(t *testing.T, wasm []byte) []string {
	t.Helper()
	r := newReader(sectionOf(t, wasm, secImport), 0)
	n, err := r.count(4, "import")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for range n {
		mod, err1 := r.name("module")
		name, err2 := r.name("name")
		kind, err3 := r.byte("kind")
		var err4 error
		switch kind {
		case 0x00:
			_, err4 = r.u32("type")
		case 0x01:
			if err4 = readRefType(r); err4 == nil {
				_, _, _, err4 = readTableLimits(r)
			}
		case 0x03:
			if err4 = readValType(r); err4 == nil {
				_, err4 = r.byte("mutability")
			}
		}
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			t.Fatalf("import %d: %v", len(names), err)
		}
		names = append(names, string(mod)+"."+string(name))
	}
	return names
}

// Operands and instructions of the hand-assembled bodies below.
var (
	waitOperands32 = []byte{opI32Const, 0, opI32Const, 0, opI64Const, 0}
	waitOperands64 = []byte{opI32Const, 0, opI64Const, 0, opI64Const, 0}
)

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestWaitRewrite: memory.atomic.wait32/64 on a shared memory become
// "i32.const offset; call $waitN; iN.atomic.load memarg; drop" with the
// import (and its type) added only for the widths used, after the yield,
// and defined functions shifted past all of them; anything else keeps its
// waits and gets the yield import alone.
func TestWaitRewrite(t *testing.T) {
	const (
		shared   = 0x03
		unshared = 0x01
	)
	yield := DefaultImportModule + "." + DefaultImportName
	w32 := DefaultImportModule + "." + DefaultWait32Name
	w64 := DefaultImportModule + "." + DefaultWait64Name
	tests := []struct {
		name    string
		wasm    []byte
		imports []string
		code    [][]byte // must occur in the rewritten code section
		types   [][]byte // appended after the module's types, in order
	}{
		{"threads: both widths", readTestdata(t, "threads.wasm"), []string{yield, w32, w64},
			// wait32 offset=40 and wait64 offset=48; no imports, so the
			// waits are functions 1 and 2.
			[][]byte{{opI32Const, 40, opCall, 1, opPrefixAtom, atomI32Load, 2, 40, opDrop},
				{opI32Const, 48, opCall, 2, opPrefixAtom, atomI64Load, 3, 48, opDrop}},
			[][]byte{yieldFuncType, waitFuncTypes[0], waitFuncTypes[1]}},
		{"wait64 only, call shifted by two", moduleWithMemory(shared,
			join(waitOperands64, []byte{opPrefixAtom, atomWait64, 3, 0, opDrop, opCall, 0})...),
			[]string{yield, w64},
			[][]byte{join(waitOperands64, []byte{opI32Const, 0, opCall, 1, opPrefixAtom, atomI64Load, 3, 0, opDrop, opDrop, opCall, 2})},
			[][]byte{yieldFuncType, waitFuncTypes[1]}},
		{"wait32 only, offset 2^32-4 as a negative i32", moduleWithMemory(shared,
			join(waitOperands32, []byte{opPrefixAtom, atomWait32, 2, 0xfc, 0xff, 0xff, 0xff, 0x0f, opDrop})...),
			[]string{yield, w32},
			[][]byte{join(waitOperands32, []byte{opI32Const, 0x7c, opCall, 1, opPrefixAtom, atomI32Load, 2, 0xfc, 0xff, 0xff, 0xff, 0x0f, opDrop})},
			[][]byte{yieldFuncType, waitFuncTypes[0]}},
		{"non-canonical sub-opcode and offset", moduleWithMemory(shared,
			join(waitOperands32, []byte{opPrefixAtom, 0x81, 0x00, 0, 0x85, 0x00, opDrop})...),
			[]string{yield, w32},
			[][]byte{join(waitOperands32, []byte{opI32Const, 5, opCall, 1, opPrefixAtom, atomI32Load, 0, 0x85, 0x00, opDrop})},
			[][]byte{yieldFuncType, waitFuncTypes[0]}},
		{"unshared memory keeps its wait (it traps)", moduleWithMemory(unshared,
			join(waitOperands32, []byte{opPrefixAtom, atomWait32, 2, 0, opDrop, opCall, 0})...),
			[]string{yield},
			[][]byte{join(waitOperands32, []byte{opPrefixAtom, atomWait32, 2, 0, opDrop, opCall, 1})},
			[][]byte{yieldFuncType}},
		{"shared memory without waits", moduleWithMemory(shared,
			opI32Const, 0, opI32Const, 1, opPrefixAtom, 0x00, 2, 0, opDrop), // notify stays
			[]string{yield},
			[][]byte{{opI32Const, 0, opI32Const, 1, opPrefixAtom, 0x00, 2, 0, opDrop}},
			[][]byte{yieldFuncType}},
		{"no memory", readTestdata(t, "spin.wasm"), []string{yield}, nil, [][]byte{yieldFuncType}},
		{"imports before the added ones", readTestdata(t, "calls.wasm"), nil, nil, [][]byte{yieldFuncType}},
	}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig())
	defer r.Close(ctx)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := mustInstrument(t, tc.wasm, Options{})
			got := importNames(t, out)
			if tc.imports == nil { // the module's own imports, then the yield
				tc.imports = append(importNames(t, tc.wasm), yield)
			}
			if !slices.Equal(got, tc.imports) {
				t.Errorf("imports %q, want %q", got, tc.imports)
			}
			for _, want := range tc.code {
				if code := sectionOf(t, out, secCode); !bytes.Contains(code, want) {
					t.Errorf("code section\n% x\nlacks\n% x", code, want)
				}
			}
			if types := sectionOf(t, out, secType); !bytes.HasSuffix(types, join(tc.types...)) {
				t.Errorf("type section % x does not end with % x", types, join(tc.types...))
			}
			// The rewrite is valid wasm wherever the original was.
			if err := compiles(ctx, tc.wasm); err == nil {
				if err := compiles(ctx, out); err != nil {
					t.Errorf("instrumented module does not compile: %v", err)
				}
			}
		})
	}
}

// TestWaitRejections: waits the host cannot implement.
func TestWaitRejections(t *testing.T) {
	twoMemories := func(code ...byte) []byte {
		b := bytes.Clone(wasmHeader)
		b = appendSection(b, secType, []byte{1, 0x60, 0, 0})
		b = appendSection(b, secFunction, []byte{1, 0})
		b = appendSection(b, secMemory, []byte{2, 0x00, 1, 0x03, 1, 1})
		body := append(append([]byte{0}, code...), opEnd)
		return appendSection(b, secCode, append([]byte{1, byte(len(body))}, body...))
	}
	tests := []struct {
		name string
		wasm []byte
		opt  Options
		kind error
	}{
		{"wait on shared memory 1", twoMemories(join(waitOperands32, []byte{opPrefixAtom, atomWait32, 0x42, 1, 0, opDrop})...),
			Options{}, ErrUnsupported},
		{"offset past 32 bits", moduleWithMemory(0x03, join(waitOperands32, []byte{opPrefixAtom, atomWait32, 2, 0x80, 0x80, 0x80, 0x80, 0x10, opDrop})...),
			Options{}, ErrMalformed},
		{"wait32 named like the yield", readTestdata(t, "spin.wasm"), Options{Wait32Name: DefaultImportName}, ErrOptions},
		{"wait64 named like wait32", readTestdata(t, "spin.wasm"), Options{Wait64Name: DefaultWait32Name}, ErrOptions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if out, err := Instrument(tc.wasm, tc.opt); !errors.Is(err, tc.kind) {
				t.Fatalf("Instrument = % x, %v; want %v", out, err, tc.kind)
			}
		})
	}
	// A wait on an unshared second memory traps in wazero: it is copied.
	if _, err := Instrument(twoMemories(join(waitOperands32, []byte{opPrefixAtom, atomWait32, 0x42, 0, 0, opDrop})...), Options{}); err != nil {
		t.Errorf("wait on unshared memory 0 of two: %v", err)
	}
}

// TestWaitImportNames: Options rename the wait imports.
func TestWaitImportNames(t *testing.T) {
	out := mustInstrument(t, readTestdata(t, "threads.wasm"), Options{ImportModule: "rt", Wait32Name: "w4", Wait64Name: "w8"})
	if got, want := importNames(t, out), []string{"rt.yield", "rt.w4", "rt.w8"}; !slices.Equal(got, want) {
		t.Fatalf("imports %q, want %q", got, want)
	}
}

// TestWaitForeverReleased: a wait that would block forever in wazero
// blocks in the host instead, where the host can end it.
func TestWaitForeverReleased(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig())
	defer r.Close(context.Background())
	(&yielder{fuel: 100}).instantiate(ctx, t, r)
	mod, err := r.Instantiate(ctx, mustInstrument(t, readTestdata(t, "wait.wasm"), Options{}))
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(10*time.Millisecond, cancel)
	_, err = mod.ExportedFunction("w32").Call(ctx, 0, 0, uint64(1<<64-1)) // timeout -1
	var exit *sys.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 124 {
		t.Fatalf("w32(0, 0, -1) = %v, want the host's exit 124", err)
	}
}
