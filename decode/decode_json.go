package decode

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/edgeplane/edgeplane/record"
)

// decodeObject decodes json, ttn and zigbee2mqtt messages: one key, one
// time, and the configured fields at their paths.
func (d *Decoder) decodeObject(v *fastjson.Value, topic string, arrivalMs int64, b *Batch) (Reason, error) {
	keyOff := len(b.keys)
	if d.keyKind == keyPath {
		kv := d.keyPath.lookup(v)
		switch {
		case kv == nil || kv.Type() == fastjson.TypeNull:
			return ReasonMissingField, fmt.Errorf("key %q: absent", d.keyPath.src)
		case kv.Type() == fastjson.TypeString:
			s, _ := kv.StringBytes()
			b.keys = append(b.keys, s...)
		case kv.Type() == fastjson.TypeNumber:
			b.keys = kv.MarshalTo(b.keys)
		default:
			return ReasonMalformed, fmt.Errorf("key %q: %s is not a string or number", d.keyPath.src, shortValue(kv))
		}
		if r, err := checkKey(b, keyOff); r != ReasonNone {
			return r, fmt.Errorf("key %q: %w", d.keyPath.src, err)
		}
	} else if r, err := d.appendTopicKey(topic, b); r != ReasonNone {
		return r, err
	}
	keyLen := uint32(len(b.keys) - keyOff)

	ts, flags, tsrc := arrivalMs, record.FlagArrivalTime, "arrival"
	for i := range d.timePaths {
		tp := &d.timePaths[i]
		tv := tp.lookup(v)
		if tv == nil || tv.Type() == fastjson.TypeNull {
			continue
		}
		ms, r, err := d.parseTime(tv)
		if r != ReasonNone {
			return r, fmt.Errorf("time %q: %w", tp.src, err)
		}
		ts, flags, tsrc = ms, 0, tp.src
		break
	}
	if flags != 0 && d.timeRequired {
		return ReasonMissingField, fmt.Errorf("time %q: absent", d.timePaths[0].src)
	}
	if r := d.checkTime(ts, arrivalMs); r != ReasonNone {
		return r, fmt.Errorf("time %q: %s", tsrc, d.timeError(r, ts, arrivalMs))
	}

	missing := 0
	for i := range d.fields {
		fp := &d.fields[i]
		fv := fp.lookup(v)
		if fv == nil || fv.Type() == fastjson.TypeNull {
			missing++
			continue
		}
		x, ok := d.number(fv)
		if !ok {
			return ReasonNonNumeric, fmt.Errorf("field %q: %s is not a number", fp.src, shortValue(fv))
		}
		b.Readings = append(b.Readings, Reading{
			Field: uint16(i), Flags: flags, Time: ts, Value: x,
			keyOff: uint32(keyOff), keyLen: keyLen,
		})
	}
	if missing == len(d.fields) {
		return ReasonMissingField, fmt.Errorf("none of the fields %s is present", d.fieldList())
	}
	d.stats.MissingFields += uint64(missing)
	return ReasonNone, nil
}

// fieldList names the configured field paths for an error, bounded.
func (d *Decoder) fieldList() string {
	var sb strings.Builder
	for i := range d.fields {
		if i > 0 {
			sb.WriteString(", ")
		}
		if i == 4 {
			fmt.Fprintf(&sb, "… (%d in all)", len(d.fields))
			break
		}
		fmt.Fprintf(&sb, "%q", short(d.fields[i].src))
	}
	return sb.String()
}

// number converts a field value: a finite number, a numeric string, a bool
// as 1/0 and, for zigbee2mqtt, "ON"/"OFF" as 1/0.
func (d *Decoder) number(v *fastjson.Value) (float64, bool) {
	var x float64
	switch v.Type() {
	case fastjson.TypeNumber:
		f, err := v.Float64()
		if err != nil {
			return 0, false
		}
		x = f
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		return d.stringNumber(s)
	case fastjson.TypeTrue:
		return 1, true
	case fastjson.TypeFalse:
		return 0, true
	default:
		return 0, false
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, false
	}
	return x, true
}

// stringNumber converts a field's string value (unescaped): a numeric
// string and, for zigbee2mqtt, "ON"/"OFF" as 1/0.
func (d *Decoder) stringNumber(s []byte) (float64, bool) {
	if d.format == FormatZigbee2MQTT {
		switch string(s) {
		case "ON":
			return 1, true
		case "OFF":
			return 0, true
		}
	}
	return parseNumericString(s) // never NaN or ±Inf
}

// parseNumericString is ParseNumber for the bytes of a JSON string.
func parseNumericString(s []byte) (float64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	// strconv copies its input into the errors it returns, so the string
	// may alias s.
	return ParseNumber(unsafe.String(&s[0], len(s)))
}

// ParseNumber parses a decimal number written as text, such as "12.4" or
// "-1e3": the rule for numbers in JSON strings and in topic tags.
// Surrounding spaces, hex, "NaN", "Inf" and values beyond float64 are
// refused. The common non-numbers fail a character check without
// allocating.
func ParseNumber(s string) (float64, bool) {
	if len(s) == 0 || len(s) > 64 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// parseTime reads a time value in d.timeUnit.
func (d *Decoder) parseTime(v *fastjson.Value) (int64, Reason, error) {
	var raw []byte
	isString := false
	switch v.Type() {
	case fastjson.TypeNumber:
		d.scratch = v.MarshalTo(d.scratch[:0])
		raw = d.scratch
	case fastjson.TypeString:
		raw, _ = v.StringBytes()
		isString = true
	default:
		return 0, ReasonMalformed, fmt.Errorf("%s is not a time", shortValue(v))
	}
	ms, r, why := d.timeOf(raw, isString)
	switch why {
	case timeOK:
		return ms, ReasonNone, nil
	case timeNumberNotString:
		return 0, r, fmt.Errorf("number %s where an RFC 3339 string is expected", shortValue(v))
	case timeYearRange:
		return 0, r, fmt.Errorf("%s is outside years 0001-9999", shortValue(v))
	case timeNotNumber:
		return 0, r, fmt.Errorf("%s is not a number", shortValue(v))
	default:
		return 0, r, fmt.Errorf("%s is not an RFC 3339 time", shortValue(v))
	}
}

// timeProblem says why timeOf refused a time, for the caller's error.
type timeProblem uint8

const (
	timeOK              timeProblem = iota
	timeNumberNotString             // a JSON number where time_unit is rfc3339
	timeYearRange                   // a number outside years 0001-9999
	timeNotNumber                   // not a number in a numeric time_unit
	timeNotRFC3339                  // not an RFC 3339 string
)

// timeOf converts the text of a time value — a JSON number's token, or a
// string's unescaped contents when isString — in d.timeUnit to Unix ms.
// Both decoding paths use it, so they accept exactly the same times.
func (d *Decoder) timeOf(raw []byte, isString bool) (int64, Reason, timeProblem) {
	if !isString && d.timeUnit == TimeRFC3339 {
		return 0, ReasonMalformed, timeNumberNotString
	}
	if d.timeUnit != TimeRFC3339 {
		ms, ok, outOfRange := parseNumTime(raw, d.timeUnit)
		if ok {
			return ms, ReasonNone, timeOK
		}
		if outOfRange {
			return 0, ReasonTimeRange, timeYearRange
		}
		if !isString || d.timeUnit != TimeAuto {
			return 0, ReasonMalformed, timeNotNumber
		}
	}
	ms, ok := parseRFC3339(raw)
	if !ok {
		return 0, ReasonMalformed, timeNotRFC3339
	}
	return ms, ReasonNone, timeOK
}
