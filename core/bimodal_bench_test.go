package core

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosledge/gosledge/core/config"
)

// BenchmarkBimodal is the deadline issue's end-to-end scenario on 2
// workers: three clients keep the long route (spin 100 ms, deadline 10 s)
// busy while short requests (fib 20, deadline 50 ms) arrive open-loop every
// 5 ms; one short request per b.N. It reports the short route's latency,
// measured from each request's intended send time, and its deadline-miss
// ratio. "alone" is the short route with no long load.
func BenchmarkBimodal(b *testing.B) {
	cases := []struct {
		name       string
		policy     string
		preemption bool
		longLoad   bool
	}{
		{"alone", "edf", true, false},
		{"fifo-nopreempt", "fifo", false, true},
		{"fifo", "fifo", true, true},
		{"edf", "edf", true, true},
		{"sjf", "sjf", true, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			long := testRoute(b, "/spin", "spin")
			long.RelativeDeadline, long.ExpectedExecution = 10*time.Second, 100*time.Millisecond
			short := testRoute(b, "/fib", "fib")
			short.RelativeDeadline, short.ExpectedExecution = 50*time.Millisecond, time.Millisecond
			ts := startServer(b, config.Runtime{Workers: 2, Policy: c.policy, Preemption: c.preemption}, long, short)
			tr := &http.Transport{MaxIdleConnsPerHost: 256}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			post := func(path, body string) int {
				resp, err := client.Post(ts.url+path, "text/plain", strings.NewReader(body))
				if err != nil {
					b.Error(err)
					return 0
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode
			}

			ctx, stopLoad := context.WithCancel(context.Background())
			var load sync.WaitGroup
			if c.longLoad {
				for range 3 {
					load.Add(1)
					go func() {
						defer load.Done()
						for ctx.Err() == nil {
							post("/spin", "100")
						}
					}()
				}
				waitRunning(b, ts.Server, 2)
			}

			const interval = 5 * time.Millisecond
			latencies := make([]time.Duration, b.N)
			statuses := make([]int, b.N)
			var shorts sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				intended := start.Add(time.Duration(i) * interval)
				time.Sleep(time.Until(intended))
				shorts.Add(1)
				go func() {
					defer shorts.Done()
					statuses[i] = post("/fib", "20")
					latencies[i] = time.Since(intended)
				}()
			}
			shorts.Wait()
			b.StopTimer()
			stopLoad()
			load.Wait()

			misses := 0
			for i, l := range latencies {
				if statuses[i] != 200 || l > short.RelativeDeadline {
					misses++
				}
			}
			reportPercentiles(b, latencies, "µs")
			b.ReportMetric(float64(misses)/float64(b.N), "miss-ratio")
		})
	}
}
