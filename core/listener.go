package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/gosledge/gosledge/sdk"
)

// tenant is one tenant's listener and routes.
type tenant struct {
	srv    *Server
	name   string
	routes atomic.Pointer[map[string]*route] // by exact path; swapped by Reload
	ln     net.Listener
	http   *http.Server

	maxConcurrency int          // max_concurrency; 0: no cap (concurrency.go)
	inflight       atomic.Int64 // requests between route match and answer
}

// ServeHTTP is where a request enters: route match, method, body, then a
// sandbox runs it and its stdout becomes the response (DESIGN.md, "HTTP
// contract").
func (t *tenant) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c, ok := r.Context().Value(connKey{}).(*connInfo); ok && !c.grown {
		c.grown = true
		growStack()
	}
	rt, ok := t.routeMap()[r.URL.Path]
	if !ok {
		rt, ok = matchPrefix(t.routeMap(), r.URL.Path)
	}
	if !ok {
		t.reject(w, "", http.StatusNotFound, "no route "+r.URL.Path)
		return
	}
	path := rt.cfg.Path
	wagi := rt.isWAGI()
	if allow, ok := rt.allows(r.Method); !ok {
		w.Header().Set("Allow", allow)
		t.reject(w, path, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed")
		return
	}
	if !t.enter(w, rt) {
		return
	}
	defer t.leave(rt)
	args, err := queryArgs(r.URL.RawQuery)
	if err != nil && !wagi { // WAGI passes the raw query on
		t.reject(w, path, http.StatusBadRequest, "malformed query: "+err.Error())
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rt.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			t.reject(w, path, http.StatusRequestEntityTooLarge, "body exceeds "+formatBytes(tooBig.Limit))
			return
		}
		t.reject(w, path, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}

	srv := t.srv
	var wagiArgv, wagiEnv []string
	if wagi {
		if wagiArgv, wagiEnv, err = wagiRequest(r, rt, len(body)); err != nil {
			t.reject(w, path, http.StatusBadRequest, err.Error())
			return
		}
	}
	sb := newSandbox(rt, sdk.TaskID(srv.nextID.Add(1)), srv.now(), body, args)
	sb.wagiArgv, sb.wagiEnv = wagiArgv, wagiEnv
	if !srv.admitLive(sb) {
		w.Header().Set("Connection", "close")
		t.reject(w, path, http.StatusServiceUnavailable, "server shutting down")
		srv.forget(sb)
		return
	}
	defer srv.dropLive(sb)
	sb.trace = srv.tracing.begin(w, r, sb) // nil unless traced
	sb.answerFirst = true
	out := sb.run(r.Context(), srv)
	defer sb.recycleInstance() // once the answer is out, or if writing it panics
	status := httpStatus[out.Result]
	framed := false // the answer carries its Content-Length: flushing it early changes nothing
	switch {
	case status == http.StatusOK && wagi:
		if status, out.Err = t.writeWAGI(w, rt, out.Body); out.Err != nil {
			out.Result = ResultBadResponse
			status = httpStatus[ResultBadResponse]
			httpError(w, status, out.Err.Error())
		}
	case status == http.StatusOK:
		w.Header().Set("Content-Type", rt.cfg.ContentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(out.Body)))
		w.WriteHeader(http.StatusOK)
		w.Write(out.Body)
		framed = true
	default:
		httpError(w, status, strings.TrimSuffix(string(out.Body), "\n"))
	}
	srv.complete(sb, out, status) // counted before the client can see the answer
	sb.trace.end(srv.now(), out, status, sb.preempted, sb.task.Ran)
	if framed && sb.recycle != nil {
		// The whole answer goes out now, and the pooled instance is
		// restored while it travels.
		http.NewResponseController(w).Flush()
	}
}

// connKey carries a connection's connInfo in its requests' contexts
// (tenant.http's ConnContext).
type connKey struct{}

// connInfo is what the listener remembers of a connection between its
// requests; only the connection's goroutine touches it.
type connInfo struct {
	grown bool // growStack ran on it
}

// connContext gives each connection its connInfo.
func connContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &connInfo{})
}

// growStack grows the calling goroutine's stack once, while it holds only
// net/http's frames: a connection's goroutine starts with a small stack,
// and the path to a sandbox's host calls doubled it twice, each time
// copying the deeper stack (about 10 µs per connection, in a profile of
// one client opening a connection per request).
//
//go:noinline
func growStack() {
	var frame [8 << 10]byte
	touchFrame(frame[:])
}

//go:noinline
func touchFrame(b []byte) { b[len(b)-1] = 1 }

// httpStatus is the one place a request's result becomes a status code
// (README.md, "HTTP contract"). 499 is nginx's "client closed request":
// nobody reads it, but the metrics and the perf log count it apart.
var httpStatus = [numResults]int{
	ResultOK:        http.StatusOK,
	ResultTrapped:   http.StatusInternalServerError,
	ResultExited:    http.StatusInternalServerError,
	ResultTimeout:   http.StatusGatewayTimeout,
	ResultShutdown:  http.StatusGatewayTimeout,
	ResultCancelled: 499,
	ResultRefused:   http.StatusTooManyRequests,
	ResultQueueFull: http.StatusTooManyRequests,
	ResultDropped:   http.StatusRequestTimeout,
	ResultShed:      http.StatusConflict,
	ResultInternal:  http.StatusInternalServerError,
	ResultCPULimit:  http.StatusGatewayTimeout,
	ResultCapped:    http.StatusTooManyRequests,
	// The function ran, but what it wrote is not a response: as a proxy
	// answers for a backend that sent garbage.
	ResultBadResponse: http.StatusBadGateway,
}

// reject answers a request that never became a sandbox, and counts it
// (route is "" when no route matched, so unknown paths add no labels).
func (t *tenant) reject(w http.ResponseWriter, route string, status int, msg string) {
	t.srv.metrics.requests.WithLabelValues(t.name, route, strconv.Itoa(status)).Inc()
	httpError(w, status, msg)
}

// routeMap returns the routes now served.
func (t *tenant) routeMap() map[string]*route {
	if m := t.routes.Load(); m != nil {
		return *m
	}
	return nil
}

// complete records the end of a request: Returned → Complete, its
// counters, metrics, perf log line and log line. status is what the
// listener answered.
func (s *Server) complete(sb *Sandbox, out Outcome, status int) {
	s.sched.mu.Lock()
	now := s.now()
	if sb.state() == StateReturned {
		sb.to(StateComplete, now)
	}
	task := sb.task
	clock := sb.clock // its state is final
	s.sched.mu.Unlock()
	defer s.states[clock.State()].Add(-1)

	latency := now - task.Arrival
	r := sb.route
	dropped := out.Result == ResultDropped
	missed := dropped || latency > r.cfg.RelativeDeadline
	r.stats.requests.Add(1)
	if missed {
		r.stats.misses.Add(1)
	}
	if dropped {
		r.stats.dropped.Add(1)
	}
	queueing := clock.Spent(StateInitialized, now) + clock.Spent(StateRunnable, now)
	s.metrics.observe(r, out.Result, strconv.Itoa(status), queueing, task.Ran, latency, missed)
	s.metrics.yields.Add(float64(sb.yields))

	if s.perf != nil {
		rec := perfRecord{
			ID: uint64(task.ID), Tenant: task.Tenant, Route: task.Route, Status: status,
			Arrival: task.Arrival, Deadline: task.Deadline, Latency: latency,
			CPU: task.Ran, Preemptions: sb.preempted, BytesIn: len(sb.body), BytesOut: len(out.Body),
			Result: out.Result,
		}
		for st := State(0); st < numStates; st++ {
			rec.InState[st] = clock.Spent(st, now)
		}
		s.perf.add(rec)
	}

	lvl := slog.LevelDebug
	if status >= 500 {
		lvl = slog.LevelWarn
	}
	if !s.log.Enabled(context.Background(), lvl) {
		return
	}
	attrs := []any{"id", task.ID, "route", r.name, "status", status, "result", out.Result.String(),
		"latency", latency, "cpu", task.Ran, "preemptions", sb.preempted}
	if out.Err != nil {
		attrs = append(attrs, "err", firstLine(out.Err.Error()))
	}
	if sb.stderr.Len() > 0 {
		attrs = append(attrs, "stderr", strings.TrimSpace(sb.stderr.String()))
	}
	s.log.Log(context.Background(), lvl, "request", attrs...)
}

// forget removes a finished sandbox from the per-state gauge.
func (s *Server) forget(sb *Sandbox) {
	s.sched.mu.Lock()
	st := sb.state()
	s.sched.mu.Unlock()
	s.states[st].Add(-1)
}

// httpError writes a status with a short text body.
func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}

// queryArgs turns a raw query into argv: each parameter's value in order,
// or the key itself when it has no value ("?20" and "?n=20" both give
// "20").
func queryArgs(raw string) ([]string, error) {
	if raw == "" {
		return nil, nil
	}
	var args []string
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, hasValue := strings.Cut(part, "=")
		s := k
		if hasValue {
			s = v
		}
		dec, err := url.QueryUnescape(s)
		if err != nil {
			return nil, err
		}
		if strings.IndexByte(dec, 0) >= 0 { // a WASI argument is a C string
			return nil, fmt.Errorf("argument %q has a NUL byte", s)
		}
		args = append(args, dec)
	}
	return args, nil
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
