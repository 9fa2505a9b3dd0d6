package plugin

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gosledge/gosledge/sdk"
)

// The frames of protocol version 3, the same on the socket link and the
// gRPC Session fallback. Little-endian, fixed layout:
//
//	frame   = len u32 (bytes after it) | seq u32 | body
//	request = event* (notifications, then at most one call, last)
//	reply   = status u8 (0 ok, 1 fault) | fault: str | ok: the call's answer
//	str     = len u32 | bytes
//	task    = id u64 | arrival i64 | deadline i64 | expected i64 | ran i64 |
//	          class u8 | tenant str | route str
//
// Events, by op (u8):
//
//	1  Enqueue       task | reason u8
//	2  Dequeue       id u64 | reason u8
//	3  Charge        used i64 | now i64 | task
//	10 GetNext       now i64 | worker i32              -> ok u8 | id u64
//	11 OnInterrupt   now i64 | worker i32 | task       -> ok u8
//	12 WouldPreempt  now i64 | worker i32 | task task  -> ok u8
//	13 Admit         now i64 | task                    -> ok u8 | class u8
//	14 Shed          now i64                           -> n u32 | id u64 * n
//	15 Report        now i64                           -> n u32 | (name str | tenant str | value f64) * n
//	16 Configure     now i64 | workers i32 | options str | n u32 | (name str | options str) * n
//	                                                   -> n u32 | (tenant str | key str | message str) * n
//
// Every call starts with now, the host's clock (for Configure, the latest
// the host had: the sdk does not pass it one). Configure's answer is its
// errors, none for success; key is "" for one that is not an
// sdk.OptionError.
// A request with a call gets exactly one reply, with its seq; one without
// (seq 0, notifications only) gets none unless the plugin faults on it.
// After a fault reply the plugin answers nothing more.

// op is an event's kind on the wire.
type op uint8

const (
	opNone op = 0 // no call: notifications sent on their own

	opEnqueue op = 1
	opDequeue op = 2
	opCharge  op = 3

	opGetNext      op = 10
	opOnInterrupt  op = 11
	opWouldPreempt op = 12
	opAdmit        op = 13
	opShed         op = 14
	opReport       op = 15
	opConfigure    op = 16
)

var opNames = map[op]string{
	opEnqueue: "Enqueue", opDequeue: "Dequeue", opCharge: "Charge",
	opGetNext: "GetNext", opOnInterrupt: "OnInterrupt", opWouldPreempt: "WouldPreempt",
	opAdmit: "Admit", opShed: "Shed", opReport: "Report", opConfigure: "Configure",
}

// String is the sdk method an op stands for.
func (o op) String() string {
	if n, ok := opNames[o]; ok {
		return n
	}
	return fmt.Sprintf("op %d", uint8(o))
}

const (
	headerLen = 8 // len u32, seq u32
	// maxFrame bounds a frame's announced length, so that a corrupt
	// prefix is a protocol error rather than a huge allocation.
	maxFrame = 64 << 20

	statusOK    = 0
	statusFault = 1
)

var errFrameTooLarge = errors.New("frame too large")

// enc appends to a frame. The header is reserved by start and filled by
// finish, so events are encoded in place as they come.
type enc struct{ b []byte }

func (e *enc) start()      { e.b = append(e.b[:0], make([]byte, headerLen)...) }
func (e *enc) empty() bool { return len(e.b) <= headerLen }

// finish fills the header and returns the frame.
func (e *enc) finish(seq uint32) []byte {
	binary.LittleEndian.PutUint32(e.b[0:], uint32(len(e.b)-4))
	binary.LittleEndian.PutUint32(e.b[4:], seq)
	return e.b
}

func (e *enc) u8(v uint8)   { e.b = append(e.b, v) }
func (e *enc) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *enc) i64(v int64)  { e.u64(uint64(v)) }
func (e *enc) f64(v float64) {
	e.u64(math.Float64bits(v))
}
func (e *enc) bool(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}
func (e *enc) str(s string) {
	e.u32(uint32(len(s)))
	e.b = append(e.b, s...)
}

func (e *enc) task(t sdk.Task) {
	e.u64(uint64(t.ID))
	e.i64(int64(t.Arrival))
	e.i64(int64(t.Deadline))
	e.i64(int64(t.Expected))
	e.i64(int64(t.Ran))
	e.u8(uint8(t.Class))
	e.str(t.Tenant)
	e.str(t.Route)
}

// dec reads a frame's body. Reading past the end yields zeros and sets
// bad, checked once at the end of an event rather than at every field.
type dec struct {
	b   []byte
	bad bool
	// strs interns tenant and route names (plugin side), so a task costs
	// no allocation once its names have been seen; nil: no interning.
	strs map[string]string
}

// maxInterned bounds strs: names come from the config, so a table that
// grows past this is emptied rather than kept.
const maxInterned = 4096

func (d *dec) more() bool { return len(d.b) > 0 && !d.bad }

func (d *dec) take(n int) []byte {
	if d.bad || n < 0 || n > len(d.b) {
		d.bad = true
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *dec) u8() uint8 {
	if p := d.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *dec) u32() uint32 {
	if p := d.take(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (d *dec) u64() uint64 {
	if p := d.take(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

func (d *dec) i64() int64         { return int64(d.u64()) }
func (d *dec) dur() time.Duration { return time.Duration(d.u64()) }
func (d *dec) f64() float64       { return math.Float64frombits(d.u64()) }
func (d *dec) bool() bool         { return d.u8() != 0 }

func (d *dec) str() string {
	p := d.take(int(d.u32()))
	if len(p) == 0 {
		return ""
	}
	if d.strs == nil {
		return string(p)
	}
	if s, ok := d.strs[string(p)]; ok { // no allocation on a hit
		return s
	}
	if len(d.strs) >= maxInterned {
		clear(d.strs)
	}
	s := string(p)
	d.strs[s] = s
	return s
}

func (d *dec) task() sdk.Task {
	return sdk.Task{
		ID:       sdk.TaskID(d.u64()),
		Arrival:  d.dur(),
		Deadline: d.dur(),
		Expected: d.dur(),
		Ran:      d.dur(),
		Class:    sdk.Class(d.u8()),
		Tenant:   d.str(),
		Route:    d.str(),
	}
}

// frameBuf accumulates bytes read from a stream and cuts them into frames.
type frameBuf struct {
	b    []byte
	r, w int // b[r:w] holds bytes read and not yet returned
}

// next returns the next whole frame in the buffer (header included), or
// nil if more bytes are needed; need is then how many at least.
func (f *frameBuf) next() (frame []byte, need int, err error) {
	avail := f.w - f.r
	if avail < headerLen {
		return nil, headerLen - avail, nil
	}
	n := int(binary.LittleEndian.Uint32(f.b[f.r:])) + 4
	if n < headerLen || n > maxFrame {
		return nil, 0, fmt.Errorf("%w: %d bytes announced", errFrameTooLarge, n)
	}
	if avail < n {
		return nil, n - avail, nil
	}
	frame = f.b[f.r : f.r+n]
	f.r += n
	return frame, 0, nil
}

// space returns room for at least need more bytes, moving unread bytes to
// the front when the buffer was drained.
func (f *frameBuf) space(need int) []byte {
	if f.r == f.w {
		f.r, f.w = 0, 0
	}
	if len(f.b)-f.w < need {
		if f.r > 0 {
			f.w = copy(f.b, f.b[f.r:f.w])
			f.r = 0
		}
		if len(f.b)-f.w < need {
			nb := make([]byte, max(2*len(f.b), f.w+need, 64<<10))
			copy(nb, f.b[:f.w])
			f.b = nb
		}
	}
	return f.b[f.w:]
}

// parseFrame splits a frame into its seq and body.
func parseFrame(frame []byte) (seq uint32, body []byte) {
	return binary.LittleEndian.Uint32(frame[4:]), frame[headerLen:]
}
