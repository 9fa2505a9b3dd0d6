//go:build !linux

package core

import "errors"

// Without userfaultfd and PAGEMAP_SCAN a reactor restores an instance by
// copying its whole snapshot image (snapshot_linux.go tracks writes).

type writeTracker struct{}

func newWriteTracker([]byte) (*writeTracker, error)  { return nil, errors.ErrUnsupported }
func (*writeTracker) written(func(lo, hi int)) error { return errors.ErrUnsupported }
func (*writeTracker) close()                         {}
