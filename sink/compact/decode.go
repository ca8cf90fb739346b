package compact

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/sink/internal/aggenc"
)

// Decoding limits: a record value is outside bytes.
const (
	// MaxBodyBytes bounds a block's decompressed body (a block of 512
	// aggregates is about 10 KiB).
	MaxBodyBytes = 8 << 20
	// MaxAggregates bounds the aggregates of one block, so a small
	// compressed value cannot make Decode allocate more than about 16 MiB.
	MaxAggregates = 1 << 16
)

// minAggBytes is the least an aggregate takes after the name tables: one
// byte in each of kind, flags, revision, late, start, length and count.
const minAggBytes = 7

// Decoding errors. Every error Decode returns wraps one of them.
var (
	// ErrCorrupt reports a value that is not a well-formed block.
	ErrCorrupt = errors.New("compact: corrupt block")
	// ErrUnsupported reports a value from a newer format (magic or codec).
	ErrUnsupported = errors.New("compact: unsupported block")
)

// Block is a decoded block. Reuse one across Decode calls to save
// allocations; Decode overwrites it entirely.
type Block struct {
	Gateway, Pipeline string
	// Window is the window definition the ids hash ("" in an EPC1 block:
	// the ids of that version, which did not hash it).
	Window  string
	Columns aggenc.Columns
	// Series and Fields are the block's name tables; SeriesIdx[i] and
	// FieldIdx[i] index them for Aggs[i].
	Series, Fields      []string
	SeriesIdx, FieldIdx []uint32
	// Aggs holds the aggregates; fields the block does not carry (see
	// the package doc) are zero.
	Aggs []record.Aggregate

	raw  []byte
	vals []float64
}

// Identity returns the names of aggregate i.
func (b *Block) Identity(i int) aggenc.Identity {
	return aggenc.Identity{Gateway: b.Gateway, Pipeline: b.Pipeline,
		Series: b.Series[b.SeriesIdx[i]], Field: b.Fields[b.FieldIdx[i]], Window: b.Window}
}

// Decode decodes a record value into b. It never panics: bad input yields
// an error wrapping ErrCorrupt or ErrUnsupported that says what was wrong.
func Decode(value []byte, b *Block) error {
	var v1 bool
	switch {
	case len(value) >= len(Magic) && string(value[:len(Magic)]) == Magic:
	case len(value) >= len(MagicV1) && string(value[:len(MagicV1)]) == MagicV1:
		v1 = true
	case len(value) >= 4 && string(value[:3]) == Magic[:3]:
		return fmt.Errorf("%w: magic %q (this decoder reads %q and %q)", ErrUnsupported, value[:4], MagicV1, Magic)
	default:
		return fmt.Errorf("%w: no %q magic", ErrCorrupt, Magic)
	}
	d := reader{p: value[len(Magic):]}
	codec := Codec(d.byte("codec"))
	rawLen := d.uvarint("body length")
	if d.err != nil {
		return d.err
	}
	if rawLen > MaxBodyBytes {
		return fmt.Errorf("%w: body length %d exceeds %d", ErrCorrupt, rawLen, MaxBodyBytes)
	}
	body, err := b.decompress(codec, d.p, int(rawLen))
	if err != nil {
		return err
	}
	return b.decodeBody(body, v1)
}

func (b *Block) decompress(codec Codec, payload []byte, rawLen int) ([]byte, error) {
	switch codec {
	case CodecNone:
		if len(payload) != rawLen {
			return nil, fmt.Errorf("%w: body is %d bytes, header says %d", ErrCorrupt, len(payload), rawLen)
		}
		return payload, nil
	case CodecZstd:
		raw, err := zstdDecoder().DecodeAll(payload, b.raw[:0])
		if err != nil {
			return nil, fmt.Errorf("%w: zstd: %w", ErrCorrupt, err)
		}
		b.raw = raw
	case CodecS2:
		n, err := s2.DecodedLen(payload)
		if err != nil {
			return nil, fmt.Errorf("%w: s2: %w", ErrCorrupt, err)
		}
		if n != rawLen {
			return nil, fmt.Errorf("%w: s2 body is %d bytes, header says %d", ErrCorrupt, n, rawLen)
		}
		if cap(b.raw) < n {
			b.raw = make([]byte, n)
		}
		raw, err := s2.Decode(b.raw[:n], payload)
		if err != nil {
			return nil, fmt.Errorf("%w: s2: %w", ErrCorrupt, err)
		}
		b.raw = raw
	default:
		return nil, fmt.Errorf("%w: codec %d", ErrUnsupported, codec)
	}
	if len(b.raw) != rawLen {
		return nil, fmt.Errorf("%w: body is %d bytes, header says %d", ErrCorrupt, len(b.raw), rawLen)
	}
	return b.raw, nil
}

func (b *Block) decodeBody(body []byte, v1 bool) error {
	d := reader{p: body}
	b.Gateway = d.reuse(b.Gateway, "gateway")
	b.Pipeline = d.reuse(b.Pipeline, "pipeline")
	if v1 {
		b.Window = ""
	} else {
		b.Window = d.reuse(b.Window, "window")
	}
	b.Columns = aggenc.Columns(d.uvarint("columns"))
	n := d.count("aggregate count", MaxAggregates)
	b.Series = d.strs(b.Series[:0], "series")
	b.Fields = d.strs(b.Fields[:0], "field")
	if d.err != nil {
		return d.err
	}
	if n > 0 && (len(b.Series) == 0 || len(b.Fields) == 0) {
		return fmt.Errorf("%w: %d aggregates but %d series and %d fields", ErrCorrupt, n, len(b.Series), len(b.Fields))
	}
	b.SeriesIdx = d.indexes(b.SeriesIdx[:0], n, len(b.Series), "series index")
	b.FieldIdx = d.indexes(b.FieldIdx[:0], n, len(b.Fields), "field index")
	if d.err != nil {
		return d.err
	}
	// Each aggregate takes at least minAggBytes in the fixed columns:
	// refuse a count the body cannot hold before allocating for it.
	if n > len(d.p)/minAggBytes {
		return fmt.Errorf("%w: %d aggregates cannot fit in %d bytes", ErrCorrupt, n, len(d.p))
	}
	b.Aggs = growAggs(b.Aggs, n)
	aggs := b.Aggs
	for i := range aggs {
		aggs[i].Kind = record.WindowKind(d.byte("kind"))
		if d.err == nil && !aggs[i].Kind.Valid() {
			d.fail("aggregate %d: window kind %d", i, aggs[i].Kind)
		}
	}
	for i := range aggs {
		aggs[i].Flags = d.byte("flags")
	}
	for i := range aggs {
		aggs[i].Revision = d.uint32("revision")
	}
	for i := range aggs {
		aggs[i].Late = d.uint32("late")
	}
	var prev int64
	for i := range aggs {
		prev += d.varint("start")
		aggs[i].Start = prev
	}
	prev = 0
	for i := range aggs {
		prev += d.varint("length")
		aggs[i].End = aggs[i].Start + prev
	}
	for i := range aggs {
		aggs[i].Count = d.uvarint("count")
		aggs[i].Series = b.SeriesIdx[i]
		aggs[i].Field = uint16(b.FieldIdx[i])
	}
	cols := b.Columns
	if cols&(aggenc.ColSum|aggenc.ColMean) != 0 {
		b.floatCol(&d, "sum", func(a *record.Aggregate, v float64) { a.Sum = v })
	}
	if cols&aggenc.ColMin != 0 {
		b.floatCol(&d, "min", func(a *record.Aggregate, v float64) { a.Min = v })
	}
	if cols&aggenc.ColMax != 0 {
		b.floatCol(&d, "max", func(a *record.Aggregate, v float64) { a.Max = v })
	}
	if cols&aggenc.ColFirst != 0 {
		b.floatCol(&d, "first", func(a *record.Aggregate, v float64) { a.First = v })
		for i := range aggs {
			aggs[i].FirstTime = aggs[i].Start + d.varint("first_ts")
		}
	}
	if cols&aggenc.ColLast != 0 {
		b.floatCol(&d, "last", func(a *record.Aggregate, v float64) { a.Last = v })
		for i := range aggs {
			aggs[i].LastTime = aggs[i].Start + d.varint("last_ts")
		}
	}
	if cols&(aggenc.ColVariance|aggenc.ColStddev) != 0 {
		b.floatCol(&d, "m2", func(a *record.Aggregate, v float64) { a.M2 = v })
	}
	if cols&aggenc.ColRate != 0 {
		b.floatCol(&d, "rate", func(a *record.Aggregate, v float64) { a.Rate = v })
		b.floatCol(&d, "increase", func(a *record.Aggregate, v float64) { a.Increase = v })
	}
	if cols&aggenc.ColQuantiles != 0 {
		total := 0
		for i := range aggs {
			aggs[i].NQ = d.byte("quantile count")
			if d.err == nil && aggs[i].NQ > record.MaxQuantiles {
				d.fail("aggregate %d: %d quantiles (at most %d)", i, aggs[i].NQ, record.MaxQuantiles)
			}
			total += int(aggs[i].NQ)
		}
		if d.err == nil && total > len(d.p) {
			d.fail("%d quantile values but %d bytes left", total, len(d.p))
		}
		b.vals = d.floats(b.vals[:0], total, "quantile")
		if d.err == nil {
			j := 0
			for i := range aggs {
				j += copy(aggs[i].Q[:aggs[i].NQ], b.vals[j:])
			}
		}
		b.vals = d.floats(b.vals[:0], total, "quantile value")
		if d.err == nil {
			j := 0
			for i := range aggs {
				j += copy(aggs[i].QV[:aggs[i].NQ], b.vals[j:])
			}
		}
	}
	if d.err != nil {
		return d.err
	}
	if len(d.p) != 0 {
		return fmt.Errorf("%w: %d trailing bytes after %d aggregates", ErrCorrupt, len(d.p), n)
	}
	return nil
}

func (b *Block) floatCol(d *reader, what string, set func(a *record.Aggregate, v float64)) {
	b.vals = d.floats(b.vals[:0], len(b.Aggs), what)
	if d.err != nil {
		return
	}
	for i := range b.Aggs {
		set(&b.Aggs[i], b.vals[i])
	}
}

func growAggs(a []record.Aggregate, n int) []record.Aggregate {
	if cap(a) < n {
		return make([]record.Aggregate, n)
	}
	a = a[:n]
	clear(a)
	return a
}

// reader reads a body; the first error sticks and later reads return zero.
type reader struct {
	p   []byte
	err error
}

func (d *reader) byte(what string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.p) == 0 {
		d.fail("%s: unexpected end", what)
		return 0
	}
	c := d.p[0]
	d.p = d.p[1:]
	return c
}

func (d *reader) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.p)
	if n <= 0 {
		d.fail("%s: bad uvarint", what)
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *reader) uint32(what string) uint32 {
	v := d.uvarint(what)
	if v > 1<<32-1 {
		d.fail("%s: %d overflows 32 bits", what, v)
		return 0
	}
	return uint32(v)
}

func (d *reader) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.p)
	if n <= 0 {
		d.fail("%s: bad varint", what)
		return 0
	}
	d.p = d.p[n:]
	return v
}

// count reads a count bounded by max and by the bytes left (every counted
// item takes at least one byte).
func (d *reader) count(what string, max int) int {
	v := d.uvarint(what)
	if d.err == nil && (v > uint64(max) || v > uint64(len(d.p))) {
		d.fail("%s %d exceeds the limit (%d) or the %d bytes left", what, v, max, len(d.p))
		return 0
	}
	return int(v)
}

// reuse reads a string, returning old instead of a copy when equal.
func (d *reader) reuse(old, what string) string {
	if s := d.strBytes(what); old != string(s) {
		return string(s)
	}
	return old
}

func (d *reader) strBytes(what string) []byte {
	n := d.uvarint(what)
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.p)) {
		d.fail("%s: length %d past end (%d bytes left)", what, n, len(d.p))
		return nil
	}
	s := d.p[:n]
	d.p = d.p[n:]
	if !utf8.Valid(s) {
		d.fail("%s: invalid UTF-8 %q", what, s)
		return nil
	}
	return s
}

// strs reads a name table into dst[:0], reusing the strings dst held
// before when they are equal: decoding a stream of blocks of the same
// series allocates no strings.
func (d *reader) strs(dst []string, what string) []string {
	n := d.count(what, MaxAggregates)
	for i := 0; i < n && d.err == nil; i++ {
		s := d.strBytes(what)
		if len(dst) < cap(dst) {
			if old := dst[:len(dst)+1][len(dst)]; old == string(s) {
				dst = append(dst, old)
				continue
			}
		}
		dst = append(dst, string(s))
	}
	return dst
}

func (d *reader) indexes(dst []uint32, n, limit int, what string) []uint32 {
	for i := 0; i < n && d.err == nil; i++ {
		v := d.uvarint(what)
		if d.err == nil && v >= uint64(limit) {
			d.fail("aggregate %d: %s %d out of range (%d entries)", i, what, v, limit)
		}
		dst = append(dst, uint32(v))
	}
	return dst
}

var (
	zdecOnce sync.Once
	zdec     *zstd.Decoder
)

// zstdDecoder is shared: DecodeAll is safe for concurrent use. Its memory
// limit makes a decompression bomb fail instead of allocating.
func zstdDecoder() *zstd.Decoder {
	zdecOnce.Do(func() {
		var err error
		zdec, err = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(2),
			zstd.WithDecoderMaxMemory(MaxBodyBytes),
			zstd.WithDecoderMaxWindow(MaxBodyBytes))
		if err != nil {
			panic("compact: zstd decoder: " + err.Error()) // options are constant
		}
	})
	return zdec
}
