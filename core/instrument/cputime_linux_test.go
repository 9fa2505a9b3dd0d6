package instrument

import (
	"syscall"
	"time"
	"unsafe"
)

// threadTime is the CPU time of the calling OS thread: on a shared machine
// it leaves out the time the thread waited for a core, which wall time does
// not. Callers lock the goroutine to its thread.
func threadTime() time.Duration {
	const clockThreadCPUTimeID = 3
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		panic(errno)
	}
	return time.Duration(ts.Nano())
}
