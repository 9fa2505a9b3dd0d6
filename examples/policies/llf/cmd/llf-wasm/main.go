//go:build wasip1

package main

import (
	"github.com/gosledge/gosledge/examples/policies/llf"
	"github.com/gosledge/gosledge/sdk/wasmpolicy"
)

func init() { wasmpolicy.Serve(llf.New()) }

func main() {}
