package core

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newMemoryPool makes the pool, with a page tracker where the kernel
// allows (pagetrack_linux.go); without, resets use mincore.
func newMemoryPool() *memoryPool {
	p := &memoryPool{idle: map[uint64][]*linearMemory{}}
	if t, err := newPageTracker(); err == nil {
		p.pages = t
	}
	return p
}

// reserveRegion maps n bytes of address space without committing memory:
// MAP_NORESERVE so a 64 MiB limit per in-flight sandbox costs address
// space, not swap accounting; no huge pages, so a guest that touches
// 128 KiB makes 128 KiB resident, not 2 MiB.
func reserveRegion(n uint64) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, int(n), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("reserve %d bytes of linear memory: %w", n, err)
	}
	_ = unix.Madvise(b, unix.MADV_NOHUGEPAGE) // advisory; THP may be off
	return b, nil
}

// reset makes m's first m.touched bytes read as zeroes again. keep keeps
// the pages the guest touched resident, cleared in place; without keep,
// every page goes back to the kernel: a private anonymous page reads as
// zero after MADV_DONTNEED. The region is whole Wasm pages, page-aligned.
func (p *memoryPool) reset(m *linearMemory, keep bool) error {
	b := m.region[:m.touched]
	if len(b) == 0 {
		return nil
	}
	if !keep {
		return unix.Madvise(b, unix.MADV_DONTNEED)
	}
	if p.pages == nil {
		return resetResident(b)
	}
	// A run's pages are all resident or all swapped out (the scan splits
	// runs where the categories change).
	var discardErr error
	err := p.pages.resident(b, func(lo, hi int, swapped bool) {
		if !swapped {
			clear(b[lo:hi])
		} else if err := unix.Madvise(b[lo:hi], unix.MADV_DONTNEED); err != nil {
			discardErr = err
		}
	})
	return errors.Join(err, discardErr)
}

// resetResident clears the pages mincore reports resident (the ones the
// guest touched) in place and leaves the others, which already read as
// zero, untouched: clearing those would fault them in only to zero them
// twice. A page that is not resident may be swapped out: it is discarded.
func resetResident(b []byte) error {
	page := unix.Getpagesize()
	var buf [keepLimit / 4096]byte
	n := len(b) / page
	if n > len(buf) {
		return unix.Madvise(b, unix.MADV_DONTNEED)
	}
	vec := buf[:n]
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		return unix.Madvise(b, unix.MADV_DONTNEED)
	}
	for i := 0; i < n; {
		j, resident := i, vec[i]&1 != 0
		for j < n && (vec[j]&1 != 0) == resident {
			j++
		}
		run := b[i*page : j*page]
		if resident {
			clear(run)
		} else if err := unix.Madvise(run, unix.MADV_DONTNEED); err != nil {
			return err
		}
		i = j
	}
	return nil
}

func releaseRegion(b []byte) { _ = unix.Munmap(b) }
