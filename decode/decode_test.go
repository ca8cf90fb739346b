package decode

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/record"
)

// arrival is the arrival time of most test messages: 2025-11-21T00:00:00Z.
const arrival int64 = 1763683200000

// rd is an expected reading.
type rd struct {
	key   string
	field uint16
	time  int64
	value float64
	flags uint8
}

const arr = record.FlagArrivalTime

func msOf(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMilli()
}

// checkDecode decodes one message with a fresh decoder for c into a batch
// that already holds one reading, and checks the outcome.
func checkDecode(t *testing.T, c *Options, topic, payload string, arrivalMs int64, wantR Reason, want ...rd) {
	t.Helper()
	d, err := NewDecoder(c)
	if err != nil {
		t.Fatalf("NewDecoder: %v", err)
	}
	var b Batch
	b.keys = append(b.keys, "prev"...)
	b.Readings = append(b.Readings, Reading{keyLen: 4, Value: -1})
	r, err := d.Decode(topic, []byte(payload), arrivalMs, &b)
	if r != wantR {
		t.Fatalf("Decode(%q, %s): reason %v (err %v), want %v", topic, payload, r, err, wantR)
	}
	if (err != nil) != (r != ReasonNone) {
		t.Fatalf("Decode(%q, %s): reason %v with err %v", topic, payload, r, err)
	}
	if r != ReasonNone {
		if len(b.Readings) != 1 || string(b.keys) != "prev" {
			t.Fatalf("rejected message left readings %v keys %q", b.Readings, b.keys)
		}
		return
	}
	got := b.Readings[1:]
	if len(got) != len(want) {
		t.Fatalf("Decode(%q, %s): %d readings, want %d: %+v", topic, payload, len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if k := string(b.Key(i + 1)); k != w.key || g.Field != w.field || g.Time != w.time || g.Value != w.value || g.Flags != w.flags {
			t.Errorf("reading %d: key %q field %d time %d value %v flags %d; want key %q field %d time %d value %v flags %d",
				i, k, g.Field, g.Time, g.Value, g.Flags, w.key, w.field, w.time, w.value, w.flags)
		}
	}
	if string(b.Key(0)) != "prev" {
		t.Fatalf("earlier reading's key changed to %q", b.Key(0))
	}
}

func TestDecodeJSON(t *testing.T) {
	air := &Options{
		TopicPattern: "city/{district}/{type}/{id}",
		TimePath:     "ts",
		Fields:       []Field{{Name: "pm25"}, {Name: "pm10"}, {Name: "temp"}, {Name: "hum"}},
	}
	f := func(c *Options, topic, payload string, wantR Reason, want ...rd) {
		t.Helper()
		checkDecode(t, c, topic, payload, arrival, wantR, want...)
	}
	const topic = "city/d7/air/s-123"
	const ts = 1763683200123
	// The PAYLOADS.md example; key defaults to the topic.
	f(air, topic, `{"id":"s-123","ts":1763683200123,"pm25":12.4,"pm10":20.1,"temp":21.4,"hum":55.2}`, ReasonNone,
		rd{topic, 0, ts, 12.4, 0}, rd{topic, 1, ts, 20.1, 0}, rd{topic, 2, ts, 21.4, 0}, rd{topic, 3, ts, 55.2, 0})
	// Missing fields are skipped; numeric strings and bools are accepted; null is absent.
	f(air, topic, `{"ts":1763683200123,"pm25":"12.5","temp":true,"hum":null}`, ReasonNone,
		rd{topic, 0, ts, 12.5, 0}, rd{topic, 2, ts, 1, 0})
	f(air, topic, `{"ts":1763683200123,"pm10":false}`, ReasonNone, rd{topic, 1, ts, 0, 0})

	// Key from a template and from a JSON path (string or number).
	tmpl := *air
	tmpl.Key = "{district}/{id}"
	f(&tmpl, topic, `{"ts":1763683200123,"pm25":1}`, ReasonNone, rd{"d7/s-123", 0, ts, 1, 0})
	kp := *air
	kp.Key, kp.KeyPath = "{district}", "id"
	f(&kp, topic, `{"id":"s-123","ts":1763683200123,"pm25":1}`, ReasonNone, rd{"s-123", 0, ts, 1, 0})
	f(&kp, topic, `{"id":42,"ts":1763683200123,"pm25":1}`, ReasonNone, rd{"42", 0, ts, 1, 0})
	f(&kp, topic, `{"id":"s\u002d1","ts":1763683200123,"pm25":1}`, ReasonNone, rd{"s-1", 0, ts, 1, 0})
	f(&kp, topic, `{"ts":1763683200123,"pm25":1}`, ReasonMissingField)
	f(&kp, topic, `{"id":"","ts":1763683200123,"pm25":1}`, ReasonMissingField)
	f(&kp, topic, `{"id":{"a":1},"ts":1763683200123,"pm25":1}`, ReasonMalformed)
	f(&kp, topic, `{"id":"`+strings.Repeat("x", MaxKeyLen+1)+`","ts":1763683200123,"pm25":1}`, ReasonMalformed)

	// Time units.
	unit := func(u, path string) *Options {
		c := *air
		c.TimePath = path
		if err := c.TimeUnit.UnmarshalText([]byte(u)); err != nil {
			t.Fatal(err)
		}
		return &c
	}
	f(unit("s", "ts"), topic, `{"ts":1763683200.123,"pm25":1}`, ReasonNone, rd{topic, 0, ts, 1, 0})
	f(unit("s", "ts"), topic, `{"ts":"1763683200","pm25":1}`, ReasonNone, rd{topic, 0, arrival, 1, 0})
	f(unit("ms", "ts"), topic, `{"ts":1763683200123.9,"pm25":1}`, ReasonNone, rd{topic, 0, ts, 1, 0})
	f(unit("us", "ts"), topic, `{"ts":1763683200123999,"pm25":1}`, ReasonNone, rd{topic, 0, ts, 1, 0})
	f(unit("ns", "ts"), topic, `{"ts":1763683200123999999,"pm25":1}`, ReasonNone, rd{topic, 0, ts, 1, 0})
	f(unit("auto", "ts"), topic, `{"ts":1763683200.123,"pm25":1}`, ReasonNone, rd{topic, 0, ts, 1, 0})
	f(unit("auto", "ts"), topic, `{"ts":1.763683200123e9,"pm25":1}`, ReasonNone, rd{topic, 0, ts, 1, 0})
	f(unit("auto", "ts"), topic, `{"ts":1763683200123456,"pm25":1}`, ReasonNone, rd{topic, 0, ts, 1, 0})
	f(unit("auto", "ts"), topic, `{"ts":1763683200123456789,"pm25":1}`, ReasonNone, rd{topic, 0, ts, 1, 0})
	f(unit("auto", "ts"), topic, `{"ts":"1763683200123","pm25":1}`, ReasonNone, rd{topic, 0, ts, 1, 0})
	f(unit("auto", "ts"), topic, `{"ts":"2025-11-21T01:00:00.123+01:00","pm25":1}`, ReasonNone, rd{topic, 0, ts, 1, 0})
	f(unit("rfc3339", "t.0"), topic, `{"t":["2025-11-21T00:00:00.123456Z"],"pm25":1}`, ReasonNone, rd{topic, 0, ts, 1, 0})
	f(unit("rfc3339", "ts"), topic, `{"ts":1763683200,"pm25":1}`, ReasonMalformed)
	f(unit("s", "ts"), topic, `{"ts":"2025-11-21T00:00:00Z","pm25":1}`, ReasonMalformed)
	f(unit("auto", "ts"), topic, `{"ts":"yesterday","pm25":1}`, ReasonMalformed)
	f(unit("auto", "ts"), topic, `{"ts":[1],"pm25":1}`, ReasonMalformed)
	f(unit("auto", "ts"), topic, `{"ts":null,"pm25":1}`, ReasonMissingField)
	f(unit("auto", "ts"), topic, `{"pm25":1}`, ReasonMissingField)
	f(unit("s", "ts"), topic, `{"ts":1e300,"pm25":1}`, ReasonTimeRange)

	// Arrival time when no time_path is configured.
	noTime := *air
	noTime.TimePath = ""
	f(&noTime, topic, `{"ts":1,"pm25":1}`, ReasonNone, rd{topic, 0, arrival, 1, arr})

	// Every reject reason.
	f(air, topic, `{"ts":1763683200123,"pm25":1`, ReasonMalformed)
	f(air, topic, ``, ReasonMalformed)
	f(air, topic, `{"ts":1763683200123,"other":1}`, ReasonMissingField)
	f(air, topic, `{"ts":1763683200123,"pm25":1,"pm10":"n/a"}`, ReasonNonNumeric)
	f(air, topic, `{"ts":1763683200123,"pm25":"NaN"}`, ReasonNonNumeric)
	f(air, topic, `{"ts":1763683200123,"pm25":NaN}`, ReasonNonNumeric)
	f(air, topic, `{"ts":1763683200123,"pm25":{"v":1}}`, ReasonNonNumeric)
	f(air, topic, `{"ts":1763683200123,"pm25":" 1"}`, ReasonNonNumeric)
	big := *air
	big.MaxPayload = 16
	f(&big, topic, `{"ts":1763683200123,"pm25":1}`, ReasonTooLarge)
	f(air, topic, `{"ts":1763596800000,"pm25":1}`, ReasonNone, rd{topic, 0, 1763596800000, 1, 0}) // exactly 24h early
	f(air, topic, `{"ts":1763596799999,"pm25":1}`, ReasonTimeRange)
	f(air, topic, `{"ts":1763769600001,"pm25":1}`, ReasonTimeFuture) // 24h ahead: beyond the default max_future
	noSkew := *air
	noSkew.MaxSkew = -1
	f(&noSkew, topic, `{"ts":1000000000000,"pm25":1}`, ReasonNone, rd{topic, 0, 1000000000000, 1, 0})
	f(&noSkew, topic, `{"ts":1763683500001,"pm25":1}`, ReasonTimeFuture) // max_future still bounds the future
	f(air, "city/d7/air", `{"ts":1763683200123,"pm25":1}`, ReasonTopic)
	f(air, "city/d7/air/s-1/x", `{"ts":1763683200123,"pm25":1}`, ReasonTopic)
	f(air, "town/d7/air/s-1", `{"ts":1763683200123,"pm25":1}`, ReasonTopic)
}

// TestDecodeMaxFuture checks the bounds on event time against arrival:
// max_time_skew behind, min(max_future, max_time_skew) ahead, each on
// its own when the other is disabled, on both decoding paths (flat and
// fastjson) and for SenML.
func TestDecodeMaxFuture(t *testing.T) {
	const topic = "t"
	opts := func(skew, future time.Duration) *Options {
		return &Options{TimePath: "ts", TimeUnit: TimeMS, Fields: []Field{{Name: "v"}}, MaxSkew: skew, MaxFuture: future}
	}
	const (
		sec  = int64(1000)
		min_ = 60 * sec
		hour = 60 * min_
	)
	for _, tc := range []struct {
		name         string
		skew, future time.Duration
		delta        int64 // event time − arrival, ms
		want         Reason
	}{
		{"defaults: on time", 0, 0, 0, ReasonNone},
		{"defaults: 5m ahead", 0, 0, 5 * min_, ReasonNone},
		{"defaults: 5m+1ms ahead", 0, 0, 5*min_ + 1, ReasonTimeFuture},
		{"defaults: 1h ahead", 0, 0, hour, ReasonTimeFuture},
		{"defaults: 24h behind", 0, 0, -24 * hour, ReasonNone},
		{"defaults: 24h+1ms behind", 0, 0, -24*hour - 1, ReasonTimeRange},
		{"max_future 1h", 0, time.Hour, hour, ReasonNone},
		{"max_future 1h: beyond", 0, time.Hour, hour + 1, ReasonTimeFuture},
		{"max_future 1h: the past is max_time_skew's", 0, time.Hour, -2 * hour, ReasonNone},
		{"max_time_skew smaller: bounds the future", time.Minute, time.Hour, min_ + 1, ReasonTimeFuture},
		{"max_time_skew smaller: within", time.Minute, time.Hour, min_, ReasonNone},
		{"max_time_skew smaller: the past", time.Minute, time.Hour, -min_ - 1, ReasonTimeRange},
		{"max_future disabled: max_time_skew bounds the future", 0, NoMaxFuture, 24 * hour, ReasonNone},
		{"max_future disabled: beyond max_time_skew", 0, NoMaxFuture, 24*hour + 1, ReasonTimeFuture},
		{"both disabled", -1, NoMaxFuture, 1000 * 24 * hour, ReasonNone},
		{"max_time_skew disabled: max_future still bounds", -1, 0, 5*min_ + 1, ReasonTimeFuture},
		{"max_time_skew disabled: any past", -1, 0, -1000 * 24 * hour, ReasonNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := arrival + tc.delta
			var want []rd
			if tc.want == ReasonNone {
				want = []rd{{topic, 0, ts, 1, 0}}
			}
			c := opts(tc.skew, tc.future)
			// Flat fast path and, with a nested value, the fastjson path.
			checkDecode(t, c, topic, fmt.Sprintf(`{"ts":%d,"v":1}`, ts), arrival, tc.want, want...)
			checkDecode(t, c, topic, fmt.Sprintf(`{"ts":%d,"v":1,"x":{"y":[1]}}`, ts), arrival, tc.want, want...)
			// SenML: absolute bt, and relative t against arrival.
			sc := &Options{Format: FormatSenML, Fields: []Field{{Name: "v"}}, MaxSkew: tc.skew, MaxFuture: tc.future}
			var sw []rd
			if tc.want == ReasonNone {
				sw = []rd{{"t", 0, ts, 1, 0}}
			}
			checkDecode(t, sc, topic, fmt.Sprintf(`[{"n":"v","v":1,"bt":%d.%03d}]`, ts/1000, ts%1000), arrival, tc.want, sw...)
		})
	}
	// A relative SenML time ahead of arrival is held to the same bound.
	sc := &Options{Format: FormatSenML, Fields: []Field{{Name: "v"}}}
	checkDecode(t, sc, topic, `[{"n":"v","v":1,"t":301}]`, arrival, ReasonTimeFuture)
	checkDecode(t, sc, topic, `[{"n":"v","v":1,"t":300}]`, arrival, ReasonNone, rd{topic, 0, arrival + 300*sec, 1, arr})

	// The error names the bound that refused the time.
	for _, tc := range []struct {
		skew, future time.Duration
		bound        string
	}{{0, 0, "(max_future 300000 ms)"}, {time.Minute, 0, "(max_time_skew 60000 ms)"}, {0, NoMaxFuture, "(max_time_skew 86400000 ms)"}} {
		d, err := NewDecoder(opts(tc.skew, tc.future))
		if err != nil {
			t.Fatal(err)
		}
		var b Batch
		r, err := d.Decode(topic, fmt.Appendf(nil, `{"ts":%d,"v":1}`, arrival+100*hour), arrival, &b)
		if r != ReasonTimeFuture || err == nil || !strings.Contains(err.Error(), tc.bound) {
			t.Errorf("skew %v future %v: %v %v, want time_in_future naming %s", tc.skew, tc.future, r, err, tc.bound)
		}
	}
}

func TestDecodeNGSILD(t *testing.T) {
	c := &Options{
		KeyPath:  "id",
		TimePath: "dateObserved.value.@value",
		TimeUnit: TimeRFC3339,
		Fields:   []Field{{Name: "no2", Path: "NO2.value"}, {Name: "o3", Path: "O3.value"}},
		MaxSkew:  -1,
	}
	const id = "urn:ngsi-ld:AirQualityObserved:Madrid-28079004"
	payload := `{"id":"` + id + `","type":"AirQualityObserved",
 "NO2":{"type":"Property","value":69,"unitCode":"GQ"},
 "dateObserved":{"type":"Property","value":{"@type":"DateTime","@value":"2016-03-15T11:00:00Z"}}}`
	checkDecode(t, c, "ngsi/madrid", payload, arrival, ReasonNone, rd{id, 0, msOf("2016-03-15T11:00:00Z"), 69, 0})
}

func TestDecodeZigbee2MQTT(t *testing.T) {
	c := &Options{
		Format: FormatZigbee2MQTT,
		Fields: []Field{{Name: "temperature"}, {Name: "humidity"}, {Name: "state"}, {Name: "x", Path: "color.x"}},
	}
	f := func(topic, payload string, wantR Reason, want ...rd) {
		t.Helper()
		checkDecode(t, c, topic, payload, arrival, wantR, want...)
	}
	f("zigbee2mqtt/living_room", `{"temperature":27.34,"humidity":44.72}`, ReasonNone,
		rd{"living_room", 0, arrival, 27.34, arr}, rd{"living_room", 1, arrival, 44.72, arr})
	f("zigbee2mqtt/floor1/kitchen/lamp", `{"state":"ON","color":{"x":0.31}}`, ReasonNone,
		rd{"floor1/kitchen/lamp", 2, arrival, 1, arr}, rd{"floor1/kitchen/lamp", 3, arrival, 0.31, arr})
	f("z2m/lamp", `{"state":"OFF"}`, ReasonNone, rd{"lamp", 2, arrival, 0, arr})
	f("zigbee2mqtt/lamp", `{"state":"TOGGLE"}`, ReasonNonNumeric)
	f("zigbee2mqtt/bridge/state", `{"state":"online"}`, ReasonTopic)
	f("zigbee2mqtt/lamp/set", `{"state":"ON"}`, ReasonTopic)
	f("zigbee2mqtt/lamp/availability", `{"state":"online"}`, ReasonTopic)
	f("zigbee2mqtt/lamp/set/state", `{"state":"ON"}`, ReasonTopic)
	f("zigbee2mqtt/lamp/get", `{"state":""}`, ReasonTopic)
	f("zigbee2mqtt/settings/lamp", `{"state":"ON"}`, ReasonNone, rd{"settings/lamp", 2, arrival, 1, arr})
	f("zigbee2mqtt", `{"temperature":1}`, ReasonTopic)
	f("zigbee2mqtt/", `{"temperature":1}`, ReasonTopic)
	f("zigbee2mqtt/lamp", `{"linkquality":10}`, ReasonMissingField)
	f("zigbee2mqtt/lamp", `online`, ReasonMalformed)

	// last_seen as time_path (epoch ms or ISO 8601).
	ls := *c
	ls.TimePath = "last_seen"
	checkDecode(t, &ls, "zigbee2mqtt/s", `{"temperature":1,"last_seen":1763683100000}`, arrival, ReasonNone, rd{"s", 0, 1763683100000, 1, 0})
	checkDecode(t, &ls, "zigbee2mqtt/s", `{"temperature":1,"last_seen":"2025-11-21T00:00:00.5Z"}`, arrival, ReasonNone, rd{"s", 0, arrival + 500, 1, 0})
}

const ttnUplink = `{"end_device_ids":{"device_id":"dev1","application_ids":{"application_id":"app1"},"dev_eui":"0004A30B001C0530"},
 "received_at":"2020-02-12T15:15:46.014773143Z",
 "uplink_message":{"f_cnt":1,"f_port":1,"frm_payload":"gkHe",
   "decoded_payload":{"temperature":1.0,"luminosity":0.64},
   "rx_metadata":[{"gateway_ids":{"gateway_id":"gtw1"},"time":"2020-02-12T15:15:45.787Z","rssi":-35,"snr":5}]}}`

func TestDecodeTTN(t *testing.T) {
	c := &Options{
		Format:       FormatTTN,
		TopicPattern: "v3/{app}@{tenant}/devices/{dev}/up",
		Fields:       []Field{{Name: "temperature"}, {Name: "lux", Path: "luminosity"}},
	}
	now := msOf("2020-02-12T15:15:46.1Z")
	f := func(c *Options, payload string, wantR Reason, want ...rd) {
		t.Helper()
		checkDecode(t, c, "v3/app1@ttn/devices/dev1/up", payload, now, wantR, want...)
	}
	// The default time is received_at, not the radio gateway's clock.
	ra := msOf("2020-02-12T15:15:46.014Z")
	f(c, ttnUplink, ReasonNone, rd{"dev1", 0, ra, 1, 0}, rd{"dev1", 1, ra, 0.64, 0})
	// A gateway clock 30 minutes fast does not matter by default.
	fast := strings.Replace(ttnUplink, `"time":"2020-02-12T15:15:45.787Z"`, `"time":"2020-02-12T15:45:45.787Z"`, 1)
	f(c, fast, ReasonNone, rd{"dev1", 0, ra, 1, 0}, rd{"dev1", 1, ra, 0.64, 0})
	// The radio metadata time stays selectable with time_path, and is
	// then held to max_future.
	rxc := *c
	rxc.TimePath = "uplink_message.rx_metadata.0.time"
	rx := msOf("2020-02-12T15:15:45.787Z")
	f(&rxc, ttnUplink, ReasonNone, rd{"dev1", 0, rx, 1, 0}, rd{"dev1", 1, rx, 0.64, 0})
	f(&rxc, fast, ReasonTimeFuture)
	f(&rxc, strings.Replace(ttnUplink, `"time":"2020-02-12T15:15:45.787Z",`, "", 1), ReasonMissingField)

	// Fallback to uplink_message.received_at, then to arrival.
	noRA := strings.Replace(ttnUplink, `"received_at":"2020-02-12T15:15:46.014773143Z",`, "", 1)
	f(c, noRA, ReasonNone, rd{"dev1", 0, now, 1, arr}, rd{"dev1", 1, now, 0.64, arr})
	nsRA := strings.Replace(noRA, `"f_cnt":1,`, `"f_cnt":1,"received_at":"2020-02-12T15:15:45.9Z",`, 1)
	ns := msOf("2020-02-12T15:15:45.9Z")
	f(c, nsRA, ReasonNone, rd{"dev1", 0, ns, 1, 0}, rd{"dev1", 1, ns, 0.64, 0})
	f(c, strings.Replace(ttnUplink, "46.014773143Z", "46.014773143", 1), ReasonMalformed)

	// Key from the topic, missing device id, wrong topic, no decoded payload.
	tk := *c
	tk.Key = "{tenant}/{app}/{dev}"
	f(&tk, ttnUplink, ReasonNone, rd{"ttn/app1/dev1", 0, ra, 1, 0}, rd{"ttn/app1/dev1", 1, ra, 0.64, 0})
	f(c, strings.Replace(ttnUplink, `"device_id":"dev1",`, "", 1), ReasonMissingField)
	f(c, `{"end_device_ids":{"device_id":"dev1"},"join_accept":{}}`, ReasonMissingField)
	checkDecode(t, c, "v3/app1/devices/dev1/up", ttnUplink, now, ReasonTopic)
	checkDecode(t, c, "v3/app1@ttn/devices/dev1/join", ttnUplink, now, ReasonTopic)
	// A 2020 uplink arriving now is out of range with the default skew.
	checkDecode(t, c, "v3/app1@ttn/devices/dev1/up", ttnUplink, arrival, ReasonTimeRange)
}

func TestDecodeSenML(t *testing.T) {
	c := &Options{
		Format: FormatSenML,
		Fields: []Field{{Name: "voltage"}, {Name: "current"}, {Name: "temp", Path: "temperature"}},
	}
	f := func(c *Options, payload string, wantR Reason, want ...rd) {
		t.Helper()
		checkDecode(t, c, "senml/dev", payload, arrival, wantR, want...)
	}
	const bn = "urn:dev:ow:10e2073a01080063:"
	// The PAYLOADS.md example: bn and bt carried to the second record, t relative to bt.
	f(c, `[{"bn":"urn:dev:ow:10e2073a01080063:","bt":1.7636832e9,"n":"voltage","u":"V","v":120.1},
 {"n":"current","u":"A","v":1.2,"t":-5}]`, ReasonNone,
		rd{bn, 0, 1763683200000, 120.1, 0}, rd{bn, 1, 1763683195000, 1.2, 0})
	// Relative time (below 2^28): against arrival; no bn: the topic is the key.
	f(c, `[{"n":"temperature","v":21.5,"t":-10},{"n":"voltage","v":3}]`, ReasonNone,
		rd{"senml/dev", 2, arrival - 10000, 21.5, arr}, rd{"senml/dev", 0, arrival, 3, arr})
	// bv added to v; fractional bt+t rounded to ms; vs/vb/vd/s and unmatched names skipped.
	f(c, `[{"bn":"d1/","bt":1763683200.5,"bv":100,"n":"voltage","v":20,"t":0.0004},
 {"n":"voltage","vs":"high"},{"n":"current","vb":true},{"n":"current","vd":"aGk="},{"n":"current","s":5},
 {"n":"power","v":7},{"n":"current","v":-1,"t":-0.25}]`, ReasonNone,
		rd{"d1/", 0, 1763683200500, 120, 0}, rd{"d1/", 1, 1763683200250, 99, 0})
	// bn changing within a pack changes the key.
	f(c, `[{"bn":"a:","n":"voltage","v":1,"bt":1763683200},{"bn":"b:","n":"voltage","v":2},{"n":"current","v":3}]`, ReasonNone,
		rd{"a:", 0, arrival, 1, 0}, rd{"b:", 0, arrival, 2, 0}, rd{"b:", 1, arrival, 3, 0})
	// Key from the topic.
	tk := *c
	tk.TopicPattern, tk.Key = "senml/{dev}", "dev-{dev}"
	f(&tk, `[{"bn":"x","n":"voltage","v":1}]`, ReasonNone, rd{"dev-dev", 0, arrival, 1, arr})

	f(c, `{"n":"voltage","v":1}`, ReasonMalformed)
	f(c, `[1]`, ReasonMalformed)
	f(c, `[{"n":"voltage","v":"1"}]`, ReasonMalformed)
	f(c, `[{"n":5,"v":1}]`, ReasonMalformed)
	f(c, `[{"bt":"now","n":"voltage","v":1}]`, ReasonMalformed)
	f(c, `[{"n":"voltage","v":1,"rt_":1}]`, ReasonMalformed)
	f(c, `[{"n":"voltage","v":1,"ext":1}]`, ReasonNone, rd{"senml/dev", 0, arrival, 1, arr})
	f(c, `[]`, ReasonMissingField)
	f(c, `[{"n":"power","v":1},{"n":"voltage","vs":"x"}]`, ReasonMissingField)
	f(c, `[{"n":"voltage","v":1e308,"bv":1e308}]`, ReasonNonNumeric)
	f(c, `[{"n":"voltage","v":1,"bt":1000000000}]`, ReasonTimeRange)
	f(c, `[{"n":"voltage","v":1,"t":-100000}]`, ReasonTimeRange)
	f(c, `[{"n":"voltage","v":1,"t":1e300}]`, ReasonTimeRange)
}

func TestDecodeStats(t *testing.T) {
	d, err := NewDecoder(&Options{Format: FormatSenML, Fields: []Field{{Name: "a"}}})
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	if r, err := d.Decode("t", []byte(`[{"n":"a","v":1},{"n":"b","v":1},{"n":"a","vs":"x"}]`), arrival, &b); r != ReasonNone {
		t.Fatal(r, err)
	}
	if got := d.Stats(); got != (DecodeStats{SenMLNotV: 1, SenMLUnmatched: 1}) {
		t.Fatalf("stats %+v", got)
	}
	d.ResetStats()
	if got := d.Stats(); got != (DecodeStats{}) {
		t.Fatalf("stats after reset %+v", got)
	}

	d, _ = NewDecoder(&Options{Fields: []Field{{Name: "a"}, {Name: "b"}}})
	d.Decode("t", []byte(`{"a":1}`), arrival, &b)
	d.Decode("t", []byte(`{"c":1}`), arrival, &b) // rejected: not counted
	if got := d.Stats(); got != (DecodeStats{MissingFields: 1}) {
		t.Fatalf("stats %+v", got)
	}
}

func TestDecodeBatchReuse(t *testing.T) {
	d, err := NewDecoder(&Options{Fields: []Field{{Name: "a"}}})
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	for i, topic := range []string{"x/1", "x/22", "x/333"} {
		if r, err := d.Decode(topic, []byte(`{"a":1}`), arrival, &b); r != ReasonNone {
			t.Fatal(r, err)
		}
		if got := string(b.Key(i)); got != topic {
			t.Fatalf("key %d = %q, want %q", i, got, topic)
		}
	}
	if got := string(b.Key(0)); got != "x/1" {
		t.Fatalf("key 0 = %q after appends", got)
	}
	b.Reset()
	if len(b.Readings) != 0 || len(b.keys) != 0 {
		t.Fatal("Reset left data")
	}
}

func TestDecodeReasonString(t *testing.T) {
	want := []string{"none", "malformed", "missing_field", "non_numeric", "too_large", "time_out_of_range", "topic_mismatch", "rate_limited", "time_in_future"}
	for r := range NumReasons {
		if r.String() != want[r] {
			t.Errorf("Reason(%d) = %q, want %q", r, r.String(), want[r])
		}
	}
	if NumReasons.String() != "reason_9" {
		t.Errorf("NumReasons.String() = %q", NumReasons.String())
	}
}

func TestDecodeConfigValidate(t *testing.T) {
	f := func(c Options, want ...string) {
		t.Helper()
		var ps record.OptionErrors
		errors.As(c.Validate(), &ps)
		var got []string
		for _, p := range ps {
			got = append(got, p.Option)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("Validate(%+v) = %v, want paths %v", c, ps, want)
		}
		_, err := NewDecoder(&c)
		if (err != nil) != (len(want) > 0) {
			t.Fatalf("NewDecoder(%+v) error %v, want problems %v", c, err, want)
		}
	}
	one := []Field{{Name: "a"}}
	f(Options{Fields: one})
	f(Options{Format: FormatTTN, Fields: one, TopicPattern: "v3/{app}@{tenant}/devices/{dev}/up", Key: "{tenant}-{dev}"})
	f(Options{Format: FormatSenML, Fields: []Field{{Name: "a", Path: "weird.name[0]"}}})
	f(Options{TimePath: "a.0.b", TimeUnit: TimeNS, MaxSkew: -1, MaxPayload: 10, Fields: one})
	f(Options{}, "fields")
	f(Options{Format: FormatZigbee2MQTT + 1, Fields: one}, "format")
	f(Options{Fields: []Field{{Name: "a"}, {Name: "a"}, {Path: "x"}, {Name: "b", Path: "a[0].b"}, {Name: "c", Path: "a..b"}}},
		"fields[1].name", "fields[2].name", "fields[3].path", "fields[4].path")
	f(Options{Key: "{id}", Fields: one}, "key")
	f(Options{TopicPattern: "a/{id}", Key: "{idx}", Fields: one}, "key")
	f(Options{TopicPattern: "a/{id", Key: "{id}", Fields: one}, "topic_pattern")
	f(Options{TimeUnit: TimeMS, Fields: one}, "time_unit")
	f(Options{TimePath: "t", TimeUnit: TimeRFC3339 + 1, Fields: one}, "time_unit")
	f(Options{Format: FormatSenML, KeyPath: "id", TimePath: "t", Fields: one}, "key_path", "time_path")
	f(Options{MaxPayload: -1, Fields: one}, "max_payload")
	f(Options{MaxPayload: MaxPayloadLimit + 1, Fields: one}, "max_payload")
	f(Options{MaxFuture: NoMaxFuture, Fields: one})
	f(Options{MaxFuture: time.Minute, Fields: one})
	f(Options{MaxFuture: -time.Minute, Fields: one}, "max_future")
	f(Options{MaxFuture: -2, Fields: one}, "max_future")
	// Every problem at once.
	f(Options{Format: 9, TopicPattern: "#/a", KeyPath: ".", TimeUnit: 9, MaxPayload: -5},
		"format", "topic_pattern", "key_path", "time_unit", "fields", "max_payload")

	_, err := NewDecoder(&Options{Format: 9})
	if err == nil || !strings.Contains(err.Error(), "format: unknown format") || !strings.Contains(err.Error(), "fields: at least one") {
		t.Fatalf("NewDecoder error %v", err)
	}
	var oe *record.OptionError
	if !errors.As(err, &oe) {
		t.Fatalf("error %T, want record.OptionErrors", err)
	}
	for _, name := range []string{"json", "senml", "ttn", "zigbee2mqtt"} {
		var f Format
		if f.UnmarshalText([]byte(name)) != nil || f.String() != name {
			t.Fatalf("format %q round trip: %v", name, f)
		}
	}
	var u TimeUnit
	if err := u.UnmarshalText([]byte("minutes")); err == nil {
		t.Fatal("time unit minutes accepted")
	}
}

func TestDecodeParseNumTime(t *testing.T) {
	f := func(s string, u TimeUnit, want int64, wantOK bool) {
		t.Helper()
		got, ok, _ := parseNumTime([]byte(s), u)
		if ok != wantOK || (ok && got != want) {
			t.Fatalf("parseNumTime(%q, %v) = %d, %v; want %d, %v", s, u, got, ok, want, wantOK)
		}
	}
	f("0", TimeS, 0, true)
	f("0.0e10", TimeS, 0, true)
	f("1", TimeS, 1000, true)
	f("1.5", TimeS, 1500, true)
	f("-1.5", TimeS, -1500, true)
	f("-0.0001", TimeS, -1, true)
	f("0.0009", TimeS, 0, true)
	f("1e3", TimeMS, 1000, true)
	f("1E-3", TimeS, 1, true)
	f("12345678901234567890123e-10", TimeUS, 1234567890, true)
	f("1763683200123999", TimeUS, 1763683200123, true)
	f("-1763683200123999", TimeUS, -1763683200124, true)
	f("1763683200.123", TimeS, 1763683200123, true)
	f("1763683200.1239999999999999999999999", TimeS, 1763683200123, true)
	f("1763683200.123000000000000000000001", TimeS, 1763683200123, true)
	f("-1763683200.123000000000000000000001", TimeS, -1763683200124, true)
	f("253402300799.999", TimeS, maxTimeMs, true)
	f("253402300800", TimeS, 0, false)
	f("1e999999999999", TimeS, 0, false)
	f("1e-999999999999", TimeS, 0, true)
	f("99999999999", TimeAuto, 99999999999000, true)   // < 1e11: seconds
	f("100000000000", TimeAuto, 100000000000, true)    // ms
	f("100000000000000", TimeAuto, 100000000000, true) // µs
	f("100000000000000000", TimeAuto, 100000000000, true)
	f("", TimeS, 0, false)
	f("-", TimeS, 0, false)
	f(".", TimeS, 0, false)
	f("1e", TimeS, 0, false)
	f("1e+", TimeS, 0, false)
	f("1.2.3", TimeS, 0, false)
	f("1x", TimeS, 0, false)
	f("NaN", TimeS, 0, false)
	f("Inf", TimeS, 0, false)
	f("0x10", TimeS, 0, false)
}

func TestDecodeParseRFC3339(t *testing.T) {
	f := func(s string, wantOK bool) {
		t.Helper()
		got, ok := parseRFC3339([]byte(s))
		if ok != wantOK {
			t.Fatalf("parseRFC3339(%q) ok = %v, want %v", s, ok, wantOK)
		}
		if !ok {
			return
		}
		norm := strings.NewReplacer("t", "T", "z", "Z", " ", "T", ",", ".").Replace(s)
		want, err := time.Parse(time.RFC3339Nano, norm)
		if err != nil {
			t.Fatalf("time.Parse(%q): %v", norm, err)
		}
		if got != want.UnixMilli() {
			t.Fatalf("parseRFC3339(%q) = %d, want %d", s, got, want.UnixMilli())
		}
	}
	f("2020-02-12T15:15:45.787Z", true)
	f("2020-02-12T15:15:46.014773143Z", true)
	f("2016-03-15T11:00:00Z", true)
	f("2016-03-15T13:00:00.5+02:00", true)
	f("2016-03-15T08:30:00.999999-02:30", true)
	f("1969-12-31T23:59:59.9991Z", true)
	f("0001-01-01T00:00:00Z", true)
	f("9999-12-31T23:59:59.999999999Z", true)
	f("2024-02-29T00:00:00Z", true)
	f("2000-02-29T00:00:00Z", true)
	f("2016-03-15t11:00:00z", true)
	f("2016-03-15 11:00:00Z", true)
	f("2016-03-15T11:00:00,25Z", true)
	f("2023-02-29T00:00:00Z", false)
	f("1900-02-29T00:00:00Z", false)
	f("2016-04-31T00:00:00Z", false)
	f("2016-13-01T00:00:00Z", false)
	f("2016-00-01T00:00:00Z", false)
	f("2016-03-15T24:00:00Z", false)
	f("2016-03-15T23:60:00Z", false)
	f("2016-12-31T23:59:60Z", false)
	f("2016-03-15T11:00:00", false)
	f("2016-03-15T11:00:00.Z", false)
	f("2016-03-15T11:00:00+0200", false)
	f("2016-03-15T11:00:00+24:00", false)
	f("2016-03-15T11:00:00+02:60", false)
	f("2016-03-15T11:00:00Z ", false)
	f("2016-3-15T11:00:00Z", false)
	f("20160315T110000Z", false)
	f("", false)
}

func TestDecodeRetainsNothing(t *testing.T) {
	d, err := NewDecoder(&Options{Format: FormatSenML, TopicPattern: "s/{id}", Key: "{id}", Fields: []Field{{Name: "a"}}})
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	for _, topic := range []string{"s/1", "x/1"} {
		d.Decode(topic, []byte(`[{"bn":"dev","n":"a","v":1}]`), arrival, &b)
		// The decoder keeps no topic variables of its own; the batch
		// holds them only for a topic that matched.
		if want := topic == "s/1"; (len(b.Vars) == 1 && b.Vars[0] == "1") != want || !want && len(b.Vars) != 0 {
			t.Fatalf("topic %q: batch vars %q", topic, b.Vars)
		}
		if vs := b.Vars[:cap(b.Vars)]; topic != "s/1" && len(vs) > 0 && vs[0] != "" {
			t.Fatalf("topic %q: a variable of the earlier topic kept: %q", topic, vs)
		}
		if d.senml.bn != nil || d.senml.n != nil {
			t.Fatalf("topic %q: SenML names kept after Decode", topic)
		}
	}
}

// TestDecodeParallel runs one decoder per goroutine over a shared config,
// the documented way to decode concurrently; run it with -race.
func TestDecodeParallel(t *testing.T) {
	c := &Options{TopicPattern: "city/{district}/{type}/{id}", Key: "{id}", TimePath: "ts",
		Fields: []Field{{Name: "pm25"}, {Name: "pm10"}}}
	done := make(chan error, 2)
	for range 2 {
		go func() {
			d, err := NewDecoder(c)
			if err != nil {
				done <- err
				return
			}
			var b Batch
			for range 200 {
				b.Reset()
				if r, err := d.Decode("city/d7/air/s-123", []byte(airPayload), arrival, &b); r != ReasonNone {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
