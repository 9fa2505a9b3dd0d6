package main

import (
	"github.com/gosledge/gosledge/examples/policies/llf"
	"github.com/gosledge/gosledge/sdk/plugin"
)

func main() { plugin.Serve(llf.New()) }
