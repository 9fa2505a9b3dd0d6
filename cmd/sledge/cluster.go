package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gosledge/gosledge/cluster"
)

// clusterCmd is `sledge cluster up`: N instances of one config on shifted
// ports, HAProxy in front (README, "Running several instances").
func clusterCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "up" {
		fmt.Fprintln(stderr, "Usage: sledge cluster up --instances N --config F [flags]")
		return errUsage
	}
	fs := newFlags("cluster up", "cluster up --instances N --config F [--stride K] [--workers N,...] [--no-agent] [--dry-run]", stderr)
	n := fs.Int("instances", 3, "instances to start")
	cfgPath := fs.String("config", "", "config every instance serves (required); it must set runtime.metrics, and runtime.agent for weights")
	stride := fs.Int("stride", 100, "instance i (from 0) listens on every port of the config + (i+1)×stride; HAProxy takes the config's tenant ports")
	workers := fs.String("workers", "", "workers per instance: one value for all, or one per instance (e.g. 2,2,1 to slow the third); default the config's")
	noAgent := fs.Bool("no-agent", false, "balance on connections alone (leastconn without agent weights), the baseline")
	out := fs.String("out", filepath.Join("results", "cluster"), "directory for the generated haproxy.cfg")
	dry := fs.Bool("dry-run", false, "print the generated haproxy.cfg and exit")
	haproxy := fs.String("haproxy", "haproxy", "the haproxy program")
	logLevel := fs.String("log-level", "warn", "the instances' log level")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *cfgPath == "" {
		fmt.Fprintln(stderr, "cluster up: --config is required")
		fs.Usage()
		return errUsage
	}
	perInstance, err := workerList("--workers", *workers, *n)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	ins, err := cluster.Layout(cfg, *n, *stride)
	if err != nil {
		return err
	}
	if !*noAgent && cfg.Runtime.Agent == "" {
		return fmt.Errorf("%s: runtime.agent is not set: set it, or pass --no-agent to balance on connections alone", cfg.File)
	}
	h := cluster.HAProxy{Frontends: cluster.Frontends(cfg, cfg.Runtime.Listen), Instances: ins, Agent: !*noAgent}
	text := h.Config()
	fmt.Fprint(stdout, text)
	if *dry {
		return nil
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	cfgFile := filepath.Join(*out, "haproxy.cfg")
	if err := os.WriteFile(cfgFile, []byte(text), 0o644); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Each child's done channel closes when it has exited and its output
	// is copied; exited names the first to exit.
	type child struct {
		cmd  *exec.Cmd
		done chan struct{}
	}
	var instances []child
	var proxy *child
	var wg sync.WaitGroup
	exited := make(chan string, *n+1)
	start := func(name string, cmd *exec.Cmd) (child, error) {
		pw := prefixed(stderr, name, &wg)
		cmd.Stdout, cmd.Stderr = pw, pw
		if err := cmd.Start(); err != nil {
			pw.Close()
			return child{}, fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(stderr, "cluster: %s pid %d: %s\n", name, cmd.Process.Pid, strings.Join(cmd.Args, " "))
		c := child{cmd, make(chan struct{})}
		go func() {
			cmd.Wait() // returns once the child's output is copied to pw
			pw.Close()
			close(c.done)
			exited <- name
		}()
		return c, nil
	}
	// The order of a rolling stop: every instance drains (SIGTERM) while
	// HAProxy still retries what they refuse, then HAProxy stops softly
	// (SIGUSR1: it finishes the connections it has).
	stopAll := func() {
		for _, c := range instances {
			c.cmd.Process.Signal(syscall.SIGTERM)
		}
		for _, c := range instances {
			<-c.done
		}
		if proxy != nil {
			proxy.cmd.Process.Signal(syscall.SIGUSR1)
			<-proxy.done
		}
		wg.Wait()
	}
	for i, in := range ins {
		a := []string{"serve", "--config", *cfgPath, "--port-offset", strconv.Itoa((i + 1) * *stride), "--log-level", *logLevel}
		if perInstance != nil {
			a = append(a, "--workers", strconv.Itoa(perInstance[i]))
		}
		c, err := start(in.Name, exec.Command(self, a...))
		if err != nil {
			stopAll()
			return err
		}
		instances = append(instances, c)
	}
	for _, in := range ins {
		if err := waitReady(ctx, fmt.Sprintf("http://%s:%d/readyz", in.Host, in.Metrics)); err != nil {
			stopAll()
			return fmt.Errorf("%s: %w", in.Name, err)
		}
	}
	c, err := start("haproxy", exec.Command(*haproxy, "-db", "-f", cfgFile))
	if err != nil {
		stopAll()
		return err
	}
	proxy = &c
	fmt.Fprintf(stderr, "cluster: %d instances behind HAProxy (%s); Ctrl-C drains them and stops\n", len(ins), cfgFile)
	var why error
	select {
	case <-ctx.Done():
	case name := <-exited:
		why = fmt.Errorf("%s exited", name)
	}
	stopAll()
	return why
}

// workerList parses a list of worker counts (flag names it) for n
// instances or nodes: "" (nil), one value for all, or n values.
func workerList(flag, s string, n int) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) != 1 && len(parts) != n {
		return nil, fmt.Errorf("%s: %d values for %d, want 1 or %d", flag, len(parts), n, n)
	}
	out := make([]int, n)
	for i := range out {
		v, err := strconv.Atoi(strings.TrimSpace(parts[min(i, len(parts)-1)]))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%s: %q is not a worker count of at least 1", flag, parts[min(i, len(parts)-1)])
		}
		out[i] = v
	}
	return out, nil
}

// waitReady polls url until it answers 200 (an instance's /readyz).
func waitReady(ctx context.Context, url string) error {
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("not ready after 60s: " + url)
}

// prefixed is a writer that copies lines to w, each prefixed with
// "[name] ", until it is closed; wg counts the copying goroutines.
func prefixed(w io.Writer, name string, wg *sync.WaitGroup) *io.PipeWriter {
	r, pw := io.Pipe()
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			fmt.Fprintf(w, "[%s] %s\n", name, sc.Text())
		}
	}()
	return pw
}
