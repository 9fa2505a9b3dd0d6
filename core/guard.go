package core

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/sdk"
	"github.com/gosledge/gosledge/sdk/plugin"
)

// A faulty policy is replaced, like sched_ext ejects a stalled BPF
// scheduler: an out-of-process plugin that answers with a task it does not
// hold, stalls past plugin_timeout, errors, panics or exits is replaced by
// the built-in fallback policy, which is handed every queued task. Running
// sandboxes keep running; their later notifications go to the fallback.

// pluginGuard is what the scheduler knows of a policy that can fail.
type pluginGuard struct {
	name     string
	err      func() error // the plugin's first fault, or nil
	kill     func()       // stops the plugin process
	fallback func() (sdk.Policy, error)
	// ejected, if set, is told of the ejection, under the scheduler lock.
	ejected func(Fallback)
	// decisions counts the plugin's answers found sound (lock).
	decisions uint64
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

var errUnheldTask = errors.New("answered with a task it does not hold")

// setPolicyLocked installs p and derives its optional capabilities.
func (s *scheduler) setPolicyLocked(p sdk.Policy) {
	s.policy = p
	s.charger, _ = p.(sdk.Charger)
	s.admitter, _ = p.(sdk.Admitter)
	s.shedder, _ = p.(sdk.Shedder)
}

// faultedLocked reports whether the policy (a plugin) has failed, and if
// so replaces it with the fallback. Callers retry their question when it
// returns true. For a built-in it is a nil check.
func (s *scheduler) faultedLocked() bool {
	if s.guard == nil {
		return false
	}
	err := s.guard.err()
	if err == nil {
		s.guard.decisions++
		return false
	}
	s.ejectLocked(err)
	return true
}

// ejectLocked replaces a failed plugin policy with the fallback and gives
// it every queued task, oldest first.
func (s *scheduler) ejectLocked(cause error) {
	g := s.guard
	s.guard = nil
	next, err := g.fallback()
	if err != nil {
		// The fallback is a built-in checked at start; this cannot fail.
		panic(fmt.Sprintf("policy fallback: %v", err))
	}
	s.log.Error("policy plugin failed; falling back", "plugin", g.name, "err", cause,
		"fallback", next.Name(), "queued", len(s.queued))
	if s.metrics != nil {
		s.metrics.fallbacks.Inc()
	}
	if g.ejected != nil {
		g.ejected(Fallback{Time: time.Now(), Plugin: g.name, To: next.Name(), Cause: cause, Decisions: g.decisions})
	}
	go g.kill() // may wait for the process to exit; not under the lock
	s.setPolicyLocked(next)
	queued := make([]*Sandbox, 0, len(s.queued))
	for _, sb := range s.queued {
		queued = append(queued, sb)
	}
	slices.SortFunc(queued, func(a, b *Sandbox) int { return cmp.Compare(a.task.ID, b.task.ID) })
	for _, sb := range queued {
		why := sdk.Arrived
		if sb.started {
			why = sdk.Preempted
		}
		s.policy.Enqueue(sb.task, why)
	}
}

// faultLocked records a fault the core itself detected in a plugin's
// answer and ejects it; for a built-in it only logs (the conformance
// suite keeps built-ins from doing this).
func (s *scheduler) faultLocked(cause error) bool {
	if s.guard == nil {
		s.log.Error("policy fault", "policy", s.policy.Name(), "err", cause)
		return false
	}
	s.ejectLocked(cause)
	return true
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
