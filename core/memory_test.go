package core

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gosledge/gosledge/core/config"
)

// counterRoute serves core/testdata/NAME.wasm, a function that prints its
// global, memory and then increments them: "000" on a fresh instance.
func counterRoute(t testing.TB, path, name string) config.Route {
	t.Helper()
	r := testRoute(t, path, "echo")
	b, err := os.ReadFile(filepath.Join("testdata", name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	r.Module, r.Wasm = name+".wasm", b
	return r
}

// TestNoStateSurvivesARequest runs the counter functions many times,
// concurrently, on pooled memories: every run must see a zero global and
// zero memory, both for a memory small enough to be cleared and for one
// grown past the clear limit (given back to the kernel).
func TestNoStateSurvivesARequest(t *testing.T) {
	ts := startServer(t, config.Runtime{Workers: 2, Preemption: true},
		counterRoute(t, "/small", "counter_small"), counterRoute(t, "/big", "counter"))
	if ts.engine.mem == nil {
		t.Log("no memory pool on this platform: checking wazero's own allocator")
	}
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				path := []string{"/small", "/big"}[(c+i)%2]
				if status, body := ts.do(t, "POST", path, ""); status != 200 || body != "000" {
					t.Errorf("%s run %d: %d %q, want 200 \"000\"", path, i, status, body)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// testPool is a memory pool closed when t ends; it skips t where the
// platform has none.
func testPool(t *testing.T) *memoryPool {
	p := newMemoryPool()
	if p == nil {
		t.Skip("no memory pool on this platform")
	}
	t.Cleanup(p.close)
	return p
}

func TestMemoryPoolRecycles(t *testing.T) {
	p := testPool(t)
	const reserve = keepLimit + 64*wasmPage
	for _, tc := range []struct {
		name   string
		pages  uint64
		stride int // write every stride-th byte: 1 touches every page
	}{
		{"cleared", 2, 1},                         // under keepLimit
		{"cleared, sparse", 16, 5 * 4096},         // resident and untouched runs
		{"discarded", keepLimit/wasmPage + 16, 1}, // over it: MADV_DONTNEED
		{"whole reservation", reserve / wasmPage, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lease := &memoryLease{pool: p}
			mem := lease.Allocate(wasmPage, reserve)
			buf := mem.Reallocate(tc.pages * wasmPage)
			if uint64(len(buf)) != tc.pages*wasmPage {
				t.Fatalf("len = %d, want %d", len(buf), tc.pages*wasmPage)
			}
			for i := 0; i < len(buf); i += tc.stride {
				buf[i] = 0xAB
			}
			lease.release()

			again := &memoryLease{pool: p}
			got := again.Allocate(wasmPage, reserve).Reallocate(reserve)
			if &got[0] != &buf[0] {
				t.Fatal("the pool did not hand back the idle memory")
			}
			for i, b := range got {
				if b != 0 {
					t.Fatalf("byte %d = %#x after reuse, want 0", i, b)
				}
			}
			again.release()
		})
	}
}

func TestMemoryPoolGrowStaysInPlace(t *testing.T) {
	p := testPool(t)
	lease := &memoryLease{pool: p}
	mem := lease.Allocate(wasmPage, 8*wasmPage)
	first := mem.Reallocate(wasmPage)
	grown := mem.Reallocate(8 * wasmPage)
	if &first[0] != &grown[0] {
		t.Error("grow moved the memory: a shared memory would break")
	}
	if mem.Reallocate(9*wasmPage) != nil {
		t.Error("grow past the maximum succeeded")
	}
	lease.release()
}

// TestMemoryLeaseLateRelease: wazero frees a memory when the instance
// closes; the lease's own release afterwards must not return it a second
// time, by which point another sandbox may be using it.
func TestMemoryLeaseLateRelease(t *testing.T) {
	p := testPool(t)
	a := &memoryLease{pool: p}
	a.Allocate(wasmPage, wasmPage).Free() // wazero closed a's instance
	b := &memoryLease{pool: p}
	b.Allocate(wasmPage, wasmPage) // b now holds the same memory
	a.release()
	if p.n != 0 {
		t.Fatalf("idle = %d after a late release, want 0: b's memory is in the pool", p.n)
	}
	b.release()
	if p.n != 1 {
		t.Fatalf("idle = %d, want 1", p.n)
	}
}

func TestMemoryPoolBound(t *testing.T) {
	p := testPool(t)
	leases := make([]*memoryLease, maxIdleMemories+10)
	for i := range leases {
		leases[i] = &memoryLease{pool: p}
		leases[i].Allocate(wasmPage, wasmPage).Reallocate(wasmPage)
	}
	for _, l := range leases {
		l.release()
	}
	if p.n != maxIdleMemories {
		t.Fatalf("idle = %d, want the bound %d", p.n, maxIdleMemories)
	}
}

// TestMemoryPoolResidentBudget: idle memories keep at most
// maxIdleResident bytes resident; past it, a returned memory is still
// pooled but its pages go back to the kernel.
func TestMemoryPoolResidentBudget(t *testing.T) {
	p := testPool(t)
	const size = 8 << 20
	leases := make([]*memoryLease, maxIdleResident/size+3)
	for i := range leases {
		leases[i] = &memoryLease{pool: p}
		buf := leases[i].Allocate(wasmPage, size).Reallocate(size)
		buf[0], buf[size-1] = 1, 1
	}
	for _, l := range leases {
		l.release()
	}
	if p.n != len(leases) || p.resident != maxIdleResident {
		t.Fatalf("idle %d keeping %d bytes, want %d keeping the budget %d", p.n, p.resident, len(leases), maxIdleResident)
	}
	for range leases {
		l := &memoryLease{pool: p}
		buf := l.Allocate(wasmPage, size).Reallocate(size)
		if buf[0] != 0 || buf[size-1] != 0 {
			t.Fatal("a pooled memory was not zeroed")
		}
	}
	if p.n != 0 || p.resident != 0 {
		t.Fatalf("all taken: idle %d keeping %d bytes, want 0 and 0", p.n, p.resident)
	}
}

func TestNextFuel(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fuel    int32
		elapsed time.Duration
		want    int32
	}{
		{"on target", 1000, yieldInterval, 1000},
		{"twice too slow", 1000, 2 * yieldInterval, 500},
		{"twice too fast", 1000, yieldInterval / 2, 2000},
		// The calibration bug: fuel at the floor after a stretch that
		// included instantiation must climb back, not stay there.
		{"floor, very short stretch", minFuel, 100 * time.Nanosecond, minFuel * maxFuelGrowth},
		{"growth capped", 1000, time.Nanosecond, 1000 * maxFuelGrowth},
		{"zero elapsed (coarse clock)", 1000, 0, 1000 * maxFuelGrowth},
		{"never below the floor", 100, time.Second, minFuel},
		{"never above the ceiling", maxFuel, yieldInterval / 4, maxFuel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := nextFuel(tc.fuel, tc.elapsed); got != tc.want {
				t.Errorf("nextFuel(%d, %s) = %d, want %d", tc.fuel, tc.elapsed, got, tc.want)
			}
		})
	}
}

// TestMemoryPoolResetPaths: over several uses with different pages
// written, only read (the shared zero page) and written again, a pooled
// memory always comes back zero, both where the pool finds resident pages
// with PAGEMAP_SCAN and where it asks mincore.
func TestMemoryPoolResetPaths(t *testing.T) {
	page := os.Getpagesize()
	const pages = 64
	uses := []struct {
		write, read []int // page numbers
	}{
		{write: []int{0, 1, 7}},
		{write: []int{7, 30}, read: []int{12, 13}},
		{write: []int{0, 12}, read: []int{63}},
		{write: []int{2, 3, 4, 5, 6, 63}},
		{},
	}
	for _, scan := range []bool{true, false} {
		t.Run(map[bool]string{true: "pagemap", false: "mincore"}[scan], func(t *testing.T) {
			p := testPool(t)
			if scan && p.pages == nil {
				t.Skip("no PAGEMAP_SCAN or userfaultfd here: the pool uses mincore")
			}
			if !scan {
				p.pages = nil
			}
			var first *byte
			for u, use := range uses {
				lease := &memoryLease{pool: p}
				buf := lease.Allocate(wasmPage, pages*uint64(page)).Reallocate(pages * uint64(page))
				if first == nil {
					first = &buf[0]
				} else if &buf[0] != first {
					t.Fatal("the pool did not hand back the idle memory")
				}
				if i := firstNonZero(buf); i >= 0 {
					t.Fatalf("use %d: byte %d is %#x, want a zeroed memory", u, i, buf[i])
				}
				var sink byte
				for _, pg := range use.read {
					sink += buf[pg*page+17]
				}
				for _, pg := range use.write {
					buf[pg*page+page/2] = byte(u+1) + sink
				}
				lease.release()
			}
		})
	}
}

func firstNonZero(b []byte) int {
	for i, c := range b {
		if c != 0 {
			return i
		}
	}
	return -1
}

// BenchmarkMemoryReset returns a memory written the way a C echo writes
// its 128 KiB (a few pages) and the way a Go command writes 4 MiB (most
// pages) to the pool, with the pool finding the pages to clear by
// PAGEMAP_SCAN and by mincore.
func BenchmarkMemoryReset(b *testing.B) {
	page := os.Getpagesize()
	for _, shape := range []struct {
		name    string
		size    int
		written func(pg int) bool
	}{
		{"echo", 128 << 10, func(pg int) bool { return pg == 0 || pg == 1 || pg >= 13 && pg <= 15 }},
		{"go", 4 << 20, func(pg int) bool { return pg%8 != 7 }},
	} {
		for _, scan := range []bool{true, false} {
			b.Run(shape.name+"/"+map[bool]string{true: "pagemap", false: "mincore"}[scan], func(b *testing.B) {
				p := newMemoryPool()
				if p == nil || scan && p.pages == nil {
					b.Skip("not on this platform")
				}
				defer p.close()
				if !scan {
					p.pages = nil
				}
				var elapsed time.Duration
				for range b.N {
					lease := &memoryLease{pool: p}
					buf := lease.Allocate(wasmPage, uint64(shape.size)).Reallocate(uint64(shape.size))
					for pg := 0; pg*page < len(buf); pg++ {
						if shape.written(pg) {
							buf[pg*page] = 1
						}
					}
					start := time.Now()
					lease.release()
					elapsed += time.Since(start)
				}
				b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N)/1e3, "reset-µs")
			})
		}
	}
}
