package plugin

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gosledge/gosledge/sdk"
)

// loopLink connects a Client to a server in this process: the frames are
// the real ones, without a process or a socket in between.
type loopLink struct {
	s      *server
	faults [][]byte // fault replies to notification-only frames, in order
	reply  func([]byte) []byte
}

func (l *loopLink) post(frame []byte) error {
	if r, _ := l.s.apply(frame); r != nil {
		l.faults = append(l.faults, slices.Clone(r))
	}
	return nil
}

func (l *loopLink) roundTrip(frame []byte) ([]byte, error) {
	r, _ := l.s.apply(frame)
	if len(l.faults) > 0 { // what the stream would deliver first
		r = l.faults[0]
	}
	if r == nil {
		return nil, errors.New("no reply to a call")
	}
	if l.reply != nil {
		r = l.reply(slices.Clone(r))
	}
	return r, nil
}

func (l *loopLink) abort() {}
func (l *loopLink) close() {}

func loopClient(p sdk.Policy) (*Client, *loopLink) {
	s := newServer(p)
	l := &loopLink{s: s}
	c := &Client{name: "loop", policy: p.Name(), link: l, caps: s.caps, log: slog.New(slog.DiscardHandler), held: map[sdk.TaskID]heldTask{}, failed: make(chan struct{})}
	c.wrapper = wrap(c, c.caps)
	return c, l
}

// recorder implements every interface and records each call, with its
// arguments, as a string; its answers are fixed.
type recorder struct{ calls []string }

func (r *recorder) add(format string, args ...any) {
	r.calls = append(r.calls, fmt.Sprintf(format, args...))
}
func (r *recorder) Name() string { return "recorder" }
func (r *recorder) Enqueue(t sdk.Task, why sdk.EnqueueReason) {
	r.add("Enqueue %+v %v", t, why)
}
func (r *recorder) Dequeue(id sdk.TaskID, why sdk.DequeueReason) { r.add("Dequeue %d %v", id, why) }
func (r *recorder) GetNext(w sdk.WorkerID, now time.Duration) (sdk.TaskID, bool) {
	r.add("GetNext %d %v", w, now)
	return 7, true
}
func (r *recorder) OnInterrupt(w sdk.WorkerID, cur sdk.Task, now time.Duration) bool {
	r.add("OnInterrupt %d %+v %v", w, cur, now)
	return true
}
func (r *recorder) WouldPreempt(w sdk.WorkerID, cur, arriving sdk.Task, now time.Duration) bool {
	r.add("WouldPreempt %d %+v %+v %v", w, cur, arriving, now)
	return true
}
func (r *recorder) Charge(t sdk.Task, used, now time.Duration) {
	r.add("Charge %+v %v %v", t, used, now)
}
func (r *recorder) Configure(c sdk.Config) error {
	r.add("Configure %+v", c)
	if c.Workers < 0 {
		return errors.Join(errors.New("negative"), &sdk.OptionError{Tenant: "a", Key: "k", Err: errors.New("bad k")},
			&sdk.OptionError{Key: "p", Err: errors.New("bad p")})
	}
	return nil
}
func (r *recorder) Admit(t sdk.Task, now time.Duration) (sdk.Class, bool) {
	r.add("Admit %+v %v", t, now)
	return sdk.ClassBestEffort, true
}
func (r *recorder) Shed(now time.Duration) []sdk.TaskID {
	r.add("Shed %v", now)
	return []sdk.TaskID{7}
}
func (r *recorder) Report(now time.Duration) []sdk.Gauge {
	r.add("Report %v", now)
	return []sdk.Gauge{{Name: "q", Value: 1.5}, {Name: "b", Tenant: "tenant-é", Value: -2}}
}

// Every call crosses the wire with every argument and answer intact.
func TestWireCalls(t *testing.T) {
	big := sdk.Task{ID: 1<<63 + 5, Tenant: "tenant-é", Route: "/a/b", Arrival: -3, Deadline: 1 << 62, Expected: 5, Ran: 9, Class: sdk.ClassBestEffort}
	other := sdk.Task{ID: 8, Tenant: "", Route: strings.Repeat("r", 300)}
	cfg := sdk.Config{Workers: 4, Options: "x = 1\n", Tenants: []sdk.TenantConfig{{Name: "a", Options: "[t]\ny = \"é\"\n"}, {Name: "b"}}}
	for _, tt := range []struct {
		name   string
		do     func(p sdk.Policy) string // the host's answer
		record []string
	}{
		{"enqueue+getnext", func(p sdk.Policy) string {
			p.Enqueue(big, sdk.Preempted)
			p.Enqueue(sdk.Task{ID: 7}, sdk.Arrived)
			id, ok := p.GetNext(3, 11)
			return fmt.Sprint(id, ok)
		}, []string{fmt.Sprintf("Enqueue %+v preempted", big), fmt.Sprintf("Enqueue %+v arrived", sdk.Task{ID: 7}), "GetNext 3 11ns"}},
		{"dequeue+oninterrupt", func(p sdk.Policy) string {
			p.Dequeue(5, sdk.Cancelled)
			return fmt.Sprint(p.OnInterrupt(-1, big, -4))
		}, []string{"Dequeue 5 cancelled", fmt.Sprintf("OnInterrupt -1 %+v -4ns", big)}},
		{"wouldpreempt", func(p sdk.Policy) string {
			return fmt.Sprint(p.WouldPreempt(2, big, other, 16))
		}, []string{fmt.Sprintf("WouldPreempt 2 %+v %+v 16ns", big, other)}},
		{"charge+admit", func(p sdk.Policy) string {
			p.(sdk.Charger).Charge(other, time.Millisecond, 12)
			class, ok := p.(sdk.Admitter).Admit(big, 13)
			return fmt.Sprint(class, ok)
		}, []string{fmt.Sprintf("Charge %+v 1ms 12ns", other), fmt.Sprintf("Admit %+v 13ns", big)}},
		{"shed", func(p sdk.Policy) string {
			p.Enqueue(sdk.Task{ID: 7}, sdk.Arrived)
			return fmt.Sprint(p.(sdk.Shedder).Shed(14))
		}, []string{fmt.Sprintf("Enqueue %+v arrived", sdk.Task{ID: 7}), "Shed 14ns"}},
		{"report", func(p sdk.Policy) string {
			return fmt.Sprint(p.(sdk.Reporter).Report(15))
		}, []string{"Report 15ns"}},
		{"configure", func(p sdk.Policy) string {
			good := p.(sdk.Configurer).Configure(cfg)
			bad := p.(sdk.Configurer).Configure(sdk.Config{Workers: -1})
			return fmt.Sprint(good, bad, len(sdk.OptionErrors(bad)))
		}, []string{fmt.Sprintf("Configure %+v", cfg), fmt.Sprintf("Configure %+v", sdk.Config{Workers: -1, Tenants: []sdk.TenantConfig{}})}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{}
			c, _ := loopClient(r)
			want := fmt.Sprint(tt.do(r))
			r.calls = nil
			got := tt.do(c.Policy())
			if got != strings.ReplaceAll(want, "negative", `plugin "loop": Configure: negative`) {
				t.Errorf("answer %q, the policy's own %q", got, want)
			}
			if !slices.Equal(r.calls, tt.record) {
				t.Errorf("the plugin's policy saw\n%q\nwant\n%q", r.calls, tt.record)
			}
			if c.Err() != nil {
				t.Fatal(c.Err())
			}
		})
	}
}

// A frame cut anywhere gets a fault reply from the plugin, never a panic
// nor a call made with half its arguments; so does an unknown op.
func TestWireMalformedRequest(t *testing.T) {
	var e enc
	e.start()
	e.u8(uint8(opEnqueue))
	e.task(sdk.Task{ID: 1, Tenant: "t", Route: "/r"})
	e.u8(0)
	e.u8(uint8(opWouldPreempt))
	e.i64(2)
	e.u32(1)
	e.task(sdk.Task{ID: 1, Tenant: "t"})
	e.task(sdk.Task{ID: 2, Route: "/r"})
	whole := slices.Clone(e.finish(1))
	enqueueEnd := headerLen + 1 + 8*5 + 1 + 4 + 1 + 4 + 2 + 1
	for cut := headerLen + 1; cut < len(whole); cut++ {
		frame := slices.Clone(whole[:cut])
		frame[0], frame[1], frame[2], frame[3] = byte(cut-4), byte((cut-4)>>8), 0, 0
		r := &recorder{}
		reply, fault := newServer(r).apply(frame)
		if cut == enqueueEnd {
			if reply != nil || len(r.calls) != 1 {
				t.Errorf("cut after the Enqueue: reply %v, calls %q", reply, r.calls)
			}
			continue
		}
		_, body := parseFrame(reply)
		if !fault || body[0] != statusFault || !strings.Contains(string(body), "malformed") {
			t.Errorf("cut at %d: reply %q", cut, body)
		}
		if len(r.calls) > 1 {
			t.Errorf("cut at %d: the policy saw %q", cut, r.calls)
		}
	}
	e.start()
	e.u8(99)
	if _, body := parseFrame(mustFault(t, e.finish(2))); !strings.Contains(string(body), "unknown op 99") {
		t.Errorf("unknown op: %q", body)
	}
}

func mustFault(t *testing.T, frame []byte) []byte {
	t.Helper()
	reply, fault := newServer(&recorder{}).apply(frame)
	if !fault {
		t.Fatalf("no fault for %v", frame)
	}
	return reply
}

// What the host cannot make sense of in a reply is a fault of the plugin.
func TestWireMalformedReply(t *testing.T) {
	for _, tt := range []struct {
		name  string
		reply func([]byte) []byte
		want  string
	}{
		{"short", func(b []byte) []byte { return b[:len(b)-1] }, "malformed answer to GetNext"},
		{"long", func(b []byte) []byte { return append(b, 0) }, "malformed answer to GetNext"},
		{"seq", func(b []byte) []byte { b[4]++; return b }, "protocol error: reply 2 to call 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, l := loopClient(&recorder{})
			l.reply = tt.reply
			c.Policy().Enqueue(sdk.Task{ID: 7}, sdk.Arrived)
			if _, ok := c.Policy().GetNext(0, 0); ok || c.Err() == nil || !strings.Contains(c.Err().Error(), tt.want) {
				t.Fatalf("GetNext: ok %v, Err() = %v, want %q", ok, c.Err(), tt.want)
			}
		})
	}
}

// A panic in a notification sent on its own (more than maxPending) is
// reported at the next call.
func TestWireFaultInFlush(t *testing.T) {
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.DiscardHandler)) // the server logs the panic
	c, l := loopClient(&panicky{recorder: &recorder{}, at: 10})
	for id := range sdk.TaskID(maxPending + 1) {
		c.Policy().Enqueue(sdk.Task{ID: id}, sdk.Arrived)
	}
	if len(l.faults) != 1 {
		t.Fatalf("%d fault replies to the flush, want 1", len(l.faults))
	}
	if _, ok := c.Policy().GetNext(0, 0); ok || c.Err() == nil || !strings.Contains(c.Err().Error(), "Enqueue panicked: enqueue 10") {
		t.Fatalf("GetNext: %v, Err() = %v", ok, c.Err())
	}
}

type panicky struct {
	*recorder
	at sdk.TaskID
}

func (p *panicky) Enqueue(t sdk.Task, _ sdk.EnqueueReason) {
	if t.ID == p.at {
		panic(fmt.Sprint("enqueue ", t.ID))
	}
}

// nop is a policy that does nothing.
type nop struct{}

func (nop) Name() string                                                      { return "nop" }
func (nop) Enqueue(sdk.Task, sdk.EnqueueReason)                               {}
func (nop) Dequeue(sdk.TaskID, sdk.DequeueReason)                             {}
func (nop) GetNext(sdk.WorkerID, time.Duration) (sdk.TaskID, bool)            { return 0, false }
func (nop) OnInterrupt(sdk.WorkerID, sdk.Task, time.Duration) bool            { return false }
func (nop) WouldPreempt(sdk.WorkerID, sdk.Task, sdk.Task, time.Duration) bool { return false }

// Names are interned on the plugin side, so a request costs no
// allocation once its names were seen, and the table stays bounded.
func TestWireIntern(t *testing.T) {
	s := newServer(nop{})
	frame := func(tenant string) []byte { return decisionFrame(sdk.Task{ID: 1, Tenant: tenant, Route: "/r"}) }
	for i := range maxInterned + 10 {
		s.apply(frame(fmt.Sprint("t", i)))
	}
	if n := len(s.in.strs); n > maxInterned {
		t.Fatalf("%d names interned, bound %d", n, maxInterned)
	}
	f := slices.Clone(frame("t-hot"))
	s.apply(f)
	if allocs := testing.AllocsPerRun(100, func() { s.apply(f) }); allocs != 0 {
		t.Fatalf("%v allocations per request", allocs)
	}
}

// decisionFrame is the request of one decision: Enqueue t, then GetNext.
func decisionFrame(t sdk.Task) []byte {
	var e enc
	e.start()
	e.u8(uint8(opEnqueue))
	e.task(t)
	e.u8(uint8(sdk.Arrived))
	e.u8(uint8(opGetNext))
	e.i64(int64(t.Arrival))
	e.u32(0)
	return e.finish(1)
}
