package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/gosledge/gosledge/core/config"
)

// CheckModules does to every route's module what serve does before it
// binds a port: instrument it (with the route's memory limit) and compile
// it, through cfg's compilation cache, and take its instance pool's
// snapshot (a reactor's _initialize runs). It returns every failure, each
// naming the config file:line of the route's module key, so that
// `sledge validate` refuses exactly the configs serve would refuse.
func CheckModules(ctx context.Context, cfg *config.Config) error {
	e, err := newEngine(ctx, cfg.Runtime.CacheDir, limitsOf(cfg.Runtime), yield)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.File, err)
	}
	defer e.close(ctx)
	var errs []error
	for ti, tc := range cfg.Tenants {
		for ri := range tc.Routes {
			m, err := e.compileRoute(ctx, cfg, ti, ri)
			if err == nil {
				// A pool's snapshot is taken at load (a reactor's
				// _initialize runs): serve would refuse one that fails.
				var r *instancePool
				if r, err = newPool(ctx, e, cfg, ti, ri, m, baseModuleConfig(), 1); r != nil {
					r.close(ctx)
				}
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
