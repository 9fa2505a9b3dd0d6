//go:build unix

package plugin

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// linkFD is the descriptor the plugin process finds the link at: the
// first of exec.Cmd.ExtraFiles.
const linkFD = 3

// fdLink is one end of the socket pair the host made: plain blocking
// read and write system calls, with no Go netpoller and no goroutine in
// between. A blocked call costs its thread, which the caller (the core,
// under its scheduler lock) would spend waiting anyway; in return the
// kernel wakes that thread directly when the answer arrives, the shortest
// path measured (RATIONALE.md, "A socket beside gRPC"). Timeouts are the
// kernel's (SO_RCVTIMEO, SO_SNDTIMEO); abort unblocks a call from another
// goroutine with shutdown(2), and the descriptor is closed only once no
// call can be using it.
type fdLink struct {
	fd      int
	in      frameBuf
	timeout time.Duration // host side: bound of every call; 0 none
	set     time.Duration // the socket's current timeouts
	aborted atomic.Bool
}

// socketPair returns the host's end as a link and the plugin's end as a
// file to hand to exec.Cmd.ExtraFiles. Both are close-on-exec here (the
// child's copy is not: exec.Cmd dups it), so that no other child the host
// starts keeps the pair open and a dead plugin is seen as end of file.
func socketPair(timeout time.Duration) (hostLink, *os.File, error) {
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	l := &fdLink{fd: fds[0], timeout: timeout}
	if err := l.setTimeout(timeout); err != nil {
		syscall.Close(fds[0])
		syscall.Close(fds[1])
		return nil, nil, err
	}
	return l, os.NewFile(uintptr(fds[1]), "policy-link"), nil
}

// openLink is the plugin side: the descriptor fd, inherited from the host.
func openLink(fd int) (pluginLink, error) {
	if fd != linkFD {
		return nil, fmt.Errorf("link descriptor %d, want %d", fd, linkFD)
	}
	typ, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TYPE)
	if err != nil || typ != syscall.SOCK_STREAM {
		return nil, fmt.Errorf("descriptor %d is not the host's stream socket (%v)", fd, err)
	}
	// Keep it out of processes the policy may start, and blocking.
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, false); err != nil {
		return nil, fmt.Errorf("descriptor %d: %w", fd, err)
	}
	return &fdLink{fd: fd}, nil
}

func (l *fdLink) setTimeout(d time.Duration) error {
	if d == l.set {
		return nil
	}
	tv := syscall.NsecToTimeval(d.Nanoseconds())
	if d > 0 && tv.Sec == 0 && tv.Usec == 0 {
		tv.Usec = 1 // zero would mean no timeout
	}
	for _, opt := range []int{syscall.SO_RCVTIMEO, syscall.SO_SNDTIMEO} {
		if err := syscall.SetsockoptTimeval(l.fd, syscall.SOL_SOCKET, opt, &tv); err != nil {
			return fmt.Errorf("setsockopt: %w", err)
		}
	}
	l.set = d
	return nil
}

// budget prepares a system call of a call that started at start: the
// socket's timeouts are cut to what is left of the call's.
func (l *fdLink) budget(start time.Time, first bool) error {
	if l.timeout == 0 {
		return nil
	}
	if first {
		return l.setTimeout(l.timeout)
	}
	left := l.timeout - time.Since(start)
	if left <= 0 {
		return errTimeout
	}
	return l.setTimeout(left)
}

func (l *fdLink) ioErr(err error) error {
	switch {
	case l.aborted.Load():
		return errAborted
	case errors.Is(err, syscall.EAGAIN):
		return errTimeout // SO_RCVTIMEO/SO_SNDTIMEO expired
	}
	return err
}

func (l *fdLink) write(b []byte, start time.Time) error {
	for first := true; len(b) > 0; first = false {
		if err := l.budget(start, first); err != nil {
			return err
		}
		n, err := syscall.Write(l.fd, b)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return l.ioErr(err)
		}
		b = b[n:]
	}
	return nil
}

func (l *fdLink) read(start time.Time) ([]byte, error) {
	for first := true; ; first = false {
		frame, need, err := l.in.next()
		if err != nil || frame != nil {
			return frame, err
		}
		if err := l.budget(start, first); err != nil {
			return nil, err
		}
		n, err := syscall.Read(l.fd, l.in.space(need))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, l.ioErr(err)
		}
		if n == 0 {
			if l.aborted.Load() {
				return nil, errAborted
			}
			return nil, io.EOF
		}
		l.in.w += n
	}
}

func (l *fdLink) post(frame []byte) error { return l.write(frame, time.Now()) }

func (l *fdLink) roundTrip(frame []byte) ([]byte, error) {
	start := time.Now()
	if err := l.write(frame, start); err != nil {
		return nil, err
	}
	return l.read(start)
}

func (l *fdLink) recv() ([]byte, error)   { return l.read(time.Time{}) }
func (l *fdLink) send(frame []byte) error { return l.write(frame, time.Time{}) }

// abort makes a blocked or later read or write fail at once. It does not
// close the descriptor, which another goroutine may be using.
func (l *fdLink) abort() {
	if l.aborted.CompareAndSwap(false, true) {
		syscall.Shutdown(l.fd, syscall.SHUT_RDWR)
	}
}

func (l *fdLink) close() { syscall.Close(l.fd) }
