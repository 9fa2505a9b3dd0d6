package dispatch

import "time"

// admission is SLEdge's utilisation test, used for any policy that does
// not decide admission itself (sdk.Admitter). Costs are integers
// (millionths of a worker) so that returning them leaves exactly zero,
// with no floating-point drift.
type admission struct {
	capacity int64 // millionths of a worker
	admitted int64
}

const costUnit = 1_000_000 // one worker

// admissionCost is estimate/deadline in millionths of a worker, at least 1
// so that every admitted task holds something.
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
