package core

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/core/instrument"
)

// reactorOf is the instance pool (a reactor's or a command's) serving
// ts's path.
func reactorOf(t *testing.T, ts *testServer, path string) *instancePool {
	t.Helper()
	r := ts.tenants[0].routeMap()[path].pool
	if r == nil {
		t.Fatalf("%s is not served by an instance pool", path)
	}
	return r
}

// TestReactorEcho: the Go reactor example answers through the real server,
// and from the second request on, on a reused instance.
func TestReactorEcho(t *testing.T) {
	ts := startServer(t, config.Runtime{Workers: 1, Preemption: true, Metrics: "127.0.0.1:0"}, testRoute(t, "/goreactor", "goreactor/goreactor"))
	r := reactorOf(t, ts, "/goreactor")
	for i := range 20 {
		body := fmt.Sprintf("hello %d from Go", i)
		if status, got := ts.do(t, "POST", "/goreactor", body); status != 200 || got != body {
			t.Fatalf("request %d: %d %q, want 200 %q", i, status, got, body)
		}
		waitIdle(t, r, 1)
	}
	big := strings.Repeat("0123456789abcdef", 8<<10) // 128 KiB: the Go heap grows past the snapshot's
	if status, got := ts.do(t, "POST", "/goreactor", big); status != 200 || got != big {
		t.Fatalf("128 KiB body: %d, %d bytes back", status, len(got))
	}
	if status, got := ts.do(t, "POST", "/goreactor", "after"); status != 200 || got != "after" {
		t.Fatalf("after the big body: %d %q", status, got)
	}
	waitIdle(t, r, 1)
	if n := r.stats.reused.Load(); n < 19 {
		t.Errorf("%d of 22 requests on a reused instance, want at least 19", n)
	}
	scrape := get(t, "http://"+ts.MetricsAddr()+"/metrics")
	for _, want := range []string{
		fmt.Sprintf(`gosledge_instances_total{event="reused",route="/goreactor",tenant="t"} %d`, r.stats.reused.Load()),
		fmt.Sprintf(`gosledge_instances_total{event="created",route="/goreactor",tenant="t"} %d`, r.stats.created.Load()),
		`gosledge_idle_instances{route="/goreactor",tenant="t"} 1`,
	} {
		if !strings.Contains(scrape, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestReactorIsolation: whatever a request does to its instance, the next
// one sees the snapshot: the Wasm reactor's globals and memory words and
// the Go reactor's package variable, map and channel, over sequential and
// concurrent requests, mixed with requests that trap, return an exit
// status, exit, time out, grow memory or close stdout, with and without
// preemption.
func TestReactorIsolation(t *testing.T) {
	short := counterRoute(t, "/rs", "reactor") // the same module on a route that times out soon
	short.Timeout = 100 * time.Millisecond
	ts := startServer(t, config.Runtime{Workers: 2, Preemption: true, Quantum: 100 * time.Microsecond},
		counterRoute(t, "/r", "reactor"), short, counterRoute(t, "/go", "gocounter/gocounter"))
	check := func(t *testing.T, path, body, want string) {
		t.Helper()
		if status, got := ts.do(t, "POST", path, body); status != 200 || got != want {
			t.Errorf("%s %q: %d %q, want 200 %q", path, body, status, got, want)
		}
	}
	for i := range 10 {
		check(t, "/r", "", "1000")
		check(t, "/go", fmt.Sprint(i), "0 0 0 "+fmt.Sprint(i))
	}
	// Requests that leave their instance in a state the snapshot cannot
	// undo; after each, the next request still sees the snapshot.
	for _, tc := range []struct {
		body   string
		status int
		want   string
	}{
		{"t", 500, "trapped"},
		{"x", 500, "status 3"},
		{"e", 200, ""}, // proc_exit(0): wazero closes the instance itself
		{"l", 504, "timeout"},
		{"g", 200, "1000"},
		{"c", 200, ""},
	} {
		before := reactorOf(t, ts, "/rs").stats.discarded.Load()
		status, got := ts.do(t, "POST", "/rs", tc.body)
		if status != tc.status || !strings.Contains(got, tc.want) {
			t.Errorf("/rs %q: %d %q, want %d containing %q", tc.body, status, got, tc.status, tc.want)
		}
		if d := reactorOf(t, ts, "/rs").stats.discarded.Load() - before; d != 1 {
			t.Errorf("/rs %q: %d instances discarded, want 1", tc.body, d)
		}
		check(t, "/rs", "", "1000")
	}
	var wg sync.WaitGroup
	for c := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				switch (c + i) % 3 {
				case 0:
					check(t, "/r", "", "1000")
				case 1:
					check(t, "/r", "s", "1000") // long enough to be preempted
				default:
					check(t, "/go", "c", "0 0 0 c")
				}
			}
		}()
	}
	wg.Wait()
	if st := ts.sched.snapshot(); st.Preemptions == 0 {
		t.Error("no request was preempted")
	}
	for _, path := range []string{"/r", "/go"} {
		r := reactorOf(t, ts, path)
		if r.stats.reused.Load() == 0 {
			t.Errorf("%s: no instance was reused", path)
		}
		r.mu.Lock()
		idle := len(r.idle)
		r.mu.Unlock()
		if idle > r.maxIdle {
			t.Errorf("%s: %d idle instances, at most %d allowed", path, idle, r.maxIdle)
		}
	}
}

// TestReactorPreempted: on one worker, a short request sent while a long
// reactor request runs completes first, and the long one then completes
// with the right answer on an instance that goes back to the pool.
func TestReactorPreempted(t *testing.T) {
	ts := startServer(t, config.Runtime{Workers: 1, Preemption: true}, counterRoute(t, "/r", "reactor"), testRoute(t, "/echo", "echo"))
	r := reactorOf(t, ts, "/r")
	long := ts.doAsync(t, "POST", "/r", "S")
	for ts.states[StateRunning].Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if status, body := ts.do(t, "POST", "/echo", "short"); status != 200 || body != "short" {
		t.Fatalf("short request: %d %q", status, body)
	}
	select {
	case resp := <-long:
		t.Fatalf("the long request finished before the short one: %d %q", resp.status, resp.body)
	default:
	}
	resp := <-long
	if resp.status != 200 || resp.body != "1000" {
		t.Fatalf("long request: %d %q, want 200 \"1000\"", resp.status, resp.body)
	}
	if st := ts.sched.snapshot(); st.Preemptions == 0 {
		t.Error("the long request was not preempted")
	}
	if d := r.stats.discarded.Load(); d != 0 {
		t.Errorf("%d instances discarded after a preempted request that returned", d)
	}
	if status, body := ts.do(t, "POST", "/r", ""); status != 200 || body != "1000" {
		t.Errorf("after the preempted request: %d %q", status, body)
	}
}

// TestReactorRefused: modules a snapshot cannot serve are refused at load,
// naming the route's key.
func TestReactorRefused(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, module, handler, want string
		wagi                        bool
	}{
		{"writes its table", "reactor_table", "", "table.set changes state the host cannot restore", false},
		{"no such handler", "reactor", "serve", `must export its handler "serve"`, false},
		{"a WAGI route", "reactor", "", "needs a command module (_start)", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := fmt.Sprintf("[[tenant]]\nname = \"t\"\nport = 1\n[[tenant.route]]\npath = \"/r\"\nmodule = %q\n", tc.module+".wasm")
			if tc.handler != "" {
				src += fmt.Sprintf("handler = %q\n", tc.handler)
			}
			if tc.wagi {
				src += "interface = \"wagi\"\n"
			}
			cfg, err := config.Parse(filepath.Join("testdata", "reactor.toml"), []byte(src), os.DirFS("testdata"))
			if err != nil {
				t.Fatal(err)
			}
			err = CheckModules(ctx, cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "reactor.toml:") {
				t.Fatalf("CheckModules: %v, want file:line and %q", err, tc.want)
			}
			if tc.handler != "" && !strings.Contains(err.Error(), "reactor.toml:7: key \"handler\"") {
				t.Errorf("error %q does not name the handler key's line", err)
			}
			if tc.module == "reactor_table" && !errors.Is(err, instrument.ErrStateful) {
				t.Errorf("error %v is not instrument.ErrStateful", err)
			}
		})
	}
}

// TestReactorReload: a reload that keeps a reactor route's module keeps
// its snapshot and instances; one that changes the module closes the old
// reactor (its idle instances at once, an in-flight one when its request
// ends) and serves from a new snapshot.
func TestReactorReload(t *testing.T) {
	ts := startServer(t, config.Runtime{Workers: 1, Preemption: true}, counterRoute(t, "/r", "reactor"))
	first := reactorOf(t, ts, "/r")
	inflight := ts.doAsync(t, "POST", "/r", "S")
	waitRunning(t, ts.Server, 1)
	next := *ts.cfg
	next.Tenants = []config.Tenant{{Name: "t", Routes: []config.Route{counterRoute(t, "/r", "reactor")}}}
	if err := ts.Reload(context.Background(), &next); err != nil {
		t.Fatal(err)
	}
	if reactorOf(t, ts, "/r") != first {
		t.Fatal("a reload with the same module made a new snapshot")
	}
	next.Tenants = []config.Tenant{{Name: "t", Routes: []config.Route{counterRoute(t, "/r", "gocounter/gocounter")}}}
	if err := ts.Reload(context.Background(), &next); err != nil {
		t.Fatal(err)
	}
	if status, body := ts.do(t, "POST", "/r", "x"); status != 200 || body != "0 0 0 x" {
		t.Errorf("after the reload: %d %q, want the Go counter", status, body)
	}
	if resp := <-inflight; resp.status != 200 || resp.body != "1000" {
		t.Errorf("in-flight request across the reloads: %d %q", resp.status, resp.body)
	}
	first.mu.Lock()
	closed, idle := first.closed, len(first.idle)
	first.mu.Unlock()
	if !closed || idle != 0 {
		t.Errorf("old reactor: closed %v with %d idle instances, want closed and none", closed, idle)
	}
}

// TestReactorRestore writes an instance's memory the ways a request can —
// Go code (wazero's host functions), a system call (the kernel writing
// into it, as a read from a file does) — and checks that restoring it
// gives back the snapshot's image byte for byte, with the write tracker
// and with the whole-image copy; and so does a command's (a C echo), with
// the scan of its resident pages and with the whole-image copy.
func TestReactorRestore(t *testing.T) {
	ts := startServer(t, config.Runtime{Workers: 1, Preemption: true},
		testRoute(t, "/r", "goreactor/goreactor"), testRoute(t, "/c", "echo"))
	ctx := context.Background()
	f, err := os.Open(filepath.Join("testdata", "reactor.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, path := range []string{"/r", "/c"} {
		r := reactorOf(t, ts, path)
		for _, tracked := range []bool{true, false} {
			inst, err := r.get(ctx, func() {})
			if err != nil {
				t.Fatal(err)
			}
			if tracked && inst.written == nil && inst.resident == nil {
				t.Logf("%s: no page tracking here (userfaultfd or PAGEMAP_SCAN unavailable): restores copy the image", path)
			}
			if !tracked {
				inst.untrack()
				inst.resident = nil
			}
			mem := inst.mod.Memory()
			buf, _ := mem.Read(0, mem.Size())
			rng := uint64(len(buf))
			// Three rounds on the same instance: a restore must leave
			// the tracking ready to see the next request's writes.
			for round := range uint64(3) {
				for i := range uint64(200) {
					off := (i*2654435761 + 12345 + round*40503) % (rng - 64)
					if i%2 == 0 {
						mem.WriteUint64Le(uint32(off), ^i)
					} else if _, err := f.ReadAt(buf[off:off+64], int64(round)); err != nil {
						t.Fatal(err)
					}
				}
				buf[len(buf)-1]++ // the last byte
				if err := r.restore(inst, false); err != nil {
					t.Fatal(err)
				}
				if i := firstDiff(buf, r.snap.image); i >= 0 {
					t.Fatalf("%s tracked=%v round %d: after restore, byte %d is %d, the image has %d", path, tracked, round, i, buf[i], r.snap.image[i])
				}
			}
			r.discard(ctx, inst)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// TestClosePools: the pools of from that keep does not serve are
// closed, the others stay open, and routes without one are skipped.
func TestClosePools(t *testing.T) {
	kept, dropped, shared := &instancePool{}, &instancePool{}, &instancePool{}
	keep := []map[string]*route{{"/a": {pool: kept}, "/s": {pool: shared}, "/plain": {}}}
	from := []map[string]*route{
		{"/a": {pool: kept}, "/b": {pool: dropped}, "/plain": {}},
		{"/b2": {pool: dropped}, "/s": {pool: shared}},
	}
	closePools(context.Background(), keep, from...)
	for _, c := range []struct {
		name string
		r    *instancePool
		want bool
	}{{"kept", kept, false}, {"shared", shared, false}, {"dropped", dropped, true}} {
		if c.r.closed != c.want {
			t.Errorf("%s reactor: closed %v, want %v", c.name, c.r.closed, c.want)
		}
	}
	closePools(context.Background(), nil, keep...)
	if !kept.closed || !shared.closed {
		t.Error("at shutdown (keep nothing) a reactor stayed open")
	}
}
