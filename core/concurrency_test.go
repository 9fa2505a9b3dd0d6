package core

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gosledge/gosledge/core/config"
)

// TestMaxConcurrency holds requests in flight in a function that sleeps
// until the test cancels them, then counts what more requests get: past
// the route's or the tenant's max_concurrency every one is answered 429
// with a body naming the cap, and counted; under it (another route, or
// once the held requests are gone) requests are served.
func TestMaxConcurrency(t *testing.T) {
	for _, tc := range []struct {
		name          string
		tenantCap     int
		routeCap      int
		hold          []string // paths held in flight
		refused       string   // a path past the cap
		served        string   // a path under it meanwhile ("": none)
		limit, phrase string
	}{
		{"route", 0, 2, []string{"/sleep", "/sleep"}, "/sleep", "/other", "route", "route /sleep allows 2"},
		{"tenant", 2, 0, []string{"/sleep", "/other"}, "/fib", "", "tenant", "tenant t allows 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sleep := counterRoute(t, "/sleep", "sleep")
			sleep.MaxConcurrency = tc.routeCap
			other := counterRoute(t, "/other", "sleep")
			ts := startTenants(t, config.Runtime{Workers: 1, Preemption: true, Metrics: "127.0.0.1:0"},
				config.Tenant{Name: "t", MaxConcurrency: tc.tenantCap, Routes: []config.Route{sleep, other, testRoute(t, "/fib", "fib")}})

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			held := make(chan error, len(tc.hold))
			for _, p := range tc.hold {
				go func() { held <- holdRequest(ctx, ts.url+p+"?60000") }()
			}
			waitBlocked(t, ts.Server, int64(len(tc.hold)))

			const extra = 5
			counts := map[int]int{}
			for range extra {
				status, body := ts.do(t, "POST", tc.refused+"?1", "10")
				counts[status]++
				if status == 429 && !strings.Contains(body, tc.phrase) {
					t.Errorf("429 body %q does not say %q", body, tc.phrase)
				}
			}
			if counts[429] != extra {
				t.Errorf("past the %s cap: %v, want %d × 429", tc.limit, counts, extra)
			}
			if tc.served != "" {
				if status, body := ts.do(t, "POST", tc.served+"?1", ""); status != 200 {
					t.Errorf("%s beside the full %s = %d %q, want 200", tc.served, tc.refused, status, body)
				}
			}
			if got := counterValue(t, ts.Server, "gosledge_concurrency_refusals_total", tc.refused); got != extra {
				t.Errorf("concurrency_refusals_total{route=%s} = %v, want %d", tc.refused, got, extra)
			}
			if scrape := get(t, "http://"+ts.MetricsAddr()+"/metrics"); !strings.Contains(scrape, `limit="`+tc.limit+`"`) {
				t.Errorf("/metrics has no concurrency refusal with limit=%q", tc.limit)
			}

			cancel()
			for range tc.hold {
				if err := <-held; !errors.Is(err, context.Canceled) {
					t.Errorf("held request: %v, want it cancelled", err)
				}
			}
			waitNoneInFlight(t, ts.Server)
			for _, p := range tc.hold {
				if status, body := ts.do(t, "POST", p+"?1", ""); status != 200 {
					t.Errorf("%s once nothing is in flight = %d %q, want 200", p, status, body)
				}
			}
			assertIdle(t, ts.Server)
		})
	}
}

// holdRequest sends a request that stays in flight until ctx is cancelled.
func holdRequest(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, "POST", url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return errors.New("answered " + resp.Status + " before it was cancelled")
}

// waitNoneInFlight waits until the server's handlers have given back
// every in-flight slot (a cancelled client does not wait for that).
func waitNoneInFlight(t *testing.T, s *Server) {
	t.Helper()
	waitUntil(t, "requests still in flight", func() bool {
		n := int64(0)
		for _, tn := range s.tenants {
			n += tn.inflight.Load()
		}
		return n == 0
	})
}
