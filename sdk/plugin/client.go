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

	// AutoMTLS secures go-plugin's gRPC connection (handshake, Hello,
	// stdio) with a certificate pair generated for this launch; it is a
	// Unix socket owned by the current user either way. The calls' socket
	// pair has no path: no other process can reach it.
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

	// grpcLink forces the gRPC Session link where the socket link would
	// be used (tests and BenchmarkDecision).
	grpcLink bool
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
	link     hostLink
	linkName string        // "socket" or "grpc", for logs
	watching chan struct{} // closed when watch returns

	failed   chan struct{} // closed at the first fault
	failOnce sync.Once
	err      atomic.Pointer[error]
	killOnce sync.Once

	mu      sync.Mutex
	seq     uint32
	out     enc // the pending request: notifications, then the call
	pending int // notifications in out
	in      dec // the last reply, valid until the next call
	lastNow time.Duration
	held    map[sdk.TaskID]heldTask
	heldSeq uint64
}

type heldTask struct {
	t   sdk.Task
	seq uint64 // enqueue order
}

// Launch starts the plugin binary at path, checks it (SHA-256 if asked,
// handshake, protocol version), asks the policy's name and capabilities,
// and opens the call link. name identifies the plugin in logs and errors.
// ctx's deadline bounds the start (a cancellation is noticed once the
// process has started); the process lives until Kill, which the caller
// must call, even after a fault.
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
	cmd := exec.Command(path, opts.Args...)
	var (
		link     hostLink
		linkFile *os.File // the plugin's end, ours closed once it started
	)
	if !opts.grpcLink {
		var err error
		link, linkFile, err = socketPair(opts.CallTimeout)
		if err != nil && !errors.Is(err, errNoSocketLink) {
			return nil, fmt.Errorf("plugin %q: %w", name, err)
		}
		if linkFile != nil {
			cmd.ExtraFiles = []*os.File{linkFile} // linkFD in the plugin
		}
	}
	hclog := newHCLogger(log, levelTrace)
	cfg := &goplugin.ClientConfig{
		HandshakeConfig:  handshake,
		VersionedPlugins: pluginSets(nil),
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           hclog,
		SyncStdout:       &lineWriter{l: log, level: slog.LevelInfo, attrs: []any{"stream", "stdout"}},
		SyncStderr:       &lineWriter{l: log, level: slog.LevelWarn, attrs: []any{"stream", "stderr"}},
		StartTimeout:     opts.StartTimeout,
		AutoMTLS:         opts.AutoMTLS,
	}
	if opts.SHA256 != "" {
		sum, err := hex.DecodeString(strings.TrimSpace(opts.SHA256))
		if err != nil || len(sum) != sha256.Size {
			closeLink(link, linkFile)
			return nil, fmt.Errorf("plugin %q: sha256 %q is not a hex SHA-256", name, opts.SHA256)
		}
		cfg.SecureConfig = &goplugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
	pc := goplugin.NewClient(cfg)
	c, err := connect(ctx, pc, name, log, opts, link, linkFile)
	if err != nil {
		pc.Kill()
		closeLink(link, nil)
		if errors.Is(err, goplugin.ErrChecksumsDoNotMatch) {
			return nil, fmt.Errorf("plugin %q: refusing %s: its SHA-256 is %s, the config says %s: %w", name, path, fileSHA256(path), opts.SHA256, err)
		}
		return nil, fmt.Errorf("plugin %q (%s): %w", name, path, err)
	}
	hclog.started.Store(true)
	log.Info("policy plugin started", "path", path, "policy", c.policy, "protocol", c.version, "link", c.linkName, "capabilities", c.caps.names())
	return c, nil
}

func closeLink(l hostLink, f *os.File) {
	if f != nil {
		f.Close()
	}
	if l != nil {
		l.abort()
		l.close()
	}
}

// connect handshakes, says hello and opens the link: link (with the
// plugin's end linkFile) if there is one, else the Session stream.
func connect(ctx context.Context, pc *goplugin.Client, name string, log *slog.Logger, opts LaunchOptions, link hostLink, linkFile *os.File) (*Client, error) {
	proto, err := pc.Client() // starts the process and handshakes
	if linkFile != nil {
		linkFile.Close() // the plugin has its copy: its exit is our end of file
	}
	if err != nil {
		return nil, err
	}
	if v := pc.NegotiatedVersion(); v != ProtocolVersion {
		return nil, fmt.Errorf("the plugin speaks policy protocol version %d, this gosledge speaks %d: rebuild the plugin against this gosledge's sdk/plugin", v, ProtocolVersion)
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
	req := &pb.HelloRequest{ProtocolVersion: ProtocolVersion}
	if link != nil {
		req.LinkFd = linkFD
	}
	hello, err := st.rpc.Hello(hctx, req)
	if err != nil {
		return nil, fmt.Errorf("hello: %w", err)
	}
	if hello.ProtocolVersion != ProtocolVersion {
		return nil, fmt.Errorf("plugin speaks protocol %d, host %d", hello.ProtocolVersion, ProtocolVersion)
	}
	if hello.Name == "" {
		return nil, errors.New("the policy's Name() is empty")
	}
	linkName := "socket"
	if link == nil {
		sctx, scancel := context.WithCancel(context.Background())
		stream, err := st.rpc.Session(sctx)
		if err != nil {
			scancel()
			return nil, fmt.Errorf("session: %w", err)
		}
		link, linkName = newGRPCLink(stream, scancel, opts.CallTimeout), "grpc"
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
		link:     link,
		linkName: linkName,
		watching: make(chan struct{}),
		failed:   make(chan struct{}),
		held:     map[sdk.TaskID]heldTask{},
	}
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

// Policy returns the plugin's policy. It implements sdk.Policy,
// sdk.Charger, sdk.Configurer, sdk.Shedder and sdk.Reporter (those the
// plugin's policy lacks do nothing, without a round trip), and
// sdk.Admitter exactly when the plugin's policy does. Its methods never
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
		// The fault ended any call in flight; once it has returned, no
		// call can use the link again.
		c.mu.Lock()
		c.link.close()
		c.mu.Unlock()
	})
}

// fault records the first fault and aborts the link, which unblocks a
// call in flight.
func (c *Client) fault(err error) {
	c.failOnce.Do(func() {
		c.err.Store(&err)
		close(c.failed)
		c.link.abort()
		if !errors.Is(err, ErrKilled) {
			c.log.Error("policy plugin failed", "err", err)
		}
	})
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

// event starts encoding an event of kind o into the pending request.
func (c *Client) event(o op) *enc {
	if c.out.empty() {
		c.out.start()
	}
	c.out.u8(uint8(o))
	return &c.out
}

// callEvent starts encoding the call o, which carries now first.
func (c *Client) callEvent(o op, now time.Duration) *enc {
	e := c.event(o)
	e.i64(int64(now))
	return e
}

// linkErr faults the client for err, an error of the link during a call
// of kind o (opNone: sending notifications).
func (c *Client) linkErr(o op, err error) {
	switch {
	case errors.Is(err, errAborted):
		// Faulted already (Kill, the process exited, a timeout).
	case errors.Is(err, errTimeout) && o == opNone:
		c.fault(fmt.Errorf("plugin %q: did not read its notifications within %v", c.name, c.timeout))
	case errors.Is(err, errTimeout):
		c.fault(fmt.Errorf("plugin %q: %s did not answer within %v", c.name, o, c.timeout))
	default:
		c.fault(fmt.Errorf("plugin %q: connection lost during %s: %w", c.name, o, err))
	}
}

// notify ends a notification, sending the pending ones on their own if
// there are too many.
func (c *Client) notify() {
	c.pending++
	if c.pending < maxPending {
		return
	}
	frame := c.out.finish(0)
	c.out.b, c.pending = c.out.b[:0], 0
	if err := c.link.post(frame); err != nil {
		c.linkErr(opNone, err)
	}
}

// call sends the pending notifications and the call o, encoded last, and
// returns a decoder over the answer, or nil after a fault.
func (c *Client) call(o op) *dec {
	c.seq++
	frame := c.out.finish(c.seq)
	c.out.b, c.pending = c.out.b[:0], 0
	reply, err := c.link.roundTrip(frame)
	if err != nil {
		c.linkErr(o, err)
		return nil
	}
	seq, body := parseFrame(reply)
	d := &c.in
	d.b, d.bad = body, false
	if d.u8() == statusFault {
		msg := d.str()
		if d.bad {
			msg = "a malformed fault"
		}
		c.fault(fmt.Errorf("plugin %q: %s", c.name, msg))
		return nil
	}
	if seq != c.seq {
		c.fault(fmt.Errorf("plugin %q: protocol error: reply %d to call %d (%s)", c.name, seq, c.seq, o))
		return nil
	}
	return d
}

// done checks that the answer to o was whole, faulting the client if not.
func (c *Client) done(o op, d *dec) bool {
	if d.bad || d.more() {
		c.fault(fmt.Errorf("plugin %q: protocol error: malformed answer to %s", c.name, o))
		return false
	}
	return true
}

func (c *Client) enqueue(t sdk.Task, why sdk.EnqueueReason) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.heldSeq++
	c.held[t.ID] = heldTask{t, c.heldSeq}
	if c.faulted() {
		return
	}
	e := c.event(opEnqueue)
	e.task(t)
	e.u8(uint8(why))
	c.notify()
}

func (c *Client) dequeue(id sdk.TaskID, why sdk.DequeueReason) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.held, id)
	if c.faulted() {
		return
	}
	e := c.event(opDequeue)
	e.u64(uint64(id))
	e.u8(uint8(why))
	c.notify()
}

func (c *Client) charge(t sdk.Task, used, now time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastNow = now
	if c.faulted() {
		return
	}
	e := c.event(opCharge)
	e.i64(int64(used))
	e.i64(int64(now))
	e.task(t)
	c.notify()
}

func (c *Client) getNext(w sdk.WorkerID, now time.Duration) (sdk.TaskID, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastNow = now
	if c.faulted() {
		return 0, false
	}
	c.callEvent(opGetNext, now).u32(uint32(int32(w)))
	d := c.call(opGetNext)
	if d == nil {
		return 0, false
	}
	ok, id := d.bool(), sdk.TaskID(d.u64())
	if !c.done(opGetNext, d) || !ok {
		return 0, false
	}
	if _, held := c.held[id]; !held {
		c.fault(fmt.Errorf("plugin %q: GetNext returned unknown task ID %d (not enqueued, or already handed out or removed)", c.name, id))
		return 0, false
	}
	delete(c.held, id)
	return id, true
}

// answer reads a call's boolean answer.
func (c *Client) answer(o op) bool {
	d := c.call(o)
	if d == nil {
		return false
	}
	ok := d.bool()
	return c.done(o, d) && ok
}

func (c *Client) onInterrupt(w sdk.WorkerID, cur sdk.Task, now time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastNow = now
	if c.faulted() {
		return false
	}
	e := c.callEvent(opOnInterrupt, now)
	e.u32(uint32(int32(w)))
	e.task(cur)
	return c.answer(opOnInterrupt)
}

// wouldPreempt sends now, which the sdk does not pass yet: the wire
// format already has it for contract v2.
func (c *Client) wouldPreempt(w sdk.WorkerID, cur, arriving sdk.Task, now time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.faulted() {
		return false
	}
	c.lastNow = now
	e := c.callEvent(opWouldPreempt, now)
	e.u32(uint32(int32(w)))
	e.task(cur)
	e.task(arriving)
	return c.answer(opWouldPreempt)
}

func (c *Client) admit(t sdk.Task, now time.Duration) (sdk.Class, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastNow = now
	if c.faulted() {
		return sdk.ClassDefault, false
	}
	c.callEvent(opAdmit, now).task(t)
	d := c.call(opAdmit)
	if d == nil {
		return sdk.ClassDefault, false
	}
	ok, class := d.bool(), sdk.Class(d.u8())
	if !c.done(opAdmit, d) {
		return sdk.ClassDefault, false
	}
	return class, ok
}

func (c *Client) shed(now time.Duration) []sdk.TaskID {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastNow = now
	if c.faulted() {
		return nil
	}
	c.callEvent(opShed, now)
	d := c.call(opShed)
	if d == nil {
		return nil
	}
	n := int(d.u32())
	if n > len(d.b)/8 {
		d.bad, n = true, 0
	}
	ids := make([]sdk.TaskID, n)
	for i := range ids {
		ids[i] = sdk.TaskID(d.u64())
	}
	if !c.done(opShed, d) || n == 0 {
		return nil
	}
	for i, id := range ids {
		if _, ok := c.held[id]; !ok {
			// The ones before it are out of the plugin's queue: hand them
			// to the core, which takes the rest back through Held.
			c.fault(fmt.Errorf("plugin %q: Shed returned unknown task ID %d (not enqueued, or already handed out or removed)", c.name, id))
			return ids[:i]
		}
		delete(c.held, id)
	}
	return ids
}

func (c *Client) report(now time.Duration) []sdk.Gauge {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastNow = now
	if c.faulted() {
		return nil
	}
	c.callEvent(opReport, now)
	d := c.call(opReport)
	if d == nil {
		return nil
	}
	n := int(d.u32())
	if n > len(d.b)/16 { // a gauge takes at least 16 bytes
		d.bad = true
		n = 0
	}
	gs := make([]sdk.Gauge, n)
	for i := range gs {
		gs[i] = sdk.Gauge{Name: d.str(), Tenant: d.str(), Value: d.f64()}
	}
	if !c.done(opReport, d) {
		return nil
	}
	return gs
}

func (c *Client) configure(cfg sdk.Config) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.Err(); err != nil {
		return err
	}
	encodeConfigure(c.callEvent(opConfigure, c.lastNow), cfg)
	d := c.call(opConfigure)
	if d == nil {
		return c.Err()
	}
	errs := decodeConfigureErrors(d)
	if !c.done(opConfigure, d) {
		return c.Err()
	}
	for i, err := range errs {
		if _, keyed := err.(*sdk.OptionError); !keyed {
			errs[i] = fmt.Errorf("plugin %q: Configure: %w", c.name, err)
		}
	}
	return errors.Join(errs...)
}
