package sjf

import (
	"cmp"
	"time"

	"github.com/gosledge/gosledge/plugins/internal/taskheap"
	"github.com/gosledge/gosledge/sdk"
)

// Name is the registry name of this policy.
const Name = "sjf"

var _ sdk.Policy = (*SJF)(nil)

// SJF is a global shortest-remaining-first run queue.
type SJF struct {
	q *taskheap.Heap[key]
}

// key orders queued tasks: least remaining expected execution, then
// earliest Arrival (then ID, inside the heap).
type key struct {
	remaining, arrival time.Duration
}

func compare(a, b key) int {
	if c := cmp.Compare(a.remaining, b.remaining); c != 0 {
		return c
	}
	return cmp.Compare(a.arrival, b.arrival)
}

// New returns an empty SJF policy.
func New() *SJF { return &SJF{q: taskheap.New(compare)} }

// Name returns Name.
func (*SJF) Name() string { return Name }

// Enqueue queues t by its remaining expected execution, whatever the
// reason.
func (s *SJF) Enqueue(t sdk.Task, _ sdk.EnqueueReason) {
	s.q.Push(t.ID, key{t.Remaining(), t.Arrival})
}

// GetNext pops the task with the least remaining expected execution.
func (s *SJF) GetNext(sdk.WorkerID, time.Duration) (sdk.TaskID, bool) {
	id, _, ok := s.q.Pop()
	return id, ok
}

// OnInterrupt preempts cur iff a queued task has strictly less remaining
// expected execution than cur has now.
func (s *SJF) OnInterrupt(_ sdk.WorkerID, cur sdk.Task, _ time.Duration) bool {
	_, k, ok := s.q.Peek()
	return ok && k.remaining < cur.Remaining()
}

// WouldPreempt reports whether arriving has strictly less remaining
// expected execution than cur.
func (*SJF) WouldPreempt(_ sdk.WorkerID, cur, arriving sdk.Task, _ time.Duration) bool {
	return arriving.Remaining() < cur.Remaining()
}

// Dequeue forgets id if it is still queued.
func (s *SJF) Dequeue(id sdk.TaskID, _ sdk.DequeueReason) {
	s.q.Remove(id)
}
