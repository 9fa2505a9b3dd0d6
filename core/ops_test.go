package core

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosledge/gosledge/core/config"
)

// knownRequests sends a fixed set of requests whose statuses are 200 (×3),
// 404, 429, 500 and 504, on one worker with a queue of one.
func knownRequests(t *testing.T, ts *testServer) {
	t.Helper()
	var wg sync.WaitGroup
	statuses := make(chan int, 3)
	wg.Add(1)
	go func() { // runs first and holds the only worker
		defer wg.Done()
		status, _ := ts.do(t, "POST", "/spin", "300")
		statuses <- status
	}()
	waitRunning(t, ts.Server, 1)
	wg.Add(1)
	go func() { // waits: the queue is now full
		defer wg.Done()
		status, _ := ts.do(t, "POST", "/fib", "10")
		statuses <- status
	}()
	waitQueued(t, ts.Server, 1)
	if status, _ := ts.do(t, "POST", "/fib", "10"); status != 429 {
		t.Errorf("with a full queue: %d, want 429", status)
	}
	wg.Wait()
	close(statuses)
	for status := range statuses {
		if status != 200 {
			t.Errorf("status %d, want 200", status)
		}
	}
	for _, r := range []struct {
		path   string
		status int
	}{{"/fib", 200}, {"/nope", 404}, {"/trap", 500}, {"/loop", 504}} {
		if status, body := ts.do(t, "POST", r.path, "10"); status != r.status {
			t.Errorf("%s = %d %q, want %d", r.path, status, body, r.status)
		}
	}
}

func waitQueued(t testing.TB, s *Server, n int) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("never saw %d queued sandboxes", n), func() bool {
		s.sched.mu.Lock()
		defer s.sched.mu.Unlock()
		return s.sched.d.Queued() >= n
	})
}

func opsRoutes(t *testing.T) []config.Route {
	loop := testRoute(t, "/loop", "loop")
	loop.Timeout = 100 * time.Millisecond
	return []config.Route{testRoute(t, "/fib", "fib"), testRoute(t, "/spin", "spin"), testRoute(t, "/trap", "trap"), loop}
}

func TestMetrics(t *testing.T) {
	ts := startServer(t, config.Runtime{Workers: 1, Preemption: false, MaxQueue: 1, Metrics: "127.0.0.1:0"}, opsRoutes(t)...)
	knownRequests(t, ts)
	base := "http://" + ts.MetricsAddr()
	scrape := get(t, base+"/metrics")
	for _, want := range []string{
		`gosledge_requests_total{code="200",route="/fib",tenant="t"} 2`,
		`gosledge_requests_total{code="200",route="/spin",tenant="t"} 1`,
		`gosledge_requests_total{code="404",route="",tenant="t"} 1`,
		`gosledge_requests_total{code="429",route="/fib",tenant="t"} 1`,
		`gosledge_requests_total{code="500",route="/trap",tenant="t"} 1`,
		`gosledge_requests_total{code="504",route="/loop",tenant="t"} 1`,
		`gosledge_refusals_total{route="/fib",tenant="t"} 1`,
		`gosledge_kills_total{route="/loop",tenant="t"} 1`,
		`gosledge_request_duration_seconds_count{route="/fib",tenant="t"} 3`,
		`gosledge_request_execution_seconds_count{route="/fib",tenant="t"} 2`,
		`gosledge_sandboxes{state="Running"} 0`,
		`gosledge_sandboxes{state="Complete"} 0`,
		`gosledge_preemptions_total 0`,
		`go_goroutines `,
	} {
		if !strings.Contains(scrape, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(scrape, "gosledge_drops_total{") {
		t.Error("drops counted though nothing was dropped")
	}
	if got := get(t, base+"/healthz"); got != "ok\n" {
		t.Errorf("/healthz = %q", got)
	}
	if got := get(t, base+"/readyz"); got != "ready\n" {
		t.Errorf("/readyz = %q", got)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestPerfLog(t *testing.T) {
	for _, ext := range []string{".csv", ".jsonl"} {
		t.Run(ext, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sandboxes"+ext)
			ts := startServer(t, config.Runtime{Workers: 1, MaxQueue: 1, PerfLog: path}, opsRoutes(t)...)
			knownRequests(t, ts)
			ts.stop() // flushes the log
			rows := readPerfLog(t, path)
			// A restart appends (one header in a CSV file), it does not truncate.
			ts = startServer(t, config.Runtime{Workers: 1, MaxQueue: 1, PerfLog: path}, opsRoutes(t)...)
			if status, _ := ts.do(t, "POST", "/fib", "5"); status != 200 {
				t.Fatalf("fib after restart = %d", status)
			}
			ts.stop()
			if again := readPerfLog(t, path); len(again) != len(rows)+1 || again[len(rows)]["route"] != "/fib" {
				t.Errorf("after a restart and one request: %d lines, want %d (the first run's and one /fib)", len(again), len(rows)+1)
			}
			var statuses []string
			for _, r := range rows {
				statuses = append(statuses, r["route"]+":"+r["status"])
			}
			slices.Sort(statuses)
			// 404 never becomes a sandbox, so it has no line.
			want := []string{"/fib:200", "/fib:200", "/fib:429", "/loop:504", "/spin:200", "/trap:500"}
			if !slices.Equal(statuses, want) {
				t.Errorf("perf log lines %v, want %v", statuses, want)
			}
			for _, r := range rows {
				if r["route"] == "/spin" {
					if r["bytes_in"] != "3" || r["tenant"] != "t" || r["running_us"] == "0" || r["cpu_us"] == "0" {
						t.Errorf("spin row %v", r)
					}
				}
			}
		})
	}
}

// TestPerfLogRotatesOtherColumns: a CSV perf log whose header is not
// this version's is moved to path.1, not appended to.
func TestPerfLogRotatesOtherColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sandboxes.csv")
	old := "id,route,status\n1,/fib,200\n"
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, config.Runtime{Workers: 1, PerfLog: path}, opsRoutes(t)...)
	if status, _ := ts.do(t, "POST", "/fib", "5"); status != 200 {
		t.Fatalf("fib = %d", status)
	}
	ts.stop()
	if rows := readPerfLog(t, path); len(rows) != 1 {
		t.Errorf("%d lines in the new log, want 1", len(rows))
	}
	if b, err := os.ReadFile(path + ".1"); err != nil || string(b) != old {
		t.Errorf("rotated log = %q, %v; want the old file", b, err)
	}
}

// readPerfLog returns each line as field → value, checking the CSV header
// matches every row.
func readPerfLog(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []map[string]string
	if strings.HasSuffix(path, ".csv") {
		recs, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(recs[0], perfFields) {
			t.Fatalf("header %v, want %v", recs[0], perfFields)
		}
		for _, rec := range recs[1:] {
			if len(rec) != len(perfFields) {
				t.Fatalf("row has %d fields, header %d", len(rec), len(perfFields))
			}
			m := map[string]string{}
			for i, v := range rec {
				m[perfFields[i]] = v
			}
			rows = append(rows, m)
		}
		return rows
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var obj map[string]any
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			t.Fatal(err)
		}
		if len(obj) != len(perfFields) {
			t.Fatalf("line has %d keys, want %d", len(obj), len(perfFields))
		}
		m := map[string]string{}
		for k, v := range obj {
			m[k] = fmt.Sprint(v)
		}
		rows = append(rows, m)
	}
	return rows
}

// TestReload: a route added and one changed take effect, a request in
// flight finishes on its old module, and a config that needs a restart is
// refused while the old one keeps serving.
func TestReload(t *testing.T) {
	spin := testRoute(t, "/spin", "spin")
	ts := startServer(t, config.Runtime{Workers: 2, Preemption: true}, testRoute(t, "/fib", "fib"), spin)
	inflight := make(chan string, 1)
	go func() {
		status, body := ts.do(t, "POST", "/spin", "200")
		inflight <- fmt.Sprint(status, " ", strings.TrimSpace(body))
	}()
	waitRunning(t, ts.Server, 1)

	next := *ts.cfg
	next.Tenants = []config.Tenant{{Name: "t", Routes: []config.Route{
		testRoute(t, "/fib", "echo"), // changed: now echoes
		testRoute(t, "/spin", "echo"),
		testRoute(t, "/hash", "hash"), // added
	}}}
	if err := ts.Reload(context.Background(), &next); err != nil {
		t.Fatal(err)
	}
	if got := <-inflight; got != "200 200" {
		t.Errorf("in-flight spin across the reload = %q, want 200 200", got)
	}
	if status, body := ts.do(t, "POST", "/fib", "10"); status != 200 || body != "10" {
		t.Errorf("changed /fib = %d %q, want the echo 10", status, body)
	}
	if status, _ := ts.do(t, "POST", "/hash", "x"); status != 200 {
		t.Errorf("added /hash = %d", status)
	}

	bad := next
	bad.Runtime.Workers = 7
	err := ts.Reload(context.Background(), &bad)
	if err == nil || !strings.Contains(err.Error(), "changing [runtime.workers] requires a restart") {
		t.Errorf("reload with new workers: %v, want a restart error naming runtime.workers", err)
	}
	if status, body := ts.do(t, "POST", "/fib", "11"); status != 200 || body != "11" {
		t.Errorf("after a refused reload /fib = %d %q", status, body)
	}
}

// TestNoRequestLostDuringReload reloads repeatedly while clients hammer
// the server; every request gets exactly one 200.
func TestNoRequestLostDuringReload(t *testing.T) {
	ts := startServer(t, config.Runtime{Workers: 2, Preemption: true}, testRoute(t, "/echo", "echo"))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	sent, ok := 0, 0
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				msg := fmt.Sprintf("%d-%d", c, i)
				status, body := ts.do(t, "POST", "/echo", msg)
				mu.Lock()
				sent++
				if status == 200 && body == msg {
					ok++
				}
				mu.Unlock()
			}
		}()
	}
	for i := range 20 {
		next := *ts.cfg
		r := testRoute(t, "/echo", "echo")
		r.ExpectedExecution = time.Duration(i+1) * time.Millisecond // a new route each time
		next.Tenants = []config.Tenant{{Name: "t", Routes: []config.Route{r}}}
		if err := ts.Reload(context.Background(), &next); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if sent == 0 || ok != sent {
		t.Errorf("%d of %d requests answered correctly across reloads", ok, sent)
	}
}

// testutilCounter reads a label-less counter from the server's registry.
func testutilCounter(t *testing.T, s *Server, name string) float64 {
	t.Helper()
	mfs, err := s.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
