package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is a parsed and validated config file. reference.toml documents
// every key. The struct tags drive decoding (see decode.go): adding a key
// is one tagged field here plus one check in validate.go.
type Config struct {
	File    string   `toml:"-"`       // file name used in error messages
	Runtime Runtime  `toml:"runtime"` // [runtime]
	Plugins []Plugin `toml:"plugin"`  // [[plugin]]
	Tenants []Tenant `toml:"tenant"`  // [[tenant]], at least one
	// Policies are the [policy.NAME] tables: each policy's own settings.
	Policies PolicyTables `toml:"policy"`

	pos        map[string]loc  // pathKey(indexed key path) → where it is
	overridden map[string]bool // pathKey(key path) → set by Override
}

// Runtime is [runtime]: the settings shared by every tenant.
type Runtime struct {
	// Workers is how many sandboxes may run Wasm at once; default
	// runtime.NumCPU().
	Workers int `toml:"workers"`
	// Policy names a built-in policy or a [[plugin]]. Config only checks
	// that it is not empty: the core resolves it (and reports with Where).
	Policy string `toml:"policy" default:"fifo"`
	// Quantum is how long a sandbox may hold a worker before the policy is
	// asked whether another should run.
	Quantum    time.Duration `toml:"quantum" default:"1ms"`
	Preemption bool          `toml:"preemption" default:"true"`
	// CacheDir holds compiled modules: "-" disables the disk cache, ""
	// (the default) is os.UserCacheDir()/gosledge, or "-" if there is no
	// user cache directory. A relative path is relative to the config
	// file's directory.
	CacheDir string `toml:"cache_dir"`
	// Listen is the address (no port) that every tenant's port binds to.
	Listen string `toml:"listen" default:"127.0.0.1"`
	// MaxQueue bounds how many requests may wait for a worker; past it a
	// request is refused with 429. 0 means no bound.
	MaxQueue int `toml:"max_queue"`
	// DrainTimeout is how long a stopping server lets requests in flight
	// finish before it kills them.
	DrainTimeout time.Duration `toml:"drain_timeout" default:"10s"`
	// The limits every tenant listener puts on a client (net/http's):
	// ReadHeaderTimeout to send a request's headers (slowloris),
	// ReadTimeout to send the whole request with its body (a body a byte
	// a second), IdleTimeout for a keep-alive connection between
	// requests, MaxHeaderBytes for the request line and headers (past it:
	// 431).
	ReadHeaderTimeout time.Duration `toml:"read_header_timeout" default:"10s"`
	ReadTimeout       time.Duration `toml:"read_timeout" default:"1m"`
	IdleTimeout       time.Duration `toml:"idle_timeout" default:"2m"`
	MaxHeaderBytes    int64         `toml:"max_header_bytes,size" default:"64KiB"`
	// Limits on a module, checked when it is loaded (at start and on
	// reload) before anything compiles it, so one bad module cannot take
	// the server down: locals declared by one function, functions,
	// data segments, and the elements of any table (a table.grow past
	// it fails in the guest).
	MaxModuleLocals       int `toml:"max_module_locals" default:"50000"`
	MaxModuleFunctions    int `toml:"max_module_functions" default:"1000000"`
	MaxModuleDataSegments int `toml:"max_module_data_segments" default:"100000"`
	MaxTableElements      int `toml:"max_table_elements" default:"1048576"`
	// Metrics is the host:port of the Prometheus /metrics, /healthz and
	// /readyz listener; "" turns it off.
	Metrics string `toml:"metrics"`
	// Agent is the host:port of a TCP listener that speaks HAProxy's
	// agent-check protocol: it answers the instance's state and a weight
	// from its admission headroom (README "Running several instances");
	// "" turns it off.
	Agent string `toml:"agent"`
	// Pprof mounts net/http/pprof on the metrics listener.
	Pprof bool `toml:"pprof"`
	// PluginFallback is the built-in policy that takes over, with every
	// task, when a policy plugin fails (a bad answer, a call past
	// PluginTimeout, the process exiting).
	PluginFallback string        `toml:"plugin_fallback" default:"fifo"`
	PluginTimeout  time.Duration `toml:"plugin_timeout" default:"20ms"`
	// Admission turns on admission control for policies that do not do
	// their own: a request costs estimate/relative_deadline of a worker and
	// is refused (429) if the admitted total would pass
	// workers × (1 − AdmissionHeadroom).
	Admission         bool    `toml:"admission"`
	AdmissionHeadroom float64 `toml:"admission_headroom" default:"0.2"`
	// PerfLog is a file that receives one line per finished request: CSV
	// for a .csv name, JSON lines otherwise. Relative to the config file.
	PerfLog string `toml:"perf_log"`
	// Tracing is [runtime.tracing]: OpenTelemetry spans per request.
	Tracing Tracing `toml:"tracing"`
}

// Tracing is [runtime.tracing]: where OpenTelemetry spans go, and how many
// requests get them. Off unless Endpoint is set.
type Tracing struct {
	// Endpoint is the OTLP/HTTP (protobuf) traces URL of a collector,
	// "http://host:4318" (spans go to its /v1/traces) or a URL with its
	// own path, used as is; "" (the default) turns tracing off.
	Endpoint string `toml:"endpoint"`
	// SampleRatio is the share of requests traced, 0..1, unless the
	// client's traceparent decides (parent-based sampling).
	SampleRatio float64 `toml:"sample_ratio" default:"1"`
	// ServiceName is the service.name resource attribute.
	ServiceName string `toml:"service_name" default:"gosledge"`
}

// Plugin is a [[plugin]]: a policy served by an external program, or by a
// WebAssembly module run inside the server.
type Plugin struct {
	Name string `toml:"name,required,label"`
	// Kind is KindProcess (a program speaking sdk/plugin's protocol) or
	// KindWasm (a module speaking sdk/wasmpolicy's ABI).
	Kind string `toml:"kind" default:"process"`
	// Path is the program or module, made absolute: a relative path in the
	// file is resolved against the config file's directory, never looked
	// up in $PATH. CheckPlugins checks that it is an executable file (a
	// module: a file that starts like one).
	Path string `toml:"path,required"`
	// SHA256 is the file's expected digest in hex, or "" to not check.
	SHA256 string `toml:"sha256"`
	// MemoryLimit caps a wasm policy's linear memory, bytes; a multiple
	// of 64KiB, at most 4GiB. A process is not limited.
	MemoryLimit int64 `toml:"memory_limit,size" default:"64MiB"`

	written string // Path as written in the file, for messages
}

// The kinds of [[plugin]].
const (
	KindProcess = "process"
	KindWasm    = "wasm"
)

// Tenant is a [[tenant]]: a named set of routes served on one port.
type Tenant struct {
	Name string `toml:"name,required,label"`
	Port int    `toml:"port,required"`
	// Policies are the tenant's policy.NAME tables ([tenant.policy.NAME]
	// after its [[tenant]]): what a policy knows of the tenant, e.g. an
	// mtds budget or an mtdbf reservation.
	Policies PolicyTables `toml:"policy"`
	// MaxConcurrency caps the tenant's requests in flight (from the
	// route match to the answer, over all its routes); past it a request
	// is answered 429 at once. 0, the default, means no cap.
	MaxConcurrency int     `toml:"max_concurrency"`
	Routes         []Route `toml:"route"` // [[tenant.route]], at least one
}

// PolicyTables are tables of policies' own settings, by policy name.
// Config does not read them: the policy of that name decodes and checks
// its table (sdk.Options), and the core reports what it rejects with the
// key's file:line.
type PolicyTables map[string]map[string]any

// Options returns the named policy's table as TOML text, "" if there is
// none: the form a policy receives it in.
func (p PolicyTables) Options(name string) (string, error) {
	t, ok := p[name]
	if !ok {
		return "", nil
	}
	var b strings.Builder
	if err := toml.NewEncoder(&b).Encode(t); err != nil {
		return "", fmt.Errorf("policy table %q: %w", name, err)
	}
	return b.String(), nil
}

// Route is a [[tenant.route]]: one path of a tenant and its function.
type Route struct {
	Path   string `toml:"path,required,label"` // starts with "/"
	Module string `toml:"module,required"`     // as written in the file
	Wasm   []byte `toml:"-"`                   // the module's bytes, read at load time

	// RelativeDeadline is the deadline the policy sees, counted from
	// arrival; default Timeout.
	RelativeDeadline  time.Duration `toml:"relative_deadline"`
	ExpectedExecution time.Duration `toml:"expected_execution" default:"1ms"`
	// Timeout is when the request is killed, counted from arrival. It
	// may be shorter than RelativeDeadline.
	Timeout time.Duration `toml:"timeout" default:"10s"`

	AdmissionPercentile int `toml:"admission_percentile" default:"70"` // 50..99
	// OnDeadlineMiss is what happens to a request whose deadline passed
	// before it first ran: "run" it anyway, or "drop" it with 408.
	OnDeadlineMiss string `toml:"on_deadline_miss" default:"run"`
	ContentType    string `toml:"content_type" default:"text/plain"`
	// Interface is the contract between the request and the function:
	// InterfacePlain or InterfaceWAGI (see interface.go).
	Interface string `toml:"interface" default:"plain"`

	MaxBody     int64 `toml:"max_body,size" default:"1MiB"`      // request body limit, bytes
	MemoryLimit int64 `toml:"memory_limit,size" default:"64MiB"` // linear memory, bytes; a multiple of 64KiB, at most 4GiB

	// CPULimit is the CPU time (time holding a worker, as the scheduler
	// charges it) after which a request is killed at its next safepoint
	// and answered 504; 0, the default, means none: only Timeout applies.
	CPULimit time.Duration `toml:"cpu_limit"`
	// MaxConcurrency caps the route's requests in flight, as the tenant's
	// does; 0, the default, means no cap.
	MaxConcurrency int `toml:"max_concurrency"`

	// Preopen maps a guest path ("/data") to a host directory the
	// function may read, and nothing else: read-only, no way out of it
	// through "..", absolute paths or symlinks. Host paths are made
	// absolute against the config file's directory; validation checks
	// that each is a directory. Default: none (no filesystem at all).
	Preopen map[string]string `toml:"preopen"`

	preopenWritten map[string]string // Preopen's host paths as written, for messages
	// Handler is the export a reactor module (no _start, an
	// _initialize) serves each request with; commands ignore it.
	Handler string `toml:"handler" default:"handle"`
}

// Load reads and validates a config file; modules are read relative to its
// directory. Errors name the file as path is written.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, dirFS(filepath.Dir(path)))
}

// Parse validates data named name; module paths are read from fsys (for
// the embedded default config and tests), or from name's directory if fsys
// is nil. Other relative paths (plugin paths, cache_dir) are resolved
// against name's directory.
//
// Every problem is reported, one per line in file order, as
//
//	name:line: tenant "demo" route "/fib": key "timeout": invalid duration "10x"
//
// A TOML syntax error (including a duplicate key or table) stops parsing
// and is reported alone.
func Parse(name string, data []byte, fsys fs.FS) (*Config, error) {
	dir := filepath.Dir(name)
	if fsys == nil {
		fsys = dirFS(dir)
	}
	var m map[string]any
	if _, err := toml.Decode(string(data), &m); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			line := errorLine(data, pe.Position)
			return nil, fmt.Errorf("%s:%d: %s", name, line, parseMessage(data, pe.Message, line))
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}

	c := &Config{File: name, pos: locate(string(data)).pos}
	d := &decoder{file: name, pos: c.pos, scope: map[string]string{}, bad: map[string]bool{}}
	d.table(m, reflect.ValueOf(c).Elem(), nil)
	c.defaults(dir)
	c.validate(d)
	c.readModules(d, fsys)
	if err := d.probs.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// errorLine is the line of a syntax error. toml counts a newline that
// is itself the error (as in "[runtime⏎") on the next line; the offset
// tells the line the operator must fix.
func errorLine(data []byte, p toml.Position) int {
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // as toml does
	if p.Start < 0 || p.Start > len(data) {
		return p.Line
	}
	return 1 + bytes.Count(data[:p.Start], []byte("\n"))
}

// defaults sets the defaults that a default tag cannot express.
func (c *Config) defaults(dir string) {
	if !c.has("runtime", "workers") {
		c.Runtime.Workers = runtime.NumCPU()
	}
	switch cd := c.Runtime.CacheDir; {
	case cd == "":
		c.Runtime.CacheDir = "-"
		if ucd, err := os.UserCacheDir(); err == nil {
			c.Runtime.CacheDir = filepath.Join(ucd, "gosledge")
		}
	case cd != "-":
		c.Runtime.CacheDir = resolve(dir, cd)
	}
	if c.Runtime.PerfLog != "" {
		c.Runtime.PerfLog = resolve(dir, c.Runtime.PerfLog)
	}
	for i := range c.Plugins {
		if p := &c.Plugins[i]; p.Path != "" {
			p.written = p.Path
			p.Path = resolveProgram(dir, p.Path)
		}
	}
	for ti := range c.Tenants {
		for ri := range c.Tenants[ti].Routes {
			r := &c.Tenants[ti].Routes[ri]
			if !c.has("tenant", strconv.Itoa(ti), "route", strconv.Itoa(ri), "relative_deadline") {
				r.RelativeDeadline = r.Timeout
			}
			r.resolvePreopens(dir)
		}
	}
}

// readModules reads every route's module from fsys. Routes naming the same
// module share one slice.
func (c *Config) readModules(d *decoder, fsys fs.FS) {
	read := map[string][]byte{}
	for ti := range c.Tenants {
		for ri := range c.Tenants[ti].Routes {
			r := &c.Tenants[ti].Routes[ri]
			if r.Module == "" {
				continue // missing or invalid: already reported
			}
			name := path.Clean(filepath.ToSlash(r.Module))
			wasm, ok := read[name]
			if !ok {
				var err error
				if wasm, err = fs.ReadFile(fsys, name); err != nil {
					d.problemAt(routePath(ti, ri, "module"), routePath(ti, ri), "key %q: %v", "module", err)
					continue
				}
				read[name] = wasm
			}
			r.Wasm = wasm
		}
	}
}

func routePath(ti, ri int, key ...string) []string {
	return append([]string{"tenant", strconv.Itoa(ti), "route", strconv.Itoa(ri)}, key...)
}

// resolve makes a relative file path relative to dir.
func resolve(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, filepath.FromSlash(p))
}

// resolveProgram resolves a program's path like resolve, then makes it
// absolute: exec.Command looks a name without a separator up in $PATH, and
// filepath.Join(".", "./true") is "true", which would run /usr/bin/true
// instead of the file next to a config in the working directory.
func resolveProgram(dir, p string) string {
	p = resolve(dir, p)
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	if filepath.IsAbs(p) {
		return p
	}
	// No working directory to make it absolute: "./" still keeps $PATH out.
	return "." + string(filepath.Separator) + p
}

// has reports whether the key at path is written in the file.
func (c *Config) has(path ...string) bool {
	_, ok := c.pos[pathKey(path...)]
	return ok
}

// Where returns "file:line" of a key, e.g. c.Where("runtime", "policy") or
// c.Where("tenant", "0", "route", "1", "timeout") (indices count from 0),
// or just the file name if the key is not in the file (it has its default
// value). A key set by Override is at "command line".
func (c *Config) Where(key ...string) string {
	k := pathKey(key...)
	if c.overridden[k] {
		return "command line"
	}
	if l, ok := c.pos[k]; ok && len(key) > 0 {
		return fmt.Sprintf("%s:%d", c.File, l.line)
	}
	return c.File
}

// Override applies command-line settings after Parse; a zero value means
// not set. It validates as Parse does and changes nothing if any value is
// invalid.
func (c *Config) Override(workers int, policy string, quantum time.Duration) error {
	var errs []error
	check := func(key string, set bool, err error) {
		if set && err != nil {
			errs = append(errs, fmt.Errorf("command line: %s: %w", key, err))
		}
	}
	check("workers", workers != 0, checkWorkers(workers))
	check("quantum", quantum != 0, positive(quantum))
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if c.overridden == nil {
		c.overridden = map[string]bool{}
	}
	if workers != 0 {
		c.Runtime.Workers = workers
		c.overridden[pathKey("runtime", "workers")] = true
	}
	if policy != "" {
		c.Runtime.Policy = policy
		c.overridden[pathKey("runtime", "policy")] = true
	}
	if quantum != 0 {
		c.Runtime.Quantum = quantum
		c.overridden[pathKey("runtime", "quantum")] = true
	}
	return nil
}

// dirFS reads files relative to a directory, like os.DirFS, but also
// accepts absolute paths and paths that leave the directory ("../x.wasm"):
// an operator's config may point anywhere.
type dirFS string

func (d dirFS) Open(name string) (fs.File, error)    { return os.Open(resolve(string(d), name)) }
func (d dirFS) ReadFile(name string) ([]byte, error) { return os.ReadFile(resolve(string(d), name)) }

// PluginNames lists the [[plugin]] names, in file order.
func (c *Config) PluginNames() []string {
	names := make([]string, len(c.Plugins))
	for i, p := range c.Plugins {
		names[i] = p.Name
	}
	return names
}

// HasPlugin reports whether a [[plugin]] is named name.
func (c *Config) HasPlugin(name string) bool {
	for _, p := range c.Plugins {
		if p.Name == name {
			return true
		}
	}
	return false
}
