package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/pipeline"
)

// diskFullConfig: 1 s windows of 20 sensors fed through the embedded
// listener; data_dir (%s) on a small tmpfs; on_full %s.
const diskFullConfig = `
gateway:
  id: gw-disk
  data_dir: %s
  shutdown_timeout: 2s
nats:
  mqtt_listen: 127.0.0.1:0
  buffer: {max_bytes: 2MiB, on_full: %s}
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
      fields: [{name: pm25}]
pipelines:
  - name: air1
    from: [air]
    fields: [pm25]
    window: {type: tumbling, size: 1s, out_of_orderness: 0s}
    aggregates: [count, sum, min, max, mean]
    ring: {shards: 2, capacity: 1024}
    to: {topic: test.disk}
`

// diskRig is a gateway whose data_dir is on an 8 MiB tmpfs, fed by a
// simulated sensor fleet.
type diskRig struct {
	t    *testing.T
	dir  string // the tmpfs
	g    *pipeline.Gateway
	kfk  []string
	srv  *httptest.Server
	stop func()
}

func newDiskRig(t *testing.T, onFull string) *diskRig {
	t.Helper()
	return newDiskRigWith(t, diskFullConfig, onFull)
}

// newDiskRigWith is newDiskRig with another config text (diskFullConfig's
// two verbs).
func newDiskRigWith(t *testing.T, text, onFull string) *diskRig {
	t.Helper()
	dir := testenv.Tmpfs(t, 8<<20)
	kfk := testenv.Kafka(t)
	cfg, err := config.LoadBytes("disk.yaml", []byte(fmt.Sprintf(text, filepath.Join(dir, "data"), onFull)), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	g, err := pipeline.New(cfg, pipeline.Options{Logger: quietLog(), KafkaBrokers: kfk.ListenAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Stop(context.Background()) })
	r := &diskRig{t: t, dir: dir, g: g, kfk: kfk.ListenAddrs(), srv: httptest.NewServer(g.Handler())}
	t.Cleanup(r.srv.Close)

	// 20 sensors, one reading each per round, event time 100 ms further
	// each round: a window of every sensor fires every 10 rounds.
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(g.MQTTAddr()).SetClientID("disk-pub").SetCleanSession(true))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	done, wg := make(chan struct{}), &sync.WaitGroup{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		ts := time.Now().UnixMilli()
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			ts += 100
			for s := 0; s < 20; s++ {
				pub.Publish(fmt.Sprintf("city/d1/air/s%d", s), 0, false, fmt.Sprintf(`{"ts":%d,"pm25":%d}`, ts, s))
			}
		}
	}()
	var once sync.Once
	r.stop = func() { once.Do(func() { close(done); wg.Wait(); pub.Disconnect(100) }) }
	t.Cleanup(r.stop)
	return r
}

func (r *diskRig) readyz() (int, pipeline.Readiness) {
	r.t.Helper()
	resp, err := srvClient.Get(r.srv.URL + "/readyz")
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var rd pipeline.Readiness
	if err := json.NewDecoder(resp.Body).Decode(&rd); err != nil {
		r.t.Fatal(err)
	}
	return resp.StatusCode, rd
}

// metric returns the value of one exposition line (name with labels).
func (r *diskRig) metric(series string) string {
	r.t.Helper()
	for _, line := range strings.Split(scrapeHandler(r.t, r.g), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// fillUntilFailed fills the tmpfs and waits for the gateway to notice:
// /readyz not ready, naming the failed store, and the failure counted.
func (r *diskRig) fillUntilFailed() (filler string) {
	r.t.Helper()
	testenv.CheckFor(r.t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := r.g.Snapshot().AggregatesBuffered; n == 0 {
			return fmt.Errorf("no aggregates buffered yet")
		}
		if code, rd := r.readyz(); code != 200 {
			return fmt.Errorf("/readyz %d %v", code, rd.Problems)
		}
		return nil
	})
	filler = testenv.FillDisk(r.t, r.dir)
	testenv.CheckFor(r.t, 15*time.Second, 20*time.Millisecond, func() error {
		code, rd := r.readyz()
		if code != 503 || !strings.Contains(strings.Join(rd.Problems, "; "), "buffer store failed") {
			return fmt.Errorf("/readyz %d %v", code, rd.Problems)
		}
		if v := r.metric("edgeplane_sink_buffer_store_failures_total"); v != "1" {
			return fmt.Errorf("store failures %q", v)
		}
		if v := r.metric(`edgeplane_sink_store_waits_total{pipeline="air1"}`); v == "" || v == "0" {
			return fmt.Errorf("store waits %q", v)
		}
		return nil
	})
	_, rd := r.readyz()
	r.t.Logf("disk full: /readyz %v", rd.Problems)
	return filler
}

// TestDiskFullRecovers: data_dir on an 8 MiB tmpfs, filled while
// aggregates flow. The gateway reports not ready with the reason and
// counts refused frames; once the filler is removed it reopens the store
// by itself, within seconds: /readyz is ready, aggregates are acknowledged
// again, and Kafka receives every aggregate acknowledged into JetStream.
func TestDiskFullRecovers(t *testing.T) {
	f := func(t *testing.T, onFull string) {
		r := newDiskRig(t, onFull)
		filler := r.fillUntilFailed()
		// Nothing is acknowledged while the store has failed.
		before := r.g.Snapshot().AggregatesBuffered
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		freed := time.Now()
		testenv.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
			if code, rd := r.readyz(); code != 200 {
				return fmt.Errorf("/readyz %d %v", code, rd.Problems)
			}
			if n := r.g.Snapshot().AggregatesBuffered; n <= before {
				return fmt.Errorf("aggregates buffered still %d", n)
			}
			if v := r.metric("edgeplane_sink_buffer_store_resets_total"); v != "1" {
				return fmt.Errorf("store resets %q", v)
			}
			return nil
		})
		after := r.g.Snapshot()
		t.Logf("recovered %s after the space returned; %d aggregates buffered before, %d now",
			time.Since(freed).Round(time.Millisecond), before, after.AggregatesBuffered)
		// Ingestion goes on: new readings arrive and new windows are stored.
		testenv.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
			s := r.g.Snapshot()
			if s.Readings < after.Readings+200 || s.AggregatesBuffered < after.AggregatesBuffered+100 {
				return fmt.Errorf("readings %d → %d, aggregates buffered %d → %d", after.Readings, s.Readings,
					after.AggregatesBuffered, s.AggregatesBuffered)
			}
			return nil
		})

		// Every aggregate acknowledged reaches Kafka.
		r.stop()
		var acked uint64
		testenv.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
			s := r.g.Snapshot()
			if s.BufferMessages != 0 || s.AggregatesBuffered != acked {
				acked = s.AggregatesBuffered
				return fmt.Errorf("backlog %d frames, %d aggregates acknowledged", s.BufferMessages, acked)
			}
			return nil
		})
		ids := map[string]bool{}
		testenv.ConsumeUntil(t, r.kfk, "test.disk", 20*time.Second, func(recs []*kgo.Record) bool {
			for _, rec := range recs {
				ids[testenv.Header(rec, "id")] = true
			}
			return uint64(len(ids)) >= acked
		})
		// At least once: a frame whose publish JetStream stored just as
		// the store failed, before its ack, is forwarded although the
		// writer never saw the ack (seen once in 5 runs: 500 in Kafka,
		// 480 acknowledged); nothing acknowledged may be missing.
		if uint64(len(ids)) < acked {
			t.Fatalf("kafka has %d distinct aggregates, %d were acknowledged into JetStream", len(ids), acked)
		}
		t.Logf("kafka has %d distinct aggregates, %d were acknowledged into JetStream", len(ids), acked)
	}
	t.Run("push_back", func(t *testing.T) { f(t, "push_back") })
	t.Run("drop_oldest", func(t *testing.T) { f(t, "drop_oldest") })
}

// TestDiskFullStop: a graceful stop while the disk is full returns within
// shutdown_timeout (2 s here) and says why aggregates were not stored.
func TestDiskFullStop(t *testing.T) {
	r := newDiskRig(t, "push_back")
	r.fillUntilFailed()
	r.stop()
	start := time.Now()
	err := r.g.Stop(context.Background())
	took := time.Since(start)
	t.Logf("stop took %s: %v", took.Round(time.Millisecond), err)
	if took > 8*time.Second {
		t.Fatalf("stop took %s with shutdown_timeout 2s", took)
	}
	if err == nil || !strings.Contains(err.Error(), "buffer store failed") {
		t.Fatalf("stop error does not name the failed store: %v", err)
	}
}

// TestSmallDiskStarts: on an 8 MiB data_dir a config that leaves
// buffer.max_bytes out gets a default that fits (4 MiB) and starts, with
// no dead-letter stream reserving space, and a reload keeps it though the
// free space moved; with a dead-letter source,
// validate says the 64 MiB stream does not fit, with the arithmetic.
func TestSmallDiskStarts(t *testing.T) {
	dir := testenv.Tmpfs(t, 8<<20)
	text := strings.Replace(diskFullConfig, "max_bytes: 2MiB, ", "", 1)
	cfg, err := config.LoadBytes("small.yaml", []byte(fmt.Sprintf(text, filepath.Join(dir, "data"), "push_back")), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NATS.Buffer.MaxBytes != 4<<20 {
		t.Fatalf("default max_bytes on 8 MiB: %d, want 4 MiB", cfg.NATS.Buffer.MaxBytes)
	}
	g, err := pipeline.New(cfg, pipeline.Options{Logger: quietLog(), KafkaBrokers: testenv.Kafka(t).ListenAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := g.Start(ctx); err != nil {
		t.Fatalf("start on 8 MiB: %v", err)
	}
	// With less free space the same file derives a smaller default; a
	// reload keeps the running value rather than asking for a restart.
	if err := os.WriteFile(filepath.Join(dir, "other"), make([]byte, 2<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	next, err := config.LoadBytes("small.yaml", []byte(fmt.Sprintf(text, filepath.Join(dir, "data"), "push_back")), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	if next.NATS.Buffer.MaxBytes >= cfg.NATS.Buffer.MaxBytes {
		t.Fatalf("with 2 MiB less free the default is %d, was %d", next.NATS.Buffer.MaxBytes, cfg.NATS.Buffer.MaxBytes)
	}
	if err := g.Reload(ctx, next); err != nil {
		t.Fatalf("reload of the same file: %v", err)
	}
	if err := g.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	dl := strings.Replace(text, "    type: embedded\n", "    type: embedded\n    dead_letter: true\n", 1)
	_, err = config.LoadBytes("small.yaml", []byte(fmt.Sprintf(dl, filepath.Join(dir, "data2"), "push_back")), os.LookupEnv)
	if err == nil || !strings.Contains(err.Error(), "dead-letter stream's 64.0 MiB") {
		t.Fatalf("dead letters on 8 MiB: want the budget reported, got %v", err)
	}
	t.Log(err)
}
