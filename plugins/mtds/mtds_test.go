package mtds

import (
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
	// The order depends on budgets, so it cannot be stated as a fixed
	// Options.Before; the suite checks the rest of the contract.
	policytest.Run(t, func() sdk.Policy { return New() }, policytest.Options{
		TenantOptions: map[string]sdk.Options{"t0": `replenishment_period = "10ms"
max_budget = "3ms"`},
	})
}

const ms = time.Millisecond

// tenants: "a" and "b" are paid (3 ms every 10 ms), "free" is not.
var tenants = []sdk.TenantConfig{paid("a", 10*ms, 3*ms), paid("b", 10*ms, 3*ms), {Name: "free"}}

// paid is a tenant with a budget of budget every period.
func paid(name string, period, budget time.Duration) sdk.TenantConfig {
	return sdk.TenantConfig{Name: name, Options: sdk.Options(fmt.Sprintf("replenishment_period = %q\nmax_budget = %q\n", period, budget))}
}

// config is the sdk.Config of workers workers and tenants, no options.
func config(workers int, tenants []sdk.TenantConfig) sdk.Config {
	return sdk.Config{Workers: workers, Tenants: tenants}
}

// op is one call in a table-driven test; durations are in ms. Calls that
// answer append a word to the run's result: "next 3" / "next -",
// "admit guaranteed" / "refused", "intr true", "would false",
// "budget 2ms guaranteed".
type op struct {
	kind     string // "admit" (Admit then Enqueue), "enq", "next", "charge", "intr", "would", "done", "cancel", "report"
	now      time.Duration
	t, a     sdk.Task
	used     time.Duration
	tenant   string
	maxQueue int
}

func tk(id sdk.TaskID, tenant string, deadline, arrival time.Duration) sdk.Task {
	return sdk.Task{ID: id, Tenant: tenant, Deadline: deadline * ms, Arrival: arrival * ms}
}
func admit(now time.Duration, id sdk.TaskID, tenant string, deadline time.Duration) op {
	return op{kind: "admit", now: now * ms, t: tk(id, tenant, deadline, now)}
}
func enq(id sdk.TaskID, tenant string, deadline, arrival time.Duration) op {
	return op{kind: "enq", t: tk(id, tenant, deadline, arrival)}
}
func next(now time.Duration) op { return op{kind: "next", now: now * ms} }

// charge: task id of tenant, whose Ran is now ran, used used ending at now.
func charge(now time.Duration, id sdk.TaskID, tenant string, used, ran time.Duration) op {
	return op{kind: "charge", now: now * ms, t: sdk.Task{ID: id, Tenant: tenant, Ran: ran * ms}, used: used * ms}
}
func intr(now time.Duration, id sdk.TaskID, tenant string, deadline, ran time.Duration) op {
	t := tk(id, tenant, deadline, 0)
	t.Ran = ran * ms
	return op{kind: "intr", now: now * ms, t: t}
}
func would(cur, arriving sdk.Task) op        { return op{kind: "would", t: cur, a: arriving} }
func done(id sdk.TaskID) op                  { return op{kind: "done", t: sdk.Task{ID: id}} }
func cancel(id sdk.TaskID) op                { return op{kind: "cancel", t: sdk.Task{ID: id}} }
func report(now time.Duration, tn string) op { return op{kind: "report", now: now * ms, tenant: tn} }
func limit(n int) op                         { return op{kind: "limit", maxQueue: n} }

func run(t *testing.T, ops []op) []string {
	t.Helper()
	m := New()
	if err := m.Configure(config(2, tenants)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range ops {
		switch o.kind {
		case "limit":
			m.max = o.maxQueue
		case "admit":
			class, ok := m.Admit(o.t, o.now)
			if !ok {
				out = append(out, "refused")
				continue
			}
			out = append(out, "admit "+class.String())
			o.t.Class = class
			m.Enqueue(o.t, sdk.Arrived)
		case "enq":
			m.Enqueue(o.t, sdk.Preempted)
		case "next":
			if id, ok := m.GetNext(0, o.now); ok {
				out = append(out, fmt.Sprint("next ", id))
			} else {
				out = append(out, "next -")
			}
		case "charge":
			m.Charge(o.t, o.used, o.now)
		case "intr":
			out = append(out, fmt.Sprint("intr ", m.OnInterrupt(0, o.t, o.now)))
		case "would":
			out = append(out, fmt.Sprint("would ", m.WouldPreempt(0, o.t, o.a, o.now)))
		case "done":
			m.Dequeue(o.t.ID, sdk.Completed)
		case "cancel":
			m.Dequeue(o.t.ID, sdk.Cancelled)
		case "report":
			var budget time.Duration
			g := "default"
			for _, v := range m.Report(o.now) {
				if v.Tenant != o.tenant {
					continue
				}
				switch v.Name {
				case "budget_remaining_seconds":
					budget = time.Duration(v.Value*1e9 + 0.5)
				case "guaranteed":
					if v.Value == 1 {
						g = "guaranteed"
					}
				}
			}
			out = append(out, fmt.Sprint("budget ", budget, " ", g))
		}
	}
	return out
}

func TestMTDS(t *testing.T) {
	tests := []struct {
		name string
		ops  []op
		want []string
	}{
		{"paid tenants start guaranteed with a full budget, unpaid are default",
			[]op{admit(0, 1, "a", 50), admit(0, 2, "free", 50), admit(0, 3, "nobody", 50), report(0, "a"), report(0, "free")},
			[]string{"admit guaranteed", "admit default", "admit default", "budget 3ms guaranteed", "budget 0s default"}},
		{"charge spends the budget",
			[]op{charge(1, 1, "a", 1, 1), report(1, "a"), charge(2, 1, "a", 1, 2), report(2, "a"), report(2, "b")},
			[]string{"budget 2ms guaranteed", "budget 1ms guaranteed", "budget 3ms guaranteed"}},
		{"an exhausted tenant is demoted until the boundary, refilled exactly at it",
			[]op{charge(5, 1, "a", 3, 3), report(5, "a"), admit(5, 2, "a", 50), report(9, "a"),
				report(10, "a"), admit(10, 3, "a", 50)},
			[]string{"budget 0s default", "admit default", "budget 0s default", "budget 3ms guaranteed", "admit guaranteed"}},
		{"overrun debt does not carry over the boundary",
			[]op{charge(9, 1, "a", 8, 8), report(9, "a"), report(10, "a"), report(25, "a")},
			[]string{"budget 0s default", "budget 3ms guaranteed", "budget 3ms guaranteed"}},
		{"a stretch across a boundary is charged only after it",
			[]op{charge(12, 1, "a", 5, 5), report(12, "a"), charge(31, 1, "a", 1, 6), report(31, "a")},
			[]string{"budget 1ms guaranteed", "budget 2ms guaranteed"}},
		{"guaranteed before default, whatever the deadlines",
			[]op{admit(0, 1, "free", 10), admit(0, 2, "a", 100), admit(0, 3, "nobody", 5), admit(0, 4, "b", 90),
				next(0), next(0), next(0), next(0), next(0)},
			[]string{"admit default", "admit guaranteed", "admit default", "admit guaranteed",
				"next 4", "next 2", "next 3", "next 1", "next -"}},
		{"EDF within a class, ties by arrival then ID, across tenants",
			[]op{enq(5, "a", 30, 2), enq(4, "b", 30, 1), enq(3, "a", 30, 1), enq(2, "b", 10, 9), enq(1, "a", 20, 0),
				next(0), next(0), next(0), next(0), next(0)},
			[]string{"next 2", "next 1", "next 3", "next 4", "next 5"}},
		{"demotion puts a tenant's queue behind default work, promotion back at the boundary",
			[]op{admit(0, 1, "a", 100), admit(0, 2, "a", 200), admit(0, 3, "free", 50), admit(0, 4, "free", 60),
				charge(4, 9, "a", 3, 3), // another task of a spent the budget
				next(4), next(9),        // a is Default now: EDF among default
				next(10), // refilled: a first again
				next(10)},
			[]string{"admit guaranteed", "admit guaranteed", "admit default", "admit default",
				"next 3", "next 4", "next 1", "next 2"}},
		{"OnInterrupt: higher class, or same class and earlier deadline",
			[]op{enq(2, "free", 10, 0),
				intr(0, 1, "a", 50, 0),    // guaranteed cur, default waiting
				intr(0, 1, "free", 50, 0), // default cur, earlier default waiting
				intr(0, 1, "free", 10, 0), // equal deadline: keep cur
				enq(3, "b", 40, 0),
				intr(0, 1, "a", 50, 0), // same class, earlier
				intr(0, 1, "a", 30, 0), // same class, later
				intr(0, 1, "free", 5, 0)},
			[]string{"intr false", "intr true", "intr false", "intr true", "intr false", "intr true"}},
		{"OnInterrupt counts cur's uncharged stretch against its budget",
			[]op{admit(0, 1, "a", 50), next(0), enq(2, "b", 90, 0),
				intr(2, 1, "a", 50, 2), // 1 ms left: still guaranteed, b's deadline later
				intr(3, 1, "a", 50, 3), // spent in this stretch: demoted, b guaranteed waits
				charge(3, 1, "a", 3, 3), enq(1, "a", 50, 0),
				next(3), next(3)},
			[]string{"admit guaranteed", "next 1", "intr false", "intr true", "next 2", "next 1"}},
		{"a demoted cur is not preempted by its own tenant's work, which is demoted too",
			[]op{admit(0, 1, "a", 50), next(0), enq(2, "a", 10, 0), enq(3, "free", 60, 0),
				intr(4, 1, "a", 50, 4), // demoted: 2 (a, default, earlier) preempts by deadline
				intr(4, 1, "a", 5, 4),  // cur earlier than any default task
			},
			[]string{"admit guaranteed", "next 1", "intr true", "intr false"}},
		{"the stretch before the boundary does not count after it",
			[]op{admit(0, 1, "a", 50), next(0), enq(2, "b", 90, 0),
				intr(11, 1, "a", 50, 11)}, // 1 ms of it in this period: guaranteed, b later
			[]string{"admit guaranteed", "next 1", "intr false"}},
		{"WouldPreempt: class first, then strictly earlier deadline",
			[]op{charge(5, 8, "b", 3, 3), // b demoted; the clock reads 5 ms
				would(tk(1, "free", 10, 0), tk(2, "a", 90, 0)),   // guaranteed arrives
				would(tk(1, "a", 90, 0), tk(2, "free", 10, 0)),   // default arrives
				would(tk(1, "a", 90, 0), tk(2, "b", 10, 0)),      // demoted arrives
				would(tk(1, "b", 90, 0), tk(2, "free", 10, 0)),   // both default
				would(tk(1, "a", 50, 0), tk(2, "a", 50, 0)),      // equal
				would(tk(1, "a", 50, 0), tk(1, "a", 10, 0)),      // itself
				would(tk(1, "nobody", 50, 0), tk(2, "b", 40, 0)), // both default
				charge(10, 8, "b", 1, 4),                         // a new period (that ms was in the old one): b promoted
				would(tk(1, "a", 90, 0), tk(2, "b", 10, 0))},
			[]string{"would true", "would false", "would false", "would true", "would false", "would false", "would true", "would true"}},
		{"a full queue refuses until a task leaves it",
			[]op{limit(3), admit(0, 1, "a", 10), admit(0, 2, "free", 10), admit(0, 3, "b", 10), admit(0, 4, "a", 10),
				next(0), admit(0, 5, "free", 10), admit(0, 6, "free", 10), cancel(5), done(1), admit(0, 7, "a", 10),
				next(0), next(0), next(0), next(0)},
			[]string{"admit guaranteed", "admit default", "admit guaranteed", "refused",
				"next 1", "admit default", "refused", "admit guaranteed",
				"next 3", "next 7", "next 2", "next -"}},
		{"cancel and notifications",
			[]op{enq(1, "a", 10, 0), enq(2, "free", 5, 0), enq(3, "a", 20, 0), cancel(1), cancel(2), cancel(99), done(42),
				next(0), next(0)},
			[]string{"next 3", "next -"}},
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
	tenant := func(options string) []sdk.TenantConfig {
		return []sdk.TenantConfig{{Name: "a", Options: sdk.Options(options)}}
	}
	for _, tt := range []struct {
		name    string
		c       sdk.Config
		wantErr string // "" for none; else the error's text
	}{
		{"ok", config(2, tenants), ""},
		{"no tenants", config(1, nil), ""},
		{"no workers", config(0, tenants), "mtds: 0 workers"},
		{"duplicate", config(1, []sdk.TenantConfig{{Name: "a"}, {Name: "a"}}), `mtds: tenant "a" configured twice`},
		{"period without budget", config(1, tenant(`replenishment_period = "1ms"`)), `tenant "a": key "replenishment_period": a replenishment period needs a max_budget`},
		{"budget without period", config(1, tenant(`max_budget = "1ms"`)), `tenant "a": key "max_budget": a max budget needs a replenishment_period`},
		{"negative budget", config(1, tenant(`replenishment_period = "1ms"
max_budget = "-1ms"`)), `tenant "a": key "max_budget": must be positive, got -1ms`},
		{"budget above period", config(1, tenant(`replenishment_period = "10ms"
max_budget = "20ms"`)), `tenant "a": key "max_budget": must not exceed replenishment_period (10ms), got 20ms`},
		{"unknown tenant key", config(1, tenant(`reservation = 0.5`)), `tenant "a": key "reservation": unknown key (known: max_budget, replenishment_period)`},
		{"duration as a number of ns is fine", config(1, tenant(`replenishment_period = 1000000
max_budget = 500000`)), ""},
		{"duration not a duration", config(1, tenant(`max_budget = "soon"`)), `tenant "a": key "max_budget": invalid duration: "soon"`},
		{"max_queued", sdk.Config{Workers: 1, Options: "max_queued = 0"}, `key "max_queued": must be at least 1, got 0`},
		{"unknown policy key", sdk.Config{Workers: 1, Options: "max_queue = 3"}, `key "max_queue": unknown key (known: max_queued)`},
	} {
		err := New().Configure(tt.c)
		if got := fmt.Sprint(err); (tt.wantErr == "" && err != nil) || (tt.wantErr != "" && got != tt.wantErr) {
			t.Errorf("%s: Configure error %v, want %q", tt.name, err, tt.wantErr)
		}
	}
	m := New()
	if err := m.Configure(sdk.Config{Workers: 1, Options: "max_queued = 7"}); err != nil || m.max != 7 {
		t.Errorf("max_queued = 7: Configure = %v, max %d", err, m.max)
	}
}

// TestNoLeak plays random admissions, runs, charges and exits, then checks
// the policy forgets everything.
func TestNoLeak(t *testing.T) {
	for seed := range uint64(4) {
		rng := rand.New(rand.NewPCG(seed, 3))
		m := New()
		if err := m.Configure(config(2, tenants)); err != nil {
			t.Fatal(err)
		}
		names := []string{"a", "b", "free", "nobody"}
		var now time.Duration
		queued := map[sdk.TaskID]sdk.Task{}
		var running []sdk.Task
		id := sdk.TaskID(0)
		for range 5000 {
			now += time.Duration(rng.IntN(500)) * time.Microsecond
			switch r := rng.IntN(10); {
			case r < 4:
				id++
				tk := sdk.Task{ID: id, Tenant: names[rng.IntN(len(names))], Arrival: now, Deadline: now + time.Duration(rng.IntN(50))*ms}
				if _, ok := m.Admit(tk, now); ok {
					m.Enqueue(tk, sdk.Arrived)
					queued[tk.ID] = tk
				}
			case r < 6:
				if nid, ok := m.GetNext(0, now); ok {
					running = append(running, queued[nid])
					delete(queued, nid)
				}
			case r < 8 && len(running) > 0:
				i := rng.IntN(len(running))
				tk := running[i]
				used := time.Duration(rng.IntN(2000)) * time.Microsecond
				tk.Ran += used
				m.Charge(tk, used, now)
				running = slices.Delete(running, i, i+1)
				if rng.IntN(2) == 0 {
					m.Enqueue(tk, sdk.Preempted)
					queued[tk.ID] = tk
				} else {
					m.Dequeue(tk.ID, sdk.DequeueReason(rng.IntN(2)))
				}
			default:
				for qid := range queued {
					m.Dequeue(qid, sdk.Cancelled)
					delete(queued, qid)
					break
				}
			}
			if m.queued != len(queued) {
				t.Fatalf("seed %d: queued %d, want %d", seed, m.queued, len(queued))
			}
		}
		for qid := range queued {
			m.Dequeue(qid, sdk.Cancelled)
		}
		for _, tk := range running {
			m.Dequeue(tk.ID, sdk.Completed)
		}
		if m.queued != 0 || len(m.tasks) != 0 || m.def.Len() != 0 {
			t.Fatalf("seed %d: leaked: queued %d, tasks %d", seed, m.queued, len(m.tasks))
		}
		for _, tn := range m.paid {
			if tn.q.Len() != 0 {
				t.Fatalf("seed %d: tenant %s holds %d", seed, tn.name, tn.q.Len())
			}
		}
	}
}

// bench returns an MTDS holding n tasks spread over four paid tenants and
// an unpaid one, and a generator of more, as in the edf benchmarks.
func bench(n int) (*MTDS, func() sdk.Task) {
	m := New()
	cfg := []sdk.TenantConfig{{Name: "free"}}
	names := []string{"free"}
	for i := range 4 {
		name := "paid" + strconv.Itoa(i)
		cfg = append(cfg, paid(name, 10*ms, 5*ms))
		names = append(names, name)
	}
	if err := m.Configure(config(4, cfg)); err != nil {
		panic(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	i := 0
	gen := func() sdk.Task {
		i++
		at := time.Duration(i) * time.Microsecond
		return sdk.Task{ID: sdk.TaskID(i), Tenant: names[i%len(names)], Arrival: at,
			Deadline: at + time.Duration(rng.IntN(2*n))*time.Microsecond}
	}
	for range n {
		m.Enqueue(gen(), sdk.Arrived)
	}
	return m, gen
}

func BenchmarkQueue(b *testing.B) {
	policytest.Benchmark(b, func(n int) policytest.Queue {
		p, next := bench(n)
		return policytest.Queue{Policy: p, Next: next}
	}, 100, 10000)
}
