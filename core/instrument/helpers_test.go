package instrument

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
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
		Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
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
