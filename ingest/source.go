package ingest

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Deliver receives the readings of one accepted message. It is called on
// the source's receive goroutine; b is valid only during the call. It must
// not block for long: the wiring pushes into rings whose policy decides
// what happens when they are full.
type Deliver func(b *Batch)

// SourceStats count what a source received; safe for concurrent reads.
type SourceStats struct {
	Messages atomic.Uint64 // messages received
	Accepted atomic.Uint64 // messages that yielded readings
	Readings atomic.Uint64 // readings delivered
	Rejected [NumReasons]atomic.Uint64
	// Connected is 1 while connected to the broker.
	Connected atomic.Bool
	Connects  atomic.Uint64 // successful connections, reconnects included
	ConnLost  atomic.Uint64 // connections lost
}

// RejectedTotal sums Rejected over all reasons.
func (s *SourceStats) RejectedTotal() uint64 {
	var n uint64
	for i := range s.Rejected {
		n += s.Rejected[i].Load()
	}
	return n
}

// rejectLog logs a rejection at most once per interval per reason, with
// how many were suppressed since the last line.
type rejectLog struct {
	mu         sync.Mutex
	log        *slog.Logger
	interval   time.Duration
	last       [NumReasons]int64
	suppressed [NumReasons]uint64
}

func (r *rejectLog) note(nowMs int64, reason Reason, topic string, err error) {
	r.mu.Lock()
	if nowMs-r.last[reason] < r.interval.Milliseconds() {
		r.suppressed[reason]++
		r.mu.Unlock()
		return
	}
	r.last[reason] = nowMs
	n := r.suppressed[reason]
	r.suppressed[reason] = 0
	r.mu.Unlock()
	r.log.Warn("message rejected", "reason", reason.String(), "topic", topic, "err", err, "suppressed_since_last", n)
}
