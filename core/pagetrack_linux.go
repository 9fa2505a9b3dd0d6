package core

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A reactor instance's memory is write-tracked so that restoring it costs
// what its request wrote, not the image's size: a Go echo writes 20 of the
// 720 pages of its 2.9 MB image, and copying all of it back cost ~125 µs a
// request. The memory is registered with the pool's userfaultfd in
// asynchronous write-protect mode (UFFD_FEATURE_WP_ASYNC, Linux 6.7): a
// write to a protected page is resolved by the kernel itself, which only
// marks the page written (no handler thread, no signal, and the kernel's
// own writes into the memory are caught too). After the request, the
// PAGEMAP_SCAN ioctl on /proc/self/pagemap returns the written pages and
// protects them again in the same call, and only those are copied back
// from the image (RATIONALE, "Reactor routes").
//
// The pool uses the same scan, without write protection, to find the
// pages of a returned memory that are resident (to clear) or swapped (to
// discard) in one call, where mincore and a madvise per run of absent
// pages took two or more. Write tracking for every pooled memory was
// measured and rejected: a command writes most of the pages it touches,
// and a fault per page cost more than clearing them (RATIONALE, "A
// request's fixed cost"). Where PAGEMAP_SCAN is missing (before Linux 6.7)
// the pool falls back to mincore; where userfaultfd is refused too (Docker's
// default seccomp profile) the reactor copies its whole image.

// Linux UAPI (linux/userfaultfd.h, linux/fs.h).
const (
	uffdUserModeOnly   = 1
	uffdAPI            = 0xaa
	uffdFeatureWPUnpop = 1 << 13
	uffdFeatureWPAsync = 1 << 15
	uffdioAPI          = 0xc018aa3f // _IOWR(0xaa, 0x3f, struct uffdio_api)
	uffdioRegister     = 0xc020aa00 // _IOWR(0xaa, 0x00, struct uffdio_register)
	uffdioUnregister   = 0x8010aa01 // _IOR(0xaa, 0x01, struct uffdio_range)
	uffdioWriteProtect = 0xc018aa06 // _IOWR(0xaa, 0x06, struct uffdio_writeprotect)
	uffdRegisterModeWP = 1 << 1
	uffdWriteProtectWP = 1 << 0
	pagemapScan        = 0xc0606610 // _IOWR('f', 16, struct pm_scan_arg)
	pmScanWPMatching   = 1 << 0
	pmScanCheckWPAsync = 1 << 1
	pageIsWritten      = 1 << 1
	pageIsPresent      = 1 << 3
	pageIsSwapped      = 1 << 4
	pageIsPFNZero      = 1 << 5
	pageTrackerRegions = 256
	pmScanArgBytes     = 96 // sizeof(struct pm_scan_arg)
)

// pmScanArg is struct pm_scan_arg.
type pmScanArg struct {
	size, flags, start, end, walkEnd, vec, vecLen, maxPages       uint64
	categoryInverted, categoryMask, categoryAnyofMask, returnMask uint64
}

// pageRegion is struct page_region.
type pageRegion struct{ start, end, categories uint64 }

// pageTracker is the pool's pagemap and userfaultfd (-1 where refused):
// one of each for every memory it tracks. Its methods are safe for
// concurrent use on distinct memories (the scan buffer is per call);
// after close they fail, never reaching a descriptor number the process
// may have reused.
type pageTracker struct {
	uffd, pagemap int
	mu            sync.RWMutex // held for reading across each ioctl
	closed        bool
}

var errTrackerClosed = errors.New("page tracker closed")

// newPageTracker opens the pagemap and proves, on a page of its own, that
// PAGEMAP_SCAN finds resident pages; then the userfaultfd, and proves that
// registering, protecting and scanning for writes work. Without the first
// there is no tracker; without the second (Docker's default seccomp
// profile refuses userfaultfd) the tracker finds resident pages only, and
// writesTracked says so.
func newPageTracker() (*pageTracker, error) {
	pm, err := unix.Open("/proc/self/pagemap", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open pagemap: %w", err)
	}
	t := &pageTracker{uffd: -1, pagemap: pm}
	probe, err := unix.Mmap(-1, 0, unix.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.close()
		return nil, fmt.Errorf("map a probe page: %w", err)
	}
	defer unix.Munmap(probe)
	probe[0] = 1
	n := 0
	err = t.resident(probe, func(lo, hi int, swapped bool) { n++ })
	if err == nil && n != 1 {
		err = fmt.Errorf("PAGEMAP_SCAN reports %d runs of a resident page", n)
	}
	if err != nil {
		t.close()
		return nil, err
	}
	if uffd, err := t.openUffd(probe); err == nil {
		t.uffd = uffd
	}
	return t, nil
}

// openUffd opens a userfaultfd in asynchronous write-protect mode and
// proves it on probe, a resident page. t.uffd is still -1.
func (t *pageTracker) openUffd(probe []byte) (int, error) {
	uffd, _, errno := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|unix.O_NONBLOCK|uffdUserModeOnly, 0, 0)
	if errno != 0 {
		return -1, fmt.Errorf("userfaultfd: %w", errno)
	}
	fd := int(uffd)
	api := [3]uint64{uffdAPI, uffdFeatureWPAsync | uffdFeatureWPUnpop, 0}
	err := ioctl(fd, uffdioAPI, unsafe.Pointer(&api), "UFFDIO_API")
	if err == nil {
		t.uffd = fd // for the probe's calls
		err = t.register(probe)
		if err == nil {
			err = t.protect(probe, true)
			if err == nil {
				n := 0
				err = t.written(probe, false, func(int, int) { n++ })
				if err == nil && n != 0 {
					err = fmt.Errorf("PAGEMAP_SCAN reports a protected page written")
				}
			}
			if uerr := t.unregister(probe); err == nil {
				err = uerr
			}
		}
		t.uffd = -1
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// writesTracked reports whether t can track writes (a reactor's restore),
// not only find resident pages.
func (t *pageTracker) writesTracked() bool { return t.uffd >= 0 }

func ioctl(fd int, req uintptr, arg unsafe.Pointer, name string) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg)); errno != 0 {
		return fmt.Errorf("%s: %w", name, errno)
	}
	return nil
}

func span(b []byte) (addr, size uint64) {
	return uint64(uintptr(unsafe.Pointer(&b[0]))), uint64(len(b))
}

// register starts tracking writes to b (whole pages). Nothing is protected
// yet: a page written before its first protection is reported written.
func (t *pageTracker) register(b []byte) error { return t.uffdRange(b, true) }

// unregister stops tracking b and lifts its protection.
func (t *pageTracker) unregister(b []byte) error { return t.uffdRange(b, false) }

func (t *pageTracker) uffdRange(b []byte, on bool) error {
	addr, size := span(b)
	if !on {
		rng := [2]uint64{addr, size}
		return t.ioctl(t.uffd, uffdioUnregister, unsafe.Pointer(&rng), "UFFDIO_UNREGISTER")
	}
	reg := [4]uint64{addr, size, uffdRegisterModeWP, 0}
	return t.ioctl(t.uffd, uffdioRegister, unsafe.Pointer(&reg), "UFFDIO_REGISTER")
}

// ioctl is one ioctl on one of t's descriptors, refused once t is closed.
func (t *pageTracker) ioctl(fd int, req uintptr, arg unsafe.Pointer, name string) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return errTrackerClosed
	}
	return ioctl(fd, req, arg, name)
}

// protect write-protects b's pages (on) or lifts the protection, so that
// every present page of b is reported written.
func (t *pageTracker) protect(b []byte, on bool) error {
	if len(b) == 0 {
		return nil
	}
	addr, size := span(b)
	mode := uint64(0)
	if on {
		mode = uffdWriteProtectWP
	}
	wp := [3]uint64{addr, size, mode}
	return t.ioctl(t.uffd, uffdioWriteProtect, unsafe.Pointer(&wp), "UFFDIO_WRITEPROTECT")
}

// written calls f with each run [lo, hi) of b's bytes written since they
// were last protected; protect protects them again in the same walk.
func (t *pageTracker) written(b []byte, protect bool, f func(lo, hi int)) error {
	flags := uint64(0)
	if protect {
		flags = pmScanWPMatching | pmScanCheckWPAsync
	}
	return t.scan(b, flags, pageIsWritten, 0, pageIsWritten, func(lo, hi int, _ uint64) { f(lo, hi) })
}

// resident calls f with each run [lo, hi) of b's bytes that may hold data:
// resident pages, or swapped out ones. A page mapped to the shared zero
// page (only ever read) reads as zero, so it is not reported.
func (t *pageTracker) resident(b []byte, f func(lo, hi int, swapped bool)) error {
	return t.scan(b, 0, 0, pageIsPresent|pageIsSwapped, pageIsPresent|pageIsSwapped|pageIsPFNZero, func(lo, hi int, c uint64) {
		if c&pageIsPFNZero == 0 {
			f(lo, hi, c&pageIsSwapped != 0)
		}
	})
}

// scan runs PAGEMAP_SCAN over b: pages in every category of all and in
// one of any, as runs with their categories of ret (a run ends where
// those change).
func (t *pageTracker) scan(b []byte, flags, all, any, ret uint64, f func(lo, hi int, categories uint64)) error {
	if len(b) == 0 {
		return nil
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return errTrackerClosed
	}
	var regions [pageTrackerRegions]pageRegion
	addr, size := span(b)
	for start := addr; start < addr+size; {
		a := pmScanArg{
			size: pmScanArgBytes, flags: flags,
			start: start, end: addr + size,
			vec: uint64(uintptr(unsafe.Pointer(&regions[0]))), vecLen: uint64(len(regions)),
			categoryMask: all, categoryAnyofMask: any, returnMask: ret,
		}
		n, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(t.pagemap), pagemapScan, uintptr(unsafe.Pointer(&a)))
		if errno != 0 {
			return fmt.Errorf("PAGEMAP_SCAN: %w", errno)
		}
		for _, r := range regions[:n] {
			f(int(r.start-addr), int(r.end-addr), r.categories)
		}
		if a.walkEnd <= start {
			return fmt.Errorf("PAGEMAP_SCAN made no progress at %#x", start)
		}
		start = a.walkEnd
	}
	return nil
}

func (t *pageTracker) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.closed = true
	unix.Close(t.pagemap)
	if t.uffd >= 0 {
		unix.Close(t.uffd)
	}
}

// writeTracker finds the pages of one reactor instance's memory written
// since the last scan.
type writeTracker struct {
	pages *pageTracker
	mem   []byte
}

// newWriteTracker write-protects mem (whole pages, not moving: a pooled
// reservation) and tracks writes to it. pages is nil where the pool has
// no tracker.
func newWriteTracker(pages *pageTracker, mem []byte) (*writeTracker, error) {
	if pages == nil || !pages.writesTracked() {
		return nil, fmt.Errorf("no write tracking: %w", errors.ErrUnsupported)
	}
	if len(mem) == 0 || len(mem)%unix.Getpagesize() != 0 {
		return nil, fmt.Errorf("memory of %d bytes is not whole pages", len(mem))
	}
	if err := pages.register(mem); err != nil {
		return nil, err
	}
	if err := pages.protect(mem, true); err != nil {
		_ = pages.unregister(mem)
		return nil, err
	}
	return &writeTracker{pages: pages, mem: mem}, nil
}

// written calls f with each run [lo, hi) of bytes of the memory written
// since the last call, and protects them again.
func (t *writeTracker) written(f func(lo, hi int)) error {
	return t.pages.written(t.mem, true, f)
}

// close stops tracking: the memory is an ordinary one again, fit for the
// pool (whose reset clears every resident page, written or not).
func (t *writeTracker) close() { _ = t.pages.unregister(t.mem) }
