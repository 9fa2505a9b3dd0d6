package cluster

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gosledge/gosledge/core"
	"github.com/gosledge/gosledge/core/config"
)

// These tests run a real HAProxy (Debian package haproxy, 2.6) in front of
// gosledge servers running in this process, on 127.0.0.1 and ports picked
// at run time. They assert counts and states, never timings: waits poll
// HAProxy's stats socket until a state is reached.

// needHAProxy returns haproxy's path, or skips when it is absent outside
// CI; in CI (CI set) its absence fails the test.
func needHAProxy(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("haproxy not installed (apt-get install -y haproxy): skipping the cluster tests; with CI set they fail instead")
		}
		t.Fatalf("haproxy not found and CI is set: .ci/run installs it (apt-get install -y haproxy): %v", err)
	}
	return path
}

const serverConfig = `[runtime]
workers = %d
policy = "fifo"
quantum = "1ms"
preemption = true
listen = "127.0.0.1"
metrics = "127.0.0.1:%d"
agent = "127.0.0.1:%d"
drain_timeout = "10s"
cache_dir = %q

[[tenant]]
name = "demo"
port = %d

[[tenant.route]]
path = "/fib"
module = %q
relative_deadline = "50ms"
expected_execution = "1ms"

[[tenant.route]]
path = "/spin"
module = %q
relative_deadline = "10s"
expected_execution = "20ms"

[[tenant.route]]
path = "/trap"
module = %q
`

// instance is one in-process gosledge server.
type instance struct {
	srv  *core.Server
	stop func() error // drains (the in-process SIGTERM) and returns Run's error
	done chan error
}

// ports are where an instance listens; 0 is any free port.
type ports struct{ tenant, metrics, agent int }

var cacheOnce sync.Once
var cacheDir string

func startInstance(t *testing.T, workers int, p ports) *instance {
	t.Helper()
	cacheOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gosledge-cluster-test")
		if err != nil {
			t.Fatal(err)
		}
		cacheDir = dir // removed by TestMain
	})
	fn := func(name string) string {
		p, err := filepath.Abs(filepath.Join("..", "examples", "functions", name+".wasm"))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	file := filepath.Join(t.TempDir(), "gosledge.toml")
	// Port 0 is not a valid tenant port in a file; 1 stands in and is
	// replaced after loading.
	text := fmt.Sprintf(serverConfig, workers, p.metrics, p.agent, cacheDir, max(p.tenant, 1), fn("fib"), fn("spin"), fn("trap"))
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Tenants[0].Port = p.tenant
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	srv, err := core.New(context.Background(), cfg, core.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{srv: srv, done: make(chan error, 1)}
	go func() { in.done <- srv.Run(ctx) }()
	var once sync.Once
	var runErr error
	in.stop = func() error {
		once.Do(func() { cancel(); runErr = <-in.done })
		return runErr
	}
	t.Cleanup(func() {
		if err := in.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return in
}

// startInstances starts n instances of the given workers on free ports,
// and returns them with the HAProxy (agent weights on) to put before them.
func startInstances(t *testing.T, n, workers int) ([]*instance, HAProxy) {
	t.Helper()
	h := HAProxy{Agent: true}
	var ins []*instance
	for i := range n {
		in := startInstance(t, workers, ports{})
		ins = append(ins, in)
		h.Instances = append(h.Instances, in.layout(t, fmt.Sprintf("i%d", i)))
	}
	return ins, h
}

func (in *instance) ports(t *testing.T) ports {
	return ports{portIn(t, in.srv.Addr("demo")), portIn(t, in.srv.MetricsAddr()), portIn(t, in.srv.AgentAddr())}
}

func (in *instance) layout(t *testing.T, name string) Instance {
	p := in.ports(t)
	return Instance{Name: name, Host: "127.0.0.1", Tenants: map[string]int{"demo": p.tenant}, Metrics: p.metrics, Agent: p.agent}
}

// requests is how many requests of each route the instance answered.
func (in *instance) requests(t *testing.T) map[string]uint64 {
	out := map[string]uint64{}
	for _, path := range []string{"/fib", "/spin", "/trap"} {
		st, ok := in.srv.RouteStats("demo", path)
		if !ok {
			t.Fatalf("no route %s", path)
		}
		out[path] = st.Requests
	}
	return out
}

func portIn(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// freePort is a port nothing listened on a moment ago (HAProxy binds it).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proxy is a running HAProxy.
type proxy struct {
	url   string
	stats string // stats socket path
}

// startHAProxy writes h's config (with a stats socket and the frontend on
// a free port) and runs haproxy in the foreground until the test ends.
func startHAProxy(t *testing.T, h HAProxy) *proxy {
	t.Helper()
	bin := needHAProxy(t)
	dir := t.TempDir()
	front := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	h.Frontends = map[string]string{"demo": front}
	h.Stats = filepath.Join(dir, "stats.sock")
	h.Check, h.AgentInter = 100*time.Millisecond, 100*time.Millisecond
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(h.Config()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c rejects the generated config: %v\n%s\n%s", err, out, h.Config())
	}
	cmd := exec.Command(bin, "-db", "-f", cfg)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("haproxy output:\n%s", logs.String())
		}
	})
	p := &proxy{url: "http://" + front, stats: h.Stats}
	for _, in := range h.Instances {
		p.waitServer(t, in.Name, func(s serverStat) bool { return s.status == "UP" })
	}
	return p
}

// serverStat is a server's line of HAProxy's "show stat".
type serverStat struct {
	status string // UP, DOWN, DRAIN, MAINT, ...
	weight int
	total  int // sessions sent to it
}

func (p *proxy) stat(t *testing.T) map[string]serverStat {
	t.Helper()
	c, err := net.Dial("unix", p.stats)
	if err != nil {
		return nil // not listening yet
	}
	defer c.Close()
	if _, err := c.Write([]byte("show stat\n")); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(bufio.NewReader(c))
	if err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(b), "# ")))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("show stat: %v\n%s", err, b)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	out := map[string]serverStat{}
	for _, r := range rows[1:] {
		if len(r) <= col["weight"] || r[col["pxname"]] != "demo" || r[col["svname"]] == "BACKEND" || r[col["svname"]] == "FRONTEND" {
			continue
		}
		w, _ := strconv.Atoi(r[col["weight"]])
		tot, _ := strconv.Atoi(r[col["stot"]])
		out[r[col["svname"]]] = serverStat{status: r[col["status"]], weight: w, total: tot}
	}
	return out
}

// adminState is server name's srv_admin_state in "show servers state"
// (HAProxy's SRV_ADMF_* bits; 0x08 is a forced drain, what the agent's
// "drain" sets), or -1 while it cannot be read.
func (p *proxy) adminState(t *testing.T, name string) int {
	t.Helper()
	c, err := net.Dial("unix", p.stats)
	if err != nil {
		return -1
	}
	defer c.Close()
	if _, err := c.Write([]byte("show servers state demo\n")); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 1 && f[0] == "#":
			cols = f[1:]
		case cols != nil && len(f) == len(cols):
			row := map[string]string{}
			for i, c := range cols {
				row[c] = f[i]
			}
			if row["srv_name"] == name {
				n, _ := strconv.Atoi(row["srv_admin_state"])
				return n
			}
		}
	}
	return -1
}

// waitServer polls the stats until server name satisfies ok.
func (p *proxy) waitServer(t *testing.T, name string, ok func(serverStat) bool) serverStat {
	t.Helper()
	var last serverStat
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if s, found := p.stat(t)[name]; found {
			last = s
			if ok(s) {
				return s
			}
		}
	}
	t.Fatalf("server %s never reached the awaited state; last %+v", name, last)
	return last
}

// mix is the request sequence: 70% fib, 20% spin 10 ms, 10% trap (a 500
// the function causes).
func mix(i int) (path, body string, want int) {
	switch i % 10 {
	case 0:
		return "/trap", "", 500
	case 1, 5:
		return "/spin", "10", 200
	}
	return "/fib", "15", 200
}

// load sends n requests of mix from conc goroutines through url; after
// `at` answers, it calls midway (once, from the goroutine that got that
// answer). It returns how many of each path were sent and every failure.
func load(t *testing.T, url string, n, conc, at int, midway func()) (map[string]uint64, []string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}, Timeout: 60 * time.Second}
	defer client.CloseIdleConnections()
	var next, answered atomic.Int64
	var mu sync.Mutex
	sent := map[string]uint64{}
	var fails []string
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				path, body, want := mix(i)
				mu.Lock()
				sent[path]++
				mu.Unlock()
				resp, err := client.Post(url+path, "text/plain", strings.NewReader(body))
				var fail string
				if err != nil {
					fail = fmt.Sprintf("request %d %s: %v", i, path, err)
				} else {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != want {
						fail = fmt.Sprintf("request %d %s: %d %q, want %d", i, path, resp.StatusCode, b, want)
					}
				}
				if fail != "" {
					mu.Lock()
					fails = append(fails, fail)
					mu.Unlock()
				}
				if answered.Add(1) == int64(at) && midway != nil {
					midway()
				}
			}
		}()
	}
	wg.Wait()
	return sent, fails
}

// sumRequests adds the instances' per-route counts.
func sumRequests(t *testing.T, ins ...*instance) map[string]uint64 {
	sum := map[string]uint64{}
	for _, in := range ins {
		for k, v := range in.requests(t) {
			sum[k] += v
		}
	}
	return sum
}

func sameCounts(t *testing.T, what string, got, want map[string]uint64) {
	t.Helper()
	for _, k := range []string{"/fib", "/spin", "/trap"} {
		if got[k] != want[k] {
			t.Errorf("%s: %s answered %d times, want %d (got %v, want %v)", what, k, got[k], want[k], got, want)
		}
	}
}

// TestMixedLoad: every request of a mixed load through HAProxy gets
// exactly one response, and the instances ran each exactly once.
func TestMixedLoad(t *testing.T) {
	needHAProxy(t)
	ins, h := startInstances(t, 3, 2)
	p := startHAProxy(t, h)
	sent, fails := load(t, p.url, 200, 6, 0, nil)
	for _, f := range fails {
		t.Error(f)
	}
	sameCounts(t, "instances", sumRequests(t, ins...), sent)
}

// TestDrainLosesNothing: one instance drains (the in-process SIGTERM)
// mid-load; no request is lost or answered 5xx beyond the trap's, HAProxy
// follows its agent (UP → DRAIN → DOWN), and a new instance on the same
// ports is taken back (agent "up ready").
func TestDrainLosesNothing(t *testing.T) {
	needHAProxy(t)
	ins, h := startInstances(t, 3, 2)
	p := startHAProxy(t, h)
	victim := ins[0]
	victimPorts := victim.ports(t)

	// A long request straight to the victim keeps its drain open long
	// enough to see DRAIN (it ends when this request is answered).
	long := make(chan error, 1)
	go func() {
		resp, err := http.Post("http://"+victim.srv.Addr("demo")+"/spin", "text/plain", strings.NewReader("1500"))
		if err == nil {
			if resp.StatusCode != 200 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			resp.Body.Close()
		}
		long <- err
	}()
	waitFor(t, "the long request to run", func() bool { return victim.srv.Load().Running > 0 })

	stopped := make(chan error, 1)
	sent, fails := load(t, p.url, 300, 6, 60, func() {
		go func() { stopped <- victim.stop() }()
	})
	for _, f := range fails {
		t.Error(f)
	}
	if err := <-long; err != nil {
		t.Errorf("request in flight at the drain: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("victim's Run: %v", err)
	}
	got := sumRequests(t, ins...)
	got["/spin"]-- // the long request went to the victim directly
	sameCounts(t, "instances", got, sent)
	p.waitServer(t, "i0", func(s serverStat) bool { return strings.HasPrefix(s.status, "DOWN") })

	// A new instance on the victim's ports: its agent says "up ready",
	// which undoes the drain, and it is sent work again.
	back := startInstance(t, 2, victimPorts)
	s := p.waitServer(t, "i0", func(s serverStat) bool { return s.status == "UP" && s.weight > 0 })
	if s.weight > 100 {
		t.Errorf("weight %d above the configured 100", s.weight)
	}
	sent, fails = load(t, p.url, 60, 6, 0, nil)
	for _, f := range fails {
		t.Error(f)
	}
	if n := back.requests(t); n["/fib"]+n["/spin"]+n["/trap"] == 0 {
		t.Errorf("the restarted instance got none of %v", sent)
	}
}

// TestDrainShowsInStats: while a drain has a request in flight, HAProxy
// has the server in forced drain: the agent said so.
func TestDrainShowsInStats(t *testing.T) {
	needHAProxy(t)
	ins, h := startInstances(t, 2, 1)
	p := startHAProxy(t, h)
	victim := ins[0]
	// Held until the test releases it: /spin runs until its body's
	// milliseconds pass, so pick a long one and stop waiting once seen.
	long := make(chan error, 1)
	go func() {
		resp, err := http.Post("http://"+victim.srv.Addr("demo")+"/spin", "text/plain", strings.NewReader("3000"))
		if err == nil {
			resp.Body.Close()
		}
		long <- err
	}()
	waitFor(t, "the long request to run", func() bool { return victim.srv.Load().Running > 0 })
	stopped := make(chan error, 1)
	go func() { stopped <- victim.stop() }()
	waitFor(t, "the victim to drain", func() bool { return victim.srv.Load().State == core.LoadDrain })
	// The health check on /readyz (503 while draining) soon marks it DOWN
	// as well; the drain bit is the agent's.
	waitFor(t, "HAProxy to put i0 in drain", func() bool {
		a := p.adminState(t, "i0")
		return a >= 0 && a&0x08 != 0
	})
	if err := <-long; err != nil {
		t.Errorf("request in flight at the drain: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestZeroWeightGetsNothing: an instance whose agent reports 0% gets no
// new request while the others have headroom.
func TestZeroWeightGetsNothing(t *testing.T) {
	needHAProxy(t)
	ins, h := startInstances(t, 3, 2)
	// i2's agent-check goes to an agent that always reports no headroom.
	zero := fakeAgent(t, "up ready 0%\n")
	h.Instances[2].Agent = zero
	p := startHAProxy(t, h)
	p.waitServer(t, "i2", func(s serverStat) bool { return s.weight == 0 })
	for _, name := range []string{"i0", "i1"} {
		p.waitServer(t, name, func(s serverStat) bool { return s.status == "UP" && s.weight > 0 })
	}
	sent, fails := load(t, p.url, 120, 6, 0, nil)
	for _, f := range fails {
		t.Error(f)
	}
	if n := ins[2].requests(t); n["/fib"]+n["/spin"]+n["/trap"] != 0 {
		t.Errorf("the 0%% instance answered %v", n)
	}
	sameCounts(t, "the two others", sumRequests(t, ins[0], ins[1]), sent)
}

// fakeAgent answers every connection with reply; it returns its port.
func fakeAgent(t *testing.T, reply string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(reply))
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().(*net.TCPAddr).Port
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("gave up waiting for %s", what)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if cacheDir != "" {
		os.RemoveAll(cacheDir)
	}
	os.Exit(code)
}
