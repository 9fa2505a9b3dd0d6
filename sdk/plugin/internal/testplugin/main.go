package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/gosledge/gosledge/plugins/edf"
	"github.com/gosledge/gosledge/sdk"
	"github.com/gosledge/gosledge/sdk/plugin"
)

func main() {
	mode := ""
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	f := &fifo{mode: mode}
	var p sdk.Policy
	switch mode {
	case "edf":
		p = edf.New()
	case "admit":
		p = &admitFIFO{f}
	case "all":
		p = &allFIFO{fifo: f}
	case "fifo", "hang", "unknown", "panic", "panic-enqueue", "exit", "log":
		p = f
	case "v1":
		serveV1()
		return
	case "pingpong":
		pingPong()
		return
	default:
		fmt.Fprintf(os.Stderr, "testplugin: unknown mode %q\n", mode)
		os.Exit(2)
	}
	plugin.Serve(p)
}

// fifo is a global FIFO with the misbehaviours of its mode.
type fifo struct {
	mode string
	q    []sdk.Task
}

func (f *fifo) Name() string { return "test-" + f.mode }

func (f *fifo) Enqueue(t sdk.Task, _ sdk.EnqueueReason) {
	switch f.mode {
	case "panic-enqueue":
		panic("enqueue exploded")
	case "log":
		slog.Info("enqueued", "task", uint64(t.ID), "tenant", t.Tenant)
		fmt.Println("stdout: enqueued", t.ID)
		fmt.Fprintln(os.Stderr, "stderr: enqueued", t.ID)
	}
	f.q = append(f.q, t)
}

func (f *fifo) GetNext(sdk.WorkerID, time.Duration) (sdk.TaskID, bool) {
	switch f.mode {
	case "hang":
		time.Sleep(time.Hour)
	case "unknown":
		return 424242, true
	case "panic":
		panic("getnext exploded")
	case "exit":
		os.Exit(3)
	}
	if len(f.q) == 0 {
		return 0, false
	}
	t := f.q[0]
	f.q = f.q[1:]
	return t.ID, true
}

func (f *fifo) OnInterrupt(sdk.WorkerID, sdk.Task, time.Duration) bool { return len(f.q) > 0 }

func (f *fifo) WouldPreempt(sdk.WorkerID, sdk.Task, sdk.Task, time.Duration) bool { return false }

func (f *fifo) Dequeue(id sdk.TaskID, _ sdk.DequeueReason) {
	f.q = slices.DeleteFunc(f.q, func(t sdk.Task) bool { return t.ID == id })
}

type admitFIFO struct{ *fifo }

func (a *admitFIFO) Admit(t sdk.Task, _ time.Duration) (sdk.Class, bool) {
	return sdk.ClassGuaranteed, t.Tenant != "deny"
}

// allFIFO implements every optional interface:
//   - Configure fails for 99 workers, and reports a tenant's table
//     with limit < 0 as an error about that key;
//   - Admit refuses tenant "deny" and puts tenant "be" in best effort;
//   - Shed gives up every queued task of route "/shed";
//   - Report returns the queue length and the CPU time charged per tenant.
type allFIFO struct {
	*fifo
	workers int
	charged map[string]time.Duration
}

func (a *allFIFO) Configure(c sdk.Config) error {
	if c.Workers == 99 {
		return errors.New("99 workers is too many")
	}
	a.workers = c.Workers
	a.charged = map[string]time.Duration{}
	var errs []error
	for _, t := range c.Tenants {
		var o struct {
			Limit int `toml:"limit"`
		}
		if err := t.Options.Decode(&o); err != nil {
			errs = append(errs, sdk.ForTenant(t.Name, err))
		} else if o.Limit < 0 {
			errs = append(errs, &sdk.OptionError{Tenant: t.Name, Key: "limit", Err: fmt.Errorf("must not be negative, got %d", o.Limit)})
		}
		a.charged[t.Name] = 0
	}
	return errors.Join(errs...)
}

func (a *allFIFO) Charge(t sdk.Task, used, _ time.Duration) {
	if a.charged == nil {
		a.charged = map[string]time.Duration{}
	}
	a.charged[t.Tenant] += used
}

func (a *allFIFO) Admit(t sdk.Task, _ time.Duration) (sdk.Class, bool) {
	if t.Tenant == "be" {
		return sdk.ClassBestEffort, true
	}
	return sdk.ClassGuaranteed, t.Tenant != "deny"
}

func (a *allFIFO) Shed(time.Duration) []sdk.TaskID {
	var ids []sdk.TaskID
	a.q = slices.DeleteFunc(a.q, func(t sdk.Task) bool {
		if t.Route == "/shed" {
			ids = append(ids, t.ID)
			return true
		}
		return false
	})
	return ids
}

func (a *allFIFO) Report(time.Duration) []sdk.Gauge {
	gs := []sdk.Gauge{{Name: "queued", Value: float64(len(a.q))}, {Name: "workers", Value: float64(a.workers)}}
	names := make([]string, 0, len(a.charged))
	for n := range a.charged {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		gs = append(gs, sdk.Gauge{Name: "charged_seconds", Tenant: n, Value: a.charged[n].Seconds()})
	}
	return gs
}

// serveV1 completes go-plugin's handshake as a plugin built for protocol
// version 1 would, which is all the host sees before refusing it.
func serveV1() {
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  1,
			MagicCookieKey:   plugin.MagicCookieKey,
			MagicCookieValue: plugin.MagicCookieValue,
		},
		VersionedPlugins: map[int]goplugin.PluginSet{1: {"policy": v1Plugin{}}},
		GRPCServer:       goplugin.DefaultGRPCServer,
	})
}

type v1Plugin struct {
	goplugin.NetRPCUnsupportedPlugin
}

func (v1Plugin) GRPCServer(*goplugin.GRPCBroker, *grpc.Server) error { return nil }

func (v1Plugin) GRPCClient(context.Context, *goplugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("host side only")
}

// pingPong answers every read on descriptor 3 with a 16-byte frame, with
// plain blocking system calls (os.File on a blocking descriptor): the
// floor of a round trip between two processes, for BenchmarkDecision.
func pingPong() {
	runtime.GOMAXPROCS(1) // as Serve does
	f := os.NewFile(3, "link")
	in, out := make([]byte, 64<<10), make([]byte, 16)
	out[0] = 12 // the length prefix: the bytes after it
	for {
		if _, err := f.Read(in); err != nil {
			os.Exit(0)
		}
		if _, err := f.Write(out); err != nil {
			os.Exit(0)
		}
	}
}
