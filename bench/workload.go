package bench

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/examples"
)

// Arrival processes.
const (
	Constant = "constant" // evenly spaced requests
	Poisson  = "poisson"  // exponentially distributed gaps, seeded
)

// Workload defaults, as documented in examples/workloads/README.md.
const (
	DefaultDuration = 10 * time.Second
	DefaultWarmup   = time.Second
	DefaultTimeout  = 30 * time.Second
	DefaultSeed     = 1
)

// maxHits bounds rate × (warm-up + duration) of one run: every arrival
// time is computed up front.
const maxHits = 10_000_000

// maxRoutes bounds the mix (a route choice is stored in 16 bits).
const maxRoutes = 1000

// Workload is a parsed and validated workload file.
type Workload struct {
	// Name names the report and its results directory; default: the
	// file's base name without extension.
	Name string
	// File is the workload file's name as given, for messages.
	File string
	// Config is the serve config's path, resolved against the workload
	// file's directory, or "" for the embedded default config.
	Config   string
	Duration time.Duration // measured time of each run
	Warmup   time.Duration // sent before the measured time, then discarded
	Seed     uint64
	Workers  int           // overrides the serve config's runtime.workers when > 0
	Timeout  time.Duration // client-side limit per request; no answer by then counts as "other"
	Process  string        // Constant, Poisson or Trace
	Rates    []float64     // offered load in req/s, ascending; more than one is a sweep
	// TraceFile, with Process Trace, is the trace (see Trace), resolved
	// against the workload file's directory; Rates then holds its mean
	// rate over warm-up + duration.
	TraceFile string
	Routes    []Route
	Costs     Costs // the simulator's model of the runtime's own costs
}

// Costs are what the real runtime spends that a simulated request does
// not ask for ([sim] in a workload file; defaults measured, see
// RATIONALE.md "The simulator").
type Costs struct {
	// Safepoint is the interval between a running sandbox's yields: a
	// quantum's end or a raise takes effect at the next one.
	Safepoint time.Duration
	// Switch is the worker's time from one sandbox's grant to it running.
	Switch time.Duration
	// Start is a sandbox's first start: instantiation and teardown.
	Start time.Duration
}

// DefaultCosts are measured on the real runtime (RATIONALE.md).
var DefaultCosts = Costs{Safepoint: 20 * time.Microsecond, Switch: 10 * time.Microsecond, Start: 18 * time.Microsecond}

// Route is one entry of a workload's mix.
type Route struct {
	Name   string // in reports; default tenant + path, e.g. "demo/fib"
	Tenant string
	Path   string
	Weight float64 // relative share of requests, > 0
	Body   string  // request body: the function's stdin
	// Deadline is the route's relative_deadline in the serve config: a
	// 200 answered later than this after its intended send time is a
	// deadline miss.
	Deadline time.Duration
	// Service is the simulator's model of one request's CPU time (key
	// "service"); nil if the workload gives none.
	Service *Service
	// Timeout and DropLate are the serve config's timeout and
	// on_deadline_miss = "drop" of the route.
	Timeout  time.Duration
	DropLate bool
}

// ServeConfig parses a fresh copy of the workload's serve config; callers
// may change it.
func (w *Workload) ServeConfig() (*config.Config, error) {
	if w.Config == "" {
		return examples.DefaultConfig()
	}
	return config.Load(w.Config)
}

// LoadWorkload reads and validates a workload file, and the serve config
// it names.
func LoadWorkload(path string) (*Workload, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseWorkload(path, data)
}

// ParseWorkload validates data, a workload file named name; its serve
// config is resolved against name's directory. Every problem is reported,
// one per line in file order, as
//
//	bimodal.toml:14: route "short": key "weight": must be positive, got -1
func ParseWorkload(name string, data []byte) (*Workload, error) {
	var m map[string]any
	if _, err := toml.Decode(string(data), &m); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s", name, syntaxLine(data, pe.Position), pe.Message)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := &parser{file: name, lines: config.KeyLines(string(data))}
	w := p.workload(m)
	if err := p.err(); err != nil {
		return nil, err
	}
	return w, nil
}

// syntaxLine is the line of a syntax error: toml counts a newline that is
// itself the error on the next line (as core/config does).
func syntaxLine(data []byte, pos toml.Position) int {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if pos.Start < 0 || pos.Start > len(data) {
		return pos.Line
	}
	return 1 + bytes.Count(data[:pos.Start], []byte("\n"))
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (p *parser) workload(m map[string]any) *Workload {
	top := p.table(m, nil, "")
	w := &Workload{File: p.file, Duration: DefaultDuration, Warmup: DefaultWarmup, Timeout: DefaultTimeout, Seed: DefaultSeed, Process: Poisson, Costs: DefaultCosts}

	w.Name = strings.TrimSuffix(filepath.Base(p.file), filepath.Ext(p.file))
	if s, ok := top.str("name"); ok {
		if !nameRE.MatchString(s) {
			top.bad("name", "want letters, digits, '.', '_' or '-', got %q", s)
		}
		w.Name = s
	}
	if s, ok := top.str("config"); ok && s != "" {
		w.Config = s
		if !filepath.IsAbs(s) {
			w.Config = filepath.Join(filepath.Dir(p.file), filepath.FromSlash(s))
		}
	}
	if d, ok := top.duration("duration"); ok {
		top.check("duration", positive(d))
		w.Duration = d
	}
	if d, ok := top.duration("warmup"); ok {
		if d < 0 {
			top.bad("warmup", "must not be negative, got %s", d)
		}
		w.Warmup = d
	}
	if d, ok := top.duration("timeout"); ok {
		top.check("timeout", positive(d))
		w.Timeout = d
	}
	if n, ok := top.integer("seed"); ok {
		w.Seed = uint64(n)
	}
	if n, ok := top.integer("workers"); ok {
		if n < 1 || n > 1024 {
			top.bad("workers", "want 1 to 1024, got %d", n)
		}
		w.Workers = int(n)
	}

	arr := top.sub("arrival", "arrival")
	if s, ok := arr.str("process"); ok {
		if s != Constant && s != Poisson {
			arr.bad("process", "want %q or %q, got %q", Constant, Poisson, s)
		}
		w.Process = s
	}
	rate, hasRate := arr.number("rate")
	rates, hasRates := arr.numbers("rates")
	trace, hasTrace := arr.str("trace")
	switch {
	case hasTrace && (hasRate || hasRates || w.Process != Poisson):
		arr.bad("trace", "a trace is the whole arrival process: no process, rate or rates with it")
	case hasTrace:
		w.Process, w.TraceFile = Trace, trace
		if !filepath.IsAbs(trace) {
			w.TraceFile = filepath.Join(filepath.Dir(p.file), filepath.FromSlash(trace))
		}
	case hasRate && hasRates:
		arr.bad("rates", "set rate or rates, not both")
	case hasRate:
		arr.check("rate", positiveRate(rate))
		w.Rates = []float64{rate}
	case hasRates:
		for i, r := range rates {
			if err := positiveRate(r); err != nil {
				arr.badAt([]string{"rates", strconv.Itoa(i)}, "rates", "%v", err)
			}
		}
		if len(rates) == 0 {
			arr.bad("rates", "empty")
		}
		slices.Sort(rates)
		w.Rates = slices.Compact(rates)
	case !arr.isBad("rate") && !arr.isBad("rates"):
		arr.problem("missing key %q (or %q, a list of rates to sweep, or %q, a trace file)", "rate", "rates", "trace")
	}
	if span := (w.Warmup + w.Duration).Seconds(); len(w.Rates) > 0 && slices.Max(w.Rates)*span > maxHits {
		arr.problem("%g req/s for %s is more than %d requests a run", slices.Max(w.Rates), w.Warmup+w.Duration, maxHits)
	}

	routes := top.array("route", "route")
	if len(routes) == 0 && !top.isBad("route") {
		top.problem("no [[route]] defined")
	}
	if len(routes) > maxRoutes {
		top.problem("%d routes; at most %d", len(routes), maxRoutes)
	}
	for _, rt := range routes {
		r := Route{Weight: 1}
		r.Tenant, _ = rt.str("tenant")
		r.Path, _ = rt.str("path")
		if r.Path != "" && !strings.HasPrefix(r.Path, "/") {
			rt.bad("path", "must start with \"/\", got %q", r.Path)
		}
		r.Body, _ = rt.str("body")
		if wt, ok := rt.number("weight"); ok {
			if !(wt > 0) || math.IsInf(wt, 0) {
				rt.bad("weight", "must be positive, got %v", wt)
			}
			r.Weight = wt
		}
		r.Name, _ = rt.str("name")
		if sv, ok := rt.str("service"); ok {
			m, err := parseService(sv, filepath.Dir(p.file))
			if err != nil {
				rt.bad("service", "%v", err)
			}
			r.Service = m
		}
		w.Routes = append(w.Routes, r)
	}
	sim := top.sub("sim", "sim")
	for key, d := range map[string]*time.Duration{"safepoint": &w.Costs.Safepoint, "switch": &w.Costs.Switch, "start": &w.Costs.Start} {
		if v, ok := sim.duration(key); ok {
			if v < 0 {
				sim.bad(key, "must not be negative, got %s", v)
			}
			*d = v
		}
	}
	if w.Costs.Safepoint <= 0 && !sim.isBad("safepoint") {
		sim.bad("safepoint", "must be positive, got %s", w.Costs.Safepoint)
	}
	for _, t := range append([]*table{top, arr, sim}, routes...) {
		t.unknown()
	}
	if !top.isBad("config") {
		p.resolveRoutes(w, top, routes)
	}
	if w.TraceFile != "" && !p.failed() {
		span := w.Warmup + w.Duration
		n, err := readTrace(w.TraceFile, w.Routes, span, nil)
		switch {
		case err != nil:
			arr.bad("trace", "%v", err)
		case n == 0:
			arr.bad("trace", "%s: no request due before %s", w.TraceFile, span)
		case n > maxHits:
			arr.bad("trace", "%s: %d requests before %s; at most %d a run", w.TraceFile, n, span, maxHits)
		default:
			w.Rates = []float64{float64(n) / span.Seconds()}
		}
	}
	return w
}

// resolveRoutes checks the routes against the serve config and fills in
// their deadlines and default names.
func (p *parser) resolveRoutes(w *Workload, top *table, routes []*table) {
	cfg, err := w.ServeConfig()
	if err != nil {
		if w.Config == "" {
			top.problem("embedded default config: %v", err)
		} else {
			top.bad("config", "%v", err)
		}
		return
	}
	names := map[string]int{} // route name → index
	for i, rt := range routes {
		r := &w.Routes[i]
		if rt.isBad("tenant") || rt.isBad("path") || rt.isBad("name") {
			continue // already reported
		}
		var tc *config.Tenant
		switch {
		case r.Tenant != "":
			for j := range cfg.Tenants {
				if cfg.Tenants[j].Name == r.Tenant {
					tc = &cfg.Tenants[j]
				}
			}
			if tc == nil {
				rt.bad("tenant", "no tenant %q in %s (have %s)", r.Tenant, cfg.File, tenantNames(cfg))
				continue
			}
		case len(cfg.Tenants) == 1:
			tc = &cfg.Tenants[0]
			r.Tenant = tc.Name
		default:
			rt.problem("missing key %q: %s has %d tenants (%s)", "tenant", cfg.File, len(cfg.Tenants), tenantNames(cfg))
			continue
		}
		if r.Path == "" {
			rt.problem("missing key %q", "path")
			continue
		}
		k := slices.IndexFunc(tc.Routes, func(cr config.Route) bool { return cr.Path == r.Path })
		if k < 0 {
			rt.bad("path", "tenant %q has no route %q in %s", tc.Name, r.Path, cfg.File)
			continue
		}
		r.Deadline = tc.Routes[k].RelativeDeadline
		r.Timeout = tc.Routes[k].Timeout
		r.DropLate = tc.Routes[k].OnDeadlineMiss == "drop"
		key := "name"
		if r.Name == "" {
			r.Name, key = r.Tenant+r.Path, "path"
		}
		if j, dup := names[r.Name]; dup {
			rt.bad(key, "route %q is already in the mix on line %d (give one a distinct name)",
				r.Name, p.lines(routes[j].path...))
			continue
		}
		names[r.Name] = i
	}
}

func tenantNames(cfg *config.Config) string {
	var ns []string
	for _, t := range cfg.Tenants {
		ns = append(ns, strconv.Quote(t.Name))
	}
	return strings.Join(ns, ", ")
}

func positive(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("must be positive, got %s", d)
	}
	return nil
}

func positiveRate(r float64) error {
	if !(r > 0) || math.IsInf(r, 0) {
		return fmt.Errorf("rate must be a positive number of requests per second, got %v", r)
	}
	return nil
}

// parser collects the problems of one workload file.
type parser struct {
	file  string
	lines func(path ...string) int // line of an indexed key path
	probs []problem
	bad   map[string]bool // pathKey → value rejected
}

type problem struct {
	line int // 0: the file as a whole
	msg  string
}

func (p *parser) failed() bool { return len(p.probs) > 0 }

// err joins the problems in file order, one per line.
func (p *parser) err() error {
	if len(p.probs) == 0 {
		return nil
	}
	slices.SortStableFunc(p.probs, func(a, b problem) int { return cmp.Compare(a.line, b.line) })
	errs := make([]error, len(p.probs))
	for i, pr := range p.probs {
		errs[i] = errors.New(pr.msg)
	}
	return errors.Join(errs...)
}

// report records a problem at the key or table at (or its nearest parent
// written in the file), prefixed by the table's scope.
func (p *parser) report(at []string, scope, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if scope != "" {
		msg = scope + ": " + msg
	}
	line := 0
	for n := len(at); n > 0 && line == 0; n-- {
		line = p.lines(at[:n]...)
	}
	if line > 0 {
		msg = fmt.Sprintf("%s:%d: %s", p.file, line, msg)
	} else {
		msg = p.file + ": " + msg
	}
	p.probs = append(p.probs, problem{line, msg})
}

func pathKey(path []string) string { return strings.Join(path, "\x00") }

// table reads the keys of one TOML table, strictly typed.
type table struct {
	p     *parser
	m     map[string]any
	path  []string // indexed path, e.g. route/1
	scope string   // name in messages, e.g. `route "short"`
	read  map[string]bool
}

func (p *parser) table(m map[string]any, path []string, scope string) *table {
	return &table{p: p, m: m, path: path, scope: scope, read: map[string]bool{}}
}

func (t *table) keyPath(key ...string) []string {
	return append(slices.Clone(t.path), key...)
}

// problem reports a problem with the table itself.
func (t *table) problem(format string, args ...any) {
	t.p.report(t.path, t.scope, format, args...)
}

// bad reports a bad value of key.
func (t *table) bad(key, format string, args ...any) {
	t.badAt([]string{key}, key, format, args...)
}

// badAt reports a bad value at sub (under this table) of key.
func (t *table) badAt(sub []string, key, format string, args ...any) {
	if t.p.bad == nil {
		t.p.bad = map[string]bool{}
	}
	t.p.bad[pathKey(t.keyPath(key))] = true
	t.p.report(t.keyPath(sub...), t.scope, "key %q: "+format, append([]any{key}, args...)...)
}

func (t *table) check(key string, err error) {
	if err != nil {
		t.bad(key, "%v", err)
	}
}

func (t *table) isBad(key string) bool { return t.p.bad[pathKey(t.keyPath(key))] }

// get returns the raw value of key.
func (t *table) get(key string) (any, bool) {
	t.read[key] = true
	v, ok := t.m[key]
	return v, ok
}

// unknown reports the keys nobody read.
func (t *table) unknown() {
	for _, k := range slices.Sorted(maps.Keys(t.m)) {
		if !t.read[k] {
			t.p.report(t.keyPath(k), t.scope, "unknown key %q", k)
		}
	}
}

func (t *table) str(key string) (string, bool) {
	v, ok := t.get(key)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		t.bad(key, "expected a string, found %s", config.Describe(v))
	}
	return s, ok
}

func (t *table) duration(key string) (time.Duration, bool) {
	s, ok := t.str(key)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.bad(key, "invalid duration %q (want e.g. \"10s\" or \"500ms\")", s)
		return 0, false
	}
	return d, true
}

func (t *table) integer(key string) (int64, bool) {
	v, ok := t.get(key)
	if !ok {
		return 0, false
	}
	n, ok := v.(int64)
	if !ok {
		t.bad(key, "expected an integer, found %s", config.Describe(v))
	}
	return n, ok
}

func toNumber(v any) (float64, bool) {
	switch v := v.(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

func (t *table) number(key string) (float64, bool) {
	v, ok := t.get(key)
	if !ok {
		return 0, false
	}
	f, ok := toNumber(v)
	if !ok {
		t.bad(key, "expected a number, found %s", config.Describe(v))
	}
	return f, ok
}

func (t *table) numbers(key string) ([]float64, bool) {
	v, ok := t.get(key)
	if !ok {
		return nil, false
	}
	vs, ok := v.([]any)
	if !ok {
		t.bad(key, "expected an array of numbers, found %s", config.Describe(v))
		return nil, false
	}
	fs := make([]float64, len(vs))
	for i, e := range vs {
		if fs[i], ok = toNumber(e); !ok {
			t.badAt([]string{key, strconv.Itoa(i)}, key, "element %d: expected a number, found %s", i+1, config.Describe(e))
			return nil, false
		}
	}
	return fs, true
}

// sub returns the table at key, empty if absent.
func (t *table) sub(key, scope string) *table {
	v, ok := t.get(key)
	m, isMap := v.(map[string]any)
	if ok && !isMap {
		t.bad(key, "expected a table [%s], found %s", key, config.Describe(v))
	}
	return t.p.table(m, t.keyPath(key), scope)
}

// array returns the tables of the array of tables at key.
func (t *table) array(key, noun string) []*table {
	v, ok := t.get(key)
	if !ok {
		return nil
	}
	var ms []map[string]any
	switch v := v.(type) {
	case []map[string]any:
		ms = v
	case []any:
		for _, e := range v {
			m, isMap := e.(map[string]any)
			if !isMap {
				ms = nil
				break
			}
			ms = append(ms, m)
		}
		if len(ms) != len(v) {
			t.bad(key, "expected an array of tables [[%s]], found %s", key, config.Describe(v))
			return nil
		}
	default:
		t.bad(key, "expected an array of tables [[%s]], found %s", key, config.Describe(v))
		return nil
	}
	ts := make([]*table, len(ms))
	for i, m := range ms {
		scope := fmt.Sprintf("%s #%d", noun, i+1)
		if s, ok := m["name"].(string); ok && s != "" {
			scope = fmt.Sprintf("%s %q", noun, s)
		} else if s, ok := m["path"].(string); ok && s != "" {
			scope = fmt.Sprintf("%s %q", noun, s)
		}
		ts[i] = t.p.table(m, t.keyPath(key, strconv.Itoa(i)), scope)
	}
	return ts
}
