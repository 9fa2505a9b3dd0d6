package core

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/gosledge/gosledge/core/config"
)

// Tracing ([runtime.tracing]). Each request that became a sandbox gets a
// server span from its arrival to its answer, continuing the client's W3C
// traceparent if it sent one; its traceparent goes back in the response.
// A sampled request's phases are recorded by the scheduler, under its
// lock, as plain timestamps (phase), and turned into child spans only
// once the request is answered, on its own goroutine: a "queue" span for
// every wait for a worker, a "run" span for every slice on a worker, a
// "blocked" span for every host call that gave the worker away, and a
// "preempted" event on the request span at the end of every slice a
// preemption ended. With tracing off the server holds a nil *tracing and
// every hook is a nil check.

// tracing is the server's OpenTelemetry pipeline.
type tracing struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TraceContext
	epoch    time.Time // the server clock's zero, to turn its readings into times
}

// newTracing starts the exporter of cfg, or returns nil if tracing is off.
func newTracing(cfg config.Tracing, epoch time.Time, log *slog.Logger) (*tracing, error) {
	if cfg.Endpoint == "" {
		return nil, nil
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces" // a collector's base URL: its OTLP/HTTP traces path
	}
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(u.String()))
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", cfg.ServiceName))
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(loggedExporter{exp, log}),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
		sdktrace.WithResource(res))
	return &tracing{provider: provider, tracer: provider.Tracer("github.com/gosledge/gosledge/core"), epoch: epoch}, nil
}

// loggedExporter reports failed exports in the server's log rather than
// through OpenTelemetry's global error handler.
type loggedExporter struct {
	sdktrace.SpanExporter
	log *slog.Logger
}

func (e loggedExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if err := e.SpanExporter.ExportSpans(ctx, spans); err != nil {
		e.log.Warn("tracing: export failed", "spans", len(spans), "err", err)
	}
	return nil
}

// shutdown flushes the spans not yet exported.
func (t *tracing) shutdown() error {
	if t == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return t.provider.Shutdown(ctx)
}

func (t *tracing) at(d time.Duration) time.Time { return t.epoch.Add(d) }

// phaseKind is what a sandbox is doing between two scheduler events.
type phaseKind uint8

const (
	phaseNone    phaseKind = iota // left the scheduler
	phaseQueue                    // waiting for a worker
	phaseRun                      // holding worker
	phaseBlocked                  // in a host call that gave its worker away
)

var phaseNames = [...]string{"", "queue", "run", "blocked"}

type phase struct {
	kind       phaseKind
	start, end time.Duration
	worker     int  // run
	preempted  bool // run: a preemption ended it
}

// requestTrace is one sampled request's span and its phases so far; nil
// for a request that is not traced. phases is appended under the
// scheduler lock and read by the sandbox's own goroutine once it left
// the scheduler.
type requestTrace struct {
	t      *tracing
	ctx    context.Context // carries span
	span   trace.Span
	phases []phase
}

// begin starts sb's request span at its arrival, continuing r's
// traceparent, and writes the span's traceparent to the response
// headers. It returns nil, recording nothing, when tracing is off or the
// request is not sampled (its traceparent still goes back).
func (t *tracing) begin(w http.ResponseWriter, r *http.Request, sb *Sandbox) *requestTrace {
	if t == nil {
		return nil
	}
	ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := t.tracer.Start(ctx, "request "+sb.task.Route,
		trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(t.at(sb.task.Arrival)))
	t.prop.Inject(ctx, propagation.HeaderCarrier(w.Header()))
	if !span.IsRecording() {
		return nil // not sampled: no attributes to build
	}
	span.SetAttributes(
		attribute.String("gosledge.tenant", sb.task.Tenant),
		attribute.String("http.route", sb.task.Route),
		attribute.String("http.request.method", r.Method),
		attribute.Int64("gosledge.sandbox", int64(sb.task.ID)))
	return &requestTrace{t: t, ctx: ctx, span: span, phases: []phase{{kind: phaseQueue, start: sb.task.Arrival}}}
}

// phase ends the current phase at now and starts kind (phaseNone: none);
// preempted marks a run phase ended by a preemption. Caller holds the
// scheduler lock.
func (rt *requestTrace) phase(kind phaseKind, now time.Duration, worker int, preempted bool) {
	if rt == nil {
		return
	}
	if n := len(rt.phases); n > 0 && rt.phases[n-1].end < 0 {
		rt.phases[n-1].end = now
		rt.phases[n-1].preempted = preempted
	}
	if kind != phaseNone {
		rt.phases = append(rt.phases, phase{kind: kind, start: now, end: -1, worker: worker})
	}
}

// end emits the phases as child spans and ends the request span at now
// with the request's outcome.
func (rt *requestTrace) end(now time.Duration, out Outcome, status, preemptions int, cpu time.Duration) {
	if rt == nil {
		return
	}
	t := rt.t
	for i, p := range rt.phases {
		if p.end < 0 {
			p.end = now
		}
		opts := []trace.SpanStartOption{trace.WithTimestamp(t.at(p.start))}
		if p.kind == phaseRun {
			opts = append(opts, trace.WithAttributes(attribute.Int("gosledge.worker", p.worker)))
		}
		_, span := t.tracer.Start(rt.ctx, phaseNames[p.kind], opts...)
		if p.preempted {
			span.SetAttributes(attribute.Bool("gosledge.preempted", true))
			rt.span.AddEvent("preempted", trace.WithTimestamp(t.at(p.end)), trace.WithAttributes(attribute.Int("gosledge.slice", i)))
		}
		span.End(trace.WithTimestamp(t.at(p.end)))
	}
	rt.span.SetAttributes(
		attribute.Int("http.response.status_code", status),
		attribute.String("gosledge.result", out.Result.String()),
		attribute.Int("gosledge.preemptions", preemptions),
		attribute.Int64("gosledge.cpu_us", cpu.Microseconds()))
	if status >= 500 {
		rt.span.SetStatus(codes.Error, out.Result.String())
	}
	rt.span.End(trace.WithTimestamp(t.at(now)))
}
