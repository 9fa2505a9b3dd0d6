package core

import (
	"encoding/json"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/core/dispatch"
	"github.com/gosledge/gosledge/sdk"
)

// The states an instance reports to a load balancer.
const (
	LoadUp    = "up"    // serving: send it work, in proportion to Weight
	LoadDrain = "drain" // draining: finish what it has, send it nothing new
	LoadDown  = "down"  // not serving (starting, or stopped)
)

// The sources of a Load's headroom.
const (
	HeadroomPolicy    = "policy"    // the policy's sdk.HeadroomGauge
	HeadroomAdmission = "admission" // the core's utilisation test (runtime.admission)
	HeadroomQueue     = "queue"     // tasks in flight against workers + max_queue
)

// Load is what an instance tells a load balancer: the agent-check answer
// (runtime.agent), GET /load on the metrics listener and the gosledge_load_*
// gauges are all this one value (RATIONALE.md, "Load report").
type Load struct {
	State string `json:"state"` // LoadUp, LoadDrain or LoadDown
	// Headroom is the share of the instance's capacity still admittable
	// under the active policy, in [0, 1]; Weight is it in whole percent
	// (rounded down, so 0 only when nothing more fits), what HAProxy is
	// told.
	Headroom float64 `json:"headroom"`
	Weight   int     `json:"weight"`
	Source   string  `json:"source"` // HeadroomPolicy, HeadroomAdmission or HeadroomQueue
	Policy   string  `json:"policy"`
	Workers  int     `json:"workers"`
	Running  int     `json:"running"`   // tasks on a worker
	InFlight int     `json:"in_flight"` // admitted and unanswered: running, queued or blocked
	Queued   int     `json:"queued"`
}

// loadInput is what headroomOf needs from the dispatcher, so that the
// formula is tested without one.
type loadInput struct {
	workers, running, inFlight, maxQueue int
	admitted, capacity                   int64 // the utilisation test's, 0 capacity when off
	policyHeadroom                       float64
	hasPolicyHeadroom                    bool
}

// headroomOf is the formula of RATIONALE.md, "Load report": the policy's
// own figure if it reports one; else, with the utilisation test on, the
// share of its capacity not held by admitted tasks; else tasks in flight
// against workers + max_queue (an unbounded queue counts as one as long as
// the workers, and never reports 0: it never refuses, so a balancer must
// not take it out of rotation).
func headroomOf(in loadInput) (float64, string) {
	clamp := func(x float64) float64 { return min(1, max(0, x)) }
	switch {
	case in.hasPolicyHeadroom && !math.IsNaN(in.policyHeadroom):
		return clamp(in.policyHeadroom), HeadroomPolicy
	case in.capacity > 0:
		return clamp(1 - float64(in.admitted)/float64(in.capacity)), HeadroomAdmission
	}
	queue := in.maxQueue
	if queue <= 0 {
		queue = in.workers
	}
	h := clamp(1 - float64(in.inFlight)/float64(in.workers+queue))
	if in.maxQueue <= 0 {
		h = max(h, 0.01)
	}
	return h, HeadroomQueue
}

// Load returns the instance's state and headroom now.
func (s *Server) Load() Load {
	sched := s.sched
	sched.mu.Lock()
	d := sched.d
	l := Load{Policy: d.Policy().Name(), Workers: s.cfg.Runtime.Workers, InFlight: d.InFlight(), Queued: d.Queued()}
	for w := range l.Workers {
		if _, ok := d.Running(sdk.WorkerID(w)); ok {
			l.Running++
		}
	}
	l.Headroom, l.Source = Headroom(d, s.cfg.Runtime, sched.now())
	sched.mu.Unlock()
	l.Weight = Weight(l.Headroom)
	l.State = s.loadState()
	return l
}

// Headroom is the headroom of dispatcher d, run with rt's settings, at
// now, and where it comes from (RATIONALE.md, "Load report"). The caller
// owns d (the server holds its scheduler lock; the simulator's cluster
// asks each node's dispatcher for its headroom-weighted balancer).
func Headroom(d *dispatch.Dispatcher, rt config.Runtime, now time.Duration) (float64, string) {
	p := d.Policy()
	x := sdk.ExtensionsOf(p)
	in := loadInput{workers: rt.Workers, inFlight: d.InFlight(), maxQueue: rt.MaxQueue}
	if x.Admitter == nil { // else the policy decides admission; the core's test is not used
		in.capacity, in.admitted = d.Capacity(), d.Admitted()
	}
	if x.Reporter != nil {
		for _, g := range x.Reporter.Report(now) {
			if g.Name == sdk.HeadroomGauge && g.Tenant == "" {
				in.policyHeadroom, in.hasPolicyHeadroom = g.Value, true
			}
		}
	}
	return headroomOf(in)
}

// Weight is headroom as the agent reports it: whole percent, rounded
// down, so 0 only when nothing more fits.
func Weight(headroom float64) int { return int(math.Floor(headroom * 100)) }

// loadState is LoadDown before Run serves and once every request has been
// answered at shutdown, LoadDrain in between shutdown's start and that.
func (s *Server) loadState() string {
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	switch {
	case !s.serving:
		return LoadDown
	case s.draining:
		return LoadDrain
	}
	return LoadUp
}

// setServing records that Run serves (true) or that shutdown has
// answered every request (false).
func (s *Server) setServing(on bool) {
	s.liveMu.Lock()
	s.serving = on
	s.liveMu.Unlock()
}

// serveLoad is GET /load on the metrics listener.
func (s *Server) serveLoad(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(s.Load())
}

var (
	loadHeadroomDesc = prometheus.NewDesc("gosledge_load_headroom",
		"Share of capacity still admittable under the active policy (what the agent-check reports), by source.", []string{"source"}, nil)
	loadWeightDesc = prometheus.NewDesc("gosledge_load_weight_percent",
		"The weight the agent-check reports: headroom in whole percent.", nil, nil)
	loadStateDesc = prometheus.NewDesc("gosledge_load_state",
		"1 for the state the instance reports to load balancers (up, drain, down), 0 for the others.", []string{"state"}, nil)
)

// loadCollector reports Load at scrape time.
type loadCollector struct{ s *Server }

func (loadCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- loadHeadroomDesc
	ch <- loadWeightDesc
	ch <- loadStateDesc
}

func (c loadCollector) Collect(ch chan<- prometheus.Metric) {
	l := c.s.Load()
	ch <- prometheus.MustNewConstMetric(loadHeadroomDesc, prometheus.GaugeValue, l.Headroom, l.Source)
	ch <- prometheus.MustNewConstMetric(loadWeightDesc, prometheus.GaugeValue, float64(l.Weight))
	for _, st := range []string{LoadUp, LoadDrain, LoadDown} {
		v := 0.0
		if st == l.State {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(loadStateDesc, prometheus.GaugeValue, v, st)
	}
}
