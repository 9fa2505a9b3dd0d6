package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// binDir holds the programs the tests build.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bench-test")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// valid is a workload on the embedded default config.
const valid = `name = "t"
config = ""
duration = "2s"
warmup = "500ms"
seed = 7
workers = 2
timeout = "5s"

[arrival]
process = "constant"
rate = 50

[[route]]
name = "short"
tenant = "demo"
path = "/fib"
weight = 3
body = "20"

[[route]]
path = "/echo"
weight = 1.5
`

func TestParseWorkload(t *testing.T) {
	w, err := ParseWorkload("w.toml", []byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	want := &Workload{Name: "t", File: "w.toml", Duration: 2 * time.Second, Warmup: 500 * time.Millisecond,
		Seed: 7, Workers: 2, Timeout: 5 * time.Second, Process: Constant, Rates: []float64{50},
		Routes: []Route{
			{Name: "short", Tenant: "demo", Path: "/fib", Weight: 3, Body: "20", Deadline: 20 * time.Millisecond, Timeout: 10 * time.Second},
			{Name: "demo/echo", Tenant: "demo", Path: "/echo", Weight: 1.5, Deadline: 10 * time.Millisecond, Timeout: 10 * time.Second},
		}, Costs: DefaultCosts}
	if got := *w; !equalWorkload(got, *want) {
		t.Errorf("got  %+v\nwant %+v", got, *want)
	}

	// Defaults, and a sweep sorted and deduplicated.
	w, err = ParseWorkload("dir/sweep.toml", []byte("[arrival]\nrates = [20, 10, 20]\n[[route]]\npath = \"/echo\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if w.Name != "sweep" || w.Duration != DefaultDuration || w.Warmup != DefaultWarmup || w.Timeout != DefaultTimeout ||
		w.Seed != DefaultSeed || w.Process != Poisson || !slices.Equal(w.Rates, []float64{10, 20}) || w.Routes[0].Weight != 1 {
		t.Errorf("defaults: %+v", w)
	}
}

func equalWorkload(a, b Workload) bool {
	return slices.Equal(a.Rates, b.Rates) && slices.Equal(a.Routes, b.Routes) &&
		a.Name == b.Name && a.File == b.File && a.Config == b.Config && a.Duration == b.Duration &&
		a.Warmup == b.Warmup && a.Seed == b.Seed && a.Workers == b.Workers && a.Timeout == b.Timeout && a.Process == b.Process
}

func TestParseWorkloadErrors(t *testing.T) {
	const arrival = "[arrival]\nrate = 10\n"
	const route = "[[route]]\npath = \"/echo\"\n"
	for _, c := range []struct {
		name, src string
		want      []string // the lines of the error, in order
	}{
		{"syntax", "duration = \n", []string{`w.toml:1: expected value but found '\n' instead`}},
		{"unknown key", "durration = \"1s\"\n" + arrival + route,
			[]string{`w.toml:1: unknown key "durration"`}},
		{"bad duration", "seed = 1\nduration = \"10x\"\n" + arrival + route,
			[]string{`w.toml:2: key "duration": invalid duration "10x" (want e.g. "10s" or "500ms")`}},
		{"duration type", "duration = 10\n" + arrival + route,
			[]string{`w.toml:1: key "duration": expected a string, found integer 10`}},
		{"zero duration", "duration = \"0s\"\n" + arrival + route,
			[]string{`w.toml:1: key "duration": must be positive, got 0s`}},
		{"negative warm-up", "warmup = \"-1s\"\n" + arrival + route,
			[]string{`w.toml:1: key "warmup": must not be negative, got -1s`}},
		{"bad name", "name = \"a/b\"\n" + arrival + route,
			[]string{`w.toml:1: key "name": want letters, digits, '.', '_' or '-', got "a/b"`}},
		{"workers", "workers = 0\n" + arrival + route,
			[]string{`w.toml:1: key "workers": want 1 to 1024, got 0`}},
		{"seed type", "seed = \"x\"\n" + arrival + route,
			[]string{`w.toml:1: key "seed": expected an integer, found string "x"`}},
		{"process", "[arrival]\nprocess = \"bursty\"\nrate = 1\n" + route,
			[]string{`w.toml:2: arrival: key "process": want "constant" or "poisson", got "bursty"`}},
		{"no rate", "[arrival]\nprocess = \"poisson\"\n" + route,
			[]string{`w.toml:1: arrival: missing key "rate" (or "rates", a list of rates to sweep, or "trace", a trace file)`}},
		{"no arrival", route,
			[]string{`w.toml: arrival: missing key "rate" (or "rates", a list of rates to sweep, or "trace", a trace file)`}},
		{"rate and rates", "[arrival]\nrate = 1\nrates = [1, 2]\n" + route,
			[]string{`w.toml:3: arrival: key "rates": set rate or rates, not both`}},
		{"zero rate", "[arrival]\nrate = 0\n" + route,
			[]string{`w.toml:2: arrival: key "rate": rate must be a positive number of requests per second, got 0`}},
		{"rate type", "[arrival]\nrate = \"fast\"\n" + route,
			[]string{`w.toml:2: arrival: key "rate": expected a number, found string "fast"`}},
		{"bad rate in a sweep", "[arrival]\nrates = [\n  10,\n  -5,\n]\n" + route,
			[]string{`w.toml:4: arrival: key "rates": rate must be a positive number of requests per second, got -5`}},
		{"rates element type", "[arrival]\nrates = [10, \"x\"]\n" + route,
			[]string{`w.toml:2: arrival: key "rates": element 2: expected a number, found string "x"`}},
		{"too many requests", "duration = \"100s\"\n[arrival]\nrate = 1e6\n" + route,
			[]string{`w.toml:2: arrival: 1e+06 req/s for 1m41s is more than 10000000 requests a run`}},
		{"no routes", arrival, []string{`w.toml: no [[route]] defined`}},
		{"route not a table", "route = 1\n" + arrival,
			[]string{`w.toml:1: key "route": expected an array of tables [[route]], found integer 1`}},
		{"bad weight in the second route", arrival + route + "weight = 2\n[[route]]\npath = \"/fib\"\nweight = -1\n",
			[]string{`w.toml:8: route "/fib": key "weight": must be positive, got -1`}},
		{"unknown key in a route", arrival + route + "\n[[route]]\nname = \"x\"\npath = \"/fib\"\nbdy = \"20\"\n",
			[]string{`w.toml:9: route "x": unknown key "bdy"`}},
		{"relative path", arrival + "[[route]]\npath = \"fib\"\n",
			[]string{`w.toml:4: route "fib": key "path": must start with "/", got "fib"`}},
		{"no such tenant", arrival + "[[route]]\ntenant = \"nobody\"\npath = \"/fib\"\n",
			[]string{`w.toml:4: route "/fib": key "tenant": no tenant "nobody" in default.toml (have "demo")`}},
		{"no such route", arrival + route + "[[route]]\npath = \"/nope\"\n",
			[]string{`w.toml:6: route "/nope": key "path": tenant "demo" has no route "/nope" in default.toml`}},
		{"missing path", arrival + "[[route]]\nweight = 1\n",
			[]string{`w.toml:3: route #1: missing key "path"`}},
		{"same route twice", arrival + route + route,
			[]string{`w.toml:6: route "/echo": key "path": route "demo/echo" is already in the mix on line 3 (give one a distinct name)`}},
		{"missing config", "config = \"nowhere.toml\"\n" + arrival + route,
			[]string{`w.toml:1: key "config": open nowhere.toml: no such file or directory`}},
		{"value and serve config problems together", arrival + "[[route]]\npath = \"/fib\"\nweight = -2\n[[route]]\npath = \"/nope\"\n",
			[]string{
				`w.toml:5: route "/fib": key "weight": must be positive, got -2`,
				`w.toml:7: route "/nope": key "path": tenant "demo" has no route "/nope" in default.toml`,
			}},
		{"every problem, in file order", "duration = \"x\"\nwarmup = 1\n[arrival]\nrate = -1\n[[route]]\npath = \"/echo\"\nweight = 0\n",
			[]string{
				`w.toml:1: key "duration": invalid duration "x" (want e.g. "10s" or "500ms")`,
				`w.toml:2: key "warmup": expected a string, found integer 1`,
				`w.toml:4: arrival: key "rate": rate must be a positive number of requests per second, got -1`,
				`w.toml:7: route "/echo": key "weight": must be positive, got 0`,
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseWorkload("w.toml", []byte(c.src))
			if err == nil {
				t.Fatalf("no error; want %q", c.want)
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, c.want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
		})
	}
}

// A serve config problem is reported at the workload's config key, with
// the serve config's own file:line.
func TestWorkloadServeConfigError(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "serve.toml"), []byte("[runtime]\nworkers = \"two\"\n"), 0o644)
	path := filepath.Join(dir, "w.toml")
	os.WriteFile(path, []byte("\nconfig = \"serve.toml\"\n[arrival]\nrate = 1\n[[route]]\npath = \"/x\"\n"), 0o644)
	_, err := LoadWorkload(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+`:2: key "config": `) ||
		!strings.Contains(err.Error(), filepath.Join(dir, "serve.toml")+`:2: runtime: key "workers"`) {
		t.Errorf("got %v", err)
	}
}

func TestBundledWorkloads(t *testing.T) {
	files, _ := filepath.Glob("../examples/workloads/*.toml")
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".serve.toml") {
			continue
		}
		n++
		w, err := LoadWorkload(f)
		if err != nil {
			t.Error(err)
			continue
		}
		if _, err := w.ServeConfig(); err != nil {
			t.Error(err)
		}
	}
	if n < 3 {
		t.Errorf("found %d bundled workloads, want bimodal, noisy-neighbour and empty", n)
	}
}

func TestParsePolicies(t *testing.T) {
	ps, err := ParsePolicies("fifo, fifo:nopreempt,edf:preempt")
	if err != nil {
		t.Fatal(err)
	}
	want := []Policy{{"fifo", ""}, {"fifo", NoPreempt}, {"edf", Preempt}}
	if !slices.Equal(ps, want) {
		t.Errorf("got %v, want %v", ps, want)
	}
	if ps[1].String() != "fifo:nopreempt" || ps[1].preempts(true) || !ps[2].preempts(false) || !ps[0].preempts(true) {
		t.Error("String or preempts")
	}
	for _, bad := range []string{"", "fifo,", ":nopreempt", "fifo:off", "fifo,fifo"} {
		if _, err := ParsePolicies(bad); err == nil {
			t.Errorf("ParsePolicies(%q): no error", bad)
		}
	}
}
