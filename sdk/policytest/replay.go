package policytest

import "github.com/gosledge/gosledge/sdk"

// Op is one call of a scripted, table-driven policy test (see Replay).
type Op struct {
	// Kind: "enq" (Enqueue Arrived), "pre" (Enqueue Preempted), "cancel"
	// (Dequeue Cancelled), "done" (Dequeue Completed), "next" (GetNext on
	// worker 0 at time 0), "intr" (OnInterrupt of Task), "would"
	// (WouldPreempt of Task by Arriving).
	Kind     string
	Task     sdk.Task
	Arriving sdk.Task
}

// Replay applies ops to p in order and returns what GetNext handed out (0
// for "nothing") and the answers of OnInterrupt and WouldPreempt, in order.
func Replay(p sdk.Policy, ops []Op) (next []sdk.TaskID, answers []bool) {
	for _, o := range ops {
		switch o.Kind {
		case "enq":
			p.Enqueue(o.Task, sdk.Arrived)
		case "pre":
			p.Enqueue(o.Task, sdk.Preempted)
		case "cancel":
			p.Dequeue(o.Task.ID, sdk.Cancelled)
		case "done":
			p.Dequeue(o.Task.ID, sdk.Completed)
		case "next":
			id, ok := p.GetNext(0, 0)
			if !ok {
				id = 0
			}
			next = append(next, id)
		case "intr":
			answers = append(answers, p.OnInterrupt(0, o.Task, 0))
		case "would":
			answers = append(answers, p.WouldPreempt(0, o.Task, o.Arriving, 0))
		default:
			panic("policytest.Replay: unknown op kind " + o.Kind)
		}
	}
	return next, answers
}
