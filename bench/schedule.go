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
	switch process {
	case Constant:
		gap := float64(time.Second) / rate
		for n := 0; ; n++ {
			t := time.Duration(float64(n) * gap)
			if t >= span {
				break
			}
			s.at = append(s.at, t)
		}
	default: // Poisson
		rng := rand.New(rand.NewPCG(seed, streamArrivals))
		t := 0.0
		for {
			t += rng.ExpFloat64() / rate * float64(time.Second)
			if time.Duration(t) >= span {
				break
			}
			s.at = append(s.at, time.Duration(t))
		}
	}
	return s
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
	total := 0.0
	for _, w := range weights {
		total += w
	}
	rng := rand.New(rand.NewPCG(seed, streamRoutes))
	m := &mix{targets: targets, picks: make([]uint16, n)}
	for i := range m.picks {
		x := rng.Float64() * total
		k := 0
		for k < len(weights)-1 && x >= weights[k] {
			x -= weights[k]
			k++
		}
		m.picks[i] = uint16(k)
	}
	return m
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
