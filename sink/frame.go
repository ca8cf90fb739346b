package sink

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A frame is the body of one JetStream message: a batch of ready-to-send
// Kafka records that needs nothing else to be forwarded, so a backlog
// written before a restart (or by an older config) still drains correctly.
//
//	frame   = magic ("EPF1" | "EPF2") | topic | nCommon uvarint | header* | nRec uvarint | record*
//	header  = key | value
//	record  = [flags uvarint, EPF2 only] | key | value | id | revision uvarint | timestamp varint (Unix ms)
//	key, value, id, topic = length uvarint | bytes
//	flags   = bit 0: the value is Kafka's null (a tombstone; value is empty)
//
// The common headers (gateway id, schema version, …) are attached to every
// record of the frame; each record also gets the "id" and "revision"
// headers. EPF1 cannot tell a null value from an empty one, so a frame
// that may hold a tombstone (a json pipeline keyed by id) is written as
// EPF2; every other frame stays EPF1, which the versions before EPF2 read.
// Both decode. A flag bit this decoder does not know makes the frame bad.
const (
	frameMagic  = "EPF1"
	frameMagic2 = "EPF2"
)

const frameMagicN = len(frameMagic)

// Record flags of an EPF2 frame.
const (
	frameNull  = 1         // the value is null
	frameKnown = frameNull // every flag this decoder reads
)

// Frame decoding limits: a frame is outside bytes once it sits on disk.
const (
	maxFrameRecords = 1 << 20
	maxFrameHeaders = 64
)

// ErrBadFrame reports a frame that cannot be decoded.
var ErrBadFrame = errors.New("sink: bad frame")

// FrameRecord is one record of a decoded frame. Its byte slices alias the
// frame passed to DecodeFrame.
type FrameRecord struct {
	Key, Value, ID []byte
	Revision       uint64
	Timestamp      int64
	// Null says the value is Kafka's null (a tombstone); Value is then
	// nil, and only then (an empty value is not null).
	Null bool
}

// FrameHeader is a common header of a frame; it aliases the frame.
type FrameHeader struct{ Key, Value []byte }

// Frame is a decoded frame. Reuse one across calls to DecodeFrame to avoid
// allocations; its slices alias the input.
type Frame struct {
	Topic   []byte
	Headers []FrameHeader
	Records []FrameRecord
}

// frameBuilder appends records to a frame under construction.
type frameBuilder struct {
	buf  []byte
	n    int
	body int // offset of the first record
	// flags selects EPF2, whose records carry flags (null values); set it
	// before reset.
	flags bool
}

// reset starts a new frame for topic with the given common headers.
func (b *frameBuilder) reset(topic string, headers []FrameHeader) {
	magic := frameMagic
	if b.flags {
		magic = frameMagic2
	}
	b.buf = append(b.buf[:0], magic...)
	b.buf = appendBytes(b.buf, []byte(topic))
	b.buf = binary.AppendUvarint(b.buf, uint64(len(headers)))
	for _, h := range headers {
		b.buf = appendBytes(b.buf, h.Key)
		b.buf = appendBytes(b.buf, h.Value)
	}
	b.body = len(b.buf)
	b.n = 0
}

// appendRecord adds one record; key, value and id are copied. A null
// record (value ignored) needs an EPF2 builder.
func (b *frameBuilder) appendRecord(key, value, id []byte, revision uint64, ts int64, null bool) {
	if b.flags {
		var f uint64
		if null {
			f, value = frameNull, nil
		}
		b.buf = binary.AppendUvarint(b.buf, f)
	} else if null {
		panic("sink: a null record in an EPF1 frame")
	}
	b.buf = appendBytes(b.buf, key)
	b.buf = appendBytes(b.buf, value)
	b.buf = appendBytes(b.buf, id)
	b.buf = binary.AppendUvarint(b.buf, revision)
	b.buf = binary.AppendVarint(b.buf, ts)
	b.n++
}

// bytes returns the finished frame: the record count is written between
// the header and the records, so the frame is assembled into dst.
func (b *frameBuilder) appendTo(dst []byte) []byte {
	dst = append(dst, b.buf[:b.body]...)
	dst = binary.AppendUvarint(dst, uint64(b.n))
	return append(dst, b.buf[b.body:]...)
}

func (b *frameBuilder) size() int { return len(b.buf) }

func appendBytes(dst, p []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(p)))
	return append(dst, p...)
}

// minRecordBytes is the smallest encoded record: key, value and id
// lengths, revision and timestamp, one byte each.
const minRecordBytes = 5

// DecodeFrame decodes p into f, reusing f's slices. The result aliases p.
func DecodeFrame(p []byte, f *Frame) error {
	f.Topic, f.Headers, f.Records = nil, f.Headers[:0], f.Records[:0]
	if len(p) < frameMagicN {
		return fmt.Errorf("%w: no magic", ErrBadFrame)
	}
	var flagged bool
	switch string(p[:frameMagicN]) {
	case frameMagic:
	case frameMagic2:
		flagged = true
	default:
		return fmt.Errorf("%w: no magic", ErrBadFrame)
	}
	d := decoder{p: p[frameMagicN:]}
	f.Topic = d.bytes()
	nh := d.uvarint()
	if nh > maxFrameHeaders {
		return fmt.Errorf("%w: %d headers", ErrBadFrame, nh)
	}
	for i := uint64(0); i < nh && d.err == nil; i++ {
		f.Headers = append(f.Headers, FrameHeader{Key: d.bytes(), Value: d.bytes()})
	}
	nr := d.uvarint()
	// A record takes at least minRecordBytes, so a count the bytes cannot
	// hold is refused before it sizes f.Records.
	if nr > maxFrameRecords || nr > uint64(len(d.p)/minRecordBytes) {
		return fmt.Errorf("%w: %d records", ErrBadFrame, nr)
	}
	if uint64(cap(f.Records)) < nr {
		f.Records = make([]FrameRecord, 0, nr)
	}
	for i := uint64(0); i < nr && d.err == nil; i++ {
		var r FrameRecord
		if flagged {
			fl := d.uvarint()
			if d.err == nil && fl&^frameKnown != 0 {
				return fmt.Errorf("%w: record %d: unknown flags %#x", ErrBadFrame, i, fl)
			}
			r.Null = fl&frameNull != 0
		}
		r.Key, r.Value, r.ID = d.bytes(), d.bytes(), d.bytes()
		if r.Null {
			if len(r.Value) != 0 && d.err == nil {
				return fmt.Errorf("%w: record %d: null value of %d bytes", ErrBadFrame, i, len(r.Value))
			}
			r.Value = nil
		}
		r.Revision = d.uvarint()
		r.Timestamp = d.varint()
		f.Records = append(f.Records, r)
	}
	if d.err != nil {
		return d.err
	}
	if len(d.p) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrBadFrame, len(d.p))
	}
	return nil
}

type decoder struct {
	p   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.p)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad uvarint", ErrBadFrame)
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.p)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad varint", ErrBadFrame)
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.p)) {
		d.err = fmt.Errorf("%w: length %d past end", ErrBadFrame, n)
		return nil
	}
	b := d.p[:n:n]
	d.p = d.p[n:]
	return b
}
