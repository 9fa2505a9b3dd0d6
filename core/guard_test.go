package core

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/plugins/fifo"
	"github.com/gosledge/gosledge/sdk"
)

// flaky is a FIFO policy that goes wrong at its n-th GetNext in the way
// mode says, as a broken plugin would.
type flaky struct {
	*fifo.FIFO
	mode  string // "unknown": returns an ID it never held; "error": reports a fault
	n     int
	calls int
	err   error
}

func (f *flaky) GetNext(w sdk.WorkerID, now time.Duration) (sdk.TaskID, bool) {
	f.calls++
	if f.calls == f.n {
		switch f.mode {
		case "unknown":
			return 1 << 60, true
		case "error":
			f.err = fmt.Errorf("plugin process exited")
			return 0, false
		}
	}
	return f.FIFO.GetNext(w, now)
}

// TestPolicyFallback: a policy plugin that fails mid-load is replaced by
// the fallback, which gets every queued request; each request is answered
// exactly once, with 200.
func TestPolicyFallback(t *testing.T) {
	for _, mode := range []string{"unknown", "error"} {
		t.Run(mode, func(t *testing.T) {
			ts := startServer(t, config.Runtime{Workers: 1, Preemption: true}, testRoute(t, "/fib", "fib"), testRoute(t, "/spin", "spin"))
			bad := &flaky{FIFO: fifo.New(), mode: mode, n: 5}
			ts.sched.mu.Lock()
			err := ts.sched.install(bad, &pluginGuard{
				name:     "flaky",
				err:      func() error { return bad.err },
				kill:     func() {},
				fallback: func() (sdk.Policy, error) { return fifo.New(), nil },
			})
			ts.sched.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}

			var wg sync.WaitGroup
			wg.Add(1)
			go func() { // holds the worker so that the rest queue up
				defer wg.Done()
				if status, _ := ts.do(t, "POST", "/spin", "100"); status != 200 {
					t.Errorf("spin = %d", status)
				}
			}()
			waitRunning(t, ts.Server, 1)
			const n = 12
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					status, body := ts.do(t, "POST", "/fib", fmt.Sprint(10+i%5))
					if status != 200 || strings.TrimSpace(body) == "" {
						t.Errorf("fib = %d %q", status, body)
					}
				}()
			}
			wg.Wait()
			ts.sched.mu.Lock()
			name, guarded := ts.sched.d.Policy().Name(), ts.sched.d.Guarded()
			ts.sched.mu.Unlock()
			if guarded || name != fifo.Name {
				t.Errorf("after the fault: policy %s, still guarded %v; want the fallback", name, guarded)
			}
			if st, _ := ts.RouteStats("t", "/fib"); st.Requests != n {
				t.Errorf("%d /fib answered, want %d", st.Requests, n)
			}
			if got := testutilCounter(t, ts.Server, "gosledge_policy_fallbacks_total"); got != 1 {
				t.Errorf("fallbacks metric = %v, want 1", got)
			}
		})
	}
}

// TestFallbacksReported: a plugin that exits at its first GetNext is
// ejected, and Server.Fallbacks says when, which plugin, which fallback,
// why, and what the plugin had seen; a built-in reports none.
func TestFallbacksReported(t *testing.T) {
	_, testplugin := pluginBinaries(t)
	ts := startWithPlugin(t, "p", pluginWithArgs(t, testplugin, "exit"), testRoute(t, "/fib", "fib"))
	if fbs := ts.Fallbacks(); len(fbs) != 0 {
		t.Fatalf("fallbacks before any request: %+v", fbs)
	}
	before := time.Now()
	if status, _ := ts.do(t, "POST", "/fib", "10"); status != 200 {
		t.Fatalf("fib = %d", status)
	}
	fbs := ts.Fallbacks()
	if len(fbs) != 1 {
		t.Fatalf("fallbacks = %+v, want one", fbs)
	}
	fb := fbs[0]
	// The first request's Enqueue was answered before GetNext exited.
	if fb.Plugin != "p" || fb.To != fifo.Name || fb.Cause == nil || fb.Requests != 1 || fb.Decisions < 1 ||
		fb.Time.Before(before) || fb.Time.After(time.Now()) {
		t.Errorf("fallback = %+v", fb)
	}

	builtin := startServer(t, config.Runtime{Workers: 1, Preemption: true}, testRoute(t, "/fib", "fib"))
	builtin.do(t, "POST", "/fib", "10")
	if fbs := builtin.Fallbacks(); len(fbs) != 0 {
		t.Errorf("built-in fallbacks = %+v", fbs)
	}
}

// TestProbePlugin: a plugin that starts is described and stopped; one
// that is missing, or exits before the handshake, fails with the path
// key's file:line.
func TestProbePlugin(t *testing.T) {
	_, testplugin := pluginBinaries(t)
	ctx := t.Context()
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name, path string
		want       string // in the error; "" for none
	}{
		{"ok", pluginWithArgs(t, testplugin, "fifo"), ""},
		{"missing", filepath.Join(t.TempDir(), "nope"), "no such file"},
		{"bad-mode", pluginWithArgs(t, testplugin, "no-such-mode"), "plugin \"p\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := fmt.Sprintf("[[plugin]]\nname = \"p\"\npath = %q\n[[tenant]]\nname = \"t\"\nport = 1\n[[tenant.route]]\npath = \"/x\"\nmodule = \"x.wasm\"\n", tc.path)
			cfg, err := config.Parse(filepath.Join(dir, "gosledge.toml"), []byte(src), fstest.MapFS{"x.wasm": {}})
			if err != nil {
				t.Fatal(err)
			}
			info, err := ProbePlugin(ctx, cfg, "p", log)
			if tc.want == "" {
				if err != nil || info.Policy != "test-fifo" || info.Protocol == 0 || info.Path != tc.path {
					t.Errorf("ProbePlugin = %+v, %v", info, err)
				}
				if pids := processesRunning(tc.path); len(pids) > 0 {
					t.Errorf("probed plugin still running: %v", pids)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, "gosledge.toml")+":3: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ProbePlugin error %v, want gosledge.toml:3 and %q", err, tc.want)
			}
		})
	}
}
