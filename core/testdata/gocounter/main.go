// Command gocounter is a Go reactor for core/reactor_test.go: each call of
// handle prints how many calls this instance has seen before, counted in
// a package variable (in linear memory), in a heap-allocated map and in a
// goroutine's channel, then counts itself in all three. An instance in
// the snapshot's state prints "0 0 0". Built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags=-s -o gocounter.wasm .
package main

import (
	"fmt"
	"io"
	"os"
)

var (
	calls int
	seen  = map[string]int{}
	ticks = make(chan int, 1)
)

func init() { ticks <- 0 }

//go:wasmexport handle
func handle() int32 {
	body, _ := io.ReadAll(os.Stdin)
	t := <-ticks
	fmt.Printf("%d %d %d %s", calls, seen["calls"], t, body)
	calls++
	seen["calls"]++
	ticks <- t + 1
	return 0
}

func main() {}
