package core

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gosledge/gosledge/core/config"
)

// Clients that abuse a real listener: each is bounded by one of the
// runtime's client limits, and the server keeps serving everyone else.
// The limits are short here so the tests are quick; the bounds asserted
// are generous (what matters is that the connection ends at all).

// abuseServer serves echo with short client limits.
func abuseServer(t *testing.T) *testServer {
	return startServer(t, config.Runtime{Workers: 1, Preemption: true,
		ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 400 * time.Millisecond,
		IdleTimeout: 300 * time.Millisecond, MaxHeaderBytes: 4 << 10},
		testRoute(t, "/echo", "echo"))
}

func dial(t *testing.T, ts *testServer) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reports whether the server closes c (a read returns EOF or
// a reset) within d, reading and discarding anything it sends first.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

func stillServes(t *testing.T, ts *testServer) {
	t.Helper()
	if status, body := ts.do(t, "POST", "/echo", "ok"); status != 200 || body != "ok" {
		t.Errorf("echo while a client abuses the server = %d %q", status, body)
	}
}

// TestSlowloris: headers sent a byte at a time never finish; the
// connection is closed after read_header_timeout.
func TestSlowloris(t *testing.T) {
	ts := abuseServer(t)
	c := dial(t, ts)
	fmt.Fprint(c, "POST /echo HTTP/1.1\r\nHost: x\r\n")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := c.Write([]byte("X")); err != nil {
					return
				}
			}
		}
	}()
	stillServes(t, ts)
	if !closedWithin(c, 5*time.Second) {
		t.Error("a slowloris connection was still open after 5s (read_header_timeout 200ms)")
	}
}

// TestSlowBody: a body sent a byte at a time is cut off at read_timeout
// with a 400, not held open for as long as the client likes.
func TestSlowBody(t *testing.T) {
	ts := abuseServer(t)
	c := dial(t, ts)
	fmt.Fprint(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
	go func() {
		for range 1000 {
			if _, err := c.Write([]byte("y")); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	stillServes(t, ts)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a slow body within 5s (read_timeout 400ms): %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("slow body = %d, want 400", resp.StatusCode)
	}
}

// TestHugeHeaders: headers past max_header_bytes get 431 at once.
func TestHugeHeaders(t *testing.T) {
	ts := abuseServer(t)
	req, _ := http.NewRequest("POST", ts.url+"/echo", strings.NewReader("x"))
	req.Header.Set("X-Big", strings.Repeat("a", 1<<20))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		// net/http may close before the client has written 1 MB.
		t.Logf("1 MB of headers: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("1 MB of headers = %d, want 431", resp.StatusCode)
		}
	}
	stillServes(t, ts)
}

// TestIdleConnections: a thousand keep-alive connections, each after one
// request, are closed by idle_timeout; their goroutines go with them. The
// read timeouts are long here: with abuseServer's 200 ms, a loaded machine
// could time out (and reset) a connection whose request was still unread
// in its buffer, which is another test's subject.
func TestIdleConnections(t *testing.T) {
	ts := startServer(t, config.Runtime{Workers: 1, Preemption: true,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second,
		IdleTimeout: 300 * time.Millisecond, MaxHeaderBytes: 4 << 10},
		testRoute(t, "/echo", "echo"))
	before := runtime.NumGoroutine()
	const n = 1000
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = dial(t, ts)
		fmt.Fprint(conns[i], "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("conn %d: %v", i, err)
		}
		resp.Body.Close()
	}
	stillServes(t, ts)
	for i, c := range conns {
		if !closedWithin(c, 10*time.Second) {
			t.Fatalf("idle connection %d still open after 10s (idle_timeout 300ms)", i)
		}
	}
	// The server's per-connection goroutines end with the connections.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before+10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before+10 {
		t.Errorf("%d goroutines after the idle connections closed, %d before", g, before)
	}
}

// TestPipelining: three requests written at once on one connection get
// three answers, in order.
func TestPipelining(t *testing.T) {
	ts := abuseServer(t)
	c := dial(t, ts)
	var reqs strings.Builder
	for i := range 3 {
		fmt.Fprintf(&reqs, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nr%d", i)
	}
	fmt.Fprint(c, reqs.String())
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for i := range 3 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != fmt.Sprintf("r%d", i) {
			t.Errorf("response %d = %d %q, want 200 %q", i, resp.StatusCode, body, fmt.Sprintf("r%d", i))
		}
	}
}
