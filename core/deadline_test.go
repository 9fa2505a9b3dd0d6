package core

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/plugins"
)

// TestDeadlineMiss: behind a long request on one worker without
// preemption, a request whose deadline passes while it waits is dropped
// with 408 on a "drop" route and run late on a "run" route; both count as
// misses.
func TestDeadlineMiss(t *testing.T) {
	drop := testRoute(t, "/drop", "fib")
	drop.RelativeDeadline, drop.OnDeadlineMiss = time.Millisecond, "drop"
	late := testRoute(t, "/late", "fib")
	late.RelativeDeadline, late.OnDeadlineMiss = time.Millisecond, "run"
	ontime := testRoute(t, "/fib", "fib")
	ontime.RelativeDeadline, ontime.OnDeadlineMiss = time.Minute, "drop"
	ts := startServer(t, config.Runtime{Workers: 1, Preemption: false},
		testRoute(t, "/spin", "spin"), drop, late, ontime)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if status, body := ts.do(t, "POST", "/spin", "200"); status != 200 {
			t.Errorf("spin = %d %q", status, body)
		}
	}()
	waitRunning(t, ts.Server, 1)
	results := make(map[string]int)
	var mu sync.Mutex
	for _, path := range []string{"/drop", "/late", "/fib"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body := ts.do(t, "POST", path, "15")
			mu.Lock()
			results[path] = status
			mu.Unlock()
			if status == 408 && !strings.Contains(body, "deadline") {
				t.Errorf("408 body %q", body)
			}
		}()
	}
	wg.Wait()
	want := map[string]int{"/drop": 408, "/late": 200, "/fib": 200}
	if fmt.Sprint(results) != fmt.Sprint(want) {
		t.Errorf("statuses %v, want %v", results, want)
	}
	for path, want := range map[string]RouteStats{
		"/drop": {Requests: 1, DeadlineMisses: 1, Dropped: 1},
		"/late": {Requests: 1, DeadlineMisses: 1},
		"/fib":  {Requests: 1},
	} {
		if got, _ := ts.RouteStats("t", path); got != want {
			t.Errorf("%s stats %+v, want %+v", path, got, want)
		}
	}
}

// TestBimodal is the deadline issue's integration test: on one worker a
// long request (spin 500 ms, deadline 10 s) runs while 20 short ones (fib
// 20, deadline 50 ms) arrive. Under edf every short one completes before
// the long one; under fifo without preemption every short one completes
// after it.
func TestBimodal(t *testing.T) {
	tests := []struct {
		policy     string
		preemption bool
		shortFirst bool
	}{
		{"edf", true, true},
		{"sjf", true, true},
		{"fifo", false, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/preemption=%v", tt.policy, tt.preemption), func(t *testing.T) {
			if !plugins.Builtins().Has(tt.policy) {
				t.Fatalf("policy %s not built in", tt.policy)
			}
			long := testRoute(t, "/spin", "spin")
			long.RelativeDeadline, long.ExpectedExecution = 10*time.Second, 500*time.Millisecond
			short := testRoute(t, "/fib", "fib")
			short.RelativeDeadline, short.ExpectedExecution = 50*time.Millisecond, time.Millisecond
			ts := startServer(t, config.Runtime{Workers: 1, Policy: tt.policy, Preemption: tt.preemption}, long, short)

			// Judge only the short requests that arrived while the long
			// one ran: on a loaded machine some may arrive after it.
			arrived, finished := bimodalRun(t, ts)
			if arrived == 0 {
				t.Fatal("no short request arrived while the long one ran")
			}
			if want := map[bool]int{true: arrived, false: 0}[tt.shortFirst]; finished != want {
				t.Errorf("%d short requests arrived while the long one ran, %d finished before it; want %d",
					arrived, finished, want)
			}
		})
	}
}
