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
	"time"

	"github.com/gosledge/gosledge/bench"
	"github.com/gosledge/gosledge/plugins"
)

// simCmd is `sledge sim`: the workload of `sledge bench`, in virtual time
// through the server's dispatcher, reported the same way.
func simCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sim", "sim --workload W [--policies P,...] [--workers N] [--nodes K [--balancers B,...]] [--seed S] [--service-from PERFLOG] [--out DIR]", stderr)
	workload := fs.String("workload", "", "workload file (required), e.g. examples/workloads/bimodal.toml")
	list := fs.String("policies", strings.Join(plugins.Builtins().Names(), ","),
		"comma-separated policies to compare, in order: built-ins or [[plugin]] names of the serve config; NAME:nopreempt or NAME:preempt forces preemption off or on")
	workers := fs.Int("workers", 0, "workers (overrides the workload's and the serve config's)")
	seed := fs.Uint64("seed", 0, "seed of arrivals, routes and service times (overrides the workload's)")
	duration := durationFlag(fs, "duration", "measured time of each run, a `duration` such as 4s (overrides the workload's duration)")
	serviceFrom := fs.String("service-from", "", "perf log written by sledge serve: every route's service times are sampled from its 200s there")
	out := fs.String("out", "", "directory for CSV, JSON and charts (default results/WORKLOAD-TIMESTAMP)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	nodes := fs.Int("nodes", 1, "simulate a cluster of this many nodes of --workers each, every one with its own policy instance, behind each balancer; rates are the cluster's")
	balancers := fs.String("balancers", bench.BalancerNames(), "with --nodes: comma-separated balancers to compare (runs labelled POLICY@BALANCER)")
	nodeWorkers := fs.String("node-workers", "", "with --nodes: each node's workers, one value for all or one per node (e.g. 64,64,32 to slow the third)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *nodes < 1 {
		return fmt.Errorf("--nodes: must be at least 1, got %d", *nodes)
	}
	bals, err := bench.ParseBalancers(*balancers)
	if err != nil {
		return fmt.Errorf("--balancers: %w", err)
	}
	if *workload == "" {
		fmt.Fprintln(stderr, "sim: --workload is required")
		fs.Usage()
		return errUsage
	}
	if *workers < 0 || *duration < 0 {
		return errors.New("--workers and --duration must not be negative")
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
	opt := bench.SimOptions{Policies: policies, Duration: *duration, Workers: *workers, Seed: *seed,
		Registry: plugins.Builtins(), Logger: log, Nodes: *nodes, Balancers: bals}
	if *nodeWorkers != "" {
		if opt.NodeWorkers, err = workerList("--node-workers", *nodeWorkers, *nodes); err != nil {
			return err
		}
	}
	if *serviceFrom != "" {
		opt.Service = func(bench.Route) *bench.Service {
			return &bench.Service{Model: bench.ServicePerfLog, File: *serviceFrom}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	began := time.Now()
	rep, err := bench.Simulate(ctx, w, opt)
	if err != nil {
		return err
	}
	log.Info("simulated", "runs", len(rep.Runs), "elapsed", time.Since(began).Round(time.Millisecond))
	if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	dir := *out
	if dir == "" {
		dir = rep.DefaultDir() + "-sim"
	}
	files, err := rep.Save(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwrote %d files to %s\n", len(files), dir)
	return nil
}

// compareCmd is `sledge compare A B`: two saved reports side by side.
func compareCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("compare", "compare A/results.json B/results.json", stderr)
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return errUsage
	}
	return bench.Compare(stdout, fs.Arg(0), fs.Arg(1))
}
