// Package compact is edgeplane's columnar binary format for aggregates: many
// aggregates per Kafka record, compressed: about 12 bytes per aggregate on
// the uplink for a typical air-quality pipeline (count, sum, min, max,
// mean), against about 51 for flat JSON records in zstd-compressed Kafka
// batches and 400 uncompressed (sink's BenchmarkUplinkBytes). It owns the encoder
// (used by package sink, append-style, no allocation per aggregate in steady
// state), the decoder (safe on any input: it returns ErrCorrupt or
// ErrUnsupported, never panics) and WriteJSONLines, which turns a record
// value back into the JSON lines the json format would have sent.
//
// # Record value
//
//	value  = magic "EPC2" | codec byte | rawLen uvarint | payload
//	codec  = 0 none (payload is the body) | 1 zstd frame | 2 s2 block
//	rawLen = length of the body once decompressed (at most MaxBodyBytes)
//
// # Body
//
//	body    = gateway str | pipeline str | window str | columns uvarint | n uvarint
//	          | nSeries uvarint | str*nSeries | nFields uvarint | str*nFields
//	          | column*
//	str     = length uvarint | UTF-8 bytes
//
// columns is the sink.Columns bit set the block was encoded with; it says
// which optional columns follow and which keys the JSON rendering carries.
// Every column holds n entries, one per aggregate, in this order:
//
//	series    uvarint index into the series table
//	field     uvarint index into the field table
//	kind      byte (0 tumbling, 1 hopping, 2 session)
//	flags     byte (bit 0: final, bit 1: retracted)
//	revision  uvarint
//	late      uvarint
//	start     varint, delta from the previous aggregate's start (first: from 0)
//	length    varint, end−start, delta from the previous aggregate's length
//	count     uvarint
//	sum       floats   if sum or mean is selected
//	min, max  floats   each if selected
//	first     floats, then first_ts as varint (first_ts − start)   if first
//	last      floats, then last_ts as varint (last_ts − start)     if last
//	m2        floats   if variance or stddev (variance = m2/count)
//	rate, increase floats                                          if rate
//	quantiles nq byte per aggregate, then q floats and qv floats of all
//	          aggregates' quantiles concatenated (Σnq values each)  if quantiles
//
// A float column starts with its encoding byte, chosen per column and
// block, whichever is smallest:
//
//	0 raw      8 bytes per value, IEEE 754 little endian
//	1 xor      per value: x = bits XOR previous bits (first: XOR 0); a
//	           control byte lead<<4 | trail, where lead and trail count the
//	           all-zero leading and trailing bytes of x (x = 0: 0x80 and
//	           nothing else), then the 8−lead−trail middle bytes of x, most
//	           significant first
//	2 decimal  a scale byte k (0..6), then per value a varint of
//	           round(v·10^k) minus the previous one; v = int/10^k exactly
//	           (used only when that reproduces every value bit for bit)
//
// window is the pipeline's window definition (operators.Config.Spec), which
// aggregate ids hash. A retraction (WINDOWS.md section D: a session's old
// id, moved by a merge or a late event) is an entry with the retracted
// flag, the old id's start, last end and revision + 1, and zero count and
// values; WriteJSONLines prints it as the json format's retraction,
// {"id":…,…,"revision":N,"retracted":true,"schema":1}.
//
// The id of each aggregate is not stored: it is recomputed from gateway,
// pipeline, series, field, window and start, as the json format computes
// it. Version changes get a new magic. The decoder still reads "EPC1"
// values: the same layout without the window string, whose ids did not
// hash the window definition (they decode to the ids they were sent with)
// and whose flags never had the retracted bit.
package compact
