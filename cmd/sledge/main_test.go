package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// sledgeBin is the command built once for the process-level tests.
var sledgeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sledge-bin")
	if err != nil {
		panic(err)
	}
	sledgeBin = filepath.Join(dir, "sledge")
	if out, err := exec.Command("go", "build", "-race", "-o", sledgeBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building sledge: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// writeConfig writes a config serving fib and spin on a free port into
// dir, with extra appended, and returns its path and the tenant's URL.
func writeConfig(t *testing.T, dir, extra string) (string, string) {
	t.Helper()
	for _, fn := range []string{"fib", "spin", "echo"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", "functions", fn+".wasm"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fn+".wasm"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	cfg := fmt.Sprintf(`[runtime]
workers = 1
cache_dir = "-"
drain_timeout = "5s"

[[tenant]]
name = "demo"
port = %d

[[tenant.route]]
path = "/fib"
module = "fib.wasm"

[[tenant.route]]
path = "/spin"
module = "spin.wasm"
%s`, port, extra)
	path := filepath.Join(dir, "gosledge.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, fmt.Sprintf("http://127.0.0.1:%d", port)
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startSledge runs `sledge serve --config path` and waits until url
// answers.
func startSledge(t *testing.T, path, url string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	cmd := exec.Command(sledgeBin, "serve", "--config", path)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if status, _ := post(url+"/fib", "1"); status == 200 {
			return cmd, logs
		}
		if time.Now().After(deadline) {
			t.Fatalf("sledge never served %s:\n%s", url, logs.String())
		}
	}
}

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func post(url, body string) (int, string) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	resp, err := client.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDrainOnSIGTERM: a request in flight at SIGTERM completes, a new one
// gets 503, and the process exits 0.
func TestDrainOnSIGTERM(t *testing.T) {
	path, url := writeConfig(t, t.TempDir(), "")
	cmd, logs := startSledge(t, path, url)
	inflight := make(chan string, 1)
	go func() {
		status, body := post(url+"/spin", "700")
		inflight <- fmt.Sprint(status, " ", strings.TrimSpace(body))
	}()
	time.Sleep(200 * time.Millisecond) // the spin is running
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Until the spin finishes the server drains: new requests get 503.
	var status int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if status, _ = post(url+"/fib", "5"); status == 503 {
			break
		}
	}
	if status != 503 {
		t.Errorf("request while draining = %d, want 503", status)
	}
	if got := <-inflight; got != "200 700" {
		t.Errorf("in-flight request = %q, want 200 700", got)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("sledge exited with %v, want 0\n%s", err, logs.String())
	}
}

// TestReloadOnSIGHUP: a route added to the file is served after SIGHUP; a
// broken file is refused with its file:line and the old config serves on.
func TestReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	path, url := writeConfig(t, dir, "")
	cmd, logs := startSledge(t, path, url)
	if status, _ := post(url+"/echo", "x"); status != 404 {
		t.Fatalf("/echo before reload = %d, want 404", status)
	}
	cfg, _ := os.ReadFile(path)
	added := string(cfg) + "\n[[tenant.route]]\npath = \"/echo\"\nmodule = \"echo.wasm\"\n"
	os.WriteFile(path, []byte(added), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { s, b := post(url+"/echo", "hi"); return s == 200 && b == "hi" }, "the added route")

	os.WriteFile(path, []byte(added+"bogus_key = 1\n"), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return strings.Contains(logs.String(), "reload refused") }, "the refusal")
	line := strings.Count(added, "\n") + 1
	if want := fmt.Sprintf(`gosledge.toml:%d: tenant \"demo\" route \"/echo\": unknown key \"bogus_key\"`, line); !strings.Contains(logs.String(), want) {
		t.Errorf("refusal does not name file:line:\n%s", logs.String())
	}
	if s, b := post(url+"/echo", "still"); s != 200 || b != "still" {
		t.Errorf("after a refused reload /echo = %d %q", s, b)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	good, _ := writeConfig(t, dir, "")
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[runtime]\nworkers = 0\n"), 0o644)
	unknownPolicy := filepath.Join(dir, "policy.toml")
	cfg, _ := os.ReadFile(good)
	os.WriteFile(unknownPolicy, []byte(strings.Replace(string(cfg), "workers = 1", "workers = 1\npolicy = \"nope\"", 1)), 0o644)
	// Modules serve refuses, which validate must refuse too: not Wasm, and
	// one the instrumenter rejects (a global index past the module's own).
	os.WriteFile(filepath.Join(dir, "notwasm.wasm"), []byte("#!/bin/sh\n"), 0o644)
	rejected, err := os.ReadFile(filepath.Join("..", "..", "core", "instrument", "testdata", "reject_global.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "rejected.wasm"), rejected, 0o644)
	badModules := filepath.Join(dir, "modules.toml")
	os.WriteFile(badModules, []byte(strings.Replace(strings.Replace(string(cfg),
		`module = "fib.wasm"`, `module = "notwasm.wasm"`, 1), `module = "spin.wasm"`, `module = "rejected.wasm"`, 1)), 0o644)
	tests := []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"version"}, 0, "sledge ", ""},
		{[]string{"validate", "--config", filepath.Join("..", "..", "core", "config", "reference.toml")}, 0, "reference.toml: ok", ""},
		{[]string{"validate", "--config", badModules}, 1, "", `modules.toml:12: key "module": module demo/fib (notwasm.wasm): instrument: offset 0x0: not a WebAssembly binary`},
		{[]string{"validate", "--config", badModules}, 1, "", `modules.toml:16: key "module": module demo/spin (rejected.wasm): instrument: code section: function 0: offset 0x2b: global index 1 out of range`},
		{[]string{"policies"}, 0, "fifo", ""},
		{[]string{"validate", "--config", good}, 0, "ok (1 tenants, 2 routes, policy fifo)", ""},
		{[]string{"validate", "--config", bad}, 1, "", `bad.toml:2: runtime: key "workers": must be at least 1, got 0`},
		{[]string{"validate", "--config", unknownPolicy}, 1, "", `policy.toml:3: key "policy": unknown policy "nope" (built-ins [edf fifo`},
		{[]string{"serve", "--quantum", "5"}, 2, "", `"5" is not a duration: it needs a unit`},
		{[]string{"serve", "--workers", "0", "--config", good}, 1, "", "--workers: must be at least 1, got 0"},
		{[]string{"validate"}, 2, "", "--config is required"},
		{[]string{"serve", "--help"}, 0, "", "-quantum duration"},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"bench"}, 2, "", "--workload is required"},
		{[]string{"bench", "--workload", "../../examples/workloads/bimodal.toml", "--policies", "nope"}, 1, "", `unknown policy "nope"`},
		{nil, 2, "", "Usage:"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != tt.code || !strings.Contains(stdout.String(), tt.out) || !strings.Contains(stderr.String(), tt.err) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, stdout.String(), stderr.String(), tt.code, tt.out, tt.err)
			}
		})
	}
}

var (
	testpluginOnce sync.Once
	testpluginBin  string
	testpluginErr  error
)

// testplugin builds sdk/plugin's test plugin once and returns a script
// that runs it in mode (a [[plugin]] has a path but no arguments).
func testplugin(t *testing.T, mode string) string {
	t.Helper()
	testpluginOnce.Do(func() {
		testpluginBin = filepath.Join(filepath.Dir(sledgeBin), "testplugin")
		out, err := exec.Command("go", "build", "-o", testpluginBin, "../../sdk/plugin/internal/testplugin").CombinedOutput()
		if err != nil {
			testpluginErr = fmt.Errorf("building testplugin: %v\n%s", err, out)
		}
	})
	if testpluginErr != nil {
		t.Fatal(testpluginErr)
	}
	return script(t, fmt.Sprintf("exec %q %s \"$@\"", testpluginBin, mode))
}

// script writes an executable shell script running body.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "plugin")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// lineOf is the 1-based line of the first line of file containing s.
func lineOf(t *testing.T, file, s string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(data), s)
	if i < 0 {
		t.Fatalf("%s has no %q", file, s)
	}
	return 1 + strings.Count(string(data[:i]), "\n")
}

// TestPluginCommands: validate reports each way a plugin's program is
// unusable at the path key's line; policies exits non-zero when a
// configured plugin does not start, and zero when every one does.
func TestPluginCommands(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the path to write
		cmd   string
		code  int
		out   string // in stdout
		err   string // in stderr, after "gosledge.toml:LINE: plugin \"p\": key \"path\": "
	}{
		{"missing", func(*testing.T, string) string { return "./nope" }, "validate", 1, "", `"./nope" (`},
		{"directory", func(t *testing.T, dir string) string { os.Mkdir(filepath.Join(dir, "bin"), 0o755); return "bin" }, "validate", 1, "", "is a directory, not a program"},
		{"not executable", func(t *testing.T, dir string) string {
			os.WriteFile(filepath.Join(dir, "p.sh"), []byte("#!/bin/sh\n"), 0o644)
			return "p.sh"
		}, "validate", 1, "", "not executable (mode -rw-r--r--)"},
		{"executable", func(t *testing.T, dir string) string { return script(t, "exit 1") }, "validate", 0, "ok (1 tenants", ""},
		{"exits at start", func(t *testing.T, dir string) string { return script(t, "exit 1") }, "policies", 1, "p          plugin ", ""},
		{"missing at policies", func(*testing.T, string) string { return "./nope" }, "policies", 1, "does not start", "no such file"},
		{"starts", func(t *testing.T, dir string) string { return testplugin(t, "fifo") }, "policies", 0, `(policy "test-fifo", protocol `, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path, _ := writeConfig(t, dir, fmt.Sprintf("\n[[plugin]]\nname = \"p\"\npath = %q\n", tc.setup(t, dir)))
			var stdout, stderr bytes.Buffer
			code := run([]string{tc.cmd, "--config", path}, &stdout, &stderr)
			want := ""
			if tc.err != "" {
				want = fmt.Sprintf("gosledge.toml:%d: plugin \"p\": key \"path\": ", lineOf(t, path, "name = \"p\"")+1)
			}
			if code != tc.code || !strings.Contains(stdout.String(), tc.out) || !strings.Contains(stderr.String(), want) ||
				!strings.Contains(stderr.String(), tc.err) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q%s", code, stdout.String(), stderr.String(), tc.code, tc.out, want, tc.err)
			}
		})
	}
}

// TestPluginPathNotInPATH: with the config in the working directory,
// path = "./true" and no such file, sledge reports the missing file; it
// does not run /usr/bin/true (which it used to, through $PATH).
func TestPluginPathNotInPATH(t *testing.T) {
	if _, err := exec.LookPath("true"); err != nil {
		t.Skip("no true in $PATH to be confused with")
	}
	dir := t.TempDir()
	writeConfig(t, dir, "\n[[plugin]]\nname = \"p\"\npath = \"./true\"\n")
	for _, args := range [][]string{{"validate"}, {"policies"}, {"serve", "--policy", "p"}} {
		cmd := exec.Command(sledgeBin, append(args, "--config", "gosledge.toml")...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		want := fmt.Sprintf(`"./true" (%s): no such file`, filepath.Join(dir, "true"))
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("sledge %s: %v\n%s\nwant an error saying %s", strings.Join(args, " "), err, out, want)
		}
	}
}

// TestBenchStrict: a plugin policy that falls back fails `sledge bench`
// (strict is on for plugins) after the report is printed and written;
// --strict=false reports the fallback and succeeds.
func TestBenchStrict(t *testing.T) {
	dir := t.TempDir()
	serve, _ := writeConfig(t, dir, fmt.Sprintf("\n[[plugin]]\nname = \"p\"\npath = %q\n", testplugin(t, "exit")))
	workload := filepath.Join(dir, "w.toml")
	os.WriteFile(workload, fmt.Appendf(nil, `config = %q
duration = "300ms"
warmup = "100ms"
[arrival]
process = "constant"
rate = 20
[[route]]
path = "/fib"
body = "5"
`, filepath.Base(serve)), 0o644)
	for _, tc := range []struct {
		flags []string
		code  int
		err   string // in stderr
	}{
		{nil, 1, "sledge: strict: p at 20 req/s: p→fifo@"},
		{[]string{"--strict=false"}, 0, ""},
		{[]string{"--repeat", "0"}, 1, "--repeat: must be at least 1, got 0"},
	} {
		t.Run(strings.Join(tc.flags, " "), func(t *testing.T) {
			out := t.TempDir()
			var stdout, stderr bytes.Buffer
			args := append([]string{"bench", "--workload", workload, "--policies", "p", "--out", out, "--log-level", "error"}, tc.flags...)
			code := run(args, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stderr.String(), tc.err) {
				t.Fatalf("exit %d, stderr %q; want %d, %q", code, stderr.String(), tc.code, tc.err)
			}
			if tc.code == 1 && tc.err != "" && !strings.HasPrefix(tc.err, "sledge: strict") {
				return // a usage error: nothing ran
			}
			if !strings.Contains(stdout.String(), "\np→fifo@") || !strings.Contains(stdout.String(), "wrote ") {
				t.Errorf("stdout does not show the fallback or the files:\n%s", stdout.String())
			}
			if strings.Contains(stderr.String(), "bench stopped") {
				t.Errorf("a strict failure is not an interruption: %s", stderr.String())
			}
			if _, err := os.Stat(filepath.Join(out, "results.json")); err != nil {
				t.Error(err)
			}
		})
	}
}
