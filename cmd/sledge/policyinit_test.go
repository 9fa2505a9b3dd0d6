package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicyInit is the out-of-tree walkthrough a researcher follows,
// from a temporary directory outside this repository: scaffold a policy,
// resolve its module against this checkout, pass the conformance suite,
// build the plugin, and have sledge start it and validate its config.
func TestPolicyInit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module of its own")
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "mypolicy")
	sledge := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("sledge %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	sledge("policy", "init", dir, "--gosledge", repo)
	for _, args := range [][]string{
		{"mod", "tidy"},
		{"vet", "./..."},
		{"test", "-count=1", "./..."},
		{"build", "-o", filepath.Join("bin", "mypolicy-policy"), "./cmd/mypolicy-policy"},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	cfg := filepath.Join(dir, "gosledge.toml")
	if out := sledge("policies", "--config", cfg); !strings.Contains(out, `policy "mypolicy", protocol`) {
		t.Errorf("sledge policies does not show the started plugin:\n%s", out)
	}
	if out := sledge("validate", "--config", cfg); !strings.Contains(out, "ok (1 tenants, 1 routes, policy mypolicy)") {
		t.Errorf("sledge validate: %s", out)
	}
}

func TestPolicyInitRefuses(t *testing.T) {
	repo, _ := filepath.Abs(filepath.Join("..", ".."))
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"policy"}, 2, "usage: sledge policy init"},
		{[]string{"policy", "init"}, 2, "DIR is required"},
		{[]string{"policy", "init", filepath.Join(t.TempDir(), "My-Policy"), "--gosledge", repo}, 1, `name "My-Policy": use lowercase letters and digits`},
		{[]string{"policy", "init", full, "--name", "p", "--gosledge", repo}, 1, "exists and is not empty"},
		{[]string{"policy", "init", filepath.Join(t.TempDir(), "p"), "--gosledge", t.TempDir()}, 1, "is not a gosledge checkout"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.err) {
				t.Errorf("exit %d, stderr %q; want %d, %q", code, stderr.String(), tc.code, tc.err)
			}
		})
	}
}
