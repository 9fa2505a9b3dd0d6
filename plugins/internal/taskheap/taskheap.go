package taskheap

import "github.com/gosledge/gosledge/sdk"

// Heap is an indexed min-heap of task IDs keyed by K. The zero value is not
// usable; call New. It is not safe for concurrent use.
type Heap[K any] struct {
	cmp   func(a, b K) int
	items []item[K]          // the heap, min at items[0]
	pos   []int              // pos[slot] = index in items, -1 when the slot is free
	free  []int              // free slots
	index map[sdk.TaskID]int // id -> slot
}

type item[K any] struct {
	key  K
	id   sdk.TaskID
	slot int
}

// New returns an empty heap ordered by cmp (negative when a sorts first,
// as for slices.SortFunc), then by ascending ID.
func New[K any](cmp func(a, b K) int) *Heap[K] {
	return &Heap[K]{cmp: cmp, index: map[sdk.TaskID]int{}}
}

// Len is the number of entries.
func (h *Heap[K]) Len() int { return len(h.items) }

// Contains reports whether id is in the heap.
func (h *Heap[K]) Contains(id sdk.TaskID) bool {
	_, ok := h.index[id]
	return ok
}

// Push adds id with key k. If id is already in the heap its key is
// replaced and its position fixed.
func (h *Heap[K]) Push(id sdk.TaskID, k K) {
	if slot, ok := h.index[id]; ok {
		i := h.pos[slot]
		h.items[i].key = k
		if !h.up(i) {
			h.down(i)
		}
		return
	}
	var slot int
	if n := len(h.free); n > 0 {
		slot = h.free[n-1]
		h.free = h.free[:n-1]
	} else {
		slot = len(h.pos)
		h.pos = append(h.pos, 0)
	}
	h.index[id] = slot
	h.items = append(h.items, item[K]{key: k, id: id, slot: slot})
	i := len(h.items) - 1
	h.pos[slot] = i
	h.up(i)
}

// Peek returns the minimum entry without removing it; ok is false when the
// heap is empty.
func (h *Heap[K]) Peek() (id sdk.TaskID, k K, ok bool) {
	if len(h.items) == 0 {
		return 0, k, false
	}
	return h.items[0].id, h.items[0].key, true
}

// Pop removes and returns the minimum entry; ok is false when the heap is
// empty.
func (h *Heap[K]) Pop() (id sdk.TaskID, k K, ok bool) {
	if len(h.items) == 0 {
		return 0, k, false
	}
	it := h.items[0]
	h.popRoot()
	return it.id, it.key, true
}

// Remove deletes id and returns its key; ok is false if id is not in the
// heap.
func (h *Heap[K]) Remove(id sdk.TaskID) (k K, ok bool) {
	slot, ok := h.index[id]
	if !ok {
		return k, false
	}
	i := h.pos[slot]
	k = h.items[i].key
	h.removeAt(i)
	return k, true
}

// removeAt deletes the entry at heap index i.
func (h *Heap[K]) removeAt(i int) {
	it := h.items[i]
	delete(h.index, it.id)
	h.pos[it.slot] = -1
	h.free = append(h.free, it.slot)
	last := len(h.items) - 1
	if i != last {
		h.move(i, h.items[last])
	}
	var zero item[K]
	h.items[last] = zero // drop references held by K
	h.items = h.items[:last]
	if i < last && !h.up(i) {
		h.down(i)
	}
}

// popRoot removes the root bottom-up: the hole it leaves sinks along the
// smaller children to a leaf, one comparison a level instead of two, and
// the last entry, moved into the hole, rises back, usually not far.
func (h *Heap[K]) popRoot() {
	root := h.items[0]
	delete(h.index, root.id)
	h.pos[root.slot] = -1
	h.free = append(h.free, root.slot)
	last := len(h.items) - 1
	tail := h.items[last]
	var zero item[K]
	h.items[last] = zero // drop references held by K
	h.items = h.items[:last]
	if last == 0 {
		return
	}
	i := 0
	for {
		c := 2*i + 1
		if c >= last {
			break
		}
		if r := c + 1; r < last && h.less(&h.items[r], &h.items[c]) {
			c = r
		}
		h.move(i, h.items[c])
		i = c
	}
	h.move(i, tail)
	h.up(i)
}

// move places it at index i and records its position.
func (h *Heap[K]) move(i int, it item[K]) {
	h.items[i] = it
	h.pos[it.slot] = i
}

func (h *Heap[K]) less(a, b *item[K]) bool {
	if c := h.cmp(a.key, b.key); c != 0 {
		return c < 0
	}
	return a.id < b.id
}

// up sifts the entry at i towards the root and reports whether it moved.
func (h *Heap[K]) up(i int) bool {
	it := h.items[i]
	start := i
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(&it, &h.items[p]) {
			break
		}
		h.move(i, h.items[p])
		i = p
	}
	if i == start {
		return false
	}
	h.move(i, it)
	return true
}

// down sifts the entry at i towards the leaves.
func (h *Heap[K]) down(i int) {
	n := len(h.items)
	it := h.items[i]
	start := i
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && h.less(&h.items[r], &h.items[c]) {
			c = r
		}
		if !h.less(&h.items[c], &it) {
			break
		}
		h.move(i, h.items[c])
		i = c
	}
	if i != start {
		h.move(i, it)
	}
}
