package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gosledge/gosledge/sdk"
	pb "github.com/gosledge/gosledge/sdk/plugin/proto"
)

// Serve serves p to the gosledge host that started this process and
// returns when the host is done with it (the process then exits). It is
// all a plugin's main needs:
//
//	func main() { plugin.Serve(mypolicy.New()) }
//
// The optional interfaces p implements (sdk.Charger, sdk.Configurer,
// sdk.Admitter, sdk.Shedder, sdk.Reporter) are reported to the host, which
// then calls them as it would a built-in policy's. Calls reach p one at a
// time, in the order the host made them, so p needs no locking.
//
// Serve sets the default slog logger to one whose records the host logs
// under the plugin's name; write logs there (or to stderr). Stdout is
// forwarded too. A panic in p is recovered and reported to the host,
// which then stops using the plugin.
//
// Unless the GOMAXPROCS environment variable says otherwise, Serve runs
// the process on one processor: calls come one at a time, read, applied
// and answered by one goroutine, and the host's processors stay the
// host's.
//
// Serve returns, and the process exits, when the host stops the plugin;
// if the host goes away without stopping it, the process exits a few
// seconds after its connection ends.
//
// Run by hand rather than by the host, the binary prints a short
// explanation and exits with status 1.
func Serve(p sdk.Policy) {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	// go-plugin redirects os.Stderr to the host's stdio stream once it
	// runs; structured logs go to the real stderr, which the host parses.
	stderr := os.Stderr
	h := slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: hclogJSON})
	slog.SetDefault(slog.New(h))
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig:  handshake,
		VersionedPlugins: pluginSets(p),
		GRPCServer:       goplugin.DefaultGRPCServer,
		Logger:           newHCLogger(slog.New(h).With("component", "go-plugin"), slog.LevelInfo),
	})
}

// hclogJSON renames slog's JSON keys to the ones go-plugin's host parses
// (@message, @level, @timestamp), so each record keeps its level and
// attributes on the host.
func hclogJSON(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.MessageKey:
		a.Key = "@message"
	case slog.LevelKey:
		a.Key = "@level"
		a.Value = slog.StringValue(hclogLevel(a.Value.Any().(slog.Level)))
	case slog.TimeKey:
		a.Key = "@timestamp"
		a.Value = slog.StringValue(a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
	}
	return a
}

func hclogLevel(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}

// orphanGrace is how long a plugin outlives its session.
const orphanGrace = 5 * time.Second

// server is the plugin side of the protocol: it applies each request
// frame to the policy and answers the call that ends it.
type server struct {
	pb.UnimplementedPolicyServer
	p    sdk.Policy
	x    sdk.Extensions
	caps caps
	open atomic.Bool // a session was started: one per process

	in  dec
	out enc
}

func newServer(p sdk.Policy) *server {
	x := sdk.ExtensionsOf(p)
	return &server{p: p, x: x, caps: capsOf(x), in: dec{strs: map[string]string{}}}
}

func (s *server) Hello(_ context.Context, req *pb.HelloRequest) (r *pb.HelloReply, err error) {
	if req.ProtocolVersion != ProtocolVersion {
		return nil, status.Errorf(codes.FailedPrecondition, "protocol version %d, this plugin speaks %d", req.ProtocolVersion, ProtocolVersion)
	}
	defer func() {
		if v := recover(); v != nil {
			err = status.Errorf(codes.Internal, "Name panicked: %v", v)
		}
	}()
	r = &pb.HelloReply{Name: s.p.Name(), Capabilities: s.caps.proto(), ProtocolVersion: ProtocolVersion}
	if req.LinkFd == 0 {
		return r, nil // the host opens a Session
	}
	l, err := openLink(int(req.LinkFd))
	if err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "link: %v", err)
	}
	if !s.open.CompareAndSwap(false, true) {
		return nil, status.Error(codes.FailedPrecondition, "a session was already opened: a plugin process serves one session")
	}
	go func() {
		err := s.serve(l)
		if err != nil && !errors.Is(err, io.EOF) {
			slog.Error("policy link failed", "err", err)
		}
	}()
	return r, nil
}

// Session serves the frames over gRPC, when Hello was given no link.
func (s *server) Session(stream pb.Policy_SessionServer) error {
	if !s.open.CompareAndSwap(false, true) {
		return status.Error(codes.FailedPrecondition, "a session was already opened: a plugin process serves one session")
	}
	err := s.serve(&grpcPluginLink{stream: stream})
	if errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled {
		return nil
	}
	return err
}

// serve answers frames until the link ends. One session per process:
// when it ends (the host faulted us, is killing us, or died), nothing
// more will come. go-plugin's shutdown normally ends the process within
// milliseconds; if the host died, no one will, so exit after a grace
// period rather than linger.
func (s *server) serve(l pluginLink) error {
	defer time.AfterFunc(orphanGrace, func() {
		slog.Warn("the host went away; exiting")
		os.Exit(0)
	})
	for {
		frame, err := l.recv()
		if err != nil {
			return err
		}
		reply, fault := s.apply(frame)
		if reply == nil {
			continue
		}
		if err := l.send(reply); err != nil {
			return err
		}
		if fault {
			// The host stops at a fault; read what it still sends, so that
			// it never blocks writing, and answer nothing.
			for {
				if _, err := l.recv(); err != nil {
					return err
				}
			}
		}
	}
}

// apply applies a request's events in order and returns the reply to its
// call (nil if it had none). A panic in the policy, or a frame it cannot
// make sense of, gets a fault reply.
func (s *server) apply(frame []byte) (reply []byte, fault bool) {
	seq, body := parseFrame(frame)
	d := &s.in
	d.b, d.bad = body, false
	o := opNone
	defer func() {
		if v := recover(); v != nil {
			slog.Error("policy panicked", "call", o.String(), "panic", v, "stack", string(debug.Stack()))
			reply, fault = s.fault(seq, fmt.Sprintf("%s panicked: %v", o, v)), true
		}
	}()
	called := false
	for d.more() && !called {
		o = op(d.u8())
		called = !s.notification(o, d)
	}
	switch {
	case d.bad:
		return s.fault(seq, fmt.Sprintf("malformed %s event", o)), true
	case !called:
		return nil, false // notifications only
	}
	e := &s.out
	e.start()
	e.u8(statusOK)
	if msg := s.call(o, d, e); msg != "" {
		return s.fault(seq, msg), true
	}
	if d.bad || d.more() {
		return s.fault(seq, fmt.Sprintf("malformed %s call (or events after it)", o)), true
	}
	return e.finish(seq), false
}

func (s *server) fault(seq uint32, msg string) []byte {
	e := &s.out
	e.start()
	e.u8(statusFault)
	e.str(msg)
	return e.finish(seq)
}

// notification applies one notification and reports whether o was one.
func (s *server) notification(o op, d *dec) bool {
	switch o {
	case opEnqueue:
		t := d.task()
		why := sdk.EnqueueReason(d.u8())
		if !d.bad {
			s.p.Enqueue(t, why)
		}
	case opDequeue:
		id := sdk.TaskID(d.u64())
		why := sdk.DequeueReason(d.u8())
		if !d.bad {
			s.p.Dequeue(id, why)
		}
	case opCharge:
		used, now := d.dur(), d.dur()
		t := d.task()
		if !d.bad && s.x.Charger != nil {
			s.x.Charger.Charge(t, used, now)
		}
	default:
		return false
	}
	return true
}

// needs is the capability each optional call needs.
var needs = map[op]caps{opAdmit: capAdmitter, opShed: capShedder, opReport: capReporter, opConfigure: capConfigurer}

// call decodes the call o, makes it and encodes its answer into e. It
// returns a fault message if the call cannot be made; a call whose
// arguments do not decode is not made (the caller sees d.bad).
func (s *server) call(o op, d *dec, e *enc) string {
	if _, known := opNames[o]; !known {
		return fmt.Sprintf("unknown op %d (host newer than plugin?)", uint8(o))
	}
	if c, ok := needs[o]; ok && s.caps&c == 0 {
		return fmt.Sprintf("%s called, but the policy is not an sdk.%s", o, c.names()[0])
	}
	now := d.dur() // every call starts with the host's clock
	if d.bad {
		return ""
	}
	switch o {
	case opGetNext:
		if w := sdk.WorkerID(int32(d.u32())); !d.bad {
			id, ok := s.p.GetNext(w, now)
			e.bool(ok)
			e.u64(uint64(id))
		}
	case opOnInterrupt:
		if w, cur := sdk.WorkerID(int32(d.u32())), d.task(); !d.bad {
			e.bool(s.p.OnInterrupt(w, cur, now))
		}
	case opWouldPreempt:
		if w, cur, arriving := sdk.WorkerID(int32(d.u32())), d.task(), d.task(); !d.bad {
			e.bool(s.p.WouldPreempt(w, cur, arriving, now))
		}
	case opAdmit:
		if t := d.task(); !d.bad {
			class, ok := s.x.Admitter.Admit(t, now)
			e.bool(ok)
			e.u8(uint8(class))
		}
	case opShed:
		ids := s.x.Shedder.Shed(now)
		e.u32(uint32(len(ids)))
		for _, id := range ids {
			e.u64(uint64(id))
		}
	case opReport:
		gs := s.x.Reporter.Report(now)
		e.u32(uint32(len(gs)))
		for _, g := range gs {
			e.str(g.Name)
			e.str(g.Tenant)
			e.f64(g.Value)
		}
	case opConfigure:
		if cfg := decodeConfigure(d); !d.bad {
			encodeConfigureErrors(e, s.x.Configurer.Configure(cfg))
		}
	default:
		return fmt.Sprintf("op %s is not a call", o)
	}
	return ""
}

func encodeConfigure(e *enc, c sdk.Config) {
	e.u32(uint32(int32(c.Workers)))
	e.str(string(c.Options))
	e.u32(uint32(len(c.Tenants)))
	for _, t := range c.Tenants {
		e.str(t.Name)
		e.str(string(t.Options))
	}
}

func decodeConfigure(d *dec) sdk.Config {
	c := sdk.Config{Workers: int(int32(d.u32())), Options: sdk.Options(d.str())}
	n := int(d.u32())
	if n > len(d.b) { // each tenant takes more than a byte
		d.bad = true
		return c
	}
	c.Tenants = make([]sdk.TenantConfig, n)
	for i := range c.Tenants {
		c.Tenants[i] = sdk.TenantConfig{Name: d.str(), Options: sdk.Options(d.str())}
	}
	return c
}

// encodeConfigureErrors sends Configure's answer: each error joined in
// err, with the tenant and key of an *sdk.OptionError ("" for others), so
// the host can name the key's file:line.
func encodeConfigureErrors(e *enc, err error) {
	var errs []error
	switch x := err.(type) {
	case nil:
	case interface{ Unwrap() []error }:
		errs = x.Unwrap()
	default:
		errs = []error{err}
	}
	e.u32(uint32(len(errs)))
	for _, err := range errs {
		var oe *sdk.OptionError
		if errors.As(err, &oe) {
			e.str(oe.Tenant)
			e.str(oe.Key)
			e.str(oe.Err.Error())
			continue
		}
		e.str("")
		e.str("")
		e.str(err.Error())
	}
}

func decodeConfigureErrors(d *dec) []error {
	n := int(d.u32())
	if n > len(d.b)/12 { // an error takes at least three lengths
		d.bad = true
		return nil
	}
	errs := make([]error, n)
	for i := range errs {
		tenant, key, msg := d.str(), d.str(), d.str()
		if key == "" {
			errs[i] = errors.New(msg)
		} else {
			errs[i] = &sdk.OptionError{Tenant: tenant, Key: key, Err: errors.New(msg)}
		}
	}
	return errs
}
