package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/edgeplane/edgeplane/config"
	"github.com/edgeplane/edgeplane/internal/testenv"
	"github.com/edgeplane/edgeplane/pipeline"
)

// ackProxy forwards TCP connections to upstream (set once known). On a
// frozen connection what the client sends is read and thrown away: PUBACKs
// never reach the broker, as when they are lost with a dying connection.
// freeze freezes the connections open now; later ones are not, so a
// reconnect's CONNECT cannot be lost to a flag cleared too late. cut
// closes every open connection.
type ackProxy struct {
	ln       net.Listener
	upstream atomic.Pointer[string]
	frozen   atomic.Int64 // connections 1…frozen are frozen
	mu       sync.Mutex
	conns    []net.Conn
	accepted atomic.Int64
}

func (p *ackProxy) freeze() { p.frozen.Store(p.accepted.Load()) }

func newAckProxy(t *testing.T) *ackProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &ackProxy{ln: ln}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *ackProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up := p.upstream.Load()
		if up == nil {
			c.Close() // paho retries
			continue
		}
		u, err := net.Dial("tcp", *up)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		i := p.accepted.Add(1)
		go func() { _, _ = io.Copy(c, u); c.Close(); u.Close() }()
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 && i > p.frozen.Load() {
					if _, werr := u.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			c.Close()
			u.Close()
		}()
	}
}

func (p *ackProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// metricSum adds up every sample of a metric in a /metrics body.
func metricSum(body, name string) float64 {
	var sum float64
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
				sum += v
			}
		}
	}
	return sum
}

const heldReconnectConfig = `
gateway:
  id: gw-held-reconnect
  data_dir: %s
  http_listen: "off"
  telemetry_interval: "off"
nats:
  mqtt_listen: 127.0.0.1:0
  mqtt_ack_wait: 10s
kafka:
  brokers: ["127.0.0.1:9"]
  auto_create_topics: true
sources:
  - name: air
    mqtt:
      broker: tcp://%s
      topics: ["city/+/air/+"]
      qos: 1
      clean_session: false
      client_id: held-reconnect-test
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
    to: {topic: test.held.reconnect}
`

// TestHeldAcksReplayAfterReconnect: with held acks, windows are stored
// while the source's PUBACKs are lost (a proxy between the source and the
// embedded listener drops what the source sends), then the connection
// breaks. paho reconnects with its persistent session and the listener
// redelivers every unacknowledged message (after its mqtt_ack_wait). The
// redelivered readings of stored windows are counted as replays, none as
// late, and Kafka has each window once with its full count. (Without the
// reconnect raising the replay floor, the 300 redelivered readings count
// as late.) mqtt_ack_wait (10s) only has to exceed the time from the
// first publish to the cut (about a second), or the listener would
// redeliver on the frozen connection.
func TestHeldAcksReplayAfterReconnect(t *testing.T) {
	kc := testenv.Kafka(t)
	px := newAckProxy(t)
	dir := t.TempDir()
	cfg, err := config.LoadBytes("held.yaml", []byte(fmt.Sprintf(heldReconnectConfig, dir, px.ln.Addr())), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	log := quietLog()
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	g, err := pipeline.New(cfg, pipeline.Options{Logger: log, KafkaBrokers: kc.ListenAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Stop(context.Background()) })
	up := strings.TrimPrefix(g.MQTTAddr(), "tcp://")
	px.upstream.Store(&up)

	const connected = `edgeplane_ingest_connected{source="air"}`
	testenv.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if v, _ := metricValue(scrapeHandler(t, g), connected); v != 1 {
			return fmt.Errorf("source not connected")
		}
		return nil
	})
	// From here on the listener gets no PUBACK from the source.
	px.freeze()

	pub := mqttPublisher(t, g.MQTTAddr())
	t0 := time.Now().Add(-time.Hour).UnixMilli() / 10_000 * 10_000
	const n = 300 // 3 sensors, 50 ms apart: 15 s of event time, windows t0 … t0+14 s
	for i := 0; i < n; i++ {
		sensor := []string{"s1", "s2", "s3"}[i%3]
		publish(t, pub, "city/d7/air/"+sensor, fmt.Sprintf(`{"ts":%d,"pm25":%d}`, t0+int64(i)*50, i%7))
	}
	// A far-ahead reading of another series closes every window.
	publish(t, pub, "city/d7/air/flush", fmt.Sprintf(`{"ts":%d,"pm25":0}`, t0+n*50+60_000))

	// Every window of the n readings is stored and its stored watermark
	// persisted: the last one ends at t0+16 s, released at t0+15.999 s.
	wantStored := t0 + 16_000 - 1
	testenv.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		b, err := os.ReadFile(dir + "/state/air2s.stored")
		if err != nil {
			return err
		}
		f := strings.Fields(string(b))
		v, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
		if v < wantStored {
			return fmt.Errorf("persisted stored watermark %d, want ≥ %d", v, wantStored)
		}
		return nil
	})
	body := scrapeHandler(t, g)
	if v := metricSum(body, "edgeplane_ingest_replayed_total"); v != 0 {
		t.Fatalf("replayed %v before the reconnect", v)
	}
	if v := metricSum(body, "edgeplane_operators_late_events_total"); v != 0 {
		t.Fatalf("late %v before the reconnect", v)
	}

	// The connection breaks with the acknowledgements in flight lost.
	before := px.accepted.Load()
	px.cut()
	testenv.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		if px.accepted.Load() == before {
			return fmt.Errorf("source has not reconnected")
		}
		if v, _ := metricValue(scrapeHandler(t, g), connected); v != 1 {
			return fmt.Errorf("source not connected")
		}
		return nil
	})

	// The listener redelivers the n+1 messages after its ack wait.
	state := func(body string) string {
		return fmt.Sprintf("messages %v, replayed %v, late %v, unacked %v, connects %v",
			metricSum(body, "edgeplane_ingest_messages_total"), metricSum(body, "edgeplane_ingest_replayed_total"),
			metricSum(body, "edgeplane_operators_late_events_total"), metricSum(body, "edgeplane_ingest_unacked"),
			metricSum(body, "edgeplane_ingest_connects_total"))
	}
	testenv.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		body := scrapeHandler(t, g)
		if metricSum(body, "edgeplane_ingest_messages_total") < 2*(n+1) ||
			metricSum(body, "edgeplane_ingest_replayed_total") != n ||
			metricSum(body, "edgeplane_operators_late_events_total") != 0 {
			return fmt.Errorf("want %d messages, %d replayed, 0 late: %s", 2*(n+1), n, state(body))
		}
		return nil
	})

	// The redelivered flush reading is held in its open window (a
	// message after it is acknowledged only once it is). A reading
	// further ahead closes that window: everything redelivered is then
	// acknowledged on the new connection, only the new reading is held.
	publish(t, pub, "city/d7/air/flush", fmt.Sprintf(`{"ts":%d,"pm25":0}`, t0+n*50+120_000))
	testenv.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		if body := scrapeHandler(t, g); metricSum(body, "edgeplane_ingest_unacked") > 1 {
			return fmt.Errorf("want ≤ 1 unacknowledged: %s", state(body))
		}
		return nil
	})

	type agg struct {
		ID     string
		Series string
		Count  int
	}
	seen := map[string]int{}
	total := 0
	testenv.ConsumeUntil(t, kc.ListenAddrs(), "test.held.reconnect", 30*time.Second, func(rs []*kgo.Record) bool {
		clear(seen)
		total = 0
		for _, r := range rs {
			var a agg
			if err := json.Unmarshal(r.Value, &a); err != nil {
				t.Fatal(err)
			}
			if a.Series == "d7/flush" {
				continue
			}
			seen[a.ID]++
			total += a.Count
		}
		return total >= n
	})
	body = scrapeHandler(t, g)
	if v := metricSum(body, "edgeplane_operators_late_events_total"); v != 0 {
		t.Errorf("late_events_total = %v, want 0", v)
	}
	if v := metricSum(body, "edgeplane_ingest_replayed_total"); v != n {
		t.Errorf("replayed_total = %v, want %d", v, n)
	}
	t.Logf("after the reconnect: %s", state(body))
	if total != n || len(seen) != 24 {
		t.Errorf("aggregates count %d readings in %d windows, want %d in 24 (3 series × 8 windows)", total, len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("window %s stored %d times", id, k)
		}
	}
}
