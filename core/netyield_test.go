package core

import (
	"runtime"
	"strings"
	"testing"

	"github.com/gosledge/gosledge/core/config"
)

// TestPollKick: with a sandbox on every Go processor, a yield goes through
// its worker's pipe so the network is polled (netyield.go), and a request
// that arrives meanwhile is served; the spins finish too.
func TestPollKick(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	ts := startServer(t, config.Runtime{Workers: procs, Preemption: true, Policy: "edf"},
		testRoute(t, "/spin", "spin"), testRoute(t, "/fib", "fib"))
	var spins []<-chan response
	for range procs {
		spins = append(spins, ts.doAsync(t, "POST", "/spin", "300"))
	}
	waitRunning(t, ts.Server, procs)
	if status, body := ts.do(t, "POST", "/fib", "20"); status != 200 || strings.TrimSpace(body) != "6765" {
		t.Errorf("fib 20 while every processor spins = %d %q", status, body)
	}
	for i, c := range spins {
		if r := <-c; r.status != 200 {
			t.Errorf("spin %d = %d %q", i, r.status, r.body)
		}
	}
	var kicks uint64
	for _, k := range ts.sched.kicks {
		kicks += k.kicks.Load()
	}
	if kicks == 0 {
		t.Errorf("no yield went through a kick with all %d processors running sandboxes", procs)
	}
}
