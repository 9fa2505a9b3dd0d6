package core

import (
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosledge/gosledge/core/config"
)

func TestAgentReply(t *testing.T) {
	for _, tt := range []struct {
		load Load
		want string
	}{
		{Load{State: LoadUp, Weight: 100}, "up ready 100%\n"},
		{Load{State: LoadUp, Weight: 37}, "up ready 37%\n"},
		{Load{State: LoadUp, Weight: 0}, "up ready 0%\n"},
		{Load{State: LoadDrain, Weight: 80}, "drain\n"},
		{Load{State: LoadDown, Weight: 80}, "down #not serving\n"},
		{Load{}, "down #not serving\n"},
	} {
		if got := agentReply(tt.load); got != tt.want {
			t.Errorf("agentReply(%+v) = %q, want %q", tt.load, got, tt.want)
		}
	}
}

func TestHeadroomOf(t *testing.T) {
	for _, tt := range []struct {
		name   string
		in     loadInput
		want   float64
		source string
	}{
		{"policy figure wins", loadInput{workers: 2, inFlight: 9, capacity: 100, admitted: 100, policyHeadroom: 0.25, hasPolicyHeadroom: true}, 0.25, HeadroomPolicy},
		{"policy figure clamped", loadInput{workers: 2, policyHeadroom: 1.5, hasPolicyHeadroom: true}, 1, HeadroomPolicy},
		{"policy NaN ignored", loadInput{workers: 2, capacity: 4, admitted: 1, policyHeadroom: math.NaN(), hasPolicyHeadroom: true}, 0.75, HeadroomAdmission},
		{"admission idle", loadInput{workers: 2, capacity: 1_600_000}, 1, HeadroomAdmission},
		{"admission quarter held", loadInput{workers: 2, capacity: 1_600_000, admitted: 400_000}, 0.75, HeadroomAdmission},
		{"admission full", loadInput{workers: 2, capacity: 1_600_000, admitted: 1_600_000}, 0, HeadroomAdmission},
		{"bounded queue idle", loadInput{workers: 2, maxQueue: 6}, 1, HeadroomQueue},
		{"bounded queue half", loadInput{workers: 2, maxQueue: 6, inFlight: 4}, 0.5, HeadroomQueue},
		{"bounded queue full", loadInput{workers: 2, maxQueue: 6, inFlight: 8}, 0, HeadroomQueue},
		{"unbounded: workers busy", loadInput{workers: 2, inFlight: 2}, 0.5, HeadroomQueue},
		{"unbounded never 0", loadInput{workers: 2, inFlight: 50}, 0.01, HeadroomQueue},
	} {
		got, src := headroomOf(tt.in)
		if got != tt.want || src != tt.source {
			t.Errorf("%s: headroomOf(%+v) = %v %s, want %v %s", tt.name, tt.in, got, src, tt.want, tt.source)
		}
	}
}

// fakeLoad is a state source the test changes between checks.
type fakeLoad struct {
	mu sync.Mutex
	l  Load
}

func (f *fakeLoad) set(l Load) { f.mu.Lock(); f.l = l; f.mu.Unlock() }
func (f *fakeLoad) get() Load  { f.mu.Lock(); defer f.mu.Unlock(); return f.l }

// agentCheck does what HAProxy does: connect, optionally send, read to the
// end of the line.
func agentCheck(t *testing.T, addr, send string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if send != "" {
		if _, err := c.Write([]byte(send)); err != nil {
			t.Fatal(err)
		}
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c) // the agent closes after its line
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAgentFollowsState: each check answers the state of the moment,
// including the way back up after drain and down.
func TestAgentFollowsState(t *testing.T) {
	src := &fakeLoad{}
	a, err := newAgent("127.0.0.1:0", src.get, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	addr := a.ln.Addr().String()
	for i, st := range []struct {
		load Load
		send string
		want string
	}{
		{Load{State: LoadDown}, "", "down #not serving\n"},
		{Load{State: LoadUp, Weight: 100}, "", "up ready 100%\n"},
		{Load{State: LoadUp, Weight: 12}, "backend/server\n", "up ready 12%\n"}, // agent-send is ignored
		{Load{State: LoadDrain, Weight: 12}, "", "drain\n"},
		{Load{State: LoadDown}, "", "down #not serving\n"},
		{Load{State: LoadUp, Weight: 64}, "", "up ready 64%\n"},
	} {
		src.set(st.load)
		if got := agentCheck(t, addr, st.send); got != st.want {
			t.Errorf("check %d (%+v): %q, want %q", i, st.load, got, st.want)
		}
	}
}

func TestAgentAddrInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = newAgent(ln.Addr().String(), (&fakeLoad{}).get, slog.Default())
	if err == nil || !strings.Contains(err.Error(), "runtime.agent") {
		t.Fatalf("agent on a port in use: %v, want an error naming runtime.agent", err)
	}
}

// TestServerLoad: a real server's agent, /load and gauges agree, follow
// admission (a request holding half the capacity halves the headroom) and
// the lifecycle (up while serving, down once stopped).
func TestServerLoad(t *testing.T) {
	spin := testRoute(t, "/spin", "spin")
	// 1 worker, headroom 0.2: capacity 0.8 worker; one request costs 0.4.
	spin.ExpectedExecution, spin.RelativeDeadline = 400*time.Millisecond, time.Second
	ts := startServer(t, config.Runtime{Workers: 1, Preemption: true, Admission: true, AdmissionHeadroom: 0.2,
		Metrics: "127.0.0.1:0", Agent: "127.0.0.1:0"}, spin)
	waitLoadState(t, ts.Server, LoadUp)
	if got := agentCheck(t, ts.AgentAddr(), ""); got != "up ready 100%\n" {
		t.Errorf("idle agent = %q", got)
	}
	done := make(chan int)
	go func() {
		status, _ := ts.do(t, "POST", "/spin", "300")
		done <- status
	}()
	waitRunning(t, ts.Server, 1)
	if got := agentCheck(t, ts.AgentAddr(), ""); got != "up ready 50%\n" {
		t.Errorf("half-held agent = %q", got)
	}
	var l Load
	if err := json.Unmarshal([]byte(get(t, "http://"+ts.MetricsAddr()+"/load")), &l); err != nil {
		t.Fatal(err)
	}
	want := Load{State: LoadUp, Headroom: 0.5, Weight: 50, Source: HeadroomAdmission, Policy: "fifo", Workers: 1, Running: 1, InFlight: 1}
	if l != want {
		t.Errorf("/load = %+v, want %+v", l, want)
	}
	scrape := get(t, "http://"+ts.MetricsAddr()+"/metrics")
	for _, g := range []string{`gosledge_load_headroom{source="admission"} 0.5`, `gosledge_load_weight_percent 50`,
		`gosledge_load_state{state="up"} 1`, `gosledge_load_state{state="drain"} 0`} {
		if !strings.Contains(scrape, g) {
			t.Errorf("/metrics lacks %q", g)
		}
	}
	if status := <-done; status != 200 {
		t.Errorf("spin = %d", status)
	}
	ts.stop()
	if st := ts.loadState(); st != LoadDown {
		t.Errorf("after stop: %s, want down", st)
	}
}

// waitLoadState waits until s reports st (Run starts serving on its own
// goroutine).
func waitLoadState(t *testing.T, s *Server, st string) {
	t.Helper()
	waitUntil(t, "state never became "+st, func() bool { return s.loadState() == st })
}
