package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// A problem is one line of the error Parse returns.
type problem struct {
	off int // where in the file, to sort; -1 for the file as a whole
	msg string
}

type problems []problem

// err joins the problems in file order, one per line; nil if none.
func (ps problems) err() error {
	slices.SortStableFunc(ps, func(a, b problem) int { return cmp.Compare(a.off, b.off) })
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = errors.New(p.msg)
	}
	return errors.Join(errs...)
}

// locate returns the position of path, or of its nearest located parent;
// ok is false if none is (the problem concerns the whole file).
func (d *decoder) locate(path []string) (loc, bool) {
	for n := len(path); n > 0; n-- {
		if l, ok := d.pos[pathKey(path[:n]...)]; ok {
			return l, true
		}
	}
	return loc{off: -1}, false
}

// problem reports a problem with the table at path, at its header.
func (d *decoder) problem(path []string, format string, args ...any) {
	d.problemAt(path, path, format, args...)
}

// problemAt reports a problem at the key or table at, prefixed with the
// name of the table at table:
//
//	file:line: tenant "demo" route "/fib": key "timeout": invalid duration "10x"
func (d *decoder) problemAt(at, table []string, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if s := d.scope[pathKey(table...)]; s != "" {
		msg = s + ": " + msg
	}
	l, ok := d.locate(at)
	if ok {
		msg = fmt.Sprintf("%s:%d: %s", d.file, l.line, msg)
	} else {
		msg = d.file + ": " + msg
	}
	d.probs = append(d.probs, problem{off: l.off, msg: msg})
}
