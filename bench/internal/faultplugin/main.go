// Command faultplugin is a policy plugin for bench's tests: the built-in
// FIFO, served out of process, that goes wrong at its (N+1)-th GetNext so
// that a benchmark sees it fail in the middle of a run:
//
//	faultplugin exit N   the process exits
//	faultplugin hang N   the call never returns (past plugin_timeout)
//
// It lives under internal/ and is only built by bench's tests.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/gosledge/gosledge/plugins/fifo"
	"github.com/gosledge/gosledge/sdk"
	"github.com/gosledge/gosledge/sdk/plugin"
)

func main() {
	if len(os.Args) != 3 || (os.Args[1] != "exit" && os.Args[1] != "hang") {
		fmt.Fprintln(os.Stderr, "usage: faultplugin exit|hang N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n < 0 {
		fmt.Fprintf(os.Stderr, "faultplugin: bad count %q\n", os.Args[2])
		os.Exit(2)
	}
	plugin.Serve(&faulty{FIFO: fifo.New(), mode: os.Args[1], left: n})
}

// faulty answers left GetNext calls as FIFO does, then fails as mode says.
type faulty struct {
	*fifo.FIFO
	mode string
	left int
}

func (f *faulty) Name() string { return "faulty-fifo" }

func (f *faulty) GetNext(w sdk.WorkerID, now time.Duration) (sdk.TaskID, bool) {
	if f.left == 0 {
		if f.mode == "exit" {
			os.Exit(3)
		}
		time.Sleep(time.Hour)
	}
	f.left--
	return f.FIFO.GetNext(w, now)
}
