package llf

import (
	"math/bits"
	"time"

	"github.com/gosledge/gosledge/sdk"
)

// Name is the registry name of this policy.
const Name = "llf"

var (
	_ sdk.Policy   = (*LLF)(nil)
	_ sdk.Reporter = (*LLF)(nil)
)

// LLF is a global least-laxity-first run queue.
type LLF struct {
	q queue
}

// New returns an empty LLF policy.
func New() *LLF { return &LLF{} }

// Name returns Name.
func (*LLF) Name() string { return Name }

// key is laxity + now: the part of a task's laxity that is the same at
// every instant while it waits.
func key(t sdk.Task) time.Duration { return t.Deadline - t.Remaining() }

// Laxity is t's laxity at now: Deadline − now − Remaining. Negative means
// t will miss its deadline even if it runs alone from now on.
func Laxity(t sdk.Task, now time.Duration) time.Duration { return key(t) - now }

// Enqueue queues t by its laxity, whatever the reason.
func (l *LLF) Enqueue(t sdk.Task, _ sdk.EnqueueReason) {
	if i := l.q.find(t.ID); i >= 0 { // never happens with the core; stay consistent
		l.q.remove(i)
	}
	l.q.push(entry{id: t.ID, key: key(t), arrival: t.Arrival})
}

// GetNext pops the task with the least laxity.
func (l *LLF) GetNext(sdk.WorkerID, time.Duration) (sdk.TaskID, bool) {
	if len(l.q.es) == 0 {
		return 0, false
	}
	id := l.q.es[0].id
	l.q.remove(l.q.es[0].slot)
	return id, true
}

// OnInterrupt preempts cur iff a queued task has strictly less laxity at
// now.
func (l *LLF) OnInterrupt(_ sdk.WorkerID, cur sdk.Task, now time.Duration) bool {
	return len(l.q.es) > 0 && l.q.es[0].key-now < Laxity(cur, now)
}

// WouldPreempt reports whether arriving has strictly less laxity than cur
// at now.
func (*LLF) WouldPreempt(_ sdk.WorkerID, cur, arriving sdk.Task, now time.Duration) bool {
	return Laxity(arriving, now) < Laxity(cur, now)
}

// Dequeue forgets id if it is still queued.
func (l *LLF) Dequeue(id sdk.TaskID, _ sdk.DequeueReason) {
	if i := l.q.find(id); i >= 0 {
		l.q.remove(i)
	}
}

// Report exposes the number of queued tasks.
func (l *LLF) Report(time.Duration) []sdk.Gauge {
	return []sdk.Gauge{{Name: "queued", Value: float64(len(l.q.es))}}
}

// queue is a binary min-heap of entries, by value, with an index from
// task ID to heap position for Dequeue. Both are slices that only grow:
// once they have reached the largest queue seen, nothing allocates. (The
// obvious container/heap with a map[sdk.TaskID]int boxes every entry in
// an interface and changes the map on every move: compiled to Wasm, where
// allocation, maps, calls and branches all cost much more than natively,
// that made a decision about five times dearer. See RATIONALE.md, "Wasm
// policies in process".)
//
// The index is an open-addressing hash table with linear probing, at most
// half full. Heap entries and table slots point at each other (entry.slot,
// slot.pos), so moving an entry in the heap updates its slot without
// hashing, and removing a slot (backward-shift deletion, no tombstones)
// updates the entries of the slots it shifts.
type queue struct {
	es    []entry
	slots []slot // len a power of two, or 0
	shift uint8  // 64 − log2(len(slots))
}

type entry struct {
	key     time.Duration
	arrival time.Duration
	id      sdk.TaskID
	slot    int // its slot in queue.slots
}

// slot maps id to its heap position; pos is −1 in an empty slot.
type slot struct {
	id  sdk.TaskID
	pos int
}

// less is the heap order: key, then arrival, then ID (unique), a strict
// total order, so the pop sequence does not depend on the heap's shape.
func less(a, b *entry) bool {
	if a.key != b.key {
		return a.key < b.key
	}
	if a.arrival != b.arrival {
		return a.arrival < b.arrival
	}
	return a.id < b.id
}

// home is id's first slot to probe: Fibonacci hashing, so that sequential
// IDs spread over the table.
func (q *queue) home(id sdk.TaskID) int {
	return int((uint64(id) * 0x9e3779b97f4a7c15) >> q.shift)
}

// find returns id's slot, or −1.
func (q *queue) find(id sdk.TaskID) int {
	if len(q.slots) == 0 {
		return -1
	}
	mask := len(q.slots) - 1
	for i := q.home(id); ; i = (i + 1) & mask {
		s := &q.slots[i]
		if s.pos < 0 {
			return -1
		}
		if s.id == id {
			return i
		}
	}
}

// grow doubles the table (16 slots at first) and reinserts every entry.
func (q *queue) grow() {
	n := max(16, 2*len(q.slots))
	q.slots = make([]slot, n)
	for i := range q.slots {
		q.slots[i].pos = -1
	}
	q.shift = uint8(64 - bits.TrailingZeros(uint(n)))
	mask := n - 1
	for p := range q.es {
		e := &q.es[p]
		i := q.home(e.id)
		for q.slots[i].pos >= 0 {
			i = (i + 1) & mask
		}
		q.slots[i] = slot{id: e.id, pos: p}
		e.slot = i
	}
}

// push adds e, whose ID is not queued.
func (q *queue) push(e entry) {
	if 2*(len(q.es)+1) > len(q.slots) {
		q.grow()
	}
	mask := len(q.slots) - 1
	e.slot = q.home(e.id)
	for q.slots[e.slot].pos >= 0 {
		e.slot = (e.slot + 1) & mask
	}
	q.slots[e.slot].id = e.id
	q.es = append(q.es, e)
	q.up(len(q.es)-1, e)
}

// remove takes the entry of slot i out of the table and the heap.
func (q *queue) remove(i int) {
	p := q.slots[i].pos
	// Empty slot i, shifting back the slots after it that would no longer
	// be found (linear probing's deletion, without tombstones). A slot s
	// at j may move to the hole at i iff its home is not cyclically in
	// (i, j].
	mask := len(q.slots) - 1
	for j := (i + 1) & mask; q.slots[j].pos >= 0; j = (j + 1) & mask {
		s := q.slots[j]
		if h := q.home(s.id); (j-h)&mask >= (j-i)&mask {
			q.slots[i] = s
			q.es[s.pos].slot = i
			i = j
		}
	}
	q.slots[i].pos = -1

	// Fill the hole at p with the last entry: move the hole down to a leaf
	// along the smaller children (one comparison a level), then the last
	// entry up from there (rarely far: it came from the bottom).
	n := len(q.es) - 1
	last := q.es[n]
	q.es = q.es[:n]
	if p == n {
		return
	}
	es := q.es
	for {
		c := 2*p + 1
		if c >= n {
			break
		}
		if c+1 < n && less(&es[c+1], &es[c]) {
			c++
		}
		es[p] = es[c]
		q.slots[es[p].slot].pos = p
		p = c
	}
	q.up(p, last)
}

// up places e at position p or above: moves e's larger ancestors down.
func (q *queue) up(p int, e entry) {
	es := q.es
	for p > 0 {
		parent := (p - 1) / 2
		if !less(&e, &es[parent]) {
			break
		}
		es[p] = es[parent]
		q.slots[es[p].slot].pos = p
		p = parent
	}
	es[p] = e
	q.slots[e.slot].pos = p
}
