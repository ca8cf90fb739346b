package pipeline_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/internal/testenv"
)

const e2eWindowsConfig = `
gateway:
  id: gw-test
  data_dir: %s
nats:
  mqtt_listen: 127.0.0.1:0
kafka:
  brokers: ["127.0.0.1:9"]
  auto_create_topics: true
sources:
  - name: air
    mqtt:
      topics: ["city/+/air/+"]
      qos: 1
    decode:
      topic_pattern: "city/{district}/{type}/{id}"
      key: "{district}/{id}"
      time_path: ts
      time_unit: ms
      fields: [{name: pm25}, {name: temp}]
pipelines:
  - name: hop
    from: [air]
    fields: [pm25]
    window: {type: hopping, size: 10s, advance: 5s, out_of_orderness: 2s, emit: final}
    aggregates: [count, sum, min, max]
    ring: {shards: 2}
    to: {topic: test.hop}
  - name: sess
    from: [air]
    fields: [pm25]
    window: {type: session, gap: 5s, out_of_orderness: 2s}
    aggregates: [count, sum, min, max]
    ring: {shards: 2}
    to: {topic: test.sess}
  - name: conv
    from: [air]
    fields: [temp]
    filter: [{field: temp, min: -40, max: 60}]
    map: [{field: temp, from: C, to: F}]
    dedup: true
    window: {type: tumbling, size: 10s, out_of_orderness: 2s}
    aggregates: [count, sum]
    to: {topic: test.conv}
  - name: tags
    from: [air]
    fields: [pm25]
    filter: [{tag: id, in: [s1]}, {tag: district, not_in: [d0, d1]}]
    window: {type: tumbling, size: 10s, out_of_orderness: 2s}
    aggregates: [count, sum]
    to: {topic: test.tags}
`

type win struct {
	series     string
	start, end int64
	count      int
	sum        float64
}

func (w win) String() string {
	return fmt.Sprintf("%s [%d,%d) count %d sum %g", w.series, w.start, w.end, w.count, w.sum)
}

// TestEndToEndHoppingSessionStateless runs hopping (final mode), session,
// a filter/map/dedup pipeline and one filtering on tags off one MQTT
// source and checks every aggregate against windows computed here by
// brute force.
func TestEndToEndHoppingSessionStateless(t *testing.T) {
	kc := testenv.Kafka(t)
	g := startGateway(t, e2eWindowsConfig, kc.ListenAddrs())
	pub := mqttPublisher(t, g.MQTTAddr())
	t0 := time.Now().Add(-time.Hour).UnixMilli() / 10_000 * 10_000

	type reading struct {
		sensor   string
		dt       int64
		pm25, tc float64
	}
	// In order within the 2 s bound, so nothing is late; the last two
	// readings move the watermark to t0+57999.
	rs := []reading{
		{"s1", 1_000, 10, 20}, {"s2", 1_200, 1, 21}, {"s1", 3_000, 20, 22}, {"s1", 2_500, 5, 99},
		{"s2", 4_000, 2, 23}, {"s1", 12_000, 30, 24}, {"s1", 13_500, 40, 25}, {"s2", 13_000, 3, -50},
		{"s1", 30_000, 50, 26}, {"s2", 31_000, 4, 27}, {"s1", 33_000, 60, 28}, {"s2", 36_500, 5, 29},
		{"s1", 60_000, 0, 0}, {"s2", 60_000, 0, 0},
	}
	for _, r := range rs {
		publish(t, pub, "city/d7/air/"+r.sensor, fmt.Sprintf(`{"ts":%d,"pm25":%v,"temp":%v}`, t0+r.dt, r.pm25, r.tc))
	}
	// A duplicate (same series, field, time) for the dedup pipeline only
	// (the window pipelines do not dedup and count it).
	publish(t, pub, "city/d7/air/s2", fmt.Sprintf(`{"ts":%d,"temp":%v}`, t0+36_500, 29))
	const wm = 60_000 - 2_000 - 1

	// Expected hopping windows: every [5k, 5k+10s) with readings, fired
	// once (final mode) when the watermark passes its end.
	hop := map[string]win{}
	for _, r := range rs {
		for s := (r.dt/5_000)*5_000 - 5_000; s <= r.dt; s += 5_000 {
			if r.dt < s || r.dt >= s+10_000 || s+10_000-1 > wm {
				continue
			}
			k := fmt.Sprintf("d7/%s/%d", r.sensor, s)
			w := hop[k]
			w.series, w.start, w.end = "d7/"+r.sensor, t0+s, t0+s+10_000
			w.count++
			w.sum += r.pm25
			hop[k] = w
		}
	}
	// Expected sessions: gap 5 s, merge when a reading falls within the
	// session or touches its end.
	sess := map[string]win{}
	for _, sensor := range []string{"s1", "s2"} {
		var ts []int64
		val := map[int64]float64{}
		for _, r := range rs {
			if r.sensor == sensor {
				ts = append(ts, r.dt)
				val[r.dt] = r.pm25
			}
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
		var cur *win
		flush := func() {
			if cur != nil && cur.end-t0-1 <= wm {
				sess[fmt.Sprintf("%s/%d", cur.series, cur.start-t0)] = *cur
			}
		}
		for _, x := range ts {
			if cur == nil || t0+x > cur.end {
				flush()
				cur = &win{series: "d7/" + sensor, start: t0 + x}
			}
			cur.end = max(cur.end, t0+x+5_000)
			cur.count++
			cur.sum += val[x]
		}
		flush()
	}
	// Expected conversions: temp in °F, -50 filtered out, the duplicate
	// dropped; tumbling 10 s windows up to the watermark.
	conv := map[string]win{}
	for _, r := range rs {
		if r.tc < -40 || r.tc > 60 {
			continue
		}
		s := r.dt / 10_000 * 10_000
		if s+10_000-1 > wm {
			continue
		}
		k := fmt.Sprintf("d7/%s/%d", r.sensor, s)
		w := conv[k]
		w.series, w.start, w.end = "d7/"+r.sensor, t0+s, t0+s+10_000
		w.count++
		w.sum += r.tc*9/5 + 32
		conv[k] = w
	}

	// Expected with filters on tags: sensor s1's pm25 only; s2's six pm25
	// readings are filtered.
	tags := map[string]win{}
	for _, r := range rs {
		s := r.dt / 10_000 * 10_000
		if r.sensor != "s1" || s+10_000-1 > wm {
			continue
		}
		k := fmt.Sprintf("d7/%s/%d", r.sensor, s)
		w := tags[k]
		w.series, w.start, w.end = "d7/"+r.sensor, t0+s, t0+s+10_000
		w.count++
		w.sum += r.pm25
		tags[k] = w
	}

	check := func(topic string, want map[string]win) {
		t.Helper()
		if len(want) < 3 {
			t.Fatalf("%s: scenario expects only %d windows", topic, len(want))
		}
		recs := testenv.Consume(t, kc.ListenAddrs(), topic, len(want), 30*time.Second)
		got := map[string]win{}
		for _, r := range recs {
			var v struct {
				Series     string
				Start, End int64
				Count      int
				Sum        float64
				Final      bool
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatal(err)
			}
			k := fmt.Sprintf("%s/%d", v.Series, v.Start-t0)
			if _, dup := got[k]; dup {
				t.Errorf("%s: %s emitted twice", topic, k)
			}
			got[k] = win{series: v.Series, start: v.Start, end: v.End, count: v.Count, sum: v.Sum}
		}
		var diffs []string
		for k, w := range want {
			g := got[k]
			if g.series != w.series || g.start != w.start || g.end != w.end || g.count != w.count || fmt.Sprintf("%.9g", g.sum) != fmt.Sprintf("%.9g", w.sum) {
				diffs = append(diffs, fmt.Sprintf("%s: got %v, want %v", k, g, w))
			}
		}
		for k, g := range got {
			if _, ok := want[k]; !ok {
				diffs = append(diffs, "unexpected "+g.String())
			}
		}
		sort.Strings(diffs)
		if len(diffs) > 0 {
			t.Errorf("%s:\n%s", topic, strings.Join(diffs, "\n"))
		}
	}
	check("test.hop", hop)
	check("test.sess", sess)
	check("test.conv", conv)
	check("test.tags", tags)
	const filtered = `edgeplane_operators_filtered_total{pipeline="tags"} 6`
	if body := scrapeHandler(t, g); !strings.Contains(body, filtered) {
		t.Errorf("metrics lack %s", filtered)
	}
}
