package core

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/gosledge/gosledge/core/config"
)

// TestAdmissionRefuses: on one worker with 20% headroom, a request that
// needs half a worker is admitted, a second is refused with 429 while the
// first runs, and admitted again once it is done.
func TestAdmissionRefuses(t *testing.T) {
	spin := testRoute(t, "/spin", "spin")
	spin.ExpectedExecution, spin.RelativeDeadline = 500*time.Millisecond, time.Second
	ts := startServer(t, config.Runtime{Workers: 1, Preemption: true, Admission: true, AdmissionHeadroom: 0.2}, spin)
	done := make(chan int)
	go func() {
		status, _ := ts.do(t, "POST", "/spin", "200")
		done <- status
	}()
	waitRunning(t, ts.Server, 1)
	if status, body := ts.do(t, "POST", "/spin", "1"); status != 429 {
		t.Errorf("second half-worker request = %d %q, want 429", status, body)
	}
	if status := <-done; status != 200 {
		t.Errorf("first = %d", status)
	}
	if status, _ := ts.do(t, "POST", "/spin", "1"); status != 200 {
		t.Errorf("after the first finished = %d, want 200", status)
	}
	assertIdle(t, ts.Server)
}

// TestAdmissionNoLeak sends a random mix of requests that succeed, trap,
// exit non-zero, time out, are dropped past their deadline or refused,
// and checks that the admitted total returns exactly to zero.
func TestAdmissionNoLeak(t *testing.T) {
	fib := testRoute(t, "/fib", "fib")
	fib.ExpectedExecution, fib.RelativeDeadline = 2*time.Millisecond, 20*time.Millisecond
	drop := testRoute(t, "/drop", "fib")
	drop.ExpectedExecution, drop.RelativeDeadline, drop.OnDeadlineMiss = time.Millisecond, time.Millisecond, "drop"
	loop := testRoute(t, "/loop", "loop")
	loop.Timeout, loop.ExpectedExecution, loop.RelativeDeadline = 30*time.Millisecond, 10*time.Millisecond, 100*time.Millisecond
	spin := testRoute(t, "/spin", "spin")
	spin.ExpectedExecution, spin.RelativeDeadline = 5*time.Millisecond, 50*time.Millisecond
	heavy := testRoute(t, "/heavy", "fib") // needs more than the machine: always refused
	heavy.ExpectedExecution, heavy.RelativeDeadline = 10*time.Second, time.Second
	ts := startServer(t, config.Runtime{Workers: 2, Preemption: true, Admission: true, AdmissionHeadroom: 0.2},
		fib, drop, loop, spin, heavy, testRoute(t, "/trap", "trap"), testRoute(t, "/exit1", "exit1"))
	paths := []string{"/fib", "/drop", "/loop", "/spin", "/heavy", "/trap", "/exit1"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[int]int{}
	for c := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 42))
			for range 25 {
				path := paths[rng.IntN(len(paths))]
				body := "15"
				if path == "/spin" {
					body = "3"
				}
				status, _ := ts.do(t, "POST", path, body)
				mu.Lock()
				seen[status]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, status := range []int{200, 429, 500, 504} {
		if seen[status] == 0 {
			t.Errorf("the mix produced no %d (got %v)", status, seen)
		}
	}
	t.Logf("statuses: %v", fmt.Sprint(seen))
	assertIdle(t, ts.Server)
}
