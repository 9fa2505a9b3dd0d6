// Command testplugin is a policy plugin for sdk/plugin's tests. Its first
// argument picks a behaviour:
//
//	edf            plugins/edf, no optional interfaces (benchmarks)
//	fifo           a FIFO, no optional interfaces
//	admit          a FIFO that is also an sdk.Admitter (refuses tenant "deny")
//	all            a FIFO implementing every optional interface
//	hang           GetNext never returns
//	unknown        GetNext returns an ID it was never given
//	panic          GetNext panics
//	panic-enqueue  Enqueue panics
//	exit           GetNext exits the process
//	log            Enqueue logs through slog and prints to stdout and stderr
//	v1             a plugin built for protocol version 1 (handshake only)
//
// It lives under internal/ and is only built by the tests' TestMain.
package main
