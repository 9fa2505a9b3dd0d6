package plugin

import (
	"fmt"
	"time"

	"github.com/gosledge/gosledge/sdk"
)

// The host's view of the plugin's policy: one type, remote, implements
// sdk.Policy and every optional interface whose absence has a neutral
// answer (Charge does nothing, Configure succeeds, Shed and Report return
// nothing), which is what the core does for a policy without them. A
// method the plugin's policy lacks answers so on the host, without a
// round trip; the capability set from Hello says which. Admitter is the
// exception: a policy that implements it replaces the core's own
// admission test, so it is offered only by admitter, when the plugin
// reported it. A new optional interface goes on remote if it has a
// neutral answer; none other needs a type of its own.
type remote struct {
	c    *Client
	caps caps
}

func (r remote) Name() string                              { return r.c.policy }
func (r remote) Enqueue(t sdk.Task, why sdk.EnqueueReason) { r.c.enqueue(t, why) }
func (r remote) Dequeue(id sdk.TaskID, why sdk.DequeueReason) {
	r.c.dequeue(id, why)
}
func (r remote) GetNext(w sdk.WorkerID, now time.Duration) (sdk.TaskID, bool) {
	return r.c.getNext(w, now)
}
func (r remote) OnInterrupt(w sdk.WorkerID, cur sdk.Task, now time.Duration) bool {
	return r.c.onInterrupt(w, cur, now)
}

func (r remote) WouldPreempt(w sdk.WorkerID, cur, arriving sdk.Task, now time.Duration) bool {
	return r.c.wouldPreempt(w, cur, arriving, now)
}

func (r remote) Charge(t sdk.Task, used, now time.Duration) {
	if r.caps&capCharger != 0 {
		r.c.charge(t, used, now)
	}
}

func (r remote) Configure(c sdk.Config) error {
	if r.caps&capConfigurer == 0 {
		if c.HasOptions() {
			return fmt.Errorf("plugin %q: its policy takes no settings (it is not an sdk.Configurer), but the config has tables for it", r.c.name)
		}
		return nil
	}
	return r.c.configure(c)
}

func (r remote) Shed(now time.Duration) []sdk.TaskID {
	if r.caps&capShedder == 0 {
		return nil
	}
	return r.c.shed(now)
}

func (r remote) Report(now time.Duration) []sdk.Gauge {
	if r.caps&capReporter == 0 {
		return nil
	}
	return r.c.report(now)
}

// admitter is remote for a plugin whose policy is an sdk.Admitter.
type admitter struct{ remote }

func (a admitter) Admit(t sdk.Task, now time.Duration) (sdk.Class, bool) {
	return a.c.admit(t, now)
}

var (
	_ sdk.Policy     = remote{}
	_ sdk.Charger    = remote{}
	_ sdk.Configurer = remote{}
	_ sdk.Shedder    = remote{}
	_ sdk.Reporter   = remote{}
	_ sdk.Admitter   = admitter{}
)

// neutralCaps are the optional interfaces remote always implements.
const neutralCaps = capAll &^ capAdmitter

// wrap returns c's policy for the capabilities cs.
func wrap(c *Client, cs caps) sdk.Policy {
	r := remote{c: c, caps: cs}
	if cs&capAdmitter != 0 {
		return admitter{r}
	}
	return r
}
