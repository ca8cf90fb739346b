package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/pipeline"
)

const lateConfig = `
gateway:
  id: gw-late
  data_dir: %s
  http_listen: "off"
nats:
  mqtt_listen: 127.0.0.1:0
kafka:
  brokers: ["127.0.0.1:9"]
  auto_create_topics: true
sources:
` + airSourceYAML + `pipelines:
  - name: air10
    from: [air]
    window: {type: tumbling, size: 10s, out_of_orderness: 1s}
    aggregates: [count]
    to: {topic: test.late}
`

// metricValue returns the value of the sample line that starts with
// series (name and labels) in a /metrics body, and whether it is there.
func metricValue(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// TestLateReadingVisible starts a gateway in-process and sends an on-time
// reading, one that moves the watermark past its window, and then a late
// one: the late counter moves by one, a rate-limited log line names the
// series, field, time, watermark and lateness, and
// edgeplane_pipeline_watermark_lag_seconds (NaN before any reading)
// follows the wall clock. A reading an hour in the future is then
// rejected as time_in_future and leaves the watermark where it was.
func TestLateReadingVisible(t *testing.T) {
	kc := testenv.Kafka(t)
	cfg, err := config.LoadBytes("late.yaml", []byte(fmt.Sprintf(lateConfig, t.TempDir())), os.LookupEnv)
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
		lag   = `edgeplane_pipeline_watermark_lag_seconds{pipeline="air10"}`
		late  = `edgeplane_operators_late_events_total{pipeline="air10"}`
		fired = `edgeplane_operators_windows_fired_total{pipeline="air10"}`
	)
	body := scrapeHandler(t, g)
	if v, ok := metricValue(body, lag); !ok || !math.IsNaN(v) {
		t.Fatalf("before any reading %s = %v (present %v), want NaN", lag, v, ok)
	}
	if !strings.Contains(body, "# HELP edgeplane_pipeline_watermark_lag_seconds Wall clock minus") ||
		!strings.Contains(body, "# TYPE edgeplane_pipeline_watermark_lag_seconds gauge") {
		t.Fatal("no HELP and TYPE for edgeplane_pipeline_watermark_lag_seconds")
	}

	pub := mqttPublisher(t, g.MQTTAddr())
	t0 := time.Now().Add(-time.Hour).UnixMilli() / 10_000 * 10_000
	publish(t, pub, "city/d1/air/s1", fmt.Sprintf(`{"ts":%d,"pm25":1}`, t0+1_000))  // on time
	publish(t, pub, "city/d1/air/s1", fmt.Sprintf(`{"ts":%d,"pm25":2}`, t0+30_000)) // WM → t0+28.999 s
	// [t0, t0+10s) fires once the watermark reached the shard.
	testenv.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		body := scrapeHandler(t, g)
		if v, _ := metricValue(body, fired); v < 1 {
			return fmt.Errorf("%s = %v, want ≥ 1", fired, v)
		}
		return nil
	})
	if v, _ := metricValue(scrapeHandler(t, g), late); v != 0 {
		t.Fatalf("%s = %v before the late reading", late, v)
	}

	publish(t, pub, "city/d1/air/s1", fmt.Sprintf(`{"ts":%d,"pm25":3}`, t0+2_000)) // late by 26.999 s
	testenv.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if v, _ := metricValue(scrapeHandler(t, g), late); v != 1 {
			return fmt.Errorf("%s = %v, want 1", late, v)
		}
		return nil
	})
	tm := func(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00") }
	want := regexp.MustCompile(`level=WARN msg="late reading" pipeline=air10 series=d1/s1 field=pm25 time=` +
		regexp.QuoteMeta(tm(t0+2_000)) + ` watermark=` + regexp.QuoteMeta(tm(t0+28_999)) + ` late=26.999s suppressed=0$`)
	var found []string
	for _, l := range logs.lines() {
		if strings.Contains(l, "late reading") {
			found = append(found, l)
		}
	}
	if len(found) != 1 || !want.MatchString(found[0]) {
		t.Fatalf("late reading log lines %q, want one matching %s", found, want)
	}

	lagNow := func() float64 {
		v, ok := metricValue(scrapeHandler(t, g), lag)
		if !ok {
			t.Fatalf("no %s in /metrics", lag)
		}
		return v
	}
	// The watermark is t0+28.999 s, about an hour behind the wall clock.
	// In series scope the shards recount the lag about once a second.
	wantLag := func() float64 { return float64(time.Now().UnixMilli()-(t0+28_999)) / 1e3 }
	testenv.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if v := lagNow(); math.Abs(v-wantLag()) > 5 {
			return fmt.Errorf("%s = %v, want about %v", lag, v, wantLag())
		}
		return nil
	})

	// A reading an hour ahead is rejected and moves no watermark.
	publish(t, pub, "city/d1/air/s1", fmt.Sprintf(`{"ts":%d,"pm25":4}`, time.Now().Add(time.Hour).UnixMilli()))
	rejected := `edgeplane_ingest_rejected_total{source="air",reason="time_in_future"}`
	testenv.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if v, _ := metricValue(scrapeHandler(t, g), rejected); v != 1 {
			return fmt.Errorf("%s = %v, want 1", rejected, v)
		}
		return nil
	})
	// The decoder refused it before any pipeline saw it (the counter
	// moves on that refusal), so no watermark can have moved since.
	if v := lagNow(); math.Abs(v-wantLag()) > 5 {
		t.Fatalf("after a future reading %s = %v, want about %v (watermark unmoved)", lag, v, wantLag())
	}
}
