package wasmpolicy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/gosledge/gosledge/plugins"
	"github.com/gosledge/gosledge/plugins/fifo"
	"github.com/gosledge/gosledge/sdk"
	"github.com/gosledge/gosledge/sdk/policytest"
)

// inproc is a Guest that runs a dispatcher in process: the ABI without
// Wasm. Its memory is the dispatcher's buffer, seen as bytes, so the host
// must be little-endian like Wasm.
type inproc struct {
	d     *dispatcher
	mem   []byte
	calls map[Export]int
	// fault, if set, is consulted before every call: an error fails the
	// call, a non-nil *uint64 replaces the answer.
	fault func(e Export) (answer *uint64, err error)
	abi   int32
}

func newInproc(tb testing.TB, p sdk.Policy) *inproc {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		tb.Skip("the in-process guest aliases words as bytes: little-endian hosts only")
	}
	d := newDispatcher(p, guestBuffer())
	return &inproc{d: d, mem: unsafe.Slice((*byte)(unsafe.Pointer(&d.w[0])), BufferSize), calls: map[Export]int{}, abi: ABIVersion}
}

func (g *inproc) Memory(off, size uint32) ([]byte, bool) {
	if int(off)+int(size) > len(g.mem) {
		return nil, false
	}
	return g.mem[off : off+size], true
}

func (g *inproc) Call(e Export, s []uint64) error {
	g.calls[e]++
	var answer *uint64
	if g.fault != nil {
		var err error
		if answer, err = g.fault(e); err != nil {
			return err
		}
	}
	d := g.d
	n := int32(s[0])
	switch e {
	case ExportABI:
		s[0] = uint64(g.abi)
	case ExportBuffer:
		s[0] = 0
	case ExportHello:
		s[0] = uint64(d.hello())
	case ExportNotify:
		d.apply(n)
	case ExportGetNext:
		s[0] = uint64(d.getNext(n, int32(s[1]), int64(s[2])))
	case ExportOnInterrupt:
		s[0] = uint64(d.onInterrupt(n, int32(s[1]), int64(s[2])))
	case ExportWouldPreempt:
		s[0] = uint64(d.wouldPreempt(n, int32(s[1]), int64(s[2])))
	case ExportAdmit:
		s[0] = uint64(d.admit(n, int64(s[1])))
	case ExportShed:
		s[0] = uint64(d.shed(n, int64(s[1])))
	case ExportReport:
		s[0] = uint64(d.report(n, int64(s[1])))
	case ExportConfigure:
		s[0] = uint64(d.configure(n, int32(s[1])))
	}
	if answer != nil {
		s[0] = *answer
	}
	return nil
}

func newClient(tb testing.TB, p sdk.Policy) (*Client, *inproc) {
	g := newInproc(tb, p)
	c, err := NewClient(g)
	if err != nil {
		tb.Fatal(err)
	}
	return c, g
}

// TestConformanceThroughABI runs every built-in policy through the ABI
// (encoded by the Client, decoded by the guest's dispatcher) beside the
// same policy called directly, and requires the same answer from both to
// every call the conformance suite makes: a field the ABI dropped or
// mixed up changes some answer.
func TestConformanceThroughABI(t *testing.T) {
	reg := plugins.Builtins()
	for _, name := range reg.Names() {
		t.Run(name, func(t *testing.T) {
			var clients []*Client
			policytest.Run(t, func() sdk.Policy {
				direct, _ := reg.New(name)
				through, _ := reg.New(name)
				c, _ := newClient(t, through)
				clients = append(clients, c)
				return newTee(t, direct, c.Policy())
			})
			for _, c := range clients {
				if err := c.Err(); err != nil {
					t.Errorf("client fault: %v", err)
				}
			}
		})
	}
}

// tee calls the same policy directly (a) and through the ABI (b) and
// fails the test on any difference. Like the Client, it implements every
// optional interface but Admitter, which it has only if a does.
type tee struct {
	tb   testing.TB
	a, b sdk.Policy
}

type admittingTee struct{ tee }

func newTee(tb testing.TB, a, b sdk.Policy) sdk.Policy {
	t := tee{tb, a, b}
	if _, ok := a.(sdk.Admitter); ok {
		return admittingTee{t}
	}
	return t
}

// same reports a difference (Errorf: the factory only has the parent
// test, which its subtests must not FailNow).
func (t tee) same(call string, a, b any) {
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.tb.Errorf("%s: directly %v, through the ABI %v", call, a, b)
	}
}

func (t tee) Name() string {
	n := t.a.Name()
	t.same("Name", n, t.b.Name())
	return n
}

func (t tee) Enqueue(x sdk.Task, why sdk.EnqueueReason) { t.a.Enqueue(x, why); t.b.Enqueue(x, why) }
func (t tee) Dequeue(id sdk.TaskID, why sdk.DequeueReason) {
	t.a.Dequeue(id, why)
	t.b.Dequeue(id, why)
}

func (t tee) GetNext(w sdk.WorkerID, now time.Duration) (sdk.TaskID, bool) {
	id, ok := t.a.GetNext(w, now)
	id2, ok2 := t.b.GetNext(w, now)
	t.same("GetNext", [2]any{id, ok}, [2]any{id2, ok2})
	return id, ok
}

func (t tee) OnInterrupt(w sdk.WorkerID, cur sdk.Task, now time.Duration) bool {
	r := t.a.OnInterrupt(w, cur, now)
	t.same("OnInterrupt", r, t.b.OnInterrupt(w, cur, now))
	return r
}

func (t tee) WouldPreempt(w sdk.WorkerID, cur, arriving sdk.Task, now time.Duration) bool {
	r := t.a.WouldPreempt(w, cur, arriving, now)
	t.same("WouldPreempt", r, t.b.WouldPreempt(w, cur, arriving, now))
	return r
}

func (t tee) Charge(x sdk.Task, used, now time.Duration) {
	if c, ok := t.a.(sdk.Charger); ok {
		c.Charge(x, used, now)
	}
	t.b.(sdk.Charger).Charge(x, used, now)
}

// both calls an optional method on a, if it has it, and on b, and
// compares the answers.
func both[I, R any](t tee, call string, f func(I) R) R {
	var r R
	if a, ok := t.a.(I); ok {
		r = f(a)
	}
	t.same(call, r, f(t.b.(I)))
	return r
}

func (t tee) Shed(now time.Duration) []sdk.TaskID {
	return both(t, "Shed", func(s sdk.Shedder) []sdk.TaskID { return s.Shed(now) })
}

func (t tee) Report(now time.Duration) []sdk.Gauge {
	return both(t, "Report", func(r sdk.Reporter) []sdk.Gauge { return r.Report(now) })
}

func (t tee) Configure(c sdk.Config) error {
	return both(t, "Configure", func(x sdk.Configurer) error { return x.Configure(c) })
}

func (t admittingTee) Admit(x sdk.Task, now time.Duration) (sdk.Class, bool) {
	c, ok := t.a.(sdk.Admitter).Admit(x, now)
	c2, ok2 := t.b.(sdk.Admitter).Admit(x, now)
	if !ok { // a refusal's class means nothing and does not cross the ABI
		c = c2
	}
	t.same("Admit", [2]any{c, ok}, [2]any{c2, ok2})
	return c, ok
}

// recorder is a FIFO that records what it was told and answers what the
// test sets.
type recorder struct {
	*fifo.FIFO
	tasks   []sdk.Task
	charged []time.Duration
	shed    []sdk.TaskID
	gauges  []sdk.Gauge
	config  sdk.Config
	cfgErr  error
}

func (r *recorder) Enqueue(t sdk.Task, why sdk.EnqueueReason) {
	r.tasks = append(r.tasks, t)
	r.FIFO.Enqueue(t, why)
}
func (r *recorder) Charge(t sdk.Task, used, now time.Duration) { r.charged = append(r.charged, used) }
func (r *recorder) Shed(time.Duration) []sdk.TaskID            { return r.shed }
func (r *recorder) Report(time.Duration) []sdk.Gauge           { return r.gauges }
func (r *recorder) Configure(c sdk.Config) error {
	r.config = c
	return r.cfgErr
}

// TestBatching: notifications wait for the next decision and are applied
// in order by one guest call; a batch that outgrows the buffer is applied
// early (notify), long names are defined once and cut at MaxString, and
// every field of a task arrives.
func TestBatching(t *testing.T) {
	rec := &recorder{FIFO: fifo.New()}
	c, g := newClient(t, rec)
	p := c.Policy()
	long := strings.Repeat("r", MaxString+100)
	want := sdk.Task{ID: 7, Tenant: "tenant-é", Route: "/x", Arrival: 1, Deadline: 2, Expected: 3, Ran: 4, Class: sdk.ClassBestEffort}
	p.Enqueue(want, sdk.Arrived)
	p.Dequeue(7, sdk.Cancelled)
	if len(rec.tasks) != 0 || g.calls[ExportNotify] != 0 {
		t.Fatalf("notifications applied before a decision: %d tasks, %d notify calls", len(rec.tasks), g.calls[ExportNotify])
	}
	if _, ok := p.GetNext(0, 10); ok {
		t.Fatal("GetNext returned the cancelled task")
	}
	if len(rec.tasks) != 1 || rec.tasks[0] != want {
		t.Fatalf("guest got %+v, want %+v", rec.tasks, want)
	}
	const n = 2000 // 160 KB of Enqueue records: several buffers
	for i := range n {
		p.Enqueue(sdk.Task{ID: sdk.TaskID(100 + i), Tenant: "t", Route: long + fmt.Sprint(i%3)}, sdk.Arrived)
	}
	if g.calls[ExportNotify] == 0 {
		t.Fatal("a batch larger than the buffer was not applied early")
	}
	for i := range n {
		id, ok := p.GetNext(0, 10)
		if !ok || id != sdk.TaskID(100+i) {
			t.Fatalf("GetNext #%d = %d, %v", i, id, ok)
		}
	}
	routes := map[string]bool{}
	for _, tk := range rec.tasks[1:] {
		routes[tk.Route] = true
	}
	// The three routes differ only past MaxString: cut, they are one.
	if len(routes) != 1 || !routes[long[:MaxString]] {
		t.Errorf("routes seen by the guest: %d distinct, want one of %d bytes", len(routes), MaxString)
	}
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestOptional: Charge, Shed (more IDs than the buffer holds), Report and
// Configure (including its error) cross the ABI; a policy without them
// costs no guest call, and Admitter is there only if the guest has it.
func TestOptional(t *testing.T) {
	rec := &recorder{FIFO: fifo.New(), cfgErr: errors.Join(errors.New("tenant t9 unknown"),
		&sdk.OptionError{Tenant: "t0", Key: "budget", Err: errors.New("too big")}, &sdk.OptionError{Key: "mode", Err: errors.New("no such mode")})}
	for i := range BufferSize/8 + 10 {
		rec.shed = append(rec.shed, sdk.TaskID(i))
	}
	rec.gauges = []sdk.Gauge{{Name: "queued", Value: 3.5}, {Name: "budget", Tenant: "t0", Value: -1}}
	c, g := newClient(t, rec)
	p := c.Policy()
	if c.Caps() != CapCharger|CapConfigurer|CapShedder|CapReporter {
		t.Errorf("caps %b", c.Caps())
	}
	if _, ok := p.(sdk.Admitter); ok {
		t.Error("Admitter without the guest's")
	}
	cfg := sdk.Config{Workers: 2, Options: "mode = \"x\"\n", Tenants: []sdk.TenantConfig{{Name: "t0", Options: "budget = \"1ms\"\n"}, {Name: "t1"}}}
	err := p.(sdk.Configurer).Configure(cfg)
	want := "Configure: tenant t9 unknown\n" + `tenant "t0": key "budget": too big` + "\n" + `key "mode": no such mode`
	if err == nil || err.Error() != want || len(sdk.OptionErrors(err)) != 2 || fmt.Sprint(rec.config) != fmt.Sprint(cfg) {
		t.Errorf("Configure = %q (want %q), guest got %+v", err, want, rec.config)
	}
	p.(sdk.Charger).Charge(sdk.Task{ID: 1}, 5*time.Millisecond, 9)
	if got := p.(sdk.Shedder).Shed(10); !slices.Equal(got, rec.shed) {
		t.Errorf("Shed: %d IDs, want %d", len(got), len(rec.shed))
	}
	if !slices.Equal(rec.charged, []time.Duration{5 * time.Millisecond}) {
		t.Errorf("charged %v", rec.charged)
	}
	if got := p.(sdk.Reporter).Report(11); !slices.Equal(got, rec.gauges) {
		t.Errorf("Report = %+v", got)
	}

	plain, g2 := newClient(t, fifo.New())
	pp := plain.Policy()
	pp.(sdk.Charger).Charge(sdk.Task{ID: 1}, 1, 1)
	pp.(sdk.Shedder).Shed(1)
	pp.(sdk.Reporter).Report(1)
	if err := pp.(sdk.Configurer).Configure(sdk.Config{Workers: 1}); err != nil {
		t.Error(err)
	}
	// Tables for a policy that takes none are refused, not dropped.
	if err := pp.(sdk.Configurer).Configure(cfg); err == nil || !strings.Contains(err.Error(), "takes no settings") {
		t.Errorf("Configure with tables of a policy that is no Configurer = %v", err)
	}
	if len(g2.calls) != 3 { // abi, buffer, hello
		t.Errorf("calls for absent capabilities: %v", g2.calls)
	}
	_ = g
}

// TestFaults: a failed call or an answer outside the ABI is recorded once,
// and then no call reaches the guest; a module of another ABI version, or
// one that never called Serve, is refused at NewClient.
func TestFaults(t *testing.T) {
	minus := func(v int64) *uint64 { u := uint64(v); return &u }
	for _, tc := range []struct {
		name   string
		export Export
		answer *uint64
		err    error
		want   string
	}{
		{"trap", ExportGetNext, nil, errors.New("wasm trap: unreachable"), "gosledge_policy_get_next: wasm trap"},
		{"negative id", ExportGetNext, minus(-5), nil, "answered -5"},
		{"not a bool", ExportOnInterrupt, minus(2), nil, "gosledge_policy_on_interrupt answered 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, g := newClient(t, fifo.New())
			g.fault = func(e Export) (*uint64, error) {
				if e == tc.export {
					return tc.answer, tc.err
				}
				return nil, nil
			}
			p := c.Policy()
			p.Enqueue(sdk.Task{ID: 1}, sdk.Arrived)
			p.GetNext(0, 0)
			p.OnInterrupt(0, sdk.Task{ID: 2}, 0)
			err := c.Err()
			if err == nil || !strings.Contains(err.Error(), tc.want) || tc.err == nil && !errors.Is(err, ErrABI) {
				t.Fatalf("Err = %v, want %q", err, tc.want)
			}
			before := maps(g.calls)
			p.Enqueue(sdk.Task{ID: 3}, sdk.Arrived)
			if _, ok := p.GetNext(0, 0); ok || p.OnInterrupt(0, sdk.Task{ID: 3}, 0) || maps(g.calls) != before || c.Err() != err {
				t.Errorf("after the fault: calls %v → %v, Err %v", before, g.calls, c.Err())
			}
		})
	}

	g := newInproc(t, fifo.New())
	g.abi = 1
	if _, err := NewClient(g); !errors.Is(err, ErrABI) || !strings.Contains(err.Error(), "ABI version 1, want 2") {
		t.Errorf("ABI 1: %v", err)
	}
	g = newInproc(t, fifo.New())
	g.fault = func(e Export) (*uint64, error) {
		if e == ExportHello {
			return minus(-1), nil
		}
		return nil, nil
	}
	if _, err := NewClient(g); !errors.Is(err, ErrABI) || !strings.Contains(err.Error(), "never called wasmpolicy.Serve") {
		t.Errorf("no Serve: %v", err)
	}
}

func maps(m map[Export]int) string { return fmt.Sprint(m) }

func TestExports(t *testing.T) {
	for _, tc := range []struct {
		e      Export
		params int
	}{{ExportABI, 0}, {ExportNotify, 1}, {ExportGetNext, 3}, {ExportAdmit, 2}} {
		if got := tc.e.NumParams(); got != tc.params {
			t.Errorf("%s: %d params, want %d", tc.e.Name(), got, tc.params)
		}
	}
	if ExportAdmit.Required(CapShedder) || !ExportAdmit.Required(CapAdmitter) || !ExportGetNext.Required(0) {
		t.Error("Required")
	}
	if len(Exports()) != int(numExports) {
		t.Error("Exports")
	}
}
