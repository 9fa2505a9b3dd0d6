// Command goecho is the Go version of echo.c: it copies stdin to stdout.
// A standard Go program, built for WASI preview 1:
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -ldflags=-s -o goecho.wasm .
//
// It is the benchmarks' big module: 2+ MB, the Go runtime's start in every
// request, and tens of thousands of data segments.
package main

import (
	"io"
	"os"
)

func main() {
	if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
		os.Exit(1)
	}
}
