package core

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// A guest's argv and environment are the request's, read when the guest
// asks for them, not fixed when its instance was made: a pooled instance
// (instancepool.go) serves one request after another, and wazero keeps
// what ModuleConfig.WithArgs and WithEnv gave an instance for its whole
// life. So the WASI module is wazero's, but for args_sizes_get, args_get,
// environ_sizes_get and environ_get, which read them from the sandbox the
// call serves (Sandbox.argv, its WAGI environment) or, in a reactor's
// _initialize, from the route (reactorInit). A call with neither sees an
// empty argv and environment.

// wasiErrnoFault is WASI's EFAULT: the guest passed a buffer outside its
// memory.
const wasiErrnoFault = 21

// instantiateWASI instantiates wasi_snapshot_preview1 in rt with argv and
// environ from the request. ctx carries the function listeners of the
// WASI calls that change a file table (fdTableListeners).
func instantiateWASI(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(b)
	i32 := api.ValueTypeI32
	for _, f := range []struct {
		name string
		fn   api.GoModuleFunc
	}{
		{"args_sizes_get", stringsSizes(argvOf)},
		{"args_get", stringsGet(argvOf)},
		{"environ_sizes_get", stringsSizes(environOf)},
		{"environ_get", stringsGet(environOf)},
	} {
		b.NewFunctionBuilder().WithGoModuleFunction(f.fn, []api.ValueType{i32, i32}, []api.ValueType{i32}).Export(f.name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("instantiate WASI: %w", err)
	}
	return nil
}

// argvOf is the argv of the guest that ctx runs.
func argvOf(ctx context.Context) []string {
	if sb, ok := ctx.Value(sandboxKey{}).(*Sandbox); ok {
		return sb.argv()
	}
	if init, ok := ctx.Value(reactorInitKey{}).(*reactorInit); ok {
		return init.argv
	}
	return nil
}

// environOf is the environment of the guest that ctx runs, as KEY=value
// strings: a WAGI route's request variables, else none.
func environOf(ctx context.Context) []string {
	if sb, ok := ctx.Value(sandboxKey{}).(*Sandbox); ok {
		return sb.wagiEnv
	}
	return nil
}

// stringsSizes is args_sizes_get or environ_sizes_get over list:
// (count_ptr, buf_size_ptr) -> errno, each string NUL-terminated.
func stringsSizes(list func(context.Context) []string) api.GoModuleFunc {
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		s := list(ctx)
		size := 0
		for _, v := range s {
			size += len(v) + 1
		}
		mem := mod.Memory()
		if mem == nil || !mem.WriteUint32Le(uint32(stack[0]), uint32(len(s))) || !mem.WriteUint32Le(uint32(stack[1]), uint32(size)) {
			stack[0] = wasiErrnoFault
			return
		}
		stack[0] = 0
	}
}

// stringsGet is args_get or environ_get over list: (ptrs, buf) -> errno;
// ptrs receives each string's address in buf.
func stringsGet(list func(context.Context) []string) api.GoModuleFunc {
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		ptrs, buf := uint32(stack[0]), uint32(stack[1])
		mem := mod.Memory()
		if mem == nil {
			stack[0] = wasiErrnoFault
			return
		}
		for i, v := range list(ctx) {
			if !mem.WriteUint32Le(ptrs+uint32(4*i), buf) || !mem.WriteString(buf, v) || !mem.WriteByte(buf+uint32(len(v)), 0) {
				stack[0] = wasiErrnoFault
				return
			}
			buf += uint32(len(v)) + 1
		}
		stack[0] = 0
	}
}
