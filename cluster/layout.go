package cluster

import (
	"fmt"
	"net"
	"strconv"

	"github.com/gosledge/gosledge/core/config"
)

// Offset shifts every port cfg listens on by k: each tenant's port, and
// the port of runtime.metrics and runtime.agent when they are set. It is
// how instances sharing one config file share one host (`sledge serve
// --port-offset`). A port of 0 (any free port) stays 0.
func Offset(cfg *config.Config, k int) error {
	if k == 0 {
		return nil
	}
	for i := range cfg.Tenants {
		t := &cfg.Tenants[i]
		if t.Port == 0 {
			continue
		}
		p, err := shiftPort(t.Port, k)
		if err != nil {
			return fmt.Errorf("%s: tenant %q: %w", cfg.File, t.Name, err)
		}
		t.Port = p
	}
	var err error
	if cfg.Runtime.Metrics, err = offsetAddr(cfg.Runtime.Metrics, k); err != nil {
		return fmt.Errorf("%s: runtime.metrics: %w", cfg.File, err)
	}
	if cfg.Runtime.Agent, err = offsetAddr(cfg.Runtime.Agent, k); err != nil {
		return fmt.Errorf("%s: runtime.agent: %w", cfg.File, err)
	}
	return nil
}

// offsetAddr is addr with its port moved by k; "" and port 0 stay.
func offsetAddr(addr string, k int) (string, error) {
	p, err := portOf(addr)
	if err != nil {
		return "", fmt.Errorf("bad port in %q: %w", addr, err)
	}
	if p == 0 { // none, or one the kernel picks
		return addr, nil
	}
	if p, err = shiftPort(p, k); err != nil {
		return "", err
	}
	host, _, _ := net.SplitHostPort(addr) // portOf parsed it
	return net.JoinHostPort(host, strconv.Itoa(p)), nil
}

// shiftPort is port p moved by offset k, if that is still a port.
func shiftPort(p, k int) (int, error) {
	if p+k < 1 || p+k > 65535 {
		return 0, fmt.Errorf("port %d + offset %d is out of range", p, k)
	}
	return p + k, nil
}

type Instance struct {
	Name    string         // the HAProxy server name
	Host    string         // address HAProxy connects to
	Tenants map[string]int // tenant name → port
	Metrics int            // port of /readyz (runtime.metrics)
	Agent   int            // port of the agent-check; 0: none
}

// Layout is the instances `cluster up` starts from cfg: instance i (from
// 0) is cfg with every port shifted by (i+1) × stride, which leaves cfg's
// own tenant ports to HAProxy's frontends, so clients keep the ports of a
// single instance. cfg must set runtime.metrics (HAProxy's health check
// asks /readyz there); runtime.agent is used when set.
func Layout(cfg *config.Config, n, stride int) ([]Instance, error) {
	if n < 1 {
		return nil, fmt.Errorf("%d instances, want at least 1", n)
	}
	if stride < 1 {
		return nil, fmt.Errorf("port stride %d, want at least 1", stride)
	}
	if cfg.Runtime.Metrics == "" {
		return nil, fmt.Errorf("%s: runtime.metrics is not set: HAProxy health-checks each instance's /readyz there", cfg.File)
	}
	out := make([]Instance, n)
	for i := range out {
		c := *cfg
		c.Tenants = append([]config.Tenant(nil), cfg.Tenants...)
		if err := Offset(&c, (i+1)*stride); err != nil {
			return nil, err
		}
		in, err := InstanceOf(fmt.Sprintf("i%d", i), &c)
		if err != nil {
			return nil, err
		}
		out[i] = in
	}
	return out, nil
}

// InstanceOf says where the instance serving cfg listens; listen = "" or
// 0.0.0.0 is reached on 127.0.0.1.
func InstanceOf(name string, cfg *config.Config) (Instance, error) {
	in := Instance{Name: name, Host: cfg.Runtime.Listen, Tenants: map[string]int{}}
	if in.Host == "" || in.Host == "0.0.0.0" || in.Host == "::" {
		in.Host = "127.0.0.1"
	}
	for _, t := range cfg.Tenants {
		in.Tenants[t.Name] = t.Port
	}
	var err error
	if in.Metrics, err = portOf(cfg.Runtime.Metrics); err != nil {
		return in, fmt.Errorf("%s: runtime.metrics: %w", cfg.File, err)
	}
	if in.Agent, err = portOf(cfg.Runtime.Agent); err != nil {
		return in, fmt.Errorf("%s: runtime.agent: %w", cfg.File, err)
	}
	return in, nil
}

func portOf(addr string) (int, error) {
	if addr == "" {
		return 0, nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(port)
}

// Frontends are the addresses HAProxy listens on: each tenant's port of
// cfg itself, on host.
func Frontends(cfg *config.Config, host string) map[string]string {
	out := map[string]string{}
	for _, t := range cfg.Tenants {
		out[t.Name] = net.JoinHostPort(host, strconv.Itoa(t.Port))
	}
	return out
}
