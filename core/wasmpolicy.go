package core

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/core/instrument"
	"github.com/gosledge/gosledge/sdk"
	"github.com/gosledge/gosledge/sdk/wasmpolicy"
)

// A Wasm policy ([[plugin]] kind = "wasm") runs in process, in its own
// wazero runtime: its memory limit is the runtime's, its host modules are
// its own (a WASI with nothing but a clock, and the yield of its fuel),
// and nothing it does reaches the sandboxes' runtime. It is instrumented
// like a function (core/instrument), so a call that loops is stopped at a
// safepoint once it has run past the timeout, without a timer or a
// goroutine per call: the first yield within a call notes the time, later
// ones compare. A call therefore runs at most timeout plus two fuel grants
// (wasmFuel safepoints, some 100 µs of Go code).

const (
	// wasmFuel is the fuel granted at each yield: large, so that a
	// decision (hundreds of safepoints) rarely yields at all.
	wasmFuel = 1 << 16
	// wasmInitTimeout bounds instantiation (the Go runtime's start-up),
	// which plugin_timeout, meant for one decision, would not allow.
	wasmInitTimeout = 5 * time.Second
	// wasmOutputMax bounds the output a module's fault quotes and the
	// length of one logged line.
	wasmOutputMax = 4 << 10

	wasiModule  = "wasi_snapshot_preview1"
	exitTimeout = 124 // the exit code a timed-out call is stopped with
)

// WasmOptions configures a Wasm policy module.
type WasmOptions struct {
	// Timeout is the longest one call may run (runtime.plugin_timeout).
	Timeout time.Duration
	// MemoryLimit caps the module's linear memory, bytes ([[plugin]]
	// memory_limit).
	MemoryLimit int64
	// CacheDir keeps compiled code across runs, as runtime.cache_dir; ""
	// or "-" keeps it in memory only.
	CacheDir string
	// Logger receives the module's stdout and stderr, line by line.
	Logger *slog.Logger
}

// WasmModule is a compiled Wasm policy, from which instances are made.
type WasmModule struct {
	name string
	path string // the file, if loaded from a [[plugin]]
	opt  WasmOptions
	rt   wazero.Runtime
	cm   wazero.CompiledModule
}

// CompileWasmPolicy instruments and compiles a policy module and checks
// what can be checked before it runs: its imports (only
// wasi_snapshot_preview1) and the signatures of its ABI exports. name
// labels errors and logs.
func CompileWasmPolicy(ctx context.Context, name string, wasm []byte, opt WasmOptions) (*WasmModule, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	inst, err := instrument.Instrument(wasm, instrument.Options{
		ImportModule:     yieldModule,
		ImportName:       yieldName,
		FuelExport:       fuelExport,
		InitialFuel:      wasmFuel,
		MaxMemoryPages:   uint32(opt.MemoryLimit / wasmPage),
		MaxTableElements: maxTableElements,
	})
	if err != nil {
		if errors.Is(err, instrument.ErrMemoryLimit) {
			return nil, fmt.Errorf("its initial memory exceeds memory_limit (%d bytes): %w", opt.MemoryLimit, err)
		}
		return nil, fmt.Errorf("instrument: %w", err)
	}
	rc := wazero.NewRuntimeConfigCompiler().WithCoreFeatures(features)
	if opt.CacheDir != "" && opt.CacheDir != "-" {
		cache, err := wazero.NewCompilationCacheWithDir(filepath.Clean(opt.CacheDir))
		if err != nil {
			return nil, fmt.Errorf("cache dir %s: %w", opt.CacheDir, err)
		}
		rc = rc.WithCompilationCache(cache)
	}
	m := &WasmModule{name: name, opt: opt, rt: wazero.NewRuntimeWithConfig(ctx, rc)}
	if err := m.compile(ctx, inst); err != nil {
		m.rt.Close(ctx)
		return nil, err
	}
	return m, nil
}

func (m *WasmModule) compile(ctx context.Context, inst []byte) error {
	cm, err := m.rt.CompileModule(ctx, inst)
	if err != nil {
		return fmt.Errorf("compile: %w", err)
	}
	m.cm = cm
	wasi := m.rt.NewHostModuleBuilder(wasiModule)
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch {
		case mod == yieldModule && name == yieldName:
		case mod == wasiModule:
			wasi.NewFunctionBuilder().WithGoModuleFunction(wasiFunc(name), f.ParamTypes(), f.ResultTypes()).Export(name)
		default:
			return fmt.Errorf("imports %s.%s: a policy may import only %s: %w", mod, name, wasiModule, wasmpolicy.ErrABI)
		}
	}
	if len(cm.ImportedMemories()) > 0 {
		return fmt.Errorf("imports a memory: %w", wasmpolicy.ErrABI)
	}
	if _, err := wasi.Instantiate(ctx); err != nil {
		return fmt.Errorf("instantiate %s: %w", wasiModule, err)
	}
	_, err = m.rt.NewHostModuleBuilder(yieldModule).NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(wasmYield), nil, []api.ValueType{api.ValueTypeI32}).
		Export(yieldName).Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("instantiate %s: %w", yieldModule, err)
	}
	exported := cm.ExportedFunctions()
	for _, e := range wasmpolicy.Exports() {
		if f, ok := exported[e.Name()]; ok {
			if sig := signature(f); sig != e.Signature() {
				return fmt.Errorf("export %s has type %s, want %s: %w", e.Name(), sig, e.Signature(), wasmpolicy.ErrABI)
			}
		}
	}
	return nil
}

// signature writes a function's type as wasmpolicy.Export.Signature does.
func signature(f api.FunctionDefinition) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return "(" + strings.Join(s, ",") + ")"
	}
	results := names(f.ResultTypes())
	if len(f.ResultTypes()) == 1 {
		results = results[1 : len(results)-1]
	}
	return names(f.ParamTypes()) + "->" + results
}

// Close releases the runtime, its compiled code and every instance.
func (m *WasmModule) Close(ctx context.Context) error { return m.rt.Close(ctx) }

// WasmPolicy is one instance of a Wasm policy module: a wazero module
// instance behind a wasmpolicy.Client. Like any sdk.Policy it is called
// under one lock; Kill may come from anywhere.
type WasmPolicy struct {
	m      *WasmModule
	mod    api.Module
	fns    []api.Function  // by wasmpolicy.Export; nil if not exported
	ctx    context.Context // carries the instance to the host functions
	client *wasmpolicy.Client
	limit  time.Duration // how long the current call may run

	calls     uint64    // calls made; the fuel's clock is per call
	yieldCall uint64    // the call of the last yield
	yieldAt   time.Time // that call's first yield
	cause     error     // why the host stopped the module, if it did

	out  []byte // the current call's output, for a fault's message (bounded)
	line []byte // output not yet logged (no newline yet)

	killOnce sync.Once
}

var exportNames = wasmpolicy.Exports()

type wasmInstanceKey struct{}

// Instantiate starts a fresh instance of the module (the Go runtime's
// initialisation included), checks its ABI version and the exports its
// capabilities need, and returns it ready to schedule.
func (m *WasmModule) Instantiate(ctx context.Context) (*WasmPolicy, error) {
	p := &WasmPolicy{m: m, limit: wasmInitTimeout}
	p.ctx = context.WithValue(context.Background(), wasmInstanceKey{}, p)
	mod, err := m.rt.InstantiateModule(p.ctx, m.cm, wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize"))
	if err != nil {
		return nil, fmt.Errorf("instantiate: %w", p.describe(err))
	}
	p.mod = mod
	p.fns = make([]api.Function, len(exportNames))
	for i, e := range exportNames {
		p.fns[i] = mod.ExportedFunction(e.Name())
	}
	if mod.Memory() == nil {
		mod.Close(ctx)
		return nil, fmt.Errorf("has no memory: %w", wasmpolicy.ErrABI)
	}
	c, err := wasmpolicy.NewClient(p)
	if err != nil {
		mod.Close(ctx)
		return nil, err
	}
	for i, e := range exportNames {
		if p.fns[i] == nil && e.Required(c.Caps()) {
			mod.Close(ctx)
			return nil, fmt.Errorf("does not export %s: %w", e.Name(), wasmpolicy.ErrABI)
		}
	}
	p.client, p.limit = c, m.opt.Timeout
	return p, nil
}

// Policy is the instance's policy (see wasmpolicy.Client.Policy).
func (p *WasmPolicy) Policy() sdk.Policy { return p.client.Policy() }

// Err is the instance's first fault, or nil.
func (p *WasmPolicy) Err() error { return p.client.Err() }

// Kill closes the instance; later calls fail. It may be called more than
// once, and concurrently with nothing else.
func (p *WasmPolicy) Kill() {
	p.killOnce.Do(func() { p.mod.Close(context.Background()) })
}

// Call implements wasmpolicy.Guest.
func (p *WasmPolicy) Call(e wasmpolicy.Export, stack []uint64) error {
	f := p.fns[e]
	if f == nil {
		return fmt.Errorf("not exported: %w", wasmpolicy.ErrABI)
	}
	p.calls++
	p.out = p.out[:0]
	if err := f.CallWithStack(p.ctx, stack); err != nil {
		return p.describe(err)
	}
	return nil
}

// Memory implements wasmpolicy.Guest.
func (p *WasmPolicy) Memory(offset, size uint32) ([]byte, bool) {
	return p.mod.Memory().Read(offset, size)
}

// describe turns a failed call's error into the fault to report: the
// host's own cause (a timeout), else wazero's first line (the trap, or the
// exit code), with the first line of what the module wrote during the call
// (a Go panic's message).
func (p *WasmPolicy) describe(err error) error {
	if p.cause != nil {
		return p.cause
	}
	msg := firstLine(err.Error())
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		msg = fmt.Sprintf("exited with code %d", exit.ExitCode())
	}
	if out := strings.TrimSpace(firstLine(string(p.out))); out != "" {
		msg += ": " + out
	}
	return errors.New(msg)
}

func instanceOf(ctx context.Context) *WasmPolicy { return ctx.Value(wasmInstanceKey{}).(*WasmPolicy) }

// wasmYield is the safepoint's host function: it stops a call that has run
// past its limit and grants more fuel.
func wasmYield(ctx context.Context, _ api.Module, stack []uint64) {
	p := instanceOf(ctx)
	switch {
	case p.yieldCall != p.calls || p.yieldAt.IsZero():
		p.yieldCall, p.yieldAt = p.calls, time.Now()
	case time.Since(p.yieldAt) > p.limit:
		p.cause = fmt.Errorf("still running after %s (plugin_timeout %s): stopped", time.Since(p.yieldAt).Round(time.Millisecond), p.limit)
		panic(sys.NewExitError(exitTimeout))
	}
	stack[0] = wasmFuel
}

// WASI errno values the subset returns.
const (
	errnoSuccess = 0
	errnoBadf    = 8
	errnoFault   = 21
	errnoInval   = 28
	errnoNosys   = 52
)

// wasiFunc is the host side of one wasi_snapshot_preview1 import. A
// policy gets a clock and an output for its logs; args and environ are
// empty; every other function fails, the fd ones as if no file were open.
func wasiFunc(name string) api.GoModuleFunc {
	switch name {
	case "clock_time_get":
		return func(_ context.Context, mod api.Module, s []uint64) {
			var t int64
			switch uint32(s[0]) {
			case 0: // realtime
				t = time.Now().UnixNano()
			case 1, 2, 3: // monotonic, process and thread CPU time
				t = int64(time.Since(wasmClockBase))
			default:
				s[0] = errnoInval
				return
			}
			s[0] = errnoOK(mod.Memory().WriteUint64Le(uint32(s[2]), uint64(t)))
		}
	case "clock_res_get":
		return func(_ context.Context, mod api.Module, s []uint64) {
			s[0] = errnoOK(mod.Memory().WriteUint64Le(uint32(s[1]), 1))
		}
	case "args_sizes_get", "environ_sizes_get":
		return func(_ context.Context, mod api.Module, s []uint64) {
			s[0] = errnoOK(mod.Memory().WriteUint32Le(uint32(s[0]), 0) && mod.Memory().WriteUint32Le(uint32(s[1]), 0))
		}
	case "args_get", "environ_get", "sched_yield":
		return func(_ context.Context, _ api.Module, s []uint64) { s[0] = errnoSuccess }
	case "fd_write":
		return wasiWrite
	case "poll_oneoff":
		return wasiPoll
	case "proc_exit":
		return func(ctx context.Context, mod api.Module, s []uint64) {
			mod.CloseWithExitCode(ctx, uint32(s[0]))
			panic(sys.NewExitError(uint32(s[0])))
		}
	}
	errno := uint64(errnoNosys)
	if strings.HasPrefix(name, "fd_") || strings.HasPrefix(name, "path_") {
		errno = errnoBadf
	}
	return func(_ context.Context, _ api.Module, s []uint64) {
		if len(s) > 0 {
			s[0] = errno
		}
	}
}

// wasmClockBase is the origin of the modules' monotonic clock.
var wasmClockBase = time.Now()

func errnoOK(ok bool) uint64 {
	if ok {
		return errnoSuccess
	}
	return errnoFault
}

// wasiWrite is fd_write(fd, iovs, iovs_len, nwritten) for stdout and
// stderr: the bytes are logged line by line and kept, bounded, for the
// message of a fault in the same call.
func wasiWrite(ctx context.Context, mod api.Module, s []uint64) {
	fd, iovs, n, nwritten := uint32(s[0]), uint32(s[1]), uint32(s[2]), uint32(s[3])
	if fd != 1 && fd != 2 {
		s[0] = errnoBadf
		return
	}
	p := instanceOf(ctx)
	mem := mod.Memory()
	total := uint32(0)
	for i := range n {
		ptr, ok1 := mem.ReadUint32Le(iovs + 8*i)
		l, ok2 := mem.ReadUint32Le(iovs + 8*i + 4)
		b, ok3 := mem.Read(ptr, l)
		if !ok1 || !ok2 || !ok3 {
			s[0] = errnoFault
			return
		}
		p.output(fd, b)
		total += l
	}
	s[0] = errnoOK(mem.WriteUint32Le(nwritten, total))
}

// wasiPoll is poll_oneoff(in, out, nsubscriptions, nevents) that never
// waits: every clock subscription fires at once, every fd one fails
// (EBADF). A Go runtime sleeps through it (its panic path does, before it
// exits); a policy that waits for a timer spins instead, until its call
// is stopped at plugin_timeout.
func wasiPoll(_ context.Context, mod api.Module, s []uint64) {
	in, out, n, nevents := uint32(s[0]), uint32(s[1]), uint32(s[2]), uint32(s[3])
	mem := mod.Memory()
	for i := range n {
		sub, ok := mem.Read(in+48*i, 48)  // userdata u64, tag u8, ...
		ev, ok2 := mem.Read(out+32*i, 32) // userdata u64, errno u16, type u8, ...
		if !ok || !ok2 {
			s[0] = errnoFault
			return
		}
		clear(ev)
		copy(ev[:8], sub[:8])
		ev[10] = sub[8]
		if sub[8] != 0 { // not a clock
			ev[8] = errnoBadf
		}
	}
	s[0] = errnoOK(mem.WriteUint32Le(nevents, n))
}

func (p *WasmPolicy) output(fd uint32, b []byte) {
	p.out = append(p.out, b[:min(len(b), wasmOutputMax-len(p.out))]...)
	p.line = append(p.line, b...)
	for {
		i := bytes.IndexByte(p.line, '\n')
		if i < 0 && len(p.line) < wasmOutputMax {
			return
		}
		if i < 0 {
			i = len(p.line)
		}
		stream := "stdout"
		if fd == 2 {
			stream = "stderr"
		}
		p.m.opt.Logger.Info("policy output", "plugin", p.m.name, "stream", stream, "line", string(p.line[:min(i, wasmOutputMax)]))
		p.line = p.line[min(i+1, len(p.line)):]
	}
}

// readWasmPolicy reads a [[plugin]]'s module and checks its digest.
func readWasmPolicy(path, sum string) ([]byte, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if sum != "" {
		if got := sha256.Sum256(wasm); !strings.EqualFold(hex.EncodeToString(got[:]), sum) {
			return nil, fmt.Errorf("%s: SHA-256 %x, want %s", path, got, sum)
		}
	}
	return wasm, nil
}

// resolveWasmPolicy loads the wasm [[plugin]] called name as the
// server's policy, guarded like a plugin process: a fault ejects it for
// fallback.
func resolveWasmPolicy(ctx context.Context, cfg *config.Config, name string, fallback func() (sdk.Policy, error), log *slog.Logger) (sdk.Policy, *pluginGuard, func(), error) {
	p, kill, err := loadWasmPolicy(ctx, cfg, name, log)
	if err != nil {
		return nil, nil, nil, err
	}
	g := &pluginGuard{name: name, err: p.Err, kill: kill, fallback: fallback}
	log.Info("wasm policy loaded", "plugin", name, "path", p.m.path, "abi", wasmpolicy.ABIVersion, "policy", p.Policy().Name())
	return p.Policy(), g, kill, nil
}

// loadWasmPolicy reads, compiles and instantiates the wasm [[plugin]]
// called name; its errors carry the path key's file:line. kill releases
// the instance and its runtime.
func loadWasmPolicy(ctx context.Context, cfg *config.Config, name string, log *slog.Logger) (*WasmPolicy, func(), error) {
	i := slices.IndexFunc(cfg.Plugins, func(p config.Plugin) bool { return p.Name == name })
	pc := cfg.Plugins[i]
	fail := func(err error) (*WasmPolicy, func(), error) {
		return nil, nil, fmt.Errorf("%s: plugin %q: module %s: %w", cfg.Where("plugin", strconv.Itoa(i), "path"), name, pc.Path, err)
	}
	wasm, err := readWasmPolicy(pc.Path, pc.SHA256)
	if err != nil {
		return fail(err)
	}
	m, err := CompileWasmPolicy(ctx, name, wasm, WasmOptions{
		Timeout: cfg.Runtime.PluginTimeout, MemoryLimit: pc.MemoryLimit, CacheDir: cfg.Runtime.CacheDir, Logger: log,
	})
	if err != nil {
		return fail(err)
	}
	m.path = pc.Path
	p, err := m.Instantiate(ctx)
	if err != nil {
		m.Close(ctx)
		return fail(err)
	}
	return p, func() { p.Kill(); m.Close(context.Background()) }, nil
}

// probeWasm is ProbePlugin for a wasm [[plugin]]: load, ask the name,
// release.
func probeWasm(ctx context.Context, cfg *config.Config, name string, log *slog.Logger) (PluginInfo, error) {
	p, kill, err := loadWasmPolicy(ctx, cfg, name, log)
	if err != nil {
		return PluginInfo{}, err
	}
	defer kill()
	return PluginInfo{Name: name, Path: p.m.path, Policy: p.Policy().Name(), Protocol: wasmpolicy.ABIVersion}, nil
}
