package core

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/gosledge/gosledge/core/config"
)

// BenchmarkTracing serves echo on 2 workers with tracing off, on with
// every request sampled (exported to an in-test OTLP receiver that
// discards), and on with none sampled (traceparent only), side by side:
// rounds of one measurement each from 4 keep-alive clients, the order
// rotated every round. It reports each variant's median req/s and the
// median and min–max of its ratio to off. Run with -benchtime 1x; rounds
// and the duration per measurement come from GOSLEDGE_BENCH_ROUNDS
// (default 5) and GOSLEDGE_BENCH_SLICE (default 1s).
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
	variants := []struct {
		name    string
		tracing config.Tracing
	}{
		{"off", config.Tracing{}},
		{"sampled", config.Tracing{Endpoint: discard.URL, SampleRatio: 1, ServiceName: "bench"}},
		{"unsampled", config.Tracing{Endpoint: discard.URL, SampleRatio: 0, ServiceName: "bench"}},
	}
	urls := make([]string, len(variants))
	for i, v := range variants {
		ts := startServer(b, config.Runtime{Workers: 2, Preemption: true, Tracing: v.tracing}, testRoute(b, "/echo", "echo"))
		urls[i] = ts.url + "/echo"
	}
	rps := make([][]float64, len(variants))
	for r := range rounds {
		for k := range variants {
			i := (r + k) % len(variants)
			n, elapsed := echoClients(b, urls[i], 4, true, slice)
			rps[i] = append(rps[i], float64(n)/elapsed.Seconds())
		}
	}
	for i, v := range variants {
		b.ReportMetric(median(rps[i]), v.name+"-req/s")
		if i == 0 {
			continue
		}
		ratios := make([]float64, rounds)
		for r := range rounds {
			ratios[r] = rps[i][r] / rps[0][r]
		}
		b.ReportMetric(median(ratios), v.name+"/off")
		b.ReportMetric(slices.Min(ratios), v.name+"/off-min")
		b.ReportMetric(slices.Max(ratios), v.name+"/off-max")
		b.Logf("%s req/s by round: %.0f (off: %.0f)", v.name, rps[i], rps[0])
	}
}
