package dispatch

import (
	"strings"
	"testing"
	"time"
)

func TestAdmissionCost(t *testing.T) {
	tests := []struct {
		estimate, deadline time.Duration
		want               int64
	}{
		{time.Millisecond, 10 * time.Millisecond, 100_000},
		{500 * time.Millisecond, time.Second, 500_000},
		{2 * time.Second, time.Second, 2_000_000},
		{time.Nanosecond, time.Hour, 1}, // never free
		{time.Millisecond, 0, costUnit},
	}
	for _, tt := range tests {
		if got := admissionCost(tt.estimate, tt.deadline); got != tt.want {
			t.Errorf("admissionCost(%v, %v) = %d, want %d", tt.estimate, tt.deadline, got, tt.want)
		}
	}
}

// countingTimer counts timed calls on a fake clock that ticks per reading.
type countingTimer struct {
	clock   time.Duration
	started int
	total   time.Duration
}

func (c *countingTimer) Start() time.Duration { c.started++; c.clock++; return c.clock }

func (c *countingTimer) Stop(start time.Duration) { c.clock++; c.total += c.clock - start }

// TestTimerTimesGetNext: with a Timer, every GetNext is bracketed by
// Start and Stop; without one, nothing is timed (the harness's default).
func TestTimerTimesGetNext(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tasks int
	}{{"one", 1}, {"three", 3}} {
		t.Run(tc.name, func(t *testing.T) {
			timer := &countingTimer{}
			h := newHarness(t, Config{Workers: 1, Policy: &edf{name: "edf"}, Timer: timer})
			for range tc.tasks {
				h.arrive(time.Second, time.Millisecond, false)
			}
			h.drain()
			p := h.d.Policy().(*edf)
			nexts := 0
			for _, c := range p.calls {
				if strings.HasPrefix(c, "next") {
					nexts++
				}
			}
			if timer.started == 0 || timer.started != nexts || timer.total != time.Duration(nexts) {
				t.Errorf("timed %d calls (%v), policy saw %d GetNext", timer.started, timer.total, nexts)
			}
		})
	}
}
