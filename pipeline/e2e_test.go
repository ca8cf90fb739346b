package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/pipeline"
)

// aggValue is the JSON value of an aggregate record.
type aggValue struct {
	ID       string   `json:"id"`
	Gateway  string   `json:"gateway"`
	Pipeline string   `json:"pipeline"`
	Series   string   `json:"series"`
	Field    string   `json:"field"`
	Window   string   `json:"window"`
	Start    int64    `json:"start"`
	End      int64    `json:"end"`
	Revision uint32   `json:"revision"`
	Count    uint64   `json:"count"`
	Sum      *float64 `json:"sum"`
	Min      *float64 `json:"min"`
	Max      *float64 `json:"max"`
	Mean     *float64 `json:"mean"`
}

func (a aggValue) String() string {
	f := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	return fmt.Sprintf("%s %s [%d,%d) rev %d count %d sum %s min %s max %s mean %s",
		a.Series, a.Field, a.Start, a.End, a.Revision, a.Count, f(a.Sum), f(a.Min), f(a.Max), f(a.Mean))
}

const e2eConfig = `
gateway:
  id: gw-test
  data_dir: %s
  telemetry_interval: 1s
nats:
  mqtt_listen: 127.0.0.1:0
kafka:
  brokers: ["127.0.0.1:9"]
  auto_create_topics: true
sources:
  - name: air
    mqtt:
      broker: %s
      topics: ["city/+/air/+"]
      qos: 1
    decode:
      topic_pattern: "city/{district}/{type}/{id}"
      key: "{district}/{id}"
      time_path: ts
      time_unit: ms
      fields: [{name: pm25}, {name: pm10}]
pipelines:
  - name: air10
    from: [air]
    fields: [pm25]
    window: {type: tumbling, size: 10s, out_of_orderness: 2s}
    aggregates: [count, sum, min, max, mean]
    ring: {shards: 2, capacity: 1024}
    to: {topic: test.air}
`

// startGateway loads cfgText (with %s = data dir) and starts a gateway
// whose Kafka is the given cluster.
func startGateway(t *testing.T, cfgText string, brokers []string) *pipeline.Gateway {
	t.Helper()
	cfg, err := config.LoadBytes("e2e.yaml", []byte(fmt.Sprintf(cfgText, t.TempDir())), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	g, err := pipeline.New(cfg, pipeline.Options{Logger: log, KafkaBrokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Stop(context.Background()) })
	return g
}

func mqttPublisher(t *testing.T, broker string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("e2e-pub").SetCleanSession(true))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func publish(t *testing.T, c mqtt.Client, topic, payload string) {
	t.Helper()
	tok := c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// tumblingScenario is the spine's known input and its exact expected
// output: three sensors, two 10 s windows each, some readings out of order
// within the 2 s bound, then one reading at +40 s per sensor that moves the
// watermark past both windows.
type tumblingScenario struct {
	t0       int64
	messages [][2]string // topic, payload
	want     map[string]string
}

func newTumblingScenario() *tumblingScenario {
	// Event times near now (the decoder rejects readings more than 24h
	// from arrival), aligned to a 10 s window.
	sc := &tumblingScenario{t0: time.Now().Add(-time.Hour).UnixMilli() / 10_000 * 10_000, want: map[string]string{}}
	type reading struct {
		sensor string
		dt     int64 // ms after t0
		pm25   float64
	}
	for _, r := range []reading{
		{"s1", 1_000, 10}, {"s2", 1_500, 3}, {"s1", 4_000, 20}, {"s3", 2_000, 7.5},
		{"s1", 9_999, -5}, {"s2", 3_000, 4}, {"s1", 8_000, 1}, // out of order, within B
		{"s2", 11_000, 100}, {"s1", 12_000, 2}, {"s3", 10_500, 0.25}, {"s1", 10_000, 3},
		{"s2", 10_100, 50}, {"s3", 19_999, 0.75}, {"s2", 18_000, 25},
		{"s1", 40_000, 0}, {"s2", 40_000, 0}, {"s3", 40_000, 0},
	} {
		sc.messages = append(sc.messages, [2]string{"city/d7/air/" + r.sensor,
			fmt.Sprintf(`{"ts":%d,"pm25":%v,"pm10":1}`, sc.t0+r.dt, r.pm25)})
	}
	add := func(series string, start int64, count uint64, sum, min, max float64) {
		a := aggValue{Series: series, Field: "pm25", Start: sc.t0 + start, End: sc.t0 + start + 10_000, Count: count,
			Sum: &sum, Min: &min, Max: &max}
		mean := sum / float64(count)
		a.Mean = &mean
		sc.want[fmt.Sprintf("%s/%d", series, a.Start)] = a.String()
	}
	add("d7/s1", 0, 4, 26, -5, 20)
	add("d7/s2", 0, 2, 7, 3, 4)
	add("d7/s3", 0, 1, 7.5, 7.5, 7.5)
	add("d7/s1", 10_000, 2, 5, 2, 3)
	add("d7/s2", 10_000, 3, 175, 25, 100)
	add("d7/s3", 10_000, 2, 1, 0.25, 0.75)
	return sc
}

// badMessages are counted per reason, never delivered.
func (sc *tumblingScenario) badMessages() [][2]string {
	return [][2]string{
		{"city/d7/air/s1", `{"ts":`},                                      // malformed
		{"city/d7/air/s1", fmt.Sprintf(`{"ts":%d}`, sc.t0+12_500)},        // missing fields
		{"city/d7/air/s1", fmt.Sprintf(`{"ts":%d,"pm25":"high"}`, sc.t0)}, // non-numeric
	}
}

// kv is a Kafka record as any client reads it.
type kv struct {
	key, value, idHeader string
}

// check compares the records read from Kafka with the expected aggregates:
// exact values, one record per window, ids consistent.
func (sc *tumblingScenario) check(t *testing.T, recs []kv) {
	t.Helper()
	got := map[string]string{}
	for _, r := range recs {
		var a aggValue
		if err := json.Unmarshal([]byte(r.value), &a); err != nil {
			t.Fatalf("bad value %s: %v", r.value, err)
		}
		if r.key != a.Series || a.Gateway != "gw-test" || a.Pipeline != "air10" || a.Window != "tumbling" {
			t.Errorf("record identity: key %q value %s", r.key, r.value)
		}
		if (r.idHeader != "" && r.idHeader != a.ID) || !strings.HasSuffix(a.ID, fmt.Sprintf("-%d", a.Start)) {
			t.Errorf("id header %q, value id %q", r.idHeader, a.ID)
		}
		k := fmt.Sprintf("%s/%d", a.Series, a.Start)
		if _, dup := got[k]; dup {
			t.Errorf("window %s emitted twice", k)
		}
		a.ID, a.Gateway, a.Pipeline, a.Window = "", "", "", ""
		got[k] = a.String()
	}
	var diffs []string
	for k, w := range sc.want {
		if got[k] != w {
			diffs = append(diffs, fmt.Sprintf("%s:\n  got  %s\n  want %s", k, got[k], w))
		}
	}
	for k, v := range got {
		if _, ok := sc.want[k]; !ok {
			diffs = append(diffs, "unexpected "+v)
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Fatalf("aggregates differ:\n%s", strings.Join(diffs, "\n"))
	}
}

// TestEndToEndTumbling publishes known readings over MQTT to the embedded
// NATS MQTT listener and checks the exact aggregates that reach Kafka.
func TestEndToEndTumbling(t *testing.T) {
	kc := testenv.Kafka(t)
	g := startGateway(t, fmt.Sprintf(e2eConfig, "%s", "embedded"), kc.ListenAddrs())
	pub := mqttPublisher(t, g.MQTTAddr())
	sc := newTumblingScenario()
	for _, m := range sc.messages {
		publish(t, pub, m[0], m[1])
	}
	for _, m := range sc.badMessages() {
		publish(t, pub, m[0], m[1])
	}
	recs := testenv.Consume(t, kc.ListenAddrs(), "test.air", len(sc.want), 30*time.Second)
	var got []kv
	for _, r := range recs {
		got = append(got, kv{key: string(r.Key), value: string(r.Value), idHeader: testenv.Header(r, "id")})
	}
	sc.check(t, got)

	// The rejects are in /metrics, each under its reason.
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	testenv.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		body := scrape(t, srv.URL+"/metrics")
		for _, line := range []string{
			`edgeplane_ingest_rejected_total{source="air",reason="malformed"} 1`,
			`edgeplane_ingest_rejected_total{source="air",reason="missing_field"} 1`,
			`edgeplane_ingest_rejected_total{source="air",reason="non_numeric"} 1`,
			`edgeplane_ingest_messages_total{source="air"} 20`,
			`edgeplane_operators_windows_fired_total{pipeline="air10"} 6`,
			`edgeplane_sink_kafka_records_total 6`,
		} {
			if !strings.Contains(body, line+"\n") {
				return fmt.Errorf("metrics lack %q in:\n%s", line, body[:min(len(body), 1500)])
			}
		}
		return nil
	})
	if body := scrape(t, srv.URL+"/healthz"); body != "ok\n" {
		t.Errorf("healthz: %q", body)
	}
	if r := g.Ready(); !r.Ready {
		t.Errorf("not ready: %v", r.Problems)
	}

	// The status telemetry reaches Kafka, keyed by gateway id.
	tel := testenv.Consume(t, kc.ListenAddrs(), "edgeplane.telemetry", 1, 15*time.Second)
	if len(tel) == 0 {
		t.Fatal("no telemetry event")
	}
	var ev pipeline.TelemetryEvent
	if err := json.Unmarshal(tel[0].Value, &ev); err != nil {
		t.Fatal(err)
	}
	if string(tel[0].Key) != "gw-test" || ev.Gateway != "gw-test" || ev.Pipelines != 1 || !ev.Sources["air"] || ev.Totals.Messages == 0 {
		t.Errorf("telemetry event %s", tel[0].Value)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := srvClient.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
