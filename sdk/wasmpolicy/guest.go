package wasmpolicy

import (
	"fmt"
	"math"
	"time"

	"github.com/gosledge/gosledge/sdk"
)

// Serve makes p the policy the module serves. Call it from an init
// function of the policy's main package: a module built with
// -buildmode=c-shared is a reactor, whose main never runs.
//
//	//go:build wasip1
//
//	package main
//
//	func init() { wasmpolicy.Serve(mypolicy.New()) }
//
//	func main() {}
func Serve(p sdk.Policy) { served = newDispatcher(p, guestBuffer()) }

// served is the module's policy behind the exports (exports_wasip1.go).
var served *dispatcher

// dispatcher is the guest side of the ABI: it decodes the host's records
// and arguments from the shared buffer, calls the policy, and encodes its
// answers. Nothing here allocates on the decision path except what the
// policy itself allocates: a task's strings come from the symbol table.
type dispatcher struct {
	p sdk.Policy
	x sdk.Extensions

	w        []uint64 // the shared buffer
	syms     []string // symbol → string; 0 is ""
	shedRest []sdk.TaskID
}

func newDispatcher(p sdk.Policy, buf []uint64) *dispatcher {
	return &dispatcher{p: p, x: sdk.ExtensionsOf(p), w: buf, syms: []string{""}}
}

// caps is the policy's capability mask: the ABI's bits are sdk's.
func (d *dispatcher) caps() Caps { return Caps(d.x.Mask()) }

// maxName bounds the policy name hello writes.
const maxName = 256

func (d *dispatcher) hello() int32 {
	name := d.p.Name()
	if len(name) > maxName {
		name = name[:maxName]
	}
	d.w[0] = uint64(len(name))
	putBytes(d.w[1:], name)
	return int32(d.caps())
}

// apply hands the policy the n bytes of records at the start of the buffer,
// in order. A malformed record is the host's bug: it panics, which the
// host sees as the module failing.
func (d *dispatcher) apply(n int32) {
	end := int(n) / 8
	for i := 0; i < end; {
		switch d.w[i] {
		case OpEnqueue:
			d.p.Enqueue(d.task(i+2), sdk.EnqueueReason(d.w[i+1]))
			i += enqueueSize / 8
		case OpDequeue:
			d.p.Dequeue(sdk.TaskID(d.w[i+1]), sdk.DequeueReason(d.w[i+2]))
			i += dequeueSize / 8
		case OpCharge:
			if d.x.Charger != nil {
				d.x.Charger.Charge(d.task(i+3), time.Duration(d.w[i+1]), time.Duration(d.w[i+2]))
			}
			i += chargeSize / 8
		case OpString:
			sym, n := int(d.w[i+1]), int(d.w[i+2])
			for len(d.syms) <= sym {
				d.syms = append(d.syms, "")
			}
			d.syms[sym] = string(getBytes(d.w[i+3:], n))
			i += stringSize(n) / 8
		default:
			panic(fmt.Sprintf("wasmpolicy: unknown record op %d at byte %d", d.w[i], 8*i))
		}
	}
}

// task decodes the task at word i.
func (d *dispatcher) task(i int) sdk.Task {
	w := d.w[i : i+TaskWords]
	return sdk.Task{
		ID:       sdk.TaskID(w[0]),
		Tenant:   d.syms[w[1]],
		Route:    d.syms[w[2]],
		Arrival:  time.Duration(w[3]),
		Deadline: time.Duration(w[4]),
		Expected: time.Duration(w[5]),
		Ran:      time.Duration(w[6]),
		Class:    sdk.Class(w[7]),
	}
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

func (d *dispatcher) getNext(n, w int32, now int64) int64 {
	d.apply(n)
	id, ok := d.p.GetNext(sdk.WorkerID(w), time.Duration(now))
	if !ok {
		return -1
	}
	return int64(id)
}

func (d *dispatcher) onInterrupt(n, w int32, now int64) int32 {
	d.apply(n)
	return b2i(d.p.OnInterrupt(sdk.WorkerID(w), d.task(int(n)/8), time.Duration(now)))
}

func (d *dispatcher) wouldPreempt(n, w int32, now int64) int32 {
	d.apply(n)
	i := int(n) / 8
	return b2i(d.p.WouldPreempt(sdk.WorkerID(w), d.task(i), d.task(i+TaskWords), time.Duration(now)))
}

func (d *dispatcher) admit(n int32, now int64) int32 {
	d.apply(n)
	class, ok := d.x.Admitter.Admit(d.task(int(n)/8), time.Duration(now))
	if !ok {
		return -1
	}
	return int32(class)
}

// shed writes the shed IDs at the start of the buffer. If they do not
// fit, it returns minus the number written and keeps the rest for the
// host's next call, which it makes at once with no records.
func (d *dispatcher) shed(n int32, now int64) int32 {
	d.apply(n)
	if len(d.shedRest) == 0 {
		d.shedRest = d.x.Shedder.Shed(time.Duration(now))
	}
	k := copyIDs(d.w, d.shedRest)
	d.shedRest = d.shedRest[k:]
	if len(d.shedRest) > 0 {
		return -int32(k)
	}
	d.shedRest = nil
	return int32(k)
}

func copyIDs(w []uint64, ids []sdk.TaskID) int {
	k := min(len(ids), len(w))
	for i, id := range ids[:k] {
		w[i] = uint64(id)
	}
	return k
}

// report writes the gauges at the start of the buffer, each as its value's
// bits, a word with the name's length (low half) and the tenant's, then
// both strings' bytes, padded to 8. Gauges that do not fit are left out.
func (d *dispatcher) report(n int32, now int64) int32 {
	d.apply(n)
	i, count := 0, int32(0)
	for _, g := range d.x.Reporter.Report(time.Duration(now)) {
		name, tenant := cut(g.Name), cut(g.Tenant)
		size := 2 + pad8(len(name)+len(tenant))/8
		if i+size > len(d.w) {
			break
		}
		d.w[i] = math.Float64bits(g.Value)
		d.w[i+1] = uint64(len(name)) | uint64(len(tenant))<<32
		putBytes(d.w[i+2:], name+tenant)
		i += size
		count++
	}
	return count
}

func cut(s string) string { return cutTo(s, MaxString) }

// configure reads the config at byte n (see the package documentation)
// and writes Configure's errors at the start of the buffer, returning
// their count.
func (d *dispatcher) configure(n, workers int32) int32 {
	d.apply(n)
	i := int(n) / 8
	text := func() sdk.Options { // a length word, then the bytes padded to 8
		l := int(d.w[i])
		o := sdk.Options(getBytes(d.w[i+1:], l))
		i += 1 + pad8(l)/8
		return o
	}
	c := sdk.Config{Workers: int(workers), Options: text()}
	c.Tenants = make([]sdk.TenantConfig, d.w[i])
	i++
	for k := range c.Tenants {
		c.Tenants[k].Name = string(text())
		c.Tenants[k].Options = text()
	}
	return int32(putErrors(d.w, d.x.Configurer.Configure(c)))
}
