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
		result Result
		err    error
	}{
		{killTimeout, ResultTimeout, errKilledTimeout},
		{killShutdown, ResultShutdown, errKilledShutdown},
		{killCanceled, ResultCancelled, errKilledCanceled},
	} {
		sb := newSandbox(rt, 1, ts.now(), nil, nil)
		sb.Kill(tc.reason)
		out := sb.outcome(sys.NewExitError(exitKilled))
		if out.Result != tc.result || !errors.Is(out.Err, tc.err) || strings.Contains(out.Err.Error(), "exit_code") {
			t.Errorf("kill %d: %v, err %v; want %v, %v", tc.reason, out.Result, out.Err, tc.result, tc.err)
		}
		ts.forget(sb)
	}
}

// TestEveryResultHasAStatus: the listener's table gives every result a
// status of the HTTP contract (README.md) and a name for the logs, so a
// result added without a row cannot answer 0.
func TestEveryResultHasAStatus(t *testing.T) {
	contract := map[int]bool{200: true, 408: true, 409: true, 429: true, 499: true, 500: true, 504: true}
	for r := Result(0); r < numResults; r++ {
		if st := httpStatus[r]; !contract[st] {
			t.Errorf("%v answers %d, not a status of the contract", r, st)
		}
		if strings.HasPrefix(r.String(), "Result(") {
			t.Errorf("result %d has no name", r)
		}
	}
}
