package core

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// perfFields are the perf log's columns, in order. The CSV header and every
// row are produced from this one list, so they cannot drift apart (SLEdge's
// header and rows did).
var perfFields = []string{
	"id", "tenant", "route", "status",
	"arrival_us", "deadline_us", "latency_us",
	"initialized_us", "runnable_us", "running_us", "preempted_us", "blocked_us", "returned_us",
	"cpu_us", "preemptions", "bytes_in", "bytes_out",
	"result", // how it ended (Result's name): tells a CPU-limit 504 from a timeout
}

// perfRecord is one finished request.
type perfRecord struct {
	ID                         uint64
	Tenant, Route              string
	Status                     int // the HTTP status, from the listener's table: what operators grep
	Arrival, Deadline, Latency time.Duration
	InState                    [numStates]time.Duration
	CPU                        time.Duration
	Preemptions                int
	BytesIn, BytesOut          int
	Result                     Result
}

// values renders r in perfFields order.
func (r *perfRecord) values() []string {
	us := func(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) }
	return []string{
		strconv.FormatUint(r.ID, 10), r.Tenant, r.Route, strconv.Itoa(r.Status),
		us(r.Arrival), us(r.Deadline), us(r.Latency),
		us(r.InState[StateInitialized]), us(r.InState[StateRunnable]), us(r.InState[StateRunning]),
		us(r.InState[StatePreempted]), us(r.InState[StateBlocked]), us(r.InState[StateReturned]),
		us(r.CPU), strconv.Itoa(r.Preemptions), strconv.Itoa(r.BytesIn), strconv.Itoa(r.BytesOut),
		r.Result.String(),
	}
}

// perfLogFlushInterval bounds how stale the file may be.
const perfLogFlushInterval = time.Second

// perfLog writes records on a goroutine of its own through a buffered
// writer, flushed periodically and on close. Requests hand records over a
// bounded channel and never wait: if the writer falls behind, a record is
// dropped and counted.
type perfLog struct {
	records chan perfRecord
	dropped func()
	done    chan struct{}
	once    sync.Once
	err     error // the first write error, reported by close
}

// openPerfLog opens path for appending, so a restart keeps what earlier
// runs logged: CSV if it ends in .csv, JSON lines otherwise. A CSV file
// gets the header when it is new; one whose header is not this version's
// columns is rotated to path.1 first (replacing an older path.1), so no
// file ever mixes two layouts.
func openPerfLog(path string, dropped func()) (*perfLog, error) {
	isCSV := strings.HasSuffix(strings.ToLower(path), ".csv")
	header := false
	if isCSV {
		switch first, err := readFirstLine(path); {
		case errors.Is(err, fs.ErrNotExist) || err == nil && first == "":
			header = true
		case err != nil:
			return nil, fmt.Errorf("perf log %s: %w", path, err)
		case first != strings.Join(perfFields, ","):
			if err := os.Rename(path, path+".1"); err != nil {
				return nil, fmt.Errorf("perf log %s: its columns differ from this version's; rotating it: %w", path, err)
			}
			header = true
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("perf log: %w", err)
	}
	p := &perfLog{records: make(chan perfRecord, 4096), dropped: dropped, done: make(chan struct{})}
	go p.write(f, isCSV, header)
	return p, nil
}

// readFirstLine returns path's first line without its newline ("" if empty).
func readFirstLine(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// add queues r without blocking.
func (p *perfLog) add(r perfRecord) {
	select {
	case p.records <- r:
	default:
		p.dropped()
	}
}

// close flushes what is queued and closes the file.
func (p *perfLog) close() error {
	p.once.Do(func() { close(p.records) })
	<-p.done
	return p.err
}

func (p *perfLog) write(f *os.File, isCSV, header bool) {
	defer close(p.done)
	bw := bufio.NewWriterSize(f, 64<<10)
	var enc interface {
		write(*perfRecord) error
		flush(*bufio.Writer) error
	}
	if isCSV {
		cw := csv.NewWriter(bw)
		enc = csvEncoder{cw}
		if header {
			p.keep(cw.Write(perfFields))
		}
	} else {
		enc = jsonEncoder{bw}
	}
	tick := time.NewTicker(perfLogFlushInterval)
	defer tick.Stop()
	for {
		select {
		case r, ok := <-p.records:
			if !ok {
				p.keep(enc.flush(bw))
				p.keep(f.Close())
				return
			}
			p.keep(enc.write(&r))
		case <-tick.C:
			p.keep(enc.flush(bw))
		}
	}
}

func (p *perfLog) keep(err error) {
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("perf log: %w", err)
	}
}

type csvEncoder struct{ w *csv.Writer }

func (e csvEncoder) write(r *perfRecord) error { return e.w.Write(r.values()) }

func (e csvEncoder) flush(bw *bufio.Writer) error {
	e.w.Flush()
	if err := e.w.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// jsonEncoder writes one object per line with the perfFields keys; numbers
// stay numbers.
type jsonEncoder struct{ w io.Writer }

func (e jsonEncoder) write(r *perfRecord) error {
	obj := make(map[string]any, len(perfFields))
	for i, v := range r.values() {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && i != 1 && i != 2 {
			obj[perfFields[i]] = n
		} else {
			obj[perfFields[i]] = v
		}
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	_, err = e.w.Write(append(b, '\n'))
	return err
}

func (e jsonEncoder) flush(bw *bufio.Writer) error { return bw.Flush() }
