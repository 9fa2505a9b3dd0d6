package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// validate checks the decoded config. A check only fires for a key written
// in the file whose value decoded: defaults are valid by construction, and
// a value that failed to decode is already reported. (A default derived
// from a bad key, such as relative_deadline from a bad timeout, thus stays
// quiet too.)
func (c *Config) validate(d *decoder) {
	rt, r := scope{d, []string{"runtime"}}, &c.Runtime
	rt.check("workers", checkWorkers(r.Workers))
	rt.check("policy", notEmpty(r.Policy))
	rt.check("quantum", positive(r.Quantum))
	rt.check("listen", checkHost(r.Listen))
	rt.check("max_queue", atLeast(r.MaxQueue, 0))
	rt.check("drain_timeout", positive(r.DrainTimeout))
	rt.check("read_header_timeout", positive(r.ReadHeaderTimeout))
	rt.check("read_timeout", positive(r.ReadTimeout))
	rt.check("idle_timeout", positive(r.IdleTimeout))
	rt.check("max_module_locals", atLeast(r.MaxModuleLocals, 1))
	rt.check("max_module_functions", atLeast(r.MaxModuleFunctions, 1))
	rt.check("max_module_data_segments", atLeast(r.MaxModuleDataSegments, 1))
	rt.check("max_table_elements", atLeast(r.MaxTableElements, 1))
	rt.check("max_header_bytes", atLeast(int(min(r.MaxHeaderBytes, 1<<30)), 1<<10))
	rt.check("metrics", checkHostPort(r.Metrics))
	rt.check("agent", checkHostPort(r.Agent))
	rt.check("admission_headroom", fraction(r.AdmissionHeadroom))
	rt.check("plugin_fallback", notEmpty(r.PluginFallback))
	rt.check("plugin_timeout", positive(r.PluginTimeout))
	tr := scope{d, []string{"runtime", "tracing"}}
	tr.check("endpoint", checkHTTPURL(r.Tracing.Endpoint))
	tr.check("sample_ratio", fraction(r.Tracing.SampleRatio))
	tr.check("service_name", notEmpty(r.Tracing.ServiceName))

	plugins := unique{}
	for i := range c.Plugins {
		s, p := scope{d, []string{"plugin", strconv.Itoa(i)}}, &c.Plugins[i]
		s.check("name", notEmpty(p.Name))
		s.unique(plugins, "name", p.Name, "duplicate plugin name, first defined on line %d")
		s.check("kind", oneOf(p.Kind, KindProcess, KindWasm))
		s.check("path", notEmpty(p.Path))
		s.check("sha256", checkSHA256(p.SHA256))
		s.check("memory_limit", checkMemoryLimit(p.MemoryLimit))
	}

	if len(c.Tenants) == 0 && !d.bad[pathKey("tenant")] {
		d.problem(nil, "no [[tenant]] defined")
	}
	names, ports := unique{}, unique{}
	for ti := range c.Tenants {
		s, t := scope{d, []string{"tenant", strconv.Itoa(ti)}}, &c.Tenants[ti]
		s.check("name", notEmpty(t.Name))
		s.unique(names, "name", t.Name, "duplicate tenant name, first defined on line %d")
		s.check("port", between(t.Port, 1, 65535))
		s.unique(ports, "port", t.Port, "port already used by the tenant on line %d")
		s.check("max_concurrency", atLeast(t.MaxConcurrency, 1))
		if len(t.Routes) == 0 && !d.bad[pathKey(append(s.path, "route")...)] {
			d.problem(s.path, "no [[tenant.route]] defined")
		}
		paths := unique{}
		for ri := range t.Routes {
			s, r := scope{d, routePath(ti, ri)}, &t.Routes[ri]
			s.check("path", checkRoutePath(r.Path))
			s.unique(paths, "path", r.Path, "duplicate route path, first defined on line %d")
			s.check("module", notEmpty(r.Module))
			s.check("relative_deadline", positive(r.RelativeDeadline))
			s.check("expected_execution", positive(r.ExpectedExecution))
			s.check("timeout", positive(r.Timeout))
			s.check("admission_percentile", between(r.AdmissionPercentile, 50, 99))
			s.check("on_deadline_miss", oneOf(r.OnDeadlineMiss, "run", "drop"))
			s.check("content_type", notEmpty(r.ContentType))
			s.check("interface", oneOf(r.Interface, InterfacePlain, InterfaceWAGI))
			s.check("path", checkPrefixPath(r))
			s.check("memory_limit", checkMemoryLimit(r.MemoryLimit))
			s.check("cpu_limit", positive(r.CPULimit))
			s.check("max_concurrency", atLeast(r.MaxConcurrency, 1))
			s.checkPreopens(r)
			s.check("handler", checkHandler(r.Handler))
		}
	}
}

// scope is a table being validated.
type scope struct {
	d    *decoder
	path []string
}

// checkable reports whether the key is written in the file and decoded.
func (s scope) checkable(key string) bool {
	k := pathKey(append(s.path[:len(s.path):len(s.path)], key)...)
	_, ok := s.d.pos[k]
	return ok && !s.d.bad[k]
}

// check reports err, if any, as a problem with key.
func (s scope) check(key string, err error) {
	if err != nil && s.checkable(key) {
		kp := append(s.path[:len(s.path):len(s.path)], key)
		s.d.problemAt(kp, s.path, "key %q: %v", key, err)
	}
}

// unique is the set of values of a key that must be unique, and the line
// of each.
type unique map[any]int

// unique reports a value of key already in seen, with the line of the
// first one (format has one %d); an empty or zero value is not checked.
func (s scope) unique(seen unique, key string, v any, format string) {
	if !s.checkable(key) || v == "" || v == 0 {
		return
	}
	if line, ok := seen[v]; ok {
		s.check(key, fmt.Errorf(format, line))
		return
	}
	l, _ := s.d.locate(append(s.path[:len(s.path):len(s.path)], key))
	seen[v] = l.line
}

// The checks, shared with Override. Each returns nil or what is wrong.

func checkWorkers(n int) error { return atLeast(n, 1) }

func atLeast(n, lo int) error {
	if n < lo {
		return fmt.Errorf("must be at least %d, got %d", lo, n)
	}
	return nil
}

func between(n, lo, hi int) error {
	if n < lo || n > hi {
		return fmt.Errorf("must be between %d and %d, got %d", lo, hi, n)
	}
	return nil
}

func positive(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("must be positive, got %s", d)
	}
	return nil
}

// checkHandler refuses an empty handler and the exports that are not
// handlers: a reactor's _initialize, a command's _start, gosledge's own.
func checkHandler(h string) error {
	switch {
	case h == "":
		return errors.New("must not be empty")
	case h == "_start" || h == "_initialize" || strings.HasPrefix(h, "__gosledge"):
		return fmt.Errorf("%q is not a handler: name the export each request calls", h)
	}
	return nil
}

func notEmpty(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	return nil
}

func checkRoutePath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("must start with \"/\", got %q", p)
	}
	return nil
}

// checkHost accepts an IP address or a host name, without a port.
func checkHost(h string) error {
	if h == "" {
		return errors.New("must not be empty")
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return nil
	}
	for _, r := range h {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '.') {
			return fmt.Errorf("must be an IP address or a host name without a port, got %q", h)
		}
	}
	return nil
}

func checkSHA256(s string) error {
	if s == "" {
		return nil
	}
	if b, err := hex.DecodeString(s); err != nil || len(b) != 32 {
		return fmt.Errorf("must be 64 hexadecimal digits, got %q", s)
	}
	return nil
}

// Wasm linear memory grows in 64KiB pages and a 32-bit memory has at most
// 65536 of them.
const (
	pageSize       = 64 << 10
	maxMemoryLimit = 4 << 30
)

func checkMemoryLimit(n int64) error {
	switch {
	case n <= 0:
		return fmt.Errorf("must be positive, got %d", n)
	case n > maxMemoryLimit:
		return fmt.Errorf("must be at most 4GiB, got %s", formatSize(n))
	case n%pageSize != 0:
		return fmt.Errorf("must be a multiple of 64KiB (the WebAssembly page size), got %s", formatSize(n))
	}
	return nil
}

func oneOf(v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("want one of %q, got %q", allowed, v)
}

// checkHostPort accepts "" (off) or host:port.
func checkHostPort(hp string) error {
	if hp == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return fmt.Errorf("want host:port, got %q", hp)
	}
	if host != "" {
		if err := checkHost(host); err != nil {
			return err
		}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("bad port in %q", hp)
	}
	return nil
}

// checkHTTPURL accepts "" (off) or an http or https URL with a host.
func checkHTTPURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("want an http:// or https:// URL such as \"http://127.0.0.1:4318\", got %q", s)
	}
	return nil
}

func fraction(x float64) error {
	if x < 0 || x > 1 {
		return fmt.Errorf("must be between 0 and 1, got %v", x)
	}
	return nil
}
