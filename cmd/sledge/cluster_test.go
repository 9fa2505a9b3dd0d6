package main

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestWorkerList(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want []int
		err  string
	}{
		{"", 3, nil, ""},
		{"4", 3, []int{4, 4, 4}, ""},
		{"2,2,1", 3, []int{2, 2, 1}, ""},
		{"2,1", 3, nil, "--workers: 2 values for 3, want 1 or 3"},
		{"2,0,1", 3, nil, `"0" is not a worker count`},
		{"x", 2, nil, `"x" is not a worker count`},
	} {
		got, err := workerList("--workers", tt.in, tt.n)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("workerList(%q, %d) error %v, want %q", tt.in, tt.n, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("workerList(%q, %d) = %v, %v; want %v", tt.in, tt.n, got, err, tt.want)
		}
	}
}

// TestClusterDryRun: the shipped example config lays out and prints a
// config with one server per instance.
func TestClusterDryRun(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"cluster", "up", "--instances", "2", "--config", filepath.Join("..", "..", "examples", "cluster.toml"), "--dry-run"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"bind 127.0.0.1:10010", "server i0 127.0.0.1:10110 check port 9190 agent-check agent-port 9191",
		"server i1 127.0.0.1:10210 check port 9290 agent-check agent-port 9291"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if code := run([]string{"cluster", "up"}, &out, &errb); code != 2 {
		t.Errorf("without --config: exit %d, want 2", code)
	}
}
