package decode

import (
	"bytes"
	"errors"
	"fmt"
	"math"

	"github.com/valyala/fastjson"

	"github.com/edgeplane/edgeplane/record"
)

// senmlRelative is 2^28 s: smaller resolved times are relative to now.
const senmlRelative = 1 << 28

// senmlState is the state of a pack being decoded. Byte slices alias the
// parser's memory and are valid until the next parse.
type senmlState struct {
	bn     []byte
	bt, bv float64

	n     []byte
	t, v  float64
	hasV  bool
	bad   string // the field that made the record invalid
	badMU bool   // bad is an unknown must-understand field
}

// senmlVisit is called by fastjson for each field of a record.
func (d *Decoder) senmlVisit(k []byte, v *fastjson.Value) {
	s := &d.senml
	if s.bad != "" {
		return
	}
	var ok bool
	switch string(k) {
	case "bn":
		s.bn, ok = str(v)
	case "n":
		s.n, ok = str(v)
	case "bt":
		s.bt, ok = num(v)
	case "t":
		s.t, ok = num(v)
	case "bv":
		s.bv, ok = num(v)
	case "v":
		s.v, ok = num(v)
		s.hasV = ok
	case "bu", "u", "vs", "vd":
		_, ok = str(v)
	case "bs", "s", "ut", "bver":
		_, ok = num(v)
	case "vb":
		t := v.Type()
		ok = t == fastjson.TypeTrue || t == fastjson.TypeFalse
	default:
		if len(k) > 0 && k[len(k)-1] == '_' {
			s.bad, s.badMU = string(k), true
		}
		return
	}
	if !ok {
		s.bad = string(k) // constant strings: the switch cases
	}
}

func str(v *fastjson.Value) ([]byte, bool) {
	if v.Type() != fastjson.TypeString {
		return nil, false
	}
	b, _ := v.StringBytes()
	return b, true
}

func num(v *fastjson.Value) (float64, bool) {
	if v.Type() != fastjson.TypeNumber {
		return 0, false
	}
	f, err := v.Float64()
	return f, err == nil
}

func (d *Decoder) decodeSenML(v *fastjson.Value, topic string, arrivalMs int64, b *Batch) (Reason, error) {
	if v.Type() != fastjson.TypeArray {
		return ReasonMalformed, errors.New("SenML pack is not a JSON array")
	}
	recs, _ := v.Array()
	s := &d.senml
	*s = senmlState{}
	defer func() { *s = senmlState{} }() // drop references into the parser

	keyOff, keyLen := -1, 0
	if d.keyKind != keySenMLBase {
		keyOff = len(b.keys)
		if r, err := d.appendTopicKey(topic, b); r != ReasonNone {
			return r, err
		}
		keyLen = len(b.keys) - keyOff
	}
	var notV, unmatched uint64
	n0 := len(b.Readings)
	for i, rv := range recs {
		o, err := rv.Object()
		if err != nil {
			return ReasonMalformed, fmt.Errorf("SenML record %d is not an object", i)
		}
		s.n, s.t, s.v, s.hasV = nil, 0, 0, false
		o.Visit(d.visit)
		if s.bad != "" {
			if s.badMU {
				return ReasonMalformed, fmt.Errorf("SenML record %d: unsupported must-understand field %q", i, short(s.bad))
			}
			return ReasonMalformed, fmt.Errorf("SenML record %d: field %q has the wrong type", i, s.bad)
		}
		if !s.hasV {
			notV++
			continue
		}
		fi := -1
		for j, name := range d.names {
			if string(s.n) == name {
				fi = j
				break
			}
		}
		if fi < 0 {
			unmatched++
			continue
		}
		x := s.bv + s.v
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return ReasonNonNumeric, fmt.Errorf("SenML record %d (%q): value %g is not finite", i, short(string(s.n)), x)
		}
		total := s.bt + s.t
		var flags uint8
		msf := math.Round(total * 1000)
		if total < senmlRelative {
			msf = math.Round(float64(arrivalMs) + total*1000)
			flags = record.FlagArrivalTime
		}
		if !(msf >= minTimeMs && msf <= maxTimeMs) {
			return ReasonTimeRange, fmt.Errorf("SenML record %d (%q): time bt+t = %g s is out of range (arrival %d ms)", i, short(string(s.n)), total, arrivalMs)
		}
		if r := d.checkTime(int64(msf), arrivalMs); r != ReasonNone {
			return r, fmt.Errorf("SenML record %d (%q): time bt+t = %g s: %s", i, short(string(s.n)), total, d.timeError(r, int64(msf), arrivalMs))
		}
		if d.keyKind == keySenMLBase {
			var same bool
			if keyOff >= 0 {
				prev := b.keys[keyOff : keyOff+keyLen]
				if len(s.bn) > 0 {
					same = bytes.Equal(prev, s.bn)
				} else {
					same = string(prev) == topic
				}
			}
			if !same {
				keyOff = len(b.keys)
				if len(s.bn) > 0 {
					b.keys = append(b.keys, s.bn...)
				} else {
					b.keys = append(b.keys, topic...)
				}
				keyLen = len(b.keys) - keyOff
				if r, err := checkKey(b, keyOff); r != ReasonNone {
					return r, fmt.Errorf("SenML record %d: %w", i, err)
				}
			}
		}
		b.Readings = append(b.Readings, Reading{
			Field: uint16(fi), Flags: flags, Time: int64(msf), Value: x,
			keyOff: uint32(keyOff), keyLen: uint32(keyLen),
		})
	}
	if len(b.Readings) == n0 {
		return ReasonMissingField, fmt.Errorf("no SenML record with v matched the configured fields (%d records, %d without v)", len(recs), notV)
	}
	d.stats.SenMLNotV += notV
	d.stats.SenMLUnmatched += unmatched
	return ReasonNone, nil
}
