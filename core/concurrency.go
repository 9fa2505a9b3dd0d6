package core

import (
	"fmt"
	"net/http"
)

// In-flight caps (max_concurrency of a tenant and of a route). A request
// holds a slot of its tenant and of its route from the route match to its
// answer, waiting or running; past either cap it is answered at once,
// before its body is read. The counters are kept whether or not a cap is
// set, so that a cap added by a reload counts the requests already in
// flight.

// enter takes rt's tenant and route slots; if either is full it takes
// neither and answers the request. The caller calls leave(rt) once done
// when enter returned true.
func (t *tenant) enter(w http.ResponseWriter, rt *route) bool {
	scope, limit := "", 0
	if n := t.inflight.Add(1); t.maxConcurrency > 0 && n > int64(t.maxConcurrency) {
		scope, limit = "tenant", t.maxConcurrency
	}
	if n := rt.stats.inflight.Add(1); scope == "" && rt.cfg.MaxConcurrency > 0 && n > int64(rt.cfg.MaxConcurrency) {
		scope, limit = "route", rt.cfg.MaxConcurrency
	}
	if scope == "" {
		return true
	}
	t.leave(rt)
	t.srv.metrics.concurrency.WithLabelValues(t.name, rt.cfg.Path, scope).Inc()
	msg := fmt.Sprintf("too many requests in flight: tenant %s allows %d", t.name, limit)
	if scope == "route" {
		msg = fmt.Sprintf("too many requests in flight: route %s allows %d", rt.cfg.Path, limit)
	}
	t.reject(w, rt.cfg.Path, httpStatus[ResultCapped], msg)
	return false
}

// leave gives back the slots enter took.
func (t *tenant) leave(rt *route) {
	t.inflight.Add(-1)
	rt.stats.inflight.Add(-1)
}
