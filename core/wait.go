package core

import (
	"context"
	"math"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/gosledge/gosledge/core/instrument"
)

// memory.atomic.wait32/64 on a shared memory would block inside wazero,
// where no safepoint comes and no kill reaches it: the request went
// unanswered, its worker was lost and drain hung. The instrumenter turns
// each such wait into a call of these host functions instead (see
// core/instrument's doc). A sandbox is a single agent (no wasi-threads,
// its memory is its own), so no notify can ever come and the value cannot
// change while it waits: waiting out the timeout in the host is the exact
// semantics, and the host can give the worker away and be killed.

// Names of the wait imports: the instrumenter's defaults, which
// engine.compile does not override.
const (
	wait32Name = instrument.DefaultWait32Name
	wait64Name = instrument.DefaultWait64Name
)

// withWaits adds the wait imports to the host module b.
func withWaits(b wazero.HostModuleBuilder) wazero.HostModuleBuilder {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	results := []api.ValueType{i32, i32}
	return b.
		NewFunctionBuilder().
		WithGoModuleFunction(waitFunc(4), []api.ValueType{i32, i32, i64, i32}, results).
		Export(wait32Name).
		NewFunctionBuilder().
		WithGoModuleFunction(waitFunc(8), []api.ValueType{i32, i64, i64, i32}, results).
		Export(wait64Name)
}

// waitFunc is the wait import of an access of size bytes. The sandbox
// waits like a WASI sleep: it gives its worker away, and a kill unwinds it
// at once; a negative timeout lasts until a kill.
func waitFunc(size uint32) api.GoModuleFunc {
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		instrument.HostWait(stack, size, mod.Memory(), func(timeout int64) {
			sb := ctx.Value(sandboxKey{}).(*Sandbox)
			d := time.Duration(timeout)
			if timeout < 0 {
				d = math.MaxInt64
			}
			sb.sleep(sb.route.srv, d)
		})
	}
}
