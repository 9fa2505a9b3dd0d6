package core

import (
	"bytes"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gosledge/gosledge/core/config"
)

// otlpReceiver is an OTLP/HTTP collector in the test: it decodes every
// export (protobuf) and keeps the spans.
type otlpReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	spans []*tracepb.Span
	paths []string
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	rc := &otlpReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &req)
		}
		if err != nil {
			t.Errorf("receiver: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.paths = append(rc.paths, r.URL.Path)
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				rc.spans = append(rc.spans, ss.GetSpans()...)
			}
		}
		rc.mu.Unlock()
		resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(resp)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// trace returns the spans received of trace id.
func (rc *otlpReceiver) trace(id []byte) []*tracepb.Span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range rc.spans {
		if bytes.Equal(s.GetTraceId(), id) {
			out = append(out, s)
		}
	}
	return out
}

// spanAttr is s's attribute key, or nil.
func spanAttr(s *tracepb.Span, key string) *commonpb.AnyValue {
	for _, kv := range s.GetAttributes() {
		if kv.GetKey() == key {
			return kv.GetValue()
		}
	}
	return nil
}

// doTraced sends a request with a traceparent header ("" for none) and
// returns the status and the response's traceparent.
func (ts *testServer) doTraced(t *testing.T, path, body, traceparent string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", ts.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if traceparent != "" {
		req.Header.Set("traceparent", traceparent)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("traceparent")
}

// TestTracingPreempted: a request with a client traceparent, preempted on
// the only worker by shorter ones, is exported to an in-test OTLP
// receiver as a span tree: a server span whose parent is the client's
// span, with its queue and run slice spans as children (at least two run
// slices, one per preemption plus one), one "preempted" event per
// preemption, and its outcome; the response carries the same trace.
func TestTracingPreempted(t *testing.T) {
	rc := newOTLPReceiver(t)
	ts := startServer(t, config.Runtime{Workers: 1, Preemption: true,
		Tracing: config.Tracing{Endpoint: rc.URL, SampleRatio: 1, ServiceName: "gosledge-test"}},
		testRoute(t, "/spin", "spin"), testRoute(t, "/fib", "fib"))

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	type result struct {
		status      int
		traceparent string
	}
	spun := make(chan result, 1)
	go func() {
		status, tp := ts.doTraced(t, "/spin", "300", "00-"+traceID+"-"+parentID+"-01")
		spun <- result{status, tp}
	}()
	waitRunning(t, ts.Server, 1)
	for range 3 {
		if status, _ := ts.doTraced(t, "/fib", "15", ""); status != 200 {
			t.Errorf("fib = %d", status)
		}
	}
	r := <-spun
	if r.status != 200 {
		t.Fatalf("spin = %d", r.status)
	}
	parts := strings.Split(r.traceparent, "-")
	if len(parts) != 4 || parts[1] != traceID || parts[2] == parentID || parts[3] != "01" {
		t.Fatalf("response traceparent %q, want trace %s, a span of ours, sampled", r.traceparent, traceID)
	}
	ts.stop() // flushes the exporter

	id, _ := hex.DecodeString(traceID)
	spans := rc.trace(id)
	var root *tracepb.Span
	for _, s := range spans {
		if s.GetName() == "request /spin" {
			root = s
		}
	}
	if root == nil {
		t.Fatalf("no request span among %d spans of the trace", len(spans))
	}
	if hex.EncodeToString(root.GetParentSpanId()) != parentID || hex.EncodeToString(root.GetSpanId()) != parts[2] {
		t.Errorf("request span %x, parent %x; want span %s (the response's), parent %s",
			root.GetSpanId(), root.GetParentSpanId(), parts[2], parentID)
	}
	if root.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("request span kind %v, want server", root.GetKind())
	}
	if res, code := spanAttr(root, "gosledge.result").GetStringValue(), spanAttr(root, "http.response.status_code").GetIntValue(); res != "ok" || code != 200 {
		t.Errorf("request span: result %q, status %d; want ok, 200", res, code)
	}
	kinds := map[string]int{}
	preemptedSlices := 0
	for _, s := range spans {
		if s == root {
			continue
		}
		if !bytes.Equal(s.GetParentSpanId(), root.GetSpanId()) {
			t.Errorf("span %q is not a child of the request span", s.GetName())
		}
		if s.GetStartTimeUnixNano() < root.GetStartTimeUnixNano() || s.GetEndTimeUnixNano() > root.GetEndTimeUnixNano() {
			t.Errorf("span %q lies outside the request span", s.GetName())
		}
		kinds[s.GetName()]++
		if spanAttr(s, "gosledge.preempted").GetBoolValue() {
			preemptedSlices++
		}
	}
	events := 0
	for _, e := range root.GetEvents() {
		if e.GetName() == "preempted" {
			events++
		}
	}
	if kinds["run"] < 2 || preemptedSlices < 1 || events != preemptedSlices || kinds["run"] != preemptedSlices+1 {
		t.Errorf("span tree %v, %d slices ended by a preemption, %d preempted events; want ≥ 2 run slices, each but the last preempted, one event each",
			kinds, preemptedSlices, events)
	}
	if kinds["queue"] != kinds["run"] {
		t.Errorf("%d queue spans for %d run slices, want one wait before each", kinds["queue"], kinds["run"])
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, p := range rc.paths {
		if p != "/v1/traces" {
			t.Errorf("exported to %q, want /v1/traces", p)
		}
	}
}

// TestTracingSampling: a request not sampled (ratio 0, no traceparent)
// still gets a traceparent back, flagged not sampled, and exports
// nothing; with tracing off a response has no traceparent.
func TestTracingSampling(t *testing.T) {
	rc := newOTLPReceiver(t)
	ts := startServer(t, config.Runtime{Workers: 1,
		Tracing: config.Tracing{Endpoint: rc.URL, SampleRatio: 0, ServiceName: "gosledge"}},
		testRoute(t, "/fib", "fib"))
	status, tp := ts.doTraced(t, "/fib", "10", "")
	if parts := strings.Split(tp, "-"); status != 200 || len(parts) != 4 || parts[3] != "00" {
		t.Errorf("unsampled: %d, traceparent %q, want 200 and a traceparent flagged 00", status, tp)
	}
	ts.stop()
	rc.mu.Lock()
	if len(rc.spans) != 0 {
		t.Errorf("%d spans exported for an unsampled request", len(rc.spans))
	}
	rc.mu.Unlock()

	off := startServer(t, config.Runtime{Workers: 1}, testRoute(t, "/fib", "fib"))
	if status, tp := off.doTraced(t, "/fib", "10", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"); status != 200 || tp != "" {
		t.Errorf("tracing off: %d, traceparent %q, want 200 and none", status, tp)
	}
}
