//go:build e2e

package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/pipeline"
)

const holdAckConfig = `
gateway:
  id: gw-test
  data_dir: %s
  telemetry_interval: "off"
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
      clean_session: false
      client_id: held-ack-test
      hold_acks: true
      max_unacked: 4096
    decode:
      topic_pattern: "city/{district}/{type}/{id}"
      key: "{district}/{id}"
      time_path: ts
      time_unit: ms
      fields: [{name: pm25}]
pipelines:
  - name: air2s
    from: [air]
    window: {type: tumbling, size: 2s, out_of_orderness: 500ms, watermark: pipeline}
    aggregates: [count, sum]
    ring: {shards: 2}
    to: {topic: test.held}
`

// heldAcksSurviveKill publishes N QoS 1 readings through broker, kills the
// gateway mid-stream (nothing flushed, nothing more acked), starts a new
// one on the same data dir, and checks that the aggregates in Kafka count
// every reading exactly once per window (a window stored twice carries the
// same content both times). The broker must redeliver unacked messages
// when the persistent session resumes, as MQTT 3.1.1 requires (Mosquitto
// does; NATS's listener waits for its ack_wait instead).
func heldAcksSurviveKill(t *testing.T, broker string) {
	kc := testenv.Kafka(t)
	dir := t.TempDir()
	cfg := func() *config.Config {
		c, err := config.LoadBytes("held.yaml", []byte(fmt.Sprintf(holdAckConfig, dir, broker)), os.LookupEnv)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	start := func() *pipeline.Gateway {
		g, err := pipeline.New(cfg(), pipeline.Options{KafkaBrokers: kc.ListenAddrs(), Logger: quietLog()})
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return g
	}
	g1 := start()
	pub := mqttPublisher(t, broker)

	t0 := time.Now().Add(-time.Hour).UnixMilli() / 10_000 * 10_000
	const n = 600
	for i := 0; i < n; i++ {
		sensor := []string{"s1", "s2", "s3"}[i%3]
		tok := pub.Publish("city/d7/air/"+sensor, 1, false, fmt.Sprintf(`{"ts":%d,"pm25":%d}`, t0+int64(i)*50, i%7))
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %d: %v", i, tok.Error())
		}
		if i == n/2 {
			// Kill once the gateway has taken part of the stream and
			// stored some windows.
			testenv.CheckFor(t, 20*time.Second, 5*time.Millisecond, func() error {
				s := g1.Snapshot()
				if s.Messages < n/4 || s.AggregatesBuffered == 0 {
					return fmt.Errorf("gateway 1 took %d messages, stored %d aggregates", s.Messages, s.AggregatesBuffered)
				}
				return nil
			})
			testenv.CheckFor(t, 10*time.Second, 5*time.Millisecond, func() error {
				_, err := os.Stat(dir + "/state/air2s.stored")
				return err
			})
			g1.Kill()
		}
	}
	g2 := start()
	defer g2.Stop(context.Background())
	// The broker redelivers what gateway 1 had not acked after its ack
	// wait. Wait until that is over (the count holds still for twice the
	// ack wait) before the far-ahead reading: arriving after it, a
	// redelivered reading would be late.
	var last uint64
	var stillSince time.Time
	testenv.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		m := g2.Snapshot().Messages
		if m != last || m == 0 {
			last, stillSince = m, time.Now()
		}
		if m == 0 || time.Since(stillSince) < 2*time.Second {
			return fmt.Errorf("gateway 2 has taken %d messages", m)
		}
		return nil
	})
	// A far-ahead reading of another series closes every window.
	publish(t, pub, "city/d7/air/flush", fmt.Sprintf(`{"ts":%d,"pm25":0}`, t0+n*50+60_000))

	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.ConsumeTopics("test.held"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	windows := map[string]string{}
	var total, dups int
	testenv.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			var v struct {
				ID     string
				Series string
				Count  int
				Sum    float64
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatal(err)
			}
			if v.Series == "d7/flush" {
				return
			}
			content := fmt.Sprintf("count %d sum %g", v.Count, v.Sum)
			if prev, ok := windows[v.ID]; ok {
				dups++
				if prev != content {
					t.Errorf("window %s stored twice with different content: %s, then %s", v.ID, prev, content)
				}
				return
			}
			windows[v.ID] = content
			total += v.Count
		})
		if total != n {
			var lines []string
			for _, l := range strings.Split(scrapeHandler(t, g2), "\n") {
				if strings.HasPrefix(l, "edgeplane_ingest") || strings.HasPrefix(l, "edgeplane_operators_late") || strings.HasPrefix(l, "edgeplane_sink_agg") || strings.Contains(l, "watermark") {
					lines = append(lines, l)
				}
			}
			return fmt.Errorf("aggregates count %d of %d readings (%d windows, %d duplicates)\n%s", total, n, len(windows), dups, strings.Join(lines, "\n"))
		}
		return nil
	})
	body := scrapeHandler(t, g2)
	if !strings.Contains(body, "edgeplane_ingest_replayed_total") {
		t.Errorf("metrics lack edgeplane_ingest_replayed_total")
	}
	t.Logf("%d windows, %d duplicates with equal content", len(windows), dups)
}
