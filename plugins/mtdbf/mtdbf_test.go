package mtdbf

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gosledge/gosledge/sdk"
	"github.com/gosledge/gosledge/sdk/policytest"
)

func TestConformance(t *testing.T) {
	policytest.Run(t, func() sdk.Policy { return New() }, policytest.Options{
		Before: func(a, b sdk.Task) bool {
			return ahead(a.Class, a.Deadline, b.Class, b.Deadline)
		},
		Preemptive:    true,
		TenantOptions: map[string]sdk.Options{"t0": "reservation = 0.4", "t1": "reservation = 0.3"},
	})
}

const (
	us = time.Microsecond
	ms = time.Millisecond
)

// check verifies the treap: key order, heap order of priorities, the
// aggregates, the size and the free list.
func (t *treap) check(tb testing.TB) {
	tb.Helper()
	if s := t.nodes[0]; s.sum != 0 || s.cnt != 0 || s.mx != negInf || s.l != 0 || s.r != 0 {
		tb.Fatalf("nil node changed: %+v", s)
	}
	var walk func(n int32) (count int, sum int64, mx float64, cnt int32)
	var prev *node
	walk = func(n int32) (int, int64, float64, int32) {
		if n == 0 {
			return 0, 0, negInf, 0
		}
		x := &t.nodes[n]
		for _, ch := range []int32{x.l, x.r} {
			if ch != 0 && t.nodes[ch].prio > x.prio {
				tb.Fatalf("node %d: child %d has a higher priority", x.id, t.nodes[ch].id)
			}
		}
		lc, ls, lm, lq := walk(x.l)
		if prev != nil && (prev.dl > x.dl || prev.dl == x.dl && prev.id >= x.id) {
			tb.Fatalf("node (%d, %d) after (%d, %d)", x.dl, x.id, prev.dl, prev.id)
		}
		prev = x
		rc, rs, rm, rq := walk(x.r)
		own := ls + x.c
		mx := max(lm, float64(own)-t.rate*float64(x.dl), float64(own)+rm)
		cnt := lq + rq
		if x.q {
			cnt++
		}
		if x.sum != own+rs || x.mx != mx || x.cnt != cnt {
			tb.Fatalf("node %d: aggregates sum %d mx %v cnt %d, want %d %v %d", x.id, x.sum, x.mx, x.cnt, own+rs, mx, cnt)
		}
		return lc + rc + 1, x.sum, x.mx, x.cnt
	}
	count, _, _, _ := walk(t.root)
	if count != t.n || len(t.nodes)-1-len(t.free) != t.n {
		tb.Fatalf("treap: %d nodes reachable, n %d, %d allocated, %d free", count, t.n, len(t.nodes)-1, len(t.free))
	}
}

// ---- the brute-force reference ----

type refTask struct {
	id       sdk.TaskID
	tenant   string
	class    sdk.Class
	dl       time.Duration
	arrival  time.Duration
	expected time.Duration
	ran      time.Duration
	queued   bool
}

func (r *refTask) c() time.Duration { return max(r.expected-r.ran, 0) }

type ref struct {
	workers int
	res     map[string]float64
	tasks   map[sdk.TaskID]*refTask
}

// fits is the demand test by enumeration: D(t) + c ≤ rate·(t − now) for
// t = d and every deadline t ≥ d among the tasks in.
func fits(in func(*refTask) bool, tasks map[sdk.TaskID]*refTask, rate float64, d, c, now time.Duration) bool {
	points := []time.Duration{d}
	for _, x := range tasks {
		if in(x) && x.dl >= d {
			points = append(points, x.dl)
		}
	}
	for _, t := range points {
		var dem time.Duration
		for _, x := range tasks {
			if in(x) && x.dl <= t {
				dem += x.c()
			}
		}
		if float64(dem+c) > rate*float64(t-now) {
			return false
		}
	}
	return true
}

func (r *ref) admit(t sdk.Task, now time.Duration) (sdk.Class, bool) {
	c := t.Remaining()
	if res := r.res[t.Tenant]; res > 0 && fits(func(x *refTask) bool { return x.tenant == t.Tenant && x.class == sdk.ClassGuaranteed },
		r.tasks, res*float64(r.workers), t.Deadline, c, now) {
		return sdk.ClassGuaranteed, true
	}
	if fits(func(*refTask) bool { return true }, r.tasks, float64(r.workers), t.Deadline, c, now) {
		return sdk.ClassBestEffort, true
	}
	return sdk.ClassBestEffort, false
}

// shed: the earliest deadline t ≥ now with D_all(t) > W·(t − now), then the
// queued best-effort task with the latest (deadline, ID) due by t; again.
func (r *ref) shed(now time.Duration) []sdk.TaskID {
	var out []sdk.TaskID
	for {
		var dls []time.Duration
		for _, x := range r.tasks {
			if x.dl >= now {
				dls = append(dls, x.dl)
			}
		}
		slices.Sort(dls)
		found, tstar := false, time.Duration(0)
		for _, t := range dls {
			var dem time.Duration
			for _, x := range r.tasks {
				if x.dl <= t {
					dem += x.c()
				}
			}
			if float64(dem) > float64(r.workers)*float64(t-now) {
				found, tstar = true, t
				break
			}
		}
		if !found {
			return out
		}
		var victim *refTask
		for _, x := range r.tasks {
			if x.queued && x.class == sdk.ClassBestEffort && x.dl <= tstar &&
				(victim == nil || x.dl > victim.dl || x.dl == victim.dl && x.id > victim.id) {
				victim = x
			}
		}
		if victim == nil {
			return out
		}
		delete(r.tasks, victim.id)
		out = append(out, victim.id)
	}
}

// next is GetNext by enumeration.
func (r *ref) next() (sdk.TaskID, bool) {
	var best *refTask
	for _, x := range r.tasks {
		if !x.queued {
			continue
		}
		if best == nil || rank(x.class) > rank(best.class) || x.class == best.class &&
			cmp.Or(cmp.Compare(x.dl, best.dl), cmp.Compare(x.arrival, best.arrival), cmp.Compare(x.id, best.id)) < 0 {
			best = x
		}
	}
	if best == nil {
		return 0, false
	}
	best.queued = false
	return best.id, true
}

func (r *ref) demand(tenant string) (all, guaranteed time.Duration) {
	for _, x := range r.tasks {
		if x.tenant == tenant {
			all += x.c()
			if x.class == sdk.ClassGuaranteed {
				guaranteed += x.c()
			}
		}
	}
	return all, guaranteed
}

var refTenants = []sdk.TenantConfig{reserved("a", 0.5), reserved("b", 0.25), {Name: "c"}}

// reserved is a tenant with reservation r.
func reserved(name string, r float64) sdk.TenantConfig {
	return sdk.TenantConfig{Name: name, Options: sdk.Options(fmt.Sprintf("reservation = %v", r))}
}

// config is the sdk.Config of workers workers and tenants, no options.
func config(workers int, tenants []sdk.TenantConfig) sdk.Config {
	return sdk.Config{Workers: workers, Tenants: tenants}
}

// TestReference plays random admissions, runs, charges and exits against
// the brute-force reference and compares every decision and the demand.
// Times are whole microseconds and rates multiples of 1/8, so both sides
// compute exactly.
func TestReference(t *testing.T) {
	steps := 4000
	if testing.Short() {
		steps = 1000
	}
	for seed := range uint64(8) {
		workers := []int{1, 2, 4}[seed%3]
		t.Run(fmt.Sprintf("seed=%d/workers=%d", seed, workers), func(t *testing.T) {
			referenceRun(t, seed, workers, steps)
		})
	}
}

func referenceRun(t *testing.T, seed uint64, workers, steps int) {
	rng := rand.New(rand.NewPCG(seed, 11))
	m := New()
	if err := m.Configure(config(workers, refTenants)); err != nil {
		t.Fatal(err)
	}
	r := &ref{workers: workers, res: map[string]float64{}, tasks: map[sdk.TaskID]*refTask{}}
	for _, tc := range refTenants {
		var o TenantOptions
		if err := tc.Options.Decode(&o); err != nil {
			t.Fatal(err)
		}
		r.res[tc.Name] = o.Reservation
	}
	names := []string{"a", "a", "b", "b", "c", "stranger"}
	now := time.Second
	id := sdk.TaskID(0)
	var running []*refTask
	stats := map[string]int{}
	// Load varies: phases of many admissions and few exits, and back.
	for step := range steps {
		now += time.Duration(rng.IntN(800)) * us
		busy := (step/500)%2 == 0
		arrive := 2
		if busy {
			arrive = 4
		}
		switch op := rng.IntN(10); {
		case op < arrive:
			id += sdk.TaskID(1 + rng.IntN(2))
			rel := time.Duration(rng.IntN(20000)-1000) * us // a few in the past
			task := sdk.Task{ID: id, Tenant: names[rng.IntN(len(names))], Arrival: now, Deadline: now + rel,
				Expected: time.Duration(rng.IntN(3000)) * us}
			wc, wok := r.admit(task, now)
			gc, gok := m.Admit(task, now)
			if wc != gc || wok != gok {
				t.Fatalf("step %d: Admit(%+v) at %v = %v, %v; reference %v, %v", step, task, now, gc, gok, wc, wok)
			}
			if !gok {
				stats["refused"]++
				break
			}
			stats[gc.String()]++
			r.tasks[id] = &refTask{id: id, tenant: task.Tenant, class: gc, dl: task.Deadline, arrival: now, expected: task.Expected, queued: true}
			task.Class = gc
			m.Enqueue(task, sdk.Arrived)
			want, got := r.shed(now), m.Shed(now)
			if !slices.Equal(want, got) {
				t.Fatalf("step %d: Shed at %v = %v, reference %v", step, now, got, want)
			}
			stats["shed"] += len(got)
			for _, sid := range got {
				m.Dequeue(sid, sdk.Cancelled) // already gone
			}
		case op < 6:
			wid, wok := r.next()
			gid, gok := m.GetNext(0, now)
			if wid != gid || wok != gok {
				t.Fatalf("step %d: GetNext = %d, %v; reference %d, %v", step, gid, gok, wid, wok)
			}
			if gok {
				running = append(running, r.tasks[gid])
			}
		case op < 9 && len(running) > 0:
			// A running task stops: charged, then preempted, blocked
			// (still in the system), completed or failed.
			i := rng.IntN(len(running))
			x := running[i]
			running = slices.Delete(running, i, i+1)
			used := time.Duration(rng.IntN(2000)) * us
			x.ran += used
			m.Charge(sdk.Task{ID: x.id, Tenant: x.tenant, Deadline: x.dl, Arrival: x.arrival, Expected: x.expected, Ran: x.ran}, used, now)
			switch rng.IntN(4) {
			case 0:
				x.queued = true
				m.Enqueue(sdk.Task{ID: x.id, Tenant: x.tenant, Deadline: x.dl, Arrival: x.arrival, Expected: x.expected, Ran: x.ran, Class: x.class}, sdk.Preempted)
			case 1:
				running = append(running, x) // blocked, back later (as if it woke and ran)
			default:
				delete(r.tasks, x.id)
				m.Dequeue(x.id, []sdk.DequeueReason{sdk.Completed, sdk.Failed}[rng.IntN(2)])
			}
		default:
			for _, x := range r.tasks { // a random queued task is cancelled
				if x.queued {
					delete(r.tasks, x.id)
					m.Dequeue(x.id, sdk.Cancelled)
					break
				}
			}
		}
		compareDemand(t, step, m, r)
		if step%97 == 0 {
			m.all.check(t)
			for _, tn := range m.tenants {
				if tn.g != nil {
					tn.g.check(t)
				}
			}
		}
	}
	t.Logf("decisions: %v", stats)
	for _, k := range []string{"guaranteed", "best-effort", "refused", "shed"} {
		if stats[k] == 0 {
			t.Errorf("no %s decision: the random mix is too narrow", k)
		}
	}
	// Everything leaves: nothing may be left behind.
	for _, x := range running {
		m.Dequeue(x.id, sdk.Completed)
		delete(r.tasks, x.id)
	}
	for id := range r.tasks {
		m.Dequeue(id, sdk.Cancelled)
	}
	assertEmpty(t, m)
}

func compareDemand(t *testing.T, step int, m *MTDBF, r *ref) {
	t.Helper()
	for _, tn := range m.tenants {
		var g int64
		if tn.g != nil {
			g = tn.g.sum()
		}
		wa, wg := r.demand(tn.name)
		if time.Duration(g) != wg || time.Duration(g+tn.beDemand) != wa {
			t.Fatalf("step %d: tenant %s demand %v (guaranteed %v), reference %v (%v)", step, tn.name, time.Duration(g+tn.beDemand), time.Duration(g), wa, wg)
		}
	}
	var all time.Duration
	for _, x := range r.tasks {
		all += x.c()
	}
	if time.Duration(m.all.sum()) != all || m.all.n != len(r.tasks) || len(m.tasks) != len(r.tasks) {
		t.Fatalf("step %d: machine demand %v over %d tasks, reference %v over %d", step, time.Duration(m.all.sum()), m.all.n, all, len(r.tasks))
	}
}

func assertEmpty(t *testing.T, m *MTDBF) {
	t.Helper()
	m.all.check(t)
	if m.all.n != 0 || m.all.sum() != 0 || len(m.tasks) != 0 || m.g.Len() != 0 || m.be.Len() != 0 {
		t.Fatalf("leaked: %d nodes, demand %d, %d tasks, queued %d+%d", m.all.n, m.all.sum(), len(m.tasks), m.g.Len(), m.be.Len())
	}
	for _, tn := range m.tenants {
		if tn.beDemand != 0 || tn.g != nil && (tn.g.n != 0 || tn.g.sum() != 0) {
			t.Fatalf("tenant %s leaked demand: best-effort %d", tn.name, tn.beDemand)
		}
	}
}

// TestTreapQueries compares the treap's queries with enumeration on random
// sets, including shared deadlines.
func TestTreapQueries(t *testing.T) {
	for seed := range uint64(4) {
		rng := rand.New(rand.NewPCG(seed, 5))
		tr := newTreap(0.75)
		type item struct {
			dl, c int64
			q     bool
		}
		model := map[sdk.TaskID]*item{}
		for step := range 2000 {
			switch op := rng.IntN(10); {
			case op < 5 && len(model) < 100:
				id := sdk.TaskID(step + 1)
				it := &item{dl: int64(rng.IntN(50)) * 1000, c: int64(rng.IntN(20)) * 1000, q: rng.IntN(2) == 0}
				model[id] = it
				tr.insert(it.dl, id, it.c, it.q)
			case op < 7:
				for id, it := range model {
					it.c, it.q = int64(rng.IntN(20))*1000, rng.IntN(2) == 0
					tr.set(it.dl, id, it.c, it.q)
					break
				}
			default:
				for id, it := range model {
					delete(model, id)
					tr.remove(it.dl, id)
					break
				}
			}
			tr.check(t)
			d := int64(rng.IntN(55)) * 1000
			wantMax := negInf
			var firstDL int64 = -1
			thr := float64(-rng.IntN(40000))
			var dls []int64
			for _, it := range model {
				dls = append(dls, it.dl)
			}
			slices.Sort(dls)
			for _, dl := range dls {
				var D int64 // Σ c due by dl, by enumeration
				for _, it := range model {
					if it.dl <= dl {
						D += it.c
					}
				}
				f := float64(D) - tr.rate*float64(dl)
				if dl >= d {
					wantMax = max(wantMax, f)
					if firstDL < 0 && f > thr {
						firstDL = dl
					}
				}
			}
			var wantBefore int64
			for _, it := range model {
				if it.dl < d {
					wantBefore += it.c
				}
			}
			if got, before := tr.maxFrom(d); got != wantMax || before != wantBefore {
				t.Fatalf("step %d: maxFrom(%d) = %v, %d, want %v, %d", step, d, got, before, wantMax, wantBefore)
			}
			v := tr.firstOver(d, thr)
			if (v == 0) != (firstDL < 0) || v != 0 && tr.nodes[v].dl != firstDL {
				t.Fatalf("step %d: firstOver(%d, %v) = node %d, want deadline %d", step, d, thr, v, firstDL)
			}
			var wantLast sdk.TaskID
			var wantLastDL int64 = -1
			for id, it := range model {
				if it.q && it.dl <= d && (it.dl > wantLastDL || it.dl == wantLastDL && id > wantLast) {
					wantLast, wantLastDL = id, it.dl
				}
			}
			if l := tr.lastFlagged(d); tr.nodes[l].id != wantLast || l == 0 && wantLast != 0 {
				t.Fatalf("step %d: lastFlagged(%d) = %d, want %d", step, d, tr.nodes[l].id, wantLast)
			}
		}
	}
}

// ---- hand-made cases ----

// op is one call in a table-driven test; durations are in ms, now too.
// Calls that answer append a word: "G", "BE", "refused", "next 3",
// "shed [4]", "intr true", "would false", "demand a 5ms/3ms".
type op struct {
	kind   string
	now    time.Duration
	t, a   sdk.Task
	tenant string
	n      int
}

func tk(id sdk.TaskID, tenant string, deadline, expected time.Duration) sdk.Task {
	return sdk.Task{ID: id, Tenant: tenant, Deadline: deadline * ms, Expected: expected * ms}
}

// admit: Admit at now, then Enqueue and Shed if admitted.
func admit(now time.Duration, id sdk.TaskID, tenant string, deadline, expected time.Duration) op {
	t := tk(id, tenant, deadline, expected)
	t.Arrival = now * ms
	return op{kind: "admit", now: now * ms, t: t}
}
func next() op { return op{kind: "next"} }

// charge: task id has now run ran ms in all.
func charge(id sdk.TaskID, tenant string, deadline, expected, ran time.Duration) op {
	t := tk(id, tenant, deadline, expected)
	t.Ran = ran * ms
	return op{kind: "charge", t: t}
}
func requeue(id sdk.TaskID, tenant string, deadline, expected, ran time.Duration) op {
	t := tk(id, tenant, deadline, expected)
	t.Ran = ran * ms
	return op{kind: "requeue", t: t}
}
func done(id sdk.TaskID) op           { return op{kind: "done", t: sdk.Task{ID: id}} }
func cancel(id sdk.TaskID) op         { return op{kind: "cancel", t: sdk.Task{ID: id}} }
func demand(tenant string) op         { return op{kind: "demand", tenant: tenant} }
func intr(cur sdk.Task) op            { return op{kind: "intr", t: cur} }
func would(cur, arriving sdk.Task) op { return op{kind: "would", t: cur, a: arriving} }
func limit(n int) op                  { return op{kind: "limit", n: n} }
func shedAt(now time.Duration) op     { return op{kind: "shed", now: now * ms} }
func configure(workers int) op        { return op{kind: "workers", n: workers} }

var tenants = []sdk.TenantConfig{reserved("a", 0.5), reserved("b", 0.25), {Name: "free"}}

func run(t *testing.T, ops []op) []string {
	t.Helper()
	m := New()
	if err := m.Configure(config(1, tenants)); err != nil {
		t.Fatal(err)
	}
	var out []string
	short := map[sdk.Class]string{sdk.ClassGuaranteed: "G", sdk.ClassBestEffort: "BE", sdk.ClassDefault: "D"}
	for _, o := range ops {
		switch o.kind {
		case "workers":
			if err := m.Configure(config(o.n, tenants)); err != nil {
				t.Fatal(err)
			}
		case "limit":
			m.max = o.n
		case "admit":
			class, ok := m.Admit(o.t, o.now)
			if !ok {
				out = append(out, "refused")
				continue
			}
			out = append(out, short[class])
			o.t.Class = class
			m.Enqueue(o.t, sdk.Arrived)
			if s := m.Shed(o.now); len(s) > 0 {
				out = append(out, fmt.Sprint("shed ", s))
				for _, id := range s {
					m.Dequeue(id, sdk.Cancelled)
				}
			}
		case "shed":
			out = append(out, fmt.Sprint("shed ", m.Shed(o.now)))
		case "next":
			if id, ok := m.GetNext(0, 0); ok {
				out = append(out, fmt.Sprint("next ", id))
			} else {
				out = append(out, "next -")
			}
		case "charge":
			m.Charge(o.t, 0, 0)
		case "requeue":
			m.Enqueue(o.t, sdk.Preempted)
		case "done":
			m.Dequeue(o.t.ID, sdk.Completed)
		case "cancel":
			m.Dequeue(o.t.ID, sdk.Cancelled)
		case "intr":
			out = append(out, fmt.Sprint("intr ", m.OnInterrupt(0, o.t, 0)))
		case "would":
			out = append(out, fmt.Sprint("would ", m.WouldPreempt(0, o.t, o.a, o.now)))
		case "demand":
			var all, g float64
			for _, v := range m.Report(0) {
				if v.Tenant != o.tenant {
					continue
				}
				switch v.Name {
				case "admitted_demand_seconds":
					all = v.Value
				case "guaranteed_demand_seconds":
					g = v.Value
				}
			}
			out = append(out, fmt.Sprintf("demand %s %v/%v", o.tenant,
				time.Duration(all*1e9+0.5).Round(us), time.Duration(g*1e9+0.5).Round(us)))
		}
	}
	return out
}

func TestMTDBF(t *testing.T) {
	tests := []struct {
		name string
		ops  []op
		want []string
	}{
		{"guaranteed within the reservation, best-effort within the machine, else refused",
			// One worker; a reserves 0.5: 5 ms of supply by 10 ms.
			[]op{
				admit(0, 1, "a", 10, 2),    // a: D(10) 2 ≤ 5
				admit(0, 2, "a", 10, 3),    // a: 5 ≤ 5, exactly
				admit(0, 3, "a", 10, 1),    // a: 6 > 5; machine: 6 ≤ 10
				admit(0, 4, "a", 4, 1),     // a: at 4, 1 ≤ 2 but at 10, 6 > 5; machine: 1 ≤ 4, 7 ≤ 10
				admit(0, 5, "free", 10, 4), // machine: 11 > 10
				admit(0, 6, "free", 20, 4), // machine: 7 + 4 ≤ 20
				admit(0, 7, "a", 30, 7),    // a: 12 ≤ 15
				admit(0, 8, "b", 8, 2),     // b: 2 ≤ 0.25·8
				admit(0, 9, "b", 8, 1),     // b: 3 > 2; machine: at 8, 1+2+1 ≤ 8, at 10, 9 ≤ 10, ...
				admit(0, 10, "stranger", 100, 1),
				demand("a"), demand("b"), demand("free"), demand("stranger")},
			[]string{"G", "G", "BE", "BE", "refused", "BE", "G", "G", "BE", "BE",
				"demand a 14ms/12ms", "demand b 3ms/2ms", "demand free 4ms/0s", "demand stranger 1ms/0s"}},
		{"the test looks at later deadlines, not earlier ones",
			[]op{admit(0, 1, "a", 20, 10), // a: 10 ≤ 10
				admit(0, 2, "a", 4, 1),   // at 4: 1 ≤ 2, but at 20: 11 > 10
				admit(0, 3, "a", 30, 5)}, // at 30: 15 ≤ 15; the task due at 4 (best-effort) is not a's
			[]string{"G", "BE", "G"}},
		{"past and tight deadlines",
			[]op{admit(10, 1, "a", 5, 1), admit(10, 2, "a", 10, 0), admit(10, 3, "free", 10, 0), admit(10, 4, "a", 11, 1)},
			[]string{"refused", "G", "BE", "BE"}},
		{"an unreserved tenant is never guaranteed",
			[]op{admit(0, 1, "free", 100, 0), admit(0, 2, "stranger", 100, 1)},
			[]string{"BE", "BE"}},
		{"demand shrinks with Charge and goes with Dequeue",
			[]op{admit(0, 1, "a", 10, 5), admit(0, 2, "a", 10, 1), next(),
				charge(1, "a", 10, 5, 2), demand("a"), admit(0, 3, "a", 10, 1), // 3 + 1 + 1 ≤ 5
				charge(1, "a", 10, 5, 9), demand("a"), // overrun: floored at 0
				done(3), demand("a"), cancel(2), demand("a"), done(1), demand("a"),
				admit(0, 4, "a", 10, 5)},
			[]string{"G", "BE", "next 1", "demand a 4ms/3ms", "G", "demand a 2ms/1ms", "demand a 1ms/0s",
				"demand a 0s/0s", "demand a 0s/0s", "G"}},
		{"guaranteed before best-effort, EDF within",
			[]op{admit(0, 1, "free", 50, 1), admit(0, 2, "a", 90, 1), admit(0, 3, "free", 40, 1), admit(0, 4, "b", 80, 1),
				next(), next(), next(), next(), next()},
			[]string{"BE", "G", "BE", "G", "next 4", "next 2", "next 3", "next 1", "next -"}},
		{"preemption: class, then strictly earlier deadline",
			[]op{admit(0, 1, "free", 50, 1), admit(0, 2, "a", 90, 1), next(), next(),
				intr(tk(9, "x", 10, 1)), // unknown task: ClassDefault, above best-effort
				admit(0, 3, "free", 40, 1),
				intr(tk(1, "free", 50, 1)), intr(tk(1, "free", 40, 1)), intr(tk(2, "a", 90, 1)),
				admit(0, 4, "b", 80, 1),
				intr(tk(2, "a", 90, 1)), intr(tk(2, "a", 80, 1)), intr(tk(1, "free", 1, 1)),
				would(tk(1, "free", 50, 1), tk(2, "a", 90, 1)), would(tk(2, "a", 90, 1), tk(1, "free", 50, 1)),
				would(tk(2, "a", 90, 1), tk(4, "b", 80, 1)), would(tk(4, "b", 80, 1), tk(2, "a", 90, 1)),
				would(tk(2, "a", 90, 1), tk(2, "a", 90, 1))},
			[]string{"BE", "G", "next 2", "next 1", "intr false", "BE", "intr true", "intr false", "intr false", "G",
				"intr true", "intr false", "intr true",
				"would true", "would false", "would true", "would false", "would false"}},
		{"shed: a guaranteed arrival overloads the machine; the latest best-effort due by then goes",
			[]op{admit(0, 1, "free", 10, 4), admit(0, 2, "free", 12, 4), admit(0, 3, "free", 30, 4),
				admit(0, 4, "a", 10, 5), // a: 5 ≤ 5; machine: D(12) = 13 > 12 -> 2 goes
				demand("free"), next(), next(), next(), next()},
			[]string{"BE", "BE", "BE", "G", "shed [2]", "demand free 8ms/0s", "next 4", "next 1", "next 3", "next -"}},
		{"shed: several, latest deadline first, running best-effort is kept",
			[]op{admit(0, 1, "free", 9, 3), next(), // 1 runs
				admit(0, 2, "free", 10, 2), admit(0, 3, "free", 10, 2), admit(0, 4, "free", 11, 2),
				admit(0, 5, "a", 10, 5), // D(10) = 12 > 10: 3 (then 4 at 11) ... see below
				next(), next(), next()},
			// D(10) = 3+2+2+5 = 12 > 10: shed the latest due by 10: 3 (ID
			// above 2), leaving D(10) = 10 and D(11) = 12 > 11: shed 4.
			[]string{"BE", "next 1", "BE", "BE", "BE", "G", "shed [3 4]", "next 5", "next 2", "next -"}},
		{"shed: nothing to shed when the excess is guaranteed or running",
			[]op{admit(0, 1, "free", 10, 8), next(), admit(0, 2, "a", 10, 5), admit(0, 3, "free", 40, 1), shedAt(0)},
			[]string{"BE", "next 1", "G", "BE", "shed []"}},
		{"a shed task's Dequeue finds it gone",
			[]op{admit(0, 1, "free", 12, 8), admit(0, 2, "a", 10, 5), cancel(1), demand("free"), next(), next()},
			[]string{"BE", "G", "shed [1]", "demand free 0s/0s", "next 2", "next -"}},
		{"a preempted task comes back in its class",
			[]op{admit(0, 1, "a", 10, 2), admit(0, 2, "free", 5, 1), next(), charge(1, "a", 10, 2, 1), requeue(1, "a", 10, 2, 1),
				next(), next()},
			[]string{"G", "BE", "next 1", "next 1", "next 2"}},
		{"more workers, more supply",
			[]op{configure(4), admit(0, 1, "a", 10, 20), admit(0, 2, "b", 10, 11), admit(0, 3, "free", 10, 10)},
			// a: 0.5·4·10 = 20; b: 11 > 10, machine 31 ≤ 40; free: 41 > 40
			[]string{"G", "BE", "refused"}},
		{"a full queue refuses whatever the demand",
			[]op{limit(2), admit(0, 1, "a", 10, 0), admit(0, 2, "a", 10, 0), admit(0, 3, "a", 10, 0), next(), admit(0, 4, "a", 10, 0)},
			[]string{"G", "G", "refused", "next 1", "G"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(t, tt.ops); !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestConfigure(t *testing.T) {
	for _, tt := range []struct {
		name    string
		c       sdk.Config
		wantErr string // "" for none; else the error's text
	}{
		{"ok", config(2, tenants), ""},
		{"no tenants", config(1, nil), ""},
		{"no workers", config(0, tenants), "mtdbf: 0 workers"},
		{"duplicate", config(1, []sdk.TenantConfig{{Name: "a"}, {Name: "a"}}), `mtdbf: tenant "a" configured twice`},
		{"over 1", config(1, []sdk.TenantConfig{reserved("a", 0.6), reserved("b", 0.5)}), `tenant "b": key "reservation": the tenants' reservations sum to 1.1, more than 1`},
		{"negative", config(1, []sdk.TenantConfig{reserved("a", -0.1)}), `tenant "a": key "reservation": must be between 0 and 1, got -0.1`},
		{"a whole number is a number", config(1, []sdk.TenantConfig{reserved("a", 1)}), ""},
		{"not a number", config(1, []sdk.TenantConfig{{Name: "a", Options: `reservation = "half"`}}), `tenant "a": key "reservation": incompatible types: TOML value has type string; destination has type float`},
		{"max_queued", sdk.Config{Workers: 1, Options: "max_queued = -1"}, `key "max_queued": must be at least 1, got -1`},
	} {
		err := New().Configure(tt.c)
		if got := fmt.Sprint(err); (tt.wantErr == "" && err != nil) || (tt.wantErr != "" && got != tt.wantErr) {
			t.Errorf("%s: Configure error %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

// ---- benchmarks ----

// loaded returns an MTDBF on 8 workers with n admitted tasks, half of them
// queued, and a generator of more. Tasks arrive every µs with 1–10 µs of
// work (5.5 on average, 8 workers) and deadlines n to 3n µs out, so most
// are admitted, a quarter of them Guaranteed.
func loaded(n int) (*MTDBF, func() sdk.Task, *[]sdk.TaskID) {
	m := New()
	cfg := []sdk.TenantConfig{{Name: "free"}}
	names := []string{"free"}
	for i := range 4 {
		name := "t" + strconv.Itoa(i)
		cfg = append(cfg, reserved(name, 0.2))
		names = append(names, name)
	}
	if err := m.Configure(config(8, cfg)); err != nil {
		panic(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	i := 0
	gen := func() sdk.Task {
		i++
		at := time.Duration(i) * us
		return sdk.Task{ID: sdk.TaskID(i), Tenant: names[i%len(names)], Arrival: at,
			Deadline: at + time.Duration(n)*us + time.Duration(rng.IntN(2*n))*us, Expected: time.Duration(1+rng.IntN(10)) * us}
	}
	var admitted []sdk.TaskID
	for k := 0; len(admitted) < n; k++ {
		if k > 100*n {
			panic("mtdbf bench: cannot admit enough tasks")
		}
		t := gen()
		if class, ok := m.Admit(t, t.Arrival); ok {
			t.Class = class
			m.Enqueue(t, sdk.Arrived)
			admitted = append(admitted, t.ID)
			if len(admitted)%2 == 0 {
				m.GetNext(0, t.Arrival)
			}
		}
	}
	return m, gen, &admitted
}

// BenchmarkAdmit times Admit alone at a steady n admitted tasks (the
// oldest leaves after each admission) and reports p50 and p99.
func BenchmarkAdmit(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			m, gen, admitted := loaded(n)
			samples := make([]time.Duration, 0, b.N)
			refused := 0
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				t := gen()
				t0 := time.Now()
				_, ok := m.Admit(t, t.Arrival)
				samples = append(samples, time.Since(t0))
				if !ok {
					refused++
					continue
				}
				*admitted = append(*admitted, t.ID)
				m.Dequeue((*admitted)[0], sdk.Completed)
				*admitted = (*admitted)[1:]
			}
			b.StopTimer()
			slices.Sort(samples)
			b.ReportMetric(float64(samples[len(samples)/2]), "p50-ns")
			b.ReportMetric(float64(samples[len(samples)*99/100]), "p99-ns")
			b.ReportMetric(float64(refused)/float64(b.N), "refused/op")
		})
	}
}

// BenchmarkQueue feeds tasks without Admit, so each enters best-effort:
// the times include a demand-tree insert and removal per task.
func BenchmarkQueue(b *testing.B) {
	policytest.Benchmark(b, func(n int) policytest.Queue {
		m, gen, _ := loaded(n)
		return policytest.Queue{Policy: m, Next: func() sdk.Task {
			t := gen()
			t.Class = sdk.ClassBestEffort
			return t
		}}
	}, 100, 10000)
}
