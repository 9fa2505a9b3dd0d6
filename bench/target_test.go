package bench

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/gosledge/gosledge/core"
)

func TestParseTargets(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want map[string]string
		err  string
	}{
		{"http://127.0.0.1:10010/", map[string]string{"": "http://127.0.0.1:10010"}, ""},
		{"a=http://h:1,b=https://h:2,http://h:3", map[string]string{"a": "http://h:1", "b": "https://h:2", "": "http://h:3"}, ""},
		{"127.0.0.1:10010", nil, "want http://host:port"},
		{"a=http://h:1,a=http://h:2", nil, `tenant "a" given twice`},
	} {
		got, err := ParseTargets(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseTargets(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !maps.Equal(got, tt.want) {
			t.Errorf("ParseTargets(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// TestRunTarget: with a target, the workload goes to a server the bench
// did not start; every request of the schedule, warm-up included, reaches
// it, and the run is labelled as asked.
func TestRunTarget(t *testing.T) {
	w := tinyWorkload(t)
	cfg, err := w.ServeConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Tenants[0].Port = 0
	srv, err := core.New(context.Background(), cfg, core.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	rep, err := Run(context.Background(), w, Options{
		Policies: []Policy{{Name: "remote"}},
		Targets:  map[string]string{"": "http://" + srv.Addr("t")},
		Logger:   quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 1 || rep.Runs[0].Policy != "remote" || rep.Targets[""] == "" {
		t.Fatalf("runs %+v, targets %v", rep.Runs, rep.Targets)
	}
	sent, ok := 0, 0
	for _, rr := range rep.Runs[0].Routes {
		sent += rr.Sent
		ok += rr.OK
	}
	var served2 uint64
	for _, path := range []string{"/echo", "/fib"} {
		st, _ := srv.RouteStats("t", path)
		served2 += st.Requests
	}
	// 60 arrivals, the first 10 warm-up (TestRun): all 60 reach the target.
	if sent != 50 || ok != 50 || served2 != 60 {
		t.Errorf("measured %d (%d ok), the target answered %d; want 50, 50, 60", sent, ok, served2)
	}
	var table strings.Builder
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "sent to http://"+srv.Addr("t")) {
		t.Errorf("table does not name the target:\n%s", table.String())
	}
}
