package taskheap

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gosledge/gosledge/sdk"
)

// check verifies the heap property and that index, pos and items agree.
func (h *Heap[K]) check(t *testing.T) {
	t.Helper()
	if len(h.index) != len(h.items) {
		t.Fatalf("index has %d entries, heap %d", len(h.index), len(h.items))
	}
	for i := range h.items {
		it := &h.items[i]
		if slot, ok := h.index[it.id]; !ok || slot != it.slot || h.pos[slot] != i {
			t.Fatalf("entry %d (id %d): index/pos out of step", i, it.id)
		}
		if i > 0 && h.less(it, &h.items[(i-1)/2]) {
			t.Fatalf("entry %d (id %d) sorts before its parent", i, it.id)
		}
	}
	if used := len(h.pos) - len(h.free); used != len(h.items) {
		t.Fatalf("%d slots in use, %d entries", used, len(h.items))
	}
}

func TestOrderAndTies(t *testing.T) {
	tests := []struct {
		name string
		push []struct {
			id  sdk.TaskID
			key int
		}
		remove []sdk.TaskID
		want   []sdk.TaskID
	}{
		{"by key", []struct {
			id  sdk.TaskID
			key int
		}{{1, 30}, {2, 10}, {3, 20}}, nil, []sdk.TaskID{2, 3, 1}},
		{"ties by id", []struct {
			id  sdk.TaskID
			key int
		}{{9, 5}, {3, 5}, {7, 5}, {1, 6}}, nil, []sdk.TaskID{3, 7, 9, 1}},
		{"remove middle, root, leaf, absent", []struct {
			id  sdk.TaskID
			key int
		}{{1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}, {6, 6}, {7, 7}}, []sdk.TaskID{3, 1, 7, 42}, []sdk.TaskID{2, 4, 5, 6}},
		{"push again updates the key", []struct {
			id  sdk.TaskID
			key int
		}{{1, 1}, {2, 2}, {3, 3}, {1, 9}, {3, 0}}, nil, []sdk.TaskID{3, 2, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(cmp.Compare[int])
			for _, p := range tt.push {
				h.Push(p.id, p.key)
				h.check(t)
			}
			for _, id := range tt.remove {
				h.Remove(id)
				h.check(t)
			}
			var got []sdk.TaskID
			for {
				id, _, ok := h.Pop()
				if !ok {
					break
				}
				h.check(t)
				got = append(got, id)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("pop order %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEmpty(t *testing.T) {
	h := New(cmp.Compare[int])
	if _, _, ok := h.Peek(); ok {
		t.Error("Peek on empty heap: ok")
	}
	if _, _, ok := h.Pop(); ok {
		t.Error("Pop on empty heap: ok")
	}
	if _, ok := h.Remove(1); ok {
		t.Error("Remove on empty heap: ok")
	}
	if h.Len() != 0 || h.Contains(0) {
		t.Error("empty heap has entries")
	}
}

// TestRandom compares the heap with a sorted-slice model under random
// pushes, re-pushes, pops and removals.
func TestRandom(t *testing.T) {
	type ent struct {
		id  sdk.TaskID
		key int
	}
	for seed := range uint64(5) {
		rng := rand.New(rand.NewPCG(seed, 0))
		h := New(cmp.Compare[int])
		model := map[sdk.TaskID]int{}
		// first is the model's minimum, by key then ID.
		first := func() (ent, bool) {
			var m ent
			found := false
			for id, k := range model {
				if !found || k < m.key || k == m.key && id < m.id {
					m, found = ent{id, k}, true
				}
			}
			return m, found
		}
		for step := range 3000 {
			switch r := rng.IntN(10); {
			case r < 4:
				id := sdk.TaskID(rng.IntN(200))
				k := rng.IntN(50)
				h.Push(id, k)
				model[id] = k
			case r < 7:
				m, mok := first()
				id, k, ok := h.Pop()
				if ok != mok || ok && (m.id != id || m.key != k) {
					t.Fatalf("seed %d step %d: Pop = %d,%d,%v; model %v,%v", seed, step, id, k, ok, m, mok)
				}
				delete(model, id)
			default:
				id := sdk.TaskID(rng.IntN(200))
				k, ok := h.Remove(id)
				mk, mok := model[id]
				if ok != mok || ok && k != mk {
					t.Fatalf("seed %d step %d: Remove(%d) = %d,%v; model %d,%v", seed, step, id, k, ok, mk, mok)
				}
				delete(model, id)
			}
			h.check(t)
			if h.Len() != len(model) {
				t.Fatalf("seed %d step %d: Len %d, model %d", seed, step, h.Len(), len(model))
			}
			if m, ok := first(); ok {
				if id, _, _ := h.Peek(); id != m.id {
					t.Fatalf("seed %d step %d: Peek %d, model %d", seed, step, id, m.id)
				}
			}
		}
	}
}

func BenchmarkPushPop(b *testing.B) {
	h := New(cmp.Compare[int])
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 10000 {
		h.Push(sdk.TaskID(i), i+rng.IntN(10000))
	}
	next := 10000
	b.ResetTimer()
	for range b.N {
		h.Push(sdk.TaskID(next), next+rng.IntN(10000))
		next++
		h.Pop()
	}
}
