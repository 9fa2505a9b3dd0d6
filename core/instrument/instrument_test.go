package instrument

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"
)

func TestULEB(t *testing.T) {
	tests := []struct {
		in   []byte
		bits uint
		want uint64
		ok   bool
	}{
		{[]byte{0x00}, 32, 0, true},
		{[]byte{0x80, 0x00}, 32, 0, true}, // non-canonical but legal
		{[]byte{0xe5, 0x8e, 0x26}, 32, 624485, true},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 32, 0xffffffff, true},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x1f}, 32, 0, false},       // 33 bits
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 32, 0, false}, // 6 bytes
		{[]byte{0x80, 0x80}, 32, 0, false},                         // truncated
		{[]byte{}, 32, 0, false},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 64, 1<<64 - 1, true},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, 64, 0, false},
	}
	for _, tc := range tests {
		r := newReader(tc.in, 0)
		got, err := r.uleb(tc.bits, "x")
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("uleb%d(% x) = %d, %v; want %d, ok=%v", tc.bits, tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("uleb%d(% x): error %v is not ErrMalformed", tc.bits, tc.in, err)
		}
	}
}

func TestSLEB(t *testing.T) {
	tests := []struct {
		in   []byte
		bits uint
		want int64
		ok   bool
	}{
		{[]byte{0x7f}, 32, -1, true},
		{[]byte{0x3f}, 32, 63, true},
		{[]byte{0x40}, 32, -64, true},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x7f}, 32, -1, true},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x78}, 32, -1 << 31, true},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x07}, 32, 1<<31 - 1, true},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x08}, 32, 0, false}, // 2^31
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x4f}, 32, 0, false}, // mixed sign bits
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, 32, 0, false},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 33, 1<<32 - 1, true},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x10}, 33, 0, false}, // 2^32
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x70}, 33, -1 << 32, true},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f}, 64, -1 << 63, true},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}, 64, 1<<63 - 1, true},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 64, 0, false},
		{[]byte{0x80}, 64, 0, false},
	}
	for _, tc := range tests {
		r := newReader(tc.in, 0)
		got, err := r.sleb(tc.bits, "x")
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("sleb%d(% x) = %d, %v; want %d, ok=%v", tc.bits, tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	for _, v := range []int32{0, 1, -1, 63, 64, -64, -65, 10000, 1<<31 - 1, -1 << 31} {
		r := newReader(appendS32(nil, v), 0)
		if got, err := r.sleb(32, "x"); err != nil || got != int64(v) || !r.done() {
			t.Errorf("s32 %d: got %d, %v", v, got, err)
		}
		u := uint32(v)
		r = newReader(appendU32(nil, u), 0)
		if got, err := r.uleb(32, "x"); err != nil || got != uint64(u) || !r.done() {
			t.Errorf("u32 %d: got %d, %v", u, got, err)
		}
	}
}

func TestSafepointEncoding(t *testing.T) {
	got := encodeSafepoint(1, 0)
	want := []byte{
		0x23, 0x01, // global.get 1
		0x04, 0x40, // if
		0x23, 0x01, 0x41, 0x01, 0x6b, 0x24, 0x01, // fuel - 1 -> fuel
		0x05,       // else
		0x10, 0x00, // call yield
		0x24, 0x01, // global.set 1
		0x0b, // end
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("safepoint % x, want % x", got, want)
	}
}

// sectionOf returns the payload of the first section with id in wasm.
func sectionOf(t *testing.T, wasm []byte, id byte) []byte {
	t.Helper()
	secs, err := splitSections(wasm)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secs {
		if s.id == id {
			return s.payload
		}
	}
	t.Fatalf("no section %d", id)
	return nil
}

// customSections lists the custom section names of wasm in order.
func customSections(t *testing.T, wasm []byte) []string {
	t.Helper()
	secs, err := splitSections(wasm)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range secs {
		if s.id == secCustom {
			n, err := s.reader().name("n")
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, string(n))
		}
	}
	return names
}

// TestExactOutput pins the bytes of a small module's rewrite, with every
// safepoint, elided, and unrolled: spin and once call nothing, so neither
// needs an entry safepoint; spin's loop keeps its own.
func TestExactOutput(t *testing.T) {
	// spin.wasm has types () -> () and () -> i32, no imports, no globals.
	sp := encodeSafepoint(0, 0)
	for _, tc := range []struct {
		opt  Options
		code []byte
	}{
		{Options{InitialFuel: 300, everySafepoint: true}, bytes.Join([][]byte{
			{2},
			{byte(1 + len(sp) + 2 + len(sp) + 4), 0}, sp, {0x03, 0x40}, sp, {0x0c, 0x00, 0x0b, 0x0b},
			{byte(1 + len(sp) + 3), 0}, sp, {0x41, 0x2a, 0x0b},
		}, nil)},
		{Options{InitialFuel: 300, noUnroll: true}, bytes.Join([][]byte{
			{2},
			{byte(1 + 2 + len(sp) + 4), 0}, {0x03, 0x40}, sp, {0x0c, 0x00, 0x0b, 0x0b},
			{4, 0, 0x41, 0x2a, 0x0b},
		}, nil)},
		// Unrolled maxUnroll times (unroll.go): in every copy but the
		// last br 0 continues into the next copy; the last one goes back
		// to the header.
		{Options{InitialFuel: 300}, bytes.Join([][]byte{
			{2},
			appendU32(nil, uint32(1+4+len(sp)+(maxUnroll-1)*7+5)), {0, 0x02, 0x40, 0x03, 0x40}, sp,
			bytes.Repeat([]byte{0x02, 0x40, 0x0c, 0x00, 0x0c, 0x02, 0x0b}, maxUnroll-1), {0x0c, 0x00, 0x0b, 0x0b, 0x0b},
			{4, 0, 0x41, 0x2a, 0x0b},
		}, nil)},
	} {
		out := mustInstrument(t, readTestdata(t, "spin.wasm"), tc.opt)
		checkExactOutput(t, out, tc.code)
	}
}

func checkExactOutput(t *testing.T, out, code []byte) {
	t.Helper()
	checks := []struct {
		id   byte
		want []byte
	}{
		{secType, []byte{3, 0x60, 0, 0, 0x60, 0, 1, 0x7f, 0x60, 0, 1, 0x7f}},
		{secImport, append(append([]byte{1, 8}, "gosledge"...), append([]byte{5}, "yield\x00\x02"...)...)},
		{secGlobal, []byte{1, 0x7f, 1, 0x41, 0xac, 0x02, 0x0b}},
		{secCode, code},
	}
	for _, c := range checks {
		if got := sectionOf(t, out, c.id); !bytes.Equal(got, c.want) {
			t.Errorf("%s section:\n got % x\nwant % x", sectionName(c.id), got, c.want)
		}
	}
	exports := sectionOf(t, out, secExport)
	if !bytes.HasSuffix(exports, append(append([]byte{15}, DefaultFuelExport...), 0x03, 0x00)) || exports[0] != 3 {
		t.Errorf("export section % x lacks the fuel export", exports)
	}
	// Function exports shifted by one (no imports before the yield).
	if !bytes.Contains(exports, append([]byte{4}, "spin\x00\x01"...)) || !bytes.Contains(exports, append([]byte{4}, "once\x00\x02"...)) {
		t.Errorf("function exports not remapped: % x", exports)
	}
}

func TestInputNotModified(t *testing.T) {
	orig := readTestdata(t, "calls.wasm")
	cp := bytes.Clone(orig)
	mustInstrument(t, orig, Options{MaxMemoryPages: 2})
	if !bytes.Equal(orig, cp) {
		t.Fatal("Instrument modified its input")
	}
}

// TestFuelSemantics: one unit per safepoint, yield when empty, and the host
// zeroing the exported global forces a yield at the next safepoint.
func TestFuelSemantics(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig())
	defer r.Close(ctx)
	y := &yielder{fuel: 50}
	y.instantiate(ctx, t, r)
	// once has an entry safepoint only when every function gets one.
	mod, err := r.Instantiate(ctx, mustInstrument(t, readTestdata(t, "spin.wasm"), Options{everySafepoint: true}))
	if err != nil {
		t.Fatal(err)
	}
	fuel := mod.ExportedGlobal(DefaultFuelExport).(api.MutableGlobal)
	if got := int32(fuel.Get()); got != DefaultInitialFuel {
		t.Fatalf("initial fuel %d, want %d", got, DefaultInitialFuel)
	}
	once := mod.ExportedFunction("once")
	if _, err := once.Call(ctx); err != nil {
		t.Fatal(err)
	}
	if got := int32(fuel.Get()); got != DefaultInitialFuel-1 || y.calls.Load() != 0 {
		t.Fatalf("after one entry: fuel %d, yields %d", got, y.calls.Load())
	}
	fuel.Set(0)
	if _, err := once.Call(ctx); err != nil {
		t.Fatal(err)
	}
	if got := int32(fuel.Get()); got != 50 || y.calls.Load() != 1 {
		t.Fatalf("after forced yield: fuel %d, yields %d; want 50, 1", got, y.calls.Load())
	}
}

// TestPreemptInfiniteLoop: the yield hook ends a guest that never returns.
func TestPreemptInfiniteLoop(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig())
	defer r.Close(ctx)
	y := &yielder{fuel: 1000, hook: func(n int64) {
		if n == 5 {
			panic(sys.NewExitError(99))
		}
	}}
	y.instantiate(ctx, t, r)
	mod, err := r.Instantiate(ctx, mustInstrument(t, readTestdata(t, "spin.wasm"), Options{InitialFuel: 10}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = mod.ExportedFunction("spin").Call(ctx)
	var exit *sys.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 99 {
		t.Fatalf("spin returned %v, want exit 99", err)
	}
	if y.calls.Load() != 5 {
		t.Fatalf("yield called %d times, want 5", y.calls.Load())
	}
}

func TestCustomOptions(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig())
	defer r.Close(ctx)
	var ticks int
	_, err := r.NewHostModuleBuilder("rt").NewFunctionBuilder().
		WithFunc(func(context.Context) int32 { ticks++; return 1 }).Export("tick").Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := mustInstrument(t, readTestdata(t, "bench.wasm"), Options{ImportModule: "rt", ImportName: "tick", FuelExport: "fuel", InitialFuel: 1})
	mod, err := r.Instantiate(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if mod.ExportedGlobal("fuel") == nil || mod.ExportedGlobal(DefaultFuelExport) != nil {
		t.Fatal("fuel export not renamed")
	}
	res, err := mod.ExportedFunction("loop").Call(ctx, 10)
	if err != nil || ticks == 0 {
		t.Fatalf("loop: %v %v, ticks %d", res, err, ticks)
	}
}

func TestNamesRemapped(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig())
	defer r.Close(ctx)
	for _, file := range []string{"calls.wasm", "refs.wasm", "tailcall.wasm", "calls_leb5.wasm", "wait.wasm"} {
		orig := readTestdata(t, file)
		a, err := r.CompileModule(ctx, orig)
		if err != nil {
			t.Fatal(err)
		}
		b, err := r.CompileModule(ctx, mustInstrument(t, orig, Options{}))
		if err != nil {
			t.Fatal(err)
		}
		for name, def := range a.ExportedFunctions() {
			got := b.ExportedFunctions()[name]
			// Unnamed functions get index-based debug names, which shift.
			if got == nil || got.Name() != def.Name() || def.Name() != "" && got.DebugName() != def.DebugName() {
				t.Errorf("%s: export %s: name %q, want %q", file, name, got.Name(), def.Name())
			}
			if !equalStrings(got.ParamNames(), def.ParamNames()) {
				t.Errorf("%s: export %s: params %q, want %q", file, name, got.ParamNames(), def.ParamNames())
			}
		}
		a.Close(ctx)
		b.Close(ctx)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// nameSection builds a "name" custom section from raw subsections.
func nameSection(subs ...[]byte) []byte {
	payload := appendName(nil, "name")
	for _, s := range subs {
		payload = append(payload, s...)
	}
	return appendSection(nil, secCustom, payload)
}

func subsection(id byte, content []byte) []byte {
	return append(appendU32([]byte{id}, uint32(len(content))), content...)
}

// TestLabelNames: label names move past the inserted safepoint blocks.
func TestLabelNames(t *testing.T) {
	// labels.wasm: import 0, function 1 with labels b0, l1 (loop), if, l3
	// (loop), b4.
	mod := readTestdata(t, "labels.wasm")
	var labels []byte
	labels = append(labels, 1, 1, 5) // one function: 1, five labels
	for i, n := range []string{"b0", "l1", "if2", "l3", "b4"} {
		labels = appendName(append(labels, byte(i)), n)
	}
	funcs := appendName([]byte{2, 0}, "add")
	funcs = appendName(append(funcs, 1), "f")
	locals := appendName([]byte{1, 1, 1, 0}, "x") // function 1, local 0 "x"
	unknown := []byte{0x00, 0x01, 0x02}           // module-name style bytes in an unknown id
	in := append(bytes.Clone(mod), nameSection(
		subsection(1, funcs), subsection(2, locals), subsection(3, labels), subsection(42, unknown))...)

	// f calls nothing: elided, it has no entry safepoint, and its loops
	// keep theirs. l3 is unrolled maxUnroll times: an exit block before
	// it, its safepoint's if, and the blocks of all copies but the last
	// (no labels in its body) before b4.
	for _, tc := range []struct {
		opt    Options
		labels []byte
	}{
		{Options{everySafepoint: true}, []byte{1, 2, 4, 5, 7}},
		{Options{noUnroll: true}, []byte{0, 1, 3, 4, 6}},
		{Options{}, []byte{0, 1, 3, 5, 6 + maxUnroll}},
	} {
		out := mustInstrument(t, in, tc.opt)
		var wantLabels []byte
		wantLabels = append(wantLabels, 1, 2, 5) // function 1 -> 2
		for i, n := range []string{"b0", "l1", "if2", "l3", "b4"} {
			wantLabels = appendName(append(wantLabels, tc.labels[i]), n)
		}
		wantFuncs := appendName([]byte{2, 0}, "add")
		wantFuncs = appendName(append(wantFuncs, 2), "f")
		wantLocals := appendName([]byte{1, 2, 1, 0}, "x")
		want := nameSection(subsection(1, wantFuncs), subsection(2, wantLocals), subsection(3, wantLabels), subsection(42, unknown))
		if !bytes.HasSuffix(out, want) {
			t.Errorf("%+v: name section not rewritten as expected:\n got % x\nwant suffix % x", tc.opt, out[len(out)-len(want):], want)
		}
	}
}

func TestCustomSections(t *testing.T) {
	orig := readTestdata(t, "bench.wasm")
	in := bytes.Clone(orig)
	for _, n := range []string{".debug_info", "producers", ".debug_line", "sourceMappingURL", ""} {
		in = append(in, appendSection(nil, secCustom, append(appendName(nil, n), "data"...))...)
	}
	out := mustInstrument(t, in, Options{})
	got := customSections(t, out)
	want := []string{"producers", "sourceMappingURL", ""}
	if !equalStrings(got, want) {
		t.Fatalf("custom sections %q, want %q", got, want)
	}
	if !bytes.Contains(out, append(appendName(nil, "producers"), "data"...)) {
		t.Fatal("producers section not copied verbatim")
	}
}

// memoryLimits decodes the first memory of wasm.
func memoryLimits(t *testing.T, wasm []byte) (flags byte, min, max uint32) {
	t.Helper()
	r := newReader(sectionOf(t, wasm, secMemory), 0)
	if n, err := r.u32("n"); err != nil || n != 1 {
		t.Fatalf("memory count %d %v", n, err)
	}
	flags, _ = r.byte("flags")
	min, _ = r.u32("min")
	if flags&1 != 0 {
		max, _ = r.u32("max")
	}
	return flags, min, max
}

func TestMemoryCap(t *testing.T) {
	tests := []struct {
		file           string
		cap            uint32
		flags          byte
		min, max       uint32
		wantErrMessage string
	}{
		{"memory.wasm", 0, 0x00, 2, 0, ""},
		{"memory.wasm", 8, 0x01, 2, 8, ""},
		{"memory.wasm", 2, 0x01, 2, 2, ""},
		{"memory.wasm", 1, 0, 0, 0, "memory minimum 2 pages exceeds limit 1"},
		{"memmax.wasm", 10, 0x01, 1, 10, ""},
		{"memmax.wasm", 200, 0x01, 1, 100, ""},
		{"memmax.wasm", 0, 0x01, 1, 100, ""},
		{"threads.wasm", 2, 0x03, 1, 2, ""}, // shared flag kept
		{"threads.wasm", 9, 0x03, 1, 4, ""},
	}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig())
	defer r.Close(ctx)
	for _, tc := range tests {
		out, err := Instrument(readTestdata(t, tc.file), Options{MaxMemoryPages: tc.cap})
		if tc.wantErrMessage != "" {
			if !errors.Is(err, ErrMemoryLimit) || !strings.Contains(err.Error(), tc.wantErrMessage) {
				t.Errorf("%s cap %d: error %v, want %q", tc.file, tc.cap, err, tc.wantErrMessage)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s cap %d: %v", tc.file, tc.cap, err)
			continue
		}
		flags, min, max := memoryLimits(t, out)
		if flags != tc.flags || min != tc.min || max != tc.max {
			t.Errorf("%s cap %d: limits flags %#x min %d max %d; want %#x %d %d", tc.file, tc.cap, flags, min, max, tc.flags, tc.min, tc.max)
		}
		cm, err := r.CompileModule(ctx, out)
		if err != nil {
			t.Errorf("%s cap %d: %v", tc.file, tc.cap, err)
			continue
		}
		cm.Close(ctx)
	}

	// The cap is enforced at run time: memory.grow past it fails.
	y := &yielder{fuel: 10}
	y.instantiate(ctx, t, r)
	mod, err := r.Instantiate(ctx, mustInstrument(t, readTestdata(t, "memmax.wasm"), Options{MaxMemoryPages: 3}))
	if err != nil {
		t.Fatal(err)
	}
	grow := mod.ExportedFunction("grow")
	for _, tc := range []struct{ delta, want uint64 }{{2, 1}, {1, 0xffffffff}, {0, 3}} {
		if res, err := grow.Call(ctx, tc.delta); err != nil || res[0] != tc.want {
			t.Errorf("grow(%d) = %v, %v; want %d", tc.delta, res, err, tc.want)
		}
	}
}

// TestTableCap: MaxTableElements caps every defined table, with or without
// a maximum of its own, and refuses a minimum above it.
func TestTableCap(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig())
	defer r.Close(ctx)
	y := &yielder{fuel: 10}
	y.instantiate(ctx, t, r)
	tables := readTestdata(t, "tables.wasm")
	if _, err := Instrument(tables, Options{MaxTableElements: 1}); !errors.Is(err, ErrTableLimit) ||
		!strings.Contains(err.Error(), "table 0: table minimum 2 elements exceeds limit 1") {
		t.Errorf("min above cap: error %v, want ErrTableLimit naming table 0", err)
	}
	const failed = 0xffffffff // table.grow's -1
	for _, tc := range []struct {
		cap   uint32
		calls []call   // the open table starts at 2 elements, the capped one at 1 (max 5)
		want  []uint64 // old sizes, or failed
	}{
		{4, []call{c("grow_open", 3), c("grow_open", 2), c("grow_capped", 3), c("grow_capped", 1)},
			[]uint64{failed, 2, 1, failed}},
		{0, []call{c("grow_open", 3), c("grow_capped", 4), c("grow_capped", 1)},
			[]uint64{2, 1, failed}},
	} {
		mod, err := r.Instantiate(ctx, mustInstrument(t, tables, Options{MaxTableElements: tc.cap}))
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		for _, cl := range tc.calls {
			res, err := mod.ExportedFunction(cl.name).Call(ctx, cl.args...)
			if err != nil {
				t.Fatalf("cap %d: %s%v: %v", tc.cap, cl.name, cl.args, err)
			}
			got = append(got, res[0])
		}
		mod.Close(ctx)
		if !slices.Equal(got, tc.want) {
			t.Errorf("cap %d: %v returned %v, want %v", tc.cap, tc.calls, got, tc.want)
		}
	}
}

// moduleWithBody is a module with one function () -> () whose body is code
// followed by end; the first code byte sits at offset 0x17.
func moduleWithBody(code ...byte) []byte {
	b := bytes.Clone(wasmHeader)
	b = appendSection(b, secType, []byte{1, 0x60, 0, 0})
	b = appendSection(b, secFunction, []byte{1, 0})
	body := append(append([]byte{0}, code...), opEnd)
	return appendSection(b, secCode, append([]byte{1, byte(len(body))}, body...))
}

func TestRejections(t *testing.T) {
	calls := readTestdata(t, "calls.wasm")
	spin := readTestdata(t, "spin.wasm")
	tests := []struct {
		name  string
		wasm  []byte
		opt   Options
		kind  error
		parts []string // substrings of the message
	}{
		{"global.get past globals", readTestdata(t, "reject_global.wasm"), Options{}, ErrGlobalOutOfRange,
			[]string{"code section", "function 0", "global index 1 out of range (module has 1 globals)"}},
		{"global.set of would-be fuel", readTestdata(t, "reject_global_set.wasm"), Options{}, ErrGlobalOutOfRange,
			[]string{"function 0", "global index 0"}},
		{"global initializer", readTestdata(t, "reject_global_init.wasm"), Options{}, ErrGlobalOutOfRange,
			[]string{"global section", "global 0 initializer"}},
		{"global export", readTestdata(t, "reject_global_export.wasm"), Options{}, ErrGlobalOutOfRange,
			[]string{"export section"}},
		{"import from gosledge", readTestdata(t, "reject_import.wasm"), Options{}, ErrConflict,
			[]string{`"gosledge"`}},
		{"import from custom module", readTestdata(t, "calls.wasm"), Options{ImportModule: "env"}, ErrConflict,
			[]string{`"env"`}},
		{"fuel export exists", readTestdata(t, "reject_export.wasm"), Options{}, ErrConflict,
			[]string{DefaultFuelExport}},
		{"instrumented twice", mustInstrument(t, spin, Options{}), Options{}, ErrConflict, nil},
		{"imported memory", readTestdata(t, "reject_memimport.wasm"), Options{}, ErrUnsupported,
			[]string{"imported memories"}},
		{"exception handling", readTestdata(t, "reject_exceptions.wasm"), Options{}, ErrUnsupported,
			[]string{"tag section"}},
		{"memory min above cap", readTestdata(t, "memory.wasm"), Options{MaxMemoryPages: 1}, ErrMemoryLimit,
			[]string{"memory minimum 2 pages exceeds limit 1"}},
		{"memory64", func() []byte {
			b := appendSection(bytes.Clone(wasmHeader), secMemory, []byte{1, 0x04, 1})
			return b
		}(), Options{}, ErrUnsupported, []string{"memory64"}},

		// Unknown opcodes, with function index and offset in the message.
		{"try", moduleWithBody(0x06, 0x40, 0x0b), Options{}, ErrUnknownOpcode, []string{"function 0", "offset 0x17", "0x06"}},
		{"throw", moduleWithBody(0x08, 0x00), Options{}, ErrUnknownOpcode, []string{"offset 0x17"}},
		{"try_table", moduleWithBody(0x1f, 0x40, 0x00, 0x0b), Options{}, ErrUnknownOpcode, []string{"0x1f"}},
		{"call_ref", moduleWithBody(0x14, 0x00), Options{}, ErrUnknownOpcode, []string{"0x14"}},
		{"br_on_null", moduleWithBody(0xd5, 0x00), Options{}, ErrUnknownOpcode, []string{"0xd5"}},
		{"unassigned 0x27", moduleWithBody(0x01, 0x27), Options{}, ErrUnknownOpcode, []string{"offset 0x18"}},
		{"GC", moduleWithBody(0xfb, 0x00, 0x00), Options{}, ErrUnknownOpcode, []string{"0xfb"}},
		{"SIMD hole", moduleWithBody(0xfd, 0x9a, 0x01), Options{}, ErrUnknownOpcode, []string{"0xfd 154"}},
		{"relaxed SIMD", moduleWithBody(0xfd, 0x80, 0x02), Options{}, ErrUnknownOpcode, []string{"0xfd 256"}},
		{"0xfc 18", moduleWithBody(0xfc, 0x12), Options{}, ErrUnknownOpcode, []string{"0xfc 18"}},
		{"0xfe 4", moduleWithBody(0xfe, 0x04), Options{}, ErrUnknownOpcode, []string{"0xfe 4"}},
		{"0xfe past 0x4e", moduleWithBody(0xfe, 0x4f, 0x02, 0x00), Options{}, ErrUnknownOpcode, []string{"0xfe 79"}},
		{"typed ref block type", moduleWithBody(0x02, 0x63, 0x70, 0x0b), Options{}, ErrUnsupported, []string{"block type"}},
		{"GC heap type", moduleWithBody(0xd0, 0x6e), Options{}, ErrUnsupported, []string{"heap type"}},
		{"unknown in const expr", appendSection(bytes.Clone(wasmHeader), secGlobal, []byte{1, 0x7f, 0, 0xfb, 0x0b}),
			Options{}, ErrUnknownOpcode, []string{"global 0 initializer"}},

		// Malformed.
		{"bad magic", []byte("\x00asn\x01\x00\x00\x00"), Options{}, ErrMalformed, nil},
		{"version 2", []byte("\x00asm\x02\x00\x00\x00"), Options{}, ErrUnsupported, nil},
		{"empty input", nil, Options{}, ErrMalformed, nil},
		{"truncated body", calls[:len(calls)-200], Options{}, ErrMalformed, nil},
		{"section size LEB too long", append(bytes.Clone(wasmHeader), 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00), Options{}, ErrMalformed,
			[]string{"too long"}},
		{"section larger than module", append(bytes.Clone(wasmHeader), 1, 0x10, 0x00), Options{}, ErrMalformed, nil},
		{"lying type count", appendSection(bytes.Clone(wasmHeader), secType, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}), Options{}, ErrMalformed,
			[]string{"count 4294967295"}},
		{"lying br_table count", moduleWithBody(0x41, 0x00, 0x0e, 0xff, 0xff, 0xff, 0xff, 0x0f), Options{}, ErrMalformed, nil},
		{"trailing bytes in section", appendSection(bytes.Clone(wasmHeader), secType, []byte{1, 0x60, 0, 0, 0}), Options{}, ErrMalformed,
			[]string{"type section", "trailing"}},
		{"code after end", func() []byte {
			b := bytes.Clone(wasmHeader)
			b = appendSection(b, secType, []byte{1, 0x60, 0, 0})
			b = appendSection(b, secFunction, []byte{1, 0})
			return appendSection(b, secCode, []byte{1, 3, 0, 0x0b, 0x01})
		}(), Options{}, ErrMalformed, []string{"function 0", "after the final end"}},
		{"missing end", func() []byte {
			b := bytes.Clone(wasmHeader)
			b = appendSection(b, secType, []byte{1, 0x60, 0, 0})
			b = appendSection(b, secFunction, []byte{1, 0})
			return appendSection(b, secCode, []byte{1, 3, 0, 0x02, 0x40})
		}(), Options{}, ErrMalformed, []string{"missing end"}},
		{"function/code mismatch", func() []byte {
			b := bytes.Clone(wasmHeader)
			b = appendSection(b, secType, []byte{1, 0x60, 0, 0})
			b = appendSection(b, secFunction, []byte{2, 0, 0})
			return appendSection(b, secCode, []byte{1, 2, 0, 0x0b})
		}(), Options{}, ErrMalformed, []string{"2 functions but code section has 1"}},
		{"code without functions", func() []byte {
			return appendSection(bytes.Clone(wasmHeader), secCode, []byte{1, 2, 0, 0x0b})
		}(), Options{}, ErrMalformed, nil},
		{"duplicate section", func() []byte {
			b := appendSection(bytes.Clone(wasmHeader), secType, []byte{0})
			return appendSection(b, secType, []byte{0})
		}(), Options{}, ErrMalformed, []string{"out of order"}},
		{"out of order", func() []byte {
			b := appendSection(bytes.Clone(wasmHeader), secImport, []byte{0})
			return appendSection(b, secType, []byte{0})
		}(), Options{}, ErrMalformed, nil},
		{"unknown section", appendSection(bytes.Clone(wasmHeader), 14, nil), Options{}, ErrMalformed, nil},
		{"call past functions", moduleWithBody(0x10, 0x01), Options{}, ErrMalformed, []string{"function index 1 out of range"}},
		{"ref.func wraps around", moduleWithBody(0xd2, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x1a), Options{}, ErrMalformed, nil},
		{"bad UTF-8 import", appendSection(bytes.Clone(wasmHeader), secImport, []byte{1, 1, 0xff, 1, 'x', 0, 0}), Options{}, ErrMalformed,
			[]string{"UTF-8"}},
		{"invalid element flags", appendSection(bytes.Clone(wasmHeader), secElement, []byte{1, 8}), Options{}, ErrMalformed, nil},

		// Options.
		{"negative fuel", spin, Options{InitialFuel: -1}, ErrOptions, nil},
		{"cap too large", spin, Options{MaxMemoryPages: 65537}, ErrOptions, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Instrument(tc.wasm, tc.opt)
			if err == nil {
				t.Fatalf("no error; output % x", out)
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("error %q is not %v", err, tc.kind)
			}
			if !strings.HasPrefix(err.Error(), "instrument: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			for _, p := range tc.parts {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not mention %q", err, p)
				}
			}
		})
	}
}

// TestTruncated: every prefix of a module that cuts a section in two is
// malformed; none panics.
func TestTruncated(t *testing.T) {
	for _, file := range []string{"calls.wasm", "refs.wasm", "simd.wasm", "threads.wasm"} {
		wasm := readTestdata(t, file)
		secs, err := splitSections(wasm)
		if err != nil {
			t.Fatal(err)
		}
		boundary := map[int]bool{8: true}
		for _, s := range secs {
			boundary[s.start+len(s.payload)] = true
		}
		for n := 0; n < len(wasm); n++ {
			_, err := Instrument(wasm[:n], Options{})
			if !boundary[n] && !errors.Is(err, ErrMalformed) {
				t.Errorf("%s[:%d]: %v, want ErrMalformed", file, n, err)
			}
		}
	}
}

// TestMultiMemoryDecodes: memargs carrying a memory index (alignment bit 6)
// and multi-memory bulk ops decode; wazero cannot run the module, so only
// the rewrite is checked.
func TestMultiMemoryDecodes(t *testing.T) {
	out := mustInstrument(t, readTestdata(t, "multimem.wasm"), Options{MaxMemoryPages: 1})
	r := newReader(sectionOf(t, out, secMemory), 0)
	if want := []byte{2, 0x01, 1, 1, 0x01, 1, 1}; !bytes.Equal(r.buf, want) {
		t.Fatalf("memory section % x, want % x", r.buf, want)
	}
	// The store with memory index 1 (0x36 0x42 0x01 0x03) is copied intact.
	if !bytes.Contains(sectionOf(t, out, secCode), []byte{0x36, 0x42, 0x01, 0x03}) {
		t.Fatal("multi-memory store not preserved")
	}
}

// TestExtendedConst: arithmetic in constant expressions is walked (and its
// global.get checked) like any other instruction.
func TestExtendedConst(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig().WithCoreFeatures(features|experimental.CoreFeaturesExtendedConst))
	defer r.Close(ctx)
	instantiateEnv(ctx, t, r)
	(&yielder{fuel: 1}).instantiate(ctx, t, r)
	mod, err := r.Instantiate(ctx, mustInstrument(t, readTestdata(t, "extconst.wasm"), Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := mod.ExportedFunction("g").Call(ctx); err != nil || res[0] != 16+12 {
		t.Fatalf("g() = %v, %v; want 28", res, err)
	}
}

// TestMalformedNameSectionDropped: a name section that does not parse per
// the spec is dropped, not an error (custom sections never invalidate a
// module), and never passed on with stale indices.
func TestMalformedNameSectionDropped(t *testing.T) {
	spin := readTestdata(t, "spin.wasm")
	tests := map[string][]byte{
		// Found by the fuzzer: subsection 0 holds more than one name.
		"module name with trailing bytes": nameSection(subsection(0, append(appendName(nil, "m"), 0x01, 0x30))),
		"function names truncated":        nameSection(subsection(1, []byte{2, 0, 1, 'a'})),
		"local names bad UTF-8":           nameSection(subsection(2, []byte{1, 0, 1, 0, 1, 0xff})),
		"subsection larger than section":  nameSection([]byte{1, 9, 0}),
	}
	for name, sec := range tests {
		out, err := Instrument(append(bytes.Clone(spin), sec...), Options{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := customSections(t, out); len(got) != 0 {
			t.Errorf("%s: custom sections %q survived", name, got)
		}
	}
}
