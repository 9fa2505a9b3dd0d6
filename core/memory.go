package core

import (
	"sync"

	"github.com/tetratelabs/wazero/experimental"
)

// Linear memories are recycled, not allocated per request. A fresh 128 KiB
// heap slice per sandbox made the Go GC run hundreds of times a second
// under load; a pooled memory costs one clear of the pages the last guest
// used. Each memory is a reservation of its route's whole memory_limit
// (mapped, not committed: pages cost nothing until touched), so it never
// moves when the guest grows it — which wazero requires of shared
// memories — and a grow is a reslice, never a copy.
//
// Isolation: a memory goes back to the pool only after its instance is
// closed, and is zeroed on the way in, so no byte of one request is ever
// visible to the next (a test proves it). Which pages to zero: those the
// kernel reports resident (pagetrack_linux.go, or mincore).

const (
	// keepLimit: a memory that used at most this much keeps its pages
	// resident for the next sandbox, zeroed in place: a page fault costs
	// more than clearing a page (a Go wasip1 function touches ~2.5 MiB,
	// and refaulting it cost ~0.9 ms a request). A bigger one, or one
	// that would take the idle memories past maxIdleResident, is handed
	// back to the kernel (zero pages on next touch).
	keepLimit = 16 << 20
	// maxIdleResident bounds the resident bytes idle memories keep.
	maxIdleResident = 64 << 20
	// maxIdleMemories bounds the pool; past it, returned memories are
	// unmapped. In-flight sandboxes own theirs and are not counted.
	maxIdleMemories = 64
)

// memoryPool recycles linear memories by reservation size. The zero value
// is not usable; newMemoryPool returns nil where the platform has no
// reservation primitive, and a nil pool leaves wazero its own allocator.
type memoryPool struct {
	mu       sync.Mutex
	idle     map[uint64][]*linearMemory // by reservation, LIFO: the warmest first
	n        int                        // idle memories, and those being reset to be
	resident uint64                     // bytes the idle memories keep resident (at most)
	pages    *pageTracker               // nil: resets ask mincore which pages to clear
}

// linearMemory is one reservation backing one instance's memory at a time.
type linearMemory struct {
	pool    *memoryPool
	region  []byte // the whole reservation
	touched uint64 // the most the guest could touch since the last reset
	kept    uint64 // while idle: the bytes it keeps resident
}

// leasedMemory is what wazero holds: one use of a linearMemory. It, not
// the linearMemory, carries the freed flag, so a late second Free (from
// memoryLease.release) cannot return a memory that another sandbox has
// taken from the pool since.
type leasedMemory struct {
	m     *linearMemory
	freed bool
}

// Reallocate implements experimental.LinearMemory: growing within the
// reservation is a reslice, so the address never changes.
func (l *leasedMemory) Reallocate(size uint64) []byte {
	m := l.m
	if l.freed || size > uint64(len(m.region)) {
		return nil // past the reservation: memory.grow fails in the guest
	}
	m.touched = max(m.touched, size)
	return m.region[:size]
}

// Free implements experimental.LinearMemory. wazero calls it when the
// instance closes; memoryLease makes sure it also happens when wazero
// does not (an instantiation that failed after its memory was built).
func (l *leasedMemory) Free() {
	if l.freed {
		return
	}
	l.freed = true
	l.m.pool.put(l.m)
}

func (p *memoryPool) get(reserve uint64) (*linearMemory, error) {
	p.mu.Lock()
	if list := p.idle[reserve]; len(list) > 0 {
		m := list[len(list)-1]
		p.idle[reserve] = list[:len(list)-1]
		p.n--
		p.resident -= m.kept
		p.mu.Unlock()
		return m, nil
	}
	p.mu.Unlock()
	region, err := reserveRegion(reserve)
	if err != nil {
		return nil, err
	}
	return &linearMemory{pool: p, region: region}, nil
}

// put zeroes m and keeps it for the next sandbox, or unmaps it when the
// pool is full. The slot and the resident budget are taken first, so the
// reset runs without the lock.
func (p *memoryPool) put(m *linearMemory) {
	p.mu.Lock()
	if p.n >= maxIdleMemories {
		p.mu.Unlock()
		releaseRegion(m.region)
		return
	}
	p.n++
	m.kept = 0
	if m.touched <= keepLimit && p.resident+m.touched <= maxIdleResident {
		m.kept = m.touched
		p.resident += m.kept
	}
	p.mu.Unlock()
	if err := p.reset(m, m.kept > 0); err != nil {
		p.mu.Lock()
		p.n--
		p.resident -= m.kept
		p.mu.Unlock()
		releaseRegion(m.region) // cannot guarantee zeroes: never reuse it
		return
	}
	m.touched = 0
	reserve := uint64(len(m.region))
	p.mu.Lock()
	p.idle[reserve] = append(p.idle[reserve], m)
	p.mu.Unlock()
}

// close unmaps every idle memory. Memories still leased are unmapped when
// they come back only if the pool has room, so close the pool last.
func (p *memoryPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, list := range p.idle {
		for _, m := range list {
			releaseRegion(m.region)
		}
		delete(p.idle, k)
	}
	p.n, p.resident = 0, 0
	if p.pages != nil {
		p.pages.close() // memories still leased then fail to reset and are unmapped
	}
}

// memoryLease is a sandbox's allocator: it remembers the memories it handed
// to wazero so that release can return any that wazero did not free.
type memoryLease struct {
	pool *memoryPool
	mems []*leasedMemory
}

var _ experimental.MemoryAllocator = (*memoryLease)(nil)

// Allocate implements experimental.MemoryAllocator. A reservation that
// cannot be made falls back to an ordinary, growing heap slice.
func (l *memoryLease) Allocate(_, maxBytes uint64) experimental.LinearMemory {
	reserve := max(roundUp(maxBytes, wasmPage), wasmPage)
	m, err := l.pool.get(reserve)
	if err != nil {
		return &heapMemory{max: maxBytes}
	}
	lm := &leasedMemory{m: m}
	l.mems = append(l.mems, lm)
	return lm
}

// release returns the lease's memories. Call it only after the instance
// is closed (or was never built): wazero no longer touches them then.
func (l *memoryLease) release() {
	for _, lm := range l.mems {
		lm.Free()
	}
	l.mems = l.mems[:0]
}

// heapMemory is the fallback when no reservation can be made (the address
// space or the map count is exhausted): an ordinary slice, like wazero's
// own allocator, that moves when it grows.
type heapMemory struct {
	buf []byte
	max uint64
}

func (h *heapMemory) Reallocate(size uint64) []byte {
	switch {
	case size > h.max:
		return nil
	case size <= uint64(cap(h.buf)):
		h.buf = h.buf[:size]
	default:
		h.buf = append(h.buf[:cap(h.buf)], make([]byte, size-uint64(cap(h.buf)))...)
	}
	return h.buf
}

func (h *heapMemory) Free() { h.buf = nil }

func roundUp(n, to uint64) uint64 { return (n + to - 1) / to * to }
