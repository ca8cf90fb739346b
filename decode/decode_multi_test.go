package decode

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestDecodeRecords(t *testing.T) {
	f := func(c *Options, payload string, wantAcc, wantRej int, wantReadings int, wantRejects ...string) {
		t.Helper()
		d, err := NewDecoder(c)
		if err != nil {
			t.Fatal(err)
		}
		var b Batch
		var rejects []string
		acc, rej := d.DecodeRecords("city/d1/air/s1", []byte(payload), arrival, &b, func(r Reason, _ error, raw []byte) {
			rejects = append(rejects, r.String()+" "+string(raw))
		})
		if acc != wantAcc || rej != wantRej || len(b.Readings) != wantReadings {
			t.Errorf("%q: accepted %d rejected %d readings %d, want %d %d %d", payload, acc, rej, len(b.Readings), wantAcc, wantRej, wantReadings)
		}
		if fmt.Sprint(rejects) != fmt.Sprint(wantRejects) && !(len(rejects) == 0 && len(wantRejects) == 0) {
			t.Errorf("%q: rejects %q, want %q", payload, rejects, wantRejects)
		}
	}
	js := &Options{KeyPath: "id", Fields: []Field{{Name: "v"}, {Name: "w"}}, MaxSkew: -1}
	f(js, `{"id":"a","v":1,"w":2}`, 1, 0, 2)
	f(js, `[{"id":"a","v":1},{"id":"b","v":2,"w":3}]`, 2, 0, 3)
	f(js, `[{"id":"a","v":1},{"id":"b"},7,{"v":"x","id":"c"}]`, 1, 3, 1,
		`missing_field {"id":"b"}`, `malformed 7`, `non_numeric {"v":"x","id":"c"}`)
	f(js, "{\"id\":\"a\",\"v\":1}\n{\"id\":\"b\",\"v\":2}\n", 2, 0, 2)
	f(js, "{\"id\":\"a\",\"v\":1}\n[{\"id\":\"b\",\"v\":2},{\"id\":\"c\",\"v\":3}]\n{oops\n", 3, 1, 3, `malformed {oops`)
	f(js, "{\n\"id\": \"a\",\n\"v\": 1\n}\n", 1, 0, 1)
	f(js, `[]`, 0, 1, 0, `missing_field []`)
	f(js, `{oops`, 0, 1, 0, `malformed {oops`)
	f(js, "", 0, 1, 0, `malformed `)
	f(&Options{KeyPath: "id", Fields: []Field{{Name: "v"}}, MaxPayload: 10}, `{"id":"a","v":1}`, 0, 1, 0, `too_large {"id":"a","v":1}`)
	f(&Options{TopicPattern: "x/{id}", Fields: []Field{{Name: "v"}}}, `{"v":1}`, 0, 1, 0, `topic_mismatch {"v":1}`)

	sm := &Options{Format: FormatSenML, Fields: []Field{{Name: "t"}}, MaxSkew: -1}
	f(sm, `[{"bn":"a","n":"t","v":1},{"n":"t","v":2}]`, 1, 0, 2)
	f(sm, `[[{"bn":"a","n":"t","v":1}],[{"bn":"b","n":"t","v":2}],[{"n":"u","v":3}]]`, 2, 1, 2, `missing_field [{"n":"u","v":3}]`)
	f(sm, "[{\"bn\":\"a\",\"n\":\"t\",\"v\":1}]\n[{\"bn\":\"b\",\"n\":\"t\",\"v\":2}]", 2, 0, 2)
}

// TestDecodeRecordsAllocs: arrays and NDJSON decode without allocating
// in steady state.
func TestDecodeRecordsAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own; allocation budgets are checked without -race")
	}
	d, err := NewDecoder(&Options{KeyPath: "id", TimePath: "ts", Fields: []Field{{Name: "v"}}, MaxSkew: -1})
	if err != nil {
		t.Fatal(err)
	}
	rec := `{"id":"s-1","ts":1763683200123,"v":1.5}`
	for _, payload := range []string{
		"[" + strings.Repeat(rec+",", 9) + rec + "]",
		strings.Repeat(rec+"\n", 10),
	} {
		var b Batch
		p := []byte(payload)
		n := testing.AllocsPerRun(100, func() {
			b.Reset()
			if acc, rej := d.DecodeRecords("t", p, arrival, &b, nil); acc != 10 || rej != 0 {
				t.Fatalf("accepted %d rejected %d", acc, rej)
			}
		})
		if n != 0 {
			t.Errorf("%.20q…: %v allocations, want 0", payload, n)
		}
	}
}

// FuzzDecodeRecords: whatever the payload, every record is accounted
// once, reject is called once per rejected record, and readings are
// finite and keyed.
func FuzzDecodeRecords(f *testing.F) {
	for _, s := range []string{airPayload, z2mPayload, senmlPayload, ngsiPayload,
		"[" + airPayload + "," + airPayload + "]", airPayload + "\n" + airPayload, "[[],[1]]", "\n\n", "[{}]\n{"} {
		f.Add([]byte(s))
	}
	var ds []*Decoder
	for _, c := range []*Options{
		{KeyPath: "id", TimePath: "ts", Fields: []Field{{Name: "pm25"}, {Name: "pm10"}}, MaxSkew: -1},
		{Format: FormatSenML, Fields: []Field{{Name: "voltage"}, {Name: "current"}}},
		{Format: FormatZigbee2MQTT, Fields: []Field{{Name: "temperature"}}},
	} {
		d, err := NewDecoder(c)
		if err != nil {
			f.Fatal(err)
		}
		ds = append(ds, d)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		for i, d := range ds {
			var b Batch
			calls := 0
			acc, rej := d.DecodeRecords("zigbee2mqtt/dev", payload, arrival, &b, func(r Reason, err error, _ []byte) {
				calls++
				if r == ReasonNone || r >= NumReasons || err == nil {
					t.Fatalf("decoder %d: reject with reason %v, err %v", i, r, err)
				}
			})
			if acc+rej == 0 || calls != rej || acc < 0 || rej < 0 {
				t.Fatalf("decoder %d: accepted %d rejected %d, %d reject calls", i, acc, rej, calls)
			}
			if (acc == 0) != (len(b.Readings) == 0) {
				t.Fatalf("decoder %d: accepted %d with %d readings", i, acc, len(b.Readings))
			}
			for j := range b.Readings {
				if math.IsNaN(b.Readings[j].Value) || len(b.Key(j)) == 0 {
					t.Fatalf("decoder %d: reading %d: %+v", i, j, b.Readings[j])
				}
			}
		}
	})
}
