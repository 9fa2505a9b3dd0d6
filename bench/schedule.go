package bench

import (
	"math/rand/v2"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Independent random streams drawn from one seed.
const (
	streamArrivals = 1
	streamRoutes   = 2
)

// schedule is an open-loop arrival process: when each request of a run is
// due, counted from the start of the attack, computed up front from the
// seed. It paces vegeta (it is a vegeta.Pacer), and it is what latency is
// measured from: vegeta's Result.Timestamp is when a worker picked the hit
// up, which lags the schedule when the client falls behind, so it would
// hide queueing.
type schedule struct {
	rate float64
	at   []time.Duration // due time of hit n; ascending; immutable

	mu    sync.Mutex
	began time.Time // the attack's start, learnt on the first Pace
}

var _ vegeta.Pacer = (*schedule)(nil)

// newSchedule returns the arrivals of process at rate req/s before span.
func newSchedule(process string, rate float64, span time.Duration, seed uint64) *schedule {
	s := &schedule{rate: rate}
	g := newGaps(process, rate, seed)
	for t := g.next(); t < span; t = g.next() {
		s.at = append(s.at, t)
	}
	return s
}

// gaps generates an open-loop arrival process one arrival at a time, so
// that the simulator need not hold a run's arrivals: bench and sim draw
// the same times from the same seed.
type gaps struct {
	constant bool
	rate     float64
	rng      *rand.Rand
	n        int
	t        float64 // ns
}

func newGaps(process string, rate float64, seed uint64) *gaps {
	return &gaps{constant: process == Constant, rate: rate, rng: rand.New(rand.NewPCG(seed, streamArrivals))}
}

// next returns the offset of the next arrival.
func (g *gaps) next() time.Duration {
	if g.constant {
		t := time.Duration(float64(g.n) * (float64(time.Second) / g.rate))
		g.n++
		return t
	}
	g.t += g.rng.ExpFloat64() / g.rate * float64(time.Second)
	return time.Duration(g.t)
}

// Pace implements vegeta.Pacer: wait until the next hit is due; stop after
// the last one.
func (s *schedule) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	s.mu.Lock()
	if s.began.IsZero() {
		s.began = time.Now().Add(-elapsed)
	}
	s.mu.Unlock()
	if hits >= uint64(len(s.at)) {
		return 0, true
	}
	return s.at[hits] - elapsed, false
}

// Rate implements vegeta.Pacer.
func (s *schedule) Rate(time.Duration) float64 { return s.rate }

// len is how many requests the run sends.
func (s *schedule) len() int { return len(s.at) }

// due returns the offset at which hit seq was due.
func (s *schedule) due(seq uint64) time.Duration {
	if seq >= uint64(len(s.at)) {
		return s.at[len(s.at)-1]
	}
	return s.at[seq]
}

// start returns the attack's start (zero before the first Pace).
func (s *schedule) start() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.began
}

// mix picks each request's route by weight, in a sequence fixed by the
// seed. It is a vegeta.Targeter; vegeta calls it from many workers, and
// the n-th call gets the n-th pick.
type mix struct {
	targets []vegeta.Target
	picks   []uint16

	mu   sync.Mutex
	next int
}

func newMix(targets []vegeta.Target, weights []float64, n int, seed uint64) *mix {
	pick := newPicker(weights, seed)
	m := &mix{targets: targets, picks: make([]uint16, n)}
	for i := range m.picks {
		m.picks[i] = uint16(pick.next())
	}
	return m
}

// picker chooses routes by weight in a sequence fixed by the seed, one at
// a time (bench's mix and the simulator draw the same sequence).
type picker struct {
	weights []float64
	total   float64
	rng     *rand.Rand
}

func newPicker(weights []float64, seed uint64) *picker {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	return &picker{weights: weights, total: total, rng: rand.New(rand.NewPCG(seed, streamRoutes))}
}

func (p *picker) next() int {
	x := p.rng.Float64() * p.total
	k := 0
	for k < len(p.weights)-1 && x >= p.weights[k] {
		x -= p.weights[k]
		k++
	}
	return k
}

// target implements vegeta.Targeter.
func (m *mix) target(t *vegeta.Target) error {
	m.mu.Lock()
	k := 0
	if m.next < len(m.picks) {
		k = int(m.picks[m.next])
	}
	m.next++
	m.mu.Unlock()
	*t = m.targets[k]
	return nil
}

// traceSchedule is the schedule and route sequence of a trace.
func traceSchedule(w *Workload, targets []vegeta.Target, span time.Duration) (*schedule, *mix, error) {
	s := &schedule{}
	m := &mix{targets: targets}
	_, err := readTrace(w.TraceFile, w.Routes, span, func(a arrival) {
		s.at = append(s.at, a.at)
		m.picks = append(m.picks, uint16(a.route))
	})
	s.rate = float64(len(s.at)) / span.Seconds()
	return s, m, err
}
