package plugin

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	pb "github.com/gosledge/gosledge/sdk/plugin/proto"
)

// hostLink carries the host's frames (wire.go) to the plugin. One call at
// a time; abort may come from any goroutine.
type hostLink interface {
	// post sends a frame that gets no reply.
	post(frame []byte) error
	// roundTrip sends a frame and returns the reply, valid until the next
	// call. Both are bounded by the call timeout (errTimeout).
	roundTrip(frame []byte) ([]byte, error)
	// abort makes the call in flight, and every later one, fail with
	// errAborted.
	abort()
	// close releases the link, after abort, with no call in flight.
	close()
}

// pluginLink is the plugin's end.
type pluginLink interface {
	recv() ([]byte, error)
	send(frame []byte) error
}

// errNoSocketLink: this system passes no descriptors; the host uses the
// Session stream.
var errNoSocketLink = errors.New("no socket link on this system")

// errTimeout is a call that did not complete within the call timeout.
var errTimeout = errors.New("timed out")

// errAborted is a call on a link the client gave up (a fault, Kill).
var errAborted = errors.New("link closed by the host")

// grpcLink is the Session stream fallback: each frame one pb.Frame. It
// costs what gRPC costs (HTTP/2 framing, flow control, a goroutine hand-off
// each way); it exists for systems without descriptor passing and as the
// baseline of BenchmarkDecision.
type grpcLink struct {
	stream   pb.Policy_SessionClient
	cancel   context.CancelFunc // ends the stream
	timeout  time.Duration
	watchdog *time.Timer
	expired  atomic.Bool
	aborted  atomic.Bool
	in       pb.Frame
}

func newGRPCLink(stream pb.Policy_SessionClient, cancel context.CancelFunc, timeout time.Duration) *grpcLink {
	l := &grpcLink{stream: stream, cancel: cancel, timeout: timeout}
	// gRPC has no per-message deadline: a timer ends the stream.
	l.watchdog = time.AfterFunc(time.Hour, func() {
		l.expired.Store(true)
		cancel()
	})
	l.watchdog.Stop()
	return l
}

func (l *grpcLink) err(err error) error {
	switch {
	case err == nil:
		return nil
	case l.expired.Load():
		return errTimeout
	case l.aborted.Load():
		return errAborted
	}
	return err
}

func (l *grpcLink) post(frame []byte) error {
	l.watchdog.Reset(l.timeout)
	err := l.stream.Send(&pb.Frame{Data: frame})
	if !l.watchdog.Stop() {
		return errTimeout
	}
	return l.err(err)
}

func (l *grpcLink) roundTrip(frame []byte) ([]byte, error) {
	l.watchdog.Reset(l.timeout)
	err := l.stream.Send(&pb.Frame{Data: frame})
	if err == nil {
		err = l.stream.RecvMsg(&l.in)
	}
	if !l.watchdog.Stop() {
		return nil, errTimeout // the timer has ended the stream
	}
	if err != nil {
		return nil, l.err(err)
	}
	return l.in.Data, checkFrame(l.in.Data)
}

func (l *grpcLink) abort() {
	l.aborted.Store(true)
	l.cancel()
}

func (l *grpcLink) close() { l.watchdog.Stop() }

// checkFrame checks a whole frame's length prefix.
func checkFrame(b []byte) error {
	var f frameBuf
	f.b, f.w = b, len(b)
	frame, _, err := f.next()
	if err == nil && (frame == nil || len(frame) != len(b)) {
		err = errBadFrame
	}
	return err
}

var errBadFrame = errors.New("malformed frame")

// grpcPluginLink is the plugin's end of the Session stream.
type grpcPluginLink struct {
	stream pb.Policy_SessionServer
	in     pb.Frame
	out    pb.Frame
}

func (l *grpcPluginLink) recv() ([]byte, error) {
	if err := l.stream.RecvMsg(&l.in); err != nil {
		return nil, err
	}
	return l.in.Data, checkFrame(l.in.Data)
}

func (l *grpcPluginLink) send(frame []byte) error {
	l.out.Data = frame
	return l.stream.Send(&l.out)
}
