package instrument

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// corpus is the safepoint benchmark corpus: C programs of different shapes
// (testdata/bench, built as reactors exporting run(n)) plus the hand-written
// fib and loop of testdata/bench.wat. arg sizes each call to a few
// milliseconds; small is the argument the differential test uses.
var corpus = []struct {
	name, file, export string
	arg, small         uint64
}{
	{"fib", "bench/fib.wasm", "run", 30, 12},
	{"nqueens", "bench/nqueens.wasm", "run", 10, 6},
	{"sieve", "bench/sieve.wasm", "run", 1, 1},
	{"crc32", "bench/crc32.wasm", "run", 12, 1},
	{"qsort", "bench/qsort.wasm", "run", 10000, 500},
	{"interp", "bench/interp.wasm", "run", 30000, 300},
	{"matmul", "bench/matmul.wasm", "run", 120, 20},
	{"strings", "bench/strings.wasm", "run", 30, 2},
	{"nbody", "bench/nbody.wasm", "run", 30000, 100},
	{"mandelbrot", "bench/mandelbrot.wasm", "run", 200, 20},
	{"spectral", "bench/spectral.wasm", "run", 150, 20},
	{"sha256", "bench/sha256.wasm", "run", 30, 1},
	{"loop", "bench/loop.wasm", "run", 5_000_000, 1000},
	{"wat-fib", "bench.wasm", "fib", 26, 12},
	{"wat-loop", "bench.wasm", "loop", 5_000_000, 1000},
}

// corpusVariants are the builds the benchmarks compare; the first is the
// baseline.
var corpusVariants = []corpusVariant{
	{"original", nil},
	{"before", &Options{noUnroll: true, noLoopCover: true}}, // elision as of the previous table
	{"after", &Options{}},
}

type corpusVariant struct {
	name string
	opt  *Options // nil: the original module
}

// variantBuilds turns variants into functions from the original bytes to
// the variant's bytes.
func variantBuilds(t testing.TB, variants []corpusVariant) []func([]byte) []byte {
	builds := make([]func([]byte) []byte, len(variants))
	for v, vr := range variants {
		builds[v] = func(w []byte) []byte {
			if vr.opt == nil {
				return w
			}
			return mustInstrument(t, w, *vr.opt)
		}
	}
	return builds
}

// corpusFunc is one corpus entry instantiated in one variant.
type corpusFunc struct {
	fn  api.Function
	arg uint64
}

// instantiateCorpus instantiates every corpus module once per build (the
// variant's bytes from the original) and returns the run functions by
// build, then corpus entry; large selects the benchmark arguments.
func instantiateCorpus(ctx context.Context, t testing.TB, r wazero.Runtime, builds []func([]byte) []byte, large bool) [][]corpusFunc {
	t.Helper()
	out := make([][]corpusFunc, len(builds))
	for v, build := range builds {
		for i := range corpus {
			out[v] = append(out[v], instantiateEntry(ctx, t, r, build, i, large))
		}
	}
	return out
}

// instantiateEntry instantiates corpus entry i built by build in r and
// calls _initialize where the module is a reactor.
func instantiateEntry(ctx context.Context, t testing.TB, r wazero.Runtime, build func([]byte) []byte, i int, large bool) corpusFunc {
	t.Helper()
	p := corpus[i]
	mod, err := r.InstantiateWithConfig(ctx, build(readTestdata(t, p.file)), wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	if init := mod.ExportedFunction("_initialize"); init != nil {
		if _, err := init.Call(ctx); err != nil {
			t.Fatalf("%s: _initialize: %v", p.name, err)
		}
	}
	arg := p.small
	if large {
		arg = p.arg
	}
	return corpusFunc{mod.ExportedFunction(p.export), arg}
}

// TestCorpusDifferential: every corpus program returns the same result
// instrumented, in both safepoint modes and with a yield every 3
// safepoints, as original, and yields.
func TestCorpusDifferential(t *testing.T) {
	ctx := context.Background()
	r, y := newYieldRuntime(ctx, t, 3)
	defer r.Close(ctx)
	builds := []func([]byte) []byte{func(b []byte) []byte { return b }}
	for _, mode := range safepointModes {
		opt := mode.opt
		opt.InitialFuel = 3
		builds = append(builds, func(b []byte) []byte { return mustInstrument(t, b, opt) })
	}
	vs := instantiateCorpus(ctx, t, r, builds, false)
	for i, p := range corpus {
		want, err := vs[0][i].fn.Call(ctx, vs[0][i].arg)
		if err != nil {
			t.Fatalf("%s: original: %v", p.name, err)
		}
		for k, mode := range safepointModes {
			before := y.calls.Load()
			got, err := vs[k+1][i].fn.Call(ctx, vs[k+1][i].arg)
			if err != nil {
				t.Fatalf("%s (%s): %v", p.name, mode.name, err)
			}
			if !slices.Equal(want, got) {
				t.Errorf("%s(%d): original %v, %s %v", p.name, vs[0][i].arg, want, mode.name, got)
			}
			if y.calls.Load() == before {
				t.Errorf("%s(%d): %s run never yielded", p.name, vs[0][i].arg, mode.name)
			}
		}
	}
}

// BenchmarkSafepointCorpus runs every corpus program in every variant
// (corpusVariants: original, before, after), interleaved: each b.Loop iteration
// is one round that times one call of every program in every variant, the
// variants' order rotating between rounds. It reports per program and
// instrumented variant the overhead of the medians (variant/original - 1,
// in %) and the geometric mean of the ratios; with -v it logs the medians and the interquartile range of the
// per-round ratios. Times are the calling thread's CPU time. Run with e.g. -benchtime 30x for 30 rounds.
func BenchmarkSafepointCorpus(b *testing.B) {
	ctx := context.Background()
	r, _ := newYieldRuntime(ctx, b, 10000)
	defer r.Close(ctx)
	variants := corpusVariants
	fns := instantiateCorpus(ctx, b, r, variantBuilds(b, variants), true)
	// The guest runs on the calling thread (the yield returns at once),
	// so its CPU time is the call's cost without the waits for a core.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	call := func(f corpusFunc) time.Duration {
		start := threadTime()
		if _, err := f.fn.Call(ctx, f.arg); err != nil {
			b.Fatal(err)
		}
		return threadTime() - start
	}
	for v := range fns { // warm up
		for _, f := range fns[v] {
			call(f)
		}
	}
	// times[v][i] holds the durations of corpus entry i in variant v.
	times := make([][][]time.Duration, len(variants))
	for v := range times {
		times[v] = make([][]time.Duration, len(corpus))
	}
	round := 0
	for b.Loop() {
		for i := range corpus {
			for k := range variants {
				v := (k + round + i) % len(variants)
				times[v][i] = append(times[v][i], call(fns[v][i]))
			}
		}
		round++
	}
	b.StopTimer()
	var table strings.Builder
	for v := 1; v < len(variants); v++ {
		name := variants[v].name
		fmt.Fprintf(&table, "\n%-11s %12s %12s %8s %17s\n", "program", variants[0].name, name, "overhead", "IQR of ratios")
		logSum := 0.0
		for i, p := range corpus {
			base, inst := median(times[0][i]), median(times[v][i])
			ratio := float64(inst) / float64(base)
			logSum += math.Log(ratio)
			ratios := make([]float64, len(times[0][i]))
			for k := range ratios {
				ratios[k] = float64(times[v][i][k]) / float64(times[0][i][k])
			}
			lo, hi := quartiles(ratios)
			fmt.Fprintf(&table, "%-11s %12v %12v %+7.1f%% %+7.1f%%..%+5.1f%%\n", p.name, base, inst, 100*(ratio-1), 100*(lo-1), 100*(hi-1))
			b.ReportMetric(100*(ratio-1), p.name+"-"+name+"-%")
		}
		geo := math.Exp(logSum / float64(len(corpus)))
		fmt.Fprintf(&table, "geometric mean of %d ratios: %+.2f%% over %d rounds\n", len(corpus), 100*(geo-1), round)
		b.ReportMetric(100*(geo-1), "geomean-"+name+"-%")
	}
	b.Log(table.String())
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// quartiles returns the first and third quartiles of v.
func quartiles(v []float64) (float64, float64) {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/4], s[(3*len(s))/4]
}

// BenchmarkSafepointCalls times each corpus program in each variant as its
// own sub-benchmark (name program/variant). Its use is a deterministic
// figure: run under callgrind with -test.benchtime 1x and 3x, the difference
// of the instruction counts is that of two calls (testdata/bench/callgrind.sh).
func BenchmarkSafepointCalls(b *testing.B) {
	for i, p := range corpus {
		for v, vr := range corpusVariants {
			b.Run(p.name+"/"+vr.name, func(b *testing.B) {
				ctx := context.Background()
				r, _ := newYieldRuntime(ctx, b, 10000)
				defer r.Close(ctx)
				f := instantiateEntry(ctx, b, r, variantBuilds(b, corpusVariants[v:v+1])[0], i, true)
				for b.Loop() {
					if _, err := f.fn.Call(ctx, f.arg); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
