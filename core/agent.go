package core

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// agentWriteTimeout bounds one answer: a checker that does not read its
// line, or does not close, is dropped rather than holding a goroutine.
const agentWriteTimeout = time.Second

// agentReply is the line HAProxy's agent-check reads (HAProxy 2.6
// configuration manual, "agent-check"): words separated by spaces, ended
// by a newline. Serving, it is "up ready N%": "up" undoes an earlier
// "down", "ready" an earlier "drain" (only the agent may revert what the
// agent set), and N% scales the server's configured weight. Draining it is
// "drain": no new connections, those in flight finish. Not serving it is
// "down", with the reason after '#' for the stats page.
func agentReply(l Load) string {
	switch l.State {
	case LoadUp:
		return fmt.Sprintf("up ready %d%%\n", l.Weight)
	case LoadDrain:
		return "drain\n"
	}
	return "down #not serving\n"
}

// agent is the runtime.agent listener: every connection gets one line of
// the current Load and is closed; what the checker sends (agent-send) is
// not read.
type agent struct {
	ln   net.Listener
	load func() Load
	log  *slog.Logger
	wg   sync.WaitGroup
}

// newAgent listens on addr and answers from load until close.
func newAgent(addr string, load func() Load, log *slog.Logger) (*agent, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("agent listener (runtime.agent %q): %w", addr, err)
	}
	a := &agent{ln: ln, load: load, log: log}
	a.wg.Add(1)
	go a.serve()
	return a, nil
}

func (a *agent) serve() {
	defer a.wg.Done()
	for {
		c, err := a.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				a.log.Error("agent listener stopped", "addr", a.ln.Addr().String(), "err", err)
			}
			return
		}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			defer c.Close()
			c.SetDeadline(time.Now().Add(agentWriteTimeout))
			if _, err := c.Write([]byte(agentReply(a.load()))); err != nil {
				a.log.Debug("agent answer not delivered", "peer", c.RemoteAddr().String(), "err", err)
				return
			}
			// Closing with the checker's agent-send unread would reset the
			// connection, and the reset can overtake the answer: say we are
			// done (FIN), then read until the checker closes too.
			if tc, ok := c.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
			io.Copy(io.Discard, c)
		}()
	}
}

// close stops listening and waits for answers being written.
func (a *agent) close() {
	a.ln.Close()
	a.wg.Wait()
}
