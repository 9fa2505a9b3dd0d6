package instrument

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"
)

// BenchmarkInstrument measures the rewrite itself on a test module and, if
// built, the largest example programs.
func BenchmarkInstrument(b *testing.B) {
	paths := []string{
		filepath.Join("testdata", "calls.wasm"),
		filepath.Join("..", "..", "examples", "functions", "fib.wasm"),
		filepath.Join("..", "..", "examples", "functions", "spin.wasm"),
	}
	for _, path := range paths {
		wasm, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		b.Run(filepath.Base(path), func(b *testing.B) {
			b.SetBytes(int64(len(wasm)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Instrument(wasm, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSafepoint compares compute-bound code with and without
// safepoints in one run: fib(30) is call-heavy (a safepoint per call), loop
// runs 50M iterations of an xorshift step (a safepoint per iteration). The
// yield hands back 10000 fuel, so it is called every 10000 safepoints.
func BenchmarkSafepoint(b *testing.B) {
	orig := readTestdata(b, "bench.wasm")
	inst := mustInstrument(b, orig, Options{InitialFuel: 10000})
	for _, fn := range []struct {
		name, export string
		arg          uint64
	}{
		{"fib30", "fib", 30},
		{"loop50M", "loop", 50_000_000},
	} {
		b.Run(fn.name, func(b *testing.B) {
			for _, v := range []struct {
				name string
				wasm []byte
			}{{"plain", orig}, {"instrumented", inst}} {
				b.Run(v.name, func(b *testing.B) {
					ctx := context.Background()
					r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig())
					defer r.Close(ctx)
					y := &yielder{fuel: 10000}
					y.instantiate(ctx, b, r)
					mod, err := r.Instantiate(ctx, v.wasm)
					if err != nil {
						b.Fatal(err)
					}
					f := mod.ExportedFunction(fn.export)
					for b.Loop() {
						if _, err := f.Call(ctx, fn.arg); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(y.calls.Load())/float64(b.N), "yields/op")
				})
			}
		})
	}
}
