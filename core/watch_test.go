package core

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/sdk"
)

// TestWatchIsLazy: a sandbox that ends within its first stretch of fuel
// never arms its timeout or its cancellation; one that runs on, or that
// is instantiated fresh, does.
func TestWatchIsLazy(t *testing.T) {
	ts := startServer(t, config.Runtime{Workers: 1, Preemption: true},
		testRoute(t, "/echo", "echo"), testRoute(t, "/fib", "fib"), testRoute(t, "/goecho", "goecho/goecho"))
	for _, tc := range []struct {
		path, body string
		watched    bool
	}{
		{"/echo", "hello", false},  // pooled, no yield
		{"/fib", "27", true},       // pooled, runs past its first fuel
		{"/goecho", "hello", true}, // a Go command: instantiated fresh
		{"/echo", "again", false},  // and the pooled echo still does not
		{"/goecho", "hello", true}, // nor any later fresh one
		{"/fib", "1", false},       // a short fib yields no more than echo
	} {
		rt := ts.tenants[0].routeMap()[tc.path]
		sb := newSandbox(rt, sdk.TaskID(ts.nextID.Add(1)), ts.now(), []byte(tc.body), nil)
		out := sb.run(context.Background(), ts.Server)
		ts.forget(sb)
		if out.Result != ResultOK {
			t.Fatalf("%s %q: %v %q", tc.path, tc.body, out.Result, out.Body)
		}
		if watched := sb.timeout != nil; watched != tc.watched {
			t.Errorf("%s %q: watched = %t, want %t (%d yields)", tc.path, tc.body, watched, tc.watched, sb.yields)
		}
	}
	assertIdle(t, ts.Server)
}

// TestKilledWhereverItWaits: the route's timeout and the client going
// away reach a sandbox in each place where one can spend long (running
// guest code, queued for the only worker, sleeping), though neither is
// armed before it gets there. A timed-out request is answered 504; a
// cancelled one is counted 499. Either way the worker is not lost.
func TestKilledWhereverItWaits(t *testing.T) {
	for _, place := range []string{"running", "queued", "sleeping"} {
		for _, killer := range []string{"timeout", "client gone"} {
			t.Run(place+"/"+killer, func(t *testing.T) {
				timeout := time.Minute
				if killer == "timeout" {
					timeout = 200 * time.Millisecond
				}
				loop := testRoute(t, "/loop", "loop")
				loop.Timeout = timeout
				echo := testRoute(t, "/echo", "echo")
				echo.Timeout = timeout
				sleep := counterRoute(t, "/sleep", "sleep")
				sleep.Timeout = timeout
				ts := startServer(t, config.Runtime{Workers: 1, Policy: "fifo"},
					loop, echo, sleep, testRoute(t, "/spin", "spin"))

				path := map[string]string{"running": "/loop", "queued": "/echo", "sleeping": "/sleep?60000"}[place]
				var hog <-chan response
				if place == "queued" {
					hog = ts.doAsync(t, "POST", "/spin", "800") // holds the only worker: no preemption
					waitRunning(t, ts.Server, 1)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				res := make(chan response, 1)
				go func() {
					req, _ := http.NewRequestWithContext(ctx, "POST", ts.url+path, strings.NewReader("hello"))
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						res <- response{status: -1, body: err.Error()}
						return
					}
					defer resp.Body.Close()
					b, _ := io.ReadAll(resp.Body)
					res <- response{resp.StatusCode, string(b)}
				}()
				switch place {
				case "running":
					waitRunning(t, ts.Server, 1)
				case "queued":
					waitQueued(t, ts.Server, 1)
				case "sleeping":
					waitBlocked(t, ts.Server, 1)
				}
				route := strings.SplitN(path, "?", 2)[0]
				if killer == "timeout" {
					if r := awaitAnswer(t, res); r.status != 504 || !strings.Contains(r.body, "timeout") {
						t.Errorf("%s = %d %q, want 504 (timeout)", path, r.status, r.body)
					}
				} else {
					cancel()
					if r := awaitAnswer(t, res); r.status != -1 {
						t.Errorf("%s answered %d %q to a client that went away", path, r.status, r.body)
					}
					counted := ts.metrics.requests.WithLabelValues("t", route, "499")
					waitUntil(t, "the cancelled request was never counted 499", func() bool { return testutil.ToFloat64(counted) == 1 })
				}
				if hog != nil {
					if r := awaitAnswer(t, hog); r.status != 200 {
						t.Errorf("spin = %d %q", r.status, r.body)
					}
				}
				waitNoneInFlight(t, ts.Server)
				assertIdle(t, ts.Server)
				if status, body := ts.do(t, "POST", "/echo", "after"); status != 200 || body != "after" {
					t.Errorf("echo after = %d %q", status, body)
				}
			})
		}
	}
}

// awaitAnswer receives an answer, failing t if none comes within 10 s: a
// sandbox that nothing killed would hold its request for a minute.
func awaitAnswer(t *testing.T, res <-chan response) response {
	t.Helper()
	select {
	case r := <-res:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no answer within 10 s")
		return response{}
	}
}
