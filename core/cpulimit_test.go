package core

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gosledge/gosledge/core/config"
)

// TestCPULimit: under the same cpu_limit, a spin that would hold its
// worker for 3× the limit is killed at the limit (504, "CPU limit"),
// while a sleep of the same wall time, which gives its worker away in
// poll_oneoff, survives. The kill is counted apart from timeouts, in the
// metrics and in the perf log's result column, and the killed request's
// charged CPU time is at least the limit.
func TestCPULimit(t *testing.T) {
	const limit = 100 * time.Millisecond
	wall := strconv.Itoa(int(3 * limit / time.Millisecond))
	spin := testRoute(t, "/spin", "spin")
	spin.CPULimit = limit
	sleep := counterRoute(t, "/sleep", "sleep")
	sleep.CPULimit = limit
	perf := filepath.Join(t.TempDir(), "perf.csv")
	ts := startServer(t, config.Runtime{Workers: 1, Preemption: true, PerfLog: perf}, spin, sleep)

	slept := ts.doAsync(t, "POST", "/sleep?"+wall, "")
	spun := ts.doAsync(t, "POST", "/spin?"+wall, "")
	if r := <-spun; r.status != 504 || !strings.Contains(r.body, "CPU limit") {
		t.Errorf("spin %s ms under a %s cpu_limit = %d %q, want 504 saying CPU limit", wall, limit, r.status, r.body)
	}
	if r := <-slept; r.status != 200 || r.body != "woke\n" {
		t.Errorf("sleep %s ms under a %s cpu_limit = %d %q, want 200 \"woke\\n\"", wall, limit, r.status, r.body)
	}
	if got := counterValue(t, ts.Server, "gosledge_cpu_limit_kills_total", "/spin"); got != 1 {
		t.Errorf("cpu_limit_kills_total{route=/spin} = %v, want 1", got)
	}
	if got := counterValue(t, ts.Server, "gosledge_kills_total", "/spin"); got != 0 {
		t.Errorf("kills_total{route=/spin} = %v, want 0: a CPU-limit kill is no timeout", got)
	}
	ts.stop()
	rows := readPerfLog(t, perf)
	if len(rows) != 2 {
		t.Fatalf("%d perf log lines, want 2", len(rows))
	}
	for _, r := range rows {
		want := map[string]string{"/spin": "504 cpu limit", "/sleep": "200 ok"}[r["route"]]
		if got := r["status"] + " " + r["result"]; got != want {
			t.Errorf("perf log %s: %q, want %q", r["route"], got, want)
		}
		if cpu, _ := strconv.Atoi(r["cpu_us"]); r["route"] == "/spin" {
			if time.Duration(cpu)*time.Microsecond < limit {
				t.Errorf("killed spin charged %d µs, less than its %s limit", cpu, limit)
			}
			t.Logf("spin killed after %d µs of CPU (limit %s), latency %s µs", cpu, limit, r["latency_us"])
		}
	}
	assertIdle(t, ts.Server)
}

// counterValue reads a tenant/route counter from the server's registry
// (0 if it was never incremented).
func counterValue(t *testing.T, s *Server, name, route string) float64 {
	t.Helper()
	mfs, err := s.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && l.GetValue() == route {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
