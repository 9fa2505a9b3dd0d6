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
//	loop              block $exit
//	  body              loop $l
//	end                   safepoint
//	                      block $next  body  br $exit  end   ;; k-1 times
//	                      body
//	                    end
//	                  end
//
// In each copy but the last, a branch back to the loop (the back edge,
// wherever the compiler put it) continues into the next copy: it branches
// to the end of the copy's block, a label at the same depth, so the same
// label index; falling off the copy's end leaves the loop as falling off
// the original body did. Branches out of the loop reach two labels further
// (one in the last copy, where a branch back goes to the header and its
// safepoint). A branch costs what it did (br_if to the next copy is one
// test and jump; the br $exit runs once, on the way out). Between two
// passes of the header each copy runs at most once, so every instruction
// of the rewritten function still runs at most once per stretch (doc.go,
// "Where safepoints go"): the bound is unchanged in terms of the rewritten
// body, whose size the elision plan counts.
//
// Only loops that keep their safepoint are unrolled (one whose every
// iteration passes a checked call gains nothing), without nested loops (a
// loop inside would be copied k times, and loops nested that way k^depth),
// tail calls or waits (which become host calls), whose block type is
// empty (a copy must leave the stack as it found it), and only while k
// copies stay within unrollBudget instructions. Calls are allowed: one to
// a checked function ends the stretch, one to an unchecked function costs
// what the plan counts, per call site, copies included. Whether a loop
// qualifies does not depend on the plan except through its safepoint, and
// the first walk, which the plan is made from, keeps every safepoint: so
// it unrolls at least what the second does, and the sizes and call sites
// the plan counts are never fewer than those written.

const (
	// maxUnroll is the most copies of a loop body.
	maxUnroll = 8
	// unrollBudget bounds the instructions of a loop's copies together.
	unrollBudget = 256
)

// unrollFactor reports how many copies of the loop whose body r is at
// (just past an empty block type) to write, and the buffer position of its
// end; 1 leaves the loop as it is. Anything not decodable leaves
// it too; the walk reports the error.
func (m *module) unrollFactor(r reader) (k, stop int) {
	if m.opt.everySafepoint || m.opt.noUnroll {
		return 1, 0
	}
	depth, size := 0, 0
	for {
		pos := r.pos
		off := r.offset()
		op, err := r.byte("")
		if err != nil {
			return 1, 0
		}
		imm := opImm[op]
		switch op {
		case opLoop, opRetCall, opRetCallInd:
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
			if size == 0 {
				return 1, 0
			}
			if k = min(maxUnroll, unrollBudget/size); k < 2 {
				return 1, 0
			}
			return k, pos
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
		if size++; size > unrollBudget/2 {
			return 1, 0 // fewer than 2 copies fit
		}
	}
}

// unroll writes the loop whose opcode is at r.buf[start] (r just past its
// block type) as k copies of its body (see the top of this file); stop is
// the buffer position of the loop's end. r ends past it.
func (m *module) unroll(r *reader, out []byte, fs *funcState, start, k, stop int) ([]byte, error) {
	out = append(out, opBlock, blockEmpty)
	out = append(out, r.buf[start:r.pos]...)
	out = append(out, m.safepoint...)
	loop := fs.labels
	fs.insertLabels(loop, 1)   // the exit block
	fs.insertLabels(loop+1, 2) // the safepoint's if, the first copy's block
	body := *r
	var err error
	for j := range k {
		*r = body
		fs.labels = loop + 1
		fs.unrolling, fs.stop, fs.shift = true, stop, 2
		if j == k-1 {
			fs.shift = 1
		} else {
			out = append(out, opBlock, blockEmpty)
		}
		out, err = m.walk(r, out, fs)
		fs.unrolling = false
		if err != nil {
			return nil, err
		}
		if j < k-1 {
			out = append(out, opBr, 2, opEnd)
			fs.info.size += 3
		}
	}
	// The later copies' labels and blocks follow the first copy's.
	c := fs.labels - loop - 1
	fs.insertLabels(fs.labels, uint32(k-1)*c+uint32(k-2))
	if op, err := r.byte("loop end"); err != nil || op != opEnd {
		return nil, r.fail(ErrMalformed, "internal: unrolled loop does not end where its scan did")
	}
	fs.info.size++
	fs.closed()
	return append(out, opEnd, opEnd), nil
}

// shiftBranch copies a br, br_if or br_table (op, already read) from a copy
// of an unrolled loop's body at depth blocks inside it: a label past the
// loop (above depth) reaches shift further, past the exit block and the
// copy's own.
func shiftBranch(r *reader, out []byte, op byte, depth int, shift uint32) ([]byte, error) {
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
			if label > math.MaxUint32-shift {
				return nil, failAt(off, ErrMalformed, "branch label %d out of range", label)
			}
			label += shift
		}
		out = appendU32(out, label)
	}
	return out, nil
}
