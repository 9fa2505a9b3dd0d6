package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"io"
	"maps"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/core/instrument"
)

// Pooled instances: a route's module is instantiated once into a
// snapshot, and its requests run on instances restored to that snapshot
// instead of on fresh ones (RATIONALE, "Pooled instances").
//
//   - A reactor (no _start, an _initialize and the route's handler export:
//     a Go program built with -buildmode=c-shared and //go:wasmexport) is
//     snapshotted after _initialize, at load, and every request calls the
//     handler. A Go wasip1 command pays its runtime's start (~0.65 ms) and
//     wazero's table initialisation (~0.3 ms) on every request; a reactor
//     pays for copying back the pages its request wrote instead.
//   - A command (_start) is snapshotted as instantiated, so a restored
//     instance is in exactly a fresh one's state, and every request calls
//     _start. A C echo costs ~4 µs this way against ~20 µs instantiated
//     afresh, and allocates nothing. A command that exits through
//     proc_exit (every Go program) or grows its memory cannot be restored;
//     once a route's instances keep ending that way, its requests get
//     fresh instances again, and one in commandProbeEvery tries the pool.
//
// Isolation is the same as a fresh instance's: what a request can change
// is the instance's linear memory, its mutable globals (exported for the
// host by the instrumenter, instrument.Options.ExportState), its tables
// and passive segments (a reactor that can change them is refused at
// load; a command that can is never pooled), and its WASI file table
// (watched: fdTableListeners). Argv and environment are read from the
// request at each call (wasiargs.go). Before an instance serves again,
// the memory its request wrote is overwritten with the snapshot's image
// (pagetrack_linux.go finds those pages; elsewhere the whole image is
// copied) and its globals reset; an instance whose request did anything
// else — trapped, exited, was killed, grew its memory, changed its file
// table — is closed, never reused. What a reactor's snapshot freezes is
// the same for every request: the Go runtime's random seeds (math/rand's
// global source and map iteration order repeat from request to request;
// use crypto/rand, which asks the host each time), os.Args (the route path
// only: Go reads it at _initialize) and the environment.

// reactorInitTimeout bounds _initialize at load.
const reactorInitTimeout = 10 * time.Second

// defaultHandler is the export a reactor serves requests with when the
// route names none.
const defaultHandler = "handle"

// poolStats count what became of a pool's instances.
type poolStats struct {
	created   atomic.Uint64 // instantiated (the snapshot's own included)
	reused    atomic.Uint64 // requests served by an instance that had served before
	discarded atomic.Uint64 // closed after a request instead of restored
}

// commandStreak is how many instances of a command in a row must end
// unrestorable (exited, grew their memory) before its requests go back to
// fresh instances; commandProbeEvery is how often one of those requests
// tries the pool again, in case the route's requests changed.
const (
	commandStreak     = 4
	commandProbeEvery = 64
)

// instancePool is a route's snapshot and its idle instances, each in
// exactly the snapshot's state.
type instancePool struct {
	e       *engine
	module  wazero.CompiledModule
	base    wazero.ModuleConfig
	entry   string // the export each request calls: _start or the handler
	reactor bool   // snapshotted after _initialize, not as instantiated
	snap    snapshot
	maxIdle int

	mu     sync.Mutex
	idle   []*pooledInstance // LIFO: the warmest first
	closed bool

	stats poolStats
	// unrestorable counts a command's instances in a row that could not
	// be restored; probe counts its requests served fresh since.
	unrestorable, probe atomic.Int32
}

// snapshot is an instance's state when the pool was made: after
// _initialize for a reactor, as instantiated for a command.
type snapshot struct {
	image   []byte   // the whole linear memory
	globals []uint64 // the mutable globals, by state export ordinal
}

// pooledInstance is one instance of a pool's module with what it
// needs to serve one request after another: stdio it can switch to each
// request's buffers, and the sandbox it serves now (for its sleeps).
type pooledInstance struct {
	mod     api.Module
	handle  api.Function
	fuel    api.MutableGlobal
	globals []api.MutableGlobal
	lease   memoryLease
	// written tracks the pages a reactor's requests write, and resident
	// finds a command's resident pages, so that restoring copies only
	// those (track); both nil: copy the whole image.
	written  *writeTracker
	resident *pageTracker

	stdin          switchReader
	stdout, stderr switchWriter
	sb             *Sandbox // serving now; nil while idle or initialising
	fdChanged      bool     // its WASI file table changed (fdTableListeners)
	served         bool     // it has served a request (the snapshot's own instance had not)
}

// fdChangedKey carries the *pooledInstance whose WASI calls the
// fdTableListeners watch.
type fdChangedKey struct{}

// fdTableFuncs are the WASI functions that change an instance's file
// table rather than a file's contents. Not fd_fdstat_set_flags: the Go
// runtime calls it on stdio at start, and on wazero's stdio (not
// pollable, not regular files) it changes nothing.
var fdTableFuncs = map[string]bool{
	"fd_close": true, "fd_renumber": true, "path_open": true, "sock_accept": true, "sock_shutdown": true,
}

// fdTableListeners marks the pooled instance calling one of fdTableFuncs,
// so that it is not reused: wazero's file table is not reachable from
// outside, so it cannot be restored, only noticed. A listener is attached
// to those functions only; every other WASI call runs as before.
var fdTableListeners = experimental.FunctionListenerFactoryFunc(func(def api.FunctionDefinition) experimental.FunctionListener {
	if _, name, ok := def.Import(); ok && fdTableFuncs[name] || fdTableFuncs[def.Name()] {
		return fdTableListener{}
	}
	return nil
})

type fdTableListener struct{}

func (fdTableListener) Before(ctx context.Context, _ api.Module, _ api.FunctionDefinition, _ []uint64, _ experimental.StackIterator) {
	if inst, ok := ctx.Value(fdChangedKey{}).(*pooledInstance); ok {
		inst.fdChanged = true
	}
}

func (fdTableListener) After(context.Context, api.Module, api.FunctionDefinition, []uint64) {}
func (fdTableListener) Abort(context.Context, api.Module, api.FunctionDefinition, error)    {}

// isReactor says whether m is served as a reactor: no _start, an
// _initialize.
func isReactor(m wazero.CompiledModule) bool {
	fns := m.ExportedFunctions()
	_, start := fns["_start"]
	_, init := fns["_initialize"]
	return !start && init
}

// checkHandler checks that a reactor exports handler as () or () -> i32.
func checkHandler(m wazero.CompiledModule, handler string) error {
	f, ok := m.ExportedFunctions()[handler]
	if !ok {
		return fmt.Errorf("a reactor (it exports _initialize, not _start) must export its handler %q", handler)
	}
	res := f.ResultTypes()
	if len(f.ParamTypes()) != 0 || len(res) > 1 || len(res) == 1 && res[0] != api.ValueTypeI32 {
		return fmt.Errorf("handler %q has type %s, want ()->() or ()->i32", handler, signature(f))
	}
	return nil
}

// newReactor runs _initialize on a fresh instance of m and keeps its
// state as the snapshot every request starts from; that instance is the
// first idle one. args are the instances' argv.
func newReactor(ctx context.Context, e *engine, m wazero.CompiledModule, base wazero.ModuleConfig, rc config.Route, maxIdle int) (*instancePool, error) {
	if rc.Interface == config.InterfaceWAGI {
		// WAGI hands each request its environment, which a reactor's
		// snapshot fixed at _initialize (Go reads it once, at start).
		return nil, errors.New(`a WAGI route (interface = "wagi") needs a command module (_start): a reactor's environment is its snapshot's`)
	}
	r := &instancePool{e: e, module: m, base: base, entry: rc.Handler, reactor: true, maxIdle: max(maxIdle, 1)}
	if r.entry == "" {
		r.entry = defaultHandler
	}
	if err := checkHandler(m, r.entry); err != nil {
		return nil, err
	}
	inst, err := r.instantiate(ctx)
	if err != nil {
		return nil, err
	}
	var stderr limitedBuffer
	stderr.limit = 4 << 10
	inst.stdout.w, inst.stderr.w = io.Discard, &stderr
	init := &reactorInit{deadline: time.Now().Add(reactorInitTimeout), argv: []string{rc.Path}}
	ictx := context.WithValue(context.WithValue(ctx, reactorInitKey{}, init), fdChangedKey{}, inst)
	_, err = inst.mod.ExportedFunction("_initialize").Call(ictx)
	inst.stdout.w, inst.stderr.w = nil, nil
	switch {
	case init.timedOut:
		err = fmt.Errorf("_initialize still running after %s", reactorInitTimeout)
	case err != nil:
		err = fmt.Errorf("_initialize: %s%s", firstLine(err.Error()), quoteOutput(stderr.Bytes()))
	case inst.fdChanged:
		err = errors.New("_initialize changed its WASI file table (closed, renumbered or opened a file): it cannot be snapshotted")
	case inst.mod.Memory() == nil:
		err = errors.New("a reactor must define a memory")
	}
	if err != nil {
		r.discard(ctx, inst)
		return nil, err
	}
	r.keep(inst)
	return r, nil
}

// newCommandPool instantiates the command m once and keeps that
// instance's state as the snapshot its requests start from; nil if m
// defines no memory (nothing worth pooling).
func newCommandPool(ctx context.Context, e *engine, m wazero.CompiledModule, base wazero.ModuleConfig, maxIdle int) (*instancePool, error) {
	r := &instancePool{e: e, module: m, base: base, entry: "_start", maxIdle: max(maxIdle, 1)}
	inst, err := r.instantiate(ctx)
	if err != nil {
		return nil, err
	}
	if inst.mod.Memory() == nil {
		r.close1(ctx, inst)
		return nil, nil
	}
	r.keep(inst)
	return r, nil
}

// keep takes inst's state as the pool's snapshot and makes it the first
// idle instance.
func (r *instancePool) keep(inst *pooledInstance) {
	mem := inst.mod.Memory()
	buf, _ := mem.Read(0, mem.Size())
	r.snap.image = bytes.Clone(buf)
	for _, g := range inst.globals {
		r.snap.globals = append(r.snap.globals, g.Get())
	}
	r.track(inst)
	r.e.idle.add(r.size()) // the snapshot's own instance is always kept
	r.idle = append(r.idle, inst)
}

// size is what an idle instance of the pool holds, at most: its memory
// (the snapshot's length; restores keep it so).
func (r *instancePool) size() int64 { return int64(len(r.snap.image)) }

// maxIdleBytes bounds the memory of all routes' idle pooled instances
// together: past it, an instance is closed after its request instead of
// kept. Each pool keeps at most maxIdle, but a config of many routes
// could otherwise hold gigabytes idle; the pooled memories' own bound
// (memory.go) does not see them, since they are leased until closed.
const maxIdleBytes = 256 << 20

// idleBudget counts the bytes idle pooled instances hold, against limit.
type idleBudget struct {
	held, limit atomic.Int64
}

func (b *idleBudget) add(n int64) { b.held.Add(n) }

// take counts n more bytes if that stays within the limit.
func (b *idleBudget) take(n int64) bool {
	if b.held.Add(n) > b.limit.Load() {
		b.held.Add(-n)
		return false
	}
	return true
}

func quoteOutput(b []byte) string {
	if s := firstLine(string(bytes.TrimSpace(b))); s != "" {
		return ": " + s
	}
	return ""
}

// instantiate makes an instance of the module, its memory from the
// engine's pool, in the module's own initial state (not the snapshot's).
func (r *instancePool) instantiate(ctx context.Context) (*pooledInstance, error) {
	inst := &pooledInstance{}
	cfg := r.base.
		WithStdin(&inst.stdin).
		WithStdout(&inst.stdout).
		WithStderr(&inst.stderr).
		WithNanosleep(inst.sleep)
	if pool := r.e.mem; pool != nil {
		inst.lease.pool = pool
		ctx = experimental.WithMemoryAllocator(ctx, untrackingAllocator{&inst.lease, inst})
	}
	mod, err := r.e.rt.InstantiateModule(ctx, r.module, cfg)
	if err != nil {
		inst.lease.release()
		return nil, err
	}
	r.stats.created.Add(1)
	inst.mod = mod
	inst.handle = mod.ExportedFunction(r.entry)
	inst.fuel, _ = mod.ExportedGlobal(fuelExport).(api.MutableGlobal)
	for i := 0; ; i++ {
		g, ok := mod.ExportedGlobal(instrument.StateGlobalPrefix + strconv.Itoa(i)).(api.MutableGlobal)
		if !ok {
			break
		}
		inst.globals = append(inst.globals, g)
	}
	return inst, nil
}

// get returns an idle instance, or calls miss and returns a new one
// restored to the snapshot.
func (r *instancePool) get(ctx context.Context, miss func()) (*pooledInstance, error) {
	r.mu.Lock()
	if n := len(r.idle); n > 0 {
		inst := r.idle[n-1]
		r.idle = r.idle[:n-1]
		r.mu.Unlock()
		r.e.idle.add(-r.size())
		return inst, nil
	}
	r.mu.Unlock()
	miss()
	inst, err := r.instantiate(ctx)
	if err != nil {
		return nil, err
	}
	if r.reactor { // a command's fresh instance is its snapshot's state
		if err := r.restore(inst, true); err != nil {
			r.discard(ctx, inst)
			return nil, err
		}
	}
	r.track(inst)
	return inst, nil
}

// untrack stops tracking the writes to inst's memory: before the memory
// goes back to the pool, which may hand it to another instance at once.
func (inst *pooledInstance) untrack() {
	if inst.written != nil {
		inst.written.close()
		inst.written = nil
	}
}

// untrackingAllocator gives an instance its memory from the pool, and
// stops tracking it when wazero frees it: wazero frees it itself when the
// guest exits (proc_exit closes the instance), before the pool could.
type untrackingAllocator struct {
	lease *memoryLease
	inst  *pooledInstance
}

func (a untrackingAllocator) Allocate(capacity, maxBytes uint64) experimental.LinearMemory {
	return untrackingMemory{a.lease.Allocate(capacity, maxBytes), a.inst}
}

type untrackingMemory struct {
	experimental.LinearMemory
	inst *pooledInstance
}

func (m untrackingMemory) Free() {
	m.inst.untrack()
	m.LinearMemory.Free()
}

// track prepares inst, now in the snapshot's state, for restores that
// touch only what a request may have changed. A reactor's writes are
// tracked: its image is mostly data (a Go heap) that requests leave
// alone. A command's restore copies the image over the pages resident in
// its memory instead: its image is the few pages its data segments fill,
// all of them resident from instantiation on, and any other page a
// request touched is resident too (read as zero otherwise). That needs no
// write protection, hence no fault per written page and no TLB
// shootdown per restore. Where neither is possible, restores copy the
// whole image.
func (r *instancePool) track(inst *pooledInstance) {
	pool := r.e.mem
	if pool == nil {
		return
	}
	if !r.reactor {
		inst.resident = pool.pages
		return
	}
	mem := inst.mod.Memory()
	if buf, ok := mem.Read(0, mem.Size()); ok {
		inst.written, _ = newWriteTracker(pool.pages, buf)
	}
}

// restore puts inst in the snapshot's state: memory and mutable globals.
// fresh: inst was just instantiated, so its memory may be smaller.
func (r *instancePool) restore(inst *pooledInstance, fresh bool) error {
	mem := inst.mod.Memory()
	size := uint32(len(r.snap.image))
	if fresh && mem.Size() < size {
		if _, ok := mem.Grow((size - mem.Size()) / wasmPage); !ok {
			return fmt.Errorf("cannot grow a new instance's memory to the snapshot's %d bytes", size)
		}
	}
	buf, ok := mem.Read(0, size)
	if !ok || mem.Size() != size {
		return fmt.Errorf("memory of %d bytes, the snapshot has %d", mem.Size(), size)
	}
	back := func(lo, hi int) { copy(buf[lo:hi], r.snap.image[lo:hi]) }
	var err error
	switch {
	case fresh || inst.written == nil && inst.resident == nil:
		copy(buf, r.snap.image)
	case inst.written != nil:
		err = inst.written.written(back)
	default:
		err = inst.resident.resident(buf, func(lo, hi int, _ bool) { back(lo, hi) })
	}
	if err != nil {
		return err // some pages may be unrestored: the caller discards it
	}
	for i, g := range inst.globals {
		g.Set(r.snap.globals[i])
	}
	return nil
}

// put restores inst and keeps it for the next request, or closes it when
// the pool is full or closed, or the idle budget has no room for it.
func (r *instancePool) put(ctx context.Context, inst *pooledInstance) {
	r.mu.Lock()
	full := r.closed || len(r.idle) >= r.maxIdle
	r.mu.Unlock()
	if full || !r.e.idle.take(r.size()) { // before the restore, which it would waste
		r.close1(ctx, inst)
		return
	}
	if err := r.restore(inst, false); err != nil {
		r.e.idle.add(-r.size())
		r.discard(ctx, inst)
		return
	}
	r.mu.Lock()
	if r.closed || len(r.idle) >= r.maxIdle {
		r.mu.Unlock()
		r.e.idle.add(-r.size())
		r.close1(ctx, inst)
		return
	}
	r.idle = append(r.idle, inst)
	r.mu.Unlock()
}

// discard closes an instance that must not serve again.
func (r *instancePool) discard(ctx context.Context, inst *pooledInstance) {
	r.stats.discarded.Add(1)
	r.close1(ctx, inst)
}

func (r *instancePool) close1(ctx context.Context, inst *pooledInstance) {
	inst.untrack()
	inst.mod.Close(ctx)
	inst.lease.release()
}

// close closes the idle instances; instances in use are closed when their
// request ends.
func (r *instancePool) close(ctx context.Context) {
	r.mu.Lock()
	idle := r.idle
	r.idle, r.closed = nil, true
	r.mu.Unlock()
	for _, inst := range idle {
		r.e.idle.add(-r.size())
		r.close1(ctx, inst)
	}
}

// serve runs sb's request on an instance of the pool: bind the
// instance's stdio to the request, call its entry (_start or the
// handler), and restore the instance for the next request (now, or in
// sb.recycleInstance once the answer is out: Sandbox.answerFirst) or close
// it. It is the pool's half of Sandbox.run, called with a worker held.
func (r *instancePool) serve(ctx context.Context, sb *Sandbox) Outcome {
	s := sb.route.srv.sched
	inst, err := r.get(ctx, sb.watch) // instantiating one takes long for a big module
	if err != nil {
		return sb.outcome(err)
	}
	if inst.served {
		r.stats.reused.Add(1)
	}
	inst.served = true
	inst.stdin.r = bytes.NewReader(sb.body)
	inst.stdout.w, inst.stderr.w = &sb.stdout, &sb.stderr
	inst.sb, inst.fdChanged = sb, false
	if inst.fuel != nil {
		inst.fuel.Set(initialFuel)
	}
	ctx = context.WithValue(context.WithValue(ctx, sandboxKey{}, sb), fdChangedKey{}, inst)
	now := s.now()
	sb.lastYield, sb.lastGosched = now, now
	res, err := inst.handle.Call(ctx)
	sb.forgetFuel()
	inst.stdin.r, inst.stdout.w, inst.stderr.w, inst.sb = nil, nil, nil, nil
	if err == nil && len(res) == 1 && uint32(res[0]) != 0 {
		err = sys.NewExitError(uint32(res[0]))
	}
	out := sb.outcome(err)
	// Only an instance that returned normally is in a state the snapshot
	// can undo; a trap or a kill may have left it anywhere, and an exit
	// closed it. A grown memory cannot shrink: a restored Go runtime would
	// grow it again past the end it remembers, every request.
	grown := inst.mod.Memory().Size() != uint32(len(r.snap.image))
	if err != nil || sb.kill.Load() != killNone || sb.verdict != nil || inst.fdChanged || grown {
		r.discard(ctx, inst)
		if inst.mod.IsClosed() || grown { // exited or grew: what the route's requests may all do
			r.unrestorable.Add(1)
		}
	} else {
		r.unrestorable.Store(0)
		sb.recycle = func() { r.put(ctx, inst) }
		if !sb.answerFirst {
			sb.recycleInstance()
		}
	}
	return out
}

// serves says whether sb's request runs on the pool: always for a
// reactor; for a command, unless its last commandStreak instances could
// not be restored, and then one request in commandProbeEvery.
func (r *instancePool) serves() bool {
	if r.reactor || r.unrestorable.Load() < commandStreak {
		return true
	}
	return r.probe.Add(1)%commandProbeEvery == 0
}

// sleep is the instance's WASI nanosleep: the sandbox's own (it gives its
// worker away), or, during _initialize, a plain bounded sleep.
func (inst *pooledInstance) sleep(ns int64) {
	if sb := inst.sb; sb != nil {
		sb.sleep(sb.route.srv, time.Duration(ns))
		return
	}
	time.Sleep(min(time.Duration(ns), time.Second))
}

// reactorInit is the state of the yield during _initialize, which runs at
// load, outside any sandbox and any worker.
type reactorInit struct {
	argv     []string // the route's path: a reactor's os.Args
	deadline time.Time
	timedOut bool
	yields   int
}

type reactorInitKey struct{}

// initYield is yield for a call with no sandbox: _initialize at load. It
// stops a start-up that runs past reactorInitTimeout.
func initYield(ctx context.Context, stack []uint64) {
	init, ok := ctx.Value(reactorInitKey{}).(*reactorInit)
	if !ok {
		panic("gosledge yield called outside a sandbox")
	}
	if init.yields++; init.yields%64 == 0 {
		runtime.Gosched()
	}
	if time.Now().After(init.deadline) {
		init.timedOut = true
		panic(sys.NewExitError(exitKilled))
	}
	stack[0] = wasmFuel
}

// switchReader is an instance's stdin: the current request's body, or EOF.
type switchReader struct{ r io.Reader }

func (s *switchReader) Read(p []byte) (int, error) {
	if s.r == nil {
		return 0, io.EOF
	}
	return s.r.Read(p)
}

// switchWriter is an instance's stdout or stderr: the current request's
// buffer; between requests, writes fail.
type switchWriter struct{ w io.Writer }

var errNoRequest = errors.New("no request is being served")

func (s *switchWriter) Write(p []byte) (int, error) {
	if s.w == nil {
		return 0, errNoRequest
	}
	return s.w.Write(p)
}

// routePool is the instance pool of cfg's route ri of tenant ti: prev's
// (the route now served under the same path) if it has the same module,
// handler and preopens, else newPool's.
func (s *Server) routePool(ctx context.Context, cfg *config.Config, ti, ri int, m wazero.CompiledModule, base wazero.ModuleConfig, prev *route) (*instancePool, error) {
	rc := cfg.Tenants[ti].Routes[ri]
	if prev != nil && prev.pool != nil && prev.module == m && prev.cfg.Handler == rc.Handler && maps.Equal(prev.cfg.Preopen, rc.Preopen) {
		return prev.pool, nil
	}
	return newPool(ctx, s.engine, cfg, ti, ri, m, base, 2*cfg.Runtime.Workers)
}

// newPool makes the instance pool of cfg's route ri of tenant ti if its
// module m is a reactor or a command whose state can be restored; nil for
// a command that cannot be pooled. Errors name the route's module key
// (file:line), or its handler key if it names one.
func newPool(ctx context.Context, e *engine, cfg *config.Config, ti, ri int, m wazero.CompiledModule, base wazero.ModuleConfig, maxIdle int) (*instancePool, error) {
	rc := cfg.Tenants[ti].Routes[ri]
	if isReactor(m) {
		r, err := newReactor(ctx, e, m, base, rc, maxIdle)
		if err != nil {
			return nil, poolError(cfg, ti, ri, true, err)
		}
		return r, nil
	}
	if !e.pooled(m) {
		return nil, nil
	}
	r, err := newCommandPool(ctx, e, m, base, maxIdle)
	if err != nil {
		return nil, poolError(cfg, ti, ri, false, err)
	}
	return r, nil
}

// poolError says why the pool of cfg's route ri of tenant ti could not be
// made: a reactor's snapshot, naming the route's handler key if the
// config sets it, else its module key; or a command's instantiation,
// naming its module key.
func poolError(cfg *config.Config, ti, ri int, reactor bool, err error) error {
	tc := cfg.Tenants[ti]
	rc := tc.Routes[ri]
	key, what := "module", "instantiate"
	at := cfg.Where("tenant", strconv.Itoa(ti), "route", strconv.Itoa(ri), "module")
	if reactor {
		what = "reactor"
		if h := cfg.Where("tenant", strconv.Itoa(ti), "route", strconv.Itoa(ri), "handler"); h != cfg.File {
			at, key = h, "handler"
		}
	}
	return fmt.Errorf("%s: key %q: module %s%s (%s): %s: %w", at, key, tc.Name, rc.Path, rc.Module, what, err)
}

// closePools closes the instance pools of the routes in from that no
// route in keep serves: after a reload (from the old maps, keep the new),
// after a failed compileRoutes (from what it built, keep what the tenants
// serve), and at shutdown (keep nothing). A pool met twice is closed
// once; closing is idempotent anyway.
func closePools(ctx context.Context, keep []map[string]*route, from ...map[string]*route) {
	kept := map[*instancePool]bool{}
	for _, routes := range keep {
		for _, r := range routes {
			kept[r.pool] = true
		}
	}
	for _, routes := range from {
		for _, r := range routes {
			if r.pool != nil && !kept[r.pool] {
				kept[r.pool] = true
				r.pool.close(ctx)
			}
		}
	}
}

// poolCollector exposes each pooled route's instance counts at scrape
// time: gosledge_instances_total{tenant,route,event} (created, reused,
// discarded) and gosledge_idle_instances{tenant,route}. A reload that
// changes a route's module starts its counts again, as a restarted
// process's would.
type poolCollector struct{ s *Server }

var (
	pooledInstancesDesc = prometheus.NewDesc("gosledge_instances_total",
		"Pooled instances (reactor and command routes) by event: created (instantiated), reused (served a request after an earlier one), discarded (closed after a request instead of restored).",
		[]string{"tenant", "route", "event"}, nil)
	idleInstancesDesc = prometheus.NewDesc("gosledge_idle_instances",
		"Pooled instances restored to their snapshot and waiting for a request.", []string{"tenant", "route"}, nil)
)

func (poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pooledInstancesDesc
	ch <- idleInstancesDesc
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, t := range c.s.tenants {
		for _, rt := range t.routeMap() {
			r := rt.pool
			if r == nil {
				continue
			}
			for _, ev := range []struct {
				name string
				n    uint64
			}{{"created", r.stats.created.Load()}, {"reused", r.stats.reused.Load()}, {"discarded", r.stats.discarded.Load()}} {
				ch <- prometheus.MustNewConstMetric(pooledInstancesDesc, prometheus.CounterValue, float64(ev.n), t.name, rt.cfg.Path, ev.name)
			}
			r.mu.Lock()
			idle := len(r.idle)
			r.mu.Unlock()
			ch <- prometheus.MustNewConstMetric(idleInstancesDesc, prometheus.GaugeValue, float64(idle), t.name, rt.cfg.Path)
		}
	}
}
