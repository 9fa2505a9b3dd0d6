package core

import "time"

// admission is SLEdge's utilisation test, used for any policy that does not
// decide admission itself (sdk.Admitter). A request costs its route's
// execution estimate divided by its relative deadline: the share of one
// worker it needs to finish in time. Requests are admitted while the sum of
// admitted costs stays within workers × (1 − headroom). Costs are integers
// (millionths of a worker) so that returning them leaves exactly zero, with
// no floating-point drift.
type admission struct {
	capacity int64 // millionths of a worker
	admitted int64
}

const costUnit = 1_000_000 // one worker

func newAdmission(workers int, headroom float64) *admission {
	return &admission{capacity: int64(float64(workers) * (1 - headroom) * costUnit)}
}

// admissionCost is estimate/deadline in millionths of a worker, at least 1
// so that every admitted request holds something.
func admissionCost(estimate, relativeDeadline time.Duration) int64 {
	if relativeDeadline <= 0 {
		return costUnit
	}
	return max(1, int64(float64(estimate)/float64(relativeDeadline)*costUnit))
}

func (a *admission) admit(cost int64) bool {
	if a.admitted+cost > a.capacity {
		return false
	}
	a.admitted += cost
	return true
}

func (a *admission) release(cost int64) { a.admitted -= cost }
