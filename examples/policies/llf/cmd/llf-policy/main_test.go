package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gosledge/gosledge/examples/policies/llf"
	"github.com/gosledge/gosledge/sdk"
	"github.com/gosledge/gosledge/sdk/plugin"
	"github.com/gosledge/gosledge/sdk/policytest"
)

var bin string // the llf-policy binary, built by TestMain

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	flag.Parse()
	if raceEnabled && !testing.Short() {
		// Under the race detector every round trip is several times
		// slower; the suite's -short length (a third of its random
		// events, some 30,000 round trips) still crosses every kind of
		// call many times. Without -race the full suite runs.
		flag.Set("test.short", "true")
	}
	dir, err := os.MkdirTemp("", "llf-plugin-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "llf-policy")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/gosledge/gosledge/examples/policies/llf/cmd/llf-policy")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building llf-policy:", err)
		return 1
	}
	return m.Run()
}

// TestPluginConformance runs the conformance suite over the plugin
// connection, with this program built as gosledge would run it: one
// llf-policy process per policy instance the suite asks for (a plugin
// serves one instance). The in-process suite is in package llf.
func TestPluginConformance(t *testing.T) {
	var clients []*plugin.Client
	t.Cleanup(func() {
		for _, c := range clients {
			if err := c.Err(); err != nil && !isKilled(err) {
				t.Errorf("plugin fault: %v", err)
			}
			c.Kill()
		}
	})
	opts := plugin.LaunchOptions{CallTimeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)}
	policytest.Run(t, func() sdk.Policy {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := plugin.Launch(ctx, "llf", bin, opts)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		return c.Policy()
	}, llfOptions)
}

func isKilled(err error) bool { return err != nil && errors.Is(err, plugin.ErrKilled) }

// llfOptions mirrors the in-process test's Options.
var llfOptions = policytest.Options{
	Before: func(a, b sdk.Task) bool {
		return llf.Laxity(a, 0) < llf.Laxity(b, 0)
	},
	Preemptive: true,
}
