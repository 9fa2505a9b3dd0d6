package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// checkLocator compares the locator with toml on a document toml accepts:
// both must list the same keys in the same order.
func checkLocator(t *testing.T, src string) {
	t.Helper()
	var m map[string]any
	md, err := toml.Decode(src, &m)
	if err != nil {
		return
	}
	var want []string
	for _, k := range md.Keys() {
		want = append(want, pathKey(k...))
	}
	var got []string
	for _, k := range locate(src).keys {
		got = append(got, pathKey(k...))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("locator keys differ from toml's for\n%s\ngot  %q\nwant %q", src, got, want)
	}
}

var locatorSeeds = []string{
	"a = 1\n",
	"a.b . c = 1\n[x . \"y.z\"]\n'q' = 2\n",
	"s = \"\"\"\na = 1\n\\\"\"\"\"\nb = '''x\n[t]'''''\n[t]\nk = \"\\u0041\\\"]\" # c\n",
	"\"k\\u0041\" = 1\n'lit\\' = 2\n",
	"[[t]]\na = 1\n[[t.r]]\np = 1\n[[t]]\n[[t.r]]\np = 2\n[t.r.s]\nq = 3\n",
	"r = [ {p = 1}, # c\n {p = 2, q = [1, [2, {z = 3}]]},\n]\n",
	"x = { a = 1,\n  b = { c = 2 }, }\n",
	"d = 1979-05-27 07:32:00Z\ne = 1979-05-27\nf = 07:32:00\n",
	"\ufeffa = 1\r\nb = [\r\n 1,\r\n]\r\n",
	"s = \"a#b\" # c\n[a]\n[a.b]\n[c.d]\n[c]\n",
}

func TestLocatorMatchesToml(t *testing.T) {
	for _, s := range locatorSeeds {
		checkLocator(t, s)
	}
}

func TestLocatorLines(t *testing.T) {
	src := `# comment
[runtime]
workers = 2

[[tenant]]
name = "a"
[[tenant.route]]
path = """
/x"""
timeout = "1s"
[[tenant.route]] # second
timeout = "2s"
[[tenant]]
name = "b"
route = [
  { path = "/y",
    timeout = "3s" },
]
`
	pos := locate(src).pos
	for _, tc := range []struct {
		path []string
		line int
	}{
		{[]string{"runtime"}, 2},
		{[]string{"runtime", "workers"}, 3},
		{[]string{"tenant"}, 5},
		{[]string{"tenant", "0"}, 5},
		{[]string{"tenant", "0", "route", "0"}, 7},
		{[]string{"tenant", "0", "route", "0", "path"}, 8},
		{[]string{"tenant", "0", "route", "0", "timeout"}, 10},
		{[]string{"tenant", "0", "route", "1"}, 11},
		{[]string{"tenant", "0", "route", "1", "timeout"}, 12},
		{[]string{"tenant", "1", "name"}, 14},
		{[]string{"tenant", "1", "route"}, 15},
		{[]string{"tenant", "1", "route", "0"}, 16},
		{[]string{"tenant", "1", "route", "0", "timeout"}, 17},
	} {
		if got := pos[pathKey(tc.path...)].line; got != tc.line {
			t.Errorf("%s: line %d, want %d", strings.Join(tc.path, "."), got, tc.line)
		}
	}
}

func FuzzLocator(f *testing.F) {
	for _, s := range locatorSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		locate(src) // never panics or loops, whatever the input
		checkLocator(t, src)
	})
}

func TestKeyLines(t *testing.T) {
	src := "a = 1\n\n[t]\nk = \"\"\"\nx\n\"\"\"\nl = [\n 1,\n 2,\n]\n[[r]]\nv = 1\n[[r]]\n\nv = 2 # c\n"
	line := KeyLines(src)
	for _, c := range []struct {
		path []string
		line int
	}{
		{[]string{"a"}, 1},
		{[]string{"t"}, 3},
		{[]string{"t", "k"}, 4},
		{[]string{"t", "l"}, 7},
		{[]string{"r", "0"}, 11},
		{[]string{"r", "0", "v"}, 12},
		{[]string{"r", "1"}, 13},
		{[]string{"r", "1", "v"}, 15},
		{[]string{"nope"}, 0},
		{[]string{"r", "2"}, 0},
	} {
		if got := line(c.path...); got != c.line {
			t.Errorf("line(%q) = %d, want %d", c.path, got, c.line)
		}
	}
}
