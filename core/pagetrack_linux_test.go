package core

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPageTrackerWithoutUffd: where userfaultfd is refused, the tracker
// still finds a pooled memory's resident pages, so resets stay one ioctl
// and zero the memory, while a reactor's write tracking is refused (it
// copies its whole image instead).
func TestPageTrackerWithoutUffd(t *testing.T) {
	p := testPool(t)
	if p.pages == nil {
		t.Skip("no PAGEMAP_SCAN here: the pool uses mincore")
	}
	if p.pages.writesTracked() {
		unix.Close(p.pages.uffd) // as if refused
		p.pages.uffd = -1
	}
	page := os.Getpagesize()
	var first *byte
	for use := range 3 {
		lease := &memoryLease{pool: p}
		buf := lease.Allocate(wasmPage, 16*uint64(page)).Reallocate(16 * uint64(page))
		if first == nil {
			first = &buf[0]
		} else if &buf[0] != first {
			t.Fatal("the pool did not hand back the idle memory")
		}
		if i := firstNonZero(buf); i >= 0 {
			t.Fatalf("use %d: byte %d is %#x, want a zeroed memory", use, i, buf[i])
		}
		runs := 0
		if err := p.pages.resident(buf, func(int, int, bool) { runs++ }); err != nil {
			t.Fatalf("use %d: %v", use, err)
		}
		buf[(use+1)*page] = 0xAB
		buf[len(buf)-1] = 0xCD
		if _, err := newWriteTracker(p.pages, buf); err == nil {
			t.Fatal("write tracking without a userfaultfd")
		}
		lease.release()
	}
}
