package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gosledge/gosledge/bench"
	"github.com/gosledge/gosledge/plugins"
)

// benchCmd is `sledge bench`: every listed policy in turn on one workload,
// a table on stdout, files in the out dir.
func benchCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", "bench --workload W [--policies P,...] [--out DIR] [--duration D]", stderr)
	workload := fs.String("workload", "", "workload file (required), e.g. examples/workloads/bimodal.toml")
	list := fs.String("policies", strings.Join(plugins.Builtins().Names(), ","),
		"comma-separated policies to compare, in order; NAME:nopreempt or NAME:preempt forces preemption off or on")
	out := fs.String("out", "", "directory for CSV, JSON and charts (default results/WORKLOAD-TIMESTAMP)")
	duration := fs.Duration("duration", 0, "measured time of each run (overrides the workload's duration)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *workload == "" {
		fmt.Fprintln(stderr, "bench: --workload is required")
		fs.Usage()
		return errUsage
	}
	if *duration < 0 {
		return fmt.Errorf("--duration: must be positive, got %s", *duration)
	}
	log, err := newLogger(stderr, *logLevel, "text")
	if err != nil {
		return err
	}
	policies, err := bench.ParsePolicies(*list)
	if err != nil {
		return fmt.Errorf("--policies: %w", err)
	}
	w, err := bench.LoadWorkload(*workload)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, runErr := bench.Run(ctx, w, bench.Options{
		Policies: policies, Duration: *duration, Registry: plugins.Builtins(), Logger: log, Progress: stderr,
	})
	if rep == nil || len(rep.Runs) == 0 {
		return runErr
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "sledge: bench stopped: %v; reporting the runs completed\n", runErr)
	}
	if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	dir := *out
	if dir == "" {
		dir = rep.DefaultDir()
	}
	files, err := rep.Save(dir)
	if err != nil {
		return errors.Join(runErr, err)
	}
	fmt.Fprintf(stdout, "\nwrote %d files to %s\n", len(files), dir)
	return runErr
}
