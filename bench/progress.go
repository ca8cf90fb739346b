package bench

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress is the live display: one line rewritten with a carriage
// return on a terminal, plain lines (every 5 s) otherwise. It is safe for
// concurrent use; a nil writer discards everything.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	open     bool // a \r line is on screen
	lastLine time.Time
}

func newProgress(w io.Writer, tty bool) *progress { return &progress{w: w, tty: tty} }

type progressFigures struct {
	phase             string
	offered           float64
	elapsed, duration time.Duration
	sent              uint64
	sendRate, gwRate  float64
	rejected, late    uint64
	aggregates        uint64
	backlog           uint64
	// gwUnit names what the gateway's message counter counts: "" for
	// messages, "frames" for WebSocket.
	gwUnit string
}

func (p *progress) line(f progressFigures) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tty && time.Since(p.lastLine) < 5*time.Second {
		return
	}
	p.lastLine = time.Now()
	offered := "max"
	if f.offered > 0 {
		offered = fmtRate(f.offered)
	}
	gwUnit := ""
	if f.gwUnit != "" {
		gwUnit = " " + f.gwUnit
	}
	s := fmt.Sprintf("[%s @ %s msg/s] %3.0fs/%.0fs sent %s (%s/s) | gateway in %s%s/s | rejected %d late %d | aggregates read %s | backlog %d",
		f.phase, offered, f.elapsed.Seconds(), f.duration.Seconds(), fmtCount(f.sent), fmtRate(f.sendRate),
		fmtRate(f.gwRate), gwUnit, f.rejected, f.late, fmtCount(f.aggregates), f.backlog)
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[K%s", s)
		p.open = true
	} else {
		fmt.Fprintln(p.w, s)
	}
}

// note prints a line of its own.
func (p *progress) note(format string, a ...any) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLine()
	fmt.Fprintf(p.w, "edgebench: "+format+"\n", a...)
}

func (p *progress) endLine() {
	if p.open {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.open = false
	}
}

// done prints a phase's outcome.
func (p *progress) done(ph *PhaseReport) {
	p.note("%s: offered %s msg/s, achieved %s msg/s, %s readings sent, %s counted, unexplained %d — %s",
		ph.Name, fmtRateOrMax(ph.Offered), fmtRate(ph.Achieved), fmtCount(ph.Reconciliation.Sent),
		fmtCount(ph.Reconciliation.Counted), ph.Reconciliation.Unexplained, ph.Verdict)
}

func fmtRateOrMax(r float64) string {
	if r <= 0 {
		return "max"
	}
	return fmtRate(r)
}

// fmtRate formats a rate with thousands separators.
func fmtRate(r float64) string { return fmtCount(uint64(r + 0.5)) }

// fmtCount formats n with thousands separators.
func fmtCount(n uint64) string {
	s := fmt.Sprint(n)
	if len(s) <= 3 {
		return s
	}
	var out []byte
	pre := len(s) % 3
	if pre > 0 {
		out = append(out, s[:pre]...)
	}
	for i := pre; i < len(s); i += 3 {
		if len(out) > 0 {
			out = append(out, ',')
		}
		out = append(out, s[i:i+3]...)
	}
	return string(out)
}
