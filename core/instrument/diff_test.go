package instrument

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

type call struct {
	name  string
	args  []uint64
	yield bool // the instrumented call must reach the yield import
	// mode, if set, limits yield to that safepoint mode (where the
	// number of safepoints before the call puts the fuel's end in it).
	mode string
}

func c(name string, args ...uint64) call  { return call{name: name, args: args} }
func cy(name string, args ...uint64) call { return call{name: name, args: args, yield: true} }
func cym(mode, name string, args ...uint64) call {
	return call{name: name, args: args, yield: true, mode: mode}
}

func f64(v float64) uint64 { return math.Float64bits(v) }

// neg encodes a negative i32 argument.
func neg(v int32) uint64 { return uint64(uint32(v)) }

// diffCases run in order against one instance each of the original and the
// instrumented module; state carries over between calls on purpose.
var diffCases = []struct {
	file  string
	calls []call
}{
	{"calls.wasm", []call{
		cy("fib", 20), c("fib", 0), c("fib", 1),
		c("apply", 0, 10, 3), cym("elided", "apply", 1, 10, 3), cym("every", "apply", 2, 10, 3), c("apply", 3, 1, 1), c("apply", 9, 1, 1),
		cy("sum", 1000), c("sum", 0),
		c("classify", 0), c("classify", 1), c("classify", 2), c("classify", 3), c("classify", 77),
		cy("threes", 50), c("threes", 1),
		cy("even", 1001), c("even", 10),
		c("k"), c("trap", 1), c("trap", 0), c("trap", neg(-7)),
		cy("nested", 40),
	}},
	{"calls_leb5.wasm", []call{cy("fib", 15), cy("sum", 100), c("classify", 2), cy("threes", 30), c("apply", 2, 5, 6)}},
	{"refs.wasm", []call{
		c("call0", 0), c("call0", 1), c("call0", 2), c("call0", 3), c("call0", 5),
		c("call1", 0), c("call1", 1), c("call1", 4), c("call1", 5), c("call1", 7),
		c("init_p1", 5), c("call0", 5), c("call0", 6),
		c("init_p5", 1), c("call1", 1), c("call1", 2), c("call1", 3),
		c("drop_p5"), c("init_p5", 0), c("init_p5", 8),
		c("copy", 0, 4, 2), c("call0", 0), c("is_null0", 1), c("is_null0", 7),
		c("set_gf", 7), c("call0", 7), c("gnull"), c("set_ref", 6), c("call0", 6), c("gnull"),
		c("grow", 3), c("fill", 8, 3), c("call0", 10), c("fill", 10, 5),
		c("ext", 0), c("ext", 1),
		cy("sumtable", 11),
	}},
	{"multivalue.wasm", []call{
		c("fibpair", 0), cy("fibpair", 1), cy("fibpair", 30),
		c("divmod", 17, 5), c("divmod", 1, 0),
		cy("triangle", 100), c("triangle", 0),
	}},
	{"start.wasm", []call{c("sum")}},
	{"simd.wasm", []call{
		c("vsum", 1), cy("vsum", 200), c("shuffle"), c("lanes", 7), c("lanes", 0xffff),
		cy("fp", 40), c("bits", 0x5a), c("bits", 3),
	}},
	{"bulk.wasm", []call{
		c("init", 0, 16), c("load", 0), c("load", 8), c("init", 65530, 16), c("drop"), c("init", 0, 0), c("init", 0, 1),
		cy("copyfill", 32), c("load", 300), c("load", 100),
		c("sat", f64(1e300)), c("sat", f64(-1e300)), c("sat", f64(math.NaN())), c("sat", f64(42.9)),
		c("signext", 0x80), c("signext", 0x7fff), c("signext", 0x12345678),
		c("grow", 1), c("grow", 5), c("grow", 2),
	}},
	{"threads.wasm", []call{
		cy("count", 100), c("cas", 300, 7), c("cas", 300, 9), c("wide", 0x0303), c("notify"), c("wait"),
	}},
	{"wait.wasm", []call{
		c("w32", 0, 0, 0), c("w32", 0, 1, 0), c("w32", 0, 0, 1_000_000), c("w32", 65532, 0, 0),
		c("w32", 2, 0, 0), c("w32", 65536, 0, 0), c("w32", 65534, 0, 0), c("w32_high", 0), c("w32_high", 4),
		c("w64", 8, 0, 0), c("w64", 4, 0, 0), c("w64", 65528, 0, 0), c("w64", 65536, 0, 0),
		c("store64", 16, 1<<32), c("w64", 16, 0, 0), c("w64", 16, 1<<32, 0), c("w32", 16, 0, 0), c("w32", 20, 1, 0),
		c("store32", 24, neg(-1)), c("w32", 24, neg(-1), 0), c("w64", 24, 1<<32-1, 0),
		c("w64_off", 0, 0), c("w64_off", 8, 0), c("grow"), c("w64_off", 8, 0), c("w32", 65536, 0, 0),
		cy("loop", 5),
	}},
	{"tailcall.wasm", []call{
		c("count", 10, 0), cy("count", 3_000_000, 0), cy("count_ind", 1_000_000, 5), cy("even", 1_000_001),
	}},
	{"bench.wasm", []call{cy("fib", 10), cy("loop", 1000)}},
	{"elide.wasm", []call{
		c("leaf", 4), cy("self", 10), cy("even", 11), c("even", 0), cy("indirect", 6), c("indirect", 0), c("host", 3),
		cy("loop_call", 100), cy("loop_cond", 101), cy("loop_late", 50), c("loop_late", 0), cy("loop_leaf", 100), cy("nested", 50),
		cy("loop_rec", 40), c("loop_rec", 1), cy("rec_a", 8), c("rec_a", 0),
	}},
	{"unroll.wasm", []call{
		cy("count", 100), c("count", 1), c("count", 0), cy("fill", 300), cy("find", 30), cy("find", 100), c("find", 0),
		c("mixed", 100), c("mixed", 1), c("mixed", 3), c("mixed", 2000), cy("typed", 9), cy("exits", 9), cy("large", 9),
		cy("nested", 30), cy("calls", 20), cy("tree", 10), c("tree", 0),
	}},
	{"spin.wasm", []call{c("once")}},
	{"empty.wasm", nil},
	{"memory.wasm", nil},
	{"memmax.wasm", []call{c("grow", 1), c("grow", 200)}},
}

// diffFuel overrides the yield's fuel grant of 3 per file: deep recursion
// with fewer host calls keeps -race fast.
var diffFuel = map[string]int32{"tailcall.wasm": 1000}

// outcome is what one call produced.
type outcome struct {
	results []uint64
	err     string
}

// runCalls instantiates wasm (instrumented or not) and performs calls,
// returning each outcome, the yield count seen during each call, and the
// final contents of the exported memory "mem" if any.
func runCalls(t *testing.T, wasm []byte, instrumented bool, calls []call, fuel int32) ([]outcome, []int64, []byte) {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig())
	defer r.Close(ctx)
	instantiateEnv(ctx, t, r)
	if fuel == 0 {
		fuel = 3
	}
	y := &yielder{fuel: fuel}
	if instrumented {
		y.instantiate(ctx, t, r)
	}
	mod, err := r.Instantiate(ctx, wasm)
	if err != nil {
		t.Fatalf("instantiate (instrumented=%v): %v", instrumented, err)
	}
	if instrumented {
		g := mod.ExportedGlobal(DefaultFuelExport)
		if g == nil {
			t.Fatalf("no exported fuel global %q", DefaultFuelExport)
		}
		if _, ok := g.(api.MutableGlobal); !ok || g.Type() != api.ValueTypeI32 {
			t.Fatalf("fuel global is not a mutable i32")
		}
		// Start low so the first calls already yield.
		g.(api.MutableGlobal).Set(2)
	}
	var outs []outcome
	var yields []int64
	for _, cl := range calls {
		fn := mod.ExportedFunction(cl.name)
		if fn == nil {
			t.Fatalf("no export %q", cl.name)
		}
		before := y.calls.Load()
		res, err := fn.Call(ctx, cl.args...)
		outs = append(outs, outcome{results: res, err: firstLine(err)})
		yields = append(yields, y.calls.Load()-before)
	}
	var memCopy []byte
	if mem := mod.ExportedMemory("mem"); mem != nil {
		b, _ := mem.Read(0, mem.Size())
		memCopy = bytes.Clone(b)
	}
	return outs, yields, memCopy
}

// safepointModes are the two placements every differential test runs: with
// safepoints elided where the bound allows (the default) and with one at
// every function entry and loop header.
var safepointModes = []struct {
	name string
	opt  Options
}{
	{"elided", Options{}},
	{"every", Options{everySafepoint: true}},
	{"not-unrolled", Options{noUnroll: true}},
}

// TestDifferential runs each test module before and after instrumentation,
// in both safepoint modes, with a yield that hands out little fuel (3 units
// unless the case says otherwise), and compares every result, trap and the
// final memory.
func TestDifferential(t *testing.T) {
	for _, tc := range diffCases {
		for _, mode := range safepointModes {
			t.Run(tc.file+"/"+mode.name, func(t *testing.T) {
				t.Parallel()
				orig := readTestdata(t, tc.file)
				inst := mustInstrument(t, orig, mode.opt)
				want, _, wantMem := runCalls(t, orig, false, tc.calls, diffFuel[tc.file])
				got, yields, gotMem := runCalls(t, inst, true, tc.calls, diffFuel[tc.file])
				for i, cl := range tc.calls {
					if !reflect.DeepEqual(want[i], got[i]) {
						t.Errorf("%s%v: original %+v, instrumented %+v", cl.name, cl.args, want[i], got[i])
					}
					if cl.yield && (cl.mode == "" || cl.mode == mode.name) && yields[i] == 0 {
						t.Errorf("%s%v: yield was never called", cl.name, cl.args)
					}
				}
				if !bytes.Equal(wantMem, gotMem) {
					t.Errorf("final memory differs")
				}
			})
		}
	}
}

// TestAllTestdataCompiles: every module wazero accepts must still be
// accepted after instrumentation, with and without a memory cap.
func TestAllTestdataCompiles(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig())
	defer r.Close(ctx)
	for _, path := range testModules(t) {
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(filepath.Base(path), "reject_") {
			continue // TestRejections
		}
		cm, err := r.CompileModule(ctx, orig)
		if err != nil {
			continue // multi-memory, extended-const
		}
		cm.Close(ctx)
		for _, opt := range []Options{{}, {MaxMemoryPages: 100, InitialFuel: 1}} {
			out, err := Instrument(orig, opt)
			if err != nil {
				t.Errorf("%s: %v", path, err)
				continue
			}
			cm, err := r.CompileModule(ctx, out)
			if err != nil {
				t.Errorf("%s: instrumented module does not compile: %v", path, err)
				continue
			}
			cm.Close(ctx)
		}
	}
}

// exampleInputs is the stdin given to each example program (see
// examples/functions/README.md); anything not listed gets "5\n".
var exampleInputs = map[string]string{
	"fib":   "20\n",
	"echo":  "hello, gosledge\n\x00\x03binary\n",
	"spin":  "1\n", // milliseconds
	"hash":  "the quick brown fox\n",
	"trap":  "",
	"exit1": "",
	"grow":  "",
}

// exampleMemoryPages bounds the examples' memories (grow grows until
// refused), both in wazero and through MaxMemoryPages.
const exampleMemoryPages = 256

// TestExamplesDifferential runs the WASI example programs, if any have been
// built, before and after instrumentation with the same stdin.
func TestExamplesDifferential(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "..", "examples", "functions", "*.wasm"))
	if len(paths) == 0 {
		t.Skip("no *.wasm in examples/functions yet")
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".wasm")
		if name == "loop" {
			continue // never returns by design
		}
		t.Run(name, func(t *testing.T) {
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			in, ok := exampleInputs[name]
			if !ok {
				in = "5\n"
			}
			want, _ := runWASI(t, orig, false, in)
			for _, mode := range safepointModes {
				// One unit of fuel to start: even the shortest programs
				// (exit1, trap) pass two safepoints.
				opt := mode.opt
				opt.MaxMemoryPages, opt.InitialFuel = exampleMemoryPages, 1
				got, yields := runWASI(t, mustInstrument(t, orig, opt), true, in)
				if want != got {
					t.Errorf("%s: original:     %+v\ninstrumented: %+v", mode.name, want, got)
				}
				// trap passes one safepoint (_start's) before it traps
				// when the rest are elided.
				if yields == 0 && !(name == "trap" && mode.name != "every") {
					t.Errorf("%s: instrumented run never yielded", mode.name)
				}
				if testing.Verbose() {
					t.Logf("%s: %+v, %d yields", mode.name, got, yields)
				}
			}
		})
	}
}

// wasiResult is what a WASI command run produced.
type wasiResult struct {
	stdout, stderr string
	exitCode       uint32
	trap           string
}

func runWASI(t *testing.T, wasm []byte, instrumented bool, stdin string) (wasiResult, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig().WithCloseOnContextDone(true).WithMemoryLimitPages(exampleMemoryPages))
	defer r.Close(context.Background())
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	y := &yielder{fuel: 3}
	if instrumented {
		y.instantiate(ctx, t, r)
	}
	var out, stderr bytes.Buffer
	cfg := wazero.NewModuleConfig().WithName("fn").WithArgs("fn").
		WithStdin(strings.NewReader(stdin)).WithStdout(&out).WithStderr(&stderr)
	_, err := r.InstantiateWithConfig(ctx, wasm, cfg)
	if ctx.Err() != nil {
		t.Fatalf("timed out (instrumented=%v)", instrumented)
	}
	res := wasiResult{stdout: out.String(), stderr: stderr.String()}
	var exit *sys.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.exitCode = exit.ExitCode()
	default:
		res.trap = firstLine(err)
	}
	return res, y.calls.Load()
}

// TestExampleLoopPreempted: the example that never returns is stopped from
// the yield hook once instrumented.
func TestExampleLoopPreempted(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join("..", "..", "examples", "functions", "loop.wasm"))
	if err != nil {
		t.Skip("examples/functions/loop.wasm not built yet")
	}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig())
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	y := &yielder{fuel: 100, hook: func(n int64) {
		if n == 1000 {
			panic(sys.NewExitError(124))
		}
	}}
	y.instantiate(ctx, t, r)
	_, err = r.InstantiateWithConfig(ctx, mustInstrument(t, orig, Options{}), wazero.NewModuleConfig())
	var exit *sys.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 124 || y.calls.Load() != 1000 {
		t.Fatalf("loop: %v after %d yields; want exit 124 after 1000", err, y.calls.Load())
	}
}
