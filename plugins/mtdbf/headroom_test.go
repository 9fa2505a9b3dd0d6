package mtdbf

import (
	"testing"
	"time"

	"github.com/gosledge/gosledge/sdk"
)

// reportedHeadroom is the sdk.HeadroomGauge of m's report at now.
func reportedHeadroom(t *testing.T, m *MTDBF, now time.Duration) float64 {
	t.Helper()
	for _, g := range m.Report(now) {
		if g.Name == sdk.HeadroomGauge && g.Tenant == "" {
			return g.Value
		}
	}
	t.Fatal("no headroom gauge in the report")
	return 0
}

// TestHeadroom: 1 − the highest demand density over the admitted
// deadlines, on 2 workers; exact binary fractions so == holds.
func TestHeadroom(t *testing.T) {
	m := New()
	if err := m.Configure(config(2, nil)); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		admit *sdk.Task // nil: only read
		now   time.Duration
		want  float64
	}{
		{nil, 0, 1}, // empty
		// 5 ms due in 10 ms on 2 workers: density 1/4.
		{&sdk.Task{ID: 1, Deadline: 10 * ms, Expected: 5 * ms}, 0, 0.75},
		// D(20 ms) = 30 ms of 40: density 3/4 is now the highest.
		{&sdk.Task{ID: 2, Deadline: 20 * ms, Expected: 25 * ms}, 0, 0.25},
		// At 4 ms: 5/12 at 10 ms, 30/32 at 20 ms.
		{nil, 4 * ms, 1 - 30.0/32},
		// A deadline due: no capacity left before it.
		{nil, 10 * ms, 0},
	}
	for i, st := range steps {
		if st.admit != nil {
			if _, ok := m.Admit(*st.admit, st.now); !ok {
				t.Fatalf("step %d: task %d refused", i, st.admit.ID)
			}
		}
		if got := reportedHeadroom(t, m, st.now); got != st.want {
			t.Errorf("step %d: headroom at %v = %v, want %v", i, st.now, got, st.want)
		}
	}
	m.Dequeue(1, sdk.Completed)
	m.Dequeue(2, sdk.Completed)
	if got := reportedHeadroom(t, m, 10*ms); got != 1 {
		t.Errorf("after both left: headroom = %v, want 1", got)
	}
}
