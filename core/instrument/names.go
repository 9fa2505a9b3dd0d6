package instrument

import (
	"fmt"
	"sort"
)

// Name subsections the rewrite looks into.
const (
	nameModule    = 0 // the module's name
	nameFunctions = 1 // name_map: func -> name
	nameLocals    = 2 // indirect name_map: func -> local -> name
	nameLabels    = 3 // indirect name_map: func -> label -> name
	nameData      = 9 // name_map: data segment -> name
)

// rewriteNames renumbers the function keys of subsections 1-3 (and the label
// keys of 3, since safepoints add blocks), checks subsection 0 and copies the
// rest verbatim. r is positioned after the section's name, which out already
// holds. Any error means the section is malformed.
func (m *module) rewriteNames(r *reader, out []byte) ([]byte, error) {
	var content []byte
	for !r.done() {
		id, _ := r.byte("name subsection id")
		size, err := r.u32("name subsection size")
		if err != nil {
			return nil, err
		}
		base := r.offset()
		b, err := r.bytes(uint64(size), "name subsection")
		if err != nil {
			return nil, err
		}
		sr := newReader(b, base)
		switch id {
		case nameModule:
			// Exactly one name; some decoders ignore the subsection size
			// here, so anything else would be read differently by them.
			_, err = sr.name("module name")
			content = append(content[:0], b...)
		case nameFunctions:
			content, err = m.rewriteNameMap(sr, content[:0], nil)
		case nameLocals, nameLabels:
			content, err = m.rewriteIndirectNameMap(sr, content[:0], id == nameLabels)
		case nameData:
			if m.mergedData != nil {
				continue // the segments it names were merged
			}
			content, sr.pos = append(content[:0], b...), len(b)
		default:
			content, sr.pos = append(content[:0], b...), len(b)
		}
		if err == nil && !sr.done() {
			err = sr.fail(ErrMalformed, "%d trailing bytes", sr.remaining())
		}
		if err != nil {
			return nil, fmt.Errorf("name subsection %d: %w", id, err)
		}
		out = append(out, id)
		out = appendU32(out, uint32(len(content)))
		out = append(out, content...)
	}
	return out, nil
}

// rewriteNameMap copies a name_map, mapping each key through remap (nil:
// function index remapping).
func (m *module) rewriteNameMap(r *reader, out []byte, remap func(uint32, int) (uint32, error)) ([]byte, error) {
	if remap == nil {
		remap = m.remapNamedFunc
	}
	n, err := r.count(2, "name")
	if err != nil {
		return nil, err
	}
	out = appendU32(out, n)
	for i := uint32(0); i < n; i++ {
		off := r.offset()
		idx, err := r.u32("name index")
		if err != nil {
			return nil, err
		}
		if idx, err = remap(idx, off); err != nil {
			return nil, err
		}
		start := r.pos
		if _, err := r.name("name"); err != nil {
			return nil, err
		}
		out = appendU32(out, idx)
		out = append(out, r.buf[start:r.pos]...)
	}
	return out, nil
}

// rewriteIndirectNameMap remaps the outer function keys; inner keys are
// local indices (unchanged) or function label indices (shifted past the
// safepoint blocks inserted before them).
func (m *module) rewriteIndirectNameMap(r *reader, out []byte, labels bool) ([]byte, error) {
	n, err := r.count(2, "function")
	if err != nil {
		return nil, err
	}
	out = appendU32(out, n)
	for i := uint32(0); i < n; i++ {
		off := r.offset()
		fn, err := r.u32("function index")
		if err != nil {
			return nil, err
		}
		newFn, err := m.remapNamedFunc(fn, off)
		if err != nil {
			return nil, err
		}
		out = appendU32(out, newFn)
		inner := func(idx uint32, _ int) (uint32, error) { return idx, nil }
		if labels {
			inner = m.labelRemapper(fn)
		}
		if out, err = m.rewriteNameMap(r, out, inner); err != nil {
			return nil, fmt.Errorf("function %d: %w", fn, err)
		}
	}
	return out, nil
}

// remapNamedFunc is remapFunc without the range check: a name for a
// function that does not exist is harmless, so only wrap-around is refused.
func (m *module) remapNamedFunc(idx uint32, off int) (uint32, error) {
	if idx < m.numImportedFuncs {
		return idx, nil
	}
	if idx > ^uint32(0)-m.added {
		return 0, failAt(off, ErrMalformed, "function index %d out of range", idx)
	}
	return idx + m.added, nil
}

// labelRemapper returns the renumbering of function fn's label indices: an
// entry safepoint adds one block before every label, each loop's safepoint
// one more before every later label, and an unrolled loop its exit block,
// its safepoint and the labels of its body's further copies.
func (m *module) labelRemapper(fn uint32) func(uint32, int) (uint32, error) {
	var inserts []labelInsert
	entry := uint64(1)
	if fn >= m.numImportedFuncs && fn-m.numImportedFuncs < uint32(len(m.loopLabels)) {
		inserts = m.loopLabels[fn-m.numImportedFuncs]
		if !m.entryCheck(fn - m.numImportedFuncs) {
			entry = 0
		}
	}
	return func(label uint32, off int) (uint32, error) {
		v := uint64(label) + entry
		if k := sort.Search(len(inserts), func(i int) bool { return inserts[i].at > label }); k > 0 {
			v += uint64(inserts[k-1].total)
		}
		if v > uint64(^uint32(0)) {
			return 0, failAt(off, ErrMalformed, "label index %d out of range", label)
		}
		return uint32(v), nil
	}
}
