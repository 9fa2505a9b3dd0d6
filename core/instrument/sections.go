package instrument

import (
	"bytes"
	"fmt"
	"strings"
)

// Section ids.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

// sectionRank is the required order of the non-custom sections; data count
// sits between element and code despite its id.
var sectionRank = map[byte]int{
	secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5,
	secGlobal: 6, secExport: 7, secStart: 8, secElement: 9, secDataCount: 10,
	secCode: 11, secData: 12,
}

var sectionNames = [...]string{"custom", "type", "import", "function", "table",
	"memory", "global", "export", "start", "element", "code", "data", "data count", "tag"}

func sectionName(id byte) string {
	if int(id) < len(sectionNames) {
		return sectionNames[id]
	}
	return fmt.Sprintf("unknown(%d)", id)
}

// Value and reference type encodings.
const (
	valI32       = 0x7f
	valI64       = 0x7e
	valF32       = 0x7d
	valF64       = 0x7c
	valV128      = 0x7b
	valFuncref   = 0x70
	valExternref = 0x6f
	blockEmpty   = 0x40
)

var wasmHeader = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

// section is one section of the input. start is the module offset of
// payload[0]. absent marks a section the module lacks and the rewrite adds.
type section struct {
	id      byte
	start   int
	payload []byte
	absent  bool
}

func (s section) reader() *reader { return newReader(s.payload, s.start) }

// splitSections checks the header and splits the module into sections,
// checking sizes and order without looking inside them.
func splitSections(wasm []byte) ([]section, error) {
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], wasmHeader[:4]) {
		return nil, failAt(0, ErrMalformed, "not a WebAssembly binary (bad magic)")
	}
	if !bytes.Equal(wasm[4:8], wasmHeader[4:]) {
		return nil, failAt(4, ErrUnsupported, "binary version %x is not 1 (components are not supported)", wasm[4:8])
	}
	r := newReader(wasm[8:], 8)
	var secs []section
	lastRank := 0
	for !r.done() {
		off := r.offset()
		id, _ := r.byte("section id")
		size, err := r.u32("section size")
		if err != nil {
			return nil, err
		}
		start := r.offset()
		payload, err := r.bytes(uint64(size), sectionName(id)+" section")
		if err != nil {
			return nil, err
		}
		if id != secCustom {
			if id == secTag {
				return nil, failAt(off, ErrUnsupported, "tag section (exception handling) is not supported")
			}
			rank, ok := sectionRank[id]
			if !ok {
				return nil, failAt(off, ErrMalformed, "unknown section id %d", id)
			}
			if rank <= lastRank {
				return nil, failAt(off, ErrMalformed, "%s section is duplicated or out of order", sectionName(id))
			}
			lastRank = rank
		}
		secs = append(secs, section{id: id, start: start, payload: payload})
	}
	return secs, nil
}

// analyze collects the counts the rewrite depends on. It runs over all
// sections first because custom sections ("name") may precede the sections
// that define the index spaces.
func (m *module) analyze(secs []section) error {
	var code, data *section
	var codeCount uint32
	hasDataCount := false
	for i, s := range secs {
		var err error
		switch s.id {
		case secCustom:
			r := s.reader()
			if name, nerr := r.name("custom section name"); nerr == nil && string(name) == "name" {
				m.trackLabels = true
			}
		case secType:
			_, err = m.rewriteTypes(s)
		case secImport:
			_, err = m.rewriteImports(s)
		case secFunction:
			err = m.analyzeFunctions(s)
		case secMemory:
			_, err = m.rewriteMemories(s) // for sharedMem
		case secGlobal:
			r := s.reader()
			m.numDefGlobals, err = r.count(3, "global")
		case secCode:
			code = &secs[i]
			r := s.reader()
			codeCount, err = r.count(2, "function body")
		case secData:
			data = &secs[i]
		case secDataCount:
			hasDataCount = true
		}
		if err != nil {
			return fmt.Errorf("%s section: %w", sectionName(s.id), err)
		}
	}
	if data != nil && !hasDataCount {
		m.mergedData, _ = mergeableData(data.payload)
	}
	if code == nil && m.numDefinedFuncs > 0 || code != nil && codeCount != m.numDefinedFuncs {
		return failAt(0, ErrMalformed, "function section declares %d functions but code section has %d bodies", m.numDefinedFuncs, codeCount)
	}
	m.numFuncs = m.numImportedFuncs + m.numDefinedFuncs
	if m.numFuncs < m.numImportedFuncs {
		return failAt(0, ErrMalformed, "too many functions")
	}
	m.numGlobals = m.numImportedGlobals + m.numDefGlobals
	if m.numGlobals < m.numImportedGlobals || m.numGlobals == ^uint32(0) {
		return failAt(0, ErrMalformed, "too many globals")
	}
	if m.numTypes > ^uint32(0)-maxAdded || m.numImportedFuncs > ^uint32(0)-maxAdded {
		return failAt(0, ErrMalformed, "too many types or imports")
	}
	// The code is walked once beforehand: whether wait imports are needed
	// (and so every index shift) depends on it, and so does which
	// safepoints can be left out (elide.go).
	if code != nil {
		m.funcs = make([]funcInfo, m.numDefinedFuncs)
		if _, err := m.rewriteCode(*code); err != nil {
			return fmt.Errorf("%s section: %w", sectionName(secCode), err)
		}
		if !m.opt.everySafepoint {
			m.planChecks()
		}
		m.funcs = nil
	}
	return nil
}

// maxAdded is the most types and imports the rewrite appends: yield,
// wait32, wait64.
const maxAdded = 3

// rewrite returns the new payload of s, or nil to drop it.
func (m *module) rewrite(s section) ([]byte, error) {
	var out []byte
	var err error
	switch s.id {
	case secCustom:
		out, err = m.rewriteCustom(s)
	case secType:
		out, err = m.rewriteTypes(s)
	case secImport:
		out, err = m.rewriteImports(s)
	case secMemory:
		out, err = m.rewriteMemories(s)
	case secTable:
		out, err = m.rewriteTables(s)
	case secGlobal:
		out, err = m.rewriteGlobals(s)
	case secExport:
		out, err = m.rewriteExports(s)
	case secStart:
		out, err = m.rewriteStart(s)
	case secElement:
		out, err = m.rewriteElements(s)
	case secCode:
		out, err = m.rewriteCode(s)
	case secData:
		out, err = m.rewriteData(s)
	case secFunction, secDataCount:
		out = s.payload // validated in analyze or needing no change
		if s.id == secDataCount {
			r := s.reader()
			if _, err = r.u32("data count"); err == nil && !r.done() {
				err = r.fail(ErrMalformed, "trailing bytes")
			}
		}
	default:
		err = failAt(s.start, ErrMalformed, "unknown section id %d", s.id)
	}
	if err != nil {
		return nil, fmt.Errorf("%s section: %w", sectionName(s.id), err)
	}
	if out == nil && s.id != secCustom {
		out = []byte{} // nil means "drop", which only custom sections may be
	}
	return out, nil
}

// vecHeader reads the item count of a section that may be absent.
func vecHeader(s section, minSize int, what string) (*reader, uint32, error) {
	r := s.reader()
	if s.absent {
		return r, 0, nil
	}
	n, err := r.count(minSize, what)
	return r, n, err
}

func endOfSection(r *reader) error {
	if !r.done() {
		return r.fail(ErrMalformed, "%d trailing bytes: section size mismatch", r.remaining())
	}
	return nil
}

func readValType(r *reader) error {
	b, err := r.byte("value type")
	if err != nil {
		return err
	}
	switch b {
	case valI32, valI64, valF32, valF64, valV128, valFuncref, valExternref:
		return nil
	}
	return failAt(r.offset()-1, ErrUnsupported, "value type 0x%02x is not supported", b)
}

func readRefType(r *reader) error {
	b, err := r.byte("reference type")
	if err != nil {
		return err
	}
	if b != valFuncref && b != valExternref {
		return failAt(r.offset()-1, ErrUnsupported, "reference type 0x%02x is not supported", b)
	}
	return nil
}

// readTableLimits reads table limits (flags 0 or 1 only: no table64, no
// shared tables).
func readTableLimits(r *reader) (min, max uint32, hasMax bool, err error) {
	flags, err := r.byte("limits flags")
	if err != nil {
		return 0, 0, false, err
	}
	if flags > 1 {
		return 0, 0, false, failAt(r.offset()-1, ErrUnsupported, "table limits flags 0x%02x are not supported", flags)
	}
	if min, err = r.u32("table minimum"); err != nil {
		return 0, 0, false, err
	}
	if flags == 1 {
		max, err = r.u32("table maximum")
	}
	return min, max, flags == 1, err
}

// Types of the appended imports; see rewriteWait for the waits'.
var (
	yieldFuncType = []byte{0x60, 0, 1, valI32}
	waitFuncTypes = [2][]byte{
		{0x60, 4, valI32, valI32, valI64, valI32, 2, valI32, valI32}, // wait32
		{0x60, 4, valI32, valI64, valI64, valI32, 2, valI32, valI32}, // wait64
	}
)

// rewriteTypes counts the types and appends those of the added imports:
// () -> i32 for yield, then the waits' if used.
func (m *module) rewriteTypes(s section) ([]byte, error) {
	r, n, err := vecHeader(s, 3, "type")
	if err != nil {
		return nil, err
	}
	body := r.pos
	for i := uint32(0); i < n; i++ {
		form, err := r.byte("type form")
		if err != nil {
			return nil, err
		}
		if form != 0x60 {
			return nil, failAt(r.offset()-1, ErrUnsupported, "type %d: form 0x%02x is not a function type (GC types are not supported)", i, form)
		}
		for _, what := range []string{"parameter", "result"} {
			k, err := r.count(1, what)
			if err != nil {
				return nil, err
			}
			for j := uint32(0); j < k; j++ {
				if err := readValType(r); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := endOfSection(r); err != nil {
		return nil, err
	}
	m.numTypes = n
	out := appendU32(make([]byte, 0, len(s.payload)+32), n+m.added)
	out = append(out, r.buf[body:]...)
	out = append(out, yieldFuncType...)
	for k, used := range m.waits {
		if used {
			out = append(out, waitFuncTypes[k]...)
		}
	}
	return out, nil
}

// rewriteImports counts imported functions and globals, rejects what the
// runtime cannot provide, and appends the yield import, then the waits' if
// used.
func (m *module) rewriteImports(s section) ([]byte, error) {
	r, n, err := vecHeader(s, 4, "import")
	if err != nil {
		return nil, err
	}
	body := r.pos
	var funcs, globals uint32
	for i := uint32(0); i < n; i++ {
		off := r.offset()
		mod, err := r.name("import module name")
		if err != nil {
			return nil, err
		}
		name, err := r.name("import name")
		if err != nil {
			return nil, err
		}
		if string(mod) == m.opt.ImportModule {
			return nil, failAt(off, ErrConflict, "import %d (%q %q) uses the reserved module %q", i, mod, name, m.opt.ImportModule)
		}
		kind, err := r.byte("import kind")
		if err != nil {
			return nil, err
		}
		switch kind {
		case 0x00: // function
			ti, err := r.u32("import type index")
			if err != nil {
				return nil, err
			}
			if ti >= m.numTypes {
				return nil, failAt(off, ErrMalformed, "import %d (%q %q): type index %d out of range (module has %d types)", i, mod, name, ti, m.numTypes)
			}
			funcs++
		case 0x01: // table
			if err := readRefType(r); err != nil {
				return nil, err
			}
			if _, _, _, err := readTableLimits(r); err != nil {
				return nil, err
			}
		case 0x02:
			return nil, failAt(off, ErrUnsupported, "import %d (%q %q): imported memories are not supported", i, mod, name)
		case 0x03: // global
			if err := readValType(r); err != nil {
				return nil, err
			}
			if _, err := r.byte("global mutability"); err != nil {
				return nil, err
			}
			globals++
		default:
			return nil, failAt(off, ErrUnsupported, "import %d (%q %q): import kind 0x%02x is not supported", i, mod, name, kind)
		}
	}
	if err := endOfSection(r); err != nil {
		return nil, err
	}
	m.numImportedFuncs, m.numImportedGlobals = funcs, globals
	out := appendU32(make([]byte, 0, len(s.payload)+64), n+m.added)
	out = append(out, r.buf[body:]...)
	out = m.appendImport(out, m.opt.ImportName, m.yieldType)
	waitNames := [2]string{m.opt.Wait32Name, m.opt.Wait64Name}
	for k, used := range m.waits {
		if used {
			out = m.appendImport(out, waitNames[k], m.waitType[k])
		}
	}
	return out, nil
}

// appendImport appends the function import name of type typ from
// Options.ImportModule.
func (m *module) appendImport(out []byte, name string, typ uint32) []byte {
	out = appendName(out, m.opt.ImportModule)
	out = appendName(out, name)
	out = append(out, 0x00)
	return appendU32(out, typ)
}

func (m *module) analyzeFunctions(s section) error {
	r, n, err := vecHeader(s, 1, "function")
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		off := r.offset()
		ti, err := r.u32("function type index")
		if err != nil {
			return err
		}
		if ti >= m.numTypes {
			return failAt(off, ErrMalformed, "function %d: type index %d out of range (module has %d types)", i, ti, m.numTypes)
		}
	}
	m.numDefinedFuncs = n
	if total := uint64(m.numImportedFuncs) + uint64(n); total > uint64(m.opt.MaxFunctions) {
		return failAt(s.start, ErrTooLarge, "%d functions, past the limit of %d", total, m.opt.MaxFunctions)
	}
	return endOfSection(r)
}

// rewriteTables validates tables and applies MaxTableElements: a table
// without a maximum could otherwise grow to 2^32-2 entries in one
// table.grow, a host allocation no safepoint can interrupt.
func (m *module) rewriteTables(s section) ([]byte, error) {
	r, n, err := vecHeader(s, 3, "table")
	if err != nil {
		return nil, err
	}
	out := appendU32(make([]byte, 0, len(s.payload)+8), n)
	for i := uint32(0); i < n; i++ {
		off, start := r.offset(), r.pos
		if err := readRefType(r); err != nil {
			// 0x40 starts a table with an initializer expression (typed
			// function references), rejected through readRefType too.
			return nil, fmt.Errorf("table %d: %w", i, err)
		}
		out = append(out, s.payload[start:r.pos]...)
		min, max, hasMax, err := readTableLimits(r)
		if err != nil {
			return nil, fmt.Errorf("table %d: %w", i, err)
		}
		if c := m.opt.MaxTableElements; c != 0 {
			if min > c {
				return nil, failAt(off, ErrTableLimit, "table %d: table minimum %d elements exceeds limit %d", i, min, c)
			}
			if !hasMax || max > c {
				hasMax, max = true, c
			}
		}
		if hasMax {
			out = append(out, 1)
			out = appendU32(out, min)
			out = appendU32(out, max)
		} else {
			out = append(out, 0)
			out = appendU32(out, min)
		}
	}
	return out, endOfSection(r)
}

// rewriteMemories applies MaxMemoryPages and records which memories are
// shared.
func (m *module) rewriteMemories(s section) ([]byte, error) {
	r, n, err := vecHeader(s, 2, "memory")
	if err != nil {
		return nil, err
	}
	m.sharedMem = m.sharedMem[:0]
	out := appendU32(make([]byte, 0, len(s.payload)+8), n)
	for i := uint32(0); i < n; i++ {
		off := r.offset()
		flags, err := r.byte("memory limits flags")
		if err != nil {
			return nil, err
		}
		// Bit 0: has max; bit 1: shared (threads). Bit 2 is memory64 and
		// bit 3 custom page sizes: neither is supported.
		if flags&^0x03 != 0 {
			return nil, failAt(off, ErrUnsupported, "memory %d: limits flags 0x%02x (memory64 or custom page size) are not supported", i, flags)
		}
		m.sharedMem = append(m.sharedMem, flags&2 != 0)
		min, err := r.u32("memory minimum")
		if err != nil {
			return nil, err
		}
		hasMax := flags&1 != 0
		var max uint32
		if hasMax {
			if max, err = r.u32("memory maximum"); err != nil {
				return nil, err
			}
		}
		if c := m.opt.MaxMemoryPages; c != 0 {
			if min > c {
				return nil, failAt(off, ErrMemoryLimit, "memory %d: memory minimum %d pages exceeds limit %d", i, min, c)
			}
			if !hasMax || max > c {
				hasMax, max = true, c
			}
		}
		flags &^= 1
		if hasMax {
			flags |= 1
		}
		out = append(out, flags)
		out = appendU32(out, min)
		if hasMax {
			out = appendU32(out, max)
		}
	}
	return out, endOfSection(r)
}

// rewriteGlobals remaps ref.func and checks global.get in initializers, and
// appends the fuel global.
func (m *module) rewriteGlobals(s section) ([]byte, error) {
	r, n, err := vecHeader(s, 3, "global")
	if err != nil {
		return nil, err
	}
	out := appendU32(make([]byte, 0, len(s.payload)+16), n+1)
	for i := uint32(0); i < n; i++ {
		start := r.pos
		if err := readValType(r); err != nil {
			return nil, err
		}
		mut, err := r.byte("global mutability")
		if err != nil {
			return nil, err
		}
		if mut > 1 {
			return nil, failAt(r.offset()-1, ErrMalformed, "global %d: invalid mutability 0x%02x", i, mut)
		}
		if mut == 1 && m.opt.ExportState {
			m.mutableGlobals = append(m.mutableGlobals, m.numImportedGlobals+i)
		}
		out = append(out, r.buf[start:r.pos]...)
		if out, err = m.rewriteConstExpr(r, out); err != nil {
			return nil, fmt.Errorf("global %d initializer: %w", m.numImportedGlobals+i, err)
		}
	}
	if err := endOfSection(r); err != nil {
		return nil, err
	}
	out = append(out, valI32, 0x01, opI32Const)
	out = appendS32(out, m.opt.InitialFuel)
	return append(out, opEnd), nil
}

// rewriteExports remaps function exports, range-checks global exports and
// appends the fuel export.
func (m *module) rewriteExports(s section) ([]byte, error) {
	r, n, err := vecHeader(s, 3, "export")
	if err != nil {
		return nil, err
	}
	out := appendU32(make([]byte, 0, len(s.payload)+32), n+1+uint32(len(m.mutableGlobals)))
	for i := uint32(0); i < n; i++ {
		start := r.pos
		off := r.offset()
		name, err := r.name("export name")
		if err != nil {
			return nil, err
		}
		if string(name) == m.opt.FuelExport {
			return nil, failAt(off, ErrConflict, "export %q is reserved for the fuel global", name)
		}
		if m.opt.ExportState && strings.HasPrefix(string(name), StateGlobalPrefix) {
			return nil, failAt(off, ErrConflict, "export %q: the prefix %s is reserved for the state exports", name, StateGlobalPrefix)
		}
		kind, err := r.byte("export kind")
		if err != nil {
			return nil, err
		}
		idxOff := r.offset()
		idx, err := r.u32("export index")
		if err != nil {
			return nil, err
		}
		switch kind {
		case 0x00:
			if idx, err = m.remapFunc(idx, idxOff); err != nil {
				return nil, err
			}
		case 0x01, 0x02:
		case 0x03:
			if err := m.checkGlobal(idx, idxOff); err != nil {
				return nil, err
			}
		default:
			return nil, failAt(off, ErrUnsupported, "export %q: kind 0x%02x is not supported", name, kind)
		}
		out = append(out, r.buf[start:idxOff-r.base]...)
		out = appendU32(out, idx)
	}
	if err := endOfSection(r); err != nil {
		return nil, err
	}
	out = appendName(out, m.opt.FuelExport)
	out = append(out, 0x03)
	out = appendU32(out, m.fuelGlobal)
	return m.appendStateExports(out), nil
}

func (m *module) rewriteStart(s section) ([]byte, error) {
	r := s.reader()
	off := r.offset()
	idx, err := r.u32("start function index")
	if err != nil {
		return nil, err
	}
	if idx, err = m.remapFunc(idx, off); err != nil {
		return nil, err
	}
	return appendU32(nil, idx), endOfSection(r)
}

// rewriteElements handles all eight segment encodings: bit 0 passive or
// declarative, bit 1 explicit table index (active) or declarative, bit 2
// expressions instead of function indices.
func (m *module) rewriteElements(s section) ([]byte, error) {
	r, n, err := vecHeader(s, 2, "element segment")
	if err != nil {
		return nil, err
	}
	out := appendU32(make([]byte, 0, len(s.payload)+16), n)
	for i := uint32(0); i < n; i++ {
		if out, err = m.rewriteElement(r, out); err != nil {
			return nil, fmt.Errorf("element segment %d: %w", i, err)
		}
	}
	return out, endOfSection(r)
}

func (m *module) rewriteElement(r *reader, out []byte) ([]byte, error) {
	off := r.offset()
	start := r.pos
	flags, err := r.u32("element segment flags")
	if err != nil {
		return nil, err
	}
	if flags > 7 {
		return nil, failAt(off, ErrMalformed, "invalid element segment flags %d", flags)
	}
	active := flags&1 == 0
	if active && flags&2 != 0 {
		if _, err := r.u32("table index"); err != nil {
			return nil, err
		}
	}
	out = append(out, r.buf[start:r.pos]...)
	if active {
		if out, err = m.rewriteConstExpr(r, out); err != nil {
			return nil, fmt.Errorf("offset: %w", err)
		}
	}
	exprs := flags&4 != 0
	if flags != 0 && flags != 4 { // the elemkind or reftype byte
		off := r.offset()
		b, err := r.byte("element kind")
		if err != nil {
			return nil, err
		}
		if exprs {
			if b != valFuncref && b != valExternref {
				return nil, failAt(off, ErrUnsupported, "element reference type 0x%02x is not supported", b)
			}
		} else if b != 0x00 {
			return nil, failAt(off, ErrMalformed, "invalid element kind 0x%02x", b)
		}
		out = append(out, b)
	}
	k, err := r.count(1, "element")
	if err != nil {
		return nil, err
	}
	out = appendU32(out, k)
	for j := uint32(0); j < k; j++ {
		if exprs {
			if out, err = m.rewriteConstExpr(r, out); err != nil {
				return nil, fmt.Errorf("element %d: %w", j, err)
			}
			continue
		}
		off := r.offset()
		idx, err := r.u32("element function index")
		if err != nil {
			return nil, err
		}
		if idx, err = m.remapFunc(idx, off); err != nil {
			return nil, err
		}
		out = appendU32(out, idx)
	}
	return out, nil
}

// rewriteData checks the offset expressions of active data segments.
func (m *module) rewriteData(s section) ([]byte, error) {
	if m.mergedData != nil && uint32(len(m.mergedData)) <= m.opt.MaxDataSegments {
		return mergeData(m.mergedData), nil // constant offsets only: nothing to remap
	}
	r, n, err := vecHeader(s, 2, "data segment")
	if err != nil {
		return nil, err
	}
	if n > m.opt.MaxDataSegments {
		return nil, failAt(s.start, ErrTooLarge, "%d data segments, past the limit of %d", n, m.opt.MaxDataSegments)
	}
	out := make([]byte, 0, len(s.payload))
	out = append(out, s.payload[:r.pos]...)
	for i := uint32(0); i < n; i++ {
		off := r.offset()
		start := r.pos
		flags, err := r.u32("data segment flags")
		if err != nil {
			return nil, err
		}
		if flags > 2 {
			return nil, failAt(off, ErrMalformed, "data segment %d: invalid flags %d", i, flags)
		}
		if flags == 2 {
			if _, err := r.u32("memory index"); err != nil {
				return nil, err
			}
		}
		out = append(out, r.buf[start:r.pos]...)
		if flags != 1 {
			if out, err = m.rewriteConstExpr(r, out); err != nil {
				return nil, fmt.Errorf("data segment %d offset: %w", i, err)
			}
		}
		start = r.pos
		size, err := r.u32("data segment size")
		if err != nil {
			return nil, err
		}
		if _, err := r.bytes(uint64(size), "data segment"); err != nil {
			return nil, err
		}
		out = append(out, r.buf[start:r.pos]...)
	}
	return out, endOfSection(r)
}

// rewriteCustom drops DWARF (its code offsets would be stale), rewrites
// "name" (or drops it if malformed) and keeps everything else.
func (m *module) rewriteCustom(s section) ([]byte, error) {
	r := s.reader()
	name, err := r.name("custom section name")
	if err != nil {
		return nil, err
	}
	switch {
	case strings.HasPrefix(string(name), ".debug_"):
		return nil, nil
	case string(name) == "name":
		out := appendName(make([]byte, 0, len(s.payload)+8), "name")
		out, err := m.rewriteNames(r, out)
		if err != nil {
			// A malformed name section must not make a module invalid (the
			// spec's rule for custom sections), and one that cannot be
			// renumbered must not survive with stale indices: drop it.
			return nil, nil
		}
		return out, nil
	}
	return s.payload, nil
}
