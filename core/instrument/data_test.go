package instrument

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/tetratelabs/wazero"
)

// dataModule builds a module with a 2-page exported memory and the given
// segments (active at i32.const offsets unless passive), a data count
// section if asked, and a name section naming data segment 0.
func dataModule(segs []dataSegment, passive, dataCount bool) []byte {
	b := bytes.Clone(wasmHeader)
	b = appendSection(b, secMemory, []byte{1, 0, 2})
	b = appendSection(b, secExport, append(appendName([]byte{1}, "memory"), 2, 0))
	if dataCount {
		b = appendSection(b, secDataCount, appendU32(nil, uint32(len(segs)+btoi(passive))))
	}
	payload := appendU32(nil, uint32(len(segs)+btoi(passive)))
	for _, s := range segs {
		payload = append(payload, 0, 0x41)
		payload = appendS32(payload, int32(s.offset))
		payload = append(payload, 0x0b)
		payload = appendU32(payload, uint32(len(s.data)))
		payload = append(payload, s.data...)
	}
	if passive {
		payload = append(payload, 1, 3, 'p', 'a', 's')
	}
	b = appendSection(b, secData, payload)
	names := appendName(nil, "name")
	dataNames := appendName(appendU32(appendU32(nil, 1), 0), "first")
	names = append(names, nameData)
	names = appendU32(names, uint32(len(dataNames)))
	names = append(names, dataNames...)
	return appendSection(b, secCustom, names)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// scattered returns n disjoint segments over the first page, most a few
// bytes apart, some more than mergeMaxGap apart, shuffled, with a few
// empty ones: the shape of a Go binary's data, out of address order.
func scattered(n int, seed uint64) []dataSegment {
	rng := rand.New(rand.NewPCG(seed, 1))
	var segs []dataSegment
	off := uint32(8)
	for i := range n {
		data := make([]byte, rng.IntN(12))
		for j := range data {
			data[j] = byte(1 + rng.IntN(255))
		}
		segs = append(segs, dataSegment{offset: off, data: data})
		off += uint32(len(data)) + uint32(rng.IntN(40))
		if i%50 == 49 {
			off += mergeMaxGap + 1
		}
	}
	rng.Shuffle(len(segs), func(i, j int) { segs[i], segs[j] = segs[j], segs[i] })
	return segs
}

func dataSegmentCount(t *testing.T, wasm []byte) uint32 {
	t.Helper()
	secs, err := splitSections(wasm)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secs {
		if s.id == secData {
			n, err := s.reader().count(2, "data segment")
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no data section")
	return 0
}

// TestDataMerge: instrumented modules start with exactly the memory the
// originals start with, merged or not, and fail to instantiate exactly
// when they do.
func TestDataMerge(t *testing.T) {
	overlapping := scattered(100, 3)
	overlapping = append(overlapping, dataSegment{offset: overlapping[0].offset, data: []byte("over")})
	outOfBounds := append(scattered(100, 4), dataSegment{offset: 2*wasmPageSize - 2, data: []byte("oob")})
	emptyOOB := append(scattered(100, 5), dataSegment{offset: 2*wasmPageSize + 1})
	tests := []struct {
		name               string
		segs               []dataSegment
		passive, dataCount bool
		merged             bool
		fails              bool
	}{
		{name: "scattered", segs: scattered(500, 1), merged: true},
		{name: "few", segs: scattered(mergeMinSegments-1, 2)},
		{name: "overlapping", segs: overlapping},
		{name: "passive segment", segs: scattered(100, 6), passive: true},
		{name: "data count section", segs: scattered(100, 7), dataCount: true},
		{name: "out of bounds", segs: outOfBounds, merged: true, fails: true},
		{name: "empty segment out of bounds", segs: emptyOOB, merged: true, fails: true},
	}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig())
	defer r.Close(ctx)
	y := &yielder{fuel: 10}
	y.instantiate(ctx, t, r)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := dataModule(tc.segs, tc.passive, tc.dataCount)
			inst := mustInstrument(t, orig, Options{})
			n := dataSegmentCount(t, inst)
			if want := uint32(len(tc.segs) + btoi(tc.passive)); tc.merged == (n == want) {
				t.Errorf("%d segments after instrumenting %d; merged %v", n, want, tc.merged)
			}
			if tc.merged && bytes.Contains(inst, []byte("first")) {
				t.Error("the data names survived a merge")
			}
			memory := func(bin []byte) []byte {
				mod, err := r.InstantiateWithConfig(ctx, bin, wazero.NewModuleConfig().WithName(""))
				if err != nil {
					return nil
				}
				defer mod.Close(ctx)
				m, _ := mod.Memory().Read(0, mod.Memory().Size())
				return bytes.Clone(m)
			}
			want, got := memory(orig), memory(inst)
			if (want == nil) != tc.fails || (got == nil) != tc.fails {
				t.Fatalf("instantiation failed: original %v, instrumented %v; want %v", want == nil, got == nil, tc.fails)
			}
			if !bytes.Equal(want, got) {
				t.Error("the instrumented module starts with different memory")
			}
		})
	}
}

const wasmPageSize = 64 << 10
