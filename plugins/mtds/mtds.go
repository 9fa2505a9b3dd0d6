package mtds

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
const Name = "mtds"

// MaxQueued is how many queued tasks the policy holds before Admit refuses
// new ones.
const MaxQueued = 65536

var (
	_ sdk.Policy     = (*MTDS)(nil)
	_ sdk.Charger    = (*MTDS)(nil)
	_ sdk.Configurer = (*MTDS)(nil)
	_ sdk.Admitter   = (*MTDS)(nil)
	_ sdk.Reporter   = (*MTDS)(nil)
)

// MTDS is a multi-tenant deferrable server: per-tenant budgets decide the
// class, EDF within a class.
type MTDS struct {
	paid   []*tenant           // paid tenants, in config order
	byName map[string]*tenant  // paid tenants by name
	def    *taskheap.Heap[key] // queued tasks of unpaid tenants
	tasks  map[sdk.TaskID]info // admitted or enqueued, not yet dequeued
	queued int
	max    int           // MaxQueued, smaller in tests
	now    time.Duration // latest time passed to Admit, GetNext or Charge
}

// info is what the policy remembers about a task in the system.
type info struct {
	tn      *tenant       // nil for an unpaid tenant
	charged time.Duration // the task's Ran as of its last Charge or Enqueue
}

// tenant is a paid tenant and its budget.
type tenant struct {
	name        string
	period, max time.Duration
	epoch       time.Duration // period index (now / period) of spent
	spent       time.Duration // budget used in period epoch
	q           *taskheap.Heap[key]
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

// New returns an MTDS policy with no paid tenant; Configure names them.
func New() *MTDS {
	return &MTDS{
		byName: map[string]*tenant{},
		def:    taskheap.New(compare),
		tasks:  map[sdk.TaskID]info{},
		max:    MaxQueued,
	}
}

// Name returns Name.
func (*MTDS) Name() string { return Name }

// Options are mtds's [policy.mtds] keys: max_queued (default MaxQueued).
type Options = queuebound.Options

// TenantOptions are a tenant's policy.mtds keys: a tenant with a
// replenishment period is paid, and its max budget of CPU time refills at
// every period boundary. Neither or both.
type TenantOptions struct {
	ReplenishmentPeriod time.Duration `toml:"replenishment_period"`
	MaxBudget           time.Duration `toml:"max_budget"`
}

// Configure records the paid tenants and the queue bound. It must be
// called before any task enters.
func (m *MTDS) Configure(c sdk.Config) error {
	if c.Workers < 1 {
		return fmt.Errorf("mtds: %d workers", c.Workers)
	}
	if m.queued > 0 || len(m.tasks) > 0 {
		return fmt.Errorf("mtds: Configure with tasks in the system")
	}
	// Every problem is reported, not just the first.
	var errs []error
	o, err := queuebound.Decode(c.Options, MaxQueued)
	if err != nil {
		errs = append(errs, err)
	}
	paid := []*tenant(nil)
	byName := map[string]*tenant{}
	seen := map[string]bool{}
	for _, tc := range c.Tenants {
		if seen[tc.Name] {
			return fmt.Errorf("mtds: tenant %q configured twice", tc.Name)
		}
		seen[tc.Name] = true
		var to TenantOptions
		if err := tc.Options.Decode(&to); err != nil {
			errs = append(errs, sdk.ForTenant(tc.Name, err))
			continue
		}
		bad := func(key, format string, args ...any) {
			errs = append(errs, &sdk.OptionError{Tenant: tc.Name, Key: key, Err: fmt.Errorf(format, args...)})
		}
		switch {
		case to.ReplenishmentPeriod < 0:
			bad("replenishment_period", "must be positive, got %s", to.ReplenishmentPeriod)
		case to.MaxBudget < 0:
			bad("max_budget", "must be positive, got %s", to.MaxBudget)
		case to.ReplenishmentPeriod == 0 && to.MaxBudget == 0:
			// unpaid: always Default
		case to.ReplenishmentPeriod == 0:
			bad("max_budget", "a max budget needs a replenishment_period")
		case to.MaxBudget == 0:
			bad("replenishment_period", "a replenishment period needs a max_budget")
		case to.MaxBudget > to.ReplenishmentPeriod:
			bad("max_budget", "must not exceed replenishment_period (%s), got %s", to.ReplenishmentPeriod, to.MaxBudget)
		default:
			tn := &tenant{name: tc.Name, period: to.ReplenishmentPeriod, max: to.MaxBudget, q: taskheap.New(compare)}
			paid = append(paid, tn)
			byName[tc.Name] = tn
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	m.paid, m.byName, m.max = paid, byName, o.MaxQueued
	return nil
}

// remaining is the budget left at now after extra more CPU time in the
// current period; it may be negative.
func (tn *tenant) remaining(now, extra time.Duration) time.Duration {
	spent := tn.spent
	if now/tn.period != tn.epoch {
		spent = 0 // a boundary passed since the last charge: refilled
	}
	return tn.max - spent - extra
}

// class is the tenant's class at now after extra more CPU time; a nil
// tenant is unpaid.
func (tn *tenant) class(now, extra time.Duration) sdk.Class {
	if tn != nil && tn.remaining(now, extra) > 0 {
		return sdk.ClassGuaranteed
	}
	return sdk.ClassDefault
}

// inPeriod clips d to the part of the current period before now.
func (tn *tenant) inPeriod(d, now time.Duration) time.Duration {
	return min(d, now%tn.period)
}

// charge spends used CPU time, which ended at now.
func (tn *tenant) charge(used, now time.Duration) {
	e := now / tn.period
	switch {
	case e < tn.epoch || used <= 0:
		return // from a period already refilled
	case e > tn.epoch:
		tn.epoch, tn.spent = e, 0
	}
	tn.spent += tn.inPeriod(used, now)
}

func (m *MTDS) see(now time.Duration) { m.now = max(m.now, now) }

// uncharged is the CPU time cur has used in its current stretch that has
// not been charged yet, within the current period of its tenant.
func (m *MTDS) uncharged(cur sdk.Task, tn *tenant, now time.Duration) time.Duration {
	if tn == nil {
		return 0
	}
	in, ok := m.tasks[cur.ID]
	if !ok || cur.Ran <= in.charged {
		return 0
	}
	return tn.inPeriod(cur.Ran-in.charged, now)
}

// Admit refuses when MaxQueued tasks are queued, and otherwise admits t in
// its tenant's current class.
func (m *MTDS) Admit(t sdk.Task, now time.Duration) (sdk.Class, bool) {
	m.see(now)
	tn := m.byName[t.Tenant]
	if m.queued >= m.max {
		return sdk.ClassDefault, false
	}
	if _, known := m.tasks[t.ID]; !known {
		m.tasks[t.ID] = info{tn: tn, charged: t.Ran}
	}
	return tn.class(now, 0), true
}

// Enqueue queues t on its tenant's heap (unpaid tenants share one).
func (m *MTDS) Enqueue(t sdk.Task, _ sdk.EnqueueReason) {
	tn := m.byName[t.Tenant]
	m.tasks[t.ID] = info{tn: tn, charged: t.Ran} // not running: nothing uncharged
	q := m.def
	if tn != nil {
		q = tn.q
	}
	n := q.Len()
	q.Push(t.ID, key{t.Deadline, t.Arrival})
	m.queued += q.Len() - n
}

// head is the first task of one heap, with the class it has now.
type head struct {
	q     *taskheap.Heap[key]
	id    sdk.TaskID
	k     key
	class sdk.Class
	ok    bool
}

func rank(c sdk.Class) int {
	if c == sdk.ClassGuaranteed {
		return 1
	}
	return 0
}

// before reports whether h runs before o: higher class, then EDF.
func (h *head) before(o *head) bool {
	switch {
	case !h.ok:
		return false
	case !o.ok:
		return true
	case h.class != o.class:
		return rank(h.class) > rank(o.class)
	}
	if c := compare(h.k, o.k); c != 0 {
		return c < 0
	}
	return h.id < o.id
}

// best is the task GetNext would return at now, if tenant of has used
// extra more CPU time than charged.
func (m *MTDS) best(now time.Duration, of *tenant, extra time.Duration) head {
	var b head
	for _, tn := range m.paid {
		id, k, ok := tn.q.Peek()
		if !ok {
			continue
		}
		x := time.Duration(0)
		if tn == of {
			x = extra
		}
		h := head{q: tn.q, id: id, k: k, class: tn.class(now, x), ok: true}
		if h.before(&b) {
			b = h
		}
	}
	if id, k, ok := m.def.Peek(); ok {
		h := head{q: m.def, id: id, k: k, class: sdk.ClassDefault, ok: true}
		if h.before(&b) {
			b = h
		}
	}
	return b
}

// GetNext pops the earliest-deadline task of the highest class present.
func (m *MTDS) GetNext(_ sdk.WorkerID, now time.Duration) (sdk.TaskID, bool) {
	m.see(now)
	b := m.best(now, nil, 0)
	if !b.ok {
		return 0, false
	}
	b.q.Pop()
	m.queued--
	return b.id, true
}

// OnInterrupt preempts cur for a waiting task of a higher class, or of the
// same class with a strictly earlier deadline; cur's uncharged stretch
// counts against its tenant's budget.
func (m *MTDS) OnInterrupt(_ sdk.WorkerID, cur sdk.Task, now time.Duration) bool {
	tn := m.byName[cur.Tenant]
	extra := m.uncharged(cur, tn, now)
	b := m.best(now, tn, extra)
	if !b.ok {
		return false
	}
	if c := tn.class(now, extra); b.class != c {
		return rank(b.class) > rank(c)
	}
	return b.k.deadline < cur.Deadline
}

// WouldPreempt reports whether arriving's class is higher than cur's, or
// the same with a strictly earlier deadline.
func (m *MTDS) WouldPreempt(_ sdk.WorkerID, cur, arriving sdk.Task, now time.Duration) bool {
	if cur.ID == arriving.ID {
		return false
	}
	now = max(now, m.now) // never before a charge already made
	ct, at := m.byName[cur.Tenant], m.byName[arriving.Tenant]
	if ct != at { // one tenant always has one class
		cc := ct.class(now, m.uncharged(cur, ct, now))
		ac := at.class(now, m.uncharged(arriving, at, now))
		if cc != ac {
			return rank(ac) > rank(cc)
		}
	}
	return arriving.Deadline < cur.Deadline
}

// Dequeue forgets id, removing it from its heap if it is still queued.
func (m *MTDS) Dequeue(id sdk.TaskID, _ sdk.DequeueReason) {
	in, ok := m.tasks[id]
	if !ok {
		return
	}
	delete(m.tasks, id)
	q := m.def
	if in.tn != nil {
		q = in.tn.q
	}
	if _, held := q.Remove(id); held {
		m.queued--
	}
}

// Charge spends used CPU time from t's tenant's budget, if it is paid.
func (m *MTDS) Charge(t sdk.Task, used, now time.Duration) {
	m.see(now)
	if tn := m.byName[t.Tenant]; tn != nil {
		tn.charge(used, now)
	}
	if in, ok := m.tasks[t.ID]; ok {
		in.charged = t.Ran
		m.tasks[t.ID] = in
	}
}

// Report returns, per paid tenant, its remaining budget and whether it is
// Guaranteed at now, and the number of queued tasks.
func (m *MTDS) Report(now time.Duration) []sdk.Gauge {
	g := make([]sdk.Gauge, 0, 2*len(m.paid)+1)
	for _, tn := range m.paid {
		r := max(tn.remaining(now, 0), 0)
		guaranteed := 0.0
		if r > 0 {
			guaranteed = 1
		}
		g = append(g,
			sdk.Gauge{Name: "budget_remaining_seconds", Tenant: tn.name, Value: r.Seconds()},
			sdk.Gauge{Name: "guaranteed", Tenant: tn.name, Value: guaranteed})
	}
	return append(g, sdk.Gauge{Name: "queued", Value: float64(m.queued)})
}
