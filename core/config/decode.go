package config

import (
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The decoder fills the exported structs from the map toml parsed, driven
// by their struct tags:
//
//	toml:"key[,option...]"  the key; "-" or no tag: not in the file
//	    required            a missing key is an error
//	    label               names the table in messages: tenant "demo"
//	    size                an int64 byte count: 1048576 or "1MiB"
//	default:"value"         used when the key is absent, written as in the file
//
// Field types: string, bool, int, time.Duration (a string such as "10ms"),
// int64 with the size option, a struct (a [table]) or a slice of structs
// (an [[array]] of tables). Types are strict: a string where an
// integer is wanted is an error, never converted.
//
// Decoding never stops at the first problem: every one is recorded with the
// line of its key, and a key whose value failed is marked bad so that
// validation does not complain about it a second time.

type decoder struct {
	file  string
	pos   map[string]loc    // from the locator
	scope map[string]string // pathKey(table) → its name in messages
	bad   map[string]bool   // pathKey(key) → value was rejected
	probs problems
}

// field is one tagged struct field.
type field struct {
	index                 int
	key, def              string
	required, label, size bool
}

var (
	durationType     = reflect.TypeFor[time.Duration]()
	policyTablesType = reflect.TypeFor[PolicyTables]()
)

func fieldsOf(t reflect.Type) []field {
	var fs []field
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("toml")
		if !ok || tag == "-" || !sf.IsExported() {
			continue
		}
		opts := strings.Split(tag, ",")
		f := field{index: i, key: opts[0], def: sf.Tag.Get("default")}
		for _, o := range opts[1:] {
			switch o {
			case "required":
				f.required = true
			case "label":
				f.label = true
			case "size":
				f.size = true
			default:
				panic("config: unknown tag option " + o + " on " + t.Name() + "." + sf.Name)
			}
		}
		fs = append(fs, f)
	}
	return fs
}

// table decodes the TOML table m at path into the struct rv.
func (d *decoder) table(m map[string]any, rv reflect.Value, path []string) {
	fs := fieldsOf(rv.Type())
	known := map[string]bool{}
	for _, f := range fs {
		known[f.key] = true
		v, ok := m[f.key]
		switch {
		case ok:
			d.value(v, rv.Field(f.index), f, path)
		case f.required:
			d.problem(path, "missing key %q", f.key)
		case f.def != "":
			setDefault(rv.Field(f.index), f)
		case rv.Field(f.index).Kind() == reflect.Struct: // absent table: its defaults
			d.table(nil, rv.Field(f.index), append(slices.Clip(path), f.key))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !known[k] {
			if to, ok := movedKeys[kindKey(append(slices.Clip(path), k))]; ok {
				d.problemAt(append(slices.Clip(path), k), path, "key %q moved to %s: a policy's settings are in its own table now", k, to)
				continue
			}
			d.problemAt(append(slices.Clip(path), k), path, "unknown key %q%s", k, didYouMean(k, slices.Collect(maps.Keys(known))))
		}
	}
}

// value decodes v, the value of key f.key of the table at path, into fv.
func (d *decoder) value(v any, fv reflect.Value, f field, path []string) {
	kp := append(slices.Clip(path), f.key)
	fail := func(format string, args ...any) {
		d.bad[pathKey(kp...)] = true
		d.problemAt(kp, path, "key %q: "+format, append([]any{f.key}, args...)...)
	}
	t := fv.Type()
	switch {
	case f.size:
		switch v := v.(type) {
		case int64:
			if v < 0 {
				fail("size must not be negative, got %d", v)
				return
			}
			fv.SetInt(v)
		case string:
			n, err := parseSize(v)
			if err != nil {
				fail("%v", err)
				return
			}
			fv.SetInt(n)
		default:
			fail("expected a size such as \"64MiB\" or a number of bytes, found %s", Describe(v))
		}
	case t == durationType:
		s, ok := v.(string)
		if !ok {
			fail("expected a duration string such as \"10ms\", found %s", Describe(v))
			return
		}
		dur, err := time.ParseDuration(s)
		if err != nil {
			fail("invalid duration %q", s)
			return
		}
		fv.SetInt(int64(dur))
	case t.Kind() == reflect.String:
		s, ok := v.(string)
		if !ok {
			fail("expected a string, found %s", Describe(v))
			return
		}
		fv.SetString(s)
	case t.Kind() == reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			fail("expected true or false, found %s", Describe(v))
			return
		}
		fv.SetBool(b)
	case t.Kind() == reflect.Int:
		n, ok := v.(int64)
		if !ok {
			fail("expected an integer, found %s", Describe(v))
			return
		}
		if n < math.MinInt || n > math.MaxInt {
			fail("integer %d out of range", n)
			return
		}
		fv.SetInt(n)
	case t.Kind() == reflect.Float64:
		switch n := v.(type) {
		case float64:
			fv.SetFloat(n)
		case int64: // "reservation = 1" is a number too
			fv.SetFloat(float64(n))
		default:
			fail("expected a number, found %s", Describe(v))
			return
		}
	case t == policyTablesType:
		m, ok := v.(map[string]any)
		if !ok {
			fail("expected tables [%s.NAME], one per policy, found %s", f.key, Describe(v))
			return
		}
		out := PolicyTables{}
		for _, name := range slices.Sorted(maps.Keys(m)) {
			t, ok := m[name].(map[string]any)
			if !ok {
				d.bad[pathKey(append(slices.Clip(kp), name)...)] = true
				d.problemAt(append(slices.Clip(kp), name), path, "key %q: expected the table [%s.%s] of policy %q's settings, found %s", f.key+"."+name, kindKey(kp), name, name, Describe(m[name]))
				continue
			}
			out[name] = t
		}
		fv.Set(reflect.ValueOf(out))
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.String:
		d.stringMap(v, fv, f, path)
	case t.Kind() == reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			fail("expected a table [%s], found %s", f.key, Describe(v))
			return
		}
		d.scope[pathKey(kp...)] = d.name(path, f.key)
		d.table(m, fv, kp)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		elems, ok := tables(v)
		if !ok {
			fail("expected an array of tables [[%s]], found %s", f.key, Describe(v))
			return
		}
		sl := reflect.MakeSlice(t, len(elems), len(elems))
		for i, m := range elems {
			ep := append(slices.Clip(kp), strconv.Itoa(i))
			d.scope[pathKey(ep...)] = d.name(path, label(t.Elem(), m, f.key, i))
			d.table(m, sl.Index(i), ep)
		}
		fv.Set(sl)
	default:
		panic(fmt.Sprintf("config: cannot decode into %s (key %q)", t, f.key))
	}
}

// stringMap decodes a table of strings (key = { "a" = "x", "b" = "y" }, or
// a [x] table) into fv, a map[string]string; each value that is no string
// is reported at its own key.
func (d *decoder) stringMap(v any, fv reflect.Value, f field, path []string) {
	kp := append(slices.Clip(path), f.key)
	m, ok := v.(map[string]any)
	if !ok {
		d.bad[pathKey(kp...)] = true
		d.problemAt(kp, path, "key %q: expected a table of strings such as { \"/data\" = \"./static\" }, found %s", f.key, Describe(v))
		return
	}
	out := reflect.MakeMapWithSize(fv.Type(), len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		s, ok := m[k].(string)
		if !ok {
			ep := append(slices.Clip(kp), k)
			d.bad[pathKey(ep...)] = true
			d.problemAt(ep, path, "key %q %q: expected a string, found %s", f.key, k, Describe(m[k]))
			continue
		}
		out.SetMapIndex(reflect.ValueOf(k), reflect.ValueOf(s))
	}
	fv.Set(out)
}

// tables accepts both [[x]] headers and x = [{...}, {...}].
func tables(v any) ([]map[string]any, bool) {
	switch v := v.(type) {
	case []map[string]any:
		return v, true
	case []any:
		ms := make([]map[string]any, len(v))
		for i, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, false
			}
			ms[i] = m
		}
		return ms, true
	}
	return nil, false
}

// label names the i-th element of an array of tables in messages: by its
// label key if it has one, else by its 1-based number.
func label(t reflect.Type, m map[string]any, noun string, i int) string {
	for _, f := range fieldsOf(t) {
		if s, ok := m[f.key].(string); ok && f.label && s != "" {
			return fmt.Sprintf("%s %q", noun, s)
		}
	}
	return fmt.Sprintf("%s #%d", noun, i+1)
}

// name joins the name of the table at parent with a child's name.
func (d *decoder) name(parent []string, child string) string {
	if p := d.scope[pathKey(parent...)]; p != "" {
		return p + " " + child
	}
	return child
}

// Describe names a decoded TOML value's type and value for error messages,
// e.g. `string "x"` or `integer 3`.
func Describe(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("string %q", v)
	case int64:
		return fmt.Sprintf("integer %d", v)
	case float64:
		return fmt.Sprintf("float %v", v)
	case bool:
		return fmt.Sprintf("boolean %v", v)
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("a date-time %v", v)
}

// setDefault stores f's default tag into fv.
func setDefault(fv reflect.Value, f field) {
	var err error
	switch t := fv.Type(); {
	case f.size:
		var n int64
		n, err = parseSize(f.def)
		fv.SetInt(n)
	case t == durationType:
		var dur time.Duration
		dur, err = time.ParseDuration(f.def)
		fv.SetInt(int64(dur))
	case t.Kind() == reflect.String:
		fv.SetString(f.def)
	case t.Kind() == reflect.Bool:
		var b bool
		b, err = strconv.ParseBool(f.def)
		fv.SetBool(b)
	case t.Kind() == reflect.Int:
		var n int
		n, err = strconv.Atoi(f.def)
		fv.SetInt(int64(n))
	case t.Kind() == reflect.Float64:
		var x float64
		x, err = strconv.ParseFloat(f.def, 64)
		fv.SetFloat(x)
	default:
		err = fmt.Errorf("no default for %s", t)
	}
	if err != nil {
		panic(fmt.Sprintf("config: bad default for key %q: %v", f.key, err))
	}
}

// Size units. Binary units are powers of 1024 (KiB, MiB, GiB), decimal ones
// powers of 1000 (KB or kB, MB, GB), as on a disk label.
var sizeUnits = map[string]int64{
	"B":   1,
	"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30,
	"KB": 1e3, "kB": 1e3, "MB": 1e6, "GB": 1e9,
}

// parseSize parses a byte count: digits, an optional space, and an
// optional unit from sizeUnits ("1048576", "1MiB", "512 KiB", "1MB").
// Units are case-sensitive; fractions are not accepted.
func parseSize(s string) (int64, error) {
	digits := len(s) - len(strings.TrimLeft(s, "0123456789"))
	unit := strings.TrimPrefix(s[digits:], " ")
	mult, ok := sizeUnits[unit]
	if s[digits:] == "" {
		mult, ok = 1, true
	}
	if digits == 0 || !ok {
		return 0, fmt.Errorf("invalid size %q (want e.g. \"64MiB\", \"512KiB\", \"1GiB\", \"1MB\" or \"100B\")", s)
	}
	n, err := strconv.ParseInt(s[:digits], 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return n * mult, nil
}

// formatSize writes n bytes in the largest binary unit that divides it.
func formatSize(n int64) string {
	for _, u := range []string{"GiB", "MiB", "KiB"} {
		if m := sizeUnits[u]; n != 0 && n%m == 0 {
			return strconv.FormatInt(n/m, 10) + u
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
