// Command goreactor is goecho built as a reactor: the Go runtime and the
// package's init run once, in _initialize, and each request calls the
// exported handle, which copies stdin to stdout.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags=-s -o goreactor.wasm .
package main

import (
	"io"
	"os"
)

// handle serves one request: the body is stdin, the response stdout. A
// non-zero result is the function's exit status (500).
//
//go:wasmexport handle
func handle() int32 {
	if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
		return 1
	}
	return 0
}

// main is not called in a reactor (-buildmode=c-shared), but package main
// needs one.
func main() {}
