//go:build !linux

package instrument

import "time"

var epoch = time.Now()

// threadTime falls back to wall time where the thread's CPU clock is not
// wired up.
func threadTime() time.Duration { return time.Since(epoch) }
