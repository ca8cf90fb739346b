package decode

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/record"
)

// Example payloads from PAYLOADS.md: the seed corpus of the fuzzers.
const (
	airPayload   = `{"id":"s-123","ts":1763683200123,"pm25":12.4,"pm10":20.1,"temp":21.4,"hum":55.2}`
	z2mPayload   = `{"temperature":27.34,"humidity":44.72}`
	senmlPayload = `[{"bn":"urn:dev:ow:10e2073a01080063:","bt":1.7636832e9,"n":"voltage","u":"V","v":120.1},
 {"n":"current","u":"A","v":1.2,"t":-5}]`
	ngsiPayload = `{"id":"urn:ngsi-ld:AirQualityObserved:Madrid-28079004","type":"AirQualityObserved",
 "NO2":{"type":"Property","value":69,"unitCode":"GQ"},
 "dateObserved":{"type":"Property","value":{"@type":"DateTime","@value":"2016-03-15T11:00:00Z"}}}`
)

// fuzzDecode decodes payload with every decoder in ds and checks the
// invariants every decode must keep, whatever the input.
func fuzzDecode(t *testing.T, ds []*Decoder, nfields []int, topic string, payload []byte, arrivalMs int64) {
	t.Helper()
	for i, d := range ds {
		var b Batch
		b.keys = append(b.keys, "prev"...)
		b.Readings = append(b.Readings, Reading{keyLen: 4})
		r, err := d.Decode(topic, payload, arrivalMs, &b)
		if r >= NumReasons {
			t.Fatalf("decoder %d: reason %d", i, r)
		}
		if (r == ReasonNone) != (err == nil) {
			t.Fatalf("decoder %d: reason %v with error %v", i, r, err)
		}
		if r != ReasonNone {
			if len(b.Readings) != 1 || string(b.keys) != "prev" {
				t.Fatalf("decoder %d: rejected (%v) but batch changed: %d readings, keys %q", i, err, len(b.Readings), b.keys)
			}
			if len(err.Error()) > 400 {
				t.Fatalf("decoder %d: error of %d bytes", i, len(err.Error()))
			}
			continue
		}
		if len(b.Readings) < 2 {
			t.Fatalf("decoder %d: accepted without readings", i)
		}
		for j := 1; j < len(b.Readings); j++ {
			rd := b.Readings[j]
			if int(rd.Field) >= nfields[i] {
				t.Fatalf("decoder %d: field %d of %d", i, rd.Field, nfields[i])
			}
			if math.IsNaN(rd.Value) || math.IsInf(rd.Value, 0) {
				t.Fatalf("decoder %d: value %v", i, rd.Value)
			}
			if rd.Time < minTimeMs || rd.Time > maxTimeMs {
				t.Fatalf("decoder %d: time %d", i, rd.Time)
			}
			if d.maxSkew > 0 && (rd.Time-arrivalMs > d.maxSkew || arrivalMs-rd.Time > d.maxSkew) {
				t.Fatalf("decoder %d: time %d beyond skew of arrival %d", i, rd.Time, arrivalMs)
			}
			if int(rd.keyOff) < 4 || int(rd.keyOff+rd.keyLen) > len(b.keys) || rd.keyLen == 0 || rd.keyLen > MaxKeyLen {
				t.Fatalf("decoder %d: key [%d,+%d) of %d bytes", i, rd.keyOff, rd.keyLen, len(b.keys))
			}
		}
		// A decoder reused on the same input gives the same result.
		first := append([]Reading(nil), b.Readings...)
		keys := append([]byte(nil), b.keys...)
		b.Readings, b.keys = b.Readings[:1], b.keys[:4]
		if r2, err2 := d.Decode(topic, payload, arrivalMs, &b); r2 != r || err2 != nil ||
			len(b.Readings) != len(first) || !bytes.Equal(b.keys, keys) {
			t.Fatalf("decoder %d: second decode differs: %v %v", i, r2, err2)
		}
		for j := range first {
			if first[j] != b.Readings[j] {
				t.Fatalf("decoder %d: second decode reading %d differs", i, j)
			}
		}
	}
}

func fuzzDecoders(t testing.TB, cs ...*Options) ([]*Decoder, []int) {
	var ds []*Decoder
	var ns []int
	for _, c := range cs {
		d, err := NewDecoder(c)
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
		ns = append(ns, len(c.Fields))
	}
	return ds, ns
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add("city/d7/air/s-123", []byte(airPayload), arrival)
	f.Add("city/d7/air/s-123", []byte(`{"ts":"2025-11-21T00:00:00.123+01:00","pm25":"12.5","temp":true,"hum":null}`), arrival)
	f.Add("city/d7/air/s-123", []byte(`{"ts":1763683200.123,"pm25":1,"id":42}`), arrival)
	f.Add("ngsi/madrid", []byte(ngsiPayload), msOf("2016-03-15T11:00:00Z"))
	f.Add("city/d7/air", []byte(`{"a":[1,{"b":2}]}`), int64(0))
	f.Add("city/d7/air/s", []byte(`{"id":"s","pm25":1,"a":[2]}`), int64(math.MaxInt64))
	ds, ns := fuzzDecoders(f,
		&Options{TopicPattern: "city/{district}/{type}/{id}", Key: "{district}/{id}", TimePath: "ts",
			Fields: []Field{{Name: "pm25"}, {Name: "pm10"}, {Name: "temp"}, {Name: "hum"}}},
		&Options{KeyPath: "id", TimePath: "dateObserved.value.@value", TimeUnit: TimeRFC3339, MaxSkew: -1,
			Fields: []Field{{Name: "no2", Path: "NO2.value"}, {Name: "x", Path: "a.1.b"}}},
		&Options{KeyPath: "id", TimePath: "ts", TimeUnit: TimeS, MaxPayload: 256,
			Fields: []Field{{Name: "pm25"}, {Name: "a", Path: "a.0"}}},
	)
	f.Fuzz(func(t *testing.T, topic string, payload []byte, arrivalMs int64) {
		fuzzDecode(t, ds, ns, topic, payload, arrivalMs)
	})
}

func FuzzDecodeSenML(f *testing.F) {
	f.Add("senml/dev", []byte(senmlPayload), arrival)
	f.Add("senml/dev", []byte(`[{"n":"temperature","v":21.5,"t":-10},{"n":"voltage","v":3}]`), arrival)
	f.Add("senml/dev", []byte(`[{"bn":"d1/","bt":1763683200.5,"bv":100,"n":"voltage","v":20,"t":0.0004},
 {"n":"voltage","vs":"high"},{"n":"current","vb":true},{"bn":"d2/","n":"current","v":-1,"t":-0.25},{"x_":1}]`), arrival)
	f.Add("senml/dev", []byte(`[{"bn":"a:","n":"voltage","v":1,"bt":1763683200},{"bn":"b:","n":"voltage","v":2}]`), int64(-1))
	ds, ns := fuzzDecoders(f,
		&Options{Format: FormatSenML, Fields: []Field{{Name: "voltage"}, {Name: "current"}, {Name: "temp", Path: "temperature"}}},
		&Options{Format: FormatSenML, TopicPattern: "senml/{dev}", Key: "{dev}", MaxSkew: -1,
			Fields: []Field{{Name: "voltage"}, {Name: "current"}}},
	)
	f.Fuzz(func(t *testing.T, topic string, payload []byte, arrivalMs int64) {
		fuzzDecode(t, ds, ns, topic, payload, arrivalMs)
	})
}

func FuzzDecodeTTN(f *testing.F) {
	now := msOf("2020-02-12T15:15:46.1Z")
	f.Add("v3/app1@ttn/devices/dev1/up", []byte(ttnUplink), now)
	f.Add("v3/app1@ttn/devices/dev1/up", []byte(strings.Replace(ttnUplink, `"time":"2020-02-12T15:15:45.787Z",`, "", 1)), now)
	f.Add("v3/app1@ttn/devices/dev1/up", []byte(`{"end_device_ids":{"device_id":7},"uplink_message":{"decoded_payload":{"temperature":"1"}}}`), now)
	ds, ns := fuzzDecoders(f,
		&Options{Format: FormatTTN, TopicPattern: "v3/{app}@{tenant}/devices/{dev}/up",
			Fields: []Field{{Name: "temperature"}, {Name: "lux", Path: "luminosity"}}},
		&Options{Format: FormatTTN, TopicPattern: "v3/{app}@{tenant}/devices/{dev}/up", Key: "{tenant}/{dev}", MaxSkew: -1,
			Fields: []Field{{Name: "temperature"}}},
	)
	f.Fuzz(func(t *testing.T, topic string, payload []byte, arrivalMs int64) {
		fuzzDecode(t, ds, ns, topic, payload, arrivalMs)
	})
}

func FuzzDecodeZigbee2MQTT(f *testing.F) {
	f.Add("zigbee2mqtt/living_room", []byte(z2mPayload), arrival)
	f.Add("zigbee2mqtt/floor1/kitchen/lamp", []byte(`{"state":"ON","color":{"x":0.31},"last_seen":"2025-11-21T00:00:00.5Z"}`), arrival)
	f.Add("zigbee2mqtt/bridge/state", []byte(`{"state":"online"}`), arrival)
	ds, ns := fuzzDecoders(f,
		&Options{Format: FormatZigbee2MQTT,
			Fields: []Field{{Name: "temperature"}, {Name: "humidity"}, {Name: "state"}, {Name: "x", Path: "color.x"}}},
		&Options{Format: FormatZigbee2MQTT, TimePath: "last_seen",
			Fields: []Field{{Name: "temperature"}, {Name: "state"}}},
	)
	f.Fuzz(func(t *testing.T, topic string, payload []byte, arrivalMs int64) {
		fuzzDecode(t, ds, ns, topic, payload, arrivalMs)
	})
}

func FuzzTopicPattern(f *testing.F) {
	f.Add("city/{district}/{type}/{id}", "city/d7/air/s-123")
	f.Add("v3/{app}@{tenant}/devices/{dev}/up", "v3/app1@ttn/devices/dev1/up")
	f.Add("s/+/{id}/#", "s/x/1/a/b")
	f.Add("a/b/#", "a/b")
	f.Add("+/x", "$SYS/x")
	f.Fuzz(func(t *testing.T, pattern, topic string) {
		filterOK := MatchFilter(pattern, topic)
		p, err := ParseTopicPattern(pattern)
		if err != nil {
			return
		}
		vals, ok := p.Match(topic, nil)
		if !ok {
			if filterOK && !strings.ContainsAny(pattern, "{}") {
				t.Fatalf("pattern %q does not match %q but the filter does", pattern, topic)
			}
			return
		}
		if len(vals) != len(p.Vars()) {
			t.Fatalf("%d values for %d vars", len(vals), len(p.Vars()))
		}
		for _, v := range vals {
			if v == "" || strings.Contains(v, "/") || !strings.Contains(topic, v) {
				t.Fatalf("pattern %q topic %q: bad value %q", pattern, topic, v)
			}
		}
		if !strings.ContainsAny(pattern, "{}") && !strings.HasPrefix(topic, "$") && topic != "" && !filterOK {
			t.Fatalf("pattern %q matches %q but the filter does not", pattern, topic)
		}
		// Substituting the values back into a pattern without wildcards
		// rebuilds the topic.
		if !strings.ContainsAny(pattern, "+#") {
			kt, err := ParseKeyTemplate(pattern, p)
			if err != nil {
				t.Fatalf("pattern %q as key template: %v", pattern, err)
			}
			if got := string(kt.Append(nil, vals)); got != topic {
				t.Fatalf("pattern %q, topic %q: rebuilt %q", pattern, topic, got)
			}
		}
	})
}

func FuzzDecodeRFC3339(f *testing.F) {
	for _, s := range []string{"2020-02-12T15:15:45.787Z", "2020-02-12T15:15:46.014773143Z", "2016-03-15T13:00:00.5+02:00",
		"1969-12-31T23:59:59.9991-00:30", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "2024-02-29T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseRFC3339([]byte(s))
		want, err := time.Parse(time.RFC3339Nano, s)
		if err == nil && !ok {
			// time.Parse is more lenient in places (for example an
			// offset without minutes' range checks); only strings of the
			// strict shape must parse.
			if strictRFC3339(s) {
				t.Fatalf("parseRFC3339(%q) failed; time.Parse gives %v", s, want)
			}
			return
		}
		if ok && err == nil && got != want.UnixMilli() {
			t.Fatalf("parseRFC3339(%q) = %d, time.Parse %d", s, got, want.UnixMilli())
		}
		// Year 0000 parses; callers reject it by range.
		if ok && (got < minTimeMs-367*86400000 || got > maxTimeMs+86400000) {
			t.Fatalf("parseRFC3339(%q) = %d out of range", s, got)
		}
	})
}

// strictRFC3339 reports whether s has the shape parseRFC3339 accepts,
// without checking the ranges of the date and time (time.Parse checks
// those).
func strictRFC3339(s string) bool {
	const shape = "dddd-dd-ddTdd:dd:dd"
	if len(s) < 20 {
		return false
	}
	for i := range len(shape) {
		if shape[i] == 'd' && (s[i] < '0' || s[i] > '9') || shape[i] != 'd' && s[i] != shape[i] {
			return false
		}
	}
	rest := s[19:]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 {
			return false
		}
		rest = rest[n:]
	}
	if rest == "Z" {
		return true
	}
	// time.Parse accepts offsets such as +00:60; RFC 3339 does not.
	return len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' &&
		rest[1:3] <= "23" && rest[4:6] <= "59"
}

func FuzzDecodeNumTime(f *testing.F) {
	for _, s := range []string{"1763683200123", "1763683200.123", "-1.5e3", "1.7636832e9", "1763683200123456789", "0.0001", "1e-999"} {
		f.Add(s, uint8(TimeAuto))
	}
	f.Fuzz(func(t *testing.T, s string, u uint8) {
		unit := TimeUnit(u % uint8(TimeRFC3339))
		got, ok, outOfRange := parseNumTime([]byte(s), unit)
		if ok && outOfRange {
			t.Fatalf("parseNumTime(%q): ok and out of range", s)
		}
		if !ok {
			return
		}
		if got < minTimeMs || got > maxTimeMs {
			t.Fatalf("parseNumTime(%q) = %d out of range", s, got)
		}
		// Check against exact rational arithmetic, for inputs big.Rat
		// reads the same way (decimal, modest exponent).
		if strings.ContainsAny(s, "xXpP_/") || len(s) > 60 || strings.HasPrefix(strings.TrimLeft(s, "+-"), ".") {
			return
		}
		if i := strings.IndexAny(s, "eE"); i >= 0 && len(s)-i > 5 {
			return
		}
		r, ok2 := new(big.Rat).SetString(s)
		if !ok2 {
			t.Fatalf("parseNumTime(%q) ok, big.Rat cannot read it", s)
		}
		if unit == TimeAuto {
			a := new(big.Rat).Abs(r)
			switch {
			case a.Cmp(big.NewRat(1e11, 1)) < 0:
				unit = TimeS
			case a.Cmp(big.NewRat(1e14, 1)) < 0:
				unit = TimeMS
			case a.Cmp(big.NewRat(1e17, 1)) < 0:
				unit = TimeUS
			default:
				unit = TimeNS
			}
		}
		switch unit {
		case TimeS:
			r.Mul(r, big.NewRat(1000, 1))
		case TimeUS:
			r.Mul(r, big.NewRat(1, 1000))
		case TimeNS:
			r.Mul(r, big.NewRat(1, 1000000))
		}
		// floor(r)
		q := new(big.Int).Div(r.Num(), r.Denom()) // Euclidean: floor for positive denominators
		if !q.IsInt64() || q.Int64() != got {
			t.Fatalf("parseNumTime(%q, %v) = %d, exact floor %s", s, unit, got, q)
		}
	})
}

// FuzzDecodeConfig checks that Validate and NewDecoder agree on any
// configuration, and that a decoder built from it keeps the invariants.
func FuzzDecodeConfig(f *testing.F) {
	f.Add("json", "city/{district}/{type}/{id}", "{district}/{id}", "", "ts", "ms", "pm25", "", "24h", "city/d7/air/s-123", []byte(airPayload))
	f.Add("ttn", "v3/{app}@{tenant}/devices/{dev}/up", "", "", "", "", "temperature", "", "0", "v3/a@t/devices/d/up", []byte(ttnUplink))
	f.Add("senml", "", "", "", "", "", "voltage", "", "", "x", []byte(senmlPayload))
	f.Add("zigbee2mqtt", "+/#", "", "", "last_seen", "auto", "state", "color.x", "1ms", "zigbee2mqtt/a/b", []byte(z2mPayload))
	f.Add("json", "a/{x", "{y}", "a[0]", "t..u", "minutes", "", "a.0", "-1h", "", []byte(`{}`))
	f.Fuzz(func(t *testing.T, format, pattern, key, keyPath, timePath, unit, field, fieldPath, skew, topic string, payload []byte) {
		c := &Options{TopicPattern: pattern, Key: key, KeyPath: keyPath, TimePath: timePath,
			Fields: []Field{{Name: field, Path: fieldPath}, {Name: "z", Path: "z"}}}
		if c.Format.UnmarshalText([]byte(format)) != nil || c.TimeUnit.UnmarshalText([]byte(unit)) != nil {
			return
		}
		if sd, err := time.ParseDuration(skew); err == nil {
			c.MaxSkew = sd
		}
		verr := c.Validate()
		d, err := NewDecoder(c)
		if (verr == nil) != (err == nil) {
			t.Fatalf("Validate %v but NewDecoder %v", verr, err)
		}
		var ps record.OptionErrors
		errors.As(verr, &ps)
		for _, p := range ps {
			if p.Option == "" || p.Msg == "" {
				t.Fatalf("empty problem %+v", p)
			}
		}
		if err != nil {
			return
		}
		fuzzDecode(t, []*Decoder{d}, []int{2}, topic, payload, arrival)
	})
}
