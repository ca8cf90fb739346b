package sink

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/sink/compact"
)

// DefaultFrameMaxBytes is WriterOptions.MaxBytes's default: the most a
// json frame holds before it is published.
const DefaultFrameMaxBytes = 256 << 10

// RecordFormat is how a pipeline's aggregates are laid out in Kafka
// records.
type RecordFormat uint8

const (
	// RecordJSON sends one record per aggregate: key = series key or
	// aggregate id (RecordKey), value = flat JSON (AppendJSON) or null
	// (a tombstone), headers id, revision, gateway, schema.
	RecordJSON RecordFormat = iota
	// RecordCompact sends one record per frame holding many aggregates
	// in package compact's columnar layout: key = gateway id, headers
	// id (of the block, "c-" + hash of the value), gateway, schema,
	// format=compact. compact.WriteJSONLines turns a value back into JSON.
	RecordCompact
)

var recordFormatNames = [...]string{"json", "compact"}

// ParseRecordFormat parses "json" or "compact".
func ParseRecordFormat(s string) (RecordFormat, error) {
	i, err := record.ParseEnum("output format", s, recordFormatNames[:])
	return RecordFormat(i), err
}

func (f RecordFormat) String() string {
	return record.EnumName(f, recordFormatNames[:], "RecordFormat")
}

// EnumValues lists the names ParseRecordFormat accepts.
func (RecordFormat) EnumValues() []string { return recordFormatNames[:] }

// MarshalText returns the format's name.
func (f RecordFormat) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText parses a format's name.
func (f *RecordFormat) UnmarshalText(b []byte) error {
	v, err := ParseRecordFormat(string(b))
	*f = v
	return err
}

// RecordKey is what keys a pipeline's Kafka records in the json format.
type RecordKey uint8

const (
	// KeySeries keys each record by its series key: one series' windows
	// stay in one partition, in order. A retraction is a record with
	// "retracted": true.
	KeySeries RecordKey = iota
	// KeyID keys each record by its aggregate id, for compacted topics
	// and upsert consumers (RisingWave's FORMAT UPSERT, a ksqlDB TABLE):
	// a retraction is a tombstone, the retracted id with a null value.
	KeyID
)

var recordKeyNames = [...]string{"series", "id"}

// ParseRecordKey parses "series" or "id".
func ParseRecordKey(s string) (RecordKey, error) {
	i, err := record.ParseEnum("record key", s, recordKeyNames[:])
	return RecordKey(i), err
}

func (k RecordKey) String() string {
	return record.EnumName(k, recordKeyNames[:], "RecordKey")
}

// EnumValues lists the names ParseRecordKey accepts.
func (RecordKey) EnumValues() []string { return recordKeyNames[:] }

// MarshalText returns the key's name.
func (k RecordKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText parses a key's name.
func (k *RecordKey) UnmarshalText(b []byte) error {
	v, err := ParseRecordKey(string(b))
	*k = v
	return err
}

// ParseCompactCompression parses the compression of compact blocks:
// "zstd" (also ""), "s2" or "none".
func ParseCompactCompression(s string) (compact.Codec, error) { return compact.ParseCodec(s) }

// WriterOptions configure a Writer.
type WriterOptions struct {
	Gateway  string
	Pipeline string
	// Topic is the Kafka topic the frames' records go to.
	Topic   string
	Columns Columns
	// Format of the Kafka records. Default RecordJSON.
	Format RecordFormat
	// Key is what keys the json format's records: KeySeries (default) or
	// KeyID (then a retraction is a null-value tombstone). Compact records
	// are keyed by gateway and take only KeySeries.
	Key RecordKey
	// WindowSpec is the pipeline's window definition
	// (operators.Config.Spec). It is hashed into every aggregate id, so a
	// changed definition never reuses an id for different content.
	WindowSpec string
	// Compression of compact blocks: "zstd" (default, fastest level),
	// "s2" or "none". Ignored for RecordJSON, whose records the Kafka
	// client compresses per batch. An unknown value is logged and zstd used;
	// validate it first with ParseCompactCompression.
	Compression string
	// MaxRecords bounds the aggregates of a frame (in either format: for
	// compact it is the aggregates per block) and MaxBytes the size of a
	// json frame. Defaults 512 and 256 KiB.
	MaxRecords int
	MaxBytes   int // default DefaultFrameMaxBytes
	// RetryMin and RetryMax bound the backoff between publish retries.
	// Defaults 50 ms and 2 s.
	RetryMin, RetryMax time.Duration
	Logger             *slog.Logger
}

// Writer batches the aggregates of one shard into frames and publishes
// them to the Buffer. It is not safe for concurrent use: each operator
// shard owns one.
type Writer struct {
	opts   WriterOptions
	keys   *record.SeriesTable
	fields []string
	pub    publisher

	fb      frameBuilder
	headers []FrameHeader
	out     []byte     // assembled frame
	value   []byte     // scratch for one compact block
	id      []byte     // scratch for one block id
	rec     JSONRecord // scratch for one json record
	who     Identity

	enc      *compact.Encoder // RecordCompact only
	firstNow int64            // emission time of the block's first aggregate
}

// NewWriter returns a writer for one shard. keys resolves series ids and
// fields maps field ids to names; stats may be shared by the writers of a
// pipeline.
func NewWriter(b *Buffer, o WriterOptions, keys *record.SeriesTable, fields []string, stats *WriterStats) *Writer {
	if o.MaxRecords <= 0 {
		o.MaxRecords = 512
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultFrameMaxBytes
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
	log := o.Logger.With("pipeline", o.Pipeline)
	w := &Writer{
		opts:   o,
		keys:   keys,
		fields: fields,
		pub: publisher{buf: b, pipeline: o.Pipeline, kind: kindAgg, stats: stats, log: log,
			retryMin: o.RetryMin, retryMax: o.RetryMax},
		headers: []FrameHeader{
			{Key: []byte("gateway"), Value: []byte(o.Gateway)},
			{Key: []byte("schema"), Value: strconv.AppendInt(nil, SchemaVersion, 10)},
		},
		who: Identity{Gateway: o.Gateway, Pipeline: o.Pipeline, Window: o.WindowSpec},
	}
	// Only a pipeline keyed by id writes null values, so only its frames
	// need the EPF2 layout; the others stay readable by older versions.
	w.fb.flags = o.Key == KeyID && o.Format == RecordJSON
	if o.Format == RecordCompact {
		o.MaxRecords = min(o.MaxRecords, compact.MaxAggregates)
		w.opts.MaxRecords = o.MaxRecords
		codec, err := compact.ParseCodec(o.Compression)
		if err != nil {
			log.Error("using zstd for compact blocks", "err", err)
			codec = compact.CodecZstd
		}
		w.enc = compact.NewEncoder(compact.Options{Gateway: o.Gateway, Pipeline: o.Pipeline, Window: o.WindowSpec,
			Columns: o.Columns, Codec: codec})
		w.headers = append(w.headers, FrameHeader{Key: []byte("format"), Value: []byte("compact")})
	}
	w.fb.reset(o.Topic, w.headers)
	return w
}

// Add encodes a into the current frame and publishes the frame when it is
// full. nowMs is the emission time, the Kafka record's timestamp. It
// returns an error only when ctx ends before a full frame was stored; it
// does not allocate in steady state.
func (w *Writer) Add(ctx context.Context, a *record.Aggregate, nowMs int64) error {
	w.who.Series = w.keys.Key(a.Series)
	w.who.Field = ""
	if int(a.Field) < len(w.fields) {
		w.who.Field = w.fields[a.Field]
	}
	if w.enc != nil {
		if w.enc.Len() == 0 {
			w.firstNow = nowMs
		}
		w.enc.Add(a, w.who.Series, w.who.Field)
		if w.enc.Len() >= w.opts.MaxRecords {
			return w.Flush(ctx)
		}
		return nil
	}
	w.rec.Encode(a, &w.who, w.opts.Columns, w.opts.Key)
	w.fb.appendRecord(w.rec.Key, w.rec.Value, w.rec.ID, uint64(a.Revision), nowMs, w.rec.Tombstone)
	if w.fb.n >= w.opts.MaxRecords || w.fb.size() >= w.opts.MaxBytes {
		return w.Flush(ctx)
	}
	return nil
}

// Pending returns the number of aggregates not yet published.
func (w *Writer) Pending() int {
	if w.enc != nil {
		return w.enc.Len()
	}
	return w.fb.n
}

// Flush publishes the current frame, retrying with backoff until JetStream
// acknowledges it or ctx ends (then the frame's aggregates are counted in
// LostOnShutdown and dropped). A retry carries the same message id, so it
// is stored once even if an earlier attempt was stored but its ack lost.
func (w *Writer) Flush(ctx context.Context) error {
	n := w.Pending()
	if n == 0 {
		return nil
	}
	if w.enc != nil {
		w.value = w.enc.AppendBlock(w.value[:0])
		w.id = appendBlockID(w.id[:0], w.value)
		w.fb.reset(w.opts.Topic, w.headers)
		w.fb.appendRecord(stringBytes(w.opts.Gateway), w.value, w.id, 0, w.firstNow, false)
	}
	w.out = w.fb.appendTo(w.out[:0])
	err := w.pub.publish(ctx, w.out, n)
	w.fb.reset(w.opts.Topic, w.headers)
	return err
}

// appendBlockID appends the id of a compact block: "c-" and 16 hex digits
// of a 64-bit FNV-1a hash of its value, so a redelivered block carries the
// same id and equal content.
func appendBlockID(dst, value []byte) []byte {
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	for _, c := range value {
		h ^= uint64(c)
		h *= prime64
	}
	dst = append(dst, 'c', '-')
	for shift := 60; shift >= 0; shift -= 4 {
		dst = append(dst, "0123456789abcdef"[(h>>uint(shift))&0xf])
	}
	return dst
}

// stringBytes returns s's bytes without copying; the result must not be
// modified. appendRecord copies it.
func stringBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafeStringBytes(s)
}
