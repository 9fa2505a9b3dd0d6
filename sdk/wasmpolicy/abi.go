package wasmpolicy

import (
	"encoding/binary"
	"errors"
	"strings"

	"github.com/gosledge/gosledge/sdk"
)

// ABIVersion is the version of the ABI described in the package
// documentation. A module's gosledge_policy_abi export must return it; any
// incompatible change bumps it.
const ABIVersion = 2

// BufferSize is the size in bytes of the shared buffer a module's
// gosledge_policy_buffer export points at (8-byte aligned).
const BufferSize = 64 << 10

// MaxString is the longest tenant or route name, in bytes, the host sends;
// longer ones are cut (a config's names are far shorter).
const MaxString = 4096

// Export is one function of the ABI a module exports.
type Export int

const (
	ExportABI Export = iota
	ExportBuffer
	ExportHello
	ExportNotify
	ExportGetNext
	ExportOnInterrupt
	ExportWouldPreempt
	ExportAdmit
	ExportShed
	ExportReport
	ExportConfigure
	numExports
)

// Exports lists every export, in order.
func Exports() []Export {
	out := make([]Export, numExports)
	for i := range out {
		out[i] = Export(i)
	}
	return out
}

var exports = [numExports]struct {
	name, sig string
	cap       Caps // the export is required only if the policy has cap (0: always)
}{
	ExportABI:          {"gosledge_policy_abi", "()->i32", 0},
	ExportBuffer:       {"gosledge_policy_buffer", "()->i32", 0},
	ExportHello:        {"gosledge_policy_hello", "()->i32", 0},
	ExportNotify:       {"gosledge_policy_notify", "(i32)->()", 0},
	ExportGetNext:      {"gosledge_policy_get_next", "(i32,i32,i64)->i64", 0},
	ExportOnInterrupt:  {"gosledge_policy_on_interrupt", "(i32,i32,i64)->i32", 0},
	ExportWouldPreempt: {"gosledge_policy_would_preempt", "(i32,i32,i64)->i32", 0},
	ExportAdmit:        {"gosledge_policy_admit", "(i32,i64)->i32", CapAdmitter},
	ExportShed:         {"gosledge_policy_shed", "(i32,i64)->i32", CapShedder},
	ExportReport:       {"gosledge_policy_report", "(i32,i64)->i32", CapReporter},
	ExportConfigure:    {"gosledge_policy_configure", "(i32,i32)->i32", CapConfigurer},
}

// Name is the export's name in the module.
func (e Export) Name() string { return exports[e].name }

// Signature is the export's type, written "(i32,i64)->i32", "(i32)->()".
func (e Export) Signature() string { return exports[e].sig }

// NumParams is how many parameters the export takes.
func (e Export) NumParams() int {
	p := exports[e].sig[1:strings.IndexByte(exports[e].sig, ')')]
	if p == "" {
		return 0
	}
	return strings.Count(p, ",") + 1
}

// Required reports whether a module with capabilities caps must export e.
func (e Export) Required(caps Caps) bool { return exports[e].cap == 0 || caps&exports[e].cap != 0 }

// Caps is the capability mask gosledge_policy_hello returns: which
// optional sdk interfaces the policy implements.
type Caps uint32

const (
	CapCharger Caps = 1 << iota
	CapConfigurer
	CapAdmitter
	CapShedder
	CapReporter
	capAll = CapCharger | CapConfigurer | CapAdmitter | CapShedder | CapReporter
)

// Notification record opcodes: a record's first word.
const (
	OpEnqueue = 1 // why, task: 10 words
	OpDequeue = 2 // id, why: 3 words
	OpCharge  = 3 // used, now, task: 11 words
	OpString  = 4 // symbol, length, bytes padded to 8: 3 words + bytes
)

// TaskWords is the size of a task in the buffer, in 8-byte words: ID,
// tenant symbol, route symbol, arrival, deadline, expected, ran, class.
const TaskWords = 8

// Record sizes in bytes.
const (
	enqueueSize = 8 * (2 + TaskWords)
	dequeueSize = 8 * 3
	chargeSize  = 8 * (3 + TaskWords)
	taskSize    = 8 * TaskWords
)

// stringSize is the size of an OpString record for a string of n bytes.
func stringSize(n int) int { return 8*3 + pad8(n) }

func pad8(n int) int { return (n + 7) &^ 7 }

// putWord and word access the buffer as little-endian 64-bit words, as a
// Wasm guest sees it.
func putWord(b []byte, off int, v uint64) { binary.LittleEndian.PutUint64(b[off:], v) }
func word(b []byte, off int) uint64       { return binary.LittleEndian.Uint64(b[off:]) }

// putBytes and getBytes pack and unpack a string in words, low byte first:
// the same bytes a guest finds in its memory, whatever the host's
// endianness.
func putBytes(w []uint64, s string) {
	for i := 0; i < len(s); i += 8 {
		var v uint64
		for k := 0; k < 8 && i+k < len(s); k++ {
			v |= uint64(s[i+k]) << (8 * k)
		}
		w[i/8] = v
	}
}

func getBytes(w []uint64, n int) []byte {
	b := make([]byte, n)
	for k := range b {
		b[k] = byte(w[k/8] >> (8 * (k % 8)))
	}
	return b
}

// putErrors writes Configure's errors at the start of w, each as a word
// of lengths (tenant | key << 16 | message << 32) and then the three
// strings' bytes, padded to 8; an error that is not an *sdk.OptionError
// has an empty key. It returns how many it wrote: those that do not fit
// are left out, but the first always fits (its strings are cut).
func putErrors(w []uint64, err error) int {
	var errs []error
	switch x := err.(type) {
	case nil:
		return 0
	case interface{ Unwrap() []error }:
		errs = x.Unwrap()
	default:
		errs = []error{err}
	}
	i, count := 0, 0
	for _, err := range errs {
		var tenant, key, msg string
		if oe := (*sdk.OptionError)(nil); errors.As(err, &oe) {
			tenant, key, msg = oe.Tenant, oe.Key, oe.Err.Error()
		} else {
			msg = err.Error()
		}
		tenant, key, msg = cutTo(tenant, 1<<10), cutTo(key, 1<<10), cut(msg)
		if msg == "" {
			msg = "error"
		}
		size := 1 + pad8(len(tenant)+len(key)+len(msg))/8
		if i+size > len(w) {
			break
		}
		w[i] = uint64(len(tenant)) | uint64(len(key))<<16 | uint64(len(msg))<<32
		putBytes(w[i+1:], tenant+key+msg)
		i += size
		count++
	}
	return count
}

// getErrors reads count errors putErrors wrote in b; ok is false if they
// run past b.
func getErrors(b []byte, count int) (errs []error, ok bool) {
	off := 0
	for range count {
		if off+8 > len(b) {
			return nil, false
		}
		lens := word(b, off)
		lt, lk, lm := int(lens&0xffff), int(lens>>16&0xffff), int(lens>>32)
		end := off + 8 + lt + lk + lm
		if lm > MaxString || end > len(b) {
			return nil, false
		}
		s := string(b[off+8 : end])
		tenant, key, msg := s[:lt], s[lt:lt+lk], s[lt+lk:]
		if key == "" {
			errs = append(errs, errors.New(msg))
		} else {
			errs = append(errs, &sdk.OptionError{Tenant: tenant, Key: key, Err: errors.New(msg)})
		}
		off = off + 8 + pad8(lt+lk+lm)
	}
	return errs, true
}

func cutTo(s string, n int) string { return s[:min(len(s), n)] }
