package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestParseBalancers(t *testing.T) {
	got, err := ParseBalancers("least-connections, headroom-weighted")
	if err != nil || !slices.Equal(got, []Balancer{LeastConnections, HeadroomWeighted}) {
		t.Errorf("ParseBalancers = %v, %v", got, err)
	}
	for in, want := range map[string]string{"leastconn": `unknown balancer "leastconn"`, "round-robin,round-robin": "listed twice"} {
		if _, err := ParseBalancers(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseBalancers(%q) = %v, want %q", in, err, want)
		}
	}
}

// clusterWorkload is 4 nodes' worth of load at about 60% of 4 × 2
// workers (mean service 2.5 ms).
func clusterWorkload(t *testing.T, runtime string, rate int) *Workload {
	return simWorkload(t, runtime, fmt.Sprintf(`config = "serve.toml"
duration = "1s"
warmup = "100ms"
[arrival]
rate = %d
`, rate)+simRoutes, "")
}

// TestSimClusterDeterministic: the same seed gives byte-identical CSV for
// every balancer; another seed another.
func TestSimClusterDeterministic(t *testing.T) {
	w := clusterWorkload(t, "", 2000)
	pols, _ := ParsePolicies("fifo,edf")
	opt := SimOptions{Policies: pols, Workers: 2, Nodes: 4}
	a, b := simulateCSV(t, w, opt), simulateCSV(t, w, opt)
	if a != b {
		t.Fatalf("two runs with one seed differ:\n%s\n%s", a, b)
	}
	for _, p := range []string{"fifo", "edf"} {
		for _, bal := range Balancers {
			if !strings.Contains(a, p+"@"+string(bal)+",") {
				t.Errorf("no run labelled %s@%s in:\n%s", p, bal, a)
			}
		}
	}
	opt.Seed = 2
	if c := simulateCSV(t, w, opt); c == a {
		t.Fatal("seeds 1 and 2 gave the same CSV")
	}
}

// TestSimClusterCounts: for every balancer, over every request, sent =
// completed + refused + dropped + shed + killed, every node got work,
// the nodes' arrivals add up to what was sent, and round-robin spreads
// them evenly (to within one). With admission on and twice the capacity
// offered, requests are refused, by the nodes or (headroom-weighted,
// every node at 0%) by the balancer, and the counts still add up.
func TestSimClusterCounts(t *testing.T) {
	for _, load := range []struct {
		name, runtime string
		rate          int
	}{{"60%", "", 2000}, {"overload with admission", "admission = true\nadmission_headroom = 0.1", 6400}} {
		w := clusterWorkload(t, load.runtime, load.rate)
		cfg, err := w.ServeConfig()
		if err != nil {
			t.Fatal(err)
		}
		for _, bal := range Balancers {
			t.Run(load.name+"/"+string(bal), func(t *testing.T) {
				r := runNodes(t, w, cfg, 2, "edf", []int{0, 0, 0, 0}, bal)
				n := r.counts
				if load.runtime != "" && n.Refused == 0 {
					t.Errorf("twice the capacity with admission, nothing refused: %+v", n)
				}
				arrived, lo, hi := 0, n.Sent, 0
				for _, node := range r.nodes {
					arrived += node.arrived
					lo, hi = min(lo, node.arrived), max(hi, node.arrived)
					if node.arrived == 0 {
						t.Errorf("node %d got nothing", node.idx)
					}
				}
				balancerRefused := n.Sent - arrived
				if balancerRefused < 0 || balancerRefused > n.Refused || (bal != HeadroomWeighted && balancerRefused != 0) {
					t.Errorf("%d sent, %d reached a node, %d refused", n.Sent, arrived, n.Refused)
				}
				if bal == RoundRobin && hi-lo > 1 {
					t.Errorf("round-robin: nodes got %d to %d requests", lo, hi)
				}
				if len(r.tasks) != 0 {
					t.Fatalf("%d tasks left", len(r.tasks))
				}
			})
		}
	}
}

// BenchmarkSimCluster16x64 simulates 16 nodes of 64 workers at about 90%
// load behind each balancer, for fifo and edf, and reports the rate of
// simulation and, as figures, the short route's p99 and miss ratio
// (virtual time: they do not depend on the machine).
func BenchmarkSimCluster16x64(b *testing.B) {
	// 16 × 64 workers × ~2.5 ms mean service at 90% ≈ 368 000 req/s.
	w := simWorkload(b, "", `config = "serve.toml"
duration = "1s"
warmup = "200ms"
[arrival]
rate = 368000
`+benchRoutes, "")
	for _, policy := range []string{"fifo", "edf"} {
		for _, bal := range Balancers {
			b.Run(policy+"/"+string(bal), func(b *testing.B) {
				pols, _ := ParsePolicies(policy)
				var sent int
				var short RouteReport
				for range b.N {
					rep, err := Simulate(context.Background(), w, SimOptions{Policies: pols, Workers: 64, Nodes: 16,
						Balancers: []Balancer{bal}, Logger: quietLog()})
					if err != nil {
						b.Fatal(err)
					}
					for _, rr := range rep.Runs[0].Routes {
						sent += rr.Sent
					}
					short = rep.Runs[0].Routes[0]
				}
				b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "req/s")
				b.ReportMetric(float64(short.P99)/1e6, "short-p99-ms")
				b.ReportMetric(short.MissRatio*100, "short-miss-%")
			})
		}
	}
}

// TestSimClusterSlowNode: with one node of 1 worker among nodes of 4, the
// balancers that look at load send it less than any other node, and
// round-robin does not.
func TestSimClusterSlowNode(t *testing.T) {
	w := clusterWorkload(t, "", 3000)
	cfg, err := w.ServeConfig()
	if err != nil {
		t.Fatal(err)
	}
	for _, bal := range Balancers {
		t.Run(string(bal), func(t *testing.T) {
			r := runNodes(t, w, cfg, 4, "fifo", []int{4, 4, 4, 1}, bal)
			slow, others := r.nodes[3].arrived, r.nodes[0].arrived
			for _, n := range r.nodes[:3] {
				others = min(others, n.arrived)
			}
			if bal == RoundRobin {
				if others-slow > 1 {
					t.Errorf("round-robin: the slow node got %d, the others at least %d", slow, others)
				}
			} else if slow >= others {
				t.Errorf("%s: the slow node got %d, the others at least %d", bal, slow, others)
			}
		})
	}
}
