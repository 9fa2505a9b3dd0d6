package instrument

import (
	"iter"
	"slices"
)

// Which safepoints can be left out. The guarantee to keep: every stretch of
// guest execution without a safepoint is bounded by the module's structure.
// A loop iteration passes its header's safepoint or, where that is elided,
// a call of a checked function; every cycle of direct calls contains a
// checked function; calls the rewrite cannot follow (call_indirect,
// return_call_indirect, calls of imports, which may re-enter the guest
// through its exports) are made only by checked functions. See doc.go,
// "Where safepoints go", for the bound this gives.

// maxUncheckedCost bounds the instructions one activation of an unchecked
// function may run between two safepoints, its unchecked callees included:
// without it, a chain of acyclic functions each calling the next k times
// would run k^depth calls without a safepoint.
const maxUncheckedCost = 1000

// funcInfo is what the first walk of the code records per defined function.
type funcInfo struct {
	callees []uint32 // defined functions called directly (call, return_call), one per call site, original indices
	inLoop  []int32  // per call site, the ordinal in the body of its innermost enclosing loop, or -1
	opaque  bool     // has call_indirect, return_call_indirect, or calls an import
	size    uint32   // instructions in the body
}

// called records a direct call of function idx (an original index).
func (fs *funcState) called(m *module, idx uint32) {
	if idx < m.numImportedFuncs || idx >= m.numFuncs {
		fs.info.opaque = true // an import (the host), or invalid and refused later
		return
	}
	fs.info.callees = append(fs.info.callees, idx-m.numImportedFuncs)
	fs.info.inLoop = append(fs.info.inLoop, fs.innermostLoop())
}

// innermostLoop returns the ordinal of the loop the walk is in, or -1.
func (fs *funcState) innermostLoop() int32 {
	if n := len(fs.open); n > 0 {
		return fs.open[n-1]
	}
	return -1
}

// opened records a block, loop (op) or if the walk enters.
func (fs *funcState) opened(op byte) {
	in := fs.innermostLoop()
	if op == opLoop {
		in = fs.loopOrdinal
		fs.loopOrdinal++
	}
	fs.open = append(fs.open, in)
}

// closed records the end of the innermost open block.
func (fs *funcState) closed() {
	if n := len(fs.open); n > 0 {
		fs.open = fs.open[:n-1]
	}
}

// entryCheck reports whether defined function i gets an entry safepoint.
// Before the plan exists (the first walk) every function does.
func (m *module) entryCheck(i uint32) bool {
	return m.checked == nil || m.checked[i]
}

// calleeChecked reports whether a call of function idx (original index)
// passes a safepoint: the callee is defined and has an entry check.
func (m *module) calleeChecked(idx uint32) bool {
	return m.checked != nil && idx >= m.numImportedFuncs && idx < m.numFuncs && m.checked[idx-m.numImportedFuncs]
}

// planChecks decides which defined functions get an entry safepoint, from
// m.funcs: those that make opaque calls, those on a cycle of direct calls
// among the rest (every member of a strongly connected component with more
// than one function or a self-call), and those whose cost with their
// unchecked callees would exceed maxUncheckedCost. A call inside a loop
// between two functions of one component does not count towards cycles or
// costs: that loop keeps the safepoint after its header (m.forced), which
// every path to the call passes, in every iteration.
func (m *module) planChecks() {
	n := len(m.funcs)
	checked := make([]bool, n)
	for i, f := range m.funcs {
		checked[i] = f.opaque
	}
	comp := m.components(checked)
	m.forced = make([][]int32, n)
	covered := make([][]bool, n) // per function and call site
	for v, f := range m.funcs {
		for k, w := range f.callees {
			if !checked[w] && comp[w] == comp[v] && f.inLoop[k] >= 0 && !m.opt.noLoopCover {
				if covered[v] == nil {
					covered[v] = make([]bool, len(f.callees))
				}
				covered[v][k] = true
				if l := m.forced[v]; len(l) == 0 || l[len(l)-1] != f.inLoop[k] {
					m.forced[v] = append(l, f.inLoop[k])
				}
			}
		}
		slices.Sort(m.forced[v])
		m.forced[v] = slices.Compact(m.forced[v])
	}
	// edges lists the call sites of v that count.
	edges := func(v uint32) iter.Seq[uint32] {
		return func(yield func(uint32) bool) {
			for k, w := range m.funcs[v].callees {
				if !checked[w] && (covered[v] == nil || !covered[v][k]) && !yield(w) {
					return
				}
			}
		}
	}
	// Strongly connected components over the unchecked functions, each
	// completed after every component it calls into, so costs are
	// computed callees first.
	cost := make([]uint32, n)
	sccs(n, func(v uint32) bool { return !checked[v] }, edges, func(members []uint32) {
		v := members[0]
		self := false
		for w := range edges(v) {
			self = self || w == v
		}
		if len(members) > 1 || self {
			for _, w := range members {
				checked[w] = true
			}
			return
		}
		c := uint64(m.funcs[v].size)
		for w := range edges(v) {
			if !checked[w] {
				c += uint64(cost[w])
			}
		}
		if c > maxUncheckedCost {
			checked[v] = true
			return
		}
		cost[v] = uint32(c)
	})
	m.checked = checked
}

// components numbers the strongly connected components of the direct
// calls among the functions not checked, per function (checked ones get
// their own).
func (m *module) components(checked []bool) []int32 {
	comp := make([]int32, len(m.funcs))
	ncomp := int32(0)
	edges := func(v uint32) iter.Seq[uint32] {
		return func(yield func(uint32) bool) {
			for _, w := range m.funcs[v].callees {
				if !checked[w] && !yield(w) {
					return
				}
			}
		}
	}
	sccs(len(m.funcs), func(uint32) bool { return true }, edges, func(members []uint32) {
		for _, w := range members {
			comp[w] = ncomp
		}
		ncomp++
	})
	return comp
}

// sccs is Tarjan's algorithm over vertices 0..n-1 and the edges edges
// yields, started from each unvisited vertex root accepts, in order. It
// calls done with each strongly connected component once every component
// reachable from it is done; members[0] is the component's root, and
// members is only valid during the call. edges is asked anew each time,
// so done may change what later calls yield.
func sccs(n int, root func(v uint32) bool, edges func(v uint32) iter.Seq[uint32], done func(members []uint32)) {
	index := make([]int32, n) // 0: not visited; else visit order + 1
	low := make([]int32, n)
	onStack := make([]bool, n)
	var stack []uint32
	next := int32(1)
	var visit func(v uint32)
	visit = func(v uint32) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for w := range edges(v) {
			if index[w] == 0 {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] != index[v] {
			return
		}
		top := len(stack) - 1
		for stack[top] != v {
			top--
		}
		members := stack[top:]
		stack = stack[:top]
		for _, w := range members {
			onStack[w] = false
		}
		done(members)
	}
	for v := range n {
		if index[v] == 0 && root(uint32(v)) {
			visit(uint32(v))
		}
	}
}

// forcedLoop reports whether loop ordinal l of defined function i keeps
// its safepoint whatever its body, because the plan relies on it.
func (m *module) forcedLoop(i uint32, l int32) bool {
	if m.forced == nil || int(i) >= len(m.forced) {
		return false
	}
	_, found := slices.BinarySearch(m.forced[i], l)
	return found
}

// loopCheck reports whether the loop whose body r is at (just past the
// block type) needs a safepoint after its header. It does not if every
// iteration passes one before any branch: the body, read straight on
// through blocks, reaches a call of a checked function or a nested loop
// (whose header has a safepoint, or which passes a checked call the same
// way) before any if, else, branch, return, tail call, unreachable or the
// loop's end. Anything not decodable keeps the safepoint; the walk reports
// the error.
func (m *module) loopCheck(r reader) bool {
	if m.checked == nil {
		return true
	}
	depth := 0
	for {
		off := r.offset()
		op, err := r.byte("")
		if err != nil {
			return true
		}
		imm := opImm[op]
		switch op {
		case opLoop:
			return false
		case opBlock:
			if readBlockType(&r, m.numTypes) != nil {
				return true
			}
			depth++
			continue
		case opEnd:
			if depth == 0 {
				return true
			}
			depth--
			continue
		case opIf, opElse, opBr, opBrIf, opBrTable, 0x0f, opRetCall, opRetCallInd, 0x00:
			return true
		case opCall:
			idx, err := r.u32("")
			if err != nil {
				return true
			}
			if m.calleeChecked(idx) {
				return false
			}
			continue
		}
		if imm == immPrefix {
			if _, imm, err = readSubOpcode(&r, op, off); err != nil {
				return true
			}
		}
		if imm == immInvalid || readImmediate(&r, immediateShape(imm)) != nil {
			return true
		}
	}
}

// immediateShape maps the walker's special shapes to the plain shape of
// their bytes.
func immediateShape(imm uint8) uint8 {
	switch imm {
	case immFunc, immGlobal:
		return immU32
	}
	return imm
}
