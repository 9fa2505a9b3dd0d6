package instrument

import (
	"fmt"
	"strconv"
)

// Exported state, for a host that snapshots an instance and restores it
// (gosledge's reactor routes, core/reactor.go). A host can read and write
// a module's linear memory through its export, but not its globals unless
// they are exported, nor its tables or the dropped state of its passive
// segments at all. With Options.ExportState every defined mutable global
// is exported as StateGlobalPrefix + its ordinal among them (0, 1, ...: a
// host finds them all by counting up until one is missing), and a module whose state
// could live anywhere else is refused with ErrStateful: one that writes a
// table (table.set, table.grow, table.fill, table.copy, table.init) or
// drops a segment (elem.drop, data.drop). Immutable globals cannot change,
// and an imported one would have to be provided by the host, which
// provides none.

// StateGlobalPrefix starts the export name of each mutable global under
// Options.ExportState; the rest is its ordinal among the module's defined
// mutable globals, in index order.
const StateGlobalPrefix = "__gosledge_global_"

// stateOp names the instruction op (sub for a 0xfc prefix) if it changes
// state that the exports do not reach, else "".
func stateOp(op byte, sub uint32) string {
	if op == 0x26 {
		return "table.set"
	}
	if op != opPrefixFC {
		return ""
	}
	switch sub {
	case 9:
		return "data.drop"
	case 12:
		return "table.init"
	case 13:
		return "elem.drop"
	case 14:
		return "table.copy"
	case 15:
		return "table.grow"
	case 17:
		return "table.fill"
	}
	return ""
}

// noteState records the first instruction that makes the module
// unrestorable; off is its module offset.
func (m *module) noteState(op byte, sub uint32, off int) {
	if m.opt.ExportState && m.stateErr == nil {
		if name := stateOp(op, sub); name != "" {
			m.stateErr = failAt(off, ErrStateful, "%s changes state the host cannot restore", name)
		}
	}
}

// appendStateExports appends an export of every mutable global recorded
// by rewriteGlobals.
func (m *module) appendStateExports(out []byte) []byte {
	for i, g := range m.mutableGlobals {
		out = appendName(out, StateGlobalPrefix+strconv.Itoa(i))
		out = append(out, 0x03)
		out = appendU32(out, g)
	}
	return out
}

// ExportedFunctions returns the names of wasm's function exports, so that
// a host can choose the options (ExportState or not) before instrumenting
// and compiling it once.
func ExportedFunctions(wasm []byte) (map[string]bool, error) {
	secs, err := splitSections(wasm)
	if err != nil {
		return nil, fmt.Errorf("instrument: %w", err)
	}
	names := map[string]bool{}
	for _, s := range secs {
		if s.id != secExport {
			continue
		}
		r, n, err := vecHeader(s, 3, "export")
		if err != nil {
			return nil, fmt.Errorf("instrument: export section: %w", err)
		}
		for range n {
			name, err := r.name("export name")
			if err != nil {
				return nil, fmt.Errorf("instrument: export section: %w", err)
			}
			kind, err := r.byte("export kind")
			if err == nil {
				_, err = r.u32("export index")
			}
			if err != nil {
				return nil, fmt.Errorf("instrument: export section: %w", err)
			}
			if kind == 0x00 {
				names[string(name)] = true
			}
		}
	}
	return names, nil
}
