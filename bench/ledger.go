package bench

// Ledger is what a generator sent, per series and event-time window: the
// left-hand side of the reconciliation. A Ledger is owned by one
// publishing goroutine; ledgers are merged with Merge once publishing has
// stopped.
type Ledger struct {
	WindowMs int64
	Cells    map[CellKey]*Cell
	// Samples are the latency samples: one message in SampleEvery.
	Samples []LatencySample
	// Messages and Frames count what went on the wire (frames differ
	// from messages for WebSocket batches).
	Messages, Frames uint64
	// MaxTs is the latest event time stamped (Unix ms).
	MaxTs int64
}

// CellKey names one series' window.
type CellKey struct {
	Series int32
	Start  int64 // window start, Unix ms
}

// Cell counts messages of one series and window by what the generator
// made of them. Every count is of messages; a message carries
// SensorSet.Readings(series) readings.
type Cell struct {
	// Sent is every message published, including the faulty ones and
	// both copies of a duplicate.
	Sent uint32
	// Late messages were stamped behind the watermark on purpose;
	// Malformed ones were truncated; Duplicates are the second copies;
	// Failed publishes were refused by the client (QoS 1 errors).
	Late, Malformed, Duplicates, Failed uint32
}

// LatencySample is one published message whose readings' latency is
// measured: its window and its publish time.
type LatencySample struct {
	Series int32
	Start  int64 // window start, Unix ms
	PubNs  int64 // publish time, Unix ns
}

// NewLedger returns an empty ledger for windows of windowMs.
func NewLedger(windowMs int64) *Ledger {
	if windowMs <= 0 {
		windowMs = 1000
	}
	return &Ledger{WindowMs: windowMs, Cells: make(map[CellKey]*Cell, 1024)}
}

// WindowStart returns the start of the window holding tsMs.
func (l *Ledger) WindowStart(tsMs int64) int64 {
	s := tsMs - tsMs%l.WindowMs
	if tsMs < 0 && tsMs%l.WindowMs != 0 {
		s -= l.WindowMs
	}
	return s
}

// cell returns the cell of series and window start, creating it.
func (l *Ledger) cell(series int32, start int64) *Cell {
	k := CellKey{series, start}
	c := l.Cells[k]
	if c == nil {
		c = &Cell{}
		l.Cells[k] = c
	}
	return c
}

// Merge adds o's counts into l. Both must use the same window size.
func (l *Ledger) Merge(o *Ledger) {
	for k, c := range o.Cells {
		d := l.cell(k.Series, k.Start)
		d.Sent += c.Sent
		d.Late += c.Late
		d.Malformed += c.Malformed
		d.Duplicates += c.Duplicates
		d.Failed += c.Failed
	}
	l.Samples = append(l.Samples, o.Samples...)
	l.Messages += o.Messages
	l.Frames += o.Frames
	l.MaxTs = max(l.MaxTs, o.MaxTs)
}

// Totals sums the ledger in readings using ss for the readings per
// message.
func (l *Ledger) Totals(ss *SensorSet) (t LedgerTotals) {
	for k, c := range l.Cells {
		r := uint64(ss.Readings(k.Series))
		t.SentMessages += uint64(c.Sent)
		t.Sent += r * uint64(c.Sent)
		t.Late += r * uint64(c.Late)
		t.Malformed += r * uint64(c.Malformed)
		t.MalformedMessages += uint64(c.Malformed)
		t.Duplicates += r * uint64(c.Duplicates)
		t.Failed += r * uint64(c.Failed)
	}
	return t
}

// LedgerTotals are a ledger's sums, in readings unless named messages.
type LedgerTotals struct {
	SentMessages, MalformedMessages           uint64
	Sent, Late, Malformed, Duplicates, Failed uint64
}
