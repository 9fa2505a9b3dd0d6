package instrument

import (
	"context"
	"encoding/json"
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// specDir returns the WebAssembly spec test suite (core 2.0) that the
// wazero version in go.mod ships, or "" if its source is not in the
// module cache.
func specDir() string {
	mod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		return ""
	}
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		cache = filepath.Join(build.Default.GOPATH, "pkg", "mod")
	}
	for line := range strings.Lines(string(mod)) {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "github.com/tetratelabs/wazero" {
			dir := filepath.Join(cache, f[0]+"@"+f[1], "internal", "integration_test", "spectest", "v2", "testdata")
			if _, err := os.Stat(dir); err == nil {
				return dir
			}
		}
	}
	return ""
}

// specCommand is one command of a spec test's JSON (wast2json).
type specCommand struct {
	Type     string `json:"type"`
	Line     int    `json:"line"`
	Filename string `json:"filename"`
	Action   struct {
		Type   string `json:"type"`
		Module string `json:"module"`
		Field  string `json:"field"`
		Args   []struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"` // a string, or lanes for v128
		} `json:"args"`
	} `json:"action"`
}

// specArgs parses an invocation's arguments; false if one is not a plain
// number (v128, references).
func (c *specCommand) specArgs() ([]uint64, bool) {
	var args []uint64
	for _, a := range c.Action.Args {
		switch a.Type {
		case "i32", "i64", "f32", "f64":
		default:
			return nil, false
		}
		var str string
		if json.Unmarshal(a.Value, &str) != nil {
			return nil, false
		}
		v, err := strconv.ParseUint(str, 10, 64)
		if err != nil {
			return nil, false
		}
		args = append(args, v)
	}
	return args, true
}

// TestSpecDifferential runs every invocation of the spec test suite's
// modules (assert_return, assert_trap, assert_exhaustion and plain
// actions, on modules that import nothing) before and after
// instrumentation, in every safepoint mode (only the default under the
// race detector), with a yield every 3 safepoints, and compares results
// and traps. The spec suite's modules
// hold every shape of block, loop and branch, which the unrolled and
// elided forms must keep.
func TestSpecDifferential(t *testing.T) {
	dir := specDir()
	if dir == "" {
		t.Skip("wazero's source (its spec tests) is not in the module cache")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no spec tests in %s: %v", dir, err)
	}
	ctx := context.Background()
	// The interpreter: the modules are many and tiny, and what is
	// compared is their meaning, not the compiler's.
	cfg := wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(features)
	var invocations, yields int64
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var spec struct{ Commands []specCommand }
		if err := json.Unmarshal(b, &spec); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		modes := safepointModes
		if raceEnabled {
			// Several times slower: the placement that ships only (the
			// suite has no concurrency for the detector to check).
			modes = modes[:1]
		}
		for _, mode := range modes {
			name := filepath.Base(file)
			orig := wazero.NewRuntimeWithConfig(ctx, cfg)
			inst := wazero.NewRuntimeWithConfig(ctx, cfg)
			y := &yielder{fuel: 3}
			y.instantiate(ctx, t, inst)
			var mods [2]api.Module // the current module, original and instrumented
			for _, c := range spec.Commands {
				switch c.Type {
				case "module":
					mods = [2]api.Module{}
					wasm, err := os.ReadFile(filepath.Join(dir, c.Filename))
					if err != nil {
						t.Fatal(err)
					}
					o, err := orig.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName(""))
					if err != nil {
						continue // imports from "spectest" or another module, or a start that traps
					}
					out, err := Instrument(wasm, mode.opt)
					if err != nil {
						t.Errorf("%s:%d (%s): %v", name, c.Line, mode.name, err)
						continue
					}
					i, err := inst.InstantiateWithConfig(ctx, out, wazero.NewModuleConfig().WithName(""))
					if err != nil {
						t.Errorf("%s:%d (%s): the original instantiates, the instrumented module does not: %v", name, c.Line, mode.name, err)
						continue
					}
					if g, ok := i.ExportedGlobal(DefaultFuelExport).(api.MutableGlobal); ok {
						g.Set(2)
					}
					mods = [2]api.Module{o, i}
				case "assert_return", "assert_trap", "assert_exhaustion", "action":
					if mods[0] == nil || c.Action.Type != "invoke" || c.Action.Module != "" {
						continue
					}
					args, ok := c.specArgs()
					if !ok {
						continue
					}
					var outs [2]outcome
					for k, mod := range mods {
						fn := mod.ExportedFunction(c.Action.Field)
						if fn == nil {
							t.Fatalf("%s:%d: no export %q", name, c.Line, c.Action.Field)
						}
						res, err := fn.Call(ctx, slices.Clone(args)...)
						if refResult(fn) {
							res = nil // a reference is an address in this instance
						}
						outs[k] = outcome{results: res, err: firstLine(err)}
					}
					invocations++
					// Both traps say the same; a stack overflow may come at
					// another depth but is one all the same.
					if !slices.Equal(outs[0].results, outs[1].results) || trapKind(outs[0].err) != trapKind(outs[1].err) {
						t.Errorf("%s:%d (%s): %s%v: original %+v, instrumented %+v", name, c.Line, mode.name, c.Action.Field, args, outs[0], outs[1])
					}
				}
			}
			yields += y.calls.Load()
			orig.Close(ctx)
			inst.Close(ctx)
		}
	}
	if invocations < 20000 || yields == 0 {
		t.Errorf("%d invocations compared, %d yields: the suite did not run", invocations, yields)
	}
	t.Logf("%d invocations in %d files, %d yields", invocations, len(files), yields)
}

// trapKind is a trap's message without the wasm stack trace wazero adds.
func trapKind(err string) string {
	kind, _, _ := strings.Cut(err, " (recovered by wazero)")
	return kind
}

// refResult reports whether fn returns a reference.
func refResult(fn api.Function) bool {
	for _, t := range fn.Definition().ResultTypes() {
		if t == valFuncref || t == api.ValueTypeExternref {
			return true
		}
	}
	return false
}
