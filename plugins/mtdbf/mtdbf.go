package mtdbf

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/gosledge/gosledge/plugins/internal/queuebound"
	"github.com/gosledge/gosledge/plugins/internal/taskheap"
	"github.com/gosledge/gosledge/sdk"
)

// Name is the registry name of this policy.
const Name = "mtdbf"

// MaxQueued is how many queued tasks the policy holds before Admit refuses
// new ones, whatever the demand test says.
const MaxQueued = 65536

var (
	_ sdk.Policy     = (*MTDBF)(nil)
	_ sdk.Charger    = (*MTDBF)(nil)
	_ sdk.Configurer = (*MTDBF)(nil)
	_ sdk.Admitter   = (*MTDBF)(nil)
	_ sdk.Shedder    = (*MTDBF)(nil)
	_ sdk.Reporter   = (*MTDBF)(nil)
)

// MTDBF admits by demand bound functions and runs Guaranteed work before
// Best-effort work, EDF within each.
type MTDBF struct {
	workers int
	tenants []*tenant // configured ones first, then others as they appear
	byName  map[string]*tenant
	all     *treap               // every admitted task not yet dequeued; rate = workers
	g, be   *taskheap.Heap[key]  // queued tasks by class
	tasks   map[sdk.TaskID]entry // admitted (or enqueued) and not yet dequeued
	max     int                  // MaxQueued, smaller in tests
}

// entry is an admitted task.
type entry struct {
	tn    *tenant
	class sdk.Class // ClassGuaranteed or ClassBestEffort
	dl    int64     // deadline, ns
	c     int64     // remaining expected execution as last seen, ns
}

// tenant is one tenant's reservation and demand.
type tenant struct {
	name     string
	res      float64
	g        *treap // its Guaranteed tasks; nil when res is 0
	beDemand int64  // Σ c of its Best-effort tasks
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

// New returns an MTDBF policy for one worker and no reservation;
// Configure sets both.
func New() *MTDBF {
	return &MTDBF{
		workers: 1,
		byName:  map[string]*tenant{},
		all:     newTreap(1),
		g:       taskheap.New(compare),
		be:      taskheap.New(compare),
		tasks:   map[sdk.TaskID]entry{},
		max:     MaxQueued,
	}
}

// Name returns Name.
func (*MTDBF) Name() string { return Name }

// Options are mtdbf's [policy.mtdbf] keys: max_queued (default MaxQueued).
type Options = queuebound.Options

// TenantOptions are a tenant's policy.mtdbf keys.
type TenantOptions struct {
	// Reservation is the tenant's share of the machine, 0..1; the
	// tenants' reservations sum to at most 1.
	Reservation float64 `toml:"reservation"`
}

// Configure sets the worker count, the queue bound and the tenants'
// reservations, which must each lie in [0, 1] and sum to at most 1.
func (m *MTDBF) Configure(c sdk.Config) error {
	if c.Workers < 1 {
		return fmt.Errorf("mtdbf: %d workers", c.Workers)
	}
	if len(m.tasks) > 0 {
		return fmt.Errorf("mtdbf: Configure with tasks in the system")
	}
	// Every problem is reported, not just the first.
	var errs []error
	o, err := queuebound.Decode(c.Options, MaxQueued)
	if err != nil {
		errs = append(errs, err)
	}
	var list []*tenant
	byName := map[string]*tenant{}
	sum := 0.0
	for _, tc := range c.Tenants {
		if _, dup := byName[tc.Name]; dup {
			return fmt.Errorf("mtdbf: tenant %q configured twice", tc.Name)
		}
		var to TenantOptions
		if err := tc.Options.Decode(&to); err != nil {
			errs = append(errs, sdk.ForTenant(tc.Name, err))
			continue
		}
		if !(to.Reservation >= 0 && to.Reservation <= 1) {
			errs = append(errs, &sdk.OptionError{Tenant: tc.Name, Key: "reservation", Err: fmt.Errorf("must be between 0 and 1, got %v", to.Reservation)})
			continue
		}
		sum += to.Reservation
		if sum > 1+1e-9 {
			errs = append(errs, &sdk.OptionError{Tenant: tc.Name, Key: "reservation", Err: fmt.Errorf("the tenants' reservations sum to %.3g, more than 1", sum)})
		}
		tn := &tenant{name: tc.Name, res: to.Reservation}
		if to.Reservation > 0 {
			tn.g = newTreap(to.Reservation * float64(c.Workers))
		}
		list = append(list, tn)
		byName[tc.Name] = tn
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	m.workers, m.tenants, m.byName, m.max = c.Workers, list, byName, o.MaxQueued
	m.all = newTreap(float64(c.Workers))
	return nil
}

// tenant returns the named tenant, adding an unreserved one if the config
// did not name it.
func (m *MTDBF) tenant(name string) *tenant {
	tn := m.byName[name]
	if tn == nil {
		tn = &tenant{name: name}
		m.tenants = append(m.tenants, tn)
		m.byName[name] = tn
	}
	return tn
}

func remaining(t sdk.Task) int64 { return int64(t.Remaining()) }

// Admit admits t as Guaranteed if its tenant's demand test passes, as
// Best-effort if the machine's passes, and refuses it otherwise (or when
// MaxQueued tasks are queued).
func (m *MTDBF) Admit(t sdk.Task, now time.Duration) (sdk.Class, bool) {
	if e, known := m.tasks[t.ID]; known {
		return e.class, true // admitted twice: a caller's bug; change nothing
	}
	if m.g.Len()+m.be.Len() >= m.max {
		return sdk.ClassBestEffort, false
	}
	tn := m.tenant(t.Tenant)
	c, d, n := remaining(t), int64(t.Deadline), int64(now)
	switch {
	case tn.g != nil && tn.g.fits(d, c, n):
		m.add(t.ID, tn, sdk.ClassGuaranteed, d, c)
		return sdk.ClassGuaranteed, true
	case m.all.fits(d, c, n):
		m.add(t.ID, tn, sdk.ClassBestEffort, d, c)
		return sdk.ClassBestEffort, true
	}
	return sdk.ClassBestEffort, false
}

// add records an admitted task in the demand sets.
func (m *MTDBF) add(id sdk.TaskID, tn *tenant, class sdk.Class, dl, c int64) {
	m.tasks[id] = entry{tn: tn, class: class, dl: dl, c: c}
	m.all.insert(dl, id, c, false)
	if class == sdk.ClassGuaranteed {
		tn.g.insert(dl, id, c, false)
	} else {
		tn.beDemand += c
	}
}

// forget removes an admitted task from the demand sets and the queues.
func (m *MTDBF) forget(id sdk.TaskID, e entry) {
	delete(m.tasks, id)
	m.all.remove(e.dl, id)
	if e.class == sdk.ClassGuaranteed {
		e.tn.g.remove(e.dl, id)
		m.g.Remove(id)
	} else {
		e.tn.beDemand -= e.c
		m.be.Remove(id)
	}
}

// Enqueue queues t by class. A task that was never admitted (no Admit
// call) is taken as Best-effort and counted in the machine's demand.
func (m *MTDBF) Enqueue(t sdk.Task, _ sdk.EnqueueReason) {
	e, ok := m.tasks[t.ID]
	if !ok {
		m.add(t.ID, m.tenant(t.Tenant), sdk.ClassBestEffort, int64(t.Deadline), remaining(t))
		e = m.tasks[t.ID]
	}
	k := key{t.Deadline, t.Arrival}
	if e.class == sdk.ClassGuaranteed {
		m.g.Push(t.ID, k)
		return
	}
	m.be.Push(t.ID, k)
	m.all.set(e.dl, t.ID, e.c, true) // flagged: Shed may give it up
}

// GetNext pops the earliest-deadline Guaranteed task, else the
// earliest-deadline Best-effort one.
func (m *MTDBF) GetNext(sdk.WorkerID, time.Duration) (sdk.TaskID, bool) {
	if id, _, ok := m.g.Pop(); ok {
		return id, true
	}
	id, _, ok := m.be.Pop()
	if ok {
		e := m.tasks[id]
		m.all.set(e.dl, id, e.c, false)
	}
	return id, ok
}

func rank(c sdk.Class) int {
	switch c {
	case sdk.ClassGuaranteed:
		return 2
	case sdk.ClassDefault:
		return 1
	}
	return 0
}

// classOf is the class t was admitted with (t.Class for a task the policy
// does not know, such as a hypothetical one).
func (m *MTDBF) classOf(t sdk.Task) sdk.Class {
	if e, ok := m.tasks[t.ID]; ok {
		return e.class
	}
	return t.Class
}

// ahead reports whether a task of class ac and deadline ad runs before one
// of class bc and deadline bd: higher class, then strictly earlier deadline.
func ahead(ac sdk.Class, ad time.Duration, bc sdk.Class, bd time.Duration) bool {
	if ac != bc {
		return rank(ac) > rank(bc)
	}
	return ad < bd
}

// OnInterrupt preempts cur for a queued task of a higher class, or of the
// same class with a strictly earlier deadline.
func (m *MTDBF) OnInterrupt(_ sdk.WorkerID, cur sdk.Task, _ time.Duration) bool {
	if _, k, ok := m.g.Peek(); ok {
		return ahead(sdk.ClassGuaranteed, k.deadline, m.classOf(cur), cur.Deadline)
	}
	if _, k, ok := m.be.Peek(); ok {
		return ahead(sdk.ClassBestEffort, k.deadline, m.classOf(cur), cur.Deadline)
	}
	return false
}

// WouldPreempt reports whether arriving's class is higher than cur's, or
// the same with a strictly earlier deadline.
func (m *MTDBF) WouldPreempt(_ sdk.WorkerID, cur, arriving sdk.Task, _ time.Duration) bool {
	return cur.ID != arriving.ID && ahead(m.classOf(arriving), arriving.Deadline, m.classOf(cur), cur.Deadline)
}

// Dequeue forgets id and releases its demand; a task Shed already gave up
// is gone.
func (m *MTDBF) Dequeue(id sdk.TaskID, _ sdk.DequeueReason) {
	if e, ok := m.tasks[id]; ok {
		m.forget(id, e)
	}
}

// Charge shrinks t's demand to its remaining expected execution.
func (m *MTDBF) Charge(t sdk.Task, _, _ time.Duration) {
	e, ok := m.tasks[t.ID]
	if !ok {
		return
	}
	c := remaining(t)
	if c == e.c {
		return
	}
	queued := e.class == sdk.ClassBestEffort && m.be.Contains(t.ID) // false in the core: t is not queued
	m.all.set(e.dl, t.ID, c, queued)
	if e.class == sdk.ClassGuaranteed {
		e.tn.g.set(e.dl, t.ID, c, false)
	} else {
		e.tn.beDemand += c - e.c
	}
	e.c = c
	m.tasks[t.ID] = e
}

// Shed gives up queued Best-effort tasks while the machine's demand test
// fails: at the earliest deadline t ≥ now where D_all(t) > workers·(t −
// now), it sheds the queued Best-effort task with the latest deadline ≤ t,
// and looks again; it stops when the test passes or no queued Best-effort
// task is due by the failing deadline.
func (m *MTDBF) Shed(now time.Duration) []sdk.TaskID {
	var shed []sdk.TaskID
	n := int64(now)
	thr := -m.all.rate * float64(n)
	for {
		v := m.all.firstOver(n, thr)
		if v == 0 {
			return shed
		}
		b := m.all.lastFlagged(m.all.nodes[v].dl)
		if b == 0 {
			return shed
		}
		id := m.all.nodes[b].id
		m.forget(id, m.tasks[id])
		shed = append(shed, id)
	}
}

// Report returns, per tenant, its admitted demand (remaining expected
// execution of its admitted tasks not yet finished, both classes), the part
// of it admitted as Guaranteed, and its reservation.
func (m *MTDBF) Report(now time.Duration) []sdk.Gauge {
	g := make([]sdk.Gauge, 0, 3*len(m.tenants)+1)
	for _, tn := range m.tenants {
		var gd int64
		if tn.g != nil {
			gd = tn.g.sum()
		}
		g = append(g,
			sdk.Gauge{Name: "admitted_demand_seconds", Tenant: tn.name, Value: seconds(gd + tn.beDemand)},
			sdk.Gauge{Name: "guaranteed_demand_seconds", Tenant: tn.name, Value: seconds(gd)},
			sdk.Gauge{Name: "reservation", Tenant: tn.name, Value: tn.res})
	}
	return append(g, sdk.Gauge{Name: sdk.HeadroomGauge, Value: m.all.headroom(int64(now))})
}

func seconds(ns int64) float64 { return float64(ns) / float64(time.Second) }
