package bench

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress draws a one-line progress bar, only on a terminal.
type progress struct {
	w  io.Writer
	on bool
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, on: ok && isTerminal(f.Fd())}
}

const barWidth = 30

// draw shows a run's progress: elapsed of span, got of n results.
func (p *progress) draw(label string, elapsed, span time.Duration, got, n int) {
	if !p.on {
		return
	}
	frac := min(float64(elapsed)/float64(span), 1)
	full := int(frac * barWidth)
	state := fmt.Sprintf("%3.0f%%", 100*frac)
	if frac == 1 {
		state = "waiting for answers"
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s [%s%s] %s %d/%d", label,
		strings.Repeat("#", full), strings.Repeat(".", barWidth-full), state, got, n)
}

// clear erases the bar.
func (p *progress) clear() {
	if p.on {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
