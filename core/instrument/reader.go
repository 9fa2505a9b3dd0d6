package instrument

import (
	"fmt"
	"unicode/utf8"
)

// reader decodes the primitive encodings of the binary format from a byte
// slice. base is the module offset of buf[0] so that errors can name the
// absolute byte offset a user sees in wasm-objdump.
type reader struct {
	buf  []byte
	pos  int
	base int
}

func newReader(buf []byte, base int) *reader { return &reader{buf: buf, base: base} }

// offset is the module offset of the next unread byte.
func (r *reader) offset() int { return r.base + r.pos }

func (r *reader) remaining() int { return len(r.buf) - r.pos }

func (r *reader) done() bool { return r.pos >= len(r.buf) }

// fail builds a positioned error at the current offset.
func (r *reader) fail(kind error, format string, args ...any) error {
	return failAt(r.offset(), kind, format, args...)
}

func (r *reader) truncated(what string) error {
	return r.fail(ErrMalformed, "unexpected end of %s", what)
}

func (r *reader) byte(what string) (byte, error) {
	if r.pos >= len(r.buf) {
		return 0, r.truncated(what)
	}
	b := r.buf[r.pos]
	r.pos++
	return b, nil
}

// bytes returns the next n bytes without copying. n is checked against what
// is left, so a lying length can never trigger a large allocation.
func (r *reader) bytes(n uint64, what string) ([]byte, error) {
	if n > uint64(r.remaining()) {
		return nil, r.fail(ErrMalformed, "%s: length %d exceeds the %d bytes left", what, n, r.remaining())
	}
	b := r.buf[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return b, nil
}

// uleb decodes an unsigned LEB128 of at most bits bits, rejecting encodings
// that are too long or set bits beyond the width, as the spec requires.
func (r *reader) uleb(bits uint, what string) (uint64, error) {
	start := r.offset()
	var v uint64
	var shift uint
	for {
		if r.pos >= len(r.buf) {
			return 0, r.truncated(what)
		}
		b := r.buf[r.pos]
		r.pos++
		if shift+7 >= bits {
			// Last permitted byte: no continuation, no bits past the width.
			if b&0x80 != 0 || uint64(b)>>(bits-shift) != 0 {
				return 0, failAt(start, ErrMalformed, "%s: integer representation too long or too large", what)
			}
			return v | uint64(b)<<shift, nil
		}
		v |= uint64(b&0x7f) << shift
		if b&0x80 == 0 {
			return v, nil
		}
		shift += 7
	}
}

// sleb decodes a signed LEB128 of at most bits bits; unused bits of the last
// byte must be a sign extension.
func (r *reader) sleb(bits uint, what string) (int64, error) {
	start := r.offset()
	var v int64
	var shift uint
	for {
		if r.pos >= len(r.buf) {
			return 0, r.truncated(what)
		}
		b := r.buf[r.pos]
		r.pos++
		if shift+7 >= bits {
			if b&0x80 != 0 {
				return 0, failAt(start, ErrMalformed, "%s: integer representation too long", what)
			}
			// Bits from the sign bit (used-1) up to 6 must all be equal.
			used := bits - shift
			mask := byte(0x7f) &^ (1<<(used-1) - 1)
			if t := b & mask; t != 0 && t != mask {
				return 0, failAt(start, ErrMalformed, "%s: integer too large", what)
			}
		}
		v |= int64(b&0x7f) << shift
		shift += 7
		if b&0x80 == 0 {
			if shift < 64 && b&0x40 != 0 {
				v |= -1 << shift
			}
			return v, nil
		}
	}
}

func (r *reader) u32(what string) (uint32, error) {
	v, err := r.uleb(32, what)
	return uint32(v), err
}

// count reads a vector length and rejects it if even minSize bytes per item
// would not fit in what is left, bounding every later allocation.
func (r *reader) count(minSize int, what string) (uint32, error) {
	start := r.offset()
	n, err := r.u32(what) // no concatenation here: this is on the hot path
	if err != nil {
		return 0, err
	}
	if uint64(n)*uint64(minSize) > uint64(r.remaining()) {
		return 0, failAt(start, ErrMalformed, "%s count %d exceeds the %d bytes left", what, n, r.remaining())
	}
	return n, nil
}

// name reads a vec(byte) that must be UTF-8.
func (r *reader) name(what string) ([]byte, error) {
	n, err := r.u32(what + " length")
	if err != nil {
		return nil, err
	}
	b, err := r.bytes(uint64(n), what)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(b) {
		return nil, failAt(r.offset()-len(b), ErrMalformed, "%s is not valid UTF-8", what)
	}
	return b, nil
}

// posError carries the module byte offset of a problem and the sentinel that
// classifies it.
type posError struct {
	off  int
	msg  string
	kind error
}

func (e *posError) Error() string { return fmt.Sprintf("offset %#x: %s", e.off, e.msg) }
func (e *posError) Unwrap() error { return e.kind }

func failAt(off int, kind error, format string, args ...any) error {
	return &posError{off: off, msg: fmt.Sprintf(format, args...), kind: kind}
}

// Encoders. They always produce the minimal encoding.

func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendS32(b []byte, v int32) []byte {
	x := int64(v)
	for {
		c := byte(x & 0x7f)
		x >>= 7
		if (x == 0 && c&0x40 == 0) || (x == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}
