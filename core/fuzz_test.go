package core

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gosledge/gosledge/core/config"
)

// contractStatuses are the statuses DESIGN.md's HTTP contract allows.
var contractStatuses = map[int]bool{200: true, 400: true, 404: true, 405: true, 408: true,
	409: true, 413: true, 429: true, 500: true, 503: true, 504: true}

// FuzzHTTP sends arbitrary methods, paths, queries and bodies to a server
// with quick functions (fib, echo, a trap, an exit, a small body limit):
// every answer is a status of the contract and the server keeps serving.
func FuzzHTTP(f *testing.F) {
	small := testRoute(f, "/small", "echo")
	small.MaxBody = 16
	fib := testRoute(f, "/fib", "fib")
	fib.Timeout = 2 * time.Second // fib(93) is long, but bounded
	ts := startServer(f, config.Runtime{Workers: 2, Preemption: true, MaxQueue: 64},
		fib, testRoute(f, "/echo", "echo"), testRoute(f, "/trap", "trap"), testRoute(f, "/exit1", "exit1"), small)
	client := &http.Client{Timeout: 10 * time.Second}
	for _, seed := range []struct{ method, path, query, body string }{
		{"POST", "/fib", "", "10"}, {"GET", "/fib", "20", ""}, {"GET", "/fib", "n=%zz", ""},
		{"PUT", "/echo", "", "x"}, {"POST", "/small", "", strings.Repeat("y", 100)},
		{"POST", "/trap", "", ""}, {"GET", "/exit1", "a&b=c", ""}, {"GET", "/nope", "", ""},
		{"DELETE", "/", "", ""}, {"POST", "/fib", "", "abc"}, {"POST", "/fib", "999999999999", ""},
	} {
		f.Add(seed.method, seed.path, seed.query, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, method, path, query string, body []byte) {
		u := &url.URL{Scheme: "http", Host: strings.TrimPrefix(ts.url, "http://"), Path: path, RawQuery: query}
		req, err := http.NewRequest(method, u.String(), strings.NewReader(string(body)))
		if err != nil {
			return // not a request a client can send
		}
		resp, err := client.Do(req)
		if err != nil {
			return // refused by the client side (e.g. an invalid header)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if !contractStatuses[resp.StatusCode] {
			t.Fatalf("%s %q?%q: status %d is not in the HTTP contract", method, path, query, resp.StatusCode)
		}
		if status, body := ts.do(t, "POST", "/echo", "alive"); status != 200 || body != "alive" {
			t.Fatalf("after %s %q: echo = %d %q", method, path, status, body)
		}
	})
}
