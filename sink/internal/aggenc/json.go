package aggenc

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/edgeplane/edgeplane/record"
)

// SchemaVersion is the version of the JSON value layout, sent in the
// "schema" header and field. Bump it on any incompatible change.
const SchemaVersion = 1

// Columns selects which aggregate values the JSON value carries beyond the
// always-present identity fields and count. The wiring derives them from
// the pipeline's aggregate list.
type Columns uint32

// Column bits.
const (
	ColSum Columns = 1 << iota
	ColMin
	ColMax
	ColMean
	ColFirst
	ColLast
	ColVariance
	ColStddev
	ColRate
	ColQuantiles
)

// Identity names an aggregate: the strings that, with the window start,
// make its deterministic id.
type Identity struct {
	Gateway  string
	Pipeline string
	Series   string
	Field    string
	// Window is the pipeline's window definition (operators.Config.Spec);
	// it is part of the id only (see AppendID), not of the JSON value.
	Window string
}

// AppendJSON appends the flat JSON value of a to dst: one object, keys in a
// fixed order, numbers in shortest form, non-finite floats as null. Readers
// such as ksqlDB, RisingWave (FORMAT PLAIN ENCODE JSON) and Flink's JSON
// format take it as is.
//
// A retraction (a.Flags has record.AggRetracted; id is the retracted id)
// carries the identity, window bounds and revision, then "retracted": true
// and the schema, and no measurement:
//
//	{"id":…,"gateway":…,"pipeline":…,"series":…,"field":…,"window":"session",
//	 "start":…,"end":…,"revision":N,"retracted":true,"schema":1}
func AppendJSON(dst []byte, a *record.Aggregate, id []byte, who *Identity, cols Columns) []byte {
	dst = append(dst, `{"id":"`...)
	dst = append(dst, id...)
	dst = append(dst, `","gateway":`...)
	dst = appendString(dst, who.Gateway)
	dst = append(dst, `,"pipeline":`...)
	dst = appendString(dst, who.Pipeline)
	dst = append(dst, `,"series":`...)
	dst = appendString(dst, who.Series)
	dst = append(dst, `,"field":`...)
	dst = appendString(dst, who.Field)
	dst = append(dst, `,"window":"`...)
	if a.Kind.Valid() {
		dst = append(dst, a.Kind.String()...)
	}
	dst = append(dst, `","start":`...)
	dst = strconv.AppendInt(dst, a.Start, 10)
	dst = append(dst, `,"end":`...)
	dst = strconv.AppendInt(dst, a.End, 10)
	dst = append(dst, `,"revision":`...)
	dst = strconv.AppendUint(dst, uint64(a.Revision), 10)
	if a.Flags&record.AggRetracted != 0 {
		dst = append(dst, `,"retracted":true,"schema":`...)
		dst = strconv.AppendInt(dst, SchemaVersion, 10)
		return append(dst, '}')
	}
	dst = append(dst, `,"final":`...)
	dst = strconv.AppendBool(dst, a.Flags&record.AggFinal != 0)
	dst = append(dst, `,"late":`...)
	dst = strconv.AppendUint(dst, uint64(a.Late), 10)
	dst = append(dst, `,"count":`...)
	dst = strconv.AppendUint(dst, a.Count, 10)
	if cols&ColSum != 0 {
		dst = appendNum(dst, `,"sum":`, a.Sum)
	}
	if cols&ColMin != 0 {
		dst = appendNum(dst, `,"min":`, a.Min)
	}
	if cols&ColMax != 0 {
		dst = appendNum(dst, `,"max":`, a.Max)
	}
	if cols&ColMean != 0 {
		dst = appendNum(dst, `,"mean":`, a.Mean())
	}
	if cols&ColFirst != 0 {
		dst = appendNum(dst, `,"first":`, a.First)
		dst = append(dst, `,"first_ts":`...)
		dst = strconv.AppendInt(dst, a.FirstTime, 10)
	}
	if cols&ColLast != 0 {
		dst = appendNum(dst, `,"last":`, a.Last)
		dst = append(dst, `,"last_ts":`...)
		dst = strconv.AppendInt(dst, a.LastTime, 10)
	}
	if cols&ColVariance != 0 {
		dst = appendNum(dst, `,"variance":`, a.Variance())
	}
	if cols&ColStddev != 0 {
		dst = appendNum(dst, `,"stddev":`, math.Sqrt(a.Variance()))
	}
	if cols&ColRate != 0 {
		dst = appendNum(dst, `,"rate":`, a.Rate)
		dst = appendNum(dst, `,"increase":`, a.Increase)
	}
	if cols&ColQuantiles != 0 {
		for i := 0; i < int(a.NQ) && i < record.MaxQuantiles; i++ {
			dst = append(dst, `,"`...)
			dst = appendQuantileName(dst, a.Q[i])
			dst = append(dst, `":`...)
			dst = appendFloat(dst, a.QV[i])
		}
	}
	dst = append(dst, `,"schema":`...)
	dst = strconv.AppendInt(dst, SchemaVersion, 10)
	return append(dst, '}')
}

// appendQuantileName writes q as pNN: 0.5 → p50, 0.99 → p99, 0.999 → p999.
func appendQuantileName(dst []byte, q float64) []byte {
	dst = append(dst, 'p')
	// Scale until integral, at most 4 decimals of percent.
	v := q * 100
	for i := 0; i < 4 && v != math.Trunc(v); i++ {
		v *= 10
	}
	return strconv.AppendInt(dst, int64(math.Round(v)), 10)
}

func appendNum(dst []byte, key string, v float64) []byte {
	dst = append(dst, key...)
	return appendFloat(dst, v)
}

func appendFloat(dst []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(dst, "null"...)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}

// appendString appends s as a JSON string, escaping what JSON requires and
// replacing invalid UTF-8.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return append(dst, '"')
}

// AppendString appends s as a JSON string (see appendString).
func AppendString(dst []byte, s string) []byte { return appendString(dst, s) }

// AppendFloat appends v in shortest form, or null when v is not finite.
func AppendFloat(dst []byte, v float64) []byte { return appendFloat(dst, v) }
