package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/gosledge/gosledge/cluster"
	"github.com/gosledge/gosledge/core"
	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/examples"
	"github.com/gosledge/gosledge/plugins"
)

// version is set by -ldflags "-X main.version=..."; otherwise the module
// build info is used.
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `sledge — a serverless WebAssembly runtime with pluggable scheduling policies

Usage:
  sledge serve    [--config F] [--workers N] [--policy P] [--quantum D]   serve HTTP requests
  sledge validate --config F                                              check a config file
  sledge policies [--config F]                                            list policies
  sledge policy   init DIR [--name N] [--gosledge PATH]                  write a policy module of your own
  sledge bench    --workload W [--policies P,...] [--out DIR]             compare policies on a workload
  sledge sim      --workload W [--policies P,...] [--workers N] [--seed S]   the same, simulated in virtual time
  sledge compare  A/results.json B/results.json                           two reports side by side (bench vs sim)
  sledge cluster  up --instances N --config F                             N instances behind a generated HAProxy
  sledge version                                                          print the version

Run "sledge COMMAND --help" for a command's flags.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "serve":
		err = serve(rest, stderr)
	case "validate":
		err = validate(rest, stdout, stderr)
	case "policies":
		err = policies(rest, stdout, stderr)
	case "bench":
		err = benchCmd(rest, stdout, stderr)
	case "policy":
		err = policyCmd(rest, stdout, stderr)
	case "sim":
		err = simCmd(rest, stdout, stderr)
	case "compare":
		err = compareCmd(rest, stdout, stderr)
	case "cluster":
		err = clusterCmd(rest, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "sledge", buildVersion())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "sledge: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintln(stderr, "sledge:", err)
		return 1
	}
}

var errUsage = errors.New("usage")

func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: sledge %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// setFlags is the set of flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// durationValue is a flag.Value for a duration whose error says what a
// duration looks like: Go's own says only "parse error" for "5".
type durationValue time.Duration

func (d *durationValue) String() string { return time.Duration(*d).String() }

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration: it needs a unit, e.g. 5ms, 500us or 1s", s)
	}
	*d = durationValue(v)
	return nil
}

// durationFlag defines a duration flag with durationValue's errors.
func durationFlag(fs *flag.FlagSet, name, usage string) *time.Duration {
	var d time.Duration
	fs.Var((*durationValue)(&d), name, usage)
	return &d
}

// loadConfig reads path, or the embedded default config when path is "".
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return examples.DefaultConfig()
	}
	return config.Load(path)
}

func serve(args []string, stderr io.Writer) error {
	fs := newFlags("serve", "serve [flags]", stderr)
	cfgPath := fs.String("config", "", "config file (default: the embedded example config)")
	workers := fs.Int("workers", 0, "number of workers, at least 1 (overrides runtime.workers)")
	policy := fs.String("policy", "", "scheduling policy (overrides runtime.policy)")
	quantum := durationFlag(fs, "quantum", "preemption quantum, a `duration` with its unit, e.g. 1ms or 500us (overrides runtime.quantum)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	portOffset := fs.Int("port-offset", 0, "add K to every port the config listens on: tenants, metrics, agent (several instances of one config on one host)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if set := setFlags(fs); set["workers"] && *workers < 1 {
		// 0 is also "not given" to Override: say so rather than ignore it.
		return fmt.Errorf("command line: --workers: must be at least 1, got %d", *workers)
	}
	log, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if err := cfg.Override(*workers, *policy, *quantum); err == nil {
		err = cluster.Offset(cfg, *portOffset)
	}
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := core.New(ctx, cfg, core.Options{Logger: log, Policies: plugins.Builtins()})
	if err != nil {
		return err
	}
	log.Info("gosledge started", "version", buildVersion(), "config", cfg.File,
		"policy", cfg.Runtime.Policy, "workers", cfg.Runtime.Workers,
		"quantum", cfg.Runtime.Quantum, "preemption", cfg.Runtime.Preemption)
	go func() {
		<-ctx.Done()
		stop() // restore default handling: a second signal kills at once
	}()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go reloadOnHangup(ctx, hup, srv, log, func() (*config.Config, error) {
		c, err := loadConfig(*cfgPath)
		if err == nil {
			err = c.Override(*workers, *policy, *quantum)
		}
		if err == nil {
			err = cluster.Offset(c, *portOffset)
		}
		return c, err
	})
	return srv.Run(ctx)
}

// reloadOnHangup re-reads the config on every SIGHUP and applies it; an
// invalid or restart-requiring config is logged and the running one kept.
func reloadOnHangup(ctx context.Context, hup <-chan os.Signal, srv *core.Server, log *slog.Logger, load func() (*config.Config, error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		cfg, err := load()
		if err == nil {
			err = srv.Reload(ctx, cfg)
		}
		if err != nil {
			log.Error("reload refused", "err", err)
		}
	}
}

func validate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", "validate --config F", stderr)
	cfgPath := fs.String("config", "", "config file to check (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cfgPath == "" {
		fmt.Fprintln(stderr, "validate: --config is required")
		fs.Usage()
		return errUsage
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	var errs []error
	if !plugins.Builtins().Has(cfg.Runtime.Policy) && !cfg.HasPlugin(cfg.Runtime.Policy) {
		errs = append(errs, fmt.Errorf("%s: key \"policy\": unknown policy %q (built-ins %v, plugins %v)",
			cfg.Where("runtime", "policy"), cfg.Runtime.Policy, plugins.Builtins().Names(), cfg.PluginNames()))
	}
	// Every declared plugin, used or not: serve checks only the one it
	// starts, and a plugin may be chosen with --policy.
	// Then what serve does before binding: check the policies' tables,
	// instrument and compile every module, so validate and serve refuse
	// the same configs.
	errs = append(errs, cfg.CheckPlugins(), core.CheckPolicies(cfg, plugins.Builtins()), core.CheckModules(context.Background(), cfg))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	routes := 0
	for _, t := range cfg.Tenants {
		routes += len(t.Routes)
	}
	fmt.Fprintf(stdout, "%s: ok (%d tenants, %d routes, policy %s)\n", cfg.File, len(cfg.Tenants), routes, cfg.Runtime.Policy)
	return nil
}

func policies(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("policies", "policies [--config F]", stderr)
	cfgPath := fs.String("config", "", "also list the [[plugin]] policies of this config")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	for _, name := range plugins.Builtins().Names() {
		fmt.Fprintf(stdout, "%-10s built-in\n", name)
	}
	if *cfgPath == "" {
		return nil
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	// Start each plugin to ask it its protocol version: a binary that
	// does not start or speaks another protocol shows here, not at serve,
	// and fails the command so that scripts notice.
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var errs []error
	for _, p := range cfg.Plugins {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		info, err := core.ProbePlugin(ctx, cfg, p.Name, log)
		cancel()
		if err != nil {
			fmt.Fprintf(stdout, "%-10s plugin %s: does not start\n", p.Name, p.Path)
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(stdout, "%-10s plugin %s (policy %q, protocol %d)\n", p.Name, p.Path, info.Policy, info.Protocol)
	}
	return errors.Join(errs...)
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: want text or json, got %q", format)
}

func buildVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if dirty {
		rev += "-dirty"
	}
	return "devel-" + rev
}
