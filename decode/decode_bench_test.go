package decode

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/valyala/fastjson"
)

// benchCase is one format's decoder config and a representative message.
type benchCase struct {
	name    string
	c       *Options
	topic   string
	payload string
	arrival int64
}

func benchCases() []benchCase {
	return []benchCase{
		{"json", &Options{TopicPattern: "city/{district}/{type}/{id}", Key: "{district}/{id}", TimePath: "ts",
			Fields: []Field{{Name: "pm25"}, {Name: "pm10"}, {Name: "temp"}, {Name: "hum"}}},
			"city/d7/air/s-123", airPayload, arrival},
		{"json_rfc3339", &Options{KeyPath: "id", TimePath: "dateObserved.value.@value", TimeUnit: TimeRFC3339, MaxSkew: -1,
			Fields: []Field{{Name: "no2", Path: "NO2.value"}}},
			"ngsi/madrid", ngsiPayload, arrival},
		{"senml", &Options{Format: FormatSenML, Fields: []Field{{Name: "voltage"}, {Name: "current"}}},
			"senml/dev", senmlPayload, arrival},
		{"ttn", &Options{Format: FormatTTN, TopicPattern: "v3/{app}@{tenant}/devices/{dev}/up",
			Fields: []Field{{Name: "temperature"}, {Name: "luminosity"}}},
			"v3/app1@ttn/devices/dev1/up", ttnUplink, msOf("2020-02-12T15:15:46.1Z")},
		{"zigbee2mqtt", &Options{Format: FormatZigbee2MQTT, Fields: []Field{{Name: "temperature"}, {Name: "humidity"}}},
			"zigbee2mqtt/living_room", z2mPayload, arrival},
	}
}

// TestDecodeAllocs proves that decoding into a reused Batch does not
// allocate in steady state, for every format.
func TestDecodeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own; allocation budgets are checked without -race")
	}
	for _, bc := range benchCases() {
		d, err := NewDecoder(bc.c)
		if err != nil {
			t.Fatal(err)
		}
		var b Batch
		payload := []byte(bc.payload)
		n := testing.AllocsPerRun(100, func() {
			b.Reset()
			if r, err := d.Decode(bc.topic, payload, bc.arrival, &b); r != ReasonNone {
				t.Fatalf("%s: %v %v", bc.name, r, err)
			}
		})
		if n != 0 {
			t.Errorf("%s: %v allocations per Decode, want 0", bc.name, n)
		}
	}
}

var benchSink int

func BenchmarkDecode(b *testing.B) {
	for _, bc := range benchCases() {
		b.Run(bc.name, func(b *testing.B) {
			d, err := NewDecoder(bc.c)
			if err != nil {
				b.Fatal(err)
			}
			var batch Batch
			payload := []byte(bc.payload)
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				batch.Reset()
				if r, err := d.Decode(bc.topic, payload, bc.arrival, &batch); r != ReasonNone {
					b.Fatal(r, err)
				}
			}
			benchSink += len(batch.Readings)
		})
	}
}

// BenchmarkDecodeBaseline is bare fastjson parsing of the same payloads:
// the floor under BenchmarkDecode.
func BenchmarkDecodeBaseline(b *testing.B) {
	for _, bc := range benchCases() {
		b.Run(bc.name, func(b *testing.B) {
			var p fastjson.Parser
			payload := []byte(bc.payload)
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				v, err := p.ParseBytes(payload)
				if err != nil {
					b.Fatal(err)
				}
				benchSink += int(v.Type())
			}
		})
	}
}

func BenchmarkDecodeRFC3339(b *testing.B) {
	s := []byte("2020-02-12T15:15:46.014773143Z")
	b.ReportAllocs()
	for b.Loop() {
		ms, _ := parseRFC3339(s)
		benchSink += int(ms)
	}
}

func BenchmarkTopicMatch(b *testing.B) {
	p, _ := ParseTopicPattern("city/{district}/{type}/{id}")
	vals := make([]string, 0, 3)
	b.ReportAllocs()
	for b.Loop() {
		vals, _ = p.Match("city/d7/air/s-123", vals)
		benchSink += len(vals)
	}
}

// variedAir is n air-quality messages whose readings vary as real ones do
// (length, sign, fraction), for benchmarks where branch prediction on a
// single repeated payload would flatter the decoder.
func variedAir(n int) [][]byte {
	ps := make([][]byte, n)
	for i := range ps {
		f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
		ps[i] = []byte(fmt.Sprintf(`{"id":"s-%d","ts":%d,"pm25":%s,"pm10":%s,"temp":%s,"hum":%s}`, i, 1763683200123+int64(i),
			f(float64(i*37%1500)/10), f(float64(i*53%3000)/10), f(float64(i*13%500-100)/10), f(float64(i*7%800+200)/10)))
	}
	return ps
}

// BenchmarkDecodeVaried decodes 10k varied air messages in turn; compare
// with BenchmarkDecodeVariedBaseline, fastjson parsing them.
func BenchmarkDecodeVaried(b *testing.B) {
	d, err := NewDecoder(benchCases()[0].c)
	if err != nil {
		b.Fatal(err)
	}
	ps := variedAir(10_000)
	var batch Batch
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		batch.Reset()
		if r, err := d.Decode("city/d7/air/s-123", ps[i], arrival, &batch); r != ReasonNone {
			b.Fatal(r, err)
		}
		if i++; i == len(ps) {
			i = 0
		}
	}
}

func BenchmarkDecodeVariedBaseline(b *testing.B) {
	ps := variedAir(10_000)
	var p fastjson.Parser
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := p.ParseBytes(ps[i]); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(ps) {
			i = 0
		}
	}
}
