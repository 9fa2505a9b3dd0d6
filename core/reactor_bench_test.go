package core

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/sdk"
)

// echoFunctions are the echo functions compared per request: C, Rust, Go
// as a WASI command (its runtime starts in every request) and Go as a
// reactor (restored from the snapshot _initialize left).
var echoFunctions = []struct{ name, module string }{
	{"c", "echo"}, {"rust", "rustecho/rustecho"}, {"go", "goecho/goecho"}, {"goreactor", "goreactor/goreactor"},
}

// BenchmarkEchoLanguages measures one echo request of each echo function,
// p50 and p99, in rounds: each round runs every function for
// GOSLEDGE_BENCH_REQUESTS requests (default 300), in an order that rotates
// from round to round, on one server, one request at a time. "sandbox"
// is the sandbox alone (schedule, instantiate or restore, run, close),
// "http" a keep-alive client's whole request. Reported: the median over
// GOSLEDGE_BENCH_ROUNDS rounds (default 5) of each round's p50 and p99,
// and the spread (min and max) of the p50s. Run it with -benchtime 1x.
func BenchmarkEchoLanguages(b *testing.B) {
	rounds := envInt("GOSLEDGE_BENCH_ROUNDS", 5)
	perRound := envInt("GOSLEDGE_BENCH_REQUESTS", 300)
	var routes []config.Route
	for _, fn := range echoFunctions {
		routes = append(routes, testRoute(b, "/"+fn.name, fn.module))
	}
	ts := startServer(b, config.Runtime{Workers: 1, Preemption: true}, routes...)
	body := []byte("hello")
	id := sdk.TaskID(1 << 40) // apart from the server's own
	sandbox := func(path string) func() (time.Duration, error) {
		rt := ts.tenants[0].routeMap()[path]
		return func() (time.Duration, error) {
			id++
			start := time.Now()
			sb := newSandbox(rt, id, ts.now(), body, nil)
			out := sb.run(context.Background(), ts.Server)
			d := time.Since(start)
			if out.Result != ResultOK || string(out.Body) != "hello" {
				return d, fmt.Errorf("%s: %v %q", path, out.Result, out.Body)
			}
			return d, nil
		}
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	overHTTP := func(path string) func() (time.Duration, error) {
		return func() (time.Duration, error) {
			start := time.Now()
			resp, err := client.Post(ts.url+path, "text/plain", strings.NewReader("hello"))
			if err != nil {
				return 0, err
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			d := time.Since(start)
			if resp.StatusCode != 200 || string(got) != "hello" {
				return d, fmt.Errorf("%s: %d %q", path, resp.StatusCode, got)
			}
			return d, nil
		}
	}
	for _, mode := range []struct {
		name string
		make func(path string) func() (time.Duration, error)
	}{{"sandbox", sandbox}, {"http", overHTTP}} {
		b.Run(mode.name, func(b *testing.B) {
			do := make([]func() (time.Duration, error), len(echoFunctions))
			for i, fn := range echoFunctions {
				do[i] = mode.make("/" + fn.name)
			}
			p50s := make([][]float64, len(echoFunctions))
			p99s := make([][]float64, len(echoFunctions))
			for range b.N {
				for round := range rounds {
					for k := range echoFunctions {
						i := (k + round) % len(echoFunctions)
						samples := make([]time.Duration, 0, perRound)
						for range perRound {
							d, err := do[i]()
							if err != nil {
								b.Fatal(err)
							}
							samples = append(samples, d)
						}
						slices.Sort(samples)
						p50s[i] = append(p50s[i], micros(percentile(samples, 0.50)))
						p99s[i] = append(p99s[i], micros(percentile(samples, 0.99)))
					}
				}
			}
			for i, fn := range echoFunctions {
				slices.Sort(p50s[i])
				slices.Sort(p99s[i])
				b.ReportMetric(median(p50s[i]), fn.name+"-p50-µs")
				b.ReportMetric(p50s[i][0], fn.name+"-p50-min-µs")
				b.ReportMetric(p50s[i][len(p50s[i])-1], fn.name+"-p50-max-µs")
				b.ReportMetric(median(p99s[i]), fn.name+"-p99-µs")
			}
		})
	}
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
