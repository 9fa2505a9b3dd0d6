package core

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gosledge/gosledge/core/config"
)

// waitModules wait on a shared memory and never return on their own
// within any test: the wait32 without a timeout, and a wait64 of
// an hour.
var waitModules = []string{"wait_forever", "wait_long"}

// waitBlocked waits until n sandboxes are blocked in a host call.
func waitBlocked(t testing.TB, s *Server, n int64) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("never saw %d blocked sandboxes", n), func() bool { return s.states[StateBlocked].Load() >= n })
}

// TestWaitKilledAtTimeout: a guest waiting in memory.atomic.wait is killed
// at its route's timeout and answered 504, and the only worker serves the
// next request.
func TestWaitKilledAtTimeout(t *testing.T) {
	for _, name := range waitModules {
		t.Run(name, func(t *testing.T) {
			wait := counterRoute(t, "/wait", name)
			wait.Timeout = 500 * time.Millisecond
			ts := startServer(t, config.Runtime{Workers: 1, Preemption: true}, wait, testRoute(t, "/fib", "fib"))
			start := time.Now()
			status, body := ts.do(t, "POST", "/wait", "")
			elapsed := time.Since(start)
			if status != 504 || !strings.Contains(body, "timeout") {
				t.Errorf("wait = %d %q, want 504 (timeout)", status, body)
			}
			if elapsed > 2*time.Second {
				t.Errorf("504 after %v, want within 2s", elapsed)
			}
			t.Logf("%s: 504 after %v (timeout %v)", name, elapsed, wait.Timeout)
			if status, body := ts.do(t, "POST", "/fib", "10"); status != 200 || strings.TrimSpace(body) != "55" {
				t.Errorf("fib 10 after the wait = %d %q", status, body)
			}
		})
	}
}

// TestWaitShutdown: while a guest waits, its worker serves other requests;
// the server's shutdown kills the wait once drain_timeout has passed,
// answers it 504 and returns within drain_timeout + 1 s.
func TestWaitShutdown(t *testing.T) {
	const drain = 300 * time.Millisecond
	for _, name := range waitModules {
		t.Run(name, func(t *testing.T) {
			wait := counterRoute(t, "/wait", name)
			wait.Timeout = time.Minute
			ts := startServer(t, config.Runtime{Workers: 1, Preemption: true, DrainTimeout: drain},
				wait, testRoute(t, "/fib", "fib"))
			res := ts.doAsync(t, "POST", "/wait", "")
			waitBlocked(t, ts.Server, 1)
			if status, body := ts.do(t, "POST", "/fib", "10"); status != 200 || strings.TrimSpace(body) != "55" {
				t.Errorf("fib 10 on the waiter's worker = %d %q", status, body)
			}
			start := time.Now()
			ts.stop()
			elapsed := time.Since(start)
			if elapsed > drain+time.Second {
				t.Errorf("shutdown took %v, want within %v", elapsed, drain+time.Second)
			}
			t.Logf("%s: shutdown in %v (drain_timeout %v)", name, elapsed, drain)
			if r := <-res; r.status != 504 || !strings.Contains(r.body, "shut down") {
				t.Errorf("wait at shutdown = %d %q, want 504", r.status, r.body)
			}
		})
	}
}
