package core

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

func newMemoryPool() *memoryPool { return &memoryPool{idle: map[uint64][]*linearMemory{}} }

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

// resetRegion makes b read as zeroes again. keep clears the pages that are
// resident (the ones the guest touched) in place and leaves the others,
// which already read as zero, untouched: clearing those would fault them
// in only to zero them twice. Without keep, every page goes back to the
// kernel: on Linux a private anonymous page reads as zero after
// MADV_DONTNEED. b is whole Wasm pages, so it is page-aligned.
func resetRegion(b []byte, keep bool) error {
	if len(b) == 0 {
		return nil
	}
	page := unix.Getpagesize()
	var buf [keepLimit / 4096]byte
	n := len(b) / page
	if !keep || n > len(buf) {
		return unix.Madvise(b, unix.MADV_DONTNEED)
	}
	vec := buf[:n]
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		return unix.Madvise(b, unix.MADV_DONTNEED)
	}
	// Runs of pages with the same residency: resident ones are cleared;
	// the others are zero unless swapped out, which MADV_DONTNEED also
	// discards.
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
