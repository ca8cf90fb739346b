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
// (gateway, pipeline, series, field), '-', the start in Unix ms.
func AppendID(dst []byte, who *Identity, start int64) []byte {
	return aggenc.AppendID(dst, who, start)
}

// AppendJSON appends the flat JSON value of a to dst: one object, keys in a
// fixed order, numbers in shortest form, non-finite floats as null. Readers
// such as ksqlDB, RisingWave (FORMAT PLAIN ENCODE JSON) and Flink's JSON
// format take it as is.
func AppendJSON(dst []byte, a *record.Aggregate, id []byte, who *Identity, cols Columns) []byte {
	return aggenc.AppendJSON(dst, a, id, who, cols)
}
