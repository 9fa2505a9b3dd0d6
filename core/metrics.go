package core

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gosledge/gosledge/sdk"
)

// metrics are the server's Prometheus collectors, in a registry of its own
// (no global state). They are always updated; the listener that serves
// them is optional (runtime.metrics).
type metrics struct {
	reg *prometheus.Registry

	requests    *prometheus.CounterVec   // tenant, route, code
	queueing    *prometheus.HistogramVec // tenant, route: arrival → first run
	execution   *prometheus.HistogramVec // tenant, route: CPU time in Running
	latency     *prometheus.HistogramVec // tenant, route: arrival → response
	misses      *prometheus.CounterVec   // tenant, route
	refusals    *prometheus.CounterVec   // tenant, route: refused or queue full
	drops       *prometheus.CounterVec   // tenant, route: dropped late
	kills       *prometheus.CounterVec   // tenant, route: killed at timeout or shutdown
	cpuKills    *prometheus.CounterVec   // tenant, route: killed past cpu_limit
	concurrency *prometheus.CounterVec   // tenant, route, limit: 429 past max_concurrency
	preemptions prometheus.Counter
	yields      prometheus.Counter
	decisions   prometheus.Histogram
	fallbacks   prometheus.Counter
	perfDropped prometheus.Counter
}

func newMetrics(s *Server) *metrics {
	const ns = "gosledge"
	route := []string{"tenant", "route"}
	// Buckets from 50 µs to ~26 s: serverless latencies span both.
	buckets := prometheus.ExponentialBuckets(50e-6, 2, 20)
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "requests_total",
			Help: "Requests answered, by tenant, route and HTTP status code."}, []string{"tenant", "route", "code"}),
		queueing: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "request_queueing_seconds",
			Help: "Time from arrival to first running on a worker.", Buckets: buckets}, route),
		execution: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "request_execution_seconds",
			Help: "CPU time a request spent running on a worker.", Buckets: buckets}, route),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "request_duration_seconds",
			Help: "Time from arrival to response.", Buckets: buckets}, route),
		misses: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "deadline_misses_total",
			Help: "Requests answered after their deadline or dropped past it."}, route),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "refusals_total",
			Help: "Requests refused with 429 (admission control or a full queue)."}, route),
		drops: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "drops_total",
			Help: "Requests dropped with 408: their deadline passed before they could start."}, route),
		kills: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "kills_total",
			Help: "Requests killed with 504 past their route's timeout or at shutdown."}, route),
		cpuKills: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "cpu_limit_kills_total",
			Help: "Requests killed with 504 past their route's cpu_limit (apart from kills_total's timeouts)."}, route),
		concurrency: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "concurrency_refusals_total",
			Help: "Requests refused with 429 because their tenant's or route's max_concurrency requests were in flight (limit: tenant or route)."},
			[]string{"tenant", "route", "limit"}),
		preemptions: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "preemptions_total",
			Help: "Times a running sandbox gave its worker to another."}),
		yields: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "safepoint_yields_total",
			Help: "Calls from a sandbox's safepoints into the runtime."}),
		decisions: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "policy_decision_seconds",
			Help: "Time the policy took to answer GetNext.", Buckets: prometheus.ExponentialBuckets(1e-7, 2, 20)}),
		fallbacks: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "policy_fallbacks_total",
			Help: "Times a faulty policy plugin was replaced by the fallback policy."}),
		perfDropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "perf_log_dropped_total",
			Help: "Perf log lines dropped because the writer fell behind."}),
	}
	m.reg.MustRegister(m.requests, m.queueing, m.execution, m.latency, m.misses, m.refusals, m.drops,
		m.kills, m.cpuKills, m.concurrency, m.preemptions, m.yields, m.decisions, m.fallbacks, m.perfDropped,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		stateCollector{s}, policyCollector{s}, loadCollector{s}, poolCollector{s})
	return m
}

var sandboxesDesc = prometheus.NewDesc("gosledge_sandboxes", "Live sandboxes by lifecycle state.", []string{"state"}, nil)

// stateCollector reports the live sandboxes per state at scrape time.
type stateCollector struct{ s *Server }

func (stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- sandboxesDesc }

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	for st := State(0); st < numStates; st++ {
		ch <- prometheus.MustNewConstMetric(sandboxesDesc, prometheus.GaugeValue, float64(c.s.states[st].Load()), st.String())
	}
}

// policyCollector reports what a policy exposes through sdk.Reporter
// (e.g. per-tenant budgets), read under the scheduler lock.
type policyCollector struct{ s *Server }

var policyDesc = prometheus.NewDesc("gosledge_policy_gauge", "A value the scheduling policy reports, by policy, name and tenant.",
	[]string{"policy", "name", "tenant"}, nil)

func (policyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- policyDesc }

func (c policyCollector) Collect(ch chan<- prometheus.Metric) {
	sched := c.s.sched
	sched.mu.Lock()
	var gauges []sdk.Gauge
	p := sched.d.Policy()
	name := p.Name()
	if r := sdk.ExtensionsOf(p).Reporter; r != nil {
		gauges = r.Report(sched.now())
	}
	sched.mu.Unlock()
	for _, g := range gauges {
		ch <- prometheus.MustNewConstMetric(policyDesc, prometheus.GaugeValue, g.Value, name, g.Name, g.Tenant)
	}
}

// observe records one answered request in the metrics; code is the
// status the listener answered it with (requests_total's label).
func (m *metrics) observe(r *route, res Result, code string, queueing, execution, latency time.Duration, missed bool) {
	t, p := r.tenant, r.cfg.Path
	m.requests.WithLabelValues(t, p, code).Inc()
	m.latency.WithLabelValues(t, p).Observe(latency.Seconds())
	if execution > 0 {
		m.queueing.WithLabelValues(t, p).Observe(queueing.Seconds())
		m.execution.WithLabelValues(t, p).Observe(execution.Seconds())
	}
	if missed {
		m.misses.WithLabelValues(t, p).Inc()
	}
	switch res {
	case ResultRefused, ResultQueueFull:
		m.refusals.WithLabelValues(t, p).Inc()
	case ResultDropped:
		m.drops.WithLabelValues(t, p).Inc()
	case ResultTimeout, ResultShutdown:
		m.kills.WithLabelValues(t, p).Inc()
	case ResultCPULimit:
		m.cpuKills.WithLabelValues(t, p).Inc()
	}
}

// opsServer is the operator listener: /metrics, /healthz, /readyz and,
// optionally, /debug/pprof/.
type opsServer struct {
	ln   net.Listener
	http *http.Server
}

func newOpsServer(s *Server, addr string, withPprof bool) (*opsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{Registry: s.metrics.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /load", s.serveLoad)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if st := s.loadState(); st != LoadUp {
			httpError(w, http.StatusServiceUnavailable, st)
			return
		}
		w.Write([]byte("ready\n"))
	})
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	o := &opsServer{ln: ln, http: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := o.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics listener stopped", "err", err)
		}
	}()
	return o, nil
}

func (o *opsServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if o.http.Shutdown(ctx) != nil {
		o.http.Close()
	}
}
