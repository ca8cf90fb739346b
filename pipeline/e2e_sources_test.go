package pipeline_test

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/edgeplane/edgeplane/internal/testenv"
)

const e2eSourcesConfig = `
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
    type: embedded
    embedded:
      topics: ["city/+/air/+"]
    dead_letter: true
    decode:
      topic_pattern: "city/{district}/{type}/{id}"
      key: "{district}/{id}"
      time_path: ts
      time_unit: ms
      fields: [{name: pm25}, {name: pm10}]
  - name: ws
    type: websocket
    websocket:
      listen: %s
      path: /ingest/
      token: secret-token
    decode:
      topic_pattern: "city/{district}/{type}/{id}"
      key: "{district}/{id}"
      time_path: ts
      time_unit: ms
      fields: [{name: pm25}]
pipelines:
  - name: air10
    from: [air, ws]
    fields: [pm25]
    window: {type: tumbling, size: 10s, out_of_orderness: 2s, idle_timeout: 1h}
    aggregates: [count, sum, min, max, mean]
    ring: {shards: 2, capacity: 1024}
    to: {topic: test.air}
`

// TestEndToEndEmbeddedAndWebSocket feeds one pipeline from the embedded
// listener taken in-process and from a WebSocket endpoint (NDJSON frames),
// checks the exact aggregates, the rejects' dead letters, and the
// WebSocket's bearer-token check.
func TestEndToEndEmbeddedAndWebSocket(t *testing.T) {
	kc := testenv.Kafka(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wsAddr := ln.Addr().String()
	ln.Close()
	g := startGateway(t, strings.Replace(e2eSourcesConfig, "listen: %s", "listen: "+wsAddr, 1), kc.ListenAddrs())

	// Without the token the upgrade is refused.
	if _, resp, err := websocket.DefaultDialer.Dial("ws://"+wsAddr+"/ingest/city/d7/air/s9", nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial without token: %v %v", resp, err)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+wsAddr+"/ingest/city/d7/air/s9",
		http.Header{"Authorization": {"Bearer secret-token"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()

	sc := newTumblingScenario()
	// s1..s3 through the embedded listener; a fourth sensor through the
	// WebSocket: one NDJSON frame of two readings in [t0, t0+10s), one in
	// the next window. The two sources share the pipeline's watermark, so
	// both must have data before windows fire (no idle timeout here).
	frame := fmt.Sprintf("{\"ts\":%d,\"pm25\":1.5}\n{\"ts\":%d,\"pm25\":2.5}\n", sc.t0+500, sc.t0+9_000)
	if err := ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		t.Fatal(err)
	}
	pub := mqttPublisher(t, g.MQTTAddr())
	for _, m := range sc.messages {
		publish(t, pub, m[0], m[1])
	}
	for _, m := range sc.badMessages() {
		publish(t, pub, m[0], m[1])
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`[{"ts":%d,"pm25":7},{"ts":%d,"pm25":3}]`, sc.t0+15_000, sc.t0+40_000))); err != nil {
		t.Fatal(err)
	}
	add := func(start int64, count uint64, sum, min, max float64) {
		a := aggValue{Series: "d7/s9", Field: "pm25", Start: sc.t0 + start, End: sc.t0 + start + 10_000, Count: count, Sum: &sum, Min: &min, Max: &max}
		mean := sum / float64(count)
		a.Mean = &mean
		sc.want[fmt.Sprintf("%s/%d", a.Series, a.Start)] = a.String()
	}
	add(0, 2, 4, 1.5, 2.5)
	add(10_000, 1, 7, 7, 7)

	recs := testenv.Consume(t, kc.ListenAddrs(), "test.air", len(sc.want), 30*time.Second)
	var got []kv
	for _, r := range recs {
		got = append(got, kv{key: string(r.Key), value: string(r.Value), idHeader: testenv.Header(r, "id")})
	}
	sc.check(t, got)

	testenv.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		body := scrapeHandler(t, g)
		for _, line := range []string{
			`edgeplane_ingest_rejected_total{source="air",reason="malformed"} 1`,
			`edgeplane_ingest_dead_letters_published_total 3`,
			`edgeplane_ingest_records_total{source="ws"} 4`,
		} {
			if !strings.Contains(body, line+"\n") {
				return fmt.Errorf("metrics lack %q", line)
			}
		}
		return nil
	})
}
