package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
)

func main() {
	seconds := flag.Float64("seconds", 11, "length of the trace")
	mean := flag.Float64("rate", 150, "mean arrival rate, req/s")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	rng := rand.New(rand.NewPCG(*seed, 1))
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	fmt.Fprintln(out, "# synthetic: go run ./examples/workloads/tracegen (see its doc.go)")
	fmt.Fprintln(out, "offset_ms,route,duration_ms")
	// A non-homogeneous Poisson process by thinning: rate(t) swings
	// between 0.5 and 1.5 of the mean over the trace, with a burst of 3×
	// for a tenth of a second every two seconds.
	peak := 3 * *mean * 1.5
	for t := 0.0; ; {
		t += rng.ExpFloat64() / peak
		if t >= *seconds {
			return
		}
		r := *mean * (1 + 0.5*math.Sin(2*math.Pi*t / *seconds))
		if math.Mod(t, 2) < 0.1 {
			r *= 3
		}
		if rng.Float64()*peak > r {
			continue
		}
		route, d := "short", 2.5*math.Exp(0.3*rng.NormFloat64()-0.045)
		if rng.IntN(100) < 5 {
			route, d = "long", 100.0
		}
		fmt.Fprintf(out, "%.3f,%s,%.3f\n", 1000*t, route, d)
	}
}
