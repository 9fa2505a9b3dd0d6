package config

import (
	"slices"
	"strconv"
	"strings"
)

// BurntSushi/toml v1.6.0 does not say where a key is: MetaData keeps key
// positions unexported, and keys them by their name without array indices,
// so every [[tenant.route]]'s "timeout" shares one entry (the last one).
// The locator below is a small second pass over a document that toml has
// already accepted; it records the line of every key and table header under
// its indexed path, e.g. tenant/0/route/1/timeout. It only has to be right
// for valid TOML; on anything else it must merely not loop or panic.

// loc is where a key or table header starts.
type loc struct {
	line int // 1-based
	off  int // byte offset, to sort problems on one line
}

// pathKey is the map key of an indexed key path.
func pathKey(path ...string) string { return strings.Join(path, "\x00") }

type locator struct {
	src  string
	i    int
	line int
	pos  map[string]loc // pathKey(indexed path) → first definition
	// arrays counts the elements of each array of tables seen so far.
	arrays map[string]int
	// keys lists every key as toml's MetaData.Keys does (without indices,
	// in document order); only tests read it.
	keys [][]string
}

// locate returns the position of every key and table of src, by indexed
// path.
func locate(src string) *locator {
	l := &locator{src: src, line: 1, pos: map[string]loc{}, arrays: map[string]int{}}
	l.run()
	return l
}

func (l *locator) eof() bool { return l.i >= len(l.src) }
func (l *locator) here() loc { return loc{line: l.line, off: l.i} }

// at reports whether the input continues with s.
func (l *locator) at(s string) bool { return strings.HasPrefix(l.src[l.i:], s) }

// adv moves one byte on, counting lines.
func (l *locator) adv() {
	if l.eof() {
		return
	}
	if l.src[l.i] == '\n' {
		l.line++
	}
	l.i++
}

func (l *locator) record(path []string, at loc) {
	k := pathKey(path...)
	if _, ok := l.pos[k]; !ok {
		l.pos[k] = at
	}
}

func (l *locator) run() {
	if l.at("\ufeff") {
		l.i += len("\ufeff")
	}
	var table, tableKey []string // the current table: indexed path, plain key
	for {
		l.space(true)
		if l.eof() {
			return
		}
		start := l.i
		if l.src[l.i] == '[' {
			array := l.at("[[")
			at := l.here()
			if array {
				l.i += 2
			} else {
				l.i++
			}
			segs := l.key()
			table, tableKey = l.header(segs, array, at), segs
			l.space(false)
			if array && l.at("]]") {
				l.i += 2
			} else if !array && l.at("]") {
				l.i++
			}
		} else {
			l.keyval(table, tableKey)
		}
		if l.i == start { // not TOML; cannot happen after toml.Decode
			l.i++
		}
	}
}

// header records a [table] or [[array]] header and returns its indexed
// path. A name that is an array of tables refers to its last element.
func (l *locator) header(segs []string, array bool, at loc) []string {
	var path []string
	for n, s := range segs {
		path = append(path, s)
		if array && n == len(segs)-1 {
			k := pathKey(path...)
			l.record(path, at)
			path = append(path, strconv.Itoa(l.arrays[k]))
			l.arrays[k]++
		} else if c, ok := l.arrays[pathKey(path...)]; ok {
			path = append(path, strconv.Itoa(c-1))
		}
		l.record(path, at)
	}
	l.keys = append(l.keys, segs)
	return path
}

// keyval records `key = value` inside the table at path (plain key key).
func (l *locator) keyval(path, key []string) {
	at := l.here()
	segs := l.key()
	l.space(false)
	if l.eof() || l.src[l.i] != '=' {
		return
	}
	l.i++
	l.space(false)
	path, key = slices.Clone(path), slices.Clone(key)
	for _, s := range segs {
		path = append(path, s)
		l.record(path, at)
	}
	key = append(key, segs...)
	l.keys = append(l.keys, key)
	l.value(path, key)
}

// value skips a value, recording the keys of inline tables in it; the
// elements of an array get their index appended to path.
func (l *locator) value(path, key []string) {
	if l.eof() {
		return
	}
	switch l.src[l.i] {
	case '"', '\'':
		l.str()
	case '[':
		l.i++
		for n := 0; ; n++ {
			l.space(true)
			if l.eof() {
				return
			}
			if l.src[l.i] == ']' {
				l.i++
				return
			}
			start := l.i
			elem := append(slices.Clone(path), strconv.Itoa(n))
			l.record(elem, l.here())
			l.value(elem, key)
			l.space(true)
			if !l.eof() && l.src[l.i] == ',' {
				l.i++
			} else if l.i == start {
				l.i++
			}
		}
	case '{':
		l.i++
		for {
			l.space(true)
			if l.eof() {
				return
			}
			switch l.src[l.i] {
			case '}':
				l.i++
				return
			case ',':
				l.i++
				continue
			}
			start := l.i
			l.keyval(path, key)
			if l.i == start {
				l.i++
			}
		}
	default:
		l.scalar()
	}
}

// scalar skips a number, boolean or date-time.
func (l *locator) scalar() {
	start := l.i
	for !l.eof() && !strings.ContainsRune(" \t\r\n,]}#", rune(l.src[l.i])) {
		l.i++
	}
	// A date and a time may be separated by a space: 1979-05-27 07:32:00.
	if isDate(l.src[start:l.i]) && l.at(" ") && l.i+1 < len(l.src) && isDigit(l.src[l.i+1]) {
		l.i++
		l.scalar()
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isDate(s string) bool {
	if len(s) != len("2006-01-02") {
		return false
	}
	for i := range len(s) {
		if (i == 4 || i == 7) != (s[i] == '-') || (s[i] != '-' && !isDigit(s[i])) {
			return false
		}
	}
	return true
}

// space skips blanks; with newlines, it also skips newlines and comments.
func (l *locator) space(newlines bool) {
	for !l.eof() {
		switch c := l.src[l.i]; {
		case c == ' ' || c == '\t' || c == '\r':
			l.i++
		case newlines && c == '\n':
			l.adv()
		case newlines && c == '#':
			for !l.eof() && l.src[l.i] != '\n' {
				l.i++
			}
		default:
			return
		}
	}
}

// key reads a possibly dotted key.
func (l *locator) key() []string {
	var segs []string
	for {
		l.space(false)
		segs = append(segs, l.simpleKey())
		l.space(false)
		if l.eof() || l.src[l.i] != '.' {
			return segs
		}
		l.i++
	}
}

func (l *locator) simpleKey() string {
	if l.eof() {
		return ""
	}
	switch q := l.src[l.i]; q {
	case '"', '\'':
		start := l.i
		l.str()
		end := min(max(l.i-1, start+1), len(l.src))
		if q == '\'' {
			return l.src[start+1 : end]
		}
		return unescape(l.src[start+1 : end])
	}
	start := l.i
	for !l.eof() && !strings.ContainsRune(" \t\r\n.=[]\"'#,{}", rune(l.src[l.i])) {
		l.i++
	}
	return l.src[start:l.i]
}

// str skips a basic, literal or multi-line string.
func (l *locator) str() {
	q := l.src[l.i]
	if delim := strings.Repeat(string(q), 3); l.at(delim) {
		l.i += 3
		for !l.eof() {
			switch {
			case q == '"' && l.src[l.i] == '\\':
				l.adv()
				l.adv()
			case l.at(delim):
				l.i += 3
				// Up to two more quotes belong to the string: """a""""".
				for n := 0; n < 2 && !l.eof() && l.src[l.i] == q; n++ {
					l.i++
				}
				return
			default:
				l.adv()
			}
		}
		return
	}
	l.i++
	for !l.eof() {
		switch l.src[l.i] {
		case '\\':
			if q == '"' && l.i+1 < len(l.src) {
				l.i++
			}
		case q:
			l.i++
			return
		case '\n':
			return
		}
		l.i++
	}
}

// unescape decodes the escapes of a TOML basic string (TOML 1.1: also \e
// and \xHH).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		n := 0
		switch s[i] {
		case 'b':
			b.WriteByte('\b')
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'f':
			b.WriteByte('\f')
		case 'r':
			b.WriteByte('\r')
		case 'e':
			b.WriteByte(0x1b)
		case 'x':
			n = 2
		case 'u':
			n = 4
		case 'U':
			n = 8
		default:
			b.WriteByte(s[i])
		}
		if n > 0 && i+n < len(s) {
			if r, err := strconv.ParseUint(s[i+1:i+1+n], 16, 32); err == nil {
				b.WriteRune(rune(r))
				i += n
			}
		}
	}
	return b.String()
}

// KeyLines returns a lookup of the line on which each key or table header
// of the TOML document src is written, by indexed path (e.g. "route", "1",
// "weight"), or 0 if the path is not in src. Other TOML files of the
// project (bench workloads) report their errors with it.
func KeyLines(src string) func(path ...string) int {
	pos := locate(src).pos
	return func(path ...string) int { return pos[pathKey(path...)].line }
}
