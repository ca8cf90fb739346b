package sink

import (
	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/sink/internal/aggenc"
)

// The JSON value layout and the aggregate id live in sink/internal/aggenc
// so that package compact can render decoded aggregates exactly as the json
// format sends them. These are their public names.

// SchemaVersion is the version of the value layouts (JSON and compact),
// sent in the "schema" header and JSON field. Bump it on any incompatible
// change.
const SchemaVersion = aggenc.SchemaVersion

// Columns selects which aggregate values an output carries beyond the
// always-present identity fields and count. The wiring derives them from
// the pipeline's aggregate list.
type Columns = aggenc.Columns

// Column bits.
const (
	ColSum       = aggenc.ColSum
	ColMin       = aggenc.ColMin
	ColMax       = aggenc.ColMax
	ColMean      = aggenc.ColMean
	ColFirst     = aggenc.ColFirst
	ColLast      = aggenc.ColLast
	ColVariance  = aggenc.ColVariance
	ColStddev    = aggenc.ColStddev
	ColRate      = aggenc.ColRate
	ColQuantiles = aggenc.ColQuantiles
)

// Identity names an aggregate: the strings that, with the window start,
// make its deterministic id.
type Identity = aggenc.Identity

// AppendID appends the deterministic id of the window that starts at start
// of the series who names: 16 hex digits of a 64-bit FNV-1a hash of
// (gateway, pipeline, series, field, window definition), '-', the start in
// Unix ms. An empty who.Window leaves the definition out of the hash.
func AppendID(dst []byte, who *Identity, start int64) []byte {
	return aggenc.AppendID(dst, who, start)
}

// AppendJSON appends the flat JSON value of a to dst: one object, keys in a
// fixed order, numbers in shortest form, non-finite floats as null. Readers
// such as ksqlDB, RisingWave (FORMAT PLAIN ENCODE JSON) and Flink's JSON
// format take it as is. A retraction (record.AggRetracted) carries the
// identity, bounds, revision and "retracted": true, and no measurement.
func AppendJSON(dst []byte, a *record.Aggregate, id []byte, who *Identity, cols Columns) []byte {
	return aggenc.AppendJSON(dst, a, id, who, cols)
}

// JSONRecord is the Kafka record of one aggregate in the json format:
// the one place that says what its key and value are. Encode fills it,
// reusing its buffers; it does not allocate in steady state.
type JSONRecord struct {
	// ID is the aggregate id (for a retraction, the retracted id), sent
	// in the "id" header.
	ID []byte
	// Key is the Kafka key: the series key (KeySeries) or ID (KeyID). It
	// aliases the Identity's series or ID.
	Key []byte
	// Value is the JSON value (AppendJSON), or nil for a tombstone.
	Value []byte
	// Tombstone is set for a retraction keyed by id: Kafka's null value.
	Tombstone bool

	value []byte
}

// Encode makes r the record of a, named by who, with the columns cols and
// keyed by key.
func (r *JSONRecord) Encode(a *record.Aggregate, who *Identity, cols Columns, key RecordKey) {
	r.ID = AppendID(r.ID[:0], who, a.Start)
	r.Key = stringBytes(who.Series)
	if key == KeyID {
		r.Key = r.ID
	}
	r.Tombstone = key == KeyID && a.Flags&record.AggRetracted != 0
	if r.Tombstone {
		r.Value = nil
		return
	}
	r.value = AppendJSON(r.value[:0], a, r.ID, who, cols)
	r.Value = r.value
}
