package instrument

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestSizeLimits: modules whose compilation could take the host down are
// refused at load with ErrTooLarge, each naming the limit; at the limit
// they are accepted.
func TestSizeLimits(t *testing.T) {
	locals := func(n uint32) []byte { // one declaration of n i32 locals, then end
		return bodyModule(append(append(appendU32([]byte{1}, n), valI32), opEnd))
	}
	funcs := func(n int) []byte {
		b := appendSection(bytes.Clone(wasmHeader), secType, []byte{1, 0x60, 0, 0})
		fsec, code := appendU32(nil, uint32(n)), appendU32(nil, uint32(n))
		for range n {
			fsec = append(fsec, 0)
			code = append(code, 2, 0, opEnd)
		}
		return appendSection(appendSection(b, secFunction, fsec), secCode, code)
	}
	data := func(n int) []byte {
		b := appendSection(bytes.Clone(wasmHeader), secMemory, []byte{1, 0, 1})
		payload := appendU32(nil, uint32(n))
		for i := range n {
			payload = append(payload, 0, opI32Const, byte(i), opEnd, 1, 'x')
		}
		return appendSection(b, secData, payload)
	}
	for _, tc := range []struct {
		name string
		wasm []byte
		opt  Options
		want string // "" accepted
	}{
		{"10^8 locals, default limit", locals(100_000_000), Options{}, "past the limit of 50000"},
		{"locals at the limit", locals(10), Options{MaxLocals: 10}, ""},
		{"locals past the limit", locals(11), Options{MaxLocals: 10}, "11 locals or more declared, past the limit of 10"},
		{"functions at the limit", funcs(3), Options{MaxFunctions: 3}, ""},
		{"functions past the limit", funcs(3), Options{MaxFunctions: 2}, "3 functions, past the limit of 2"},
		{"data segments at the limit", data(2), Options{MaxDataSegments: 2}, ""},
		{"data segments past the limit", data(2), Options{MaxDataSegments: 1}, "2 data segments, past the limit of 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Instrument(tc.wasm, tc.opt)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (!errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want ErrTooLarge: %s", err, tc.want)
			}
		})
	}
}
