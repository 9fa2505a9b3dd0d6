package plugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/gosledge/gosledge/sdk"
	pb "github.com/gosledge/gosledge/sdk/plugin/proto"
)

// LaunchOptions configures Launch. The zero value is usable.
type LaunchOptions struct {
	// Args are passed to the plugin binary.
	Args []string

	// SHA256, if set, is the hex SHA-256 of the binary; Launch refuses to
	// start a binary that does not match.
	SHA256 string

	// AutoMTLS secures the connection with a certificate pair generated
	// for this launch. The connection is a Unix socket owned by the
	// current user either way.
	AutoMTLS bool

	// CallTimeout bounds every call that waits for an answer; a plugin
	// that does not answer in time is faulted. Default 20ms.
	CallTimeout time.Duration

	// StartTimeout bounds starting the process and the handshake, unless
	// Launch's context ends first. Default 10s.
	StartTimeout time.Duration

	// Logger receives the plugin's logs, stdout and stderr, and the
	// client's own messages, each with a "plugin" attribute naming the
	// plugin. Default slog.Default().
	Logger *slog.Logger
}

const (
	defaultCallTimeout  = 20 * time.Millisecond
	defaultStartTimeout = 10 * time.Second
	// maxPending bounds the notifications kept for the next call; more are
	// sent on their own, without waiting.
	maxPending = 256
)

// ErrKilled is what Err reports after Kill when there was no earlier
// fault.
var ErrKilled = errors.New("plugin killed")

// Client is the host's handle on one plugin process. Its Policy is used by
// the core like a built-in policy; the Client itself reports faults and
// stops the process.
//
// A Client is safe for concurrent use, but policy calls are serialised
// (the core makes them under its scheduler lock anyway).
type Client struct {
	name     string // from the config, for logs and errors
	pc       *goplugin.Client
	log      *slog.Logger
	timeout  time.Duration
	version  int
	policy   string // the policy's Name()
	caps     caps
	wrapper  sdk.Policy
	exited   <-chan struct{}
	stream   pb.Policy_SessionClient
	cancel   context.CancelFunc // ends the stream
	watching chan struct{}      // closed when watch returns

	failed   chan struct{} // closed at the first fault
	failOnce sync.Once
	err      atomic.Pointer[error]
	killOnce sync.Once

	watchdog *time.Timer  // faults a call that takes too long
	calling  atomic.Int32 // the op of the call in flight, for the watchdog

	mu      sync.Mutex
	seq     uint64
	pool    []slot      // reusable events; [start:used) are pending
	events  []*pb.Event // events[i] is pool[i].ev, fixed
	start   int         // first pending slot
	used    int         // slots in use since the last reply
	batch   pb.Batch    // reused once its reply arrived
	reply   pb.Reply    // the last reply, valid until the next call
	held    map[sdk.TaskID]heldTask
	heldSeq uint64
}

// slot is one reusable event with its task messages.
type slot struct {
	ev          *pb.Event
	task, other *pb.Task
}

type heldTask struct {
	t   sdk.Task
	seq uint64 // enqueue order
}

// Launch starts the plugin binary at path, checks it (SHA-256 if asked,
// handshake, protocol version), asks the policy's name and capabilities,
// and opens the call stream. name identifies the plugin in logs and
// errors. ctx's deadline bounds the start (a cancellation is noticed once
// the process has started); the process lives until Kill, which the
// caller must call, even after a fault.
func Launch(ctx context.Context, name, path string, opts LaunchOptions) (*Client, error) {
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = defaultCallTimeout
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = defaultStartTimeout
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) < opts.StartTimeout {
		opts.StartTimeout = max(time.Until(d), time.Millisecond)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	log := opts.Logger.With("plugin", name)
	cfg := &goplugin.ClientConfig{
		HandshakeConfig:  handshake,
		VersionedPlugins: pluginSets(nil),
		Cmd:              exec.Command(path, opts.Args...),
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           newHCLogger(log, levelTrace),
		SyncStdout:       &lineWriter{l: log, level: slog.LevelInfo, attrs: []any{"stream", "stdout"}},
		SyncStderr:       &lineWriter{l: log, level: slog.LevelWarn, attrs: []any{"stream", "stderr"}},
		StartTimeout:     opts.StartTimeout,
		AutoMTLS:         opts.AutoMTLS,
	}
	if opts.SHA256 != "" {
		sum, err := hex.DecodeString(strings.TrimSpace(opts.SHA256))
		if err != nil || len(sum) != sha256.Size {
			return nil, fmt.Errorf("plugin %q: sha256 %q is not a hex SHA-256", name, opts.SHA256)
		}
		cfg.SecureConfig = &goplugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
	pc := goplugin.NewClient(cfg)
	c, err := connect(ctx, pc, name, log, opts)
	if err != nil {
		pc.Kill()
		if errors.Is(err, goplugin.ErrChecksumsDoNotMatch) {
			return nil, fmt.Errorf("plugin %q: refusing %s: its SHA-256 is %s, the config says %s: %w", name, path, fileSHA256(path), opts.SHA256, err)
		}
		return nil, fmt.Errorf("plugin %q (%s): %w", name, path, err)
	}
	log.Info("policy plugin started", "path", path, "policy", c.policy, "protocol", c.version, "capabilities", c.caps.names())
	return c, nil
}

func connect(ctx context.Context, pc *goplugin.Client, name string, log *slog.Logger, opts LaunchOptions) (*Client, error) {
	proto, err := pc.Client() // starts the process and handshakes
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	raw, err := proto.Dispense(pluginName)
	if err != nil {
		return nil, err
	}
	st := raw.(*stub)
	hctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	hello, err := st.rpc.Hello(hctx, &pb.HelloRequest{ProtocolVersion: ProtocolVersion})
	if err != nil {
		return nil, fmt.Errorf("hello: %w", err)
	}
	if hello.ProtocolVersion != ProtocolVersion {
		return nil, fmt.Errorf("plugin speaks protocol %d, host %d", hello.ProtocolVersion, ProtocolVersion)
	}
	if hello.Name == "" {
		return nil, errors.New("the policy's Name() is empty")
	}
	sctx, scancel := context.WithCancel(context.Background())
	stream, err := st.rpc.Session(sctx)
	if err != nil {
		scancel()
		return nil, fmt.Errorf("session: %w", err)
	}
	c := &Client{
		name:     name,
		pc:       pc,
		log:      log,
		timeout:  opts.CallTimeout,
		version:  pc.NegotiatedVersion(),
		policy:   hello.Name,
		caps:     capsFromProto(hello.Capabilities),
		exited:   st.exited.Done(),
		stream:   stream,
		cancel:   scancel,
		watching: make(chan struct{}),
		failed:   make(chan struct{}),
		held:     map[sdk.TaskID]heldTask{},
	}
	c.watchdog = time.AfterFunc(time.Hour, c.expired)
	c.watchdog.Stop()
	c.wrapper = wrap(c, c.caps)
	go c.watch()
	return c, nil
}

func fileSHA256(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unreadable (" + err.Error() + ")"
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "unreadable (" + err.Error() + ")"
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Policy returns the plugin's policy. It implements sdk.Policy and
// exactly those of sdk.Charger, sdk.Configurer, sdk.Admitter, sdk.Shedder
// and sdk.Reporter that the plugin's policy implements. Its methods never
// block longer than the call timeout and never panic; after a fault (see
// Err) they return at once with zero answers: GetNext and OnInterrupt
// false, WouldPreempt false, Admit refuses, Shed and Report nothing,
// Configure Err.
func (c *Client) Policy() sdk.Policy { return c.wrapper }

// ProtocolVersion is the protocol version negotiated with the plugin.
func (c *Client) ProtocolVersion() int { return c.version }

// Err returns the first fault: the plugin did not answer a call in time,
// its connection broke or its process exited, it panicked, or it answered
// something impossible (a task it does not hold). After Kill it is at
// least ErrKilled. nil while the plugin is healthy.
func (c *Client) Err() error {
	if p := c.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Done is closed at the first fault, when Err becomes non-nil; a fault the
// client notices between calls (the process died, the plugin reported a
// panic in a notification) shows up here at once.
func (c *Client) Done() <-chan struct{} { return c.failed }

// Exited is closed when the plugin process has exited (by itself or by
// Kill).
func (c *Client) Exited() <-chan struct{} { return c.exited }

// Held returns the tasks the policy was given (Enqueue) and has not handed
// out (GetNext, Shed) nor had removed (Dequeue), with their latest value,
// in the order they were enqueued. After a fault these are the tasks to
// hand to a fallback policy.
func (c *Client) Held() []sdk.Task {
	c.mu.Lock()
	hs := make([]heldTask, 0, len(c.held))
	for _, h := range c.held {
		hs = append(hs, h)
	}
	c.mu.Unlock()
	slices.SortFunc(hs, func(a, b heldTask) int { return compareU64(a.seq, b.seq) })
	ts := make([]sdk.Task, len(hs))
	for i, h := range hs {
		ts[i] = h.t
	}
	return ts
}

func compareU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Kill stops the plugin process and waits for it and for the client's
// goroutines. Later policy calls return zero answers at once. It is safe
// to call more than once.
func (c *Client) Kill() {
	c.killOnce.Do(func() {
		c.fault(fmt.Errorf("plugin %q: %w", c.name, ErrKilled))
		c.pc.Kill()
		<-c.watching
	})
}

// fault records the first fault and ends the stream, which unblocks a call
// in flight.
func (c *Client) fault(err error) {
	c.failOnce.Do(func() {
		c.err.Store(&err)
		close(c.failed)
		c.cancel()
		if !errors.Is(err, ErrKilled) {
			c.log.Error("policy plugin failed", "err", err)
		}
	})
}

// expired runs on the watchdog timer when a call takes too long.
func (c *Client) expired() {
	op := pb.Op(c.calling.Load())
	if op == pb.Op_OP_UNSPECIFIED {
		c.fault(fmt.Errorf("plugin %q: did not read its notifications within %v", c.name, c.timeout))
		return
	}
	c.fault(fmt.Errorf("plugin %q: %s did not answer within %v", c.name, opName(op), c.timeout))
}

// watch faults the client when the process exits, even between calls.
func (c *Client) watch() {
	defer close(c.watching)
	select {
	case <-c.exited:
		c.fault(fmt.Errorf("plugin %q: process exited", c.name))
	case <-c.failed:
	}
}

func (c *Client) faulted() bool { return c.err.Load() != nil }

// ---- the calls, with c.mu held ----

// next returns a fresh pending event.
func (c *Client) next(op pb.Op) *slot {
	if c.used == len(c.pool) {
		s := slot{ev: new(pb.Event), task: new(pb.Task), other: new(pb.Task)}
		c.pool = append(c.pool, s)
		c.events = append(c.events, s.ev)
	}
	s := &c.pool[c.used]
	c.used++
	ev := s.ev
	ev.Op, ev.Seq, ev.Task, ev.Other, ev.Id, ev.Worker, ev.Now, ev.Used, ev.Reason, ev.Configure = op, 0, nil, nil, 0, 0, 0, 0, 0, nil
	return s
}

// notify queues a notification, sending the pending ones on their own if
// there are too many.
func (c *Client) notify() {
	if c.used-c.start < maxPending {
		return
	}
	// This batch gets no reply to say it was sent: it is not reused.
	b := &pb.Batch{Events: c.events[c.start:c.used]}
	c.start = c.used
	c.send(pb.Op_OP_UNSPECIFIED, b)
}

// send sends b under the watchdog.
func (c *Client) send(op pb.Op, b *pb.Batch) bool {
	c.calling.Store(int32(op))
	c.watchdog.Reset(c.timeout)
	err := c.stream.Send(b)
	if !c.watchdog.Stop() {
		return false // expired: faulted
	}
	if err != nil {
		c.fault(fmt.Errorf("plugin %q: send %s: %w", c.name, opName(op), err))
		return false
	}
	return true
}

// call sends the pending notifications and the call in s, which must be
// the last event, and waits for the reply. It returns nil after a fault.
func (c *Client) call(s *slot) *pb.Reply {
	op := s.ev.Op
	c.seq++
	s.ev.Seq = c.seq
	c.batch.Events = c.events[c.start:c.used]
	c.calling.Store(int32(op))
	c.watchdog.Reset(c.timeout)
	if err := c.stream.Send(&c.batch); err != nil {
		c.watchdog.Stop()
		c.fault(fmt.Errorf("plugin %q: send %s: %w", c.name, opName(op), err))
		return nil
	}
	r := &c.reply
	err := c.stream.RecvMsg(r)
	if !c.watchdog.Stop() {
		return nil // expired: faulted
	}
	if err != nil {
		c.fault(fmt.Errorf("plugin %q: connection lost: %w", c.name, err))
		return nil
	}
	if r.Fault != "" {
		c.fault(fmt.Errorf("plugin %q: %s", c.name, r.Fault))
		return nil
	}
	if r.Seq != c.seq {
		c.fault(fmt.Errorf("plugin %q: protocol error: reply %d to call %d (%s)", c.name, r.Seq, c.seq, opName(op)))
		return nil
	}
	// The server has read every event sent so far: reuse them all.
	c.start, c.used = 0, 0
	return r
}

func setTask(dst *pb.Task, t sdk.Task) *pb.Task {
	dst.Id = uint64(t.ID)
	dst.Tenant = t.Tenant
	dst.Route = t.Route
	dst.Arrival = int64(t.Arrival)
	dst.Deadline = int64(t.Deadline)
	dst.Expected = int64(t.Expected)
	dst.Ran = int64(t.Ran)
	dst.Class = uint32(t.Class)
	return dst
}

func (c *Client) enqueue(t sdk.Task, why sdk.EnqueueReason) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.heldSeq++
	c.held[t.ID] = heldTask{t, c.heldSeq}
	if c.faulted() {
		return
	}
	s := c.next(pb.Op_OP_ENQUEUE)
	s.ev.Task = setTask(s.task, t)
	s.ev.Reason = uint32(why)
	c.notify()
}

func (c *Client) dequeue(id sdk.TaskID, why sdk.DequeueReason) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.held, id)
	if c.faulted() {
		return
	}
	s := c.next(pb.Op_OP_DEQUEUE)
	s.ev.Id = uint64(id)
	s.ev.Reason = uint32(why)
	c.notify()
}

func (c *Client) charge(t sdk.Task, used, now time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.faulted() {
		return
	}
	s := c.next(pb.Op_OP_CHARGE)
	s.ev.Task = setTask(s.task, t)
	s.ev.Used = int64(used)
	s.ev.Now = int64(now)
	c.notify()
}

func (c *Client) getNext(w sdk.WorkerID, now time.Duration) (sdk.TaskID, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.faulted() {
		return 0, false
	}
	s := c.next(pb.Op_OP_GET_NEXT)
	s.ev.Worker = int32(w)
	s.ev.Now = int64(now)
	r := c.call(s)
	if r == nil || !r.Ok {
		return 0, false
	}
	id := sdk.TaskID(r.Id)
	if _, ok := c.held[id]; !ok {
		c.fault(fmt.Errorf("plugin %q: GetNext returned unknown task ID %d (not enqueued, or already handed out or removed)", c.name, id))
		return 0, false
	}
	delete(c.held, id)
	return id, true
}

func (c *Client) onInterrupt(w sdk.WorkerID, cur sdk.Task, now time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.faulted() {
		return false
	}
	s := c.next(pb.Op_OP_ON_INTERRUPT)
	s.ev.Worker = int32(w)
	s.ev.Task = setTask(s.task, cur)
	s.ev.Now = int64(now)
	r := c.call(s)
	return r != nil && r.Ok
}

func (c *Client) wouldPreempt(w sdk.WorkerID, cur, arriving sdk.Task) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.faulted() {
		return false
	}
	s := c.next(pb.Op_OP_WOULD_PREEMPT)
	s.ev.Worker = int32(w)
	s.ev.Task = setTask(s.task, cur)
	s.ev.Other = setTask(s.other, arriving)
	r := c.call(s)
	return r != nil && r.Ok
}

func (c *Client) admit(t sdk.Task, now time.Duration) (sdk.Class, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.faulted() {
		return sdk.ClassDefault, false
	}
	s := c.next(pb.Op_OP_ADMIT)
	s.ev.Task = setTask(s.task, t)
	s.ev.Now = int64(now)
	r := c.call(s)
	if r == nil {
		return sdk.ClassDefault, false
	}
	if r.Class > 255 {
		c.fault(fmt.Errorf("plugin %q: Admit returned class %d", c.name, r.Class))
		return sdk.ClassDefault, false
	}
	return sdk.Class(r.Class), r.Ok
}

func (c *Client) shed(now time.Duration) []sdk.TaskID {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.faulted() {
		return nil
	}
	s := c.next(pb.Op_OP_SHED)
	s.ev.Now = int64(now)
	r := c.call(s)
	if r == nil || len(r.Ids) == 0 {
		return nil
	}
	ids := make([]sdk.TaskID, len(r.Ids))
	for i, x := range r.Ids {
		id := sdk.TaskID(x)
		if _, ok := c.held[id]; !ok {
			// The ones before it are out of the plugin's queue: hand them
			// to the core, which takes the rest back through Held.
			c.fault(fmt.Errorf("plugin %q: Shed returned unknown task ID %d (not enqueued, or already handed out or removed)", c.name, id))
			return ids[:i]
		}
		delete(c.held, id)
		ids[i] = id
	}
	return ids
}

func (c *Client) report(now time.Duration) []sdk.Gauge {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.faulted() {
		return nil
	}
	s := c.next(pb.Op_OP_REPORT)
	s.ev.Now = int64(now)
	r := c.call(s)
	if r == nil {
		return nil
	}
	gs := make([]sdk.Gauge, len(r.Gauges))
	for i, g := range r.Gauges {
		gs[i] = sdk.Gauge{Name: g.Name, Tenant: g.Tenant, Value: g.Value}
	}
	return gs
}

func (c *Client) configure(workers int, tenants []sdk.TenantConfig) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.Err(); err != nil {
		return err
	}
	s := c.next(pb.Op_OP_CONFIGURE)
	cfg := &pb.Configure{Workers: int32(workers)}
	for _, t := range tenants {
		cfg.Tenants = append(cfg.Tenants, &pb.TenantConfig{
			Name:                t.Name,
			ReplenishmentPeriod: int64(t.ReplenishmentPeriod),
			MaxBudget:           int64(t.MaxBudget),
			Reservation:         t.Reservation,
		})
	}
	s.ev.Configure = cfg
	r := c.call(s)
	if r == nil {
		return c.Err()
	}
	if r.Error != "" {
		return fmt.Errorf("plugin %q: Configure: %s", c.name, r.Error)
	}
	return nil
}
