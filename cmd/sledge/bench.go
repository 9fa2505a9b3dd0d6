package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/gosledge/gosledge/bench"
	"github.com/gosledge/gosledge/plugins"
)

// benchCmd is `sledge bench`: every listed policy in turn on one workload,
// a table on stdout, files in the out dir.
func benchCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", "bench --workload W [--policies P,...] [--target URL] [--out DIR] [--duration D] [--repeat N] [--strict=false]", stderr)
	workload := fs.String("workload", "", "workload file (required), e.g. examples/workloads/bimodal.toml")
	list := fs.String("policies", strings.Join(plugins.Builtins().Names(), ","),
		"comma-separated policies to compare, in order; NAME:nopreempt or NAME:preempt forces preemption off or on")
	out := fs.String("out", "", "directory for CSV, JSON and charts (default results/WORKLOAD-TIMESTAMP)")
	duration := durationFlag(fs, "duration", "measured time of each run, a `duration` such as 4s (overrides the workload's duration)")
	repeat := fs.Int("repeat", 1, "runs of each policy at each rate, interleaved (A, B, A, B, ...); the report adds the median and range over them")
	var strict optionalBool
	fs.Var(&strict, "strict", "fail a run whose policy fell back (a plugin failed and plugin_fallback took over) (default: on for plugin policies)")
	perfLogs := fs.String("perflog", "", "directory where every run writes its server's perf log (POLICY-RATE-REPEAT.csv), e.g. for sledge sim --service-from")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	target := fs.String("target", "", "send the workload to servers already running (a HAProxy frontend, a remote instance) instead of starting one per run: URL, or TENANT=URL,...; --policies then only label the runs (default label \"target\")")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *repeat < 1 {
		return fmt.Errorf("--repeat: must be at least 1, got %d", *repeat)
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
	var targets map[string]string
	if *target != "" {
		if targets, err = bench.ParseTargets(*target); err != nil {
			return fmt.Errorf("--target: %w", err)
		}
		if !setFlags(fs)["policies"] {
			*list = "target"
		}
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
		Repeat: *repeat, Strict: strict.value, PerfLogDir: *perfLogs, Targets: targets,
	})
	if rep == nil || len(rep.Runs) == 0 {
		return runErr
	}
	if runErr != nil && !errors.Is(runErr, bench.ErrFellBack) {
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

// optionalBool is a boolean flag that tells "not given" (nil) from false.
type optionalBool struct{ value *bool }

func (b *optionalBool) String() string {
	if b == nil || b.value == nil {
		return ""
	}
	return strconv.FormatBool(*b.value)
}

func (b *optionalBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	b.value = &v
	return nil
}

func (b *optionalBool) IsBoolFlag() bool { return true }
