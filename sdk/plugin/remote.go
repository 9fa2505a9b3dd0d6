package plugin

import (
	"time"

	"github.com/gosledge/gosledge/sdk"
)

// The host's view of the plugin's policy. base implements sdk.Policy; each
// optional interface has its own one-method type, and wrap embeds exactly
// the ones the plugin reported, so a type assertion on the result (as the
// core does) sees what the remote policy implements and nothing else.

type base struct{ c *Client }

func (b base) Name() string                              { return b.c.policy }
func (b base) Enqueue(t sdk.Task, why sdk.EnqueueReason) { b.c.enqueue(t, why) }
func (b base) GetNext(w sdk.WorkerID, now time.Duration) (sdk.TaskID, bool) {
	return b.c.getNext(w, now)
}
func (b base) OnInterrupt(w sdk.WorkerID, cur sdk.Task, now time.Duration) bool {
	return b.c.onInterrupt(w, cur, now)
}
func (b base) WouldPreempt(w sdk.WorkerID, cur, arriving sdk.Task) bool {
	return b.c.wouldPreempt(w, cur, arriving)
}
func (b base) Dequeue(id sdk.TaskID, why sdk.DequeueReason) { b.c.dequeue(id, why) }

type charger struct{ c *Client }

func (x charger) Charge(t sdk.Task, used, now time.Duration) { x.c.charge(t, used, now) }

type configurer struct{ c *Client }

func (x configurer) Configure(workers int, tenants []sdk.TenantConfig) error {
	return x.c.configure(workers, tenants)
}

type admitter struct{ c *Client }

func (x admitter) Admit(t sdk.Task, now time.Duration) (sdk.Class, bool) { return x.c.admit(t, now) }

type shedder struct{ c *Client }

func (x shedder) Shed(now time.Duration) []sdk.TaskID { return x.c.shed(now) }

type reporter struct{ c *Client }

func (x reporter) Report(now time.Duration) []sdk.Gauge { return x.c.report(now) }

var (
	_ sdk.Policy     = base{}
	_ sdk.Charger    = charger{}
	_ sdk.Configurer = configurer{}
	_ sdk.Admitter   = admitter{}
	_ sdk.Shedder    = shedder{}
	_ sdk.Reporter   = reporter{}
)

// wrap returns c's policy with exactly the optional interfaces in cs.
// (Generated: one case per subset.)
func wrap(c *Client, cs caps) sdk.Policy {
	b := base{c}
	switch cs & capAll {
	case 0:
		return struct{ base }{b}
	case capCharger:
		return struct {
			base
			charger
		}{b, charger{c}}
	case capConfigurer:
		return struct {
			base
			configurer
		}{b, configurer{c}}
	case capCharger | capConfigurer:
		return struct {
			base
			charger
			configurer
		}{b, charger{c}, configurer{c}}
	case capAdmitter:
		return struct {
			base
			admitter
		}{b, admitter{c}}
	case capCharger | capAdmitter:
		return struct {
			base
			charger
			admitter
		}{b, charger{c}, admitter{c}}
	case capConfigurer | capAdmitter:
		return struct {
			base
			configurer
			admitter
		}{b, configurer{c}, admitter{c}}
	case capCharger | capConfigurer | capAdmitter:
		return struct {
			base
			charger
			configurer
			admitter
		}{b, charger{c}, configurer{c}, admitter{c}}
	case capShedder:
		return struct {
			base
			shedder
		}{b, shedder{c}}
	case capCharger | capShedder:
		return struct {
			base
			charger
			shedder
		}{b, charger{c}, shedder{c}}
	case capConfigurer | capShedder:
		return struct {
			base
			configurer
			shedder
		}{b, configurer{c}, shedder{c}}
	case capCharger | capConfigurer | capShedder:
		return struct {
			base
			charger
			configurer
			shedder
		}{b, charger{c}, configurer{c}, shedder{c}}
	case capAdmitter | capShedder:
		return struct {
			base
			admitter
			shedder
		}{b, admitter{c}, shedder{c}}
	case capCharger | capAdmitter | capShedder:
		return struct {
			base
			charger
			admitter
			shedder
		}{b, charger{c}, admitter{c}, shedder{c}}
	case capConfigurer | capAdmitter | capShedder:
		return struct {
			base
			configurer
			admitter
			shedder
		}{b, configurer{c}, admitter{c}, shedder{c}}
	case capCharger | capConfigurer | capAdmitter | capShedder:
		return struct {
			base
			charger
			configurer
			admitter
			shedder
		}{b, charger{c}, configurer{c}, admitter{c}, shedder{c}}
	case capReporter:
		return struct {
			base
			reporter
		}{b, reporter{c}}
	case capCharger | capReporter:
		return struct {
			base
			charger
			reporter
		}{b, charger{c}, reporter{c}}
	case capConfigurer | capReporter:
		return struct {
			base
			configurer
			reporter
		}{b, configurer{c}, reporter{c}}
	case capCharger | capConfigurer | capReporter:
		return struct {
			base
			charger
			configurer
			reporter
		}{b, charger{c}, configurer{c}, reporter{c}}
	case capAdmitter | capReporter:
		return struct {
			base
			admitter
			reporter
		}{b, admitter{c}, reporter{c}}
	case capCharger | capAdmitter | capReporter:
		return struct {
			base
			charger
			admitter
			reporter
		}{b, charger{c}, admitter{c}, reporter{c}}
	case capConfigurer | capAdmitter | capReporter:
		return struct {
			base
			configurer
			admitter
			reporter
		}{b, configurer{c}, admitter{c}, reporter{c}}
	case capCharger | capConfigurer | capAdmitter | capReporter:
		return struct {
			base
			charger
			configurer
			admitter
			reporter
		}{b, charger{c}, configurer{c}, admitter{c}, reporter{c}}
	case capShedder | capReporter:
		return struct {
			base
			shedder
			reporter
		}{b, shedder{c}, reporter{c}}
	case capCharger | capShedder | capReporter:
		return struct {
			base
			charger
			shedder
			reporter
		}{b, charger{c}, shedder{c}, reporter{c}}
	case capConfigurer | capShedder | capReporter:
		return struct {
			base
			configurer
			shedder
			reporter
		}{b, configurer{c}, shedder{c}, reporter{c}}
	case capCharger | capConfigurer | capShedder | capReporter:
		return struct {
			base
			charger
			configurer
			shedder
			reporter
		}{b, charger{c}, configurer{c}, shedder{c}, reporter{c}}
	case capAdmitter | capShedder | capReporter:
		return struct {
			base
			admitter
			shedder
			reporter
		}{b, admitter{c}, shedder{c}, reporter{c}}
	case capCharger | capAdmitter | capShedder | capReporter:
		return struct {
			base
			charger
			admitter
			shedder
			reporter
		}{b, charger{c}, admitter{c}, shedder{c}, reporter{c}}
	case capConfigurer | capAdmitter | capShedder | capReporter:
		return struct {
			base
			configurer
			admitter
			shedder
			reporter
		}{b, configurer{c}, admitter{c}, shedder{c}, reporter{c}}
	case capCharger | capConfigurer | capAdmitter | capShedder | capReporter:
		return struct {
			base
			charger
			configurer
			admitter
			shedder
			reporter
		}{b, charger{c}, configurer{c}, admitter{c}, shedder{c}, reporter{c}}
	}
	panic("unreachable")
}
