// Command tracegen writes the synthetic trace bundled with the example
// workloads (examples/workloads/bimodal.trace.csv), in the format of
// bench.Trace: a day-shaped arrival rate (a sine over the trace, like the
// diurnal swing of the public Azure Functions traces, compressed to
// seconds) with bursts, a bimodal mix of short and long requests, and each
// request's service time.
//
//	go run ./examples/workloads/tracegen > examples/workloads/bimodal.trace.csv
//
// What must not live here: trace parsing (bench/trace.go).
package main
