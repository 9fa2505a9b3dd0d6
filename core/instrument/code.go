package instrument

import (
	"fmt"
	"math"
	"slices"
)

// Opcodes the walker treats specially or emits.
const (
	opBlock      = 0x02
	opLoop       = 0x03
	opIf         = 0x04
	opElse       = 0x05
	opEnd        = 0x0b
	opBr         = 0x0c
	opBrIf       = 0x0d
	opBrTable    = 0x0e
	opCall       = 0x10
	opCallInd    = 0x11
	opRetCall    = 0x12
	opRetCallInd = 0x13
	opDrop       = 0x1a
	opSelectT    = 0x1c
	opGlobalGet  = 0x23
	opGlobalSet  = 0x24
	opI32Const   = 0x41
	opI64Const   = 0x42
	opF32Const   = 0x43
	opF64Const   = 0x44
	opI32Sub     = 0x6b
	opRefNull    = 0xd0
	opRefFunc    = 0xd2
	opPrefixFC   = 0xfc // saturating conversions, bulk memory, tables
	opPrefixSIMD = 0xfd
	opPrefixAtom = 0xfe // threads
)

// Sub-opcodes of opPrefixAtom that rewriteWait reads or emits.
const (
	atomWait32  = 0x01
	atomWait64  = 0x02
	atomI32Load = 0x10
	atomI64Load = 0x11
)

// Immediate shapes.
const (
	immNone    = iota
	immInvalid // unassigned or unsupported opcode
	immU32     // one index
	immU32x2   // two indices
	immMemarg
	immMemargLane // memarg then a lane byte
	immLane       // one lane byte
	immBytes16    // v128.const, i8x16.shuffle
	immBrTable
	immSelectT
	immBlock
	immI32
	immI64
	immF32
	immF64
	immHeapType
	immFence // atomic.fence: one reserved 0x00 byte
	immFunc  // function index: remapped
	immGlobal
	immPrefix
)

// Immediate shapes of the one-byte opcodes.
var opImm = func() (t [256]uint8) {
	for i := range t {
		t[i] = immInvalid
	}
	set := func(lo, hi int, k uint8) {
		for i := lo; i <= hi; i++ {
			t[i] = k
		}
	}
	// 0x06-0x0a, 0x18, 0x19, 0x1f: exception handling; 0x14, 0x15,
	// 0xd3-0xd6: typed function references; 0xfb: GC. All stay invalid.
	set(0x00, 0x01, immNone) // unreachable, nop
	set(0x02, 0x04, immBlock)
	t[opElse] = immNone
	t[opEnd] = immNone
	set(opBr, opBrIf, immU32)
	t[opBrTable] = immBrTable
	t[0x0f] = immNone // return
	t[opCall] = immFunc
	t[opCallInd] = immU32x2 // type, table
	t[opRetCall] = immFunc
	t[opRetCallInd] = immU32x2
	set(0x1a, 0x1b, immNone) // drop, select
	t[opSelectT] = immSelectT
	set(0x20, 0x22, immU32) // local.get/set/tee
	set(opGlobalGet, opGlobalSet, immGlobal)
	set(0x25, 0x26, immU32)    // table.get/set
	set(0x28, 0x3e, immMemarg) // loads and stores
	set(0x3f, 0x40, immU32)    // memory.size/grow: memory index
	t[opI32Const] = immI32
	t[opI64Const] = immI64
	t[opF32Const] = immF32
	t[opF64Const] = immF64
	set(0x45, 0xc4, immNone) // numeric, including sign extension 0xc0-0xc4
	t[opRefNull] = immHeapType
	t[0xd1] = immNone // ref.is_null
	t[opRefFunc] = immFunc
	set(opPrefixFC, opPrefixAtom, immPrefix)
	return t
}()

// Immediate shapes of 0xfc sub-opcodes 0..17.
var fcImm = [...]uint8{
	0: immNone, 1: immNone, 2: immNone, 3: immNone, // trunc_sat
	4: immNone, 5: immNone, 6: immNone, 7: immNone,
	8:  immU32x2, // memory.init data, memory
	9:  immU32,   // data.drop
	10: immU32x2, // memory.copy dst, src
	11: immU32,   // memory.fill
	12: immU32x2, // table.init elem, table
	13: immU32,   // elem.drop
	14: immU32x2, // table.copy
	15: immU32,   // table.grow
	16: immU32,   // table.size
	17: immU32,   // table.fill
}

// Immediate shapes of 0xfd (SIMD) sub-opcodes, per the final SIMD proposal;
// holes in the numbering are invalid, as is everything past 255 (relaxed
// SIMD).
var simdImm = func() (t [256]uint8) {
	set := func(lo, hi int, k uint8) {
		for i := lo; i <= hi; i++ {
			t[i] = k
		}
	}
	set(0, 11, immMemarg) // v128.load* and v128.store
	t[12] = immBytes16    // v128.const
	t[13] = immBytes16    // i8x16.shuffle
	set(21, 34, immLane)  // extract/replace lane
	set(84, 91, immMemargLane)
	set(92, 93, immMemarg) // v128.load32_zero, v128.load64_zero
	for _, op := range []int{0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4,
		0xbb, 0xc2, 0xc5, 0xc6, 0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2, 0xee} {
		t[op] = immInvalid
	}
	return t
}()

// atomicImm gives the immediate shape of a 0xfe sub-opcode.
func atomicImm(sub uint32) uint8 {
	switch {
	case sub <= 0x02: // memory.atomic.notify, wait32, wait64
		return immMemarg
	case sub == 0x03:
		return immFence
	case sub >= 0x10 && sub <= 0x4e: // atomic loads, stores, rmw, cmpxchg
		return immMemarg
	}
	return immInvalid
}

// rewriteCode instruments every function body.
func (m *module) rewriteCode(s section) ([]byte, error) {
	r, n, err := vecHeader(s, 2, "function body")
	if err != nil {
		return nil, err
	}
	out := appendU32(make([]byte, 0, len(s.payload)+len(s.payload)/4+16), n)
	var body []byte // reused across functions
	var fs funcState
	if m.trackLabels {
		m.loopLabels = make([][]uint32, n)
	}
	for i := uint32(0); i < n; i++ {
		fn := m.numImportedFuncs + i
		size, err := r.u32("function body size")
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", fn, err)
		}
		base := r.offset()
		b, err := r.bytes(uint64(size), "function body")
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", fn, err)
		}
		fs = funcState{loops: fs.loops[:0], info: funcInfo{callees: fs.info.callees[:0]}}
		if body, err = m.rewriteBody(newReader(b, base), body[:0], &fs, m.entryCheck(i)); err != nil {
			return nil, fmt.Errorf("function %d: %w", fn, err)
		}
		if m.funcs != nil {
			m.funcs[i] = funcInfo{callees: slices.Clone(fs.info.callees), opaque: fs.info.opaque, size: fs.info.size}
		}
		if m.trackLabels && len(fs.loops) > 0 {
			m.loopLabels[i] = append([]uint32(nil), fs.loops...)
		}
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	return out, endOfSection(r)
}

// rewriteBody copies the locals, inserts the entry safepoint if entry is set
// and walks the instructions, which must end exactly at the end of the body.
func (m *module) rewriteBody(r *reader, out []byte, fs *funcState, entry bool) ([]byte, error) {
	n, err := r.count(2, "local declaration")
	if err != nil {
		return nil, err
	}
	var locals uint64
	for i := uint32(0); i < n; i++ {
		off := r.offset()
		c, err := r.u32("local count")
		if err != nil {
			return nil, err
		}
		if locals += uint64(c); locals > uint64(m.opt.MaxLocals) {
			return nil, failAt(off, ErrTooLarge, "%d locals or more declared, past the limit of %d", locals, m.opt.MaxLocals)
		}
		if err := readValType(r); err != nil {
			return nil, err
		}
	}
	out = append(out, r.buf[:r.pos]...)
	if entry {
		out = append(out, m.safepoint...)
	}
	if out, err = m.walk(r, out, fs); err != nil {
		return nil, err
	}
	if !r.done() {
		return nil, r.fail(ErrMalformed, "%d bytes after the final end of the body", r.remaining())
	}
	return out, nil
}

// rewriteConstExpr walks a constant expression (global initializer, element
// or data offset, element item). Validity of the instructions used is the
// engine's concern; here only indices matter.
func (m *module) rewriteConstExpr(r *reader, out []byte) ([]byte, error) {
	return m.walk(r, out, nil)
}

// funcState follows the structured instructions of a function body so that
// label names can be renumbered around the inserted safepoint blocks, and
// records what the entry checks are planned from (elide.go).
type funcState struct {
	labels uint32   // block, loop and if seen so far
	loops  []uint32 // function label indices of the loops with a safepoint, ascending
	info   funcInfo
}

// walk decodes instructions up to and including the end that closes the
// expression, appending them to out with function indices remapped, global
// indices checked and, in function bodies, a safepoint after every loop
// header. fs is nil for constant expressions, which get no safepoints.
// Every immediate is decoded rather than skipped by pattern, since any byte
// value, 0x03 included, can occur inside an immediate.
func (m *module) walk(r *reader, out []byte, fs *funcState) ([]byte, error) {
	depth := 0
	for {
		start := r.pos
		off := r.offset()
		op, err := r.byte("expression: missing end")
		if err != nil {
			return nil, err
		}
		if fs != nil {
			fs.info.size++
			m.noteState(op, 0, off)
			if op == opCallInd || op == opRetCallInd {
				fs.info.opaque = true
			}
		}
		if op == opCallInd || op == opRetCallInd {
			// The appended types follow the module's own: an index past
			// them must stay invalid, not land on the yield's type.
			peek := *r
			if ti, err := peek.u32("type index"); err == nil && ti >= m.numTypes {
				return nil, failAt(r.offset(), ErrMalformed, "call_indirect: type index %d out of range (module has %d types)", ti, m.numTypes)
			}
		}
		switch opImm[op] {
		case immInvalid:
			return nil, failAt(off, ErrUnknownOpcode, "unknown or unsupported opcode 0x%02x", op)
		case immNone:
			if op == opEnd {
				if depth == 0 {
					return append(out, op), nil
				}
				depth--
			}
		case immBlock:
			if err := readBlockType(r, m.numTypes); err != nil {
				return nil, err
			}
			depth++
			if fs != nil {
				if op == opLoop && m.loopCheck(*r) {
					fs.loops = append(fs.loops, fs.labels)
					out = append(out, r.buf[start:r.pos]...)
					out = append(out, m.safepoint...)
					fs.labels++
					continue
				}
				fs.labels++
			}
		case immFunc:
			idxOff := r.offset()
			idx, err := r.u32("function index")
			if err != nil {
				return nil, err
			}
			if fs != nil && (op == opCall || op == opRetCall) {
				fs.called(m, idx)
			}
			if idx, err = m.remapFunc(idx, idxOff); err != nil {
				return nil, err
			}
			out = append(out, op)
			out = appendU32(out, idx)
			continue
		case immGlobal:
			idxOff := r.offset()
			idx, err := r.u32("global index")
			if err != nil {
				return nil, err
			}
			if err := m.checkGlobal(idx, idxOff); err != nil {
				return nil, err
			}
		case immPrefix:
			sub, imm, err := readSubOpcode(r, op, off)
			if err != nil {
				return nil, err
			}
			if fs != nil {
				m.noteState(op, sub, off)
			}
			if op == opPrefixAtom && (sub == atomWait32 || sub == atomWait64) && fs != nil {
				if out, err = m.rewriteWait(r, out, start, sub); err != nil {
					return nil, err
				}
				continue
			}
			if err := readImmediate(r, imm); err != nil {
				return nil, err
			}
		default:
			if err := readImmediate(r, opImm[op]); err != nil {
				return nil, err
			}
		}
		out = append(out, r.buf[start:r.pos]...)
	}
}

// readSubOpcode reads the sub-opcode after prefix op (at module offset off)
// and returns it with the shape of its immediate.
func readSubOpcode(r *reader, op byte, off int) (uint32, uint8, error) {
	sub, err := r.u32("sub-opcode")
	if err != nil {
		return 0, immInvalid, err
	}
	imm := uint8(immInvalid)
	switch op {
	case opPrefixFC:
		if sub < uint32(len(fcImm)) {
			imm = fcImm[sub]
		}
	case opPrefixSIMD:
		if sub < uint32(len(simdImm)) {
			imm = simdImm[sub]
		}
	case opPrefixAtom:
		imm = atomicImm(sub)
	}
	if imm == immInvalid {
		return 0, imm, failAt(off, ErrUnknownOpcode, "unknown or unsupported opcode 0x%02x %d", op, sub)
	}
	return sub, imm, nil
}

// rewriteWait copies memory.atomic.wait32/64 (sub), whose opcode starts at
// r.buf[start] and whose memarg is next, or, if it waits on a shared
// memory, replaces it with
//
//	i32.const offset
//	call $waitN        ;; (addr, expected, timeout, offset) -> (result, addr)
//	iN.atomic.load memarg
//	drop
//
// A sandbox is one agent, so no notify can ever come and the value cannot
// change while it waits: the host implements the wait exactly, and can give
// up its worker and be killed while it waits, which a wait inside compiled
// code cannot. The host returns the address it got; the atomic load of the
// same width with the same memarg then traps exactly where the wait would
// have (out of bounds, then unaligned), with the engine's own trap, and is
// validated like it (alignment, offset width, memory index). The host
// neither reads nor waits when the access is out of bounds or unaligned.
//
// A wait on an unshared memory is copied: it traps before it could block.
func (m *module) rewriteWait(r *reader, out []byte, start int, sub uint32) ([]byte, error) {
	argStart, off := r.pos, r.offset()
	mem, offset, err := readMemarg(r)
	if err != nil {
		return nil, err
	}
	if mem >= uint32(len(m.sharedMem)) || !m.sharedMem[mem] {
		return append(out, r.buf[start:r.pos]...), nil
	}
	if mem != 0 {
		return nil, failAt(off, ErrUnsupported, "memory.atomic.wait on shared memory %d: the host can only wait on memory 0", mem)
	}
	if offset > math.MaxUint32 {
		return nil, failAt(off, ErrMalformed, "memarg offset %d does not fit a 32-bit memory", offset)
	}
	k := sub - atomWait32
	m.waits[k] = true
	out = append(out, opI32Const)
	out = appendS32(out, int32(uint32(offset)))
	out = append(out, opCall)
	out = appendU32(out, m.waitFunc[k])
	out = append(out, opPrefixAtom, [2]byte{atomI32Load, atomI64Load}[k])
	out = append(out, r.buf[argStart:r.pos]...)
	return append(out, opDrop), nil
}

// readImmediate consumes an immediate of the given shape.
func readImmediate(r *reader, imm uint8) error {
	var err error
	switch imm {
	case immNone:
	case immU32:
		_, err = r.u32("index")
	case immU32x2:
		if _, err = r.u32("index"); err == nil {
			_, err = r.u32("index")
		}
	case immMemarg:
		_, _, err = readMemarg(r)
	case immMemargLane:
		if _, _, err = readMemarg(r); err == nil {
			_, err = r.byte("lane index")
		}
	case immLane:
		_, err = r.byte("lane index")
	case immBytes16:
		_, err = r.bytes(16, "16-byte immediate")
	case immBrTable:
		var n uint32
		if n, err = r.count(1, "br_table label"); err != nil {
			return err
		}
		for i := uint32(0); i <= n && err == nil; i++ { // n labels + default
			_, err = r.u32("br_table label")
		}
	case immSelectT:
		var n uint32
		if n, err = r.count(1, "select type"); err != nil {
			return err
		}
		for i := uint32(0); i < n && err == nil; i++ {
			err = readValType(r)
		}
	case immI32:
		_, err = r.sleb(32, "i32.const")
	case immI64:
		_, err = r.sleb(64, "i64.const")
	case immF32:
		_, err = r.bytes(4, "f32.const")
	case immF64:
		_, err = r.bytes(8, "f64.const")
	case immHeapType:
		off := r.offset()
		var b byte
		if b, err = r.byte("heap type"); err == nil && b != valFuncref && b != valExternref {
			err = failAt(off, ErrUnsupported, "heap type 0x%02x is not supported", b)
		}
	case immFence:
		off := r.offset()
		var b byte
		if b, err = r.byte("atomic.fence flags"); err == nil && b != 0 {
			err = failAt(off, ErrMalformed, "atomic.fence flags must be 0, got 0x%02x", b)
		}
	default: // unreachable given the tables above; an error, not a panic
		err = r.fail(ErrUnknownOpcode, "internal: no decoder for immediate shape %d", imm)
	}
	return err
}

// readMemarg reads alignment (bit 6 flags a following memory index, as in
// multi-memory) and offset (u64 to cover memory64 encodings), and returns
// the memory index (0 if none is given) and the offset.
func readMemarg(r *reader) (mem uint32, offset uint64, err error) {
	align, err := r.u32("memarg alignment")
	if err != nil {
		return 0, 0, err
	}
	if align&0x40 != 0 {
		if mem, err = r.u32("memarg memory index"); err != nil {
			return 0, 0, err
		}
	}
	offset, err = r.uleb(64, "memarg offset")
	return mem, offset, err
}

// readBlockType reads an empty block type, a value type, or a non-negative
// s33 type index, which must be one of the module's types.
func readBlockType(r *reader, types uint32) error {
	off := r.offset()
	if r.done() {
		return r.truncated("block type")
	}
	switch r.buf[r.pos] {
	case blockEmpty, valI32, valI64, valF32, valF64, valV128, valFuncref, valExternref:
		r.pos++
		return nil
	}
	v, err := r.sleb(33, "block type")
	if err != nil {
		return err
	}
	if v < 0 {
		return failAt(off, ErrUnsupported, "block type 0x%02x is not supported", r.buf[off-r.base])
	}
	if v >= int64(types) {
		return failAt(off, ErrMalformed, "block type index %d out of range (module has %d types)", v, types)
	}
	return nil
}
