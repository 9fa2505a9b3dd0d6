package instrument

import "encoding/binary"

// Memory is what HostWait needs of a linear memory; wazero's api.Memory
// has it.
type Memory interface {
	Size() uint32
	Read(offset, byteCount uint32) ([]byte, bool)
}

// Results of a wait import. 0 ("ok", woken by a notify) never occurs: a
// sandbox is one agent, so nobody can notify it.
const (
	WaitNotEqual = 1
	WaitTimedOut = 2
)

// HostWait is the engine-independent part of the host side of a wait
// import (see rewriteWait): stack holds the call's parameters (addr,
// expected, timeout, offset) and receives its results (result, addr), as
// wazero passes them; size is 4 for wait32 and 8 for wait64. If the value
// at addr+offset differs from expected, it returns WaitNotEqual at once.
// Otherwise sleep is called with the timeout in nanoseconds, unless it is
// 0; a negative one means until the host ends the wait, which it does by
// not returning (in wazero: panicking with a sys.ExitError). When the
// access is out of bounds or unaligned, HostWait neither reads nor calls
// sleep: the guest's load that follows the call traps.
func HostWait(stack []uint64, size uint32, mem Memory, sleep func(timeout int64)) {
	addr, expected, timeout := uint32(stack[0]), stack[1], int64(stack[2])
	ea := uint64(addr) + uint64(uint32(stack[3]))
	stack[0], stack[1] = 0, uint64(addr)
	if ea%uint64(size) != 0 || ea+uint64(size) > uint64(mem.Size()) {
		return
	}
	b, _ := mem.Read(uint32(ea), size)
	var cur uint64
	if size == 4 {
		cur, expected = uint64(binary.LittleEndian.Uint32(b)), uint64(uint32(expected))
	} else {
		cur = binary.LittleEndian.Uint64(b)
	}
	if cur != expected {
		stack[0] = WaitNotEqual
		return
	}
	if timeout != 0 {
		sleep(timeout)
	}
	stack[0] = WaitTimedOut
}
