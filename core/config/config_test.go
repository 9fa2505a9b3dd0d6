package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

var wasm = []byte("\x00asm\x01\x00\x00\x00")

var modules = fstest.MapFS{
	"fib.wasm":       {Data: wasm},
	"lib/echo.wasm":  {Data: []byte("\x00asm\x01\x00\x00\x00echo")},
	"lib/other.wasm": {Data: []byte("\x00asm\x01\x00\x00\x00other")},
}

// tenant is a valid minimal tenant, appended to files that test other
// tables. It starts on the line after the file's own lines.
const tenant = `
[[tenant]]
name = "demo"
port = 10010
[[tenant.route]]
path = "/fib"
module = "fib.wasm"
`

// tenantOnly and routeOnly split tenant so that tenant keys can go
// between them (tenantOnly ends on line 3).
const (
	tenantOnly = "[[tenant]]\nname = \"demo\"\nport = 10010\n"
	routeOnly  = "[[tenant.route]]\npath = \"/fib\"\nmodule = \"fib.wasm\"\n"
)

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "abc", 3}, {"workers", "workers", 0},
		{"wokers", "workers", 1}, {"timout", "timeout", 1}, {"Workers", "workers", 1},
		{"quantum", "qunatum", 2}, {"kitten", "sitting", 3},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      string // the whole error, lines joined by \n
	}{
		{"unknown key at top", "foo = 1\n" + tenant,
			`gosledge.toml:1: unknown key "foo"`},
		{"unknown table", "[runtim]\nworkers = 2\n" + tenant,
			`gosledge.toml:1: unknown key "runtim" (did you mean "runtime"?)`},
		{"unknown key in runtime", "[runtime]\nwokers = 2\n" + tenant,
			`gosledge.toml:2: runtime: unknown key "wokers" (did you mean "workers"?)`},
		{"unknown key in plugin", "[[plugin]]\nname = \"llf\"\npath = \"llf\"\nsha = \"\"\n" + tenant,
			`gosledge.toml:4: plugin "llf": unknown key "sha"`},
		{"unknown key in tenant", tenant + "prot = 1\n",
			`gosledge.toml:8: tenant "demo" route "/fib": unknown key "prot"`},
		{"unknown key in tenant", `
[[tenant]]
name = "demo"
prot = 10010
[[tenant.route]]
path = "/fib"
module = "fib.wasm"
`, `gosledge.toml:2: tenant "demo": missing key "port"
gosledge.toml:4: tenant "demo": unknown key "prot"`},
		{"unknown key in route", tenant + "timout = \"1s\"\n",
			`gosledge.toml:8: tenant "demo" route "/fib": unknown key "timout" (did you mean "timeout"?)`},
		{"unknown keys are case-sensitive", "[runtime]\nWorkers = 2\n" + tenant,
			`gosledge.toml:2: runtime: unknown key "Workers" (did you mean "workers"?)`},
		{"duplicate key in a route", tenant + "timeout = \"1s\"\ntimeout = \"2s\"\n",
			`gosledge.toml:9: key "timeout" is defined twice in [tenant.route] (first on line 8)`},
		{"no suggestion for a key far from every known one", "[runtime]\nzzzzzz = 2\n" + tenant,
			`gosledge.toml:2: runtime: unknown key "zzzzzz"`},
		{"duplicate key", "[runtime]\nworkers = 1\nworkers = 2\n" + tenant,
			`gosledge.toml:3: key "workers" is defined twice in [runtime] (first on line 2)`},
		{"duplicate table", "[runtime]\n[runtime]\n" + tenant,
			`gosledge.toml:2: key "runtime" is defined twice (first on line 1)`},
		{"syntax error", "[runtime\n" + tenant,
			`gosledge.toml:1: expected '.' or ']' to end table name, but got '\n' instead`},
		{"syntax error in a value", "[runtime]\nworkers = 2 3\n" + tenant,
			`gosledge.toml:2: expected a top-level item to end with a newline, comment, or EOF, but got '3' instead`},
		{"bad duration", tenant + "timeout = \"10x\"\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "timeout": invalid duration "10x"`},
		{"duration not a string", tenant + "timeout = 10\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "timeout": expected a duration string such as "10ms", found integer 10`},
		{"negative duration", tenant + "expected_execution = \"-1ms\"\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "expected_execution": must be positive, got -1ms`},
		{"zero quantum", "[runtime]\nquantum = \"0s\"\n" + tenant,
			`gosledge.toml:2: runtime: key "quantum": must be positive, got 0s`},
		{"bad size", tenant + "max_body = \"1Mb\"\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "max_body": invalid size "1Mb" (want e.g. "64MiB", "512KiB", "1GiB", "1MB" or "100B")`},
		{"negative size", tenant + "max_body = -1\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "max_body": size must not be negative, got -1`},
		{"fractional size", tenant + "max_body = 1.5\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "max_body": expected a size such as "64MiB" or a number of bytes, found float 1.5`},
		{"missing module", tenant + "[[tenant.route]]\npath = \"/x\"\nmodule = \"nope.wasm\"\n",
			`gosledge.toml:10: tenant "demo" route "/x": key "module": open nope.wasm: file does not exist`},
		{"missing keys", tenant + "[[tenant.route]]\ncontent_type = \"text/html\"\n",
			`gosledge.toml:8: tenant "demo" route #2: missing key "path"
gosledge.toml:8: tenant "demo" route #2: missing key "module"`},
		{"missing tenant name", "[[tenant]]\nport = 1\n[[tenant.route]]\npath = \"/\"\nmodule = \"fib.wasm\"\n",
			`gosledge.toml:1: tenant #1: missing key "name"`},
		{"empty module", tenant + "[[tenant.route]]\npath = \"/x\"\nmodule = \"\"\n",
			`gosledge.toml:10: tenant "demo" route "/x": key "module": must not be empty`},
		{"duplicate tenant", tenant + "[[tenant]]\nname = \"demo\"\nport = 10011\n[[tenant.route]]\npath = \"/\"\nmodule = \"fib.wasm\"\n",
			`gosledge.toml:9: tenant "demo": key "name": duplicate tenant name, first defined on line 3`},
		{"duplicate port", tenant + "[[tenant]]\nname = \"b\"\nport = 10010\n[[tenant.route]]\npath = \"/\"\nmodule = \"fib.wasm\"\n",
			`gosledge.toml:10: tenant "b": key "port": port already used by the tenant on line 4`},
		{"duplicate route", tenant + "[[tenant.route]]\npath = \"/fib\"\nmodule = \"fib.wasm\"\n",
			`gosledge.toml:9: tenant "demo" route "/fib": key "path": duplicate route path, first defined on line 6`},
		{"same path in two tenants is fine", tenant + "[[tenant]]\nname = \"b\"\nport = 2\n[[tenant.route]]\npath = \"/fib\"\nmodule = \"fib.wasm\"\n",
			``},
		{"timeout shorter than relative_deadline is fine", tenant + "timeout = \"1s\"\nrelative_deadline = \"5s\"\n",
			``},
		{"bad path", "[[tenant]]\nname = \"demo\"\nport = 10010\n[[tenant.route]]\npath = \"fib\"\nmodule = \"fib.wasm\"\n",
			`gosledge.toml:5: tenant "demo" route "fib": key "path": must start with "/", got "fib"`},
		{"port too large", "[[tenant]]\nname = \"demo\"\nport = 70000\n[[tenant.route]]\npath = \"/\"\nmodule = \"fib.wasm\"\n",
			`gosledge.toml:3: tenant "demo": key "port": must be between 1 and 65535, got 70000`},
		{"port zero", "[[tenant]]\nname = \"demo\"\nport = 0\n[[tenant.route]]\npath = \"/\"\nmodule = \"fib.wasm\"\n",
			`gosledge.toml:3: tenant "demo": key "port": must be between 1 and 65535, got 0`},
		{"port not an integer", "[[tenant]]\nname = \"demo\"\nport = \"80\"\n[[tenant.route]]\npath = \"/\"\nmodule = \"fib.wasm\"\n",
			`gosledge.toml:3: tenant "demo": key "port": expected an integer, found string "80"`},
		{"workers 0", "[runtime]\nworkers = 0\n" + tenant,
			`gosledge.toml:2: runtime: key "workers": must be at least 1, got 0`},
		{"workers not an integer", "[runtime]\nworkers = 2.0\n" + tenant,
			`gosledge.toml:2: runtime: key "workers": expected an integer, found float 2`},
		{"preemption not a boolean", "[runtime]\npreemption = \"yes\"\n" + tenant,
			`gosledge.toml:2: runtime: key "preemption": expected true or false, found string "yes"`},
		{"percentile too low", tenant + "admission_percentile = 49\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "admission_percentile": must be between 50 and 99, got 49`},
		{"percentile too high", tenant + "admission_percentile = 100\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "admission_percentile": must be between 50 and 99, got 100`},
		{"negative max_queue", "[runtime]\nmax_queue = -1\n" + tenant,
			`gosledge.toml:2: runtime: key "max_queue": must be at least 0, got -1`},
		{"metrics without port", "[runtime]\nmetrics = \"127.0.0.1\"\n" + tenant,
			`gosledge.toml:2: runtime: key "metrics": want host:port, got "127.0.0.1"`},
		{"agent without port", "[runtime]\nworkers = 1\nagent = \"localhost\"\n" + tenant,
			`gosledge.toml:3: runtime: key "agent": want host:port, got "localhost"`},
		{"a moved tenant key says where it went", tenantOnly + "max_budget = \"2ms\"\n" + routeOnly,
			`gosledge.toml:4: tenant "demo": key "max_budget" moved to [tenant.policy.mtds] max_budget: a policy's settings are in its own table now`},
		{"reservation moved", tenantOnly + "reservation = 0.5\n" + routeOnly,
			`gosledge.toml:4: tenant "demo": key "reservation" moved to [tenant.policy.mtdbf] reservation: a policy's settings are in its own table now`},
		{"policy tables are not read by config", "[policy.mtds]\nmax_queued = \"any\"\n[policy.other]\nx = [1, 2]\n" + tenantOnly + "[tenant.policy.mtds]\nmax_budget = 3\n" + routeOnly,
			``},
		{"policy is not a table", "policy = \"edf\"\n" + tenant,
			`gosledge.toml:1: key "policy": expected tables [policy.NAME], one per policy, found string "edf"`},
		{"a policy's table is not a table", "policy.edf = 1\n" + tenant,
			`gosledge.toml:1: key "policy.edf": expected the table [policy.edf] of policy "edf"'s settings, found integer 1`},
		{"a tenant's policy table is not a table", tenantOnly + "policy.mtds = \"x\"\n" + routeOnly,
			`gosledge.toml:4: tenant "demo": key "policy.mtds": expected the table [tenant.policy.mtds] of policy "mtds"'s settings, found string "x"`},
		{"bad deadline miss action", tenant + "on_deadline_miss = \"skip\"\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "on_deadline_miss": want one of ["run" "drop"], got "skip"`},
		{"empty handler", tenant + "handler = \"\"\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "handler": must not be empty`},
		{"handler that is not one", tenant + "handler = \"_initialize\"\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "handler": "_initialize" is not a handler: name the export each request calls`},
		{"memory_limit not a page multiple", tenant + "memory_limit = \"100KiB\"\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "memory_limit": must be a multiple of 64KiB (the WebAssembly page size), got 100KiB`},
		{"memory_limit too large", tenant + "memory_limit = \"8GiB\"\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "memory_limit": must be at most 4GiB, got 8GiB`},
		{"memory_limit zero", tenant + "memory_limit = 0\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "memory_limit": must be positive, got 0`},
		{"cpu_limit zero", tenant + "cpu_limit = \"0s\"\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "cpu_limit": must be positive, got 0s`},
		{"route max_concurrency zero", tenant + "max_concurrency = 0\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "max_concurrency": must be at least 1, got 0`},
		{"tenant max_concurrency negative", tenantOnly + "max_concurrency = -1\n" + routeOnly,
			`gosledge.toml:4: tenant "demo": key "max_concurrency": must be at least 1, got -1`},
		{"preopen host directory missing", tenant + "preopen = { \"/data\" = \"./nope\" }\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "preopen" "/data": host directory "./nope" (` + mustAbs("nope") + `) does not exist`},
		{"preopen host path a file", tenant + "[tenant.route.preopen]\n\"/data\" = \"config.go\"\n",
			`gosledge.toml:9: tenant "demo" route "/fib": key "preopen" "/data": host path "config.go" (` + mustAbs("config.go") + `) is not a directory`},
		{"preopen guest path relative", tenant + "preopen = { \"data\" = \"testdata\", \"/x/../y\" = \"testdata\" }\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "preopen" "data": the guest path must be absolute and clean, such as "/data"` + "\n" +
				`gosledge.toml:8: tenant "demo" route "/fib": key "preopen" "/x/../y": the guest path must be absolute and clean, such as "/data"`},
		{"preopen not a table", tenant + "preopen = \"./static\"\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "preopen": expected a table of strings such as { "/data" = "./static" }, found string "./static"`},
		{"preopen value not a string", tenant + "preopen = { \"/data\" = 1 }\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "preopen" "/data": expected a string, found integer 1`},
		{"tracing endpoint not a URL", "[runtime.tracing]\nendpoint = \"127.0.0.1:4318\"\n" + tenant,
			`gosledge.toml:2: runtime tracing: key "endpoint": want an http:// or https:// URL such as "http://127.0.0.1:4318", got "127.0.0.1:4318"`},
		{"tracing sample_ratio above 1", "[runtime.tracing]\nsample_ratio = 2\n" + tenant,
			`gosledge.toml:2: runtime tracing: key "sample_ratio": must be between 0 and 1, got 2`},
		{"tracing typo", "[runtime.tracing]\nendpont = \"\"\n" + tenant,
			`gosledge.toml:2: runtime tracing: unknown key "endpont" (did you mean "endpoint"?)`},
		{"max_concurrency typo", tenant + "max_concurency = 2\n",
			`gosledge.toml:8: tenant "demo" route "/fib": unknown key "max_concurency" (did you mean "max_concurrency"?)`},
		{"empty policy", "[runtime]\npolicy = \"\"\n" + tenant,
			`gosledge.toml:2: runtime: key "policy": must not be empty`},
		{"listen with a port", "[runtime]\nlisten = \"127.0.0.1:80\"\n" + tenant,
			`gosledge.toml:2: runtime: key "listen": must be an IP address or a host name without a port, got "127.0.0.1:80"`},
		{"empty content type", tenant + "content_type = \"\"\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "content_type": must not be empty`},
		{"bad sha256", "[[plugin]]\nname = \"llf\"\npath = \"llf\"\nsha256 = \"abc\"\n" + tenant,
			`gosledge.toml:4: plugin "llf": key "sha256": must be 64 hexadecimal digits, got "abc"`},
		{"duplicate plugin", "[[plugin]]\nname = \"llf\"\npath = \"a\"\n[[plugin]]\nname = \"llf\"\npath = \"b\"\n" + tenant,
			`gosledge.toml:5: plugin "llf": key "name": duplicate plugin name, first defined on line 2`},
		{"no tenant", "[runtime]\n",
			`gosledge.toml: no [[tenant]] defined`},
		{"no route", "[[tenant]]\nname = \"demo\"\nport = 1\n",
			`gosledge.toml:1: tenant "demo": no [[tenant.route]] defined`},
		{"table instead of array of tables", "[tenant]\nname = \"demo\"\nport = 1\n",
			`gosledge.toml:1: key "tenant": expected an array of tables [[tenant]], found a table`},
		{"runtime not a table", "runtime = 1\n" + tenant,
			`gosledge.toml:1: key "runtime": expected a table [runtime], found integer 1`},
		{"inline array of routes", `
[[tenant]]
name = "demo"
port = 1
route = [
  { path = "/a", module = "fib.wasm" },
  { path = "/b", module = "fib.wasm",
    timeout = "1y" },
]
`, `gosledge.toml:8: tenant "demo" route "/b": key "timeout": invalid duration "1y"`},
		{"bad timeout stays one error", tenant + "timeout = \"0s\"\n",
			`gosledge.toml:8: tenant "demo" route "/fib": key "timeout": must be positive, got 0s`},
		{"several errors, in file order, in every tenant", `[runtime]
workers = -1
policy = ""

[[tenant]]
name = "a"
port = 10010
[[tenant.route]]
path = "/x"
module = "fib.wasm"
timeout = "10x"
[[tenant.route]]
path = "/y"
module = "fib.wasm"
memory_limit = "1000B"
bogus = true

[[tenant]]
name = "b"
port = 10010
[[tenant.route]]
path = "y"
module = "missing.wasm"
timeout = "1h"
relative_deadline = "10z"
`, `gosledge.toml:2: runtime: key "workers": must be at least 1, got -1
gosledge.toml:3: runtime: key "policy": must not be empty
gosledge.toml:11: tenant "a" route "/x": key "timeout": invalid duration "10x"
gosledge.toml:15: tenant "a" route "/y": key "memory_limit": must be a multiple of 64KiB (the WebAssembly page size), got 1000B
gosledge.toml:16: tenant "a" route "/y": unknown key "bogus"
gosledge.toml:20: tenant "b": key "port": port already used by the tenant on line 7
gosledge.toml:22: tenant "b" route "y": key "path": must start with "/", got "y"
gosledge.toml:23: tenant "b" route "y": key "module": open missing.wasm: file does not exist
gosledge.toml:25: tenant "b" route "y": key "relative_deadline": invalid duration "10z"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("gosledge.toml", []byte(tc.src), modules)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error:\n%v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want\n%s", tc.want)
			}
			if c != nil {
				t.Errorf("got a config with an error")
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/cache") // os.UserCacheDir on Unix
	t.Setenv("HOME", "/home/u")
	ucd, err := os.UserCacheDir()
	if err != nil {
		t.Skip("no user cache dir here:", err)
	}
	c, err := Parse("gosledge.toml", []byte(tenant+"[[tenant.route]]\npath = \"/t\"\nmodule = \"./lib/../fib.wasm\"\ntimeout = \"2s\"\n"), modules)
	if err != nil {
		t.Fatal(err)
	}
	wantRuntime := Runtime{
		Workers:               runtime.NumCPU(),
		Policy:                "fifo",
		Quantum:               time.Millisecond,
		Preemption:            true,
		CacheDir:              filepath.Join(ucd, "gosledge"),
		Listen:                "127.0.0.1",
		DrainTimeout:          10 * time.Second,
		ReadHeaderTimeout:     10 * time.Second,
		ReadTimeout:           time.Minute,
		IdleTimeout:           2 * time.Minute,
		MaxHeaderBytes:        64 << 10,
		MaxModuleLocals:       50000,
		MaxModuleFunctions:    1000000,
		MaxModuleDataSegments: 100000,
		MaxTableElements:      1 << 20,
		AdmissionHeadroom:     0.2,
		PluginFallback:        "fifo",
		PluginTimeout:         20 * time.Millisecond,
		Tracing:               Tracing{SampleRatio: 1, ServiceName: "gosledge"},
	}
	if c.Runtime != wantRuntime {
		t.Errorf("runtime:\n%+v\nwant\n%+v", c.Runtime, wantRuntime)
	}
	route := Route{
		Path:                "/fib",
		Module:              "fib.wasm",
		Wasm:                wasm,
		RelativeDeadline:    10 * time.Second,
		ExpectedExecution:   time.Millisecond,
		Timeout:             10 * time.Second,
		AdmissionPercentile: 70,
		OnDeadlineMiss:      "run",
		ContentType:         "text/plain",
		Interface:           InterfacePlain,
		MaxBody:             1 << 20,
		MemoryLimit:         64 << 20,
		Handler:             "handle",
	}
	short := route
	short.Path, short.Module = "/t", "./lib/../fib.wasm"
	short.Timeout, short.RelativeDeadline = 2*time.Second, 2*time.Second // relative_deadline follows timeout
	want := []Tenant{{Name: "demo", Port: 10010, Routes: []Route{route, short}}}
	if !reflect.DeepEqual(c.Tenants, want) {
		t.Errorf("tenants:\n%+v\nwant\n%+v", c.Tenants, want)
	}
	if c.File != "gosledge.toml" || c.Plugins != nil {
		t.Errorf("File %q, Plugins %v", c.File, c.Plugins)
	}
}

func TestValues(t *testing.T) {
	c, err := Parse("conf/gosledge.toml", []byte(`
[runtime]
workers = 3
policy = "llf"
quantum = "250us"
preemption = false
cache_dir = "cache"
listen = "::1"
[[plugin]]
name = "llf"
path = "./bin/llf-policy"
sha256 = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
[[plugin]]
name = "abs"
path = "/opt/abs"
[[tenant]]
name = "demo"
port = 65535
[[tenant.route]]
path = "/fib"
module = "lib/echo.wasm"
relative_deadline = "20ms"
expected_execution = "1.5ms"
admission_percentile = 99
content_type = "application/json"
timeout = "1s"
max_body = 100
memory_limit = 65536
[[tenant.route]]
path = "/b"
module = "lib/echo.wasm"
max_body = "1MB"
memory_limit = "4GiB"
[[tenant.route]]
path = "/c"
module = "lib/other.wasm"
max_body = "512 KiB"
memory_limit = "128KiB"
`), modules)
	if err != nil {
		t.Fatal(err)
	}
	wantRuntime := Runtime{Workers: 3, Policy: "llf", Quantum: 250 * time.Microsecond, Preemption: false,
		CacheDir: filepath.Join("conf", "cache"), Listen: "::1", DrainTimeout: 10 * time.Second, AdmissionHeadroom: 0.2,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		MaxModuleLocals: 50000, MaxModuleFunctions: 1000000, MaxModuleDataSegments: 100000, MaxTableElements: 1 << 20,
		PluginFallback: "fifo", PluginTimeout: 20 * time.Millisecond, Tracing: Tracing{SampleRatio: 1, ServiceName: "gosledge"}}
	if c.Runtime != wantRuntime {
		t.Errorf("runtime:\n%+v\nwant\n%+v", c.Runtime, wantRuntime)
	}
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	wantPlugins := []Plugin{
		{Name: "llf", Kind: KindProcess, Path: filepath.Join(cwd, "conf", "bin", "llf-policy"), SHA256: "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
			MemoryLimit: 64 << 20, written: "./bin/llf-policy"},
		{Name: "abs", Kind: KindProcess, Path: "/opt/abs", MemoryLimit: 64 << 20, written: "/opt/abs"},
	}
	if !reflect.DeepEqual(c.Plugins, wantPlugins) {
		t.Errorf("plugins:\n%+v\nwant\n%+v", c.Plugins, wantPlugins)
	}
	r := c.Tenants[0].Routes
	if r[0].RelativeDeadline != 20*time.Millisecond || r[0].ExpectedExecution != 1500*time.Microsecond ||
		r[0].AdmissionPercentile != 99 || r[0].ContentType != "application/json" || r[0].Timeout != time.Second ||
		r[0].MaxBody != 100 || r[0].MemoryLimit != 65536 {
		t.Errorf("route 0: %+v", r[0])
	}
	if r[1].MaxBody != 1_000_000 || r[1].MemoryLimit != 4<<30 || r[2].MaxBody != 512<<10 || r[2].MemoryLimit != 128<<10 {
		t.Errorf("sizes: %d %d %d %d", r[1].MaxBody, r[1].MemoryLimit, r[2].MaxBody, r[2].MemoryLimit)
	}
	if string(r[0].Wasm) != string(modules["lib/echo.wasm"].Data) || string(r[2].Wasm) != string(modules["lib/other.wasm"].Data) {
		t.Errorf("wrong module bytes")
	}
	if !c.HasPlugin("abs") || c.HasPlugin("fifo") {
		t.Errorf("HasPlugin")
	}
}

func TestCacheDirDisabled(t *testing.T) {
	c, err := Parse("x.toml", []byte("[runtime]\ncache_dir = \"-\"\n"+tenant), modules)
	if err != nil {
		t.Fatal(err)
	}
	if c.Runtime.CacheDir != "-" {
		t.Errorf("cache_dir %q", c.Runtime.CacheDir)
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64 // -1: error
	}{
		{"0", 0}, {"100", 100}, {"100B", 100}, {"512KiB", 512 << 10}, {"512 KiB", 512 << 10},
		{"1MiB", 1 << 20}, {"64MiB", 64 << 20}, {"1GiB", 1 << 30},
		{"1KB", 1000}, {"1kB", 1000}, {"1MB", 1_000_000}, {"1GB", 1_000_000_000},
		{"", -1}, {"MiB", -1}, {"1Mb", -1}, {"1mib", -1}, {"1.5MiB", -1}, {"-1", -1}, {" 1", -1},
		{"1  MiB", -1}, {"1MiB ", -1}, {"1 ", -1}, {"99999999999999999999", -1}, {"9999999999GiB", -1},
	} {
		got, err := parseSize(tc.in)
		if tc.want < 0 {
			if err == nil {
				t.Errorf("parseSize(%q) = %d, want an error", tc.in, got)
			}
		} else if err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v, want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestReference(t *testing.T) {
	// As shipped: its module and plugin are files of this repository.
	c, err := Load("reference.toml")
	if err != nil {
		t.Fatalf("reference.toml does not load:\n%v", err)
	}
	if err := c.CheckPlugins(); err != nil {
		t.Errorf("reference.toml's plugin: %v", err)
	}
	// Every key is documented, and where a key has a fixed default, the
	// reference shows it.
	var walk func(rv reflect.Value, path []string)
	walk = func(rv reflect.Value, path []string) {
		for _, f := range fieldsOf(rv.Type()) {
			kp := append(path[:len(path):len(path)], f.key)
			if !c.has(kp...) {
				t.Errorf("reference.toml lacks %s", strings.Join(kp, "."))
			}
			fv := rv.Field(f.index)
			switch {
			case fv.Kind() == reflect.Struct:
				walk(fv, kp)
			case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct:
				if fv.Len() == 0 {
					t.Errorf("reference.toml has no %s", strings.Join(kp, "."))
					continue
				}
				walk(fv.Index(0), append(kp, "0"))
			case f.def != "":
				def := reflect.New(fv.Type()).Elem()
				setDefault(def, f)
				if !def.Equal(fv) {
					t.Errorf("reference.toml: %s = %v, but its default is %s", strings.Join(kp, "."), fv, f.def)
				}
			}
		}
	}
	walk(reflect.ValueOf(c).Elem(), nil)
}

func TestWhere(t *testing.T) {
	src := "[runtime]\npolicy = \"fifo\"\n" + tenant + "[[tenant.route]]\npath = \"/b\"\nmodule = \"fib.wasm\"\ntimeout = \"1s\"\n"
	c, err := Parse("gosledge.toml", []byte(src), modules)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key  []string
		want string
	}{
		{[]string{"runtime", "policy"}, "gosledge.toml:2"},
		{[]string{"runtime"}, "gosledge.toml:1"},
		{[]string{"tenant", "0"}, "gosledge.toml:4"},
		{[]string{"tenant", "0", "port"}, "gosledge.toml:6"},
		{[]string{"tenant", "0", "route", "0", "module"}, "gosledge.toml:9"},
		{[]string{"tenant", "0", "route", "1", "timeout"}, "gosledge.toml:13"},
		{[]string{"tenant", "0", "route", "0", "timeout"}, "gosledge.toml"}, // default
		{[]string{"runtime", "workers"}, "gosledge.toml"},
		{[]string{"tenant", "5"}, "gosledge.toml"},
		{nil, "gosledge.toml"},
	} {
		if got := c.Where(tc.key...); got != tc.want {
			t.Errorf("Where(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
	// A Config built by hand has no positions.
	if got := (&Config{File: "x.toml"}).Where("runtime", "policy"); got != "x.toml" {
		t.Errorf("Where on a literal Config = %q", got)
	}
}

func TestOverride(t *testing.T) {
	parse := func() *Config {
		c, err := Parse("gosledge.toml", []byte("[runtime]\nworkers = 2\npolicy = \"fifo\"\nquantum = \"1ms\"\n"+tenant), modules)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	c := parse()
	if err := c.Override(0, "", 0); err != nil {
		t.Fatal(err)
	}
	if c.Runtime.Workers != 2 || c.Runtime.Policy != "fifo" || c.Runtime.Quantum != time.Millisecond {
		t.Errorf("zero values changed the runtime: %+v", c.Runtime)
	}
	if got := c.Where("runtime", "policy"); got != "gosledge.toml:3" {
		t.Errorf("Where(policy) = %q", got)
	}

	if err := c.Override(8, "llf", 5*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if c.Runtime.Workers != 8 || c.Runtime.Policy != "llf" || c.Runtime.Quantum != 5*time.Millisecond {
		t.Errorf("not overridden: %+v", c.Runtime)
	}
	if got := c.Where("runtime", "policy"); got != "command line" {
		t.Errorf("Where(policy) after Override = %q", got)
	}

	c = parse()
	if err := c.Override(0, "edf", 0); err != nil {
		t.Fatal(err)
	}
	if c.Runtime.Policy != "edf" || c.Runtime.Workers != 2 || c.Where("runtime", "workers") != "gosledge.toml:2" {
		t.Errorf("one override changed others: %+v", c.Runtime)
	}

	c = parse()
	err := c.Override(-1, "llf", -time.Millisecond)
	want := "command line: workers: must be at least 1, got -1\ncommand line: quantum: must be positive, got -1ms"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
	if c.Runtime.Workers != 2 || c.Runtime.Policy != "fifo" || c.Runtime.Quantum != time.Millisecond {
		t.Errorf("a failed Override changed the runtime: %+v", c.Runtime)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("mods/fib.wasm", "fib")
	write("shared.wasm", "shared")
	write("abs.wasm", "abs")
	write("etc/gosledge.toml", `
[runtime]
cache_dir = "../cache"
[[plugin]]
name = "llf"
path = "bin/llf"
[[tenant]]
name = "demo"
port = 10010
[[tenant.route]]
path = "/fib"
module = "../mods/fib.wasm"
[[tenant.route]]
path = "/shared"
module = "../shared.wasm"
[[tenant.route]]
path = "/abs"
module = "`+filepath.ToSlash(filepath.Join(dir, "abs.wasm"))+`"
`)
	cfgPath := filepath.Join(dir, "etc", "gosledge.toml")
	c, err := Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Tenants[0].Routes
	if string(r[0].Wasm) != "fib" || string(r[1].Wasm) != "shared" || string(r[2].Wasm) != "abs" {
		t.Errorf("modules: %q %q %q", r[0].Wasm, r[1].Wasm, r[2].Wasm)
	}
	if r[0].Module != "../mods/fib.wasm" {
		t.Errorf("Module %q, want it as written", r[0].Module)
	}
	if want := filepath.Join(dir, "etc", "bin", "llf"); c.Plugins[0].Path != want {
		t.Errorf("plugin path %q, want %q", c.Plugins[0].Path, want)
	}
	if want := filepath.Join(dir, "cache"); c.Runtime.CacheDir != want {
		t.Errorf("cache_dir %q, want %q", c.Runtime.CacheDir, want)
	}
	if c.File != cfgPath || c.Where("tenant", "0", "route", "1", "module") != cfgPath+":15" {
		t.Errorf("File %q, Where %q", c.File, c.Where("tenant", "0", "route", "1", "module"))
	}

	write("etc/bad.toml", "[[tenant]]\nname = \"demo\"\nport = 1\n[[tenant.route]]\npath = \"/\"\nmodule = \"nope.wasm\"\n")
	bad := filepath.Join(dir, "etc", "bad.toml")
	_, err = Load(bad)
	want := bad + ":6: tenant \"demo\" route \"/\": key \"module\": open " + filepath.Join(dir, "etc", "nope.wasm") + ": "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %v, want prefix %q", err, want)
	}

	if _, err := Load(filepath.Join(dir, "missing.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v", err)
	}
}

// mustAbs is name, in the test's working directory, made absolute.
func mustAbs(name string) string {
	abs, err := filepath.Abs(name)
	if err != nil {
		panic(err)
	}
	return abs
}

// TestPreopenRelativeToConfig: a preopen's host path is resolved against
// the config file's directory, not the working directory.
func TestPreopenRelativeToConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "static"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := Parse(filepath.Join(dir, "gosledge.toml"), []byte(tenant+"preopen = { \"/data\" = \"./static\" }\n"), modules)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Tenants[0].Routes[0].Preopen["/data"], filepath.Join(dir, "static"); got != want {
		t.Errorf("preopen /data = %q, want %q", got, want)
	}
}
