package core

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gosledge/gosledge/sdk"
)

// tenant is one tenant's listener and routes.
type tenant struct {
	srv    *Server
	name   string
	routes map[string]*route // by exact path
	ln     net.Listener
	http   *http.Server
}

// ServeHTTP is where a request enters: route match, method, body, then a
// sandbox runs it and its stdout becomes the response (DESIGN.md, "HTTP
// contract").
func (t *tenant) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, ok := t.routes[r.URL.Path]
	if !ok {
		httpError(w, http.StatusNotFound, "no route "+r.URL.Path)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		httpError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed")
		return
	}
	args, err := queryArgs(r.URL.RawQuery)
	if err != nil {
		httpError(w, http.StatusBadRequest, "malformed query: "+err.Error())
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rt.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpError(w, http.StatusRequestEntityTooLarge, "body exceeds "+formatBytes(tooBig.Limit))
			return
		}
		httpError(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}

	srv := t.srv
	sb := newSandbox(rt, sdk.TaskID(srv.nextID.Add(1)), srv.now(), body, args)
	if !srv.admitLive(sb) {
		httpError(w, http.StatusServiceUnavailable, "server shutting down")
		return
	}
	defer srv.dropLive(sb)
	out := sb.run(r.Context(), srv)
	if out.Status == http.StatusOK {
		w.Header().Set("Content-Type", rt.cfg.ContentType)
		w.WriteHeader(http.StatusOK)
		w.Write(out.Body)
	} else {
		httpError(w, out.Status, strings.TrimSuffix(string(out.Body), "\n"))
	}
	srv.complete(sb, out)
}

// complete records the end of a request: Returned → Complete, and its log
// line.
func (s *Server) complete(sb *Sandbox, out Outcome) {
	s.sched.mu.Lock()
	now := s.now()
	if sb.state() == StateReturned {
		sb.to(StateComplete, now)
	}
	latency := now - sb.task.Arrival
	ran := sb.task.Ran
	s.sched.mu.Unlock()

	st := &sb.route.stats
	st.requests.Add(1)
	if out.Status == http.StatusRequestTimeout || latency > sb.route.cfg.RelativeDeadline {
		st.misses.Add(1)
	}
	if out.Status == http.StatusRequestTimeout {
		st.dropped.Add(1)
	}

	lvl := slog.LevelDebug
	if out.Status >= 500 {
		lvl = slog.LevelWarn
	}
	if !s.log.Enabled(context.Background(), lvl) {
		return
	}
	attrs := []any{"id", sb.task.ID, "route", sb.route.name, "status", out.Status,
		"latency", latency, "cpu", ran, "preemptions", sb.preempted}
	if out.Err != nil {
		attrs = append(attrs, "err", firstLine(out.Err.Error()))
	}
	if sb.stderr.Len() > 0 {
		attrs = append(attrs, "stderr", strings.TrimSpace(sb.stderr.String()))
	}
	s.log.Log(context.Background(), lvl, "request", attrs...)
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
