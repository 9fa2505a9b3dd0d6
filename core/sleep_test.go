package core

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gosledge/gosledge/core/config"
)

// TestSleepGivesWorkerAway: a sandbox sleeping in WASI poll_oneoff gives
// its worker away and gets it back when the sleep ends. More sleepers than
// workers are blocked at once (each holds no worker), another request is
// served meanwhile, and every sleeper then runs again: it answers 200 with
// what it wrote after waking, and the scheduler ends idle.
func TestSleepGivesWorkerAway(t *testing.T) {
	for _, tc := range []struct {
		workers, sleepers int
	}{
		{workers: 1, sleepers: 2},
		{workers: 2, sleepers: 5},
	} {
		t.Run(fmt.Sprintf("%d workers %d sleepers", tc.workers, tc.sleepers), func(t *testing.T) {
			// The sleep only has to outlast the sleepers' arrival.
			sleep := counterRoute(t, "/sleep", "sleep")
			ts := startServer(t, config.Runtime{Workers: tc.workers, Preemption: true},
				sleep, testRoute(t, "/fib", "fib"))
			var res []<-chan response
			for range tc.sleepers {
				res = append(res, ts.doAsync(t, "POST", "/sleep?1000", ""))
			}
			waitBlocked(t, ts.Server, int64(tc.sleepers))
			if status, body := ts.do(t, "POST", "/fib", "10"); status != 200 || strings.TrimSpace(body) != "55" {
				t.Errorf("fib 10 beside the sleepers = %d %q", status, body)
			}
			for i, r := range res {
				if r := <-r; r.status != 200 || r.body != "woke\n" {
					t.Errorf("sleeper %d = %d %q, want 200 \"woke\\n\"", i, r.status, r.body)
				}
			}
			if st := ts.sched.snapshot(); st.Blocks != uint64(tc.sleepers) {
				t.Errorf("%d blocks, want %d", st.Blocks, tc.sleepers)
			}
			assertIdle(t, ts.Server)
		})
	}
}

// TestSleepKilled: a sleeper killed at its timeout while blocked leaves
// the dispatcher from its host call; one that woke while another request
// held the only worker (no preemption) is killed while queued and taken
// out of the queue. Both are answered 504 and the worker is not lost.
func TestSleepKilled(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sleep string // ms
		hog   bool   // a /spin request takes the worker while the sleeper sleeps
	}{
		{"while blocked", "60000", false},
		{"while queued after waking", "250", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sleep := counterRoute(t, "/sleep", "sleep")
			sleep.Timeout = time.Second
			ts := startServer(t, config.Runtime{Workers: 1, Policy: "fifo"}, sleep, testRoute(t, "/spin", "spin"))
			res := ts.doAsync(t, "POST", "/sleep?"+tc.sleep, "")
			waitBlocked(t, ts.Server, 1)
			var spin <-chan response
			if tc.hog {
				spin = ts.doAsync(t, "POST", "/spin", "1500")
				waitRunning(t, ts.Server, 1)
			}
			if r := <-res; r.status != 504 || !strings.Contains(r.body, "timeout") {
				t.Errorf("sleeper = %d %q, want 504 (timeout)", r.status, r.body)
			}
			if spin != nil {
				if r := <-spin; r.status != 200 {
					t.Errorf("spin = %d %q", r.status, r.body)
				}
			}
			assertIdle(t, ts.Server)
		})
	}
}

// assertIdle checks that the scheduler holds nothing: no queued task, no
// busy worker, no sandbox it still knows of, no admission cost.
func assertIdle(t *testing.T, s *Server) {
	t.Helper()
	s.sched.mu.Lock()
	defer s.sched.mu.Unlock()
	if n := s.sched.d.InFlight(); n != 0 {
		t.Errorf("%d tasks still in flight", n)
	}
	if n := s.sched.busyLocked(); n != 0 {
		t.Errorf("%d workers still busy", n)
	}
	if n := len(s.sched.sandboxes); n != 0 {
		t.Errorf("%d sandboxes still known to the scheduler", n)
	}
	if n := s.sched.d.Admitted(); n != 0 {
		t.Errorf("admitted cost %d", n)
	}
}
