package core

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/gosledge/gosledge/sdk"
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
