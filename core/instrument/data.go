package instrument

import (
	"cmp"
	"slices"
)

// Data segments are merged at instrument time. A runtime evaluates every
// segment's offset expression and copies it on every instantiation; a Go
// wasip1 binary has tens of thousands of small segments (its linker splits
// the data image at every run of zeros), and in wazero evaluating them
// was about half of each instance's start. Merged into runs, the same
// bytes are copied in a few hundred segments.
//
// The merge is exact only under conditions checked here: every segment is
// active on memory 0 at a constant i32 offset, and no two overlap, so the
// order they are applied in does not matter and the gaps between them
// hold what a fresh memory holds — zeros. There is no data count section, so no memory.init or data.drop
// names a segment index (their validation needs one); a name section's
// data names (subsection 9) are dropped, as they would name old indices.
// Whether instantiation traps is unchanged: a segment is out of bounds
// exactly when the end of the run that holds it is.

const (
	// mergeMinSegments: below this, the module is left as it is.
	mergeMinSegments = 64
	// mergeMaxGap is the largest run of zeros written out to join two
	// segments; copying it costs about what one more segment costs.
	mergeMaxGap = 4096
)

// dataSegment is an active segment at a constant offset of memory 0.
type dataSegment struct {
	offset uint32
	data   []byte
}

// mergeableData parses a data section payload and returns its segments if
// they can be merged exactly (see above) and are numerous enough to be
// worth it.
func mergeableData(payload []byte) ([]dataSegment, bool) {
	r := newReader(payload, 0)
	n, err := r.count(2, "data segment")
	if err != nil || n < mergeMinSegments {
		return nil, false
	}
	segs := make([]dataSegment, 0, n)
	for range n {
		flags, err := r.u32("flags")
		if err != nil || flags == 1 || flags > 2 {
			return nil, false // passive, or malformed: left to the rewrite
		}
		if flags == 2 {
			if mem, err := r.u32("memory index"); err != nil || mem != 0 {
				return nil, false
			}
		}
		if op, err := r.byte("opcode"); err != nil || op != 0x41 { // i32.const
			return nil, false
		}
		off, err := r.sleb(32, "offset")
		if err != nil {
			return nil, false
		}
		if op, err := r.byte("end"); err != nil || op != 0x0b {
			return nil, false
		}
		size, err := r.u32("size")
		if err != nil {
			return nil, false
		}
		data, err := r.bytes(uint64(size), "data")
		if err != nil {
			return nil, false
		}
		segs = append(segs, dataSegment{offset: uint32(int32(off)), data: data})
	}
	if !r.done() {
		return nil, false
	}
	// Disjoint segments may be applied in any order: sort them by offset
	// (Go's linker emits its data sections out of address order).
	slices.SortStableFunc(segs, func(a, b dataSegment) int { return cmp.Compare(a.offset, b.offset) })
	end := uint64(0)
	for _, s := range segs {
		if uint64(s.offset) < end {
			return nil, false // overlapping: a later segment overwrites an earlier one
		}
		end = uint64(s.offset) + uint64(len(s.data))
	}
	return segs, true
}

// mergeData returns the data section payload holding segs joined wherever
// the gap between two is at most mergeMaxGap bytes of zeros.
func mergeData(segs []dataSegment) []byte {
	var runs []dataSegment
	for _, s := range segs {
		if k := len(runs) - 1; k >= 0 {
			last := &runs[k]
			if end := uint64(last.offset) + uint64(len(last.data)); uint64(s.offset)-end <= mergeMaxGap {
				last.data = append(last.data, make([]byte, uint64(s.offset)-end)...)
				last.data = append(last.data, s.data...)
				continue
			}
		}
		runs = append(runs, dataSegment{offset: s.offset, data: slices.Clone(s.data)})
	}
	out := appendU32(nil, uint32(len(runs)))
	for _, s := range runs {
		out = append(out, 0, 0x41) // active, memory 0; i32.const
		out = appendS32(out, int32(s.offset))
		out = append(out, 0x0b)
		out = appendU32(out, uint32(len(s.data)))
		out = append(out, s.data...)
	}
	return out
}
