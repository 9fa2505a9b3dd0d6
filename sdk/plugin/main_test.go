package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// testBin is the test plugin binary (internal/testplugin), built by
// TestMain.
var testBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sdk-plugin-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	testBin = filepath.Join(dir, "testplugin")
	cmd := exec.Command("go", "build", "-o", testBin, "github.com/gosledge/gosledge/sdk/plugin/internal/testplugin")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the test plugin:", err)
		return 1
	}
	return m.Run()
}

// launch starts the test plugin in mode, killed at the end of the test.
func launch(t testing.TB, mode string, opts LaunchOptions) *Client {
	t.Helper()
	opts.Args = append([]string{mode}, opts.Args...)
	if opts.CallTimeout == 0 {
		opts.CallTimeout = 5 * time.Second // generous under -race; fault tests set their own
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Launch(ctx, "test-"+mode, testBin, opts)
	if err != nil {
		t.Fatalf("Launch(%s): %v", mode, err)
	}
	t.Cleanup(c.Kill)
	return c
}
