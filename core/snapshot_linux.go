package core

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A reactor instance's memory is write-tracked so that restoring it costs
// what its request wrote, not the image's size: a Go echo writes 20 of the
// 720 pages of its 2.9 MB image, and copying all of it back cost ~125 µs a
// request. The memory is registered with a userfaultfd in asynchronous
// write-protect mode (UFFD_FEATURE_WP_ASYNC, Linux 6.7): a write to a
// protected page is resolved by the kernel itself, which only marks the
// page written (no handler thread, no signal, and it works for the
// kernel's own writes into the memory too). After the request, the
// PAGEMAP_SCAN ioctl on /proc/self/pagemap returns the written pages and
// protects them again in the same call, and only those are copied back
// from the image (RATIONALE, "Reactor routes"). Where any of it is
// missing (an older kernel, a seccomp filter that refuses userfaultfd),
// the reactor copies the whole image instead.

// Linux UAPI (linux/userfaultfd.h, linux/fs.h).
const (
	uffdUserModeOnly     = 1
	uffdAPI              = 0xaa
	uffdFeatureWPUnpop   = 1 << 13
	uffdFeatureWPAsync   = 1 << 15
	uffdioAPI            = 0xc018aa3f // _IOWR(0xaa, 0x3f, struct uffdio_api)
	uffdioRegister       = 0xc020aa00 // _IOWR(0xaa, 0x00, struct uffdio_register)
	uffdioUnregister     = 0x8010aa01 // _IOR(0xaa, 0x01, struct uffdio_range)
	uffdioWriteProtect   = 0xc018aa06 // _IOWR(0xaa, 0x06, struct uffdio_writeprotect)
	uffdRegisterModeWP   = 1 << 1
	uffdWriteProtectWP   = 1 << 0
	pagemapScan          = 0xc0606610 // _IOWR('f', 16, struct pm_scan_arg)
	pmScanWPMatching     = 1 << 0
	pmScanCheckWPAsync   = 1 << 1
	pageIsWritten        = 1 << 1
	writeTrackerRegions  = 256
	writeTrackerArgBytes = 96 // sizeof(struct pm_scan_arg)
)

// pmScanArg is struct pm_scan_arg.
type pmScanArg struct {
	size, flags, start, end, walkEnd, vec, vecLen, maxPages       uint64
	categoryInverted, categoryMask, categoryAnyofMask, returnMask uint64
}

// pageRegion is struct page_region.
type pageRegion struct{ start, end, categories uint64 }

// writeTracker finds the pages of one memory written since the last scan.
type writeTracker struct {
	uffd, pagemap int
	mem           []byte
	regions       []pageRegion
}

// newWriteTracker write-protects mem (whole pages, not moving: a pooled
// reservation) and tracks writes to it.
func newWriteTracker(mem []byte) (*writeTracker, error) {
	if len(mem) == 0 || len(mem)%unix.Getpagesize() != 0 {
		return nil, fmt.Errorf("memory of %d bytes is not whole pages", len(mem))
	}
	uffd, _, errno := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|unix.O_NONBLOCK|uffdUserModeOnly, 0, 0)
	if errno != 0 {
		return nil, fmt.Errorf("userfaultfd: %w", errno)
	}
	t := &writeTracker{uffd: int(uffd), pagemap: -1, mem: mem, regions: make([]pageRegion, writeTrackerRegions)}
	addr, size := t.span()
	api := [3]uint64{uffdAPI, uffdFeatureWPAsync | uffdFeatureWPUnpop, 0}
	if err := t.ioctl(t.uffd, uffdioAPI, unsafe.Pointer(&api), "UFFDIO_API"); err != nil {
		unix.Close(t.uffd)
		return nil, err
	}
	reg := [4]uint64{addr, size, uffdRegisterModeWP, 0}
	if err := t.ioctl(t.uffd, uffdioRegister, unsafe.Pointer(&reg), "UFFDIO_REGISTER"); err != nil {
		unix.Close(t.uffd)
		return nil, err
	}
	fail := func(err error) (*writeTracker, error) {
		t.close()
		return nil, err
	}
	wp := [3]uint64{addr, size, uffdWriteProtectWP}
	if err := t.ioctl(t.uffd, uffdioWriteProtect, unsafe.Pointer(&wp), "UFFDIO_WRITEPROTECT"); err != nil {
		return fail(err)
	}
	pm, err := unix.Open("/proc/self/pagemap", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("open pagemap: %w", err))
	}
	t.pagemap = pm
	// One scan now: a kernel without PAGEMAP_SCAN fails here, not later.
	if err := t.written(func(lo, hi int) {}); err != nil {
		return fail(err)
	}
	return t, nil
}

func (t *writeTracker) span() (addr, size uint64) {
	return uint64(uintptr(unsafe.Pointer(&t.mem[0]))), uint64(len(t.mem))
}

func (t *writeTracker) ioctl(fd int, req uintptr, arg unsafe.Pointer, name string) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg)); errno != 0 {
		return fmt.Errorf("%s: %w", name, errno)
	}
	return nil
}

// written calls f with each run [lo, hi) of bytes of the memory written
// since the last call, and protects them again.
func (t *writeTracker) written(f func(lo, hi int)) error {
	addr, size := t.span()
	for start := addr; start < addr+size; {
		a := pmScanArg{
			size: writeTrackerArgBytes, flags: pmScanWPMatching | pmScanCheckWPAsync,
			start: start, end: addr + size,
			vec: uint64(uintptr(unsafe.Pointer(&t.regions[0]))), vecLen: uint64(len(t.regions)),
			categoryMask: pageIsWritten, returnMask: pageIsWritten,
		}
		n, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(t.pagemap), pagemapScan, uintptr(unsafe.Pointer(&a)))
		if errno != 0 {
			return fmt.Errorf("PAGEMAP_SCAN: %w", errno)
		}
		for _, r := range t.regions[:n] {
			f(int(r.start-addr), int(r.end-addr))
		}
		if a.walkEnd <= start {
			return fmt.Errorf("PAGEMAP_SCAN made no progress at %#x", start)
		}
		start = a.walkEnd
	}
	return nil
}

// close stops tracking: the memory is an ordinary one again, fit for the
// pool.
func (t *writeTracker) close() {
	addr, size := t.span()
	rng := [2]uint64{addr, size}
	_ = t.ioctl(t.uffd, uffdioUnregister, unsafe.Pointer(&rng), "UFFDIO_UNREGISTER")
	unix.Close(t.uffd)
	if t.pagemap >= 0 {
		unix.Close(t.pagemap)
	}
}
