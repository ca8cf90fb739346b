package sink

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/sink/internal/aggenc"
)

// LateWriterOptions configure a LateWriter.
type LateWriterOptions struct {
	Gateway  string
	Pipeline string
	// Topic is the Kafka topic late events go to (the pipeline's
	// late_topic).
	Topic string
	// MaxRecords and MaxBytes bound a frame. Defaults 512 and 256 KiB.
	MaxRecords int
	MaxBytes   int
	// RetryMin and RetryMax bound the backoff between publish retries.
	// Defaults 50 ms and 2 s.
	RetryMin, RetryMax time.Duration
	Logger             *slog.Logger
}

// LateWriter sends late events — readings the operators refused because
// their window had closed — to the late topic, through the same Buffer
// and Forwarder as aggregates. Each event is one Kafka record: key = series
// key, value = flat JSON
//
//	{"id":…,"gateway":…,"pipeline":…,"series":…,"field":…,"ts":…,"value":…,"received":…,"schema":1}
//
// (ts = event time, received = when the shard saw it, both Unix ms), and
// headers id, gateway, schema, kind=late. The id is the window-id hash of
// (gateway, pipeline, series, field), '-', ts, '-', the sample's sequence
// number, so a redelivered event keeps its id.
//
// A LateWriter is not safe for concurrent use: the shard goroutine that
// owns the pipeline's Writer owns it too.
type LateWriter struct {
	opts   LateWriterOptions
	keys   *record.SeriesTable
	fields []string
	pub    publisher

	fb      frameBuilder
	headers []FrameHeader
	out     []byte
	value   []byte
	id      []byte
	who     Identity
}

// NewLateWriter returns a late-event writer for one shard; stats counts
// late events in its Aggregates field.
func NewLateWriter(b *Buffer, o LateWriterOptions, keys *record.SeriesTable, fields []string, stats *WriterStats) *LateWriter {
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
	w := &LateWriter{
		opts:   o,
		keys:   keys,
		fields: fields,
		pub: publisher{buf: b, pipeline: o.Pipeline, kind: kindLate, stats: stats,
			log: o.Logger.With("pipeline", o.Pipeline), retryMin: o.RetryMin, retryMax: o.RetryMax},
		headers: []FrameHeader{
			{Key: []byte("gateway"), Value: []byte(o.Gateway)},
			{Key: []byte("schema"), Value: strconv.AppendInt(nil, SchemaVersion, 10)},
			{Key: []byte("kind"), Value: []byte("late")},
		},
		who: Identity{Gateway: o.Gateway, Pipeline: o.Pipeline},
	}
	w.fb.reset(o.Topic, w.headers)
	return w
}

// Add encodes the late event s, seen at nowMs, into the current frame and
// publishes the frame when it is full. Watermark markers are ignored. It
// returns an error only when ctx ends before a full frame was stored; it
// does not allocate in steady state.
func (w *LateWriter) Add(ctx context.Context, s *record.Sample, nowMs int64) error {
	if s.Flags&record.FlagWatermark != 0 {
		return nil
	}
	w.who.Series = w.keys.Key(s.Series)
	w.who.Field = ""
	if int(s.Field) < len(w.fields) {
		w.who.Field = w.fields[s.Field]
	}
	w.id = AppendLateID(w.id[:0], &w.who, s)
	w.value = AppendLateJSON(w.value[:0], s, w.id, &w.who, nowMs)
	w.fb.appendRecord(stringBytes(w.who.Series), w.value, w.id, 0, nowMs, false)
	if w.fb.n >= w.opts.MaxRecords || w.fb.size() >= w.opts.MaxBytes {
		return w.Flush(ctx)
	}
	return nil
}

// AppendLateID appends the id of late event s: the id of the window of
// its series and field starting at its time, '-', its arrival sequence.
// A late event is a reading, not a window: who.Window is not hashed.
func AppendLateID(dst []byte, who *Identity, s *record.Sample) []byte {
	reading := *who
	reading.Window = ""
	dst = AppendID(dst, &reading, s.Time)
	dst = append(dst, '-')
	return strconv.AppendUint(dst, s.Seq, 10)
}

// AppendLateJSON appends the flat JSON value of late event s (see
// LateWriter) to dst.
func AppendLateJSON(dst []byte, s *record.Sample, id []byte, who *Identity, receivedMs int64) []byte {
	dst = append(dst, `{"id":"`...)
	dst = append(dst, id...)
	dst = append(dst, `","gateway":`...)
	dst = aggenc.AppendString(dst, who.Gateway)
	dst = append(dst, `,"pipeline":`...)
	dst = aggenc.AppendString(dst, who.Pipeline)
	dst = append(dst, `,"series":`...)
	dst = aggenc.AppendString(dst, who.Series)
	dst = append(dst, `,"field":`...)
	dst = aggenc.AppendString(dst, who.Field)
	dst = append(dst, `,"ts":`...)
	dst = strconv.AppendInt(dst, s.Time, 10)
	dst = append(dst, `,"value":`...)
	dst = aggenc.AppendFloat(dst, s.Value)
	dst = append(dst, `,"received":`...)
	dst = strconv.AppendInt(dst, receivedMs, 10)
	dst = append(dst, `,"schema":`...)
	dst = strconv.AppendInt(dst, SchemaVersion, 10)
	return append(dst, '}')
}

// Pending returns the number of late events not yet published.
func (w *LateWriter) Pending() int { return w.fb.n }

// Flush publishes the current frame (see Writer.Flush).
func (w *LateWriter) Flush(ctx context.Context) error {
	n := w.fb.n
	if n == 0 {
		return nil
	}
	w.out = w.fb.appendTo(w.out[:0])
	err := w.pub.publish(ctx, w.out, n)
	w.fb.reset(w.opts.Topic, w.headers)
	return err
}
