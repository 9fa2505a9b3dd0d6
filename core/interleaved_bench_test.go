package core

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// benchRequest is one variant of benchInterleaved.
type benchRequest struct{ name, method, path, body string }

// benchInterleaved sends each request in turn, b.N rounds, from one
// keep-alive client, and reports p50 and p99 latency of each (µs).
func benchInterleaved(b *testing.B, ts *testServer, reqs []benchRequest) {
	samples := make([][]time.Duration, len(reqs))
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	b.ResetTimer()
	for range b.N {
		for i, v := range reqs {
			req, err := http.NewRequest(v.method, ts.url+v.path, strings.NewReader(v.body))
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			samples[i] = append(samples[i], time.Since(start))
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("%s: status %d", v.name, resp.StatusCode)
			}
		}
	}
	b.StopTimer()
	for i, v := range reqs {
		reportPercentiles(b, samples[i], "µs-"+v.name)
	}
}
