package core

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/core/dispatch"
	"github.com/gosledge/gosledge/sdk"
	"github.com/gosledge/gosledge/sdk/plugin"
)

// A faulty policy is replaced, like sched_ext ejects a stalled BPF
// scheduler: an out-of-process or Wasm plugin that answers with a task it
// does not hold, stalls past plugin_timeout, errors, panics or exits is
// replaced by the built-in fallback policy, which is handed every queued
// task. Running sandboxes keep running; their later notifications go to
// the fallback. The dispatcher's failover decorator notices the fault
// (core/dispatch/failover.go); what is left here is what a server adds:
// stopping the plugin, the metric and the record for Server.Fallbacks.

// pluginGuard is what the scheduler knows of a policy that can fail.
type pluginGuard struct {
	name     string
	err      func() error // the plugin's first fault, or nil
	kill     func()       // stops the plugin process
	fallback func() (sdk.Policy, error)
}

// Fallback records the ejection of a failed policy plugin, so that what
// was measured under it can say which policy really ran (Server.Fallbacks).
type Fallback struct {
	Time   time.Time // when the fault was noticed (with a monotonic reading)
	Plugin string    // the [[plugin]] name
	To     string    // the built-in that took over (runtime.plugin_fallback)
	Cause  error     // the plugin's fault
	// Decisions counts the plugin's answers the core had accepted before:
	// one per checked call (Enqueue, GetNext, OnInterrupt, Dequeue, …),
	// one per round of WouldPreempt questions on an arrival.
	Decisions uint64
	// Requests counts the requests the server had received before, every
	// one of which the plugin was shown.
	Requests uint64
}

// dispatchGuard is g as the dispatcher's failover decorator sees it. Its
// hooks run under the scheduler lock, inside the event that found the
// fault.
func (s *scheduler) dispatchGuard(g *pluginGuard) *dispatch.Guard {
	return &dispatch.Guard{
		Name: g.name,
		Err:  g.err,
		Fallback: func() (sdk.Policy, error) {
			p, err := g.fallback()
			if err == nil {
				s.policy = p
			}
			return p, err
		},
		Ejected: func(fb dispatch.Fallback) {
			s.guard = nil
			if s.metrics != nil {
				s.metrics.fallbacks.Inc()
			}
			if s.onFallback != nil {
				s.onFallback(Fallback{Time: time.Now(), Plugin: fb.Plugin, To: fb.To, Cause: fb.Cause, Decisions: fb.Decisions})
			}
			go g.kill() // may wait for the process to exit; not under the lock
		},
	}
}

// PluginInfo is what a [[plugin]] says of itself when it starts.
type PluginInfo struct {
	Name     string // the [[plugin]] name
	Path     string // its program, absolute
	Policy   string // its policy's Name()
	Protocol int    // the protocol version it speaks
}

// ProbePlugin starts the [[plugin]] of cfg called name, checks its program
// (cfg.CheckPlugins), handshake and protocol version, asks its policy's
// name, and stops it. Commands call it so that a plugin that cannot start
// is reported, at its file:line, before anything depends on it. The
// plugin's output and the client's messages go to log.
func ProbePlugin(ctx context.Context, cfg *config.Config, name string, log *slog.Logger) (PluginInfo, error) {
	i := slices.IndexFunc(cfg.Plugins, func(p config.Plugin) bool { return p.Name == name })
	if i < 0 {
		return PluginInfo{}, fmt.Errorf("%s: no [[plugin]] named %q", cfg.File, name)
	}
	if err := cfg.CheckPlugins(name); err != nil {
		return PluginInfo{}, err
	}
	pc := cfg.Plugins[i]
	if pc.Kind == config.KindWasm {
		return probeWasm(ctx, cfg, name, log)
	}
	c, err := plugin.Launch(ctx, pc.Name, pc.Path, plugin.LaunchOptions{
		Logger: log, SHA256: pc.SHA256, CallTimeout: cfg.Runtime.PluginTimeout,
	})
	if err != nil {
		return PluginInfo{}, fmt.Errorf("%s: %w", cfg.Where("plugin", strconv.Itoa(i), "path"), err)
	}
	defer c.Kill()
	return PluginInfo{Name: pc.Name, Path: pc.Path, Policy: c.Policy().Name(), Protocol: c.ProtocolVersion()}, nil
}
