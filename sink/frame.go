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
//	frame   = magic "EPF1" | topic | nCommon uvarint | header* | nRec uvarint | record*
//	header  = key | value
//	record  = key | value | id | revision uvarint | timestamp varint (Unix ms)
//	key, value, id, topic = length uvarint | bytes
//
// The common headers (gateway id, schema version, …) are attached to every
// record of the frame; each record also gets the "id" and "revision"
// headers.
const frameMagic = "EPF1"

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
}

// reset starts a new frame for topic with the given common headers.
func (b *frameBuilder) reset(topic string, headers []FrameHeader) {
	b.buf = append(b.buf[:0], frameMagic...)
	b.buf = appendBytes(b.buf, []byte(topic))
	b.buf = binary.AppendUvarint(b.buf, uint64(len(headers)))
	for _, h := range headers {
		b.buf = appendBytes(b.buf, h.Key)
		b.buf = appendBytes(b.buf, h.Value)
	}
	b.body = len(b.buf)
	b.n = 0
}

// appendRecord adds one record; key, value and id are copied.
func (b *frameBuilder) appendRecord(key, value, id []byte, revision uint64, ts int64) {
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

// DecodeFrame decodes p into f, reusing f's slices. The result aliases p.
func DecodeFrame(p []byte, f *Frame) error {
	f.Topic, f.Headers, f.Records = nil, f.Headers[:0], f.Records[:0]
	if len(p) < len(frameMagic) || string(p[:len(frameMagic)]) != frameMagic {
		return fmt.Errorf("%w: no magic", ErrBadFrame)
	}
	d := decoder{p: p[len(frameMagic):]}
	f.Topic = d.bytes()
	nh := d.uvarint()
	if nh > maxFrameHeaders {
		return fmt.Errorf("%w: %d headers", ErrBadFrame, nh)
	}
	for i := uint64(0); i < nh && d.err == nil; i++ {
		f.Headers = append(f.Headers, FrameHeader{Key: d.bytes(), Value: d.bytes()})
	}
	nr := d.uvarint()
	if nr > maxFrameRecords || nr > uint64(len(d.p)) {
		return fmt.Errorf("%w: %d records", ErrBadFrame, nr)
	}
	for i := uint64(0); i < nr && d.err == nil; i++ {
		var r FrameRecord
		r.Key, r.Value, r.ID = d.bytes(), d.bytes(), d.bytes()
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
