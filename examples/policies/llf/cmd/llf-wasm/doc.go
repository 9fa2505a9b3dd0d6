//go:build wasip1

// Command llf-wasm is the least-laxity-first policy as a WebAssembly
// policy module: the same package llf as cmd/llf-policy, served through
// the Wasm policy ABI (sdk/wasmpolicy) instead of a plugin process. It is
// a reactor: gosledge calls its exports, never its main.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o examples/policies/llf/llf.wasm ./examples/policies/llf/cmd/llf-wasm
//
// (make policies-wasm). The built module is committed beside llf.go.
package main
