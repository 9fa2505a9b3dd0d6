package instrument

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// typeIndexModules are modules with one type, () -> (), each naming type 1
// at one of the sites a type index can appear. Instrumenting appends the
// yield's type at index 1, so an unchecked index would silently become
// valid; every one must be refused as malformed.
func typeIndexModules() map[string][]byte {
	types := []byte{1, 0x60, 0, 0}
	module := func(secs ...[]byte) []byte {
		b := bytes.Clone(wasmHeader)
		for _, s := range secs {
			b = appendSection(b, s[0], s[1:])
		}
		return b
	}
	sec := func(id byte, payload ...byte) []byte { return append([]byte{id}, payload...) }
	body := func(code ...byte) []byte {
		b := append(append([]byte{0}, code...), opEnd)
		return append([]byte{1, byte(len(b))}, b...)
	}
	return map[string][]byte{
		"import": module(sec(secType, types...),
			sec(secImport, append(append(appendName(appendName([]byte{1}, "m"), "f"), 0x00), 1)...)),
		"function": module(sec(secType, types...), sec(secFunction, 1, 1), sec(secCode, body()...)),
		"call_indirect": module(sec(secType, types...), sec(secFunction, 1, 0), sec(secTable, 1, 0x70, 0, 1),
			sec(secCode, body(opI32Const, 0, opCallInd, 1, 0)...)),
		"return_call_indirect": module(sec(secType, types...), sec(secFunction, 1, 0), sec(secTable, 1, 0x70, 0, 1),
			sec(secCode, body(opI32Const, 0, opRetCallInd, 1, 0)...)),
		"block type": module(sec(secType, types...), sec(secFunction, 1, 0),
			sec(secCode, body(opBlock, 1, opEnd)...)),
	}
}

func TestTypeIndexOutOfRange(t *testing.T) {
	for name, wasm := range typeIndexModules() {
		t.Run(name, func(t *testing.T) {
			_, err := Instrument(wasm, Options{})
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "type index 1 out of range (module has 1 types)") {
				t.Errorf("error %v, want ErrMalformed: type index 1 out of range", err)
			}
		})
	}
	// The same sites with type 0 are fine: the check is on the index.
	ok := typeIndexModules()["call_indirect"]
	ok[len(ok)-3] = 0 // call_indirect's type immediate (then table 0, end)
	if _, err := Instrument(ok, Options{}); err != nil {
		t.Errorf("call_indirect (type 0): %v", err)
	}
}

// TestTypeIndexSeeds keeps these modules in the fuzz corpus, so the fuzzer
// mutates around them.
func TestTypeIndexSeeds(t *testing.T) {
	for name, wasm := range typeIndexModules() {
		file := filepath.Join("testdata", "fuzz", "FuzzInstrument", "typeindex-"+strings.ReplaceAll(name, " ", "-"))
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", wasm)
		if got, err := os.ReadFile(file); err != nil || string(got) != want {
			if os.Getenv("GOSLEDGE_WRITE_SEEDS") != "" {
				os.WriteFile(file, []byte(want), 0o644)
				continue
			}
			t.Errorf("%s: missing or stale (GOSLEDGE_WRITE_SEEDS=1 go test -run TypeIndexSeeds rewrites it)", file)
		}
	}
}

// TestTrailingNameStaysLast: the sections instrumentation adds to a module
// that lacks them go before a trailing custom section, never after it
// (wabt refuses a module whose "name" section is not last).
func TestTrailingNameStaysLast(t *testing.T) {
	name := appendName(nil, "name")
	name = append(name, nameModule)
	name = appendU32(name, 2)
	name = appendName(name, "m")
	for _, tc := range []struct {
		label string
		wasm  []byte
		want  []byte // section ids of the output, in order
	}{
		{"only a name section", appendSection(bytes.Clone(wasmHeader), secCustom, name),
			[]byte{secType, secImport, secGlobal, secExport, secCustom}},
		{"a type, then a name section",
			appendSection(appendSection(bytes.Clone(wasmHeader), secType, []byte{1, 0x60, 0, 0}), secCustom, name),
			[]byte{secType, secImport, secGlobal, secExport, secCustom}},
	} {
		t.Run(tc.label, func(t *testing.T) {
			secs, err := splitSections(mustInstrument(t, tc.wasm, Options{}))
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			for _, s := range secs {
				got = append(got, s.id)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("sections %v, want %v", got, tc.want)
			}
		})
	}
}
