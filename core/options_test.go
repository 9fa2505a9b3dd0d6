package core

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/plugins"
)

// optionsConfig writes a config of head, then one tenant with tenant
// (its keys and tables), then a fib route, and parses it.
func optionsConfig(t *testing.T, head, tenant string) *config.Config {
	t.Helper()
	fib, err := filepath.Abs("../examples/functions/fib.wasm")
	if err != nil {
		t.Fatal(err)
	}
	text := head + "\n[[tenant]]\nname = \"demo\"\nport = 10010\n" + tenant +
		fmt.Sprintf("\n[[tenant.route]]\npath = \"/fib\"\nmodule = %q\n", fib)
	path := filepath.Join(t.TempDir(), "gosledge.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.File = "gosledge.toml"
	return cfg
}

// TestPolicyOptions: each policy gets its own tables, and what a policy
// rejects is reported at the key's file:line, as config errors are.
func TestPolicyOptions(t *testing.T) {
	for _, tc := range []struct {
		name, head, tenant string
		want               []string // the error's lines; none for success
	}{
		{"mtds and mtdbf tables", "[policy.mtds]\nmax_queued = 10", "[tenant.policy.mtds]\nreplenishment_period = \"10ms\"\nmax_budget = \"5ms\"\n[tenant.policy.mtdbf]\nreservation = 0.5", nil},
		{"a tenant's bad value", "", "[tenant.policy.mtds]\nreplenishment_period = \"10ms\"\nmax_budget = \"20ms\"",
			[]string{`gosledge.toml:7: tenant "demo": [tenant.policy.mtds] key "max_budget": must not exceed replenishment_period (10ms), got 20ms`}},
		{"inline table", "", "policy.mtdbf = { reservation = 2 }",
			[]string{`gosledge.toml:5: tenant "demo": [tenant.policy.mtdbf] key "reservation": must be between 0 and 1, got 2`}},
		{"every problem, each at its line", "[policy.mtdbf]\nmax_queued = 0\nmax_queue = 1", "[tenant.policy.mtdbf]\nreservaton = 0.5",
			[]string{`gosledge.toml:3: [policy.mtdbf] key "max_queue": unknown key (known: max_queued)`,
				`gosledge.toml:2: [policy.mtdbf] key "max_queued": must be at least 1, got 0`,
				`gosledge.toml:8: tenant "demo": [tenant.policy.mtdbf] key "reservaton": unknown key (known: reservation)`}},
		{"a policy that takes no settings", "[policy.edf]\nx = 1", "[tenant.policy.sjf]\ny = 2",
			[]string{`gosledge.toml:1: [policy.edf]: policy "edf" takes no settings (it is not an sdk.Configurer)`,
				`gosledge.toml:6: tenant "demo": [tenant.policy.sjf]: policy "sjf" takes no settings (it is not an sdk.Configurer)`}},
		{"no such policy", "[policy.edff]\nx = 1", "",
			[]string{`gosledge.toml:1: [policy.edff]: no policy "edff" (built-ins [edf fifo mtdbf mtds sjf], plugins [])`}},
		{"the fallback's tables are checked too", "[runtime]\nplugin_fallback = \"mtds\"\n[policy.mtds]\nmax_queued = -2", "",
			[]string{`gosledge.toml:4: [policy.mtds] key "max_queued": must be at least 1, got -2`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := optionsConfig(t, tc.head, tc.tenant)
			err := CheckPolicies(cfg, plugins.Builtins())
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("CheckPolicies =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestPluginOptions: a plugin process gets its tables, and its errors
// about them come back across the wire with tenant and key, so serve
// names their file:line and starts nothing.
func TestPluginOptions(t *testing.T) {
	_, testplugin := pluginBinaries(t)
	bin := pluginWithArgs(t, testplugin, "all")
	head := fmt.Sprintf("[runtime]\npolicy = \"tp\"\ncache_dir = %q\n[[plugin]]\nname = \"tp\"\npath = %q", cacheDir, bin)
	cfg := optionsConfig(t, head, "[tenant.policy.tp]\nlimit = -3")
	if err := CheckPolicies(cfg, plugins.Builtins()); err != nil {
		t.Fatalf("CheckPolicies checked a plugin's table: %v", err)
	}
	_, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	want := `gosledge.toml:11: tenant "demo": [tenant.policy.tp] key "limit": must not be negative, got -3`
	if err == nil || err.Error() != want {
		t.Fatalf("New = %v, want %q", err, want)
	}
	if pids := processesRunning(bin); len(pids) > 0 {
		t.Errorf("the plugin outlived the failed start: pids %v", pids)
	}
}
