package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/pipeline"
)

const backlogConfig = `
gateway:
  id: gw-backlog
  data_dir: %s
  http_listen: "off"
  telemetry_interval: "off"
nats:
  mqtt_listen: 127.0.0.1:0
kafka:
  brokers: ["127.0.0.1:9"]
  auto_create_topics: true
sources:
` + airSourceYAML + `pipelines:
  - name: air10
    from: [air]
    window: {type: tumbling, size: 10s, out_of_orderness: 1s, idle_timeout: 1s, watermark: %s, max_open_windows: 100}
    aggregates: [count]
    to: {topic: test.backlog}
`

// sensor connects one MQTT client with its own client id.
func sensor(t *testing.T, broker, id string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID(id).SetCleanSession(true))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("sensor %s connect: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// TestBacklogReplaySeriesVsPipeline (issue #15): two sensors over MQTT
// through the embedded listener. Sensor A sends the last 10 minutes up to
// the present, quickly; once A's windows have fired, sensor B replays its
// own 10-minute backlog, oldest first, one reading per 10 s. In series
// scope B's windows follow B's clock: nothing is late and Kafka's
// aggregates count every reading of both sensors. In pipeline scope A's
// watermark closed those windows: B's backlog is late, and the late-reading
// line names B. max_open_windows covers the 60 windows of a burst: in
// pipeline scope a loaded shard may take all of A's readings before the
// watermark marker that closes their windows.
func TestBacklogReplaySeriesVsPipeline(t *testing.T) {
	const (
		n      = 60     // readings per sensor: 10 minutes, one per 10 s
		window = 10_000 // ms
		ooo    = 1_000  // out_of_orderness, ms
	)
	for _, scope := range []string{"series", "pipeline"} {
		t.Run(scope, func(t *testing.T) {
			kc := testenv.Kafka(t)
			cfg, err := config.LoadBytes("backlog.yaml", []byte(fmt.Sprintf(backlogConfig, t.TempDir(), scope)), os.LookupEnv)
			if err != nil {
				t.Fatal(err)
			}
			logs := &logBuffer{}
			var w io.Writer = logs
			if testing.Verbose() {
				w = io.MultiWriter(logs, os.Stderr)
			}
			g, err := pipeline.New(cfg, pipeline.Options{Logger: slog.New(slog.NewTextHandler(w, nil)), KafkaBrokers: kc.ListenAddrs()})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := g.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = g.Stop(context.Background()) })

			const (
				late    = `edgeplane_operators_late_events_total{pipeline="air10"}`
				fired   = `edgeplane_operators_windows_fired_total{pipeline="air10"}`
				refused = `edgeplane_operators_refused_total{pipeline="air10"}`
			)
			// Event times: base is the start of the current 10 s window;
			// reading k of either sensor is at base − 10 min + k·10 s + 9 s,
			// the last one a second before base.
			base := time.Now().UnixMilli() / window * window
			at := func(k int) int64 { return base - 600_000 + int64(k)*window + 9_000 }

			a := sensor(t, g.MQTTAddr(), "sensor-a")
			for k := 0; k < n; k++ {
				publish(t, a, "city/d1/air/a", fmt.Sprintf(`{"ts":%d,"pm25":%d}`, at(k), k))
			}
			// A's watermark, max_A − B − 1, has closed every window of A
			// but its last: n−1 aggregates.
			wmA := at(n-1) - ooo - 1
			testenv.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
				body := scrapeHandler(t, g)
				if v, _ := metricValue(body, refused); v != 0 {
					t.Fatalf("%s = %v", refused, v)
				}
				if v, _ := metricValue(body, fired); v < n-1 {
					return fmt.Errorf("%s = %v, want ≥ %d", fired, v, n-1)
				}
				return nil
			})

			// B's backlog, oldest first. Its readings in windows A's
			// watermark closed (end − 1 ≤ WM_A).
			b := sensor(t, g.MQTTAddr(), "sensor-b")
			behind := 0
			for k := 0; k < n; k++ {
				if end := at(k)/window*window + window; end-1 <= wmA {
					behind++
				}
				publish(t, b, "city/d1/air/b", fmt.Sprintf(`{"ts":%d,"pm25":%d}`, at(k), k))
			}
			if behind != n-1 {
				t.Fatalf("%d readings of B behind A's watermark, want %d", behind, n-1)
			}

			if scope == "pipeline" {
				testenv.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
					if v, _ := metricValue(scrapeHandler(t, g), late); v < float64(behind) {
						return fmt.Errorf("%s = %v, want ≥ %d", late, v, behind)
					}
					return nil
				})
				v, _ := metricValue(scrapeHandler(t, g), late)
				t.Logf("pipeline scope: %v of B's %d readings late (%d behind A's watermark when B started)", v, n, behind)
				found := false
				for _, l := range logs.lines() {
					if strings.Contains(l, `msg="late reading" pipeline=air10 series=d1/b field=pm25`) {
						found = true
					}
				}
				if !found {
					t.Fatal("no late-reading log line for series d1/b")
				}
				return
			}

			// Series scope: every reading of both sensors is in an
			// aggregate once every window fired (the last ones after
			// idle_timeout, as the quiet series' clocks follow the wall).
			counts := map[string]int{}
			windows := map[string]int{}
			testenv.ConsumeUntil(t, kc.ListenAddrs(), "test.backlog", 30*time.Second, func(rs []*kgo.Record) bool {
				clear(counts)
				clear(windows)
				for _, r := range rs {
					var v struct {
						ID     string
						Series string
						Count  int
					}
					if err := json.Unmarshal(r.Value, &v); err != nil {
						t.Fatal(err)
					}
					counts[v.Series] += v.Count
					windows[v.ID]++
				}
				return counts["d1/a"] >= n && counts["d1/b"] >= n
			})
			if counts["d1/a"] != n || counts["d1/b"] != n || len(windows) != 2*n {
				t.Errorf("aggregates count %v in %d windows, want %d per sensor in %d windows", counts, len(windows), n, 2*n)
			}
			for id, c := range windows {
				if c != 1 {
					t.Errorf("window %s emitted %d times", id, c)
				}
			}
			body := scrapeHandler(t, g)
			if v, _ := metricValue(body, late); v != 0 {
				t.Errorf("%s = %v, want 0", late, v)
			}
			if v, _ := metricValue(body, refused); v != 0 {
				t.Errorf("%s = %v, want 0", refused, v)
			}
			for _, l := range logs.lines() {
				if strings.Contains(l, "late reading") {
					t.Errorf("late-reading line in series scope: %s", l)
				}
			}
		})
	}
}
