// Command llf-policy serves the least-laxity-first policy as a gosledge
// policy plugin. gosledge starts it; run by hand it only explains that.
//
//	go build -o bin/llf-policy ./examples/policies/llf/cmd/llf-policy
package main
