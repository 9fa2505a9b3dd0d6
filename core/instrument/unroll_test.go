package instrument

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero/api"
)

// TestUnroll counts the safepoints each loop of unroll.wasm passes, with a
// yield at every one (fuel 0, and the yield grants 0): an unrolled loop
// passes one per maxUnroll iterations, however it branches back or out, and still
// yields; a loop left alone passes one per iteration, and so does every
// loop with noUnroll.
func TestUnroll(t *testing.T) {
	ctx := context.Background()
	const k = maxUnroll // the bodies are small enough for the most copies
	ceil := func(n int64) int64 { return (n + k - 1) / k }
	nested := int64(0) // the inner loop runs max(1, i) times for i < 10
	for i := range int64(10) {
		nested += ceil(max(1, i))
	}
	for _, tc := range []struct {
		fn              string
		arg             uint64
		unrolled, plain int64
		why             string
	}{
		{"count", 100, ceil(100), 100, "100 iterations, k per safepoint"},
		{"count", 1, 1, 1, "one iteration still passes the header"},
		{"fill", 10, ceil(10), 10, "10 iterations"},
		{"find", 1000, ceil(41), 41, "leaves from the middle of iteration 41"},
		{"find", 5, ceil(5), 5, "runs out before it finds"},
		{"typed", 10, 10, 10, "a result type: not unrolled"},
		{"exits", 10, ceil(10), 10, "comes back with br, leaves with br_if from the middle"},
		{"large", 5, 5, 5, "too large: not unrolled"},
		{"nested", 10, nested, 46, "the inner loop, ceil(max(1, i)/k) per outer iteration; the outer loop's check is elided"},
		{"calls", 5, ceil(5), 5, "calls a function without a safepoint"},
		{"tree", 4, 15, 30, "no entry safepoint: the loop around the recursive call has one, passed once per inner node (twice not unrolled)"},
	} {
		for _, mode := range []struct {
			opt  Options
			want int64
		}{{Options{}, tc.unrolled}, {Options{noUnroll: true}, tc.plain}} {
			r, y := newYieldRuntime(ctx, t, 0)
			mod, err := r.Instantiate(ctx, mustInstrument(t, readTestdata(t, "unroll.wasm"), mode.opt))
			if err != nil {
				t.Fatal(err)
			}
			mod.ExportedGlobal(DefaultFuelExport).(api.MutableGlobal).Set(0)
			if _, err := mod.ExportedFunction(tc.fn).Call(ctx, tc.arg); err != nil {
				t.Fatalf("%s(%d): %v", tc.fn, tc.arg, err)
			}
			if got := y.calls.Load(); got != mode.want {
				t.Errorf("%s(%d) noUnroll=%v: %d safepoints passed, want %d (%s)", tc.fn, tc.arg, mode.opt.noUnroll, got, mode.want, tc.why)
			}
			r.Close(ctx)
		}
	}
}
