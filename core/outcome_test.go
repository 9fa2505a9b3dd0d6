package core

import (
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/sys"

	"github.com/gosledge/gosledge/core/config"
)

// TestKilledOutcomeSaysWhy: a killed sandbox unwinds with the kill's exit
// code, but its answer and its logged error name the reason, never the
// code ("exit_code(57005)" meant nothing to an operator).
func TestKilledOutcomeSaysWhy(t *testing.T) {
	ts := startServer(t, config.Runtime{Workers: 1}, testRoute(t, "/fib", "fib"))
	rt := ts.tenants[0].routeMap()["/fib"]
	for _, tc := range []struct {
		reason int32
		status int
		err    error
	}{
		{killTimeout, 504, errKilledTimeout},
		{killShutdown, 504, errKilledShutdown},
		{killCanceled, 499, errKilledCanceled},
	} {
		sb := newSandbox(rt, 1, ts.now(), nil, nil)
		sb.Kill(tc.reason)
		out := sb.outcome(sys.NewExitError(exitKilled))
		if out.Status != tc.status || !errors.Is(out.Err, tc.err) || strings.Contains(out.Err.Error(), "exit_code") {
			t.Errorf("kill %d: status %d, err %v; want %d, %v", tc.reason, out.Status, out.Err, tc.status, tc.err)
		}
		ts.forget(sb)
	}
}
