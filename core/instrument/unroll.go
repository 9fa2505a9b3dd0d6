package instrument

import "math"

// Loop unrolling. In wazero's optimizing compiler a safepoint costs about
// seven instructions: the fuel global is a load and a store through the
// module context, and the yield call in the loop makes the register
// allocator spill every loop-carried value it holds in a caller-saved
// register at each back edge. A tight loop of ten instructions pays that on
// every iteration. Unrolling a small loop k times pays it once per k
// iterations:
//
//	loop                      block $exit
//	  body                      loop $l
//	  br_if 0                     safepoint
//	end                           body  if else br $exit end   ;; k-1 times
//	                              body  br_if $l
//	                            end
//	                          end
//
// Each copy but the last turns the back edge into "continue into the next
// copy, or leave": if/else/br compiles to one test and branch, as br_if
// does (i32.eqz then br_if $exit would not be fused: five instructions).
// Any other branch to the loop goes to its header and passes the
// safepoint; branches out of the loop reach one label further (the exit
// block). Between two passes of the header each copy runs at most once, so
// every instruction of the rewritten function still runs at most once per
// stretch (doc.go, "Where safepoints go"): the bound is unchanged in terms
// of the rewritten body, whose size the elision plan counts.
//
// Only loops without nested loops and calls are unrolled (their header
// keeps its safepoint whatever the plan), whose block type is empty (a
// copy must leave the stack as it found it), whose body ends with br_if 0,
// and only while k copies stay within unrollBudget instructions.

const (
	// maxUnroll is the most copies of a loop body.
	maxUnroll = 4
	// unrollBudget bounds the instructions of a loop's copies together.
	unrollBudget = 64
)

// unrollFactor reports how many copies of the loop whose body r is at
// (just past an empty block type) to write, and the buffer position of its
// final br_if 0; 1 leaves the loop as it is. Anything not decodable leaves
// it too; the walk reports the error.
func (m *module) unrollFactor(r reader) (k, stop int) {
	if m.opt.everySafepoint || m.opt.noUnroll {
		return 1, 0
	}
	depth, size, last := 0, 0, -1
	for {
		pos := r.pos
		off := r.offset()
		op, err := r.byte("")
		if err != nil {
			return 1, 0
		}
		if depth == 0 && op != opEnd {
			last = pos // the loop's own end is not its body's last instruction
		}
		imm := opImm[op]
		switch op {
		case opLoop, opCall, opCallInd, opRetCall, opRetCallInd:
			return 1, 0
		case opBlock, opIf:
			if readBlockType(&r, m.numTypes) != nil {
				return 1, 0
			}
			depth++
			size++
			continue
		case opEnd:
			if depth > 0 {
				depth--
				size++
				continue
			}
			return unrollCopies(r, last, size)
		}
		if imm == immPrefix {
			var sub uint32
			if sub, imm, err = readSubOpcode(&r, op, off); err != nil {
				return 1, 0
			}
			if op == opPrefixAtom && (sub == atomWait32 || sub == atomWait64) {
				return 1, 0 // may become a call
			}
		}
		if imm == immInvalid || readImmediate(&r, immediateShape(imm)) != nil {
			return 1, 0
		}
		size++
	}
}

// unrollCopies decides the copies of a loop body of size instructions
// whose last instruction at its top level starts at buffer position last,
// given r's buffer.
func unrollCopies(r reader, last, size int) (int, int) {
	if last < 0 || r.buf[last] != opBrIf {
		return 1, 0
	}
	lr := r
	lr.pos = last + 1
	if label, err := lr.u32(""); err != nil || label != 0 {
		return 1, 0
	}
	k := min(maxUnroll, unrollBudget/size)
	if k < 2 {
		return 1, 0
	}
	return k, last
}

// unroll writes the loop whose opcode is at r.buf[start] (r just past its
// block type) as k copies of its body (see the top of this file); stop is
// the buffer position of the body's final br_if 0. r ends past the loop's
// end.
func (m *module) unroll(r *reader, out []byte, fs *funcState, start, k, stop int) ([]byte, error) {
	out = append(out, opBlock, blockEmpty)
	out = append(out, r.buf[start:r.pos]...)
	out = append(out, m.safepoint...)
	loop := fs.labels
	fs.insertLabels(loop, 1)   // the exit block
	fs.insertLabels(loop+1, 1) // the safepoint's if
	body := *r
	var err error
	for j := range k {
		*r = body
		fs.labels = loop + 1
		fs.unrolling, fs.stop = true, stop
		out, err = m.walk(r, out, fs)
		fs.unrolling = false
		if err != nil {
			return nil, err
		}
		if j < k-1 {
			out = append(out, opIf, blockEmpty, opElse, opBr, 2, opEnd)
			fs.info.size += 4
		}
	}
	// Copies 2..k: their labels and the k-1 ifs follow the first copy's.
	fs.insertLabels(fs.labels, uint32(k-1)*(fs.labels-loop-1+1))
	if _, err := r.byte("br_if"); err != nil {
		return nil, err
	}
	if _, err := r.u32("br_if label"); err != nil {
		return nil, err
	}
	if op, err := r.byte("loop end"); err != nil || op != opEnd {
		return nil, r.fail(ErrMalformed, "internal: unrolled loop does not end after its br_if")
	}
	fs.info.size += 2
	out = append(out, r.buf[stop:r.pos]...)
	return append(out, opEnd), nil
}

// shiftBranch copies a br, br_if or br_table (op, already read) from a copy
// of an unrolled loop's body at depth blocks inside it: a label past the
// loop (above depth) reaches one further, past the exit block.
func shiftBranch(r *reader, out []byte, op byte, depth int) ([]byte, error) {
	n := uint32(0)
	out = append(out, op)
	if op == opBrTable {
		var err error
		if n, err = r.count(1, "br_table label"); err != nil {
			return nil, err
		}
		out = appendU32(out, n)
	}
	for range uint64(n) + 1 { // br_table: n labels and the default
		off := r.offset()
		label, err := r.u32("branch label")
		if err != nil {
			return nil, err
		}
		if label > uint32(depth) {
			if label == math.MaxUint32 {
				return nil, failAt(off, ErrMalformed, "branch label %d out of range", label)
			}
			label++
		}
		out = appendU32(out, label)
	}
	return out, nil
}
