package instrument

import (
	"bytes"
	"slices"
	"testing"
)

// safepointPlan returns, per defined function of the instrumented module
// out, whether its body starts with the safepoint sp and how many
// safepoints it has in all.
func safepointPlan(t *testing.T, out, sp []byte) (entry []bool, count []int) {
	t.Helper()
	r := newReader(sectionOf(t, out, secCode), 0)
	n, err := r.u32("count")
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		size, err := r.u32("size")
		if err != nil {
			t.Fatal(err)
		}
		body, err := r.bytes(uint64(size), "body")
		if err != nil {
			t.Fatal(err)
		}
		br := newReader(body, 0)
		locals, _ := br.u32("locals")
		for range locals {
			br.u32("count")
			br.byte("type")
		}
		entry = append(entry, bytes.HasPrefix(body[br.pos:], sp))
		count = append(count, bytes.Count(body, sp))
	}
	return entry, count
}

// TestElision: each function of elide.wasm exercises one rule, where it
// applies and where it must not; with everySafepoint all are kept.
func TestElision(t *testing.T) {
	in := readTestdata(t, "elide.wasm")
	sp := encodeSafepoint(0, 1) // no globals; the yield follows env.add
	funcs := []struct {
		name          string
		entry         bool
		safepoints    int
		everyLoops    int // loops, each with a safepoint under everySafepoint
		whyEntry, why string
	}{
		{"leaf", false, 0, 0, "calls nothing", ""},
		{"self", true, 1, 0, "calls itself", ""},
		{"even", true, 1, 0, "mutual recursion", ""},
		{"odd", true, 1, 0, "mutual recursion", ""},
		{"indirect", true, 1, 0, "call_indirect", ""},
		{"viaTable", false, 0, 0, "its cycle passes the call_indirect's caller", ""},
		{"host", true, 1, 0, "calls an import", ""},
		{"loop_call", false, 0, 1, "calls only a checked function", "the loop calls a checked function before any branch"},
		{"loop_cond", false, 1, 1, "", "the call is conditional"},
		{"loop_late", false, 1, 1, "", "the call comes after a branch"},
		{"loop_leaf", false, 1, 1, "calls only a leaf", "the leaf has no safepoint"},
		{"nested", false, 1, 2, "", "the outer loop enters the inner one first"},
		{"loop_rec", false, 1, 1, "its recursive call is inside a loop", "the recursion relies on the loop's safepoint"},
		{"rec_a", false, 1, 1, "its cycle passes its loop", "the cycle relies on the loop's safepoint"},
		{"rec_b", false, 0, 0, "its cycle passes rec_a's loop", ""},
	}
	entry, count := safepointPlan(t, mustInstrument(t, in, Options{}), sp)
	everyEntry, everyCount := safepointPlan(t, mustInstrument(t, in, Options{everySafepoint: true}), sp)
	if len(entry) != len(funcs) {
		t.Fatalf("%d functions, want %d", len(entry), len(funcs))
	}
	for i, f := range funcs {
		if entry[i] != f.entry {
			t.Errorf("%s: entry safepoint %v, want %v (%s)", f.name, entry[i], f.entry, f.whyEntry)
		}
		if count[i] != f.safepoints {
			t.Errorf("%s: %d safepoints, want %d (%s)", f.name, count[i], f.safepoints, f.why)
		}
		if !everyEntry[i] || everyCount[i] != 1+f.everyLoops {
			t.Errorf("%s with every safepoint: entry %v, %d safepoints, want true, %d", f.name, everyEntry[i], everyCount[i], 1+f.everyLoops)
		}
	}
}

// chainModule returns a module of n functions of type () -> (), function i
// being pad nops and then calls calls of function i+1 (the last one only
// the nops): an acyclic call graph whose unchecked cost grows as
// calls^depth.
func chainModule(n, pad, calls int) []byte {
	b := bytes.Clone(wasmHeader)
	b = appendSection(b, secType, []byte{1, 0x60, 0, 0})
	fns := appendU32(nil, uint32(n))
	for range n {
		fns = append(fns, 0)
	}
	b = appendSection(b, secFunction, fns)
	code := appendU32(nil, uint32(n))
	for i := range n {
		body := append([]byte{0}, bytes.Repeat([]byte{0x01}, pad)...)
		if i+1 < n {
			for range calls {
				body = append(body, opCall)
				body = appendU32(body, uint32(i+1))
			}
		}
		body = append(body, opEnd)
		code = appendU32(code, uint32(len(body)))
		code = append(code, body...)
	}
	return appendSection(b, secCode, code)
}

// TestElisionCost: acyclic functions lose their entry safepoint only while
// their cost with their unchecked callees stays within maxUncheckedCost.
func TestElisionCost(t *testing.T) {
	sp := encodeSafepoint(0, 0)
	for _, tc := range []struct {
		n, pad, calls int
		want          []bool
	}{
		// Costs from the last function up (nops, calls and end): 101,
		// 305, 713: all within.
		{3, 100, 2, []bool{false, false, false}},
		// 401, 1205: the first one is over and checked.
		{2, 400, 2, []bool{true, false}},
		// 301, 905, 2113 > limit: checked, so the one above costs 303
		// again: 301, 905, checked, 303, 909, checked.
		{6, 300, 2, []bool{true, false, false, true, false, false}},
		// One function larger than the limit on its own.
		{1, maxUncheckedCost, 0, []bool{true}},
	} {
		entry, _ := safepointPlan(t, mustInstrument(t, chainModule(tc.n, tc.pad, tc.calls), Options{}), sp)
		if !slices.Equal(entry, tc.want) {
			t.Errorf("chain of %d, %d nops, %d calls: entry safepoints %v, want %v", tc.n, tc.pad, tc.calls, entry, tc.want)
		}
	}
}

// TestElisionCostCountsCopies: an unrolled loop's copies count towards its
// function's cost. One function of 800 nops and a loop of 120 nops, 925
// instructions, is within maxUncheckedCost as written; unrolled twice it
// is over, and gets an entry safepoint.
func TestElisionCostCountsCopies(t *testing.T) {
	b := bytes.Clone(wasmHeader)
	b = appendSection(b, secType, []byte{1, 0x60, 0, 0})
	b = appendSection(b, secFunction, []byte{1, 0})
	body := append([]byte{0}, bytes.Repeat([]byte{0x01}, 800)...)
	body = append(body, opLoop, blockEmpty)
	body = append(body, bytes.Repeat([]byte{0x01}, 120)...)
	body = append(body, opI32Const, 0, opBrIf, 0, opEnd, opEnd)
	code := appendU32(appendU32(nil, 1), uint32(len(body)))
	b = appendSection(b, secCode, append(code, body...))
	sp := encodeSafepoint(0, 0)
	for _, tc := range []struct {
		opt   Options
		entry bool
	}{{Options{noUnroll: true}, false}, {Options{}, true}} {
		entry, count := safepointPlan(t, mustInstrument(t, b, tc.opt), sp)
		if entry[0] != tc.entry || count[0] != 1+btoi(tc.entry) {
			t.Errorf("noUnroll=%v: entry safepoint %v, %d safepoints; want %v, %d", tc.opt.noUnroll, entry[0], count[0], tc.entry, 1+btoi(tc.entry))
		}
	}
}
