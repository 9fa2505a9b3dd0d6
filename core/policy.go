package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"

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
	newFallback := func() (sdk.Policy, error) {
		p, err := reg.New(fallback)
		if err != nil {
			return nil, err
		}
		// Checked at start (CheckPolicies): a fallback that takes over
		// mid-run cannot fail here for its config.
		return p, ConfigurePolicy(cfg, fallback, p)
	}
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

// ConfigurePolicy hands p, the policy cfg calls name, its configuration if
// it is an sdk.Configurer: the worker count, its [policy.NAME] table and
// each tenant's policy.NAME table. What the policy rejects about a key is
// reported with the key's file:line, like any other config error. A policy
// that is not a Configurer must have no tables.
func ConfigurePolicy(cfg *config.Config, name string, p sdk.Policy) error {
	c, err := policyConfig(cfg, name)
	if err != nil {
		return err
	}
	configurer := sdk.ExtensionsOf(p).Configurer
	if configurer == nil {
		return noTables(cfg, name)
	}
	return policyErrors(cfg, name, configurer.Configure(c))
}

// policyConfig is what cfg tells the policy it calls name.
func policyConfig(cfg *config.Config, name string) (sdk.Config, error) {
	text, err := cfg.Policies.Options(name)
	if err != nil {
		return sdk.Config{}, fmt.Errorf("%s: %w", cfg.Where("policy", name), err)
	}
	c := sdk.Config{Workers: cfg.Runtime.Workers, Options: sdk.Options(text)}
	for i, t := range cfg.Tenants {
		text, err := t.Policies.Options(name)
		if err != nil {
			return sdk.Config{}, fmt.Errorf("%s: tenant %q: %w", cfg.Where("tenant", strconv.Itoa(i), "policy", name), t.Name, err)
		}
		c.Tenants = append(c.Tenants, sdk.TenantConfig{Name: t.Name, Options: sdk.Options(text)})
	}
	return c, nil
}

// noTables is the error for tables given to a policy that takes none.
func noTables(cfg *config.Config, name string) error {
	var errs []error
	if _, ok := cfg.Policies[name]; ok {
		errs = append(errs, fmt.Errorf("%s: [policy.%s]: policy %q takes no settings (it is not an sdk.Configurer)", cfg.Where("policy", name), name, name))
	}
	for i, t := range cfg.Tenants {
		if _, ok := t.Policies[name]; ok {
			errs = append(errs, fmt.Errorf("%s: tenant %q: [tenant.policy.%s]: policy %q takes no settings (it is not an sdk.Configurer)",
				cfg.Where("tenant", strconv.Itoa(i), "policy", name), t.Name, name, name))
		}
	}
	return errors.Join(errs...)
}

// policyErrors turns what Configure returned into config errors: one per
// *sdk.OptionError at its key's file:line, the rest under the policy's
// name.
func policyErrors(cfg *config.Config, name string, err error) error {
	if err == nil {
		return nil
	}
	keyed := sdk.OptionErrors(err)
	if len(keyed) == 0 {
		return fmt.Errorf("%s: policy %s: %w", cfg.File, name, err)
	}
	tenant := map[string]int{}
	for i, t := range cfg.Tenants {
		tenant[t.Name] = i
	}
	errs := make([]error, 0, len(keyed))
	for _, oe := range keyed {
		i, ok := tenant[oe.Tenant]
		switch {
		case oe.Tenant == "":
			errs = append(errs, fmt.Errorf("%s: [policy.%s] key %q: %w", cfg.Where("policy", name, oe.Key), name, oe.Key, oe.Err))
		case ok:
			errs = append(errs, fmt.Errorf("%s: tenant %q: [tenant.policy.%s] key %q: %w",
				cfg.Where("tenant", strconv.Itoa(i), "policy", name, oe.Key), oe.Tenant, name, oe.Key, oe.Err))
		default:
			errs = append(errs, fmt.Errorf("%s: policy %s: %w", cfg.File, name, oe))
		}
	}
	return errors.Join(errs...)
}

// CheckPolicies checks, as serve would, every policy setting cfg has:
// each [policy.NAME] and tenant policy.NAME table names a built-in of reg
// or a [[plugin]], and every built-in with a table (and the built-in
// runtime.policy and plugin_fallback) accepts its configuration. A
// plugin's tables are checked by the plugin when it starts.
func CheckPolicies(cfg *config.Config, reg *sdk.Registry) error {
	names := map[string]string{} // policy name → where its first table is
	for name := range cfg.Policies {
		names[name] = cfg.Where("policy", name)
	}
	for i, t := range cfg.Tenants {
		for name := range t.Policies {
			if _, ok := names[name]; !ok {
				names[name] = cfg.Where("tenant", strconv.Itoa(i), "policy", name)
			}
		}
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(names)) {
		if !reg.Has(name) && !cfg.HasPlugin(name) {
			errs = append(errs, fmt.Errorf("%s: [policy.%s]: no policy %q (built-ins %v, plugins %v)", names[name], name, name, reg.Names(), cfg.PluginNames()))
		}
	}
	builtins := []string{cfg.Runtime.Policy, cfg.Runtime.PluginFallback}
	builtins = append(builtins, slices.Collect(maps.Keys(names))...)
	slices.Sort(builtins)
	for _, name := range slices.Compact(builtins) {
		if !reg.Has(name) {
			continue
		}
		p, err := reg.New(name)
		if err == nil {
			err = ConfigurePolicy(cfg, name, p)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
