package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Trace is the arrival process of a workload whose [arrival] names a
// trace file: a CSV of one request a line,
//
//	# comments and blank lines are skipped
//	offset_ms,route,duration_ms
//	0,short,2.4
//	1.75,long,101
//
// offset_ms is when the request is due, in milliseconds from the start of
// the run (warm-up included), non-decreasing; route is the name of one of
// the workload's [[route]]s; duration_ms, optional (the header says
// whether the column is there), is the request's service time for the
// simulator, which otherwise draws it from the route's "service" model.
// `sledge bench` ignores it: the real function takes what it takes.
// Requests due at or after warm-up + duration are not sent.
const Trace = "trace"

// arrival is one request of a run.
type arrival struct {
	at      time.Duration
	route   int
	service time.Duration // from a trace's duration_ms; 0: draw from the model
}

// traceReader streams a trace file, so that a run holds only the
// requests in flight, however long the trace.
type traceReader struct {
	file     string
	r        *bufio.Reader
	c        io.Closer
	line     int
	duration bool // the duration_ms column is there
	routes   map[string]int
	last     time.Duration
}

func openTrace(file string, routes []Route) (*traceReader, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	t := &traceReader{file: file, r: bufio.NewReader(f), c: f, routes: map[string]int{}}
	for i, rt := range routes {
		t.routes[rt.Name] = i
	}
	head, err := t.record()
	if err != nil {
		f.Close()
		if err == io.EOF {
			return nil, fmt.Errorf("%s: empty trace: want a header offset_ms,route[,duration_ms]", file)
		}
		return nil, err
	}
	switch strings.Join(head, ",") {
	case "offset_ms,route":
	case "offset_ms,route,duration_ms":
		t.duration = true
	default:
		f.Close()
		return nil, fmt.Errorf("%s:%d: header %q: want offset_ms,route or offset_ms,route,duration_ms", file, t.line, strings.Join(head, ","))
	}
	return t, nil
}

// record returns the next non-blank, non-comment line's fields.
func (t *traceReader) record() ([]string, error) {
	for {
		s, err := t.r.ReadString('\n')
		if err != nil && (err != io.EOF || s == "") {
			if err == io.EOF {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("%s:%d: %w", t.file, t.line+1, err)
		}
		t.line++
		s = strings.TrimSpace(s)
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		f := strings.Split(s, ",")
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		return f, nil
	}
}

// next returns the next request, or io.EOF after the last.
func (t *traceReader) next() (arrival, error) {
	f, err := t.record()
	if err != nil {
		return arrival{}, err
	}
	bad := func(format string, args ...any) (arrival, error) {
		return arrival{}, fmt.Errorf("%s:%d: %s", t.file, t.line, fmt.Sprintf(format, args...))
	}
	want := 2
	if t.duration {
		want = 3
	}
	if len(f) != want {
		return bad("%d fields, want %d (the header's)", len(f), want)
	}
	var a arrival
	ms, err := strconv.ParseFloat(f[0], 64)
	if err != nil || ms < 0 || ms > float64(maxTraceOffset/time.Millisecond) {
		return bad("offset_ms %q: want a number of milliseconds from 0", f[0])
	}
	a.at = time.Duration(ms * float64(time.Millisecond))
	if a.at < t.last {
		return bad("offset_ms %s is before the previous line's (%gms): the trace must be in order", f[0], float64(t.last)/float64(time.Millisecond))
	}
	t.last = a.at
	k, ok := t.routes[f[1]]
	if !ok {
		return bad("route %q is not in the workload's mix", f[1])
	}
	a.route = k
	if t.duration {
		d, err := strconv.ParseFloat(f[2], 64)
		if err != nil || !(d > 0) || d > float64(maxTraceOffset/time.Millisecond) {
			return bad("duration_ms %q: want a positive number of milliseconds", f[2])
		}
		a.service = time.Duration(d * float64(time.Millisecond))
	}
	return a, nil
}

func (t *traceReader) Close() error { return t.c.Close() }

// maxTraceOffset bounds offsets and durations (a year), far from overflow.
const maxTraceOffset = 365 * 24 * time.Hour

// readTrace reads the requests of a trace due before span, checking every
// line; n is how many there are.
func readTrace(file string, routes []Route, span time.Duration, each func(arrival)) (n int, err error) {
	t, err := openTrace(file, routes)
	if err != nil {
		return 0, err
	}
	defer t.Close()
	for {
		a, err := t.next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if a.at >= span {
			return n, nil
		}
		n++
		if each != nil {
			each(a)
		}
	}
}
