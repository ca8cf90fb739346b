package bench

import (
	"sync/atomic"
	"time"
)

// Load is one publishing phase: which series, how fast, for how long.
type Load struct {
	Sensors *SensorSet
	Faults  Faults
	// Rate is the total offered rate in messages per second, split
	// evenly over the connections; 0 publishes as fast as possible.
	Rate     float64
	Duration time.Duration
	// WindowMs is the window size the ledger accounts by.
	WindowMs int64
	// MinTs is the earliest event time (Unix ms) a fault may stamp.
	MinTs int64
	// SampleEvery: one message in SampleEvery is a latency sample.
	// Default 16.
	SampleEvery int
}

// PubStats are a publisher's live counters, safe for concurrent use.
type PubStats struct {
	// Messages handed to the client, including duplicate copies.
	Messages atomic.Uint64
	// Frames written (WebSocket batches; equal to Messages for MQTT).
	Frames atomic.Uint64
	// Failed publishes (QoS 1 errors and timeouts, write errors).
	Failed atomic.Uint64
}

// PhaseResult is what a publisher did in one Load.
type PhaseResult struct {
	Ledger  *Ledger
	Start   time.Time
	Elapsed time.Duration
}

// Rate returns the achieved rate in messages per second.
func (r *PhaseResult) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ledger.Messages) / r.Elapsed.Seconds()
}

// slab hands out payload copies carved from a larger buffer, so that a
// publisher that must give each message its own bytes (paho keeps them
// until written) allocates once per slabSize instead of once per message.
// A slab is owned by one goroutine.
type slab struct{ buf []byte }

const slabSize = 64 << 10

func (s *slab) copy(p []byte) []byte {
	if len(p) > slabSize/4 {
		return append([]byte(nil), p...)
	}
	if cap(s.buf)-len(s.buf) < len(p) {
		s.buf = make([]byte, 0, slabSize)
	}
	n := len(s.buf)
	s.buf = append(s.buf, p...)
	return s.buf[n:len(s.buf):len(s.buf)]
}
