package instrument

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"
)

// features is what the runtime enables; the instrumented output must
// compile under exactly these.
const features = api.CoreFeaturesV2 | experimental.CoreFeaturesThreads | experimental.CoreFeaturesTailCall

func runtimeConfig() wazero.RuntimeConfig {
	return wazero.NewRuntimeConfigCompiler().WithCoreFeatures(features)
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustInstrument(t testing.TB, wasm []byte, opt Options) []byte {
	t.Helper()
	out, err := Instrument(wasm, opt)
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	return out
}

// newYieldRuntime returns a runtime with a yielder handing out fuel
// instantiated in it; the caller closes the runtime.
func newYieldRuntime(ctx context.Context, t testing.TB, fuel int32) (wazero.Runtime, *yielder) {
	t.Helper()
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig())
	y := &yielder{fuel: fuel}
	y.instantiate(ctx, t, r)
	return r, y
}

// yielder is the host side of the yield import.
type yielder struct {
	calls atomic.Int64
	fuel  int32
	// hook, if set, runs on each call with the call count and may panic
	// (e.g. with sys.NewExitError) to abort the guest.
	hook func(n int64)
}

func (y *yielder) instantiate(ctx context.Context, t testing.TB, r wazero.Runtime) {
	t.Helper()
	_, err := r.NewHostModuleBuilder(DefaultImportModule).
		NewFunctionBuilder().
		WithFunc(func(context.Context) int32 {
			n := y.calls.Add(1)
			if y.hook != nil {
				y.hook(n)
			}
			return y.fuel
		}).
		Export(DefaultImportName).
		NewFunctionBuilder().
		WithGoModuleFunction(waitHost(4), []api.ValueType{i32, i32, i64, i32}, []api.ValueType{i32, i32}).
		Export(DefaultWait32Name).
		NewFunctionBuilder().
		WithGoModuleFunction(waitHost(8), []api.ValueType{i32, i64, i64, i32}, []api.ValueType{i32, i32}).
		Export(DefaultWait64Name).
		Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
}

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// waitHost is the test side of the wait import of an access of size
// bytes: HostWait with a real sleep for a finite timeout; a negative one
// waits until ctx ends and then exits the guest, as a kill would.
func waitHost(size uint32) api.GoModuleFunc {
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		HostWait(stack, size, mod.Memory(), func(timeout int64) {
			if timeout > 0 {
				time.Sleep(time.Duration(timeout))
				return
			}
			<-ctx.Done()
			panic(sys.NewExitError(124))
		})
	}
}

// instantiateEnv provides the "env" imports of the test modules.
func instantiateEnv(ctx context.Context, t testing.TB, r wazero.Runtime) {
	t.Helper()
	if _, err := r.InstantiateWithConfig(ctx, readTestdata(t, "env.wasm"), wazero.NewModuleConfig().WithName("env")); err != nil {
		t.Fatal(err)
	}
}

// firstLine keeps the error kind and drops wazero's stack trace.
func firstLine(err error) string {
	if err == nil {
		return ""
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// testModules lists the committed testdata modules.
func testModules(t testing.TB) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join("testdata", "*.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
