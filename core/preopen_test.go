package core

import (
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gosledge/gosledge/core/config"
)

// preopenTree makes dir/static (served), with hello.txt and sub/, and
// outside it secret.txt and outside/secret.txt; inside static, out is a
// symlink to outside/, abs_link an absolute symlink to secret.txt,
// rel_link a relative one (../secret.txt). It returns static and the
// secret's absolute path.
func preopenTree(t *testing.T) (static, secret string) {
	t.Helper()
	dir := t.TempDir()
	static = filepath.Join(dir, "static")
	secret = filepath.Join(dir, "secret.txt")
	for _, d := range []string{filepath.Join(static, "sub"), filepath.Join(dir, "outside")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for path, data := range map[string]string{
		filepath.Join(static, "hello.txt"): "hello",
		secret:                             "secret",
		filepath.Join(dir, "outside", "secret.txt"): "outside secret",
	} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		filepath.Join(static, "out"):      filepath.Join(dir, "outside"),
		filepath.Join(static, "abs_link"): secret,
		filepath.Join(static, "rel_link"): filepath.Join("..", "secret.txt"),
	} {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	return static, secret
}

// TestPreopenEscapes serves core/testdata/preopen.wasm on a route that
// preopens one directory at /data, and checks what each of its attempts
// got: files inside are read (also through a ".." that stays inside);
// "..", absolute paths (the guest's and the host's), and symlinks out
// (to a directory, absolute, relative) are all refused; writes, creates
// and unlinks are refused and the tree is unchanged; no second directory
// is preopened.
func TestPreopenEscapes(t *testing.T) {
	static, secret := preopenTree(t)
	r := counterRoute(t, "/preopen", "preopen")
	r.Preopen = map[string]string{"/data": static}
	ts := startServer(t, config.Runtime{Workers: 1}, r)
	status, body := ts.do(t, "GET", "/preopen?"+url.QueryEscape(secret), "")
	if status != 200 {
		t.Fatalf("preopen = %d %q", status, body)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		name, res, _ := strings.Cut(line, "=")
		got[name] = res
	}
	const badf = "8" // WASI errno: not an open file descriptor
	for name, want := range map[string]string{
		"hello.txt": "0:hello", "sub/../hello.txt": "0:hello", "fd_4": badf,
	} {
		if got[name] != want {
			t.Errorf("%s = %q, want %q", name, got[name], want)
		}
	}
	for _, name := range []string{
		"../secret.txt", "sub/../../secret.txt", "absolute", "abs_host",
		"out/secret.txt", "abs_link", "rel_link", "write", "create", "unlink",
	} {
		if res, ok := got[name]; !ok || res == "0" || strings.HasPrefix(res, "0:") {
			t.Errorf("%s = %q, want an errno", name, res)
		}
	}
	if len(got) != 13 {
		t.Errorf("%d attempts reported, want 13:\n%s", len(got), body)
	}
	if b, err := os.ReadFile(filepath.Join(static, "hello.txt")); err != nil || string(b) != "hello" {
		t.Errorf("hello.txt after the attempts: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(static, "new.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("new.txt: %v, want it never created", err)
	}
}

// TestNoPreopenNoFiles: without a preopen the same function finds no
// directory at all.
func TestNoPreopenNoFiles(t *testing.T) {
	_, secret := preopenTree(t)
	ts := startServer(t, config.Runtime{Workers: 1}, counterRoute(t, "/preopen", "preopen"))
	status, body := ts.do(t, "GET", "/preopen?"+url.QueryEscape(secret), "")
	if status != 200 || !strings.HasPrefix(body, "hello.txt=8\n") || strings.Contains(body, "=0") {
		t.Errorf("without a preopen = %d %q, want every attempt refused with badf", status, body)
	}
}
