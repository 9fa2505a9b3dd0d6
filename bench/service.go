package bench

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Service-time models of a route, for the simulator (key "service" of a
// [[route]]; bench runs the real function and ignores it).
const (
	ServiceFixed     = "fixed"     // "fixed 2.5ms"
	ServiceLognormal = "lognormal" // "lognormal 2.5ms cv=0.5": mean and coefficient of variation
	ServicePerfLog   = "perflog"   // "perflog serve.perf.csv": CPU times of the route's 200s in a perf log
)

// Service is a route's service-time model: the CPU time one request
// needs.
type Service struct {
	Model string
	Mean  time.Duration // fixed, lognormal
	CV    float64       // lognormal
	File  string        // perflog, resolved against the workload's directory
	// Samples are the perf log's CPU times of the route, sorted (perflog).
	Samples []time.Duration
}

// parseService reads a "service" value; dir resolves a perf log's path.
func parseService(s, dir string) (*Service, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return nil, errors.New(`empty (want e.g. "fixed 2ms", "lognormal 2ms cv=0.5" or "perflog FILE")`)
	}
	sv := &Service{Model: f[0]}
	switch {
	case f[0] == ServiceFixed && len(f) == 2, f[0] == ServiceLognormal && len(f) == 3:
		d, err := time.ParseDuration(f[1])
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("mean %q: want a positive duration such as 2ms", f[1])
		}
		sv.Mean = d
		if f[0] == ServiceLognormal {
			v, ok := strings.CutPrefix(f[2], "cv=")
			cv, err := strconv.ParseFloat(v, 64)
			if !ok || err != nil || !(cv >= 0) || math.IsInf(cv, 0) {
				return nil, fmt.Errorf("%q: want cv=X with X ≥ 0", f[2])
			}
			sv.CV = cv
		}
	case f[0] == ServicePerfLog && len(f) == 2:
		sv.File = f[1]
		if !filepath.IsAbs(sv.File) {
			sv.File = filepath.Join(dir, filepath.FromSlash(sv.File))
		}
	default:
		return nil, fmt.Errorf(`%q: want "fixed D", "lognormal D cv=X" or "perflog FILE"`, s)
	}
	return sv, nil
}

// sampler draws service times from a model.
type sampler struct {
	sv  *Service
	rng *rand.Rand
	mu  float64 // lognormal: of the underlying normal, in ns
	sd  float64
}

func newSampler(sv *Service, rng *rand.Rand) *sampler {
	s := &sampler{sv: sv, rng: rng}
	if sv.Model == ServiceLognormal {
		// mean m, cv c: σ² = ln(1+c²), μ = ln m − σ²/2.
		v := math.Log1p(sv.CV * sv.CV)
		s.sd = math.Sqrt(v)
		s.mu = math.Log(float64(sv.Mean)) - v/2
	}
	return s
}

func (s *sampler) next() time.Duration {
	switch s.sv.Model {
	case ServiceLognormal:
		return max(time.Duration(math.Exp(s.mu+s.sd*s.rng.NormFloat64())), 1)
	case ServicePerfLog:
		return s.sv.Samples[s.rng.IntN(len(s.sv.Samples))]
	}
	return s.sv.Mean
}

// PerfLogSamples reads a perf log written by `sledge serve` (CSV with a
// header; see core/perflog.go) and returns the CPU time (cpu_us) of every
// request answered 200, by tenant+path (e.g. "demo/fib"), sorted.
func PerfLogSamples(path string) (map[string][]time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s:1: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	for _, k := range []string{"tenant", "route", "status", "cpu_us"} {
		if _, ok := col[k]; !ok {
			return nil, fmt.Errorf("%s:1: no column %q: not a perf log", path, k)
		}
	}
	out := map[string][]time.Duration{}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if rec[col["status"]] != "200" {
			continue
		}
		us, err := strconv.ParseInt(rec[col["cpu_us"]], 10, 64)
		if err != nil || us < 0 {
			return nil, fmt.Errorf("%s:%d: cpu_us %q: want a non-negative integer", path, line, rec[col["cpu_us"]])
		}
		k := rec[col["tenant"]] + rec[col["route"]]
		out[k] = append(out[k], time.Duration(us)*time.Microsecond)
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out, nil
}

// loadSamples fills a perflog model's samples for route rt.
func (sv *Service) loadSamples(rt Route, cache map[string]map[string][]time.Duration) error {
	if sv == nil || sv.Model != ServicePerfLog || sv.Samples != nil {
		return nil
	}
	byRoute, ok := cache[sv.File]
	if !ok {
		var err error
		if byRoute, err = PerfLogSamples(sv.File); err != nil {
			return err
		}
		cache[sv.File] = byRoute
	}
	sv.Samples = byRoute[rt.Tenant+rt.Path]
	if len(sv.Samples) == 0 {
		return fmt.Errorf("%s: no request of %s%s answered 200", sv.File, rt.Tenant, rt.Path)
	}
	return nil
}
