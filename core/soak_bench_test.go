package core

import (
	"context"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gosledge/gosledge/core/config"
)

// BenchmarkSoak serves a mix of good, trapping, timing-out, oversize and
// client-abandoned requests for GOSLEDGE_SOAK (default 1m) from 8 clients
// and prints, every 10 s, resident memory, goroutines and requests sent vs
// answered. After warm-up, memory and goroutines must stay flat and every
// request sent must be answered (an abandoned one counts as answered when
// the client gives up). Run it with -benchtime 1x -v; not in make test.
//
//	GOSLEDGE_SOAK=10m go test -run '^$' -bench Soak -benchtime 1x -v ./core
func BenchmarkSoak(b *testing.B) {
	d := time.Minute
	if v, err := time.ParseDuration(os.Getenv("GOSLEDGE_SOAK")); err == nil {
		d = v
	}
	small := testRoute(b, "/small", "echo")
	small.MaxBody = 1 << 10
	loop := testRoute(b, "/loop", "loop")
	loop.Timeout = 50 * time.Millisecond
	ts := startServer(b, config.Runtime{Workers: 2, Preemption: true, MaxQueue: 64},
		testRoute(b, "/fib", "fib"), testRoute(b, "/echo", "echo"), testRoute(b, "/trap", "trap"),
		testRoute(b, "/spin", "spin"), small, loop)
	type call struct {
		path, body string
		abandon    time.Duration // > 0: the client gives up after this long
	}
	mix := []call{
		{"/fib", "20", 0}, {"/echo", "hello", 0}, {"/fib", "15", 0}, {"/trap", "", 0},
		{"/loop", "", 0}, {"/small", strings.Repeat("x", 4<<10), 0}, {"/spin", "30", 5 * time.Millisecond},
		{"/echo", strings.Repeat("y", 32<<10), 0},
	}
	var sent, answered atomic.Int64
	statuses := sync.Map{}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			defer client.CloseIdleConnections()
			for i := c; ctx.Err() == nil; i++ {
				m := mix[i%len(mix)]
				rctx, rcancel := context.WithCancel(context.Background())
				if m.abandon > 0 {
					rctx, rcancel = context.WithTimeout(context.Background(), m.abandon)
				}
				req, _ := http.NewRequestWithContext(rctx, "POST", ts.url+m.path, strings.NewReader(m.body))
				sent.Add(1)
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					n, _ := statuses.LoadOrStore(resp.StatusCode, new(atomic.Int64))
					n.(*atomic.Int64).Add(1)
					answered.Add(1)
				} else if rctx.Err() != nil {
					answered.Add(1) // abandoned by the client, as planned
				} else {
					b.Errorf("%s: %v", m.path, err)
				}
				rcancel()
			}
		}()
	}
	report := func(at time.Duration) {
		runtime.GC()
		b.Logf("%6s  rss %4d MiB  goroutines %4d  sent %7d  answered %7d",
			at.Round(time.Second), residentBytes(b)>>20, runtime.NumGoroutine(), sent.Load(), answered.Load())
	}
	start := time.Now()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	report(0)
	for done := false; !done; {
		select {
		case <-tick.C:
			report(time.Since(start))
		case <-ctx.Done():
			done = true
		}
	}
	wg.Wait()
	report(time.Since(start))
	statuses.Range(func(k, v any) bool {
		b.Logf("status %d: %d", k, v.(*atomic.Int64).Load())
		return true
	})
	if sent.Load() != answered.Load() {
		b.Errorf("sent %d, answered %d", sent.Load(), answered.Load())
	}
	b.ReportMetric(float64(residentBytes(b))/(1<<20), "MiB-at-end")
}
