package core

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"
)

// benchOTLPEnv passes BenchmarkTracing's OTLP receiver to its children.
const benchOTLPEnv = "GOSLEDGE_BENCH_OTLP"

// BenchmarkTracing serves echo from three child processes (as
// BenchmarkEchoVsBare does, so the CPU per request read from /proc is the
// server's alone): tracing off, on with every request sampled (exported
// to an OTLP receiver in this process that discards), and on with none
// sampled (traceparent only). Rounds of one measurement each from 4
// keep-alive clients, the order rotated every round; it reports each
// variant's median req/s and CPU µs per request, and the median and
// min–max of each ratio to off. Run with -benchtime 1x; rounds and the
// duration per measurement come from GOSLEDGE_BENCH_ROUNDS (default 5)
// and GOSLEDGE_BENCH_SLICE (default 1s).
func BenchmarkTracing(b *testing.B) {
	rounds := envInt("GOSLEDGE_BENCH_ROUNDS", 5)
	slice := time.Second
	if d, err := time.ParseDuration(os.Getenv("GOSLEDGE_BENCH_SLICE")); err == nil {
		slice = d
	}
	discard := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer discard.Close()
	b.Setenv(benchOTLPEnv, discard.URL)
	names := []string{"off", "sampled", "unsampled"}
	children := make([]*benchChild, len(names))
	for i, name := range []string{"sledge", "sledge-sampled", "sledge-unsampled"} {
		children[i] = startBenchChild(b, name)
	}
	load := echoLoad{conns: 4, keepAlive: true, d: slice}
	res := make([][]echoResult, len(names))
	for r := range rounds {
		for k := range names {
			i := (r + k) % len(names)
			res[i] = append(res[i], load.run(b, children[i]))
		}
	}
	rps := func(x echoResult) float64 { return x.rps }
	cpu := func(x echoResult) float64 { return float64(x.cpuPerReq.Nanoseconds()) / 1e3 }
	for i, name := range names {
		b.ReportMetric(median(each(res[i], rps)), name+"-req/s")
		b.ReportMetric(median(each(res[i], cpu)), name+"-cpu-µs/req")
		if i == 0 {
			continue
		}
		for _, m := range []struct {
			unit string
			f    func(echoResult) float64
		}{{"req/s", rps}, {"cpu", cpu}} {
			ratios := make([]float64, rounds)
			for r := range rounds {
				ratios[r] = m.f(res[i][r]) / m.f(res[0][r])
			}
			b.ReportMetric(median(ratios), name+"/off-"+m.unit)
			b.ReportMetric(slices.Min(ratios), name+"/off-"+m.unit+"-min")
			b.ReportMetric(slices.Max(ratios), name+"/off-"+m.unit+"-max")
		}
	}
}

// each is f of every result.
func each(rs []echoResult, f func(echoResult) float64) []float64 {
	v := make([]float64, len(rs))
	for i, x := range rs {
		v[i] = f(x)
	}
	return v
}
