package core

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/core/dispatch"
	"github.com/gosledge/gosledge/sdk"
	"github.com/gosledge/gosledge/sdk/plugin"
)

// resolvePolicy returns the policy runtime.policy names: a built-in from
// reg, or a [[plugin]] launched as a process (or loaded as a Wasm module,
// core/wasmpolicy.go), guarded, with the
// plugin_fallback built-in ready to take over. kill stops the plugin (nil
// for a built-in).
func resolvePolicy(ctx context.Context, cfg *config.Config, reg *sdk.Registry, log *slog.Logger) (sdk.Policy, *pluginGuard, func(), error) {
	name := cfg.Runtime.Policy
	if reg.Has(name) {
		p, err := reg.New(name)
		return p, nil, nil, err
	}
	var pc *config.Plugin
	for i := range cfg.Plugins {
		if cfg.Plugins[i].Name == name {
			pc = &cfg.Plugins[i]
		}
	}
	if pc == nil {
		return nil, nil, nil, fmt.Errorf("%s: key \"policy\": unknown policy %q (built-ins %v, no [[plugin]] of that name)",
			cfg.Where("runtime", "policy"), name, reg.Names())
	}
	fallback := cfg.Runtime.PluginFallback
	if !reg.Has(fallback) {
		return nil, nil, nil, fmt.Errorf("%s: key \"plugin_fallback\": %q is not a built-in policy (have %v)",
			cfg.Where("runtime", "plugin_fallback"), fallback, reg.Names())
	}
	newFallback := func() (sdk.Policy, error) { return reg.New(fallback) }
	if pc.Kind == config.KindWasm {
		return resolveWasmPolicy(ctx, cfg, pc.Name, newFallback, log)
	}
	c, err := plugin.Launch(ctx, pc.Name, pc.Path, plugin.LaunchOptions{
		Logger:      log,
		CallTimeout: cfg.Runtime.PluginTimeout,
		SHA256:      pc.SHA256,
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: plugin %q: %w", cfg.File, pc.Name, err)
	}
	g := &pluginGuard{
		name:     pc.Name,
		err:      c.Err,
		kill:     c.Kill,
		fallback: newFallback,
	}
	log.Info("policy plugin started", "plugin", pc.Name, "path", pc.Path, "protocol", c.ProtocolVersion(), "fallback", fallback)
	return c.Policy(), g, c.Kill, nil
}

// LaunchPolicy starts the policy called name — a built-in of reg, or a
// [[plugin]] of cfg (a process or a Wasm module) — for a caller that
// drives core/dispatch itself, as the simulator does. For a plugin it
// also returns the guard the dispatcher's failover decorator needs (nil
// for a built-in) and stop, which ends the plugin (nil for a built-in);
// once the guard has ejected the plugin, it is stopped already.
func LaunchPolicy(ctx context.Context, cfg *config.Config, name string, reg *sdk.Registry, log *slog.Logger) (p sdk.Policy, guard *dispatch.Guard, stop func(), err error) {
	c := *cfg
	c.Runtime.Policy = name
	if !reg.Has(name) {
		if err := c.CheckPlugins(name); err != nil {
			return nil, nil, nil, err
		}
	}
	p, g, kill, err := resolvePolicy(ctx, &c, reg, log)
	if err != nil || g == nil {
		return p, nil, nil, err
	}
	return p, &dispatch.Guard{
		Name:     g.name,
		Err:      g.err,
		Fallback: g.fallback,
		Ejected:  func(dispatch.Fallback) { go g.kill() },
	}, kill, nil
}
