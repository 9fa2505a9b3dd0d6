package edf

import (
	"cmp"
	"time"

	"github.com/gosledge/gosledge/plugins/internal/taskheap"
	"github.com/gosledge/gosledge/sdk"
)

// Name is the registry name of this policy.
const Name = "edf"

var _ sdk.Policy = (*EDF)(nil)

// EDF is a global earliest-deadline-first run queue.
type EDF struct {
	q *taskheap.Heap[key]
}

// key orders queued tasks: earliest Deadline, then earliest Arrival (then
// ID, inside the heap).
type key struct {
	deadline, arrival time.Duration
}

func compare(a, b key) int {
	if c := cmp.Compare(a.deadline, b.deadline); c != 0 {
		return c
	}
	return cmp.Compare(a.arrival, b.arrival)
}

// New returns an empty EDF policy.
func New() *EDF { return &EDF{q: taskheap.New(compare)} }

// Name returns Name.
func (*EDF) Name() string { return Name }

// Enqueue queues t by its deadline, whatever the reason.
func (e *EDF) Enqueue(t sdk.Task, _ sdk.EnqueueReason) {
	e.q.Push(t.ID, key{t.Deadline, t.Arrival})
}

// GetNext pops the task with the earliest deadline.
func (e *EDF) GetNext(sdk.WorkerID, time.Duration) (sdk.TaskID, bool) {
	id, _, ok := e.q.Pop()
	return id, ok
}

// OnInterrupt preempts cur iff a queued task has a strictly earlier
// deadline.
func (e *EDF) OnInterrupt(_ sdk.WorkerID, cur sdk.Task, _ time.Duration) bool {
	_, k, ok := e.q.Peek()
	return ok && k.deadline < cur.Deadline
}

// WouldPreempt reports whether arriving's deadline is strictly earlier
// than cur's.
func (*EDF) WouldPreempt(_ sdk.WorkerID, cur, arriving sdk.Task, _ time.Duration) bool {
	return arriving.Deadline < cur.Deadline
}

// Dequeue forgets id if it is still queued.
func (e *EDF) Dequeue(id sdk.TaskID, _ sdk.DequeueReason) {
	e.q.Remove(id)
}
