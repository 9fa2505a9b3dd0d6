package llf

import (
	"container/heap"
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
func New() *LLF { return &LLF{q: queue{at: map[sdk.TaskID]int{}}} }

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
	if _, dup := l.q.at[t.ID]; dup { // never happens with the core; stay consistent
		l.Dequeue(t.ID, sdk.Cancelled)
	}
	heap.Push(&l.q, entry{id: t.ID, key: key(t), arrival: t.Arrival})
}

// GetNext pops the task with the least laxity.
func (l *LLF) GetNext(sdk.WorkerID, time.Duration) (sdk.TaskID, bool) {
	if len(l.q.es) == 0 {
		return 0, false
	}
	return heap.Pop(&l.q).(entry).id, true
}

// OnInterrupt preempts cur iff a queued task has strictly less laxity at
// now.
func (l *LLF) OnInterrupt(_ sdk.WorkerID, cur sdk.Task, now time.Duration) bool {
	return len(l.q.es) > 0 && l.q.es[0].key-now < Laxity(cur, now)
}

// WouldPreempt reports whether arriving has strictly less laxity than cur,
// both taken at arriving.Arrival.
func (*LLF) WouldPreempt(_ sdk.WorkerID, cur, arriving sdk.Task) bool {
	now := arriving.Arrival
	return Laxity(arriving, now) < Laxity(cur, now)
}

// Dequeue forgets id if it is still queued.
func (l *LLF) Dequeue(id sdk.TaskID, _ sdk.DequeueReason) {
	if i, ok := l.q.at[id]; ok {
		heap.Remove(&l.q, i)
	}
}

// Report exposes the number of queued tasks.
func (l *LLF) Report(time.Duration) []sdk.Gauge {
	return []sdk.Gauge{{Name: "queued", Value: float64(len(l.q.es))}}
}

// queue is a container/heap of entries with an index by ID for Dequeue.
type queue struct {
	es []entry
	at map[sdk.TaskID]int
}

type entry struct {
	id      sdk.TaskID
	key     time.Duration
	arrival time.Duration
}

func (q *queue) Len() int { return len(q.es) }

func (q *queue) Less(i, j int) bool {
	a, b := q.es[i], q.es[j]
	if a.key != b.key {
		return a.key < b.key
	}
	if a.arrival != b.arrival {
		return a.arrival < b.arrival
	}
	return a.id < b.id
}

func (q *queue) Swap(i, j int) {
	q.es[i], q.es[j] = q.es[j], q.es[i]
	q.at[q.es[i].id] = i
	q.at[q.es[j].id] = j
}

func (q *queue) Push(x any) {
	e := x.(entry)
	q.at[e.id] = len(q.es)
	q.es = append(q.es, e)
}

func (q *queue) Pop() any {
	e := q.es[len(q.es)-1]
	q.es = q.es[:len(q.es)-1]
	delete(q.at, e.id)
	return e
}
