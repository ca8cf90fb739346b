package sink

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/edgeplane/edgeplane/record"
)

// WriterOptions configure a Writer.
type WriterOptions struct {
	Gateway  string
	Pipeline string
	// Topic is the Kafka topic the frames' records go to.
	Topic   string
	Columns Columns
	// MaxRecords and MaxBytes bound a frame. Defaults 512 and 256 KiB.
	MaxRecords int
	MaxBytes   int
	// RetryMin and RetryMax bound the backoff between publish retries.
	// Defaults 50 ms and 2 s.
	RetryMin, RetryMax time.Duration
	Logger             *slog.Logger
}

// WriterStats are a writer's counters; safe to read from any goroutine.
type WriterStats struct {
	Aggregates     atomic.Uint64 // aggregates acknowledged into JetStream
	Frames         atomic.Uint64 // frames acknowledged
	Retries        atomic.Uint64 // publish attempts that failed and were retried
	PushBackWaits  atomic.Uint64 // retries because the buffer was full (push_back)
	LostOnShutdown atomic.Uint64 // aggregates never acknowledged because the writer was cancelled
}

// Writer batches the aggregates of one shard into frames and publishes
// them to the Buffer. It is not safe for concurrent use: each operator
// shard owns one.
type Writer struct {
	buf    *Buffer
	opts   WriterOptions
	subj   string
	keys   *record.SeriesTable
	fields []string
	stats  *WriterStats
	log    *slog.Logger

	fb      frameBuilder
	headers []FrameHeader
	out     []byte // assembled frame
	value   []byte // scratch for one JSON value
	id      []byte // scratch for one id
	who     Identity
}

// NewWriter returns a writer for one shard. keys resolves series ids and
// fields maps field ids to names; stats may be shared by the writers of a
// pipeline.
func NewWriter(b *Buffer, o WriterOptions, keys *record.SeriesTable, fields []string, stats *WriterStats) *Writer {
	if o.MaxRecords <= 0 {
		o.MaxRecords = 512
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 256 << 10
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 50 * time.Millisecond
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	w := &Writer{
		buf:    b,
		opts:   o,
		subj:   b.Subject(o.Pipeline),
		keys:   keys,
		fields: fields,
		stats:  stats,
		log:    o.Logger.With("pipeline", o.Pipeline),
		headers: []FrameHeader{
			{Key: []byte("gateway"), Value: []byte(o.Gateway)},
			{Key: []byte("schema"), Value: strconv.AppendInt(nil, SchemaVersion, 10)},
		},
		who: Identity{Gateway: o.Gateway, Pipeline: o.Pipeline},
	}
	w.fb.reset(o.Topic, w.headers)
	return w
}

// Add encodes a into the current frame and publishes the frame when it is
// full. nowMs is the emission time, the Kafka record's timestamp. It
// returns an error only when ctx ends before a full frame was stored.
func (w *Writer) Add(ctx context.Context, a *record.Aggregate, nowMs int64) error {
	w.who.Series = w.keys.Key(a.Series)
	w.who.Field = ""
	if int(a.Field) < len(w.fields) {
		w.who.Field = w.fields[a.Field]
	}
	w.id = AppendID(w.id[:0], &w.who, a.Start)
	w.value = AppendJSON(w.value[:0], a, w.id, &w.who, w.opts.Columns)
	w.fb.appendRecord(stringBytes(w.who.Series), w.value, w.id, uint64(a.Revision), nowMs)
	if w.fb.n >= w.opts.MaxRecords || w.fb.size() >= w.opts.MaxBytes {
		return w.Flush(ctx)
	}
	return nil
}

// Pending returns the number of aggregates not yet published.
func (w *Writer) Pending() int { return w.fb.n }

// Flush publishes the current frame, retrying with backoff until JetStream
// acknowledges it or ctx ends. A retry carries the same message id, so it
// is stored once even if an earlier attempt was stored but its ack lost.
func (w *Writer) Flush(ctx context.Context) error {
	if w.fb.n == 0 {
		return nil
	}
	w.out = w.fb.appendTo(w.out[:0])
	id := FrameID(w.out)
	backoff := w.opts.RetryMin
	for attempt := 0; ; attempt++ {
		err := w.buf.Publish(ctx, w.subj, w.out, id)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			w.stats.LostOnShutdown.Add(uint64(w.fb.n))
			w.log.Error("aggregates not stored: writer cancelled", "aggregates", w.fb.n, "err", err)
			w.fb.reset(w.opts.Topic, w.headers)
			return ctx.Err()
		}
		w.stats.Retries.Add(1)
		if errors.Is(err, ErrBufferFull) {
			w.stats.PushBackWaits.Add(1)
		}
		if attempt == 0 {
			w.log.Warn("buffer publish failed, retrying", "err", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		backoff = min(backoff*2, w.opts.RetryMax)
	}
	w.stats.Frames.Add(1)
	w.stats.Aggregates.Add(uint64(w.fb.n))
	w.fb.reset(w.opts.Topic, w.headers)
	return nil
}

// stringBytes returns s's bytes without copying; the result must not be
// modified. appendRecord copies it.
func stringBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafeStringBytes(s)
}
