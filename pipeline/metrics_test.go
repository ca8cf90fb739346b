package pipeline_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/internal/testenv"
)

// metricsConfig has two sources and two pipelines, so that every
// per-source and per-pipeline family has more than one series.
const metricsConfig = `
gateway:
  id: gw-metrics
  data_dir: %s
  http_listen: "off"
nats:
  mqtt_listen: 127.0.0.1:0
kafka:
  brokers: ["127.0.0.1:9"]
  auto_create_topics: true
sources:
` + airSourceYAML + `  - name: noise
    mqtt:
      broker: embedded
      topics: ["city/+/noise/+"]
      qos: 1
    decode:
      topic_pattern: "city/{district}/{type}/{id}"
      key: "{district}/{id}"
      time_path: ts
      time_unit: ms
      fields: [{name: db}]
pipelines:
  - name: air1s
    from: [air]
    window: {type: tumbling, size: 1s, out_of_orderness: 1s, idle_timeout: 1s}
    aggregates: [count, mean]
    to: {topic: test.metrics.air}
  - name: noise1s
    from: [noise]
    window: {type: tumbling, size: 1s, out_of_orderness: 1s, idle_timeout: 1s, max_open_windows: 1}
    aggregates: [max]
    to: {topic: test.metrics.noise}
`

// TestMetricsExposition starts a gateway in-process with two sources and
// two pipelines, gets aggregates to Kafka and a reject counted, and checks
// /metrics with checkExposition, with the library's metadata off (the
// default) and on (as cmd/edgeplane sets it): one HELP with text and one
// TYPE line per family, each family's samples together after them.
func TestMetricsExposition(t *testing.T) {
	kc := testenv.Kafka(t)
	g := startGateway(t, metricsConfig, kc.ListenAddrs())
	pub := mqttPublisher(t, g.MQTTAddr())
	t0 := time.Now().Add(-time.Minute).UnixMilli() / 1000 * 1000
	for _, kind := range []string{"air", "noise"} {
		field := map[string]string{"air": "pm25", "noise": "db"}[kind]
		publish(t, pub, "city/d1/"+kind+"/s1", fmt.Sprintf(`{"ts":%d,"%s":10}`, t0, field))
		if kind == "noise" {
			// s1's next window while its first is open (right after it,
			// well within idle_timeout): noise1s holds one open window
			// per series and field, and refuses the reading.
			publish(t, pub, "city/d1/noise/s1", fmt.Sprintf(`{"ts":%d,"db":12}`, t0+1000))
		}
		publish(t, pub, "city/d1/"+kind+"/s1", `{"ts":`)
		publish(t, pub, "city/d1/"+kind+"/s2", fmt.Sprintf(`{"ts":%d,"%s":11}`, t0+20000, field))
	}
	testenv.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		// Series scope: each sensor's window closes idle_timeout after its
		// reading, by the wall clock.
		if s := g.Snapshot(); s.KafkaRecords < 4 || s.Rejected < 2 || s.OperatorsRefused < 1 {
			return fmt.Errorf("aggregates not in Kafka yet: %+v", s)
		}
		return nil
	})
	// The in-process snapshot (edgebench's embedded runs) counts what
	// /metrics counts.
	if s := g.Snapshot(); s.OperatorsRefused != 1 || s.ClosedRefused != 0 || s.SeriesRefused != 0 {
		t.Errorf("snapshot refusals: %+v", s)
	}

	// The memory estimate validation checks against gateway.memory_limit
	// (default 256 MiB), by pipeline and component.
	mem := g.Memory()
	var noise config.PipelineMemory
	for _, pm := range mem.Pipelines {
		if pm.Name == "noise1s" {
			noise = pm
		}
	}
	if mem.Limit != config.DefaultMemoryLimit || noise.Windows() <= 0 || noise.Rings() <= 0 {
		t.Fatalf("memory estimate %+v", mem)
	}

	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	for _, meta := range []bool{false, true} {
		metrics.ExposeMetadata(meta)
		resp, err := srvClient.Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
			t.Errorf("Content-Type %q", ct)
		}
		text := string(b)
		for _, p := range checkExposition(text) {
			t.Errorf("metadata %v: %s", meta, p)
		}
		for _, want := range []string{
			`edgeplane_ingest_messages_total{source="air"} 3`,
			`edgeplane_ingest_messages_total{source="noise"} 4`,
			`edgeplane_operators_refused_total{pipeline="noise1s"} 1`,
			`edgeplane_operators_refused_total{pipeline="air1s"} 0`,
			`edgeplane_ingest_rejected_total{source="noise",reason="malformed"} 1`,
			`edgeplane_operators_windows_fired_total{pipeline="noise1s"} 2`,
			`edgeplane_operators_sketches_refused_total{pipeline="noise1s"} 0`,
			`edgeplane_pipeline_series_idle{pipeline="noise1s"} 2`,
			`edgeplane_sink_kafka_errors_total{type="timeout"} 0`,
			"# TYPE edgeplane_sink_latency_seconds histogram",
			"# TYPE go_gc_duration_seconds summary",
			"# TYPE process_io_read_bytes_total counter",
			"# TYPE go_cgo_calls_total counter",
			"# HELP go_memlimit_bytes ",
			"# HELP edgeplane_memory_state_bytes ",
			fmt.Sprintf("edgeplane_memory_limit_bytes %d", mem.Limit),
			fmt.Sprintf("edgeplane_memory_fixed_bytes %d", mem.Fixed),
			fmt.Sprintf(`edgeplane_memory_state_bytes{pipeline="noise1s",component="windows"} %d`, noise.Windows()),
			fmt.Sprintf(`edgeplane_memory_state_bytes{pipeline="noise1s",component="sketches"} %d`, noise.Sketches()),
			fmt.Sprintf(`edgeplane_memory_state_bytes{pipeline="noise1s",component="rings"} %d`, noise.Rings()),
		} {
			if !strings.HasSuffix(want, " ") {
				want += "\n" // a whole line
			}
			if !strings.Contains(text, want) {
				t.Errorf("metadata %v: /metrics lacks %q", meta, want)
			}
		}
		if t.Failed() {
			t.Logf("/metrics:\n%s", text)
			break
		}
	}
	metrics.ExposeMetadata(false)
}
