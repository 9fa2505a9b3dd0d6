package instrument

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Options configures Instrument. The zero value is usable: empty fields take
// the defaults listed beside them.
type Options struct {
	ImportModule   string // module of the yield import; default "gosledge"
	ImportName     string // name of the yield import; default "yield"
	Wait32Name     string // name of the wait32 import, added only if needed; default "wait32"
	Wait64Name     string // name of the wait64 import, added only if needed; default "wait64"
	FuelExport     string // export name of the fuel global; default "__gosledge_fuel"
	InitialFuel    int32  // initial fuel; default 10000 if 0; must not be negative
	MaxMemoryPages uint32 // 0 leaves memory limits as they are; else caps every defined memory
	// MaxTableElements: 0 leaves table limits as they are; else caps every
	// defined table (a table minimum above it is ErrTableLimit).
	MaxTableElements uint32
	// Limits on what would make compiling the module take the host down
	// (ErrTooLarge past them): locals declared by one function (a body
	// declaring 10^8 locals took wazero 4.8 s and 3 GiB to compile),
	// functions (imported and defined), and data segments. 0 takes the
	// default beside each, the limits V8 enforces, which real modules
	// stay far below.
	MaxLocals       uint32 // default DefaultMaxLocals
	MaxFunctions    uint32 // default DefaultMaxFunctions
	MaxDataSegments uint32 // default DefaultMaxDataSegments

	// ExportState exports every defined mutable global under
	// StateGlobalPrefix and refuses (ErrStateful) a module whose state a
	// host could not snapshot and restore through its exports (state.go).
	ExportState bool

	// everySafepoint puts a safepoint at every function entry and loop
	// header, as before elision (elide.go); for tests and benchmarks.
	everySafepoint bool
}

// Defaults used for empty Options fields.
const (
	DefaultImportModule = "gosledge"
	DefaultImportName   = "yield"
	DefaultWait32Name   = "wait32"
	DefaultWait64Name   = "wait64"
	DefaultFuelExport   = "__gosledge_fuel"
	DefaultInitialFuel  = 10000

	DefaultMaxLocals       = 50_000
	DefaultMaxFunctions    = 1_000_000
	DefaultMaxDataSegments = 100_000
)

// maxPages is the number of 64 KiB pages a 32-bit memory can address.
const maxPages = 65536

// Sentinel errors; every error Instrument returns wraps exactly one of them.
var (
	// ErrMalformed: the binary is not well-formed (truncated, bad LEB128,
	// section size mismatch, counts that disagree, an index that does not
	// exist).
	ErrMalformed = errors.New("malformed module")
	// ErrUnsupported: well-formed, but uses a feature the runtime does not
	// run (exceptions, GC, memory64, imported memories, ...).
	ErrUnsupported = errors.New("unsupported module")
	// ErrUnknownOpcode: an instruction the walker cannot decode.
	ErrUnknownOpcode = errors.New("unknown opcode")
	// ErrGlobalOutOfRange: a global index at or past the module's own
	// globals, which after instrumentation would reach the fuel global.
	ErrGlobalOutOfRange = errors.New("global index out of range")
	// ErrMemoryLimit: a memory's minimum exceeds Options.MaxMemoryPages.
	ErrMemoryLimit = errors.New("memory limit exceeded")
	// ErrTableLimit: a table's minimum exceeds Options.MaxTableElements.
	ErrTableLimit = errors.New("table limit exceeded")
	// ErrTooLarge: more locals, functions or data segments than Options
	// allow.
	ErrTooLarge = errors.New("module too large")
	// ErrConflict: the module already imports from Options.ImportModule or
	// exports Options.FuelExport.
	ErrConflict = errors.New("name conflict with instrumentation")
	// ErrStateful: under Options.ExportState, the module changes state
	// (a table, a dropped segment) that no export reaches.
	ErrStateful = errors.New("state not restorable")
	// ErrOptions: the Options themselves are invalid.
	ErrOptions = errors.New("invalid options")
)

// Instrument returns a rewritten copy of wasm with a fuel safepoint at the
// function entries and loop headers that need one for the guest to reach a
// yield within a bound (doc.go, "Where safepoints go"), the yield import and the exported fuel
// global added, memories capped, and memory.atomic.wait32/64 on a shared
// memory turned into calls of the wait imports. wasm itself is not
// modified.
func Instrument(wasm []byte, opt Options) ([]byte, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("instrument: %w", err)
	}
	out, err := instrument(wasm, opt)
	if err != nil {
		return nil, fmt.Errorf("instrument: %w", err)
	}
	return out, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.ImportModule == "" {
		o.ImportModule = DefaultImportModule
	}
	if o.ImportName == "" {
		o.ImportName = DefaultImportName
	}
	if o.Wait32Name == "" {
		o.Wait32Name = DefaultWait32Name
	}
	if o.Wait64Name == "" {
		o.Wait64Name = DefaultWait64Name
	}
	if o.FuelExport == "" {
		o.FuelExport = DefaultFuelExport
	}
	if o.InitialFuel == 0 {
		o.InitialFuel = DefaultInitialFuel
	}
	if o.MaxLocals == 0 {
		o.MaxLocals = DefaultMaxLocals
	}
	if o.MaxFunctions == 0 {
		o.MaxFunctions = DefaultMaxFunctions
	}
	if o.MaxDataSegments == 0 {
		o.MaxDataSegments = DefaultMaxDataSegments
	}
	for _, s := range []string{o.ImportModule, o.ImportName, o.Wait32Name, o.Wait64Name, o.FuelExport} {
		if !utf8.ValidString(s) {
			return o, fmt.Errorf("name %q is not valid UTF-8: %w", s, ErrOptions)
		}
	}
	// One name for two imports of different types would make the module
	// unlinkable.
	if o.ImportName == o.Wait32Name || o.ImportName == o.Wait64Name || o.Wait32Name == o.Wait64Name {
		return o, fmt.Errorf("import names %q, %q and %q are not distinct: %w", o.ImportName, o.Wait32Name, o.Wait64Name, ErrOptions)
	}
	if o.InitialFuel < 0 {
		// A negative counter would have to wrap around before yielding.
		return o, fmt.Errorf("InitialFuel %d is negative: %w", o.InitialFuel, ErrOptions)
	}
	if o.MaxMemoryPages > maxPages {
		return o, fmt.Errorf("MaxMemoryPages %d exceeds %d: %w", o.MaxMemoryPages, maxPages, ErrOptions)
	}
	return o, nil
}

// module holds what the rewrite needs to know about the input module. All
// counts are of the original module.
type module struct {
	opt Options

	numTypes           uint32
	numImportedFuncs   uint32
	numFuncs           uint32 // imported + defined
	numDefinedFuncs    uint32 // function section count
	numGlobals         uint32 // imported + defined
	numImportedGlobals uint32
	numDefGlobals      uint32

	yieldType  uint32 // index of the appended () -> i32 type
	yieldFunc  uint32 // index of the yield import in the new module
	fuelGlobal uint32 // index of the fuel global in the new module

	// sharedMem holds, per defined memory, whether it is shared. Waits on
	// a shared memory are rewritten into calls of the wait imports
	// (rewriteWait); waits[k] records that wait32 (k=0) or wait64 (k=1)
	// occurs, so that only then its type and import are added, after the
	// yield's, at waitType[k] and waitFunc[k].
	sharedMem []bool
	waits     [2]bool
	waitType  [2]uint32
	waitFunc  [2]uint32
	// added is the number of imported functions the rewrite appends (the
	// yield and the waits used), hence the shift of every defined
	// function's index and the number of appended types.
	added uint32

	// mergedData holds the data segments when they are merged into runs
	// (data.go); nil leaves the data section as it is.
	mergedData []dataSegment

	safepoint []byte // encoded safepoint sequence

	// Options.ExportState (state.go): the defined mutable globals, by
	// index, and the first instruction that makes the module
	// unrestorable.
	mutableGlobals []uint32
	stateErr       error

	// funcs is filled by the first walk of the code (nil during the
	// second); checked, planned from it, says per defined function whether
	// it gets an entry safepoint, and is nil while every function and loop
	// gets one (during the first walk, or with Options.everySafepoint).
	funcs   []funcInfo
	checked []bool

	// trackLabels is set when a name section exists; loopLabels then holds,
	// per defined function, the function label indices of its loops that
	// have a safepoint.
	trackLabels bool
	loopLabels  [][]uint32
}

// remapFunc maps an original function index to its index in the
// instrumented module, rejecting indices that do not exist (this also rules
// out wrap-around onto the yield import).
func (m *module) remapFunc(idx uint32, off int) (uint32, error) {
	if idx >= m.numFuncs {
		return 0, failAt(off, ErrMalformed, "function index %d out of range (module has %d functions)", idx, m.numFuncs)
	}
	if idx >= m.numImportedFuncs {
		idx += m.added
	}
	return idx, nil
}

// checkGlobal rejects global indices the guest could use to reach the fuel
// global (or anything else past its own globals).
func (m *module) checkGlobal(idx uint32, off int) error {
	if idx >= m.numGlobals {
		return failAt(off, ErrGlobalOutOfRange, "global index %d out of range (module has %d globals)", idx, m.numGlobals)
	}
	return nil
}

func instrument(wasm []byte, opt Options) ([]byte, error) {
	secs, err := splitSections(wasm)
	if err != nil {
		return nil, err
	}
	m := &module{opt: opt}
	if err := m.analyze(secs); err != nil {
		return nil, err
	}
	if m.stateErr != nil {
		return nil, m.stateErr
	}
	m.yieldType = m.numTypes
	m.yieldFunc = m.numImportedFuncs
	m.added = 1
	for k, used := range m.waits {
		if used {
			m.waitType[k] = m.numTypes + m.added
			m.waitFunc[k] = m.numImportedFuncs + m.added
			m.added++
		}
	}
	m.fuelGlobal = m.numGlobals
	m.safepoint = encodeSafepoint(m.fuelGlobal, m.yieldFunc)

	// Rewrite the non-custom sections first: the name section may come
	// before the code section but needs what walking the code found.
	payloads := make([][]byte, len(secs))
	for _, customPass := range []bool{false, true} {
		for i, s := range secs {
			if (s.id == secCustom) != customPass {
				continue
			}
			if payloads[i], err = m.rewrite(s); err != nil {
				return nil, err
			}
		}
	}

	// The output is the input plus a few bytes per function and loop.
	out := make([]byte, 0, len(wasm)+len(wasm)/8+64)
	out = append(out, wasm[:8]...)

	// Sections the instrumentation needs but the module may lack are
	// created, in the position the section order requires.
	missing := map[byte]bool{secType: true, secImport: true, secGlobal: true, secExport: true}
	for _, s := range secs {
		delete(missing, s.id)
	}
	emitMissingBefore := func(rank int) error {
		for _, id := range []byte{secType, secImport, secGlobal, secExport} {
			if missing[id] && sectionRank[id] < rank {
				delete(missing, id)
				payload, err := m.rewrite(section{id: id, absent: true})
				if err != nil {
					return err
				}
				out = appendSection(out, id, payload)
			}
		}
		return nil
	}
	// Custom sections after the last known one (a trailing "name") stay
	// last: what is missing goes before them, not after.
	lastKnown := -1
	for i, s := range secs {
		if s.id != secCustom {
			lastKnown = i
		}
	}
	for i, s := range secs {
		rank := len(sectionRank) + 1
		if s.id != secCustom {
			rank = sectionRank[s.id]
		}
		if s.id != secCustom || i > lastKnown {
			if err := emitMissingBefore(rank); err != nil {
				return nil, err
			}
		}
		if payloads[i] != nil { // nil: dropped
			out = appendSection(out, s.id, payloads[i])
		}
	}
	if err := emitMissingBefore(len(sectionRank) + 1); err != nil {
		return nil, err
	}
	return out, nil
}

func appendSection(out []byte, id byte, payload []byte) []byte {
	out = append(out, id)
	out = appendU32(out, uint32(len(payload)))
	return append(out, payload...)
}

// encodeSafepoint builds
//
//	global.get $fuel
//	if
//	  global.get $fuel  i32.const 1  i32.sub  global.set $fuel
//	else
//	  call $yield  global.set $fuel
//	end
//
// which consumes and produces nothing, so it is valid at any point where an
// instruction sequence may start.
func encodeSafepoint(fuel, yield uint32) []byte {
	b := []byte{opGlobalGet}
	b = appendU32(b, fuel)
	b = append(b, opIf, blockEmpty, opGlobalGet)
	b = appendU32(b, fuel)
	b = append(b, opI32Const, 1, opI32Sub, opGlobalSet)
	b = appendU32(b, fuel)
	b = append(b, opElse, opCall)
	b = appendU32(b, yield)
	b = append(b, opGlobalSet)
	b = appendU32(b, fuel)
	return append(b, opEnd)
}
