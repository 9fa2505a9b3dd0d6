package bench

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/gosledge/gosledge/core"
)

// Balancer is how `sledge sim --nodes K` spreads requests over its nodes,
// each a dispatcher with its own policy instance: what a load balancer in
// front of K gosledge instances does (README, "Running several
// instances").
type Balancer string

// The balancers.
const (
	// RoundRobin sends each request to the next node in turn.
	RoundRobin Balancer = "round-robin"
	// LeastConnections sends it to the node with the fewest requests in
	// flight (HAProxy's leastconn); ties go round the nodes.
	LeastConnections Balancer = "least-connections"
	// PowerOfTwo picks two distinct nodes at random and sends it to the
	// one with fewer in flight.
	PowerOfTwo Balancer = "power-of-two-choices"
	// HeadroomWeighted is leastconn weighted by what each node's agent
	// reports (core.Headroom, as a whole percent, refreshed every
	// AgentInterval): the node with the lowest (in flight + 1) / weight;
	// a node at 0% gets nothing, and with every node at 0% the request
	// is refused as HAProxy would (503).
	HeadroomWeighted Balancer = "headroom-weighted"
)

// Balancers are the balancers in the order the simulator lists them.
var Balancers = []Balancer{RoundRobin, LeastConnections, PowerOfTwo, HeadroomWeighted}

// AgentInterval is how often the headroom-weighted balancer re-reads the
// nodes' weights: the agent-inter of the generated haproxy.cfg.
const AgentInterval = 500 * time.Millisecond

// ParseBalancers parses a comma-separated list of balancer names.
func ParseBalancers(list string) ([]Balancer, error) {
	var out []Balancer
	for name := range strings.SplitSeq(list, ",") {
		b := Balancer(strings.TrimSpace(name))
		if !slices.Contains(Balancers, b) {
			return nil, fmt.Errorf("unknown balancer %q (have %s)", b, BalancerNames())
		}
		if slices.Contains(out, b) {
			return nil, fmt.Errorf("balancer %q listed twice", b)
		}
		out = append(out, b)
	}
	return out, nil
}

// BalancerNames lists Balancers as ParseBalancers takes them.
func BalancerNames() string {
	names := make([]string, len(Balancers))
	for i, b := range Balancers {
		names[i] = string(b)
	}
	return strings.Join(names, ",")
}

// streamBalancer is the random stream of power-of-two-choices.
const streamBalancer = 5

// balancer is one run's balancer state.
type balancer struct {
	kind    Balancer
	next    int // round-robin position; where leastconn starts looking
	rng     *rand.Rand
	weights []int         // headroom-weighted: each node's last reported weight
	sampled time.Duration // when weights were read; -1 before the first
}

func newBalancer(kind Balancer, nodes int, seed uint64) (*balancer, error) {
	if !slices.Contains(Balancers, kind) {
		return nil, fmt.Errorf("unknown balancer %q (have %s)", kind, BalancerNames())
	}
	return &balancer{kind: kind, rng: rand.New(rand.NewPCG(seed, streamBalancer)), weights: make([]int, nodes), sampled: -1}, nil
}

// pick is the node a request arriving at now goes to; false if none may
// take it (every weight 0).
func (b *balancer) pick(nodes []*simNode, now time.Duration) (int, bool) {
	k := len(nodes)
	inFlight := func(i int) int { return nodes[i].d.InFlight() }
	switch b.kind {
	case RoundRobin:
		i := b.next
		b.next = (b.next + 1) % k
		return i, true
	case PowerOfTwo:
		i := b.rng.IntN(k)
		j := b.rng.IntN(k - 1)
		if j >= i {
			j++
		}
		if inFlight(j) < inFlight(i) {
			return j, true
		}
		return i, true
	case HeadroomWeighted:
		if b.sampled < 0 || now-b.sampled >= AgentInterval {
			for i, n := range nodes {
				h, _ := core.Headroom(n.d, n.rt, now)
				b.weights[i] = core.Weight(h)
			}
			b.sampled = now
		}
	}
	// Least connections, weighted by 1 or by the agent's weight: the
	// lowest (in flight + 1) / weight, compared as cross products; ties go
	// to the first from a position that moves on each pick.
	best, found := 0, false
	for o := range k {
		i := (b.next + o) % k
		w := 1
		if b.kind == HeadroomWeighted {
			if w = b.weights[i]; w == 0 {
				continue
			}
		}
		if !found || (inFlight(i)+1)*bestWeight(b, best) < (inFlight(best)+1)*w {
			best, found = i, true
		}
	}
	b.next = (b.next + 1) % k
	return best, found
}

// bestWeight is node i's weight for the comparison in pick.
func bestWeight(b *balancer, i int) int {
	if b.kind == HeadroomWeighted {
		return b.weights[i]
	}
	return 1
}
