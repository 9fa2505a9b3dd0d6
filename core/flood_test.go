package core

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gosledge/gosledge/core/config"
)

// TestFlood sends far more concurrent requests than the server admits to a
// function that writes every byte of its memory_limit. Every request gets
// one answer, 200 or 429 (queue full), and resident memory stays within
// what the limits allow:
//
//	(workers + max_queue) × memory_limit + the pool's idle memories
//
// since only a sandbox that has started holds a memory, and at most
// workers + max_queue sandboxes are in flight (RATIONALE.md, "A request's
// fixed cost"). The bound is memory, not time, so it does not depend on
// the machine's speed; the slack covers the Go heap and the test client.
func TestFlood(t *testing.T) {
	const (
		workers, maxQueue = 2, 6
		limit             = 4 << 20
		clients           = 200
		slack             = 48 << 20
	)
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the resident high-water mark: %v", err)
	}
	flood := counterRoute(t, "/flood", "flood")
	flood.MemoryLimit = limit
	ts := startServer(t, config.Runtime{Workers: workers, Preemption: true, MaxQueue: maxQueue}, flood)
	before := residentBytes(t)
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _ := ts.do(t, "POST", "/flood", "")
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	peak := procStatus(t, "VmHWM")

	if statuses[200]+statuses[429] != clients || statuses[200] == 0 {
		t.Errorf("answers %v, want %d in all, only 200 and 429, some 200", statuses, clients)
	}
	bound := int64((workers+maxQueue)*limit + maxIdleResident + slack)
	t.Logf("answers %v; resident %d MiB before, peak %d MiB, bound +%d MiB",
		statuses, before>>20, peak>>20, bound>>20)
	if peak-before > bound {
		t.Errorf("peak resident grew by %d MiB, past the bound of %d MiB", (peak-before)>>20, bound>>20)
	}
}

// procStatus is a /proc/self/status field in bytes (VmRSS, VmHWM).
func procStatus(t testing.TB, field string) int64 {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Skipf("no %s in /proc/self/status", field)
	return 0
}
