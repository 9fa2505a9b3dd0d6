//go:build !linux

package core

import "errors"

// newMemoryPool returns nil: without MADV_DONTNEED's zero-fill guarantee
// the pool could not reset a big memory cheaply, so wazero allocates.
func newMemoryPool() *memoryPool { return nil }

func reserveRegion(uint64) ([]byte, error)          { return nil, errors.ErrUnsupported }
func (*memoryPool) reset(*linearMemory, bool) error { return errors.ErrUnsupported }
func releaseRegion([]byte)                          {}
