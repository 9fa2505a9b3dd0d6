//go:build !wasip1

package wasmpolicy

// guestBuffer is the shared buffer of a dispatcher run outside Wasm (the
// in-process tests of the ABI).
func guestBuffer() []uint64 { return make([]uint64, BufferSize/8) }
