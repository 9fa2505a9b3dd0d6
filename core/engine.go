package core

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/core/instrument"
)

// Names of the host import the instrumenter adds to every module.
const (
	yieldModule = "gosledge"
	yieldName   = "yield"
	fuelExport  = "__gosledge_fuel"
	// initialFuel is the safepoint budget before a fresh sandbox's first
	// yield; small, so the first yield comes early and calibrates the rest.
	initialFuel = 1000
	wasmPage    = 64 << 10
	// maxTableElements caps every table (8 MiB of references at most)
	// when the config sets no max_table_elements.
	maxTableElements = 1 << 20
)

// features are the Wasm proposals modules may use. Threads and tail calls
// are experimental in wazero but the instrumenter handles them.
const features = api.CoreFeaturesV2 | experimental.CoreFeaturesThreads | experimental.CoreFeaturesTailCall

// engine owns the one wazero runtime of a server: its compilation cache,
// the WASI and yield host modules, and the compiled, instrumented module of
// every distinct (binary, memory limit).
type engine struct {
	rt     wazero.Runtime
	mem    *memoryPool // nil: wazero allocates linear memories itself
	limits moduleLimits
	idle   idleBudget // the idle pooled instances' memory, all routes (instancepool.go)

	mu         sync.Mutex
	compiled   map[moduleKey]wazero.CompiledModule
	restorable map[wazero.CompiledModule]bool // compiled with their state exported
}

type moduleKey struct {
	sum      [sha256.Size]byte
	maxPages uint32
}

// newEngine creates the runtime. cacheDir "" or "-" keeps compiled code in
// memory only. yield is the host function behind every safepoint.
func newEngine(ctx context.Context, cacheDir string, limits moduleLimits, yield api.GoModuleFunc) (*engine, error) {
	rc := wazero.NewRuntimeConfigCompiler().WithCoreFeatures(features)
	if cacheDir != "" && cacheDir != "-" {
		if err := os.MkdirAll(cacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("cache dir %s: %w", cacheDir, err)
		}
		cache, err := wazero.NewCompilationCacheWithDir(filepath.Clean(cacheDir))
		if err != nil {
			return nil, fmt.Errorf("cache dir %s: %w", cacheDir, err)
		}
		rc = rc.WithCompilationCache(cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	// The listeners watch the few WASI calls that change a file table,
	// which a reactor instance must not carry to its next request.
	if err := instantiateWASI(experimental.WithFunctionListenerFactory(ctx, fdTableListeners), rt); err != nil {
		rt.Close(ctx)
		return nil, err
	}
	_, err := withWaits(rt.NewHostModuleBuilder(yieldModule)).
		NewFunctionBuilder().
		WithGoModuleFunction(yield, nil, []api.ValueType{api.ValueTypeI32}).
		Export(yieldName).
		Instantiate(ctx)
	if err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("instantiate %s host module: %w", yieldModule, err)
	}
	e := &engine{rt: rt, mem: newMemoryPool(), limits: limits, compiled: map[moduleKey]wazero.CompiledModule{}, restorable: map[wazero.CompiledModule]bool{}}
	e.idle.limit.Store(maxIdleBytes)
	return e, nil
}

// compile instruments wasm (capping its memory at memoryLimit bytes) and
// compiles it, reusing an earlier compilation of the same binary and limit.
// name is only used in errors.
func (e *engine) compile(ctx context.Context, name string, wasm []byte, memoryLimit int64) (wazero.CompiledModule, error) {
	key := moduleKey{sum: sha256.Sum256(wasm), maxPages: uint32(memoryLimit / wasmPage)}
	e.mu.Lock()
	defer e.mu.Unlock()
	if m, ok := e.compiled[key]; ok {
		return m, nil
	}
	// Pooled instances are restored from a snapshot (instancepool.go):
	// their globals must be reachable, and they must not change state no
	// export reaches. A reactor must be pooled; a command that could
	// change such state gets fresh instances. A module whose exports do
	// not parse is left for Instrument to refuse.
	reactor := false
	if fns, err := instrument.ExportedFunctions(wasm); err == nil {
		reactor = !fns["_start"] && fns["_initialize"]
	}
	opt := instrument.Options{
		ImportModule:   yieldModule,
		ImportName:     yieldName,
		FuelExport:     fuelExport,
		InitialFuel:    initialFuel,
		MaxMemoryPages: key.maxPages,
		// A table without a maximum could grow to 2^32-2 entries in one
		// table.grow: gigabytes allocated inside one instruction, where no
		// safepoint or kill reaches. Real modules use thousands.
		MaxTableElements: e.limits.tableElements,
		MaxLocals:        e.limits.locals,
		MaxFunctions:     e.limits.functions,
		MaxDataSegments:  e.limits.dataSegments,
		ExportState:      true,
	}
	inst, err := instrument.Instrument(wasm, opt)
	restorable := err == nil
	if errors.Is(err, instrument.ErrStateful) && !reactor {
		opt.ExportState = false
		inst, err = instrument.Instrument(wasm, opt)
	}
	if err != nil && reactor {
		return nil, fmt.Errorf("module %s: a reactor (no _start, an _initialize) is restored from a snapshot: %w", name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", name, err) // Instrument says "instrument: ..."
	}
	m, err := e.rt.CompileModule(ctx, inst)
	if err != nil {
		return nil, fmt.Errorf("module %s: compile: %w", name, err)
	}
	if _, ok := m.ExportedFunctions()["_start"]; !ok && !reactor {
		m.Close(ctx)
		return nil, fmt.Errorf("module %s: no _start export (a WASI command) and no _initialize (a reactor)", name)
	}
	e.compiled[key] = m
	if restorable {
		e.restorable[m] = true
	}
	return m, nil
}

// pooled says whether instances of m can be restored to a snapshot
// (instancepool.go): m was compiled here and changes no state its
// exports cannot reach.
func (e *engine) pooled(m wazero.CompiledModule) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.restorable[m]
}

// compileRoute compiles the module of cfg's route ri of tenant ti, and
// names the route's module key (file:line) and file in any error: serve
// and validate refuse a module with the same words.
func (e *engine) compileRoute(ctx context.Context, cfg *config.Config, ti, ri int) (wazero.CompiledModule, error) {
	tc := cfg.Tenants[ti]
	rc := tc.Routes[ri]
	m, err := e.compile(ctx, tc.Name+rc.Path+" ("+rc.Module+")", rc.Wasm, rc.MemoryLimit)
	if err != nil {
		return nil, fmt.Errorf("%s: key \"module\": %w", cfg.Where("tenant", strconv.Itoa(ti), "route", strconv.Itoa(ri), "module"), err)
	}
	return m, nil
}

// moduleLimits are runtime's max_module_* and max_table_elements; a zero
// takes the instrumenter's default (a config built in code, as tests do).
type moduleLimits struct {
	locals, functions, dataSegments, tableElements uint32
}

func limitsOf(rt config.Runtime) moduleLimits {
	l := moduleLimits{uint32(rt.MaxModuleLocals), uint32(rt.MaxModuleFunctions), uint32(rt.MaxModuleDataSegments), uint32(rt.MaxTableElements)}
	if l.tableElements == 0 {
		l.tableElements = maxTableElements
	}
	return l
}

// close releases the runtime and every compiled module.
func (e *engine) close(ctx context.Context) error {
	err := e.rt.Close(ctx)
	if e.mem != nil {
		e.mem.close()
	}
	return err
}
