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
// the process on one processor: calls come one at a time, and keeping the
// gRPC reader, the policy and the writer on one processor saves a thread
// hand-off on every call (about a fifth of a round trip on a 2-core host).
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

// server is the plugin side of the protocol: it applies each batch to the
// policy and answers the call that ends it.
type server struct {
	pb.UnimplementedPolicyServer
	p    sdk.Policy
	ch   sdk.Charger
	cfg  sdk.Configurer
	adm  sdk.Admitter
	shed sdk.Shedder
	rep  sdk.Reporter
	caps caps
	open atomic.Bool // a session is open
}

func newServer(p sdk.Policy) *server {
	s := &server{p: p, caps: capsOf(p)}
	s.ch, _ = p.(sdk.Charger)
	s.cfg, _ = p.(sdk.Configurer)
	s.adm, _ = p.(sdk.Admitter)
	s.shed, _ = p.(sdk.Shedder)
	s.rep, _ = p.(sdk.Reporter)
	return s
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
	return &pb.HelloReply{Name: s.p.Name(), Capabilities: s.caps.proto(), ProtocolVersion: ProtocolVersion}, nil
}

// Session serves the one stream of calls; see proto/policy.proto.
func (s *server) Session(stream pb.Policy_SessionServer) error {
	if !s.open.CompareAndSwap(false, true) {
		return status.Error(codes.FailedPrecondition, "a session was already opened: a plugin process serves one session")
	}
	// One session per process: when it ends (the host faulted us, is
	// killing us, or died), nothing more will come. go-plugin's shutdown
	// normally ends the process within milliseconds; if the host died, no
	// one will, so exit after a grace period rather than linger.
	defer time.AfterFunc(orphanGrace, func() {
		slog.Warn("the host went away; exiting")
		os.Exit(0)
	})
	var batch pb.Batch
	for {
		if err := stream.RecvMsg(&batch); err != nil {
			if errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled {
				return nil
			}
			return err
		}
		for i := 0; i < len(batch.Events); {
			n, reply := s.apply(batch.Events[i:])
			i += n
			if reply == nil {
				continue
			}
			if err := stream.Send(reply); err != nil {
				return err
			}
			if reply.Fault != "" {
				break // the host stops here; so do we
			}
		}
	}
}

// apply applies events in order up to and including the first call, and
// returns how many it consumed and the call's reply (nil if there was no
// call). A panic in the policy, or an event it cannot make sense of, ends
// the batch with a fault reply.
func (s *server) apply(events []*pb.Event) (n int, reply *pb.Reply) {
	defer func() {
		if v := recover(); v != nil {
			ev := events[n]
			slog.Error("policy panicked", "call", opName(ev.Op), "panic", v, "stack", string(debug.Stack()))
			reply = &pb.Reply{Seq: ev.Seq, Fault: fmt.Sprintf("%s panicked: %v", opName(ev.Op), v)}
			n = len(events)
		}
	}()
	for ; n < len(events); n++ {
		ev := events[n]
		switch ev.Op {
		case pb.Op_OP_ENQUEUE:
			s.p.Enqueue(taskFromProto(ev.Task), sdk.EnqueueReason(ev.Reason))
			continue
		case pb.Op_OP_DEQUEUE:
			s.p.Dequeue(sdk.TaskID(ev.Id), sdk.DequeueReason(ev.Reason))
			continue
		case pb.Op_OP_CHARGE:
			if s.ch != nil {
				s.ch.Charge(taskFromProto(ev.Task), time.Duration(ev.Used), time.Duration(ev.Now))
			}
			continue
		}
		r := &pb.Reply{Seq: ev.Seq}
		switch ev.Op {
		case pb.Op_OP_GET_NEXT:
			id, ok := s.p.GetNext(sdk.WorkerID(ev.Worker), time.Duration(ev.Now))
			r.Id, r.Ok = uint64(id), ok
		case pb.Op_OP_ON_INTERRUPT:
			r.Ok = s.p.OnInterrupt(sdk.WorkerID(ev.Worker), taskFromProto(ev.Task), time.Duration(ev.Now))
		case pb.Op_OP_WOULD_PREEMPT:
			r.Ok = s.p.WouldPreempt(sdk.WorkerID(ev.Worker), taskFromProto(ev.Task), taskFromProto(ev.Other))
		case pb.Op_OP_ADMIT:
			if s.adm == nil {
				r.Fault = "Admit called, but the policy is not an sdk.Admitter"
				break
			}
			class, ok := s.adm.Admit(taskFromProto(ev.Task), time.Duration(ev.Now))
			r.Class, r.Ok = uint32(class), ok
		case pb.Op_OP_SHED:
			if s.shed == nil {
				r.Fault = "Shed called, but the policy is not an sdk.Shedder"
				break
			}
			for _, id := range s.shed.Shed(time.Duration(ev.Now)) {
				r.Ids = append(r.Ids, uint64(id))
			}
		case pb.Op_OP_REPORT:
			if s.rep == nil {
				r.Fault = "Report called, but the policy is not an sdk.Reporter"
				break
			}
			for _, g := range s.rep.Report(time.Duration(ev.Now)) {
				r.Gauges = append(r.Gauges, &pb.Gauge{Name: g.Name, Tenant: g.Tenant, Value: g.Value})
			}
		case pb.Op_OP_CONFIGURE:
			if s.cfg == nil {
				r.Fault = "Configure called, but the policy is not an sdk.Configurer"
				break
			}
			if err := s.cfg.Configure(configFromProto(ev.Configure)); err != nil {
				r.Error = err.Error()
			}
		default:
			r.Fault = fmt.Sprintf("unknown op %v (host newer than plugin?)", ev.Op)
		}
		return n + 1, r
	}
	return n, nil
}

func taskFromProto(t *pb.Task) sdk.Task {
	if t == nil {
		return sdk.Task{}
	}
	return sdk.Task{
		ID:       sdk.TaskID(t.Id),
		Tenant:   t.Tenant,
		Route:    t.Route,
		Arrival:  time.Duration(t.Arrival),
		Deadline: time.Duration(t.Deadline),
		Expected: time.Duration(t.Expected),
		Ran:      time.Duration(t.Ran),
		Class:    sdk.Class(t.Class),
	}
}

func configFromProto(c *pb.Configure) (int, []sdk.TenantConfig) {
	if c == nil {
		return 0, nil
	}
	ts := make([]sdk.TenantConfig, len(c.Tenants))
	for i, t := range c.Tenants {
		ts[i] = sdk.TenantConfig{
			Name:                t.Name,
			ReplenishmentPeriod: time.Duration(t.ReplenishmentPeriod),
			MaxBudget:           time.Duration(t.MaxBudget),
			Reservation:         t.Reservation,
		}
	}
	return int(c.Workers), ts
}

// opName is the sdk method an op stands for.
func opName(op pb.Op) string {
	switch op {
	case pb.Op_OP_ENQUEUE:
		return "Enqueue"
	case pb.Op_OP_DEQUEUE:
		return "Dequeue"
	case pb.Op_OP_CHARGE:
		return "Charge"
	case pb.Op_OP_GET_NEXT:
		return "GetNext"
	case pb.Op_OP_ON_INTERRUPT:
		return "OnInterrupt"
	case pb.Op_OP_WOULD_PREEMPT:
		return "WouldPreempt"
	case pb.Op_OP_ADMIT:
		return "Admit"
	case pb.Op_OP_SHED:
		return "Shed"
	case pb.Op_OP_REPORT:
		return "Report"
	case pb.Op_OP_CONFIGURE:
		return "Configure"
	}
	return op.String()
}
