package plugin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gosledge/gosledge/sdk"
)

func task(id sdk.TaskID) sdk.Task {
	return sdk.Task{ID: id, Tenant: "t0", Route: "/a", Arrival: time.Duration(id), Deadline: time.Duration(id) + time.Millisecond, Expected: time.Microsecond}
}

// links are the two ways frames travel; every behaviour is tested on both.
var links = []struct {
	name string
	grpc bool
}{
	{"socket", false},
	{"grpc", true},
}

// forLinks runs f as a subtest on each link.
func forLinks(t *testing.T, f func(t *testing.T, opts LaunchOptions)) {
	for _, l := range links {
		t.Run(l.name, func(t *testing.T) { f(t, LaunchOptions{grpcLink: l.grpc}) })
	}
}

func TestRoundTrip(t *testing.T) { forLinks(t, testRoundTrip) }

func testRoundTrip(t *testing.T, opts LaunchOptions) {
	c := launch(t, "fifo", opts)
	if want := map[bool]string{false: "socket", true: "grpc"}[opts.grpcLink]; c.linkName != want {
		t.Fatalf("link %s, want %s", c.linkName, want)
	}
	p := c.Policy()
	if got := p.Name(); got != "test-fifo" {
		t.Fatalf("Name() = %q", got)
	}
	if v := c.ProtocolVersion(); v != ProtocolVersion {
		t.Fatalf("ProtocolVersion() = %d", v)
	}
	if _, ok := p.GetNext(0, 0); ok {
		t.Fatal("GetNext on an empty policy returned a task")
	}
	for id := sdk.TaskID(1); id <= 600; id++ { // more than maxPending: a notification-only flush
		p.Enqueue(task(id), sdk.Arrived)
	}
	p.Dequeue(2, sdk.Cancelled)
	if got := len(c.Held()); got != 599 {
		t.Fatalf("Held() has %d tasks, want 599", got)
	}
	if !p.OnInterrupt(0, task(1000), 0) {
		t.Fatal("OnInterrupt = false with tasks queued")
	}
	if p.WouldPreempt(0, task(1000), task(1001), 0) {
		t.Fatal("WouldPreempt = true")
	}
	var got []sdk.TaskID
	for {
		id, ok := p.GetNext(1, 0)
		if !ok {
			break
		}
		got = append(got, id)
		if len(got) == 3 {
			p.Enqueue(task(1), sdk.Preempted) // back at the end
		}
	}
	if len(got) != 600 || got[0] != 1 || got[1] != 3 || got[598] != 600 || got[599] != 1 {
		t.Fatalf("GetNext order: %d tasks, %v...%v", len(got), got[:3], got[len(got)-2:])
	}
	if h := c.Held(); len(h) != 0 {
		t.Fatalf("Held() = %v after draining", h)
	}
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestHeldOrderAndValues(t *testing.T) {
	c := launch(t, "fifo", LaunchOptions{})
	p := c.Policy()
	for _, id := range []sdk.TaskID{5, 3, 9, 7} {
		p.Enqueue(task(id), sdk.Arrived)
	}
	if id, _ := p.GetNext(0, 0); id != 5 {
		t.Fatalf("GetNext = %d, want 5", id)
	}
	p.Dequeue(9, sdk.Cancelled)
	t5 := task(5)
	t5.Ran = 42
	p.Enqueue(t5, sdk.Preempted)
	h := c.Held()
	var ids []sdk.TaskID
	for _, x := range h {
		ids = append(ids, x.ID)
	}
	if !slices.Equal(ids, []sdk.TaskID{3, 7, 5}) || h[2].Ran != 42 {
		t.Fatalf("Held() = %+v, want tasks 3, 7, 5 (Ran 42)", h)
	}
}

// faultCase is a misbehaving plugin and what the client must report.
type faultCase struct {
	mode    string
	want    string // in Err(); alternatives separated by |
	timeout time.Duration
	grpc    bool
}

func TestFaults(t *testing.T) {
	for _, l := range links {
		for _, fc := range []faultCase{
			{"hang", "GetNext did not answer within 300ms", 300 * time.Millisecond, l.grpc},
			{"unknown", "unknown task ID 424242", time.Second, l.grpc},
			{"panic", "GetNext panicked: getnext exploded", time.Second, l.grpc},
			{"exit", "connection lost|process exited", time.Second, l.grpc},
			{"panic-enqueue", "Enqueue panicked: enqueue exploded", time.Second, l.grpc},
		} {
			t.Run(l.name+"/"+fc.mode, func(t *testing.T) { testFault(t, fc) })
		}
	}
}

func testFault(t *testing.T, fc faultCase) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c := launch(t, fc.mode, LaunchOptions{CallTimeout: fc.timeout, grpcLink: fc.grpc})
	pid := c.pc.ReattachConfig().Pid
	p := c.Policy()
	p.Enqueue(task(1), sdk.Arrived)
	p.Enqueue(task(2), sdk.Arrived)
	start := time.Now()
	id, ok := p.GetNext(0, 0)
	took := time.Since(start)
	if ok {
		t.Fatalf("GetNext = %d, true from a faulty plugin", id)
	}
	if took > fc.timeout+time.Second {
		t.Fatalf("GetNext took %v, call timeout %v", took, fc.timeout)
	}
	err := c.Err()
	if err == nil || !containsAny(err.Error(), fc.want) || !strings.Contains(err.Error(), `plugin "test-`+fc.mode+`"`) {
		t.Fatalf("Err() = %v, want it to name the plugin and say %q", err, fc.want)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done() not closed after a fault")
	}
	// From now on every call answers at once with a zero answer.
	start = time.Now()
	for i := range 100 {
		p.Enqueue(task(sdk.TaskID(10+i)), sdk.Arrived)
		if _, ok := p.GetNext(0, 0); ok {
			t.Fatal("GetNext returned a task after a fault")
		}
		if p.OnInterrupt(0, task(1), 0) || p.WouldPreempt(0, task(1), task(2), 0) {
			t.Fatal("a preemption after a fault")
		}
		p.Dequeue(sdk.TaskID(10+i), sdk.Cancelled)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("400 calls after the fault took %v", d)
	}
	if errors.Is(c.Err(), ErrKilled) || c.Err() != err {
		t.Fatalf("Err() changed from %v to %v", err, c.Err())
	}
	// The tasks the plugin held are the core's to recover.
	var held []sdk.TaskID
	for _, x := range c.Held() {
		held = append(held, x.ID)
	}
	if !slices.Equal(held, []sdk.TaskID{1, 2}) {
		t.Fatalf("Held() = %v, want [1 2]", held)
	}
	c.Kill()
	select {
	case <-c.Exited():
	default:
		t.Fatal("Exited() not closed after Kill")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("plugin process %d still there after Kill: %v", pid, err)
	}
}

// containsAny reports whether s contains one of the |-separated
// alternatives.
func containsAny(s, alts string) bool {
	for _, a := range strings.Split(alts, "|") {
		if strings.Contains(s, a) {
			return true
		}
	}
	return false
}

func TestKill(t *testing.T) { forLinks(t, testKill) }

func testKill(t *testing.T, opts LaunchOptions) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c := launch(t, "fifo", opts)
	pid := c.pc.ReattachConfig().Pid
	p := c.Policy()
	p.Enqueue(task(1), sdk.Arrived)
	c.Kill()
	c.Kill()
	if !errors.Is(c.Err(), ErrKilled) {
		t.Fatalf("Err() after Kill = %v", c.Err())
	}
	if _, ok := p.GetNext(0, 0); ok {
		t.Fatal("GetNext returned a task after Kill")
	}
	<-c.Exited()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("plugin process %d still there after Kill: %v", pid, err)
	}
}

// A process that dies between calls is noticed at once, not at the next
// call.
func TestExitNoticed(t *testing.T) { forLinks(t, testExitNoticed) }

func testExitNoticed(t *testing.T, opts LaunchOptions) {
	c := launch(t, "fifo", opts)
	pid := c.pc.ReattachConfig().Pid
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []<-chan struct{}{c.Exited(), c.Done()} {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("the plugin's death went unnoticed")
		}
	}
	if err := c.Err(); err == nil || !containsAny(err.Error(), "connection lost|process exited") {
		t.Fatalf("Err() = %v", err)
	}
	if _, ok := c.Policy().GetNext(0, 0); ok {
		t.Fatal("GetNext returned a task from a dead plugin")
	}
}

// The plugin reports what its policy implements; the host's policy is an
// sdk.Admitter exactly when the plugin's is.
func TestCapabilities(t *testing.T) {
	for _, tt := range []struct {
		mode string
		want caps
	}{
		{"edf", 0},
		{"fifo", 0},
		{"admit", capAdmitter},
		{"all", capAll},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			c := launch(t, tt.mode, LaunchOptions{})
			if c.caps != tt.want {
				t.Fatalf("the plugin reported %v, want %v", c.caps.names(), tt.want.names())
			}
			if got := capsOf(sdk.ExtensionsOf(c.Policy())); got != tt.want|neutralCaps {
				t.Fatalf("the host's policy implements %v, want %v", got.names(), (tt.want | neutralCaps).names())
			}
		})
	}
}

// countingLink is a hostLink that counts what is sent and answers every
// call with reply.
type countingLink struct {
	posts, calls int
	reply        []byte
}

func (l *countingLink) post([]byte) error { l.posts++; return nil }
func (l *countingLink) roundTrip(frame []byte) ([]byte, error) {
	l.calls++
	seq, _ := parseFrame(frame)
	r := append([]byte(nil), l.reply...)
	binary.LittleEndian.PutUint32(r[4:], seq)
	return r, nil
}
func (l *countingLink) abort() {}
func (l *countingLink) close() {}

// For every capability set, wrap's policy is an Admitter exactly when the
// set says so; the other optional methods are always there, and those the
// plugin lacks answer neutrally on the host, without a round trip.
func TestWrap(t *testing.T) {
	var ok enc // a reply that is whole for Configure ("" error), Shed and Report (0 items)
	ok.start()
	ok.u8(statusOK)
	ok.u32(0)
	for cs := caps(0); cs <= capAll; cs++ {
		l := &countingLink{reply: ok.finish(0)}
		c := &Client{name: "wrap", log: slog.New(slog.DiscardHandler), link: l, held: map[sdk.TaskID]heldTask{}, failed: make(chan struct{})}
		p := wrap(c, cs)
		if got := capsOf(sdk.ExtensionsOf(p)); got != cs|neutralCaps {
			t.Errorf("wrap(%v) implements %v", cs.names(), got.names())
			continue
		}
		p.(sdk.Charger).Charge(task(1), time.Millisecond, 0)
		charged := c.pending
		_ = p.(sdk.Configurer).Configure(sdk.Config{Workers: 2})
		_ = p.(sdk.Shedder).Shed(0)
		_ = p.(sdk.Reporter).Report(0)
		want := 0
		for _, x := range []caps{capConfigurer, capShedder, capReporter} {
			if cs&x != 0 {
				want++
			}
		}
		if l.calls != want || (charged == 1) != (cs&capCharger != 0) || c.Err() != nil {
			t.Errorf("wrap(%v): %d round trips (want %d), Charge queued %d, err %v", cs.names(), l.calls, want, charged, c.Err())
		}
		// Tables for a policy that takes none are refused, not dropped.
		err := p.(sdk.Configurer).Configure(sdk.Config{Workers: 2, Tenants: []sdk.TenantConfig{{Name: "t", Options: "x = 1"}}})
		if noCfg := cs&capConfigurer == 0; noCfg != (err != nil) || noCfg && !strings.Contains(err.Error(), "takes no settings") {
			t.Errorf("wrap(%v): Configure with a table = %v", cs.names(), err)
		}
	}
}

func TestOptionalInterfaces(t *testing.T) { forLinks(t, testOptionalInterfaces) }

func testOptionalInterfaces(t *testing.T, opts LaunchOptions) {
	c := launch(t, "all", opts)
	p := c.Policy()
	cfg := p.(sdk.Configurer)
	if err := cfg.Configure(sdk.Config{Workers: 99}); err == nil || !strings.Contains(err.Error(), "99 workers is too many") || sdk.OptionErrors(err) != nil {
		t.Fatalf("Configure(99) = %v, want a plain error", err)
	}
	if c.Err() != nil {
		t.Fatalf("a Configure error faulted the client: %v", c.Err())
	}
	// Errors about keys cross the wire as sdk.OptionErrors, tenant and key
	// intact, so the core can name their file:line.
	err := cfg.Configure(sdk.Config{Workers: 3, Tenants: []sdk.TenantConfig{
		{Name: "t0", Options: "limit = -1"}, {Name: "t1", Options: "limt = 2"}, {Name: "t2", Options: "limit = 2"}}})
	var got []string
	for _, oe := range sdk.OptionErrors(err) {
		got = append(got, oe.Error())
	}
	if want := []string{`tenant "t0": key "limit": must not be negative, got -1`, `tenant "t1": key "limt": unknown key (known: limit)`}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Configure with bad tables = %v, want the OptionErrors %q", err, want)
	}
	if err := cfg.Configure(sdk.Config{Workers: 3, Tenants: []sdk.TenantConfig{{Name: "t0", Options: "limit = 1"}, {Name: "t1"}}}); err != nil {
		t.Fatal(err)
	}
	adm := p.(sdk.Admitter)
	for _, tt := range []struct {
		tenant string
		class  sdk.Class
		ok     bool
	}{{"t0", sdk.ClassGuaranteed, true}, {"deny", sdk.ClassGuaranteed, false}, {"be", sdk.ClassBestEffort, true}} {
		tk := task(1)
		tk.Tenant = tt.tenant
		if class, ok := adm.Admit(tk, 0); class != tt.class || ok != tt.ok {
			t.Errorf("Admit(tenant %s) = %v, %v; want %v, %v", tt.tenant, class, ok, tt.class, tt.ok)
		}
	}
	for id := sdk.TaskID(1); id <= 5; id++ {
		tk := task(id)
		if id%2 == 0 {
			tk.Route = "/shed"
		}
		p.Enqueue(tk, sdk.Arrived)
	}
	if ids := p.(sdk.Shedder).Shed(0); !slices.Equal(ids, []sdk.TaskID{2, 4}) {
		t.Fatalf("Shed() = %v, want [2 4]", ids)
	}
	if got := len(c.Held()); got != 3 {
		t.Fatalf("Held() has %d tasks after Shed, want 3", got)
	}
	p.(sdk.Charger).Charge(task(1), 1500*time.Millisecond, 0)
	gs := p.(sdk.Reporter).Report(0)
	want := []sdk.Gauge{{Name: "queued", Value: 3}, {Name: "workers", Value: 3}, {Name: "charged_seconds", Tenant: "t0", Value: 1.5}, {Name: "charged_seconds", Tenant: "t1"}}
	if !slices.Equal(gs, want) {
		t.Fatalf("Report() = %v, want %v", gs, want)
	}
	if c.Err() != nil {
		t.Fatal(c.Err())
	}
}

func TestSHA256(t *testing.T) {
	data, err := os.ReadFile(testBin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	good := hex.EncodeToString(sum[:])
	launch(t, "fifo", LaunchOptions{SHA256: good})

	bad := strings.Repeat("ab", sha256.Size)
	_, err = Launch(context.Background(), "tampered", testBin, LaunchOptions{Args: []string{"fifo"}, SHA256: bad, Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), `plugin "tampered"`) || !strings.Contains(err.Error(), good) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("Launch with the wrong SHA-256: %v", err)
	}
	_, err = Launch(context.Background(), "typo", testBin, LaunchOptions{SHA256: "xyz"})
	if err == nil || !strings.Contains(err.Error(), "not a hex SHA-256") {
		t.Fatalf("Launch with a malformed SHA-256: %v", err)
	}
}

func TestAutoMTLS(t *testing.T) {
	c := launch(t, "fifo", LaunchOptions{AutoMTLS: true})
	c.Policy().Enqueue(task(1), sdk.Arrived)
	if id, ok := c.Policy().GetNext(0, 0); !ok || id != 1 {
		t.Fatalf("GetNext = %d, %v", id, ok)
	}
}

func TestLaunchErrors(t *testing.T) {
	quiet := LaunchOptions{Logger: slog.New(slog.DiscardHandler)}
	if _, err := Launch(context.Background(), "missing", "/nonexistent/policy", quiet); err == nil || !strings.Contains(err.Error(), `plugin "missing"`) {
		t.Fatalf("Launch of a missing binary: %v", err)
	}
	// Not a plugin: exits at once.
	if _, err := Launch(context.Background(), "true", "/bin/true", quiet); err == nil {
		t.Fatal("Launch of /bin/true succeeded")
	}
	quiet.Args = []string{"no-such-mode"}
	if _, err := Launch(context.Background(), "bad-mode", testBin, quiet); err == nil {
		t.Fatal("Launch of a plugin that exits succeeded")
	}
	// Built for the old protocol: refused, naming both versions.
	quiet.Args = []string{"v1"}
	_, err := Launch(context.Background(), "old", testBin, quiet)
	if err == nil || !strings.Contains(err.Error(), `plugin "old"`) || !strings.Contains(err.Error(), "protocol version 1, this gosledge speaks 3") {
		t.Fatalf("Launch of a protocol 1 plugin: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogs(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c := launch(t, "log", LaunchOptions{Logger: log})
	c.Policy().Enqueue(task(7), sdk.Arrived)
	c.Policy().GetNext(0, 0) // flushes the Enqueue
	// Each wanted line holds all its fragments (attribute order from the
	// plugin's JSON is not kept).
	want := [][]string{
		{`level=INFO msg=enqueued plugin=test-log`, `task=7`, `tenant=t0`},
		{`level=INFO msg="stdout: enqueued 7" plugin=test-log stream=stdout`},
		{`level=WARN msg="stderr: enqueued 7" plugin=test-log stream=stderr`},
		{`level=INFO msg="policy plugin started" plugin=test-log`, `policy=test-log`, `protocol=3`, `link=socket`},
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := buf.String()
		missing := missingLine(out, want)
		if missing == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line holds %q:\n%s", missing, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func missingLine(out string, want [][]string) []string {
	lines := strings.Split(out, "\n")
next:
	for _, w := range want {
		for _, l := range lines {
			ok := true
			for _, f := range w {
				ok = ok && strings.Contains(l, f)
			}
			if ok {
				continue next
			}
		}
		return w
	}
	return nil
}
