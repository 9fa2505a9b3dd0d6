//go:build wasip1

package wasmpolicy

import "unsafe"

// buffer is the shared buffer: a global, so the collector never moves it
// and its address is fixed for the module's life.
var buffer [BufferSize / 8]uint64

func guestBuffer() []uint64 { return buffer[:] }

// The ABI's exports; see the package documentation. A call before Serve
// finds served nil: hello says so, the others trap.

//go:wasmexport gosledge_policy_abi
func exportABI() int32 { return ABIVersion }

//go:wasmexport gosledge_policy_buffer
func exportBuffer() uint32 { return uint32(uintptr(unsafe.Pointer(&buffer[0]))) }

//go:wasmexport gosledge_policy_hello
func exportHello() int32 {
	if served == nil {
		return -1
	}
	return served.hello()
}

//go:wasmexport gosledge_policy_notify
func exportNotify(n int32) { served.apply(n) }

//go:wasmexport gosledge_policy_get_next
func exportGetNext(n, w int32, now int64) int64 { return served.getNext(n, w, now) }

//go:wasmexport gosledge_policy_on_interrupt
func exportOnInterrupt(n, w int32, now int64) int32 { return served.onInterrupt(n, w, now) }

//go:wasmexport gosledge_policy_would_preempt
func exportWouldPreempt(n, w int32, now int64) int32 { return served.wouldPreempt(n, w, now) }

//go:wasmexport gosledge_policy_admit
func exportAdmit(n int32, now int64) int32 { return served.admit(n, now) }

//go:wasmexport gosledge_policy_shed
func exportShed(n int32, now int64) int32 { return served.shed(n, now) }

//go:wasmexport gosledge_policy_report
func exportReport(n int32, now int64) int32 { return served.report(n, now) }

//go:wasmexport gosledge_policy_configure
func exportConfigure(n, workers int32) int32 { return served.configure(n, workers) }
