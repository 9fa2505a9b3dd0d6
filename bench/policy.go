package bench

import (
	"fmt"
	"strings"
)

// Preemption suffixes of a policy spec.
const (
	Preempt   = "preempt"   // force runtime.preemption on
	NoPreempt = "nopreempt" // force it off
)

// Policy is one entry of a --policies list: a policy name and, after a
// colon, optionally a preemption setting, e.g. "fifo:nopreempt".
type Policy struct {
	Name string
	// Preemption is "" to keep the serve config's runtime.preemption,
	// or Preempt or NoPreempt to force it.
	Preemption string
}

// String returns the spec as written: "fifo" or "fifo:nopreempt".
func (p Policy) String() string {
	if p.Preemption == "" {
		return p.Name
	}
	return p.Name + ":" + p.Preemption
}

// preempts reports whether p runs with preemption when the serve config
// says def.
func (p Policy) preempts(def bool) bool {
	switch p.Preemption {
	case Preempt:
		return true
	case NoPreempt:
		return false
	}
	return def
}

// ParsePolicies parses a comma-separated list of policy specs, such as
// "fifo,fifo:nopreempt,edf". Whether a name exists is checked by Run.
func ParsePolicies(list string) ([]Policy, error) {
	var ps []Policy
	seen := map[Policy]bool{}
	for spec := range strings.SplitSeq(list, ",") {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			return nil, fmt.Errorf("policies %q: empty entry", list)
		}
		name, suffix, _ := strings.Cut(spec, ":")
		p := Policy{Name: name, Preemption: suffix}
		if name == "" {
			return nil, fmt.Errorf("policy %q: empty name", spec)
		}
		if suffix != "" && suffix != Preempt && suffix != NoPreempt {
			return nil, fmt.Errorf("policy %q: unknown suffix %q (want %q or %q)", spec, suffix, Preempt, NoPreempt)
		}
		if seen[p] {
			return nil, fmt.Errorf("policy %q listed twice", spec)
		}
		seen[p] = true
		ps = append(ps, p)
	}
	return ps, nil
}
