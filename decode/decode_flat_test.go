package decode

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// flatConfigs are decoders the flat fast path serves (every path a single
// top-level name), covering each key kind, time unit and format it takes.
func flatConfigs() []*Options {
	return []*Options{
		{TopicPattern: "city/{district}/{type}/{id}", Key: "{district}/{id}", TimePath: "ts", TimeUnit: TimeMS,
			Fields: []Field{{Name: "pm25"}, {Name: "pm10"}, {Name: "temp"}, {Name: "hum"}}},
		{KeyPath: "id", TimePath: "ts", TimeUnit: TimeAuto, MaxSkew: -1,
			Fields: []Field{{Name: "pm25"}, {Name: "t", Path: "temp"}, {Name: "ts"}}},
		{TimePath: "ts", TimeUnit: TimeRFC3339, MaxPayload: 256, Fields: []Field{{Name: "pm25"}, {Name: "x", Path: "0"}}},
		{KeyPath: "ts", TimePath: "ts", TimeUnit: TimeS, Fields: []Field{{Name: "v"}}},
		{Format: FormatZigbee2MQTT, Fields: []Field{{Name: "temperature"}, {Name: "humidity"}, {Name: "state"}}},
		{Format: FormatZigbee2MQTT, TimePath: "last_seen", Fields: []Field{{Name: "state"}}},
	}
}

// treeTwin returns a copy of d without the fast path.
func treeTwin(t testing.TB, c *Options) (fast, tree *Decoder) {
	t.Helper()
	fast, err := NewDecoder(c)
	if err != nil {
		t.Fatal(err)
	}
	if fast.flat == nil {
		t.Fatalf("config %+v does not take the flat path", c)
	}
	tree, _ = NewDecoder(c)
	tree.flat = nil
	return fast, tree
}

// checkSameDecode decodes payload with both decoders, through Decode and
// DecodeRecords, and fails on any difference in reason, readings, keys or
// stats. It reports whether the fast path took the message.
func checkSameDecode(t *testing.T, fast, tree *Decoder, topic string, payload []byte, arrivalMs int64) bool {
	t.Helper()
	var bf, bt Batch
	took := fast.flat.scan(payload)
	rf, errF := fast.Decode(topic, payload, arrivalMs, &bf)
	rt, errT := tree.Decode(topic, payload, arrivalMs, &bt)
	if rf != rt || (errF == nil) != (errT == nil) || errF != nil && errF.Error() != errT.Error() {
		t.Fatalf("Decode(%q, %q): fast %v %v, tree %v %v", topic, payload, rf, errF, rt, errT)
	}
	sameBatch(t, "Decode", payload, &bf, &bt)
	if fast.Stats() != tree.Stats() {
		t.Fatalf("Decode(%q): stats fast %+v, tree %+v", payload, fast.Stats(), tree.Stats())
	}
	bf.Reset()
	bt.Reset()
	var rejF, rejT []Reason
	af, nf := fast.DecodeRecords(topic, payload, arrivalMs, &bf, func(r Reason, _ error, _ []byte) { rejF = append(rejF, r) })
	at, nt := tree.DecodeRecords(topic, payload, arrivalMs, &bt, func(r Reason, _ error, _ []byte) { rejT = append(rejT, r) })
	if af != at || nf != nt || !slices.Equal(rejF, rejT) {
		t.Fatalf("DecodeRecords(%q): fast %d/%d %v, tree %d/%d %v", payload, af, nf, rejF, at, nt, rejT)
	}
	sameBatch(t, "DecodeRecords", payload, &bf, &bt)
	if fast.Stats() != tree.Stats() {
		t.Fatalf("DecodeRecords(%q): stats fast %+v, tree %+v", payload, fast.Stats(), tree.Stats())
	}
	return took && rf == ReasonNone
}

func sameBatch(t *testing.T, what string, payload []byte, bf, bt *Batch) {
	t.Helper()
	if len(bf.Readings) != len(bt.Readings) {
		t.Fatalf("%s(%q): %d readings fast, %d tree", what, payload, len(bf.Readings), len(bt.Readings))
	}
	for i := range bf.Readings {
		f, r := bf.Readings[i], bt.Readings[i]
		if f.Field != r.Field || f.Flags != r.Flags || f.Time != r.Time ||
			math.Float64bits(f.Value) != math.Float64bits(r.Value) || string(bf.Key(i)) != string(bt.Key(i)) {
			t.Fatalf("%s(%q): reading %d fast %+v key %q, tree %+v key %q", what, payload, i, f, bf.Key(i), r, bt.Key(i))
		}
	}
}

// TestFlatMatchesTree runs payloads that exercise every branch of the
// flat scan, accepted and refused, through both paths.
func TestFlatMatchesTree(t *testing.T) {
	payloads := []string{
		airPayload,
		" \t\r\n" + airPayload + "\n ",
		`{ "id" : "s-1" , "ts" : 1763683200123 , "pm25" : 12.4 }`,
		`{"ts":1763683200123,"pm25":"12.5","pm10":true,"temp":false,"hum":null}`,
		`{"ts":1763683200123,"pm25":1,"pm25":2}`,            // first wins
		`{"ts":1763683200123,"pm25":1,"x":{"a":1}}`,         // nested: tree
		`{"ts":1763683200123,"pm25":1,"x":[1,2]}`,           // nested: tree
		`{"ts":1763683200123,"pm25":"a\"b","pm10":2}`,       // escape: tree
		`{"ts":1763683200123,"pm\u0032\u0035":7}`,           // escaped key: tree
		`{"ts":1763683200123,"pm25":NaN}`,                   // nan token
		`{"ts":1763683200123,"pm25":-inf,"pm10":1}`,         // inf token
		`{"ts":1763683200123,"pm25":nan}`,                   // 'n' but not null
		`{"ts":1763683200123,"pm25":1,"u":-}`,               // lone sign
		`{"ts":1763683200123,"pm25":1,"u":+,"v":1}`,         // lone sign
		`{"ts":1763683200123,"pm25":1.2.3}`,                 // junk number token
		`{"ts":1763683200123,"pm25":1,"u":1.2.3}`,           // junk in unwanted member
		`{"ts":1763683200123,"pm25":1e400}`,                 // infinite
		`{"ts":1763683200123,"pm25":1,}`,                    // trailing comma
		`{"ts":1763683200123,"pm25":1`,                      // unterminated
		`{"ts":1763683200123,"pm25":1}x`,                    // tail
		`{"ts":1763683200123,"pm25":1} {"pm25":2}`,          // two values
		"{\"ts\":1763683200123,\"pm25\":1}\n{\"pm25\":2}\n", // NDJSON
		`[{"ts":1763683200123,"pm25":1}]`,                   // array
		`{}`, ``, `   `, `{"ts":1763683200123}`, `{"pm25":1}`, `{"ts":null,"pm25":1}`,
		`{"ts":"1763683200123","pm25":1}`, `{"ts":"2025-11-21T00:00:00Z","pm25":1}`,
		`{"ts":1763683200.5,"pm25":1}`, `{"ts":99999999999999999,"pm25":1}`, `{"ts":true,"pm25":1}`,
		`{"id":42,"ts":1763683200123,"pm25":1}`, `{"id":"","ts":1763683200123,"pm25":1}`,
		`{"id":null,"ts":1763683200123,"pm25":1}`, `{"id":true,"ts":1763683200123,"pm25":1}`,
		`{"ts":1763683200123,"pm25":tru}`, `{"ts":1763683200123,"pm25":fals}`, `{"ts":1763683200123,"pm25":nul}`,
		`{"ts" 1}`, `{"ts":}`, `{ts:1}`, `{"ts":1763683200123,"pm25":"1e3"}`, `{"ts":1763683200123,"pm25":" 1"}`,
		`{"state":"ON","temperature":21.5}`, `{"state":"OFF","last_seen":"2025-11-21T00:00:00.5Z"}`,
		`{"v":1,"ts":1763683200}`, `{"0":5,"ts":"2025-11-21T00:00:00Z"}`,
		"{\"ts\":1763683200123,\"pm25\":\"\x01\"}",
		// Member order and names change between messages (lookup's
		// per-position prediction), including the empty name.
		`{"":5,"ts":1763683200123,"pm25":1}`, `{"pm25":1,"":6,"ts":1763683200123}`,
		`{"hum":1,"pm25":2,"ts":1763683200123,"temp":3}`, `{"pm2":1,"pm25":2,"ts":1763683200123,"temp":3}`,
		`{"a_very_long_member_name":1,"ts":1763683200123,"pm25":4}`,
		// Numbers the scan reads itself (simple: -?D+(.D+)?, at most 15
		// digits) and ones it hands to fastfloat, around every limit.
		`{"ts":1763683200123,"pm25":-0,"pm10":-0.0,"temp":0.1,"hum":-12.25}`,
		`{"ts":1763683200123,"pm25":00012,"pm10":007.50,"temp":1.,"hum":.5}`,
		`{"ts":1763683200123,"pm25":123456789012345,"pm10":1234567890123456,"temp":12345678901234567890}`,
		`{"ts":1763683200123,"pm25":1.23456789012345,"pm10":1.234567890123456,"temp":0.000000000000001}`,
		`{"ts":1763683200123,"pm25":99999999999999.9,"pm10":-9999999999999.99,"temp":0.30000000000000004}`,
		`{"ts":1763683200123,"pm25":1e3,"pm10":1.5E-2,"temp":-1e+2,"hum":2.}`,
		`{"ts":1763683200123,"pm25":1-2,"pm10":1..2,"temp":--1}`, `{"ts":1763683200123,"pm25":+1}`,
		`{"ts":0,"pm25":1}`, `{"ts":-1763683200123,"pm25":1}`, `{"ts":01763683200123,"pm25":1}`,
		`{"ts":1763683200,"pm25":1}`, `{"ts":17636832001,"pm25":1}`, `{"ts":176368320012,"pm25":1}`,
		`{"ts":17636832001234,"pm25":1}`, `{"ts":176368320012345,"pm25":1}`, `{"ts":1763683200123.0,"pm25":1}`,
		`{"ts":1763683200123e0,"pm25":1}`,
	}
	took := 0
	for _, c := range flatConfigs() {
		fast, tree := treeTwin(t, c)
		for _, topic := range []string{"city/d7/air/s-123", "zigbee2mqtt/room/lamp", "x"} {
			for _, p := range payloads {
				for _, arrival := range []int64{arrival, 1763683200123, 0} {
					if checkSameDecode(t, fast, tree, topic, []byte(p), arrival) {
						took++
					}
				}
			}
		}
	}
	if took < 20 {
		t.Fatalf("the fast path took only %d messages", took)
	}
}

// TestFlatPathTakesCommonPayloads: the PAYLOADS.md shapes are decoded
// without the tree.
func TestFlatPathTakesCommonPayloads(t *testing.T) {
	cs := flatConfigs()
	for _, tc := range []struct {
		c       *Options
		topic   string
		payload string
	}{
		{cs[0], "city/d7/air/s-123", airPayload},
		{cs[4], "zigbee2mqtt/living_room", z2mPayload},
	} {
		fast, tree := treeTwin(t, tc.c)
		if !checkSameDecode(t, fast, tree, tc.topic, []byte(tc.payload), arrival) {
			t.Errorf("%s: %q did not take the flat path", tc.topic, tc.payload)
		}
	}
	// Nested paths and SenML/TTN need the tree.
	for _, c := range []*Options{
		{TimePath: "a.b", Fields: []Field{{Name: "x"}}},
		{Fields: []Field{{Name: "x", Path: "a.0"}}},
		{Format: FormatSenML, Fields: []Field{{Name: "x"}}},
		{Format: FormatTTN, Fields: []Field{{Name: "x"}}},
	} {
		d, err := NewDecoder(c)
		if err != nil {
			t.Fatal(err)
		}
		if d.flat != nil {
			t.Errorf("%+v: flat path planned for a nested or non-flat format", c)
		}
	}
}

// FuzzFlatMatchesTree: for any input, the flat fast path and the fastjson
// tree path produce the same reason, error, readings, keys and stats.
func FuzzFlatMatchesTree(f *testing.F) {
	f.Add("city/d7/air/s-123", []byte(airPayload), arrival)
	f.Add("zigbee2mqtt/x", []byte(z2mPayload), arrival)
	f.Add("city/d7/air/s-123", []byte(`{"id":7,"ts":"2025-11-21T00:00:00.5Z","pm25":"1","temp":true,"hum":null,"0":1}`), arrival)
	f.Add("city/d7/air/s-123", []byte(`{"ts":1763683200123,"pm25":-,"x":{"a":[1]}}`), arrival)
	f.Add("city/d7/air/s-123", []byte(`{"ts":1763683200123,"pm25":-0.5,"pm10":00012,"temp":123456789012345,"hum":1.234567890123456}`), arrival)
	f.Add("city/d7/air/s-123", []byte(`{"ts":17636832001,"pm25":1e3,"pm10":1.,"temp":.5}`), arrival)
	type pair struct{ fast, tree *Decoder }
	var ds []pair
	for _, c := range flatConfigs() {
		fast, tree := treeTwin(f, c)
		ds = append(ds, pair{fast, tree})
	}
	f.Fuzz(func(t *testing.T, topic string, payload []byte, arrivalMs int64) {
		for _, d := range ds {
			checkSameDecode(t, d.fast, d.tree, topic, payload, arrivalMs)
		}
	})
}

// shapePairs are (learnt, next) payloads around every edge of the shape
// match: values that change length or kind, text that changes inside and
// beyond a literal's first 16 bytes, whitespace, tails, truncation.
var shapePairs = [][2]string{
	{airPayload, `{"id":"s-9999","ts":1763683299999,"pm25":1,"pm10":-20.125,"temp":0,"hum":100.5}`},
	{airPayload, `{"id":"","ts":1,"pm25":12.4,"pm10":20.1,"temp":21.4,"hum":55.2}`},
	{airPayload, `{"id":"s-1","ts":1763683200123,"pm25":12.4e1,"pm10":20.1,"temp":21.4,"hum":55.2}`},
	{airPayload, `{"id":"s-1","ts":1763683200123,"pm25":-,"pm10":20.1,"temp":21.4,"hum":55.2}`},
	{airPayload, `{"id":"s-1","ts":1763683200123,"pm25":nan,"pm10":20.1,"temp":21.4,"hum":55.2}`},
	{airPayload, `{"id":"s-1","ts":1763683200123,"pm25":"12.4","pm10":20.1,"temp":21.4,"hum":55.2}`},
	{airPayload, `{"id":"s-1","ts":1763683200123,"pm25":null,"pm10":true,"temp":false,"hum":55.2}`},
	{airPayload, `{"id":"s\"1","ts":1763683200123,"pm25":12.4,"pm10":20.1,"temp":21.4,"hum":55.2}`},
	{airPayload, `{"id":"s-1","ts":1763683200123,"pm25":12.4,"pm10":20.1,"temp":21.4,"hum":55.2 }`},
	{airPayload, `{"id":"s-1","ts":1763683200123,"pm25":12.4,"pm10":20.1,"temp":21.4,"hum":55.2}x`},
	{airPayload, `{"id":"s-1","ts":1763683200123,"pm25":12.4,"pm10":20.1,"temp":21.4,"hum":55.2`},
	{airPayload, `{"id":"s-1","ts":1763683200123,"pm25":12.4,"pm10":20.1,"temp":21.4,"hum":`},
	{airPayload, `{"id":"s-1","ts":1763683200123,"pm25":12.4,"pm10":20.1,"temp":21.4}`},
	{airPayload, `{"id":"s-1","ts":1763683200123,"pm26":12.4,"pm10":20.1,"temp":21.4,"hum":55.2}`},
	{airPayload, `{"id":"s-1","ts":1763683200123,"pm25":12.4,"pm10":20.1,"temp":21.4,"hum":55.2,"x":1}`},
	{airPayload, `{"id":"s-1", "ts":1763683200123,"pm25":12.4,"pm10":20.1,"temp":21.4,"hum":55.2}`},
	{airPayload, `{"id":"s-1","ts":1763683200123,"pm25":{"v":1},"pm10":20.1,"temp":21.4,"hum":55.2}`},
	{airPayload, `{"id":"s-1","ts":1763683200123,"pm25":12.4,"pm10":20.1,"temp":21.4,"hum":55.2} `},
	{airPayload, `{"id":"s-1","ts":"1763683200123","pm25":12.4,"pm10":20.1,"temp":21.4,"hum":55.2}`},
	{`{"ts":1763683200123,"pm25":true}`, `{"ts":1763683200123,"pm25":false}`},
	{`{"ts":1763683200123,"pm25":true}`, `{"ts":1763683200123,"pm25":tru}`},
	{`{"ts":1763683200123,"pm25":false}`, `{"ts":1763683200123,"pm25":null}`},
	{`{"ts":1763683200123,"pm25":1,"pm25":2}`, `{"ts":1763683200123,"pm25":3,"pm25":4}`},
	{`{"ts":1763683200123,"a_very_long_member_name_indeed":1,"pm25":2}`, `{"ts":1763683200123,"a_very_long_member_name_indeeD":1,"pm25":2}`},
	{`{"ts":1763683200123,"a_very_long_member_name_indeed":1,"pm25":2}`, `{"ts":1763683200124,"a_very_long_member_name_indeed":1,"pm25":3}`},
	{`{"ts":1763683200123,"pm25":1}`, `{"ts":1763683200123,"pm25":1}` + strings.Repeat(" ", 600)},
	{`{"ts":1763683200123,"pm25":1}`, `{"ts":1763683200123,"pm25":12345678901234567890}`},
	{`{"ts":1763683200123,"pm25":"1"}`, `{"ts":1763683200123,"pm25":"1\u0032"}`},
	{`{"state":"ON","temperature":21.5}`, `{"state":"OFF","temperature":21.5}`},
	{`{"state":"ON","temperature":21.5}`, `{"state":"on","temperature":21.5}`},
}

// TestShapeMatchesTree: a message matched against the shape learnt from
// the one before decodes exactly as the tree path decodes it, and
// messages that differ only in values do take the shape.
func TestShapeMatchesTree(t *testing.T) {
	long := `{"ts":1763683200123` + strings.Repeat(`,"x":1`, 40) + `,"pm25":1}` // > maxShapeMembers
	big := `{"ts":1763683200123,"pad":"` + strings.Repeat("p", 600) + `","pm25":1}`
	pairs := append(shapePairs, [2]string{long, long}, [2]string{big, big})
	for _, c := range flatConfigs() {
		fast, tree := treeTwin(t, c)
		for _, topic := range []string{"city/d7/air/s-123", "zigbee2mqtt/room/lamp"} {
			for _, pr := range pairs {
				checkSameDecode(t, fast, tree, topic, []byte(pr[0]), arrival)
				checkSameDecode(t, fast, tree, topic, []byte(pr[1]), arrival)
			}
		}
	}
	fast, tree := treeTwin(t, flatConfigs()[0])
	for i, pr := range [][2]string{
		shapePairs[0],
		{airPayload, `{"id":"","ts":1763683200999,"pm25":1.25,"pm10":-3,"temp":2.5,"hum":55}`},
	} {
		checkSameDecode(t, fast, tree, "city/d7/air/s-123", []byte(pr[0]), arrival)
		hits := fast.flat.shapeHits
		var b Batch
		if r, err := fast.Decode("city/d7/air/s-123", []byte(pr[1]), arrival, &b); r != ReasonNone {
			t.Fatal(err)
		}
		if fast.flat.shapeHits != hits+1 {
			t.Errorf("pair %d: a message of the learnt shape missed it", i)
		}
	}
	for _, p := range []string{long, big} {
		checkSameDecode(t, fast, tree, "city/d7/air/s-123", []byte(p), arrival)
		if fast.flat.tmpl.ok {
			t.Errorf("a shape was learnt from a message beyond the limits: %.40q…", p)
		}
	}
}

// FuzzShapeMatchesTree: after learning any first message, any second
// message decodes through the shape exactly as through the tree.
func FuzzShapeMatchesTree(f *testing.F) {
	for _, pr := range shapePairs {
		f.Add([]byte(pr[0]), []byte(pr[1]))
	}
	type pair struct{ fast, tree *Decoder }
	var ds []pair
	for _, c := range flatConfigs() {
		fast, tree := treeTwin(f, c)
		ds = append(ds, pair{fast, tree})
	}
	f.Fuzz(func(t *testing.T, first, second []byte) {
		for _, d := range ds {
			checkSameDecode(t, d.fast, d.tree, "city/d7/air/s-123", first, arrival)
			checkSameDecode(t, d.fast, d.tree, "city/d7/air/s-123", second, arrival)
		}
	})
}
