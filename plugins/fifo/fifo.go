package fifo

import (
	"time"

	"github.com/gosledge/gosledge/sdk"
)

// Name is the registry name of this policy.
const Name = "fifo"

var _ sdk.Policy = (*FIFO)(nil)

// FIFO is a global run queue with round robin on the quantum.
type FIFO struct {
	queue []sdk.TaskID // head at queue[head]; may hold IDs Dequeued since
	head  int
	held  map[sdk.TaskID]struct{} // IDs the policy owns
}

// New returns an empty FIFO policy.
func New() *FIFO { return &FIFO{held: map[sdk.TaskID]struct{}{}} }

// Name returns Name.
func (*FIFO) Name() string { return Name }

// Enqueue appends t to the tail, whatever the reason: a preempted task
// goes behind every waiting one (round robin).
func (f *FIFO) Enqueue(t sdk.Task, _ sdk.EnqueueReason) {
	f.held[t.ID] = struct{}{}
	f.queue = append(f.queue, t.ID)
}

// GetNext pops the oldest task still held.
func (f *FIFO) GetNext(sdk.WorkerID, time.Duration) (sdk.TaskID, bool) {
	for f.head < len(f.queue) {
		id := f.queue[f.head]
		f.head++
		if _, ok := f.held[id]; ok {
			delete(f.held, id)
			f.compact()
			return id, true
		}
	}
	f.compact()
	return 0, false
}

// compact drops the consumed prefix once it dominates the slice, keeping
// memory proportional to what is queued.
func (f *FIFO) compact() {
	if f.head > 64 && f.head*2 > len(f.queue) {
		f.queue = append(f.queue[:0], f.queue[f.head:]...)
		f.head = 0
	}
}

// OnInterrupt preempts cur whenever another task is waiting.
func (f *FIFO) OnInterrupt(sdk.WorkerID, sdk.Task, time.Duration) bool {
	return len(f.held) > 0
}

// WouldPreempt is always false: FIFO never preempts on arrival.
func (*FIFO) WouldPreempt(sdk.WorkerID, sdk.Task, sdk.Task, time.Duration) bool { return false }

// Dequeue forgets id if it is still queued.
func (f *FIFO) Dequeue(id sdk.TaskID, _ sdk.DequeueReason) {
	delete(f.held, id)
}
