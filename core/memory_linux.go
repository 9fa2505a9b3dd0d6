package core

import (
	"fmt"

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

// discardRegion gives b's pages back to the kernel; on Linux a private
// anonymous page reads as zero after MADV_DONTNEED.
func discardRegion(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	return unix.Madvise(b, unix.MADV_DONTNEED) // b is whole Wasm pages: page-aligned
}

func releaseRegion(b []byte) { _ = unix.Munmap(b) }
