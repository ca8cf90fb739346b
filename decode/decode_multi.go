package decode

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/valyala/fastjson"
)

// RejectFunc receives one rejected record of a payload: why, the error
// naming the offending path or value, and the record's raw bytes (the
// whole payload when it was refused before it could be split). raw is
// valid only during the call; it may alias the payload or the Decoder's
// scratch memory.
type RejectFunc func(reason Reason, err error, raw []byte)

// DecodeRecords decodes a payload that holds one or more records and
// appends the readings of every accepted record to b. A record is what
// Decode takes as one message: an object (json, ttn, zigbee2mqtt) or a
// pack (senml). The payload may be
//
//   - one record;
//   - a JSON array of records: an array of objects for json, ttn and
//     zigbee2mqtt, an array of packs (an array of arrays) for senml — a
//     plain SenML pack is one record;
//   - NDJSON: records on separate lines (blank lines and a trailing '\r'
//     ignored), each line one record or an array of records as above.
//     NDJSON is recognised when the payload as a whole is not one JSON
//     value, so a pretty-printed object spanning lines is still one
//     record.
//
// Accounting is per record: each record is accepted or rejected on its
// own, reject is called once per rejected record (it may be nil), and the
// counts are returned. A payload refused as a whole — too large, a topic
// that does not match topic_pattern, unparseable, an empty array — counts
// as one rejected record. max_payload applies to the whole payload.
//
// b.Seq is not touched. DecodeRecords does not allocate on success once b
// and d have warmed up; a rejected array element is re-encoded into d's
// scratch memory for reject.
func (d *Decoder) DecodeRecords(topic string, payload []byte, arrivalMs int64, b *Batch, reject RejectFunc) (accepted, rejected int) {
	refuse := func(r Reason, err error) (int, int) {
		if reject != nil {
			reject(r, err, payload)
		}
		return 0, 1
	}
	if len(payload) > d.maxLen {
		return refuse(ReasonTooLarge, fmt.Errorf("payload of %d bytes exceeds max_payload %d", len(payload), d.maxLen))
	}
	if d.pattern != nil && !d.matchTopic(topic, b) {
		return refuse(ReasonTopic, fmt.Errorf("topic %q does not match topic_pattern %q", short(topic), d.pattern.src))
	}
	if d.flat != nil && d.decodeFlat(topic, payload, arrivalMs, b) {
		return 1, 0
	}
	if !looksNDJSON(payload) {
		v, err := d.p.ParseBytes(payload)
		if err == nil {
			return d.decodeValue(v, topic, payload, arrivalMs, b, reject)
		}
		if !isNDJSON(payload) {
			return refuse(ReasonMalformed, errors.New("invalid JSON: "+shorten(err.Error(), 160)))
		}
	}
	rest := payload
	for len(rest) > 0 {
		var line []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			line, rest = rest, nil
		}
		line = trimSpace(line)
		if len(line) == 0 {
			continue
		}
		v, err := d.p.ParseBytes(line)
		if err != nil {
			rejected++
			if reject != nil {
				reject(ReasonMalformed, errors.New("invalid JSON line: "+shorten(err.Error(), 160)), line)
			}
			continue
		}
		a, r := d.decodeValue(v, topic, line, arrivalMs, b, reject)
		accepted += a
		rejected += r
	}
	return accepted, rejected
}

// decodeValue decodes a parsed value holding one record or an array of
// records; raw is its text.
func (d *Decoder) decodeValue(v *fastjson.Value, topic string, raw []byte, arrivalMs int64, b *Batch, reject RejectFunc) (accepted, rejected int) {
	if v.Type() != fastjson.TypeArray || d.format == FormatSenML && !packOfPacks(v) {
		if d.decodeOne(v, topic, arrivalMs, b, raw, reject) {
			return 1, 0
		}
		return 0, 1
	}
	elems, _ := v.Array()
	if len(elems) == 0 {
		if reject != nil {
			reject(ReasonMissingField, errors.New("empty array"), raw)
		}
		return 0, 1
	}
	for _, ev := range elems {
		if d.decodeOne(ev, topic, arrivalMs, b, nil, reject) {
			accepted++
		} else {
			rejected++
		}
	}
	return accepted, rejected
}

// decodeOne decodes one record, rolling b back when it is rejected. raw is
// the record's text, or nil to re-encode v for reject.
func (d *Decoder) decodeOne(v *fastjson.Value, topic string, arrivalMs int64, b *Batch, raw []byte, reject RejectFunc) bool {
	nr, nk := len(b.Readings), len(b.keys)
	var r Reason
	var err error
	switch {
	case d.format == FormatSenML:
		r, err = d.decodeSenML(v, topic, arrivalMs, b)
	case v.Type() != fastjson.TypeObject:
		r, err = ReasonMalformed, fmt.Errorf("record %s is not a JSON object", shortValue(v))
	default:
		r, err = d.decodeObject(v, topic, arrivalMs, b)
	}
	if r == ReasonNone {
		return true
	}
	b.Readings = b.Readings[:nr]
	b.keys = b.keys[:nk]
	if reject != nil {
		if raw == nil {
			d.scratch = v.MarshalTo(d.scratch[:0])
			raw = d.scratch
		}
		reject(r, err, raw)
	}
	return false
}

// packOfPacks reports whether a SenML array holds packs (arrays) rather
// than records: its first element decides.
func packOfPacks(v *fastjson.Value) bool {
	a, _ := v.Array()
	return len(a) > 0 && a[0].Type() == fastjson.TypeArray
}

// looksNDJSON reports whether payload has a line ending in '}' or ']'
// followed by one starting with '{' or '[' (blank lines and spaces
// aside). One JSON value never does: values inside arrays and objects are
// separated by commas, and strings cannot hold a raw newline. It lets
// NDJSON skip the failing parse of the whole payload, whose error
// allocates.
func looksNDJSON(payload []byte) bool {
	for i := bytes.IndexByte(payload, '\n'); i >= 0; {
		before := trimSpace(payload[:i])
		after := payload[i+1:]
		j := 0
		for j < len(after) && (after[j] == ' ' || after[j] == '\t' || after[j] == '\r' || after[j] == '\n') {
			j++
		}
		if len(before) > 0 && j < len(after) {
			e, s := before[len(before)-1], after[j]
			if (e == '}' || e == ']') && (s == '{' || s == '[') {
				return true
			}
		}
		k := bytes.IndexByte(after, '\n')
		if k < 0 {
			break
		}
		i += 1 + k
	}
	return false
}

// isNDJSON reports whether payload has a non-blank line after its first
// non-blank one.
func isNDJSON(payload []byte) bool {
	seen := false
	for len(payload) > 0 {
		var line []byte
		if i := bytes.IndexByte(payload, '\n'); i >= 0 {
			line, payload = payload[:i], payload[i+1:]
		} else {
			line, payload = payload, nil
		}
		if len(trimSpace(line)) > 0 {
			if seen {
				return true
			}
			seen = true
		}
	}
	return false
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
