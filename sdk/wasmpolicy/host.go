package wasmpolicy

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gosledge/gosledge/sdk"
)

// Guest is one instance of a policy module as the host calls it. The core
// implements it with wazero (core/wasmpolicy.go); this package's tests with
// a dispatcher in process.
type Guest interface {
	// Call calls export e with its parameters in stack[:e.NumParams()] and
	// leaves its result, if it has one, in stack[0], like wazero's
	// CallWithStack. An error is a fault: a trap, an exit, a timeout.
	Call(e Export, stack []uint64) error
	// Memory returns size bytes of guest memory at offset, valid until the
	// next Call (which may grow, and so move, the memory).
	Memory(offset, size uint32) ([]byte, bool)
}

// ErrABI is wrapped by every error about a module that does not keep to
// the ABI: another version, a missing export, an answer out of range.
var ErrABI = errors.New("breaks the wasm policy ABI")

// Client is the host side of the ABI over one Guest: an sdk.Policy (Policy)
// whose notifications are batched in the shared buffer and applied by the
// guest at the next call that needs an answer, so that a decision is one
// guest call.
//
// sdk.Policy methods cannot fail, so the Client records the first fault
// (Err) and from then on answers every call with a zero value at once,
// without calling the guest; the core then ejects the policy. Like every
// sdk.Policy, it is not safe for concurrent use.
type Client struct {
	g    Guest
	name string
	caps Caps

	buf   uint32 // the shared buffer's guest address
	bufOK bool   // buf is known
	mem   []byte // its current view
	n     int    // bytes of records pending at the start of mem
	syms  map[string]uint64
	stack [3]uint64
	now   time.Duration // the latest instant any call was given
	err   error
}

// NewClient checks the guest's ABI version, finds its shared buffer and asks
// its policy's name and capabilities. It does not check that the guest has
// the exports those capabilities need: the Guest's implementation does,
// with Export.Required.
func NewClient(g Guest) (*Client, error) {
	c := &Client{g: g, syms: map[string]uint64{}}
	if !c.call(ExportABI) {
		return nil, c.err
	}
	if v := int32(c.stack[0]); v != ABIVersion {
		return nil, fmt.Errorf("ABI version %d, want %d: %w", v, ABIVersion, ErrABI)
	}
	if !c.call(ExportBuffer) {
		return nil, c.err
	}
	c.buf, c.bufOK = uint32(c.stack[0]), true
	if c.buf%8 != 0 {
		return nil, fmt.Errorf("shared buffer at %#x is not 8-byte aligned: %w", c.buf, ErrABI)
	}
	if !c.call(ExportHello) {
		return nil, c.err
	}
	caps := int32(c.stack[0])
	if caps == -1 {
		return nil, fmt.Errorf("%s returned -1: the module never called wasmpolicy.Serve (call it from an init function): %w", ExportHello.Name(), ErrABI)
	}
	if caps < 0 || Caps(caps)&^capAll != 0 {
		return nil, fmt.Errorf("%s: unknown capabilities %#x: %w", ExportHello.Name(), caps, ErrABI)
	}
	c.caps = Caps(caps)
	l := word(c.mem, 0)
	if l == 0 || l > maxName {
		return nil, fmt.Errorf("%s: policy name of %d bytes: %w", ExportHello.Name(), l, ErrABI)
	}
	c.name = string(c.mem[8 : 8+l])
	return c, nil
}

// Name is the policy's Name().
func (c *Client) Name() string { return c.name }

// Caps is what the policy implements, as the guest said at hello.
func (c *Client) Caps() Caps { return c.caps }

// Err is the first fault, or nil.
func (c *Client) Err() error { return c.err }

// Policy is the guest's policy. It implements sdk.Admitter only if the
// guest's policy does; sdk.Charger, sdk.Configurer, sdk.Shedder and
// sdk.Reporter always, doing nothing (without a guest call) for what the
// guest's policy lacks, which the core cannot tell from their absence.
// (Admitter is different: its presence turns off the core's admission.)
func (c *Client) Policy() sdk.Policy {
	if c.caps&CapAdmitter != 0 {
		return admitting{remote{c}}
	}
	return remote{c}
}

// call makes one guest call with the pending records (if the export takes
// them, in stack[0]) and refreshes the buffer's view.
func (c *Client) call(e Export) bool {
	if err := c.g.Call(e, c.stack[:]); err != nil {
		c.fail(fmt.Errorf("%s: %w", e.Name(), err))
		return false
	}
	c.n = 0
	if !c.bufOK {
		return true
	}
	m, ok := c.g.Memory(c.buf, BufferSize)
	if !ok {
		c.fail(fmt.Errorf("shared buffer at %#x is outside the module's memory: %w", c.buf, ErrABI))
		return false
	}
	c.mem = m
	return true
}

func (c *Client) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

func (c *Client) badAnswer(e Export, v int64) {
	c.fail(fmt.Errorf("%s answered %d: %w", e.Name(), v, ErrABI))
}

// reserve makes room for size more bytes after the pending records,
// applying them first (one notify call) if the buffer is too full.
func (c *Client) reserve(size int) bool {
	if c.n+size <= BufferSize {
		return true
	}
	c.stack[0] = uint64(c.n)
	return c.call(ExportNotify)
}

// sym returns s's symbol, defining it first (an OpString record) the first
// time s is seen.
func (c *Client) sym(s string) uint64 {
	if s == "" {
		return 0
	}
	if v, ok := c.syms[s]; ok {
		return v
	}
	v := uint64(len(c.syms) + 1)
	c.syms[s] = v
	s = cut(s)
	if c.reserve(stringSize(len(s))) {
		putWord(c.mem, c.n, OpString)
		putWord(c.mem, c.n+8, v)
		putWord(c.mem, c.n+16, uint64(len(s)))
		copy(c.mem[c.n+24:], s)
		c.n += stringSize(len(s))
	}
	return v
}

// taskSyms is a task's two symbols, defined before any record naming them.
type taskSyms struct{ tenant, route uint64 }

func (c *Client) syms2(t sdk.Task) taskSyms { return taskSyms{c.sym(t.Tenant), c.sym(t.Route)} }

func (c *Client) putTask(off int, t sdk.Task, s taskSyms) {
	b := c.mem[off : off+taskSize]
	putWord(b, 0, uint64(t.ID))
	putWord(b, 8, s.tenant)
	putWord(b, 16, s.route)
	putWord(b, 24, uint64(t.Arrival))
	putWord(b, 32, uint64(t.Deadline))
	putWord(b, 40, uint64(t.Expected))
	putWord(b, 48, uint64(t.Ran))
	putWord(b, 56, uint64(t.Class))
}

// args writes tasks after the pending records, where calls that take tasks
// find them.
func (c *Client) args(ts ...sdk.Task) bool {
	var s [2]taskSyms
	for i, t := range ts {
		s[i] = c.syms2(t)
	}
	if !c.reserve(len(ts) * taskSize) {
		return false
	}
	for i, t := range ts {
		c.putTask(c.n+i*taskSize, t, s[i])
	}
	return true
}

func (c *Client) seen(now time.Duration) { c.now = max(c.now, now) }

func (c *Client) enqueue(t sdk.Task, why sdk.EnqueueReason) {
	if c.err != nil {
		return
	}
	s := c.syms2(t)
	if !c.reserve(enqueueSize) {
		return
	}
	putWord(c.mem, c.n, OpEnqueue)
	putWord(c.mem, c.n+8, uint64(why))
	c.putTask(c.n+16, t, s)
	c.n += enqueueSize
}

func (c *Client) dequeue(id sdk.TaskID, why sdk.DequeueReason) {
	if c.err != nil || !c.reserve(dequeueSize) {
		return
	}
	putWord(c.mem, c.n, OpDequeue)
	putWord(c.mem, c.n+8, uint64(id))
	putWord(c.mem, c.n+16, uint64(why))
	c.n += dequeueSize
}

func (c *Client) charge(t sdk.Task, used, now time.Duration) {
	if c.err != nil || c.caps&CapCharger == 0 {
		return
	}
	c.seen(now)
	s := c.syms2(t)
	if !c.reserve(chargeSize) {
		return
	}
	putWord(c.mem, c.n, OpCharge)
	putWord(c.mem, c.n+8, uint64(used))
	putWord(c.mem, c.n+16, uint64(now))
	c.putTask(c.n+24, t, s)
	c.n += chargeSize
}

func (c *Client) getNext(w sdk.WorkerID, now time.Duration) (sdk.TaskID, bool) {
	if c.err != nil {
		return 0, false
	}
	c.seen(now)
	c.stack[0], c.stack[1], c.stack[2] = uint64(c.n), uint64(w), uint64(now)
	if !c.call(ExportGetNext) {
		return 0, false
	}
	switch r := int64(c.stack[0]); {
	case r >= 0:
		return sdk.TaskID(r), true
	case r != -1:
		c.badAnswer(ExportGetNext, r)
	}
	return 0, false
}

// boolCall makes a call answered 0 or 1.
func (c *Client) boolCall(e Export) bool {
	if !c.call(e) {
		return false
	}
	switch r := int32(c.stack[0]); r {
	case 0, 1:
		return r == 1
	default:
		c.badAnswer(e, int64(r))
		return false
	}
}

func (c *Client) onInterrupt(w sdk.WorkerID, cur sdk.Task, now time.Duration) bool {
	if c.err != nil || !c.args(cur) {
		return false
	}
	c.seen(now)
	c.stack[0], c.stack[1], c.stack[2] = uint64(c.n), uint64(w), uint64(now)
	return c.boolCall(ExportOnInterrupt)
}

func (c *Client) wouldPreempt(w sdk.WorkerID, cur, arriving sdk.Task, now time.Duration) bool {
	if c.err != nil || !c.args(cur, arriving) {
		return false
	}
	c.seen(now)
	c.stack[0], c.stack[1], c.stack[2] = uint64(c.n), uint64(w), uint64(now)
	return c.boolCall(ExportWouldPreempt)
}

func (c *Client) admit(t sdk.Task, now time.Duration) (sdk.Class, bool) {
	if c.err != nil || !c.args(t) {
		return 0, false
	}
	c.seen(now)
	c.stack[0], c.stack[1] = uint64(c.n), uint64(now)
	if !c.call(ExportAdmit) {
		return 0, false
	}
	switch r := int32(c.stack[0]); {
	case r == -1:
		return 0, false
	case r >= 0 && r <= math.MaxUint8:
		return sdk.Class(r), true
	default:
		c.badAnswer(ExportAdmit, int64(r))
		return 0, false
	}
}

func (c *Client) shed(now time.Duration) []sdk.TaskID {
	if c.err != nil || c.caps&CapShedder == 0 {
		return nil
	}
	c.seen(now)
	var ids []sdk.TaskID
	for {
		c.stack[0], c.stack[1] = uint64(c.n), uint64(now)
		if !c.call(ExportShed) {
			return nil
		}
		r := int32(c.stack[0])
		k := int(r)
		if r < 0 {
			k = -k
		}
		if k > BufferSize/8 || r < 0 && k == 0 {
			c.badAnswer(ExportShed, int64(r))
			return nil
		}
		for i := range k {
			ids = append(ids, sdk.TaskID(word(c.mem, 8*i)))
		}
		if r >= 0 {
			return ids
		}
	}
}

func (c *Client) report(now time.Duration) []sdk.Gauge {
	if c.err != nil || c.caps&CapReporter == 0 {
		return nil
	}
	c.seen(now)
	c.stack[0], c.stack[1] = uint64(c.n), uint64(now)
	if !c.call(ExportReport) {
		return nil
	}
	count := int32(c.stack[0])
	if count < 0 {
		c.badAnswer(ExportReport, int64(count))
		return nil
	}
	gs := make([]sdk.Gauge, 0, count)
	off := 0
	for range count {
		if off+16 > BufferSize {
			c.badAnswer(ExportReport, int64(count))
			return nil
		}
		lens := word(c.mem, off+8)
		ln, lt := int(uint32(lens)), int(lens>>32)
		end := off + 16 + ln + lt
		if ln > MaxString || lt > MaxString || end > BufferSize {
			c.badAnswer(ExportReport, int64(count))
			return nil
		}
		s := string(c.mem[off+16 : end])
		gs = append(gs, sdk.Gauge{Name: s[:ln], Tenant: s[ln:], Value: math.Float64frombits(word(c.mem, off))})
		off = off + 16 + pad8(ln+lt)
	}
	return gs
}

func (c *Client) configure(cfg sdk.Config) error {
	if c.err != nil {
		return c.err
	}
	if c.caps&CapConfigurer == 0 {
		if cfg.HasOptions() {
			return fmt.Errorf("its policy takes no settings (it is not an sdk.Configurer), but the config has tables for it")
		}
		return nil
	}
	strs := []string{string(cfg.Options)}
	for _, t := range cfg.Tenants {
		strs = append(strs, cut(t.Name), string(t.Options))
	}
	size := 8 // the tenant count
	for _, s := range strs {
		size += 8 + pad8(len(s))
	}
	if size > BufferSize {
		return fmt.Errorf("the policy's options and %d tenants (%d bytes) do not fit in the %d-byte shared buffer", len(cfg.Tenants), size, BufferSize)
	}
	if !c.reserve(size) {
		return c.err
	}
	off := c.n
	put := func(s string) {
		putWord(c.mem, off, uint64(len(s)))
		copy(c.mem[off+8:], s)
		off += 8 + pad8(len(s))
	}
	put(strs[0])
	putWord(c.mem, off, uint64(len(cfg.Tenants)))
	off += 8
	for _, s := range strs[1:] {
		put(s)
	}
	c.stack[0], c.stack[1] = uint64(c.n), uint64(cfg.Workers)
	if !c.call(ExportConfigure) {
		return c.err
	}
	count := int32(c.stack[0])
	errs, ok := getErrors(c.mem[:BufferSize], int(count))
	if count < 0 || !ok {
		c.badAnswer(ExportConfigure, int64(count))
		return c.err
	}
	for i, err := range errs {
		if _, keyed := err.(*sdk.OptionError); !keyed {
			errs[i] = fmt.Errorf("Configure: %w", err)
		}
	}
	return errors.Join(errs...)
}

// remote is the Client as an sdk.Policy; see Client.Policy.
type remote struct{ c *Client }

func (r remote) Name() string                              { return r.c.name }
func (r remote) Enqueue(t sdk.Task, why sdk.EnqueueReason) { r.c.enqueue(t, why) }
func (r remote) GetNext(w sdk.WorkerID, now time.Duration) (sdk.TaskID, bool) {
	return r.c.getNext(w, now)
}
func (r remote) OnInterrupt(w sdk.WorkerID, cur sdk.Task, now time.Duration) bool {
	return r.c.onInterrupt(w, cur, now)
}
func (r remote) WouldPreempt(w sdk.WorkerID, cur, arriving sdk.Task, now time.Duration) bool {
	return r.c.wouldPreempt(w, cur, arriving, now)
}
func (r remote) Dequeue(id sdk.TaskID, why sdk.DequeueReason)             { r.c.dequeue(id, why) }
func (r remote) Charge(t sdk.Task, used, now time.Duration)               { r.c.charge(t, used, now) }
func (r remote) Shed(now time.Duration) []sdk.TaskID                      { return r.c.shed(now) }
func (r remote) Report(now time.Duration) []sdk.Gauge                     { return r.c.report(now) }
func (r remote) Configure(c sdk.Config) error                             { return r.c.configure(c) }
func (a admitting) Admit(t sdk.Task, now time.Duration) (sdk.Class, bool) { return a.c.admit(t, now) }

type admitting struct{ remote }

var (
	_ sdk.Charger    = remote{}
	_ sdk.Configurer = remote{}
	_ sdk.Shedder    = remote{}
	_ sdk.Reporter   = remote{}
	_ sdk.Admitter   = admitting{}
)
