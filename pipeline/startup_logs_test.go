package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/pipeline"
)

// logBuffer collects a gateway's text log; safe for concurrent writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the log's lines.
func (l *logBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSpace(l.b.String()), "\n")
}

var msgRe = regexp.MustCompile(`level=(\w+) msg=("(?:[^"\\]|\\.)*"|\S+)`)

// byMessage counts the WARN and ERROR lines per message.
func byMessage(lines []string) map[string]int {
	n := map[string]int{}
	for _, l := range lines {
		if m := msgRe.FindStringSubmatch(l); m != nil && (m[1] == "WARN" || m[1] == "ERROR") {
			msg, err := strconv.Unquote(m[2])
			if err != nil {
				msg = m[2]
			}
			n[msg]++
		}
	}
	return n
}

// newLoggedGateway builds (does not start) a gateway from cfgText, whose
// log goes to the returned buffer (and to stderr with -v).
func newLoggedGateway(t *testing.T, cfgText string) (*pipeline.Gateway, *logBuffer) {
	t.Helper()
	cfg, err := config.LoadBytes("startup.yaml", []byte(cfgText), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	var w io.Writer = logs
	if testing.Verbose() {
		w = io.MultiWriter(logs, os.Stderr)
	}
	g, err := pipeline.New(cfg, pipeline.Options{Logger: slog.New(slog.NewTextHandler(w, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return g, logs
}

const mqttDownConfig = `
gateway:
  id: gw-start
  data_dir: %s
nats:
  mqtt_listen: 127.0.0.1:0
kafka:
  brokers: ["127.0.0.1:9"]
sources:
  - name: air
    mqtt:
      broker: tcp://%s
      topics: ["city/+/air/+"]
      qos: 1
    decode:
      topic_pattern: "city/{district}/{type}/{id}"
      key: "{district}/{id}"
      fields: [{name: pm25}]
  - name: ws
    type: websocket
    websocket:
      listen: %s
      path: /ingest/
      token: secret-token
    decode:
      topic_pattern: "city/{district}/{type}/{id}"
      key: "{district}/{id}"
      fields: [{name: pm25}]
pipelines:
  - name: air10
    from: [air, ws]
    fields: [pm25]
    window: {type: tumbling, size: 10s}
    aggregates: [count]
    to: {topic: test.air}
`

// TestStartDoesNotWaitForMQTT: with the MQTT broker's port closed, Start
// returns after its one-second grace; /healthz answers, the WebSocket
// source listens, /readyz says the MQTT source is not connected, and the
// unreachable broker is logged once (rate-limited) while paho retries.
func TestStartDoesNotWaitForMQTT(t *testing.T) {
	wsAddr := testenv.FreeAddr(t)
	g, logs := newLoggedGateway(t, fmt.Sprintf(mqttDownConfig, t.TempDir(), testenv.FreeAddr(t), wsAddr))
	t0 := time.Now()
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Stop(context.Background()) })
	// Start gives the broker a one-second grace and must not wait out
	// paho's retries; the bound leaves a loaded host under -race room
	// for the rest of start-up (NATS, JetStream, the buffer, Kafka).
	if took := time.Since(t0); took > 10*time.Second {
		t.Fatalf("Start took %s with the MQTT broker down, want ≤ 10 s", took)
	}
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := srvClient.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	code, body := get("/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "source air is not connected") ||
		strings.Contains(body, "source ws is not connected") {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	c, err := net.DialTimeout("tcp", wsAddr, time.Second)
	if err != nil {
		t.Fatalf("websocket source not listening after Start: %v", err)
	}
	c.Close()
	// paho retries about once a second; the log keeps one line however
	// many dials fail.
	testenv.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := g.Snapshot().DialFailed; n < 3 {
			return fmt.Errorf("%d failed dials, want 3", n)
		}
		return nil
	})
	n := byMessage(logs.lines())
	if n["mqtt broker unreachable; retrying in the background"] != 1 || n["sources not connected yet; retrying in the background"] != 1 {
		t.Fatalf("warnings: %v, want one unreachable line and one not-connected line\n%s", n, strings.Join(logs.lines(), "\n"))
	}
	if g.Ready().Ready {
		t.Fatal("ready with the MQTT broker down")
	}
}

const kafkaDownConfig = `
gateway:
  id: gw-kdown
  data_dir: %s
  telemetry_interval: 1s
nats:
  mqtt_listen: 127.0.0.1:0
kafka:
  brokers: ["127.0.0.1:9"]
  delivery_timeout: 1s
sources:
` + airSourceYAML + `pipelines:
  - name: air1
    from: [air]
    fields: [pm25]
    window: {type: tumbling, size: 1s, out_of_orderness: 100ms}
    aggregates: [count, mean]
    ring: {shards: 2, capacity: 1024}
    to: {topic: test.air}
`

// runKafkaDown runs a gateway with Kafka unreachable for d while readings
// flow (so frames wait in the buffer, delivery attempts time out every
// second and franz-go redials), and returns its WARN and ERROR lines per
// message and the whole log.
func runKafkaDown(t *testing.T, d time.Duration) (map[string]int, []string) {
	g, logs := newLoggedGateway(t, fmt.Sprintf(kafkaDownConfig, t.TempDir()))
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	pub := mqttPublisher(t, g.MQTTAddr())
	for end, i := time.Now().Add(d), 0; time.Now().Before(end); i++ {
		publish(t, pub, fmt.Sprintf("city/d1/air/s%d", i%4), fmt.Sprintf(`{"ts":%d,"pm25":%d}`, time.Now().UnixMilli(), i))
		time.Sleep(100 * time.Millisecond) // paces the load (10 msg/s) over the outage; no condition to wait for
	}
	if s := g.Snapshot(); s.AggregatesBuffered == 0 || s.KafkaRecords != 0 {
		t.Fatalf("want aggregates buffered and none delivered: %+v", s)
	}
	_ = g.Stop(context.Background())
	lines := logs.lines()
	return byMessage(lines), lines
}

func report(n map[string]int) string {
	var out []string
	for k, v := range n {
		out = append(out, fmt.Sprintf("%4d %s", v, k))
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// TestKafkaDownLogIsBounded: 6 s of Kafka down (shorter than
// ratelog.DefaultInterval) write each repeating warning once, however
// often it repeats (franz-go dials about once a second, delivery attempts
// fail every second).
func TestKafkaDownLogIsBounded(t *testing.T) {
	n, lines := runKafkaDown(t, 6*time.Second)
	for _, msg := range []string{"unable to open connection to broker", "kafka delivery failed; frames kept for retry"} {
		if n[msg] != 1 {
			t.Errorf("%q: %d lines, want 1", msg, n[msg])
		}
	}
	total := 0
	for msg, c := range n {
		total += c
		if c > 1 {
			t.Errorf("%q: %d lines in 6 s", msg, c)
		}
	}
	if total > 6 || t.Failed() {
		t.Fatalf("%d warning lines in 6 s of Kafka down:\n%s\n\n%s", total, report(n), strings.Join(lines, "\n"))
	}
}

// TestKafkaDownLogOver30s runs past one ratelog.DefaultInterval: each
// repeating warning writes its second line about 30 s after the first,
// with the count of the lines suppressed in between. Real time (35 s),
// so skipped with -short.
func TestKafkaDownLogOver30s(t *testing.T) {
	if testing.Short() {
		t.Skip("35 s of real time")
	}
	n, lines := runKafkaDown(t, 35*time.Second)
	total := 0
	for msg, c := range n {
		total += c
		if c > 2 {
			t.Errorf("%q: %d lines in 35 s, want ≤ 2", msg, c)
		}
	}
	var second string
	for _, l := range lines {
		if strings.Contains(l, "unable to open connection to broker") {
			second = l
		}
	}
	if m := regexp.MustCompile(`suppressed=(\d+)`).FindStringSubmatch(second); m == nil || m[1] == "0" {
		t.Errorf("last dial-failure line carries no suppressed count > 0: %s", second)
	}
	if total > 12 || t.Failed() {
		t.Fatalf("%d warning lines in 35 s of Kafka down:\n%s\n\n%s", total, report(n), strings.Join(lines, "\n"))
	}
}
