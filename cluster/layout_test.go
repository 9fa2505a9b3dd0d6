package cluster

import (
	"strings"
	"testing"

	"github.com/gosledge/gosledge/core/config"
)

func testConfig() *config.Config {
	return &config.Config{File: "c.toml",
		Runtime: config.Runtime{Listen: "127.0.0.1", Metrics: "127.0.0.1:9090", Agent: ":9091"},
		Tenants: []config.Tenant{{Name: "a", Port: 10010}, {Name: "b", Port: 0}}}
}

func TestOffset(t *testing.T) {
	c := testConfig()
	if err := Offset(c, 200); err != nil {
		t.Fatal(err)
	}
	if c.Tenants[0].Port != 10210 || c.Tenants[1].Port != 0 || c.Runtime.Metrics != "127.0.0.1:9290" || c.Runtime.Agent != ":9291" {
		t.Errorf("offset 200: tenants %+v, metrics %q, agent %q", c.Tenants, c.Runtime.Metrics, c.Runtime.Agent)
	}
	c = testConfig()
	if err := Offset(c, 60000); err == nil || !strings.Contains(err.Error(), `c.toml: tenant "a": port 10010 + offset 60000`) {
		t.Errorf("out of range: %v", err)
	}
	c = testConfig()
	c.Tenants[0].Port = 1
	if err := Offset(c, 60000); err == nil || !strings.Contains(err.Error(), "c.toml: runtime.metrics") {
		t.Errorf("metrics out of range: %v", err)
	}
}

func TestLayout(t *testing.T) {
	ins, err := Layout(testConfig(), 2, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []Instance{
		{Name: "i0", Host: "127.0.0.1", Tenants: map[string]int{"a": 10110, "b": 0}, Metrics: 9190, Agent: 9191},
		{Name: "i1", Host: "127.0.0.1", Tenants: map[string]int{"a": 10210, "b": 0}, Metrics: 9290, Agent: 9291},
	}
	for i := range want {
		if ins[i].Name != want[i].Name || ins[i].Host != want[i].Host || ins[i].Metrics != want[i].Metrics ||
			ins[i].Agent != want[i].Agent || ins[i].Tenants["a"] != want[i].Tenants["a"] {
			t.Errorf("instance %d = %+v, want %+v", i, ins[i], want[i])
		}
	}
	c := testConfig()
	c.Runtime.Metrics = ""
	if _, err := Layout(c, 2, 100); err == nil || !strings.Contains(err.Error(), "runtime.metrics is not set") {
		t.Errorf("no metrics: %v", err)
	}
	for _, bad := range [][2]int{{0, 100}, {2, 0}} {
		if _, err := Layout(testConfig(), bad[0], bad[1]); err == nil {
			t.Errorf("Layout(n=%d, stride=%d) accepted", bad[0], bad[1])
		}
	}
}

// TestConfigAgentLines: the agent-check appears on every server with an
// agent port, and not at all without Agent (the leastconn baseline).
func TestConfigAgentLines(t *testing.T) {
	ins, err := Layout(testConfig(), 3, 100)
	if err != nil {
		t.Fatal(err)
	}
	h := HAProxy{Frontends: Frontends(testConfig(), "127.0.0.1"), Instances: ins, Agent: true}
	text := h.Config()
	for _, line := range []string{
		"    bind 127.0.0.1:10010",
		"    balance leastconn",
		"    retry-on conn-failure empty-response 503",
		"    option redispatch 1",
		"    option httpchk GET /readyz",
		"    server i2 127.0.0.1:10310 check port 9390 agent-check agent-port 9391",
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("config lacks %q:\n%s", line, text)
		}
	}
	h.Agent = false
	if text := h.Config(); strings.Contains(text, "agent") {
		t.Errorf("without Agent the config mentions an agent:\n%s", text)
	}
}
