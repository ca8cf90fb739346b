package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/pipeline"
)

const sensorSecret = "S3CRET-sensor-pw-41"

// securedConfig: both listeners, one user, anonymous clients allowed (so
// the attacker needs no password at all), an embedded source.
const securedConfig = `
gateway:
  id: gw-test
  data_dir: %s
  telemetry_interval: "off"
nats:
  mqtt_listen: 127.0.0.1:0
  listen: %s
  auth:
    users:
      - user: sensor
        password: ${EP_TEST_SENSOR_PW}
        publish: ["city.>"]
    allow_anonymous: true
kafka:
  brokers: ["127.0.0.1:9"]
  auto_create_topics: true
sources:
  - name: air
    type: embedded
    embedded:
      topics: ["city/+/air/+"]
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
    window: {type: tumbling, size: 10s, out_of_orderness: 2s, idle_timeout: 1h}
    aggregates: [count, sum, min, max, mean]
    to: {topic: test.air}
`

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startSecured(t *testing.T, dir, natsAddr string, brokers []string, logs *syncBuffer) *pipeline.Gateway {
	t.Helper()
	cfg, err := config.LoadBytes("sec.yaml", []byte(fmt.Sprintf(securedConfig, dir, natsAddr)), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	g, err := pipeline.New(cfg, pipeline.Options{KafkaBrokers: brokers,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return g
}

func mqttLogin(t *testing.T, broker, id, user, pw string) (mqtt.Client, error) {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID(id).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second)
	if user != "" {
		o.SetUsername(user).SetPassword(pw)
	}
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("mqtt connect as %q: %v", user, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c, nil
}

// TestListenersCannotPurgeOrForgeTheBacklog is issue #16's report, end to
// end: Kafka is down, aggregates wait in JetStream; through the MQTT
// listener and the NATS client listener, anonymous and as a configured
// user, clients try to purge the buffer stream and to publish a forged
// frame on edgeplane.agg.air10.…. When Kafka is back (a restart with the
// same data dir), exactly the real aggregates arrive and nothing else.
// Neither the logs (debug level) nor /metrics hold the user's password
// or the one an attacker tried.
func TestListenersCannotPurgeOrForgeTheBacklog(t *testing.T) {
	t.Setenv("EP_TEST_SENSOR_PW", sensorSecret)
	dir, natsAddr := t.TempDir(), testenv.FreeAddr(t)
	logs := &syncBuffer{}
	g := startSecured(t, dir, natsAddr, nil, logs)
	stopped := false
	defer func() {
		if !stopped {
			_ = g.Stop(context.Background())
		}
	}()

	// A wrong password is refused on both listeners.
	if nc, err := nats.Connect("nats://"+natsAddr, nats.UserInfo("sensor", "wrong-S3CRET")); err == nil {
		nc.Close()
		t.Fatal("NATS listener accepted a wrong password")
	}
	if _, err := mqttLogin(t, g.MQTTAddr(), "wrong", "sensor", "wrong-S3CRET"); err == nil {
		t.Fatal("MQTT listener accepted a wrong password")
	}

	sc := newTumblingScenario()
	sensor, err := mqttLogin(t, g.MQTTAddr(), "sensor-1", "sensor", sensorSecret)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range sc.messages {
		publish(t, sensor, m[0], m[1])
	}
	testenv.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if s := g.Snapshot(); s.AggregatesBuffered != uint64(len(sc.want)) || s.BufferMessages == 0 {
			return fmt.Errorf("%d aggregates in %d frames buffered, want %d", s.AggregatesBuffered, s.BufferMessages, len(sc.want))
		}
		return nil
	})

	// The attacks. MQTT at QoS 1: each PUBACK comes after the server
	// handled the publish.
	anon, err := mqttLogin(t, g.MQTTAddr(), "anon", "", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []mqtt.Client{anon, sensor} {
		publish(t, c, "$JS/API/STREAM/PURGE/EDGEPLANE_AGG", "")
		publish(t, c, "$JS/API/STREAM/DELETE/EDGEPLANE_AGG", "")
		publish(t, c, "edgeplane/agg/air10/forged", `{"forged":true}`)
	}
	for _, user := range []nats.Option{nats.UserInfo("", ""), nats.UserInfo("sensor", sensorSecret)} {
		errs := make(chan error, 8)
		nc, err := nats.Connect("nats://"+natsAddr, user, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Request("$JS.API.STREAM.PURGE.EDGEPLANE_AGG", nil, 300*time.Millisecond); err == nil {
			t.Fatal("purge request answered through the NATS listener")
		}
		if err := nc.Publish("edgeplane.agg.air10.forged", []byte(`{"forged":true}`)); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := <-errs; !errors.Is(err, nats.ErrPermissionViolation) {
			t.Fatalf("want a permissions violation, got %v", err)
		}
		nc.Close()
	}
	metrics := scrapeHandler(t, g)
	if err := g.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	stopped = true

	// The stop fired the windows the readings at +40 s opened.
	for _, sensor := range []string{"s1", "s2", "s3"} {
		zero := 0.0
		a := aggValue{Series: "d7/" + sensor, Field: "pm25", Start: sc.t0 + 40_000, End: sc.t0 + 50_000, Count: 1,
			Sum: &zero, Min: &zero, Max: &zero, Mean: &zero}
		sc.want[fmt.Sprintf("%s/%d", a.Series, a.Start)] = a.String()
	}
	if s := g.Snapshot(); s.AggregatesBuffered != uint64(len(sc.want)) {
		t.Fatalf("%d aggregates stored, want %d", s.AggregatesBuffered, len(sc.want))
	}

	// Kafka is back: exactly the real aggregates, no bad frame, nothing
	// more.
	kc := testenv.Kafka(t)
	g2 := startSecured(t, dir, natsAddr, kc.ListenAddrs(), logs)
	defer func() { _ = g2.Stop(context.Background()) }()
	recs := testenv.Consume(t, kc.ListenAddrs(), "test.air", len(sc.want), 30*time.Second)
	var got []kv
	for _, r := range recs {
		got = append(got, kv{key: string(r.Key), value: string(r.Value), idHeader: testenv.Header(r, "id")})
	}
	sc.check(t, got)
	testenv.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if s := g2.Snapshot(); s.BufferMessages != 0 || s.KafkaRecords != uint64(len(sc.want)) {
			return fmt.Errorf("buffer %d frames, %d records to Kafka, want 0 and %d", s.BufferMessages, s.KafkaRecords, len(sc.want))
		}
		return nil
	})
	metrics += scrapeHandler(t, g2)
	if !strings.Contains(metrics, "edgeplane_sink_bad_frames_total 0\n") {
		t.Error("bad frames reached the forwarder")
	}
	for _, secret := range []string{sensorSecret, "wrong-S3CRET"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("a password in the logs:\n%s", logs.String())
		}
		if strings.Contains(metrics, secret) {
			t.Error("a password in /metrics")
		}
	}
	if !strings.Contains(logs.String(), "sensor") {
		t.Error("the refused logins left no trace in the logs")
	}
}
