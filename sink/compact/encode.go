package compact

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/edgeplane/edgeplane/record"
	"github.com/edgeplane/edgeplane/sink/internal/aggenc"
)

// Magic starts every compact record value this encoder writes. The
// decoder also reads MagicV1 values, whose body has no window string.
const (
	Magic   = "EPC2"
	MagicV1 = "EPC1"
)

// Codec is the compression of a block's body.
type Codec uint8

// Codecs.
const (
	CodecNone Codec = 0
	CodecZstd Codec = 1 // zstd, fastest level (≈ level 1)
	CodecS2   Codec = 2 // s2 block format, faster and larger than zstd
)

// ParseCodec parses "zstd" (also ""), "s2" or "none".
func ParseCodec(s string) (Codec, error) {
	switch s {
	case "", "zstd":
		return CodecZstd, nil
	case "s2":
		return CodecS2, nil
	case "none":
		return CodecNone, nil
	}
	return 0, fmt.Errorf("compact: unknown codec %q (want zstd, s2 or none)", s)
}

func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecZstd:
		return "zstd"
	case CodecS2:
		return "s2"
	}
	return fmt.Sprintf("codec(%d)", uint8(c))
}

// Options configure an Encoder.
type Options struct {
	Gateway, Pipeline string
	// Window is the pipeline's window definition (operators.Config.Spec),
	// part of every aggregate id; the block carries it so the decoder
	// computes the same ids.
	Window string
	// Columns selects the optional columns, as for the json format.
	Columns aggenc.Columns
	// Codec compresses the body. Default (zero value) CodecNone; sink
	// uses CodecZstd unless configured otherwise.
	Codec Codec
}

// Encoder collects aggregates into one block. It is not safe for
// concurrent use; reuse it across blocks so that Add does not allocate.
type Encoder struct {
	o      Options
	aggs   []record.Aggregate
	sIdx   []uint32
	fIdx   []uint32
	series map[string]uint32
	sNames []string
	fields map[string]uint32
	fNames []string

	body []byte
	vals []float64
}

// NewEncoder returns an empty encoder.
func NewEncoder(o Options) *Encoder {
	return &Encoder{o: o, series: make(map[string]uint32), fields: make(map[string]uint32)}
}

// Len returns the number of aggregates in the block under construction.
func (e *Encoder) Len() int { return len(e.aggs) }

// Add appends a to the block. series and field name it; the encoder keeps
// the strings (not copies) until the block is appended or reset.
func (e *Encoder) Add(a *record.Aggregate, series, field string) {
	si, ok := e.series[series]
	if !ok {
		si = uint32(len(e.sNames))
		e.series[series] = si
		e.sNames = append(e.sNames, series)
	}
	fi, ok := e.fields[field]
	if !ok {
		fi = uint32(len(e.fNames))
		e.fields[field] = fi
		e.fNames = append(e.fNames, field)
	}
	e.aggs = append(e.aggs, *a)
	e.sIdx = append(e.sIdx, si)
	e.fIdx = append(e.fIdx, fi)
}

// Reset empties the block, keeping its memory.
func (e *Encoder) Reset() {
	e.aggs, e.sIdx, e.fIdx = e.aggs[:0], e.sIdx[:0], e.fIdx[:0]
	clear(e.series)
	clear(e.fields)
	clear(e.sNames) // drop references to the strings
	clear(e.fNames)
	e.sNames, e.fNames = e.sNames[:0], e.fNames[:0]
}

// AppendBody appends the uncompressed body of the block to dst.
func (e *Encoder) AppendBody(dst []byte) []byte {
	cols := e.o.Columns
	n := len(e.aggs)
	dst = appendStr(dst, e.o.Gateway)
	dst = appendStr(dst, e.o.Pipeline)
	dst = appendStr(dst, e.o.Window)
	dst = binary.AppendUvarint(dst, uint64(cols))
	dst = binary.AppendUvarint(dst, uint64(n))
	dst = binary.AppendUvarint(dst, uint64(len(e.sNames)))
	for _, s := range e.sNames {
		dst = appendStr(dst, s)
	}
	dst = binary.AppendUvarint(dst, uint64(len(e.fNames)))
	for _, s := range e.fNames {
		dst = appendStr(dst, s)
	}
	for _, v := range e.sIdx {
		dst = binary.AppendUvarint(dst, uint64(v))
	}
	for _, v := range e.fIdx {
		dst = binary.AppendUvarint(dst, uint64(v))
	}
	for i := range e.aggs {
		dst = append(dst, byte(e.aggs[i].Kind))
	}
	for i := range e.aggs {
		dst = append(dst, e.aggs[i].Flags)
	}
	for i := range e.aggs {
		dst = binary.AppendUvarint(dst, uint64(e.aggs[i].Revision))
	}
	for i := range e.aggs {
		dst = binary.AppendUvarint(dst, uint64(e.aggs[i].Late))
	}
	var prev int64
	for i := range e.aggs {
		dst = binary.AppendVarint(dst, e.aggs[i].Start-prev)
		prev = e.aggs[i].Start
	}
	prev = 0
	for i := range e.aggs {
		l := e.aggs[i].End - e.aggs[i].Start
		dst = binary.AppendVarint(dst, l-prev)
		prev = l
	}
	for i := range e.aggs {
		dst = binary.AppendUvarint(dst, e.aggs[i].Count)
	}
	if cols&(aggenc.ColSum|aggenc.ColMean) != 0 {
		dst = e.floatCol(dst, func(a *record.Aggregate) float64 { return a.Sum })
	}
	if cols&aggenc.ColMin != 0 {
		dst = e.floatCol(dst, func(a *record.Aggregate) float64 { return a.Min })
	}
	if cols&aggenc.ColMax != 0 {
		dst = e.floatCol(dst, func(a *record.Aggregate) float64 { return a.Max })
	}
	if cols&aggenc.ColFirst != 0 {
		dst = e.floatCol(dst, func(a *record.Aggregate) float64 { return a.First })
		for i := range e.aggs {
			dst = binary.AppendVarint(dst, e.aggs[i].FirstTime-e.aggs[i].Start)
		}
	}
	if cols&aggenc.ColLast != 0 {
		dst = e.floatCol(dst, func(a *record.Aggregate) float64 { return a.Last })
		for i := range e.aggs {
			dst = binary.AppendVarint(dst, e.aggs[i].LastTime-e.aggs[i].Start)
		}
	}
	if cols&(aggenc.ColVariance|aggenc.ColStddev) != 0 {
		dst = e.floatCol(dst, func(a *record.Aggregate) float64 { return a.M2 })
	}
	if cols&aggenc.ColRate != 0 {
		dst = e.floatCol(dst, func(a *record.Aggregate) float64 { return a.Rate })
		dst = e.floatCol(dst, func(a *record.Aggregate) float64 { return a.Increase })
	}
	if cols&aggenc.ColQuantiles != 0 {
		for i := range e.aggs {
			dst = append(dst, min(e.aggs[i].NQ, record.MaxQuantiles))
		}
		e.vals = e.vals[:0]
		for i := range e.aggs {
			a := &e.aggs[i]
			e.vals = append(e.vals, a.Q[:min(a.NQ, record.MaxQuantiles)]...)
		}
		dst = appendFloats(dst, e.vals)
		e.vals = e.vals[:0]
		for i := range e.aggs {
			a := &e.aggs[i]
			e.vals = append(e.vals, a.QV[:min(a.NQ, record.MaxQuantiles)]...)
		}
		dst = appendFloats(dst, e.vals)
	}
	return dst
}

// floatCol gathers one float column into e.vals and appends it. get is
// called inline per aggregate; it must not retain a.
func (e *Encoder) floatCol(dst []byte, get func(a *record.Aggregate) float64) []byte {
	e.vals = e.vals[:0]
	for i := range e.aggs {
		e.vals = append(e.vals, get(&e.aggs[i]))
	}
	return appendFloats(dst, e.vals)
}

// AppendBlock appends the record value of the block (magic, codec, body
// compressed with the configured codec) to dst and resets the encoder.
// An empty block is valid and decodes to no aggregates.
func (e *Encoder) AppendBlock(dst []byte) []byte {
	e.body = e.AppendBody(e.body[:0])
	dst = append(dst, Magic...)
	dst = append(dst, byte(e.o.Codec))
	dst = binary.AppendUvarint(dst, uint64(len(e.body)))
	switch e.o.Codec {
	case CodecZstd:
		dst = zstdEncoder().EncodeAll(e.body, dst)
	case CodecS2:
		dst = appendS2(dst, e.body)
	default:
		dst = append(dst, e.body...)
	}
	e.Reset()
	return dst
}

func appendS2(dst, src []byte) []byte {
	need := s2.MaxEncodedLen(len(src))
	if cap(dst)-len(dst) < need {
		dst = append(dst, make([]byte, need)...)[:len(dst)]
	}
	out := s2.Encode(dst[len(dst):len(dst)+need], src)
	return dst[:len(dst)+len(out)]
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

var (
	zencOnce sync.Once
	zenc     *zstd.Encoder
)

// zstdEncoder is shared: EncodeAll is safe for concurrent use.
func zstdEncoder() *zstd.Encoder {
	zencOnce.Do(func() {
		var err error
		zenc, err = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(2),
			zstd.WithZeroFrames(true),
			zstd.WithLowerEncoderMem(true))
		if err != nil {
			panic("compact: zstd encoder: " + err.Error()) // options are constant
		}
	})
	return zenc
}
