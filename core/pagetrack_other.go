//go:build !linux

package core

import "errors"

// Without userfaultfd and PAGEMAP_SCAN there is no pool (memory_other.go)
// and a reactor restores an instance by copying its whole snapshot image
// (pagetrack_linux.go tracks writes).

type pageTracker struct{}

type writeTracker struct{}

func newWriteTracker(*pageTracker, []byte) (*writeTracker, error) {
	return nil, errors.ErrUnsupported
}
func (*writeTracker) written(func(lo, hi int)) error { return errors.ErrUnsupported }
func (*writeTracker) close()                         {}

func (*pageTracker) resident([]byte, func(lo, hi int, swapped bool)) error {
	return errors.ErrUnsupported
}
func (*pageTracker) close() {}
