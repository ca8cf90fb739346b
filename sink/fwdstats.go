package sink

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ForwarderStats are the forwarder's counters and gauges; safe for
// concurrent reads. The backlog itself (frames, bytes, items, oldest age,
// drops) is in BufferState.
type ForwarderStats struct {
	Records      atomic.Uint64 // Kafka records acknowledged
	RecordErrors atomic.Uint64 // Kafka records failed (their frame is redelivered); by type in Errors
	Frames       atomic.Uint64 // frames fully delivered and acked in JetStream
	Items        atomic.Uint64 // aggregates and late events in those frames
	Naks         atomic.Uint64 // frames nak'ed for redelivery
	BadFrames    atomic.Uint64 // undecodable frames, terminated and logged
	AckErrors    atomic.Uint64 // delivered frames whose JetStream ack failed (redelivered: Kafka gets duplicates)
	Pruned       atomic.Uint64 // frames the buffer's limits removed before delivery; not sent (counted in BufferState.Dropped…)
	// DeliveredDropped counts frames the buffer's limits removed while
	// their delivery was in flight and that Kafka then acknowledged: they
	// are in Kafka although counted in BufferState.Dropped….
	DeliveredDropped atomic.Uint64
	FetchErrors      atomic.Uint64
	Bytes            atomic.Uint64 // record value+key bytes handed to Kafka
	LastSuccessMs    atomic.Int64  // wall time of the last acknowledged frame
	Failing          atomic.Bool   // the last delivery attempt failed
	// TopicPurges counts topics dropped from the Kafka client's state
	// because they were deleted or recreated (see Forwarder.purgeStale).
	TopicPurges atomic.Uint64

	// Errors counts failed Kafka records by cause.
	Errors KafkaErrors

	drainRate atomic.Uint64 // float64 bits, items/s
}

// DrainRate returns the items (aggregates and late events) delivered per
// second, averaged over the last 5 s (updated every 250 ms while Run
// runs).
func (s *ForwarderStats) DrainRate() float64 { return math.Float64frombits(s.drainRate.Load()) }

// KafkaErrors counts failed attempts to deliver to Kafka by cause: records
// that failed (their frame is nak'ed and redelivered) and, for a client
// made by NewKafkaClient, every attempt the client itself retried
// (connections, produce requests, refused batches). These are attempts,
// not losses.
type KafkaErrors struct {
	// Timeout: the record was not acknowledged within the forwarder's
	// DeliveryTimeout (broker down or unreachable, partition without a
	// leader for that long).
	Timeout atomic.Uint64
	// Network: connection refused, reset or closed.
	Network atomic.Uint64
	// Retriable: a retriable broker error surfaced (not enough replicas,
	// leader moved, …) after the client's own retries.
	Retriable atomic.Uint64
	// Auth: SASL or ACL failures (the broker refuses this client).
	Auth atomic.Uint64
	// Rejected: a non-retriable broker error (record too large, invalid
	// record, unknown topic with auto-create off, …).
	Rejected atomic.Uint64
	// Other: anything else (client closing, buffer full, …).
	Other atomic.Uint64
}

func (e *KafkaErrors) count(err error) {
	var ke *kerr.Error
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, kgo.ErrRecordTimeout), errors.Is(err, kgo.ErrRecordRetries):
		e.Timeout.Add(1)
	case errors.As(err, &ke):
		switch ke {
		case kerr.SaslAuthenticationFailed, kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed,
			kerr.TransactionalIDAuthorizationFailed, kerr.IllegalSaslState, kerr.UnsupportedSaslMechanism:
			e.Auth.Add(1)
		default:
			if ke.Retriable {
				e.Retriable.Add(1)
			} else {
				e.Rejected.Add(1)
			}
		}
	case errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, net.ErrClosed):
		e.Network.Add(1)
	default:
		e.Other.Add(1)
	}
}

// rateMeter turns the Items counter into DrainRate: sampled every
// rateTick, averaged over the last rateWindow intervals.
type rateMeter struct {
	times [rateWindow + 1]time.Time
	items [rateWindow + 1]uint64
	n     int
}

const (
	rateTick   = 250 * time.Millisecond
	rateWindow = 20
)

func (m *rateMeter) sample(now time.Time, items uint64) float64 {
	if m.n == len(m.times) {
		copy(m.times[:], m.times[1:])
		copy(m.items[:], m.items[1:])
		m.n--
	}
	m.times[m.n], m.items[m.n] = now, items
	m.n++
	if m.n < 2 {
		return 0
	}
	dt := m.times[m.n-1].Sub(m.times[0]).Seconds()
	if dt <= 0 {
		return 0
	}
	return float64(m.items[m.n-1]-m.items[0]) / dt
}

func (f *Forwarder) meterRate(ctx context.Context) {
	var m rateMeter
	t := time.NewTicker(rateTick)
	defer t.Stop()
	for {
		r := m.sample(time.Now(), f.Stats.Items.Load())
		f.Stats.drainRate.Store(math.Float64bits(r))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
