package functions_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// result is what one run of a function produced.
type result struct {
	stdout, stderr string
	err            error // from InstantiateModule: nil, *sys.ExitError or a trap
}

// newRuntime returns a wazero runtime with WASI preview1, closed when t ends.
func newRuntime(t *testing.T, cfg wazero.RuntimeConfig) wazero.Runtime {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	t.Cleanup(func() { rt.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	return rt
}

// compile compiles the committed NAME.wasm.
func compile(t *testing.T, rt wazero.Runtime, name string) wazero.CompiledModule {
	t.Helper()
	bin, err := os.ReadFile(name + ".wasm")
	if err != nil {
		t.Fatal(err)
	}
	mod, err := rt.CompileModule(context.Background(), bin)
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	return mod
}

// run runs mod's _start once the way gosledge does for a request: stdin is
// the body, args are argv[1:], no env, no files, real clocks.
func run(ctx context.Context, t *testing.T, rt wazero.Runtime, mod wazero.CompiledModule, stdin []byte, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cfg := wazero.NewModuleConfig().
		WithName(""). // anonymous, so it can be instantiated repeatedly
		WithArgs(append([]string{"fn"}, args...)...).
		WithStdin(bytes.NewReader(stdin)).
		WithStdout(&stdout).
		WithStderr(&stderr).
		// Real clocks: wazero's default nanotime is a fake that advances
		// 1ms per read, under which spin would return at once.
		WithSysNanotime().
		WithSysWalltime()
	inst, err := rt.InstantiateModule(ctx, mod, cfg)
	if inst != nil {
		inst.Close(ctx)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// exitCode returns the exit status in err, or ok=false if err is a trap.
func exitCode(err error) (code uint32, ok bool) {
	if err == nil {
		return 0, true
	}
	var ee *sys.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), true
	}
	return 0, false
}

// wantExit fails t unless r ended with exit status code.
func wantExit(t *testing.T, r result, code uint32) {
	t.Helper()
	got, ok := exitCode(r.err)
	if !ok {
		t.Fatalf("err = %v (a trap), want exit status %d; stderr %q", r.err, code, r.stderr)
	}
	if got != code {
		t.Fatalf("exit status %d, want %d; err %v; stderr %q", got, code, r.err, r.stderr)
	}
}

// wantTrap fails t unless r ended in a trap whose message contains msg.
func wantTrap(t *testing.T, r result, msg string) {
	t.Helper()
	if code, ok := exitCode(r.err); ok {
		t.Fatalf("exit status %d (err %v), want a trap; stderr %q", code, r.err, r.stderr)
	}
	if !strings.Contains(r.err.Error(), msg) {
		t.Fatalf("trap %q, want it to mention %q", r.err, msg)
	}
}

func TestFib(t *testing.T) {
	rt := newRuntime(t, wazero.NewRuntimeConfig())
	mod := compile(t, rt, "fib")
	ctx := context.Background()

	ok := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"stdin", "10", nil, "55\n"},
		{"stdin with whitespace", " \t10\r\n", nil, "55\n"},
		{"argv", "", []string{"20"}, "6765\n"},
		{"argv wins over stdin", "10", []string{"20"}, "6765\n"},
		{"zero", "0", nil, "0\n"},
		{"one", "1", nil, "1\n"},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			r := run(ctx, t, rt, mod, []byte(c.stdin), c.args...)
			wantExit(t, r, 0)
			if r.stdout != c.want {
				t.Errorf("stdout %q, want %q", r.stdout, c.want)
			}
		})
	}

	bad := []struct {
		name  string
		stdin string
		args  []string
	}{
		{"missing", "", nil},
		{"blank", " \n", nil},
		{"not a number", "ten", nil},
		{"negative", "-1", nil},
		{"inner space", "1 0", nil},
		{"too large", "94", nil},
		{"overflowing", "99999999999999999999999", nil},
		{"too long", strings.Repeat("0", 100) + "1", nil},
		{"bad argv", "10", []string{"x"}},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			r := run(ctx, t, rt, mod, []byte(c.stdin), c.args...)
			wantExit(t, r, 2)
			if r.stdout != "" {
				t.Errorf("stdout %q, want none", r.stdout)
			}
			if !strings.Contains(r.stderr, "usage: fib") {
				t.Errorf("stderr %q, want a usage message", r.stderr)
			}
		})
	}
}

// TestEcho runs echo and its Rust twin (goecho is tested through the
// server: under -race it takes long to compile).
func TestEcho(t *testing.T) {
	for _, name := range []string{"echo", "rustecho/rustecho"} {
		t.Run(name, func(t *testing.T) { testEcho(t, name) })
	}
}

func testEcho(t *testing.T, name string) {
	rt := newRuntime(t, wazero.NewRuntimeConfig())
	mod := compile(t, rt, name)
	ctx := context.Background()

	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	big := make([]byte, 300_000) // several times echo's 64 KiB buffer
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	for name, in := range map[string][]byte{
		"empty":     {},
		"text":      []byte("hello, world\n"),
		"all bytes": all,
		"big":       big,
	} {
		t.Run(name, func(t *testing.T) {
			r := run(ctx, t, rt, mod, in, "ignored")
			wantExit(t, r, 0)
			if !bytes.Equal([]byte(r.stdout), in) {
				t.Errorf("stdout differs from stdin (%d bytes vs %d)", len(r.stdout), len(in))
			}
		})
	}
}

func TestHash(t *testing.T) {
	rt := newRuntime(t, wazero.NewRuntimeConfig())
	mod := compile(t, rt, "hash")
	ctx := context.Background()

	rng := rand.New(rand.NewPCG(3, 4))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	inputs := map[string][]byte{
		"empty": {},
		"abc":   []byte("abc"),
		"big":   random(1 << 20),
	}
	// Lengths around SHA-256's 64-byte block and 56-byte padding limit.
	for _, n := range []int{55, 56, 57, 63, 64, 65, 119, 120, 128} {
		inputs["len "+strconv.Itoa(n)] = random(n)
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			r := run(ctx, t, rt, mod, in)
			wantExit(t, r, 0)
			sum := sha256.Sum256(in)
			if want := hex.EncodeToString(sum[:]) + "\n"; r.stdout != want {
				t.Errorf("stdout %q, want %q", r.stdout, want)
			}
		})
	}
}

func TestSpin(t *testing.T) {
	rt := newRuntime(t, wazero.NewRuntimeConfig())
	mod := compile(t, rt, "spin")
	ctx := context.Background()

	for name, c := range map[string]struct {
		stdin string
		args  []string
		ms    int
		want  string
	}{
		"stdin": {" 5\n", nil, 5, "5\n"},
		"argv":  {"", []string{"3"}, 3, "3\n"},
		"zero":  {"0", nil, 0, "0\n"},
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			r := run(ctx, t, rt, mod, []byte(c.stdin), c.args...)
			elapsed := time.Since(start)
			wantExit(t, r, 0)
			if r.stdout != c.want {
				t.Errorf("stdout %q, want %q", r.stdout, c.want)
			}
			if min := time.Duration(c.ms) * time.Millisecond; elapsed < min {
				t.Errorf("took %v, want at least %v", elapsed, min)
			}
		})
	}

	for name, in := range map[string]string{
		"missing":  "",
		"bad":      "5ms",
		"too long": "18446744073710", // over 2^64 ns
	} {
		t.Run(name, func(t *testing.T) {
			r := run(ctx, t, rt, mod, []byte(in))
			wantExit(t, r, 2)
			if !strings.Contains(r.stderr, "usage: spin") {
				t.Errorf("stderr %q, want a usage message", r.stderr)
			}
		})
	}
}

func TestTrap(t *testing.T) {
	rt := newRuntime(t, wazero.NewRuntimeConfig())
	r := run(context.Background(), t, rt, compile(t, rt, "trap"), nil)
	wantTrap(t, r, "integer divide by zero")
	if r.stdout != "" {
		t.Errorf("stdout %q, want none", r.stdout)
	}
}

func TestExit1(t *testing.T) {
	rt := newRuntime(t, wazero.NewRuntimeConfig())
	r := run(context.Background(), t, rt, compile(t, rt, "exit1"), nil)
	wantExit(t, r, 1)
	if r.stderr == "" {
		t.Error("nothing on stderr")
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want none", r.stdout)
	}
}

func TestGrow(t *testing.T) {
	const limit = 256 // 16 MiB
	rt := newRuntime(t, wazero.NewRuntimeConfig().WithMemoryLimitPages(limit))
	r := run(context.Background(), t, rt, compile(t, rt, "grow"), nil)
	wantTrap(t, r, "out of bounds memory access")
	if want := "grow: reached 256 pages\n"; r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}
}

func TestLoop(t *testing.T) {
	rt := newRuntime(t, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	mod := compile(t, rt, "loop")
	start := time.Now() // before the deadline is set, so elapsed >= 50ms
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()

	r := run(ctx, t, rt, mod, nil)
	elapsed := time.Since(start)
	if !errors.Is(r.err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the run stopped at the deadline", r.err)
	}
	wantExit(t, r, sys.ExitCodeDeadlineExceeded)
	if elapsed < 50*time.Millisecond {
		t.Errorf("stopped after %v, before the 50ms deadline", elapsed)
	}
}
