package core

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gosledge/gosledge/core/config"
)

// poolOf is the instance pool serving ts's path, or nil.
func poolOf(ts *testServer, path string) *instancePool {
	return ts.tenants[0].routeMap()[path].pool
}

// waitIdle waits until p holds n idle instances: the listener restores an
// instance after it sent the answer, so a client can be faster.
func waitIdle(t testing.TB, p *instancePool, n int) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("never saw %d idle instances", n), func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.idle) >= n
	})
}

// TestCommandPool: a C command's requests run on pooled instances, each
// one seeing its own request's argv (a query) and body.
func TestCommandPool(t *testing.T) {
	ts := startServer(t, config.Runtime{Workers: 1, Preemption: true},
		testRoute(t, "/echo", "echo"), testRoute(t, "/fib", "fib"))
	for _, path := range []string{"/echo", "/fib"} {
		if poolOf(ts, path) == nil {
			t.Fatalf("%s is not pooled", path)
		}
	}
	fib := []uint64{0, 1}
	for len(fib) < 30 {
		fib = append(fib, fib[len(fib)-1]+fib[len(fib)-2])
	}
	for i := range 20 {
		body := fmt.Sprintf("hello %d", i)
		if status, got := ts.do(t, "POST", "/echo", body); status != 200 || got != body {
			t.Fatalf("echo %d: %d %q, want %q", i, status, got, body)
		}
		waitIdle(t, poolOf(ts, "/echo"), 1)
		// argv[1] (the query) on one request, the body on the next: a
		// reused instance must not see the last request's argv.
		n := (7 * i) % 30
		path, in := fmt.Sprintf("/fib?n=%d", n), ""
		if i%2 == 1 {
			path, in = "/fib", fmt.Sprint(n)
		}
		if status, got := ts.do(t, "POST", path, in); status != 200 || got != fmt.Sprintln(fib[n]) {
			t.Fatalf("fib %d (%s, body %q): %d %q, want %d", n, path, in, status, got, fib[n])
		}
		waitIdle(t, poolOf(ts, "/fib"), 1)
	}
	for _, path := range []string{"/echo", "/fib"} {
		p := poolOf(ts, path)
		if reused := p.stats.reused.Load(); reused != 19 {
			t.Errorf("%s: %d of 20 requests on a reused instance, want 19", path, reused)
		}
		if d := p.stats.discarded.Load(); d != 0 {
			t.Errorf("%s: %d instances discarded, want none", path, d)
		}
	}
}

// TestCommandPoolDiscards: an instance whose request exited, trapped or
// grew its memory is never reused, and the next request is still right;
// a route whose instances always end that way (a Go command exits through
// proc_exit and grows its memory) goes back to fresh instances, trying the
// pool once in commandProbeEvery requests.
func TestCommandPoolDiscards(t *testing.T) {
	ts := startServer(t, config.Runtime{Workers: 1, Preemption: true},
		testRoute(t, "/fib", "fib"), testRoute(t, "/exit1", "exit1"), testRoute(t, "/goecho", "goecho/goecho"),
		counterRoute(t, "/big", "counter"))
	fib := poolOf(ts, "/fib")
	for i, c := range []struct {
		query  string
		status int
		want   string
	}{
		{"?n=10", 200, "55\n"}, {"?n=x", 500, ""}, {"?n=11", 200, "89\n"}, {"?n=94", 500, ""}, {"?n=12", 200, "144\n"},
	} {
		status, got := ts.do(t, "GET", "/fib"+c.query, "")
		if status != c.status || c.status == 200 && got != c.want {
			t.Fatalf("request %d (%s): %d %q, want %d %q", i, c.query, status, got, c.status, c.want)
		}
	}
	if d := fib.stats.discarded.Load(); d != 2 {
		t.Errorf("fib: %d instances discarded, want 2 (the two that exited with 2)", d)
	}

	const requests = commandStreak + 2*commandProbeEvery
	for _, c := range []struct{ path, want string }{{"/goecho", "hi"}, {"/big", "000"}, {"/exit1", ""}} {
		p := poolOf(ts, c.path)
		if p == nil {
			t.Fatalf("%s is not pooled", c.path)
		}
		for i := range requests {
			status, got := ts.do(t, "POST", c.path, "hi")
			if c.want != "" && (status != 200 || got != c.want) || c.want == "" && status != 500 {
				t.Fatalf("%s request %d: %d %q", c.path, i, status, got)
			}
		}
		// The streak, then one probe in commandProbeEvery; the pool's own
		// snapshot instance served the first request.
		if d, want := p.stats.discarded.Load(), uint64(commandStreak+2); d != want {
			t.Errorf("%s: %d of %d requests on the pool, want %d", c.path, d, requests, want)
		}
		if r := p.stats.reused.Load(); r != 0 {
			t.Errorf("%s: %d instances reused, want none", c.path, r)
		}
	}
}

// TestCommandPoolNotStateful: a command that writes a table is never
// pooled (its table could not be restored) and still serves.
func TestCommandPoolNotStateful(t *testing.T) {
	ts := startServer(t, config.Runtime{Workers: 1, Preemption: true}, counterRoute(t, "/tablegrow", "tablegrow"))
	if poolOf(ts, "/tablegrow") != nil {
		t.Fatal("a command that grows a table is pooled")
	}
	for i := range 3 {
		if status, body := ts.do(t, "POST", "/tablegrow", ""); status != 200 {
			t.Fatalf("request %d: %d %q", i, status, body)
		}
	}
}

// TestCommandPoolWAGIEnv: a pooled WAGI command sees each request's own
// environment, never the one before's.
func TestCommandPoolWAGIEnv(t *testing.T) {
	ts := startServer(t, config.Runtime{Workers: 1, Preemption: true}, wagiRoute(t, "/env/...", "testdata:wagi_printenv"))
	p := poolOf(ts, "/env/...")
	if p == nil {
		t.Fatal("the WAGI command is not pooled")
	}
	for i := range 6 {
		path := fmt.Sprintf("/env/%d?q=%d", i, i)
		status, body := ts.do(t, "GET", path, "")
		if status != 200 || !strings.Contains(body, fmt.Sprintf("PATH_INFO = /%d\n", i)) || !strings.Contains(body, fmt.Sprintf("QUERY_STRING = q=%d\n", i)) {
			t.Fatalf("request %d: %d %q", i, status, body)
		}
		waitIdle(t, p, 1)
	}
	if r := p.stats.reused.Load(); r != 5 {
		t.Errorf("%d of 6 requests on a reused instance, want 5", r)
	}
}

// TestIdleBudget: with no room left in the idle instances' memory
// budget, an instance is closed after its request instead of kept, and
// requests are still answered; with room again, instances are kept again,
// and the budget counts exactly what the idle instances hold.
func TestIdleBudget(t *testing.T) {
	ts := startServer(t, config.Runtime{Workers: 2, Preemption: true},
		testRoute(t, "/echo", "echo"), testRoute(t, "/rust", "rustecho/rustecho"))
	b := &ts.engine.idle
	echo, rust := poolOf(ts, "/echo"), poolOf(ts, "/rust")
	if h, want := b.held.Load(), echo.size()+rust.size(); h != want {
		t.Fatalf("%d bytes held idle at load, want %d (the two snapshots)", h, want)
	}
	idle := func(p *instancePool) int {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.idle)
	}
	run := func() {
		done := make(chan struct{})
		for c := range 4 {
			go func() {
				defer func() { done <- struct{}{} }()
				for i := range 10 {
					path := []string{"/echo", "/rust"}[(c+i)%2]
					if status, got := ts.do(t, "POST", path, "hi"); status != 200 || got != "hi" {
						t.Errorf("%s: %d %q", path, status, got)
						return
					}
				}
			}()
		}
		for range 4 {
			<-done
		}
	}
	b.limit.Store(0)
	run()
	if h, n, m := b.held.Load(), idle(echo), idle(rust); h != 0 || n != 0 || m != 0 {
		t.Errorf("no budget: %d bytes held, %d and %d idle instances, want none", h, n, m)
	}
	b.limit.Store(maxIdleBytes)
	run()
	waitIdle(t, echo, 1)
	waitIdle(t, rust, 1)
	ts.stop() // the pools close: every idle instance with them
	if h := b.held.Load(); h != 0 {
		t.Errorf("%d bytes counted idle after the pools closed, want 0", h)
	}
}
