package core

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gosledge/gosledge/core/config"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// pluginBinaries builds the example llf plugin and the test plugin once.
func pluginBinaries(t testing.TB) (llf, testplugin string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir = filepath.Join(cacheDir, "bin")
		for _, pkg := range []string{"../examples/policies/llf/cmd/llf-policy", "../sdk/plugin/internal/testplugin"} {
			out, err := exec.Command("go", "build", "-o", binDir+"/", pkg).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "llf-policy"), filepath.Join(binDir, "testplugin")
}

// pluginWithArgs writes an executable that runs bin with args, since a
// [[plugin]] has a path but no arguments.
func pluginWithArgs(t *testing.T, bin string, args ...string) string {
	path := filepath.Join(t.TempDir(), "plugin-"+strings.Join(args, "-"))
	script := fmt.Sprintf("#!/bin/sh\nexec %q %s \"$@\"\n", bin, strings.Join(args, " "))
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// processesRunning lists the pids whose command line contains path.
func processesRunning(path string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmd, []byte(path)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func pluginRuntime(name, path string) (config.Runtime, []config.Plugin) {
	return config.Runtime{Workers: 1, Preemption: true, Policy: name, PluginFallback: "fifo", PluginTimeout: 50 * time.Millisecond},
		[]config.Plugin{{Name: name, Path: path}}
}

func startWithPlugin(t *testing.T, name, path string, routes ...config.Route) *testServer {
	t.Helper()
	rt, plugins := pluginRuntime(name, path)
	ts := startTenantsWithPlugins(t, rt, plugins, config.Tenant{Name: "t", Routes: routes})
	return ts
}

// TestPluginBimodal: the deadline issue's bimodal scenario served through
// the llf plugin process: short requests that arrive while the long one
// runs finish before it.
func TestPluginBimodal(t *testing.T) {
	llf, _ := pluginBinaries(t)
	long := testRoute(t, "/spin", "spin")
	long.RelativeDeadline, long.ExpectedExecution = 10*time.Second, 500*time.Millisecond
	short := testRoute(t, "/fib", "fib")
	short.RelativeDeadline, short.ExpectedExecution = 50*time.Millisecond, time.Millisecond
	ts := startWithPlugin(t, "llf", llf, long, short)
	if name := ts.sched.policy.Name(); name != "llf" {
		t.Fatalf("policy %q, want llf", name)
	}
	arrived, finished := bimodalRun(t, ts)
	if arrived == 0 || finished != arrived {
		t.Errorf("%d short requests arrived while the long one ran, %d finished before it", arrived, finished)
	}
	if got := testutilCounter(t, ts.Server, "gosledge_policy_fallbacks_total"); got != 0 {
		t.Errorf("fallbacks = %v, want 0", got)
	}
}

// TestPluginFaults: a plugin that hangs in GetNext, answers with a task it
// does not hold, exits or panics mid-call, or is killed from outside
// mid-load is replaced by the fallback; every request gets exactly one
// 200, and no plugin process is left behind.
func TestPluginFaults(t *testing.T) {
	llf, testplugin := pluginBinaries(t)
	for _, tc := range []struct {
		name string
		path string
		kill bool // kill the process from outside while requests queue
	}{
		{"hang", pluginWithArgs(t, testplugin, "hang"), false},
		{"unknown", pluginWithArgs(t, testplugin, "unknown"), false},
		{"exit", pluginWithArgs(t, testplugin, "exit"), false},
		{"panic", pluginWithArgs(t, testplugin, "panic"), false},
		{"killed", llf, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startWithPlugin(t, "p", tc.path, testRoute(t, "/fib", "fib"), testRoute(t, "/spin", "spin"))
			var wg sync.WaitGroup
			results := make(chan int, 32)
			send := func(path, body string) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					status, _ := ts.do(t, "POST", path, body)
					results <- status
				}()
			}
			send("/spin", "200")
			waitRunning(t, ts.Server, 1)
			for i := range 10 {
				send("/fib", strconv.Itoa(10+i))
			}
			if tc.kill {
				waitQueued(t, ts.Server, 5)
				for _, pid := range processesRunning(tc.path) {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			wg.Wait()
			close(results)
			n := 0
			for status := range results {
				n++
				if status != 200 {
					t.Errorf("status %d", status)
				}
			}
			if n != 11 {
				t.Errorf("%d answers, want 11", n)
			}
			if got := testutilCounter(t, ts.Server, "gosledge_policy_fallbacks_total"); got != 1 {
				t.Errorf("fallbacks = %v, want 1", got)
			}
			ts.stop()
			deadline := time.Now().Add(5 * time.Second)
			for len(processesRunning(tc.path)) > 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if pids := processesRunning(tc.path); len(pids) > 0 {
				t.Errorf("plugin processes left: %v", pids)
			}
		})
	}
}

// bimodalRun runs one long request and 20 short ones on ts and returns
// how many short ones arrived while the long one ran and how many of
// those finished before it.
func bimodalRun(t *testing.T, ts *testServer) (arrived, finished int) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if status, body := ts.do(t, "POST", "/spin", "500"); status != 200 {
			t.Errorf("spin = %d %q", status, body)
		}
	}()
	waitRunning(t, ts.Server, 1)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if status, body := ts.do(t, "POST", "/fib", "20"); status != 200 || strings.TrimSpace(body) != "6765" {
				t.Errorf("fib = %d %q", status, body)
			}
		}()
	}
	wg.Wait()
	for _, e := range ts.sched.snapshot().Events {
		if e == "-/spin" {
			break
		}
		switch e {
		case "+/fib":
			arrived++
		case "-/fib":
			finished++
		}
	}
	return arrived, finished
}

// BenchmarkEchoPolicy compares echo throughput under the built-in edf and
// under the llf policy plugin (every decision a round trip to its process).
func BenchmarkEchoPolicy(b *testing.B) {
	b.Run("edf-builtin", func(b *testing.B) {
		ts := startServer(b, config.Runtime{Workers: 2, Policy: "edf", Preemption: true}, testRoute(b, "/echo", "echo"))
		benchEcho(b, ts)
	})
	b.Run("llf-plugin", func(b *testing.B) {
		llf, _ := pluginBinaries(b)
		rt, plugins := pluginRuntime("llf", llf)
		rt.Workers = 2
		ts := startTenantsWithPlugins(b, rt, plugins, config.Tenant{Name: "t", Routes: []config.Route{testRoute(b, "/echo", "echo")}})
		benchEcho(b, ts)
	})
}
